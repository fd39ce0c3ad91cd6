//! Native benchmarks of the per-request decision path and the parsers on it.
//!
//! Run with `cargo bench --bench core` (or `make bench-core`). The budget for the decision
//! path (`Flow::start` + lookup + `found` + response decoration) is a median of at most 5 µs
//! per request with a 200-rule policy whose only matching rule is the last one.
//!
//! The `bench` profile inherits `[profile.release]` (opt-level "z", LTO), the settings the
//! worker's wasm is built with.

use std::hint::black_box;
use std::rc::Rc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};

use rulecache::cache_control::CacheControl;
use rulecache::conditional;
use rulecache::engine::{Outcome, Purged};
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::meta::Meta;
use rulecache::policy::Policy;
use rulecache::sim::{self, OriginResult};
use rulecache::store::{MemoryStore, Record, Store};

/// 2025-06-01T00:00:00Z, in milliseconds.
const NOW: Time = 1_748_736_000_000;

/// The rulesets the generated policy declares, with the operation each is cached with.
const RULESETS: [(&str, &str); 6] = [
    ("site.resource", r#"{"operation":"strongCaching","parameters":{"maxage":86400,"lastModified":true}}"#),
    ("site.stable", r#"{"operation":"strongCaching","parameters":{"maxage":31536000}}"#),
    (
        "site.page",
        r#"{"operation":"moderateCaching","parameters":{"smaxage":3600,"etags":["userid","language"],"ramCache":true,"vary":["X-Anonymous"],"anonOnly":true}}"#,
    ),
    ("site.feed", r#"{"operation":"moderateCaching","parameters":{"smaxage":86400,"ramCache":true}}"#),
    ("site.file", r#"{"operation":"weakCaching","parameters":{"lastModified":true}}"#),
    ("site.api", r#"{"operation":"noCaching","parameters":{}}"#),
];

/// A bundle with `n` rules over the declared rulesets. None of the first `n - 1` matches the
/// benchmark's request (`GET /articles/2025/edge-caching` on `www.example.org`); the last
/// one does, so classification evaluates every rule.
fn large_bundle(n: usize) -> String {
    let mut rules = Vec::with_capacity(n);
    for (i, (ruleset, _)) in (0..n.saturating_sub(1)).zip(RULESETS.iter().cycle()) {
        // A mix of the condition kinds operators write, each failing for the request.
        let cond = match i % 8 {
            0 => format!(r#"{{"glob":["/**/++resource++r{i}/**","/static{i}/**/*.css"]}}"#),
            1 => format!(r#"{{"pathPrefix":"/section-{i}/"}}"#),
            2 => format!(r#"{{"extensions":["x{i}","y{i}","z{i}"]}}"#),
            3 => format!(r#"{{"methods":["GET","HEAD"],"path":["/page-{i}","/page-{i}/view"]}}"#),
            4 => format!(r#"{{"hosts":["*.cdn{i}.example.net","static{i}.example.org"]}}"#),
            5 => format!(r#"{{"query":{{"format{i}":"rss"}}}}"#),
            6 => format!(r#"{{"header":{{"X-Client-{i}":true}}}}"#),
            _ => format!(
                r#"{{"methods":["GET"],"glob":"/articles/*/draft-{i}","cookie":{{"preview{i}":true}}}}"#
            ),
        };
        rules.push(format!(r#"{{"id":"rule-{i}","ruleset":"{ruleset}","match":{cond}}}"#));
    }
    rules.push(
        r#"{"id":"articles","ruleset":"site.page","match":{"methods":["GET","HEAD"],"glob":"/articles/**"}}"#
            .to_string(),
    );
    let rulesets: Vec<String> = RULESETS
        .iter()
        .map(|(name, _)| format!(r#""{name}":{{"title":"{name}","description":"generated"}}"#))
        .collect();
    let operations: Vec<String> = RULESETS.iter().map(|(name, op)| format!(r#""{name}":{op}"#)).collect();
    format!(
        r#"{{
  "version": 1,
  "name": "generated-{n}",
  "caching": {{"enabled": true, "debugHeaders": true}},
  "rulesets": {{{}}},
  "rules": [{}],
  "rulesetHint": {{"header": "X-Cache-Ruleset", "trust": true}},
  "operations": {{{}}},
  "default": "honourOrigin",
  "cacheStopRequestVariables": ["statusmessages", "SearchableText"],
  "cacheKey": {{"dropParams": ["utm_*", "fbclid"], "sortQuery": true, "encodings": ["br", "gzip"]}},
  "splitView": {{"enabled": true, "header": "X-Anonymous", "authCookies": ["__ac"], "authCookiePrefixes": ["__ac_"], "authorizationHeader": true}},
  "purge": {{"paths": ["${{path}}", "${{path}}/view"]}}
}}"#,
        rulesets.join(","),
        rules.join(",\n    "),
        operations.join(","),
    )
}

/// The header fields a browser sends with a page request.
fn browser_headers(cookie: &str) -> Headers {
    Headers::from_pairs([
        ("host", "www.example.org"),
        ("user-agent", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
        ("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        ("accept-language", "en-GB,en;q=0.7,de;q=0.3"),
        ("accept-encoding", "gzip, deflate, br, zstd"),
        ("cookie", cookie),
        ("sec-fetch-mode", "navigate"),
        ("upgrade-insecure-requests", "1"),
    ])
}

fn request(url: &str, cookie: &str) -> RequestHead {
    match RequestHead::parse("GET", url, browser_headers(cookie)) {
        Some(r) => r,
        None => panic!("bad benchmark URL {url}"),
    }
}

/// What the origin answers for a page: a cacheable 200 with validators.
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
            ("cache-tag", "news, listing"),
        ]),
    );
    (head, vec![b'x'; 2048])
}

fn not_purged(_: &Meta) -> Purged {
    Purged::No
}

/// A store that never keeps anything: every lookup is a miss.
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

/// A store holding the response to `req`, stored by a first request through the cache.
fn warmed_store(policy: &Policy, req: &RequestHead) -> MemoryStore {
    let mut store = MemoryStore::new();
    let mut origin = |_: &RequestHead| -> OriginResult { Some(origin_page()) };
    let first = sim::run(policy, &mut store, &mut origin, req.clone(), NOW, &not_purged);
    assert_eq!(first.outcome, Outcome::Miss, "the first request should be a miss");
    let again = sim::run(policy, &mut store, &mut origin, req.clone(), NOW + 1_000, &not_purged);
    assert_eq!(again.outcome, Outcome::Hit, "the second request should be a fresh hit");
    store
}

fn decision_path(c: &mut Criterion) {
    let cases = [
        (
            "splitviews",
            Policy::default_profile(),
            request("https://www.example.org/news", "_ga=GA1.2.3; lang=en"),
        ),
        (
            "rules200",
            Policy::from_json(&large_bundle(200)).unwrap_or_else(|e| panic!("generated bundle: {e:?}")),
            request("https://www.example.org/articles/2025/edge-caching", "_ga=GA1.2.3; lang=en"),
        ),
    ];
    let mut group = c.benchmark_group("decision");
    for (name, policy, req) in &cases {
        group.bench_function(format!("{name}/classify"), |b| {
            b.iter(|| black_box(policy.classify_request(black_box(req)).map(|c| c.ruleset.len())))
        });
        let store = warmed_store(policy, req);
        let mut store = store;
        group.bench_function(format!("{name}/hit"), |b| {
            let mut origin = |_: &RequestHead| -> OriginResult { None };
            b.iter_batched(
                || req.clone(),
                |r| {
                    let ex = sim::run(policy, &mut store, &mut origin, r, NOW + 5_000, &not_purged);
                    debug_assert_eq!(ex.outcome, Outcome::Hit);
                    black_box(ex)
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(format!("{name}/miss"), |b| {
            let mut origin = |_: &RequestHead| -> OriginResult { Some(origin_page()) };
            let mut empty = Forgetful;
            b.iter_batched(
                || req.clone(),
                |r| {
                    let ex = sim::run(policy, &mut empty, &mut origin, r, NOW + 5_000, &not_purged);
                    debug_assert_eq!(ex.outcome, Outcome::Miss);
                    black_box(ex)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn policy_parse(c: &mut Criterion) {
    let bundle = large_bundle(200);
    let splitviews = Policy::profiles().iter().find(|(id, _)| *id == "with-caching-proxy-splitviews");
    let mut group = c.benchmark_group("policy");
    group.bench_function("parse_validate/rules200", |b| {
        b.iter(|| black_box(Policy::from_json(black_box(&bundle)).is_ok()))
    });
    if let Some((_, text)) = splitviews {
        group.bench_function("parse_validate/splitviews", |b| {
            b.iter(|| black_box(Policy::from_json(black_box(text)).is_ok()))
        });
    }
    group.finish();
}

fn parsers(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    let typical = "public, max-age=3600, s-maxage=86400, stale-while-revalidate=60, stale-if-error=86400";
    group.bench_function("cache_control/typical", |b| {
        b.iter(|| black_box(CacheControl::parse([black_box(typical)])))
    });
    let odd = [
        r#"private="set-cookie, x-user", no-cache="set-cookie""#,
        "max-age=\"60\", max-age=60, must-revalidate, ,, foo=bar",
    ];
    group.bench_function("cache_control/quoted_multi", |b| {
        b.iter(|| black_box(CacheControl::parse(black_box(odd))))
    });

    let policy = Policy::default_profile();
    let anon = browser_headers("_ga=GA1.2.3; lang=en; consent=yes; theme=dark");
    // base64("alice:alice")
    let authed = browser_headers("_ga=GA1.2.3; lang=en; __ac=\"YWxpY2U6YWxpY2U=\"; theme=dark");
    group.bench_function("audience/anonymous", |b| b.iter(|| black_box(policy.audience(black_box(&anon)))));
    group.bench_function("audience/authenticated", |b| {
        b.iter(|| black_box(policy.audience(black_box(&authed))))
    });

    let served = origin_page().0;
    let mut inm = request("https://www.example.org/news", "");
    inm.headers.set("if-none-match", "\"v0-anon\", W/\"v1-anon\"");
    let mut ims = request("https://www.example.org/news", "");
    ims.headers.set("if-modified-since", "Sat, 31 May 2025 13:00:00 GMT");
    group.bench_function("conditional/if_none_match", |b| {
        b.iter(|| black_box(conditional::evaluate(black_box(&inm), black_box(&served))))
    });
    group.bench_function("conditional/if_modified_since", |b| {
        b.iter(|| black_box(conditional::evaluate(black_box(&ims), black_box(&served))))
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = decision_path, policy_parse, parsers
}
criterion_main!(benches);
