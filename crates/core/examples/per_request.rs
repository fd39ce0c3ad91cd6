//! One request kind through the core's deterministic harness, `N` times after a first request
//! that stores the page: `per_request hit|miss|bypass|reval`. `make bench-instructions` runs it under
//! callgrind with N = 1 and N = 1001 and reports the difference over 1000, the instructions a
//! request costs at the release build's opt-level (the wasm's), with nothing else in the count.
//! The request is the load benchmark's: `/news` on the bundled policy, with oha's fields (and
//! the logged-in cookie for `bypass`), answered with `sim::cacheable_page`; `miss` uses a store
//! that keeps nothing; for `reval` a page no rule classifies is stored with `max-age=0` and
//! the origin answers each conditional request with a 304.

use rulecache::http::{Headers, RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::stats::Outcome;
use rulecache::storage::store::MemoryStore;
use rulecache::testing::sim::{self, cacheable_page as origin_page, not_purged, Forgetful, OriginResult};

const NOW: Time = 1_748_736_000_000;

fn main() {
    let n: u64 = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let kind = std::env::args().nth(1).unwrap_or_else(|| "hit".into());
    let (cookie, expected) = match kind.as_str() {
        "hit" => ("", Outcome::Hit),
        "miss" => ("", Outcome::Miss),
        "bypass" => ("__ac=YWxpY2U6YWxpY2U=", Outcome::Bypass),
        "reval" => ("", Outcome::Revalidated304),
        other => {
            eprintln!("per_request: {other}: expected hit, miss, bypass or reval");
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
    // A page no rule classifies (the policy's default honours the origin's max-age=0).
    let url = if kind == "reval" { "https://www.example.org/t/page" } else { "https://www.example.org/news" };
    let Some(req) = RequestHead::parse("GET", url, headers) else {
        eprintln!("per_request: the request does not parse");
        std::process::exit(1);
    };
    let policy = Policy::default_profile();
    let mut store = MemoryStore::new();
    let revalidate = kind == "reval";
    let mut origin = |req: &RequestHead| -> OriginResult {
        let (mut head, body) = origin_page();
        if !revalidate {
            return Some((head, body));
        }
        head.headers.set("cache-control", "public, max-age=0");
        head.headers.remove("x-cache-ruleset");
        if req.headers.contains("if-none-match") {
            head.status = 304;
            head.headers.remove("content-length");
            return Some((head, Vec::new()));
        }
        Some((head, body))
    };
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
