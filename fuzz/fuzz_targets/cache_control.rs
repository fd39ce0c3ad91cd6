//! Cache-Control and the targeted fields (RFC 9111 §5.2, RFC 9213): list syntax, delta-seconds
//! and the Structured Field dictionary parser.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::http::Headers;
use rulecache::rfc::cache_control::{self, CacheControl, DELTA_SECONDS_MAX};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Each line is one field line of the same field.
    let cc = CacheControl::parse(text.split('\n'));
    for v in [cc.max_age, cc.s_maxage, cc.stale_while_revalidate, cc.stale_if_error].into_iter().flatten() {
        assert!(v <= DELTA_SECONDS_MAX, "delta-seconds above 2^31: {v}");
    }
    let _ = (cc.no_cache_all(), cc.private_all());
    if let Some(v) = cache_control::delta_seconds(&text) {
        assert!(v <= DELTA_SECONDS_MAX);
    }
    let _ = text.bytes().map(cache_control::is_tchar).count();

    // The same text as every Cache-Control style field, and as arbitrary header lists.
    let lines: Vec<&str> = text.split('\n').collect();
    let mut h = Headers::new();
    for (i, line) in lines.iter().enumerate() {
        let field = ["cache-control", "cdn-cache-control", "cloudflare-cdn-cache-control", "pragma"][i % 4];
        h.append(field, *line);
    }
    let _ = CacheControl::from_headers(&h, "cache-control");
    let _ = cache_control::targeted(&h);
    let _ = cache_control::effective(&h);

    let mut u = Unstructured::new(data);
    if let Ok(h) = rulecache_fuzz::headers(&mut u, 8) {
        let _ = cache_control::targeted(&h);
        let _ = cache_control::effective(&h);
    }
});
