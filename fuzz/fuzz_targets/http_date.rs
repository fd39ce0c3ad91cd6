//! HTTP-date (RFC 9110 §5.6.7), including the case-tolerant fallback.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rulecache::rfc::freshness::{format_http_date, http_date};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(secs) = http_date(&text) {
        // What was read is written back as an IMF-fixdate that reads as the same instant.
        assert_eq!(http_date(&format_http_date(secs)), Some(secs), "{text:?}");
    }
    if data.len() >= 8 {
        let mut n = [0u8; 8];
        n.copy_from_slice(&data[..8]);
        let secs = u64::from_le_bytes(n);
        let formatted = format_http_date(secs);
        assert_eq!(http_date(&formatted), Some(secs.min(253_402_300_799)));
    }
});
