//! Origin response heads as the worker shell receives them: one string of lines (status,
//! then name/value pairs), read by `ResponseHead::from_lines`, the shell's conversion, then
//! handed to the flow for a miss and for the revalidation of a stored entry. Odd statuses
//! (1xx, 0, 600–999, non-numbers), framing fields (`Transfer-Encoding`, several
//! `Content-Length`s), list-valued `Age`, duplicated fields.
//!
//! Checked: the client's status is one the runtime can build a response with (200–599), the
//! cache itself never answers 500, and an origin status that cannot be passed on never
//! replaces or removes the stored entry.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rulecache::flow::engine::unusable_status;
use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::Policy;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::store::{MemoryStore, Record, Store};
use rulecache::testing::sim::{self, OriginResult};

const T0: u64 = 1_800_000_000_000;

const STATUSES: &[&str] =
    &["0", "100", "102", "103", "199", "200", "304", "500", "599", "600", "999", "65535", "99999", "2OO", ""];
const FRAMING: &[&str] = &[
    "transfer-encoding",
    "content-length",
    "age",
    "cache-control",
    "etag",
    "last-modified",
    "connection",
    "vary",
    "date",
    "expires",
];

/// The lines of a head: a status (usually an odd one), then fields drawn mostly from the
/// framing and freshness fields, each name/value on its own line.
fn head_lines(u: &mut Unstructured) -> Result<String> {
    let mut text = match STATUSES.get(usize::from(u.arbitrary::<u8>()?) % (STATUSES.len() + 1)) {
        Some(s) => (*s).to_string(),
        None => u.arbitrary::<String>()?,
    };
    text.push('\n');
    for _ in 0..u.int_in_range(0..=8)? {
        let name = match FRAMING.get(usize::from(u.arbitrary::<u8>()?) % (FRAMING.len() + 2)) {
            Some(n) => (*n).to_string(),
            None => rulecache_fuzz::name(u)?,
        };
        let value: String = u.arbitrary()?;
        text.push_str(&name);
        text.push('\n');
        text.push_str(&value);
        text.push('\n');
    }
    if u.arbitrary()? {
        // Whatever else the runtime might hand over.
        text.push_str(&u.arbitrary::<String>()?);
    }
    Ok(text)
}

fn request(method: &str, path: &str) -> Option<RequestHead> {
    RequestHead::parse(method, &format!("https://origin.example{path}"), Headers::new())
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let policy = if u.arbitrary()? {
        Policy::default_profile()
    } else {
        Policy::from_json(r#"{"version": 1, "name": "fuzz"}"#).unwrap_or_else(|_| Policy::default_profile())
    };
    let odd = ResponseHead::from_lines(&head_lines(&mut u)?);
    let stale_if_error = u.arbitrary::<bool>()?;
    let method = if u.arbitrary()? { "HEAD" } else { "GET" };
    let mut store = MemoryStore::new();
    let mut calls = 0usize;
    let mut origin = |_: &RequestHead| -> OriginResult {
        calls += 1;
        if calls == 1 {
            let cc = if stale_if_error { "max-age=1, stale-if-error=600" } else { "max-age=1" };
            let h = Headers::from_pairs([("cache-control", cc), ("etag", "\"e\""), ("content-length", "6")]);
            Some((ResponseHead::new(200, h), b"stored".to_vec()))
        } else {
            Some((odd.clone(), b"odd".to_vec()))
        }
    };
    let purged: &dyn Fn(&Meta) -> Purged = &|_| Purged::No;
    let (Some(first), Some(again), Some(miss)) =
        (request("GET", "/r"), request(method, "/r"), request(method, "/m"))
    else {
        return Ok(());
    };
    sim::run(&policy, &mut store, &mut origin, first, T0, purged);
    let stored = |store: &MemoryStore| match store.get(&policy_key(&policy)) {
        Some((Record::Entry(m), body)) => Some((m.head.clone(), body.to_vec())),
        _ => None,
    };
    let before = stored(&store);
    for (req, now) in [(again, T0 + 5_000), (miss, T0 + 5_000)] {
        let x = sim::run(&policy, &mut store, &mut origin, req, now, purged);
        assert!((200..=599).contains(&x.head.status), "status {} cannot be sent", x.head.status);
        assert!(x.head.status != 500 || odd.status == 500, "the cache answered 500");
        if unusable_status(odd.status).is_some() {
            assert_ne!(x.head.status, odd.status);
            assert_eq!(stored(&store), before, "an unusable answer touched the stored entry");
        }
    }
    Ok(())
}

/// The storage key of `/r` under `policy` (anonymous when the policy splits views).
fn policy_key(policy: &Policy) -> String {
    let Some(req) = request("GET", "/r") else { return String::new() };
    let (flow, _) = rulecache::flow::engine::Flow::start(policy, req, T0, false);
    flow.base_key().into_string()
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
