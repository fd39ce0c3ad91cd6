//! One request kind through the core's deterministic harness, `N` times after a first request
//! that stores the page: `per_request hit|miss|bypass`. `make bench-instructions` runs it under
//! callgrind with N = 1 and N = 1001 and reports the difference over 1000, the instructions a
//! request costs at the release build's opt-level (the wasm's), with nothing else in the count.
//! The request is the load benchmark's: `/news` on the bundled policy, with oha's fields (and
//! the logged-in cookie for `bypass`); `miss` uses a store that keeps nothing.

use std::rc::Rc;

use rulecache::engine::{Outcome, Purged};
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::meta::Meta;
use rulecache::policy::Policy;
use rulecache::sim::{self, OriginResult};
use rulecache::store::{MemoryStore, Record, Store};

const NOW: Time = 1_748_736_000_000;

fn origin_page() -> (ResponseHead, Vec<u8>) {
    let head = ResponseHead::new(
        200,
        Headers::from_pairs([
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "2048"),
            ("date", "Sun, 01 Jun 2025 00:00:00 GMT"),
            ("last-modified", "Sat, 31 May 2025 12:00:00 GMT"),
            ("etag", "\"v1-anon\""),
            ("cache-control", "public, max-age=600"),
            ("x-cache-ruleset", "plone.content.folderView"),
        ]),
    );
    (head, vec![b'x'; 2048])
}

fn not_purged(_: &Meta) -> Purged {
    Purged::No
}

/// A store that keeps nothing: every lookup is a miss.
struct Forgetful;

impl Store for Forgetful {
    fn get(&self, _key: &str) -> Option<(Record, Rc<[u8]>)> {
        None
    }
    fn put(&mut self, _key: &str, _record: Record, _body: Rc<[u8]>) {}
    fn delete(&mut self, _key: &str) -> bool {
        false
    }
}

fn main() {
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let kind = std::env::args().nth(1).unwrap_or_else(|| "hit".into());
    let (cookie, expected) = match kind.as_str() {
        "hit" => ("", Outcome::Hit),
        "miss" => ("", Outcome::Miss),
        "bypass" => ("__ac=YWxpY2U6YWxpY2U=", Outcome::Bypass),
        other => {
            eprintln!("per_request: {other}: expected hit, miss or bypass");
            std::process::exit(2);
        }
    };
    let headers = Headers::from_pairs([
        ("host", "www.example.org"),
        ("user-agent", "oha/1.16.0"),
        ("accept", "*/*"),
        ("accept-encoding", "gzip, br"),
        ("cookie", cookie),
    ]);
    let Some(req) = RequestHead::parse("GET", "https://www.example.org/news", headers) else {
        eprintln!("per_request: the request does not parse");
        std::process::exit(1);
    };
    let policy = Policy::default_profile();
    let mut store = MemoryStore::new();
    let mut origin = |_: &RequestHead| -> OriginResult { Some(origin_page()) };
    sim::run(&policy, &mut store, &mut origin, req.clone(), NOW, &not_purged);
    for i in 0..n {
        let at = NOW + 1_000 + i;
        let ex = if kind == "miss" {
            sim::run(&policy, &mut Forgetful, &mut origin, req.clone(), at, &not_purged)
        } else {
            sim::run(&policy, &mut store, &mut origin, req.clone(), at, &not_purged)
        };
        if ex.outcome != expected {
            eprintln!("per_request: request {i} was {:?}, not {expected:?}", ex.outcome);
            std::process::exit(1);
        }
    }
}
