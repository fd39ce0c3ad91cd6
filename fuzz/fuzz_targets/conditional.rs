//! Entity tags and the client's preconditions (RFC 9110 §8.8.3, §13).
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use rulecache::rfc::conditional::{self, EntityTag};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(tag) = EntityTag::parse(&text) {
        assert!(tag.weak_eq(&tag));
        assert_eq!(tag.strong_eq(&tag), !tag.weak);
    }
    for tag in conditional::parse_list(&text) {
        assert!(
            !tag.opaque.is_empty() || text.contains("\"\""),
            "an empty tag is only a quoted one: {tag:?}"
        );
    }
    let _ = conditional::is_star(&text);

    let mut u = Unstructured::new(data);
    let Ok(Some(req)) = rulecache_fuzz::request(&mut u, 8) else { return };
    let Ok(served) = rulecache_fuzz::response(&mut u, 8) else { return };
    let _ = conditional::evaluate(&req, &served);
    let _ = conditional::evaluate_stored(&req, &served);
    let nm = conditional::not_modified(&served);
    assert!(!nm.headers.contains("content-length") || served.headers.contains("content-length"));
});
