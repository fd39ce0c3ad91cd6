//! Policy bundles: JSON text up to the first NUL byte; the bytes after it drive requests and
//! responses through the compiled policy (classification, page actions, operations).
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::policy::Policy;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (json, rest) = data.split_at(split);
    let Ok(json) = std::str::from_utf8(json) else { return };
    let policy = match Policy::from_json(json) {
        Ok(policy) => policy,
        Err(errors) => {
            assert!(!errors.is_empty(), "a refused policy names at least one problem");
            return;
        }
    };
    let _ = policy.summary_json();
    let _ = (policy.version(), policy.name(), policy.description(), policy.caching_enabled());
    let _ = (policy.split_view_header(), policy.ruleset_hint_header(), policy.purge_paths());
    let _ = policy.default_operation();
    for (id, _) in policy.rulesets() {
        let _ = policy.operation_named(Some(id));
    }
    let _ = policy.operation(None);

    let mut u = Unstructured::new(rest.get(1..).unwrap_or_default());
    for _ in 0..4 {
        let Ok(Some(req)) = rulecache_fuzz::request(&mut u, 6) else { return };
        let _ = policy.page_action(req.url.path());
        let _ = policy.cache_stop(&req);
        let _ = policy.audience(&req.headers);
        if let Some(c) = policy.classify_request(&req) {
            let _ = policy.operation(Some(c.ruleset_id));
        }
        let Ok(resp) = rulecache_fuzz::response(&mut u, 6) else { return };
        let _ = policy.classify_response(&req, &resp);
    }
});
