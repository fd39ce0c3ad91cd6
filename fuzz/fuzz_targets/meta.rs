//! The stored record and the per-URL variant index: decoding any string (as read back from
//! the Cache API or KV), and encode/decode round trips of records built from fuzzed fields.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rulecache::rfc::freshness::EdgeStorage;
use rulecache::storage::key::Audience;
use rulecache::storage::meta::{self, Meta, VaryIndex, MAX_TAGS, MAX_TAG_LEN};

fn record(u: &mut Unstructured) -> Result<Meta> {
    let audience = match u.int_in_range(0..=2u8)? {
        0 => None,
        1 => Some(Audience::Anonymous),
        _ => Some(Audience::Authenticated),
    };
    let storage = match u.int_in_range(0..=2u8)? {
        0 => EdgeStorage::HonourOrigin,
        1 => EdgeStorage::DontStore,
        _ => EdgeStorage::Store {
            ttl: u.arbitrary()?,
            stale_while_revalidate: u.arbitrary()?,
            stale_if_error: u.arbitrary()?,
        },
    };
    Ok(Meta {
        url: u.arbitrary()?,
        variant: u.arbitrary()?,
        audience,
        request_time: u.arbitrary()?,
        response_time: u.arbitrary()?,
        stored_at: u.arbitrary()?,
        head: rulecache_fuzz::response(u, 8)?,
        storage,
        ruleset: u.arbitrary()?,
        operation: u.arbitrary()?,
        tags: u.arbitrary()?,
        policy_version: u.arbitrary()?,
        body_len: u.arbitrary()?,
        stale_from: u.arbitrary()?,
    })
}

fn round_trip(m: &Meta) {
    if let Ok(encoded) = m.encode() {
        assert!(encoded.bytes().all(|b| (0x21..=0x7e).contains(&b)), "header-safe: {encoded:?}");
        assert_eq!(Meta::decode(&encoded).as_ref(), Ok(m));
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // As read back: the whole string, and its tail behind each known tag.
    for candidate in [text.to_string(), format!("m2:{text}"), format!("m1:{text}")] {
        if let Ok(m) = Meta::decode(&candidate) {
            round_trip(&m);
        }
    }
    for candidate in [text.to_string(), format!("i2:{text}")] {
        if let Ok(index) = VaryIndex::decode(&candidate) {
            if let Ok(encoded) = index.encode() {
                assert_eq!(VaryIndex::decode(&encoded).as_ref(), Ok(&index));
            }
        }
    }

    let mut u = Unstructured::new(data);
    if let Ok(m) = record(&mut u) {
        round_trip(&m);
        let tags = meta::tags_from_headers(&m.head.headers, meta::TagSources::ALL);
        assert!(tags.len() <= MAX_TAGS);
        for t in &tags {
            assert!(!t.is_empty() && t.len() <= MAX_TAG_LEN);
        }
        let mut index = VaryIndex::new(m.url.clone());
        for key in m.tags.iter() {
            let _ = index.record(key, &m.tags, m.stored_at);
            assert!(index.variants.len() <= VaryIndex::MAX_VARIANTS);
        }
        if let Ok(encoded) = index.encode() {
            assert_eq!(VaryIndex::decode(&encoded).as_ref(), Ok(&index));
        }
    }
    let _ = meta::normalise_tag(&text);
});
