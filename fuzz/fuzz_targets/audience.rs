//! Cookie parsing and audience detection: the plain defaults and every shipped policy.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::http::Headers;
use rulecache::policy::audience::{self, AudienceConfig};
use rulecache::policy::Policy;

thread_local! {
    /// The shipped policies, compiled once.
    static POLICIES: Vec<Policy> = Policy::profiles().iter().filter_map(|(id, _)| Policy::bundled(id)).collect();
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mut h) = rulecache_fuzz::headers(&mut u, 8) else { return };
    // Most of the rest as one more Cookie header.
    let rest = String::from_utf8_lossy(u.take_rest());
    h.append("cookie", rest.as_ref());

    for (name, value) in rulecache::http::cookies(&h) {
        assert!(!name.is_empty());
        assert!(audience::cookie_value(&h, name).is_some());
        let _ = value;
    }
    let _ = audience::cookie_names(&h).count();

    let config = AudienceConfig::default();
    let _ = config.credential(&h);
    let who = config.audience(&h);
    let mut to_origin: Headers = h.clone();
    config.prepare_origin_headers(&mut to_origin, who);
    assert!(!to_origin.contains("x-anonymous"));

    POLICIES.with(|policies| {
        for policy in policies {
            let who = policy.audience(&h);
            let _ = policy.audience_config().credential(&h);
            let mut to_origin = h.clone();
            policy.prepare_origin_headers(&mut to_origin, who);
        }
    });
});
