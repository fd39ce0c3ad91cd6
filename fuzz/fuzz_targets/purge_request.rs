//! The purge API's input: the JSON body, the `PURGE <url>` method, authentication headers and
//! turning an accepted request into ledger targets.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::http::Headers;
use rulecache::purge::auth::{authorize, AuthInput, ReplayGuard, Scope, Secrets};
use rulecache::purge::request::PurgeRequest;
use rulecache::storage::key::{primary_key, KeyOptions};

const SECRET: &str = "fuzz-secret";
const NOW: u64 = 1_800_000_000_000;

fuzz_target!(|data: &[u8]| {
    let base = rulecache::http::parse_url("https://origin.example/site").expect("a valid base URL");
    let templates = ["/".to_string(), "/view".to_string(), "/@@images/image".to_string()];
    let opts = KeyOptions::default();
    let bearer = Headers::from_pairs([("authorization", format!("Bearer {SECRET}"))]);
    let mut replay = ReplayGuard::new();
    let secrets = Secrets::from_vars(Some(SECRET), Some("fuzz-admin"), Some("fuzz-stats"));
    let input =
        AuthInput { method: "POST", path_and_query: "/_rulecache/purge", headers: &bearer, body: data };
    let Ok(credential) = authorize(&secrets, Scope::Purge, &input, NOW, &mut replay) else {
        panic!("the bearer secret authorizes")
    };

    // The whole input as a JSON body.
    match PurgeRequest::from_json(data) {
        Ok(req) => {
            assert!(req.problems().is_empty());
            let _ = req.targets(&credential, &base, &templates, |u| primary_key(u, &opts));
        }
        Err(problems) => assert!(!problems.is_empty()),
    }

    // The input as `PURGE <url>` with fuzzed headers, and as authentication headers.
    let mut u = Unstructured::new(data);
    let Ok(target) = u.arbitrary::<String>() else { return };
    let Ok(headers) = rulecache_fuzz::headers(&mut u, 8) else { return };
    let req = PurgeRequest::from_purge_method(&target, &headers);
    let _ = req.problems();
    let _ = req.targets(&credential, &base, &templates, |u| primary_key(u, &opts));

    let body = u.take_rest();
    let input = AuthInput { method: "POST", path_and_query: &target, headers: &headers, body };
    for scope in Scope::ALL {
        let _ = authorize(&secrets, scope, &input, NOW, &mut replay);
        let _ = authorize(&Secrets::default(), scope, &input, NOW, &mut replay);
        let _ = rulecache::purge::auth::is_authorized_quick(&secrets, scope, &headers);
    }
});
