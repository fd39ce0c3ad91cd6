//! Native benchmarks of the per-request decision path and the parsers on it.
//!
//! Run with `cargo bench --bench core` (or `make bench-core`). The budget for the decision
//! path (`Flow::start` + lookup + `found` + response decoration) is a median of at most 5 µs
//! per request with a 200-rule policy whose only matching rule is the last one.
//!
//! The `bench` profile inherits `[profile.release]` (opt-level "z", LTO), the settings the
//! worker's wasm is built with.
//!
//! The `scaling` group measures how the per-request work grows with what an isolate holds:
//! policies of 10 / 200 / 2,000 rules, a URL with 1 / 16 / 64 stored variants, and a purge
//! ledger copy of 100 / 10,000 / 100,000 records. After the run a summary of those medians,
//! with each curve's growth from its smallest to its largest size, is printed and written to
//! `bench-results/core-scaling.json`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, BatchSize, Criterion};

use criterion::BenchmarkId;
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::policy::Policy;
use rulecache::purge::ledger::{LedgerCopy, PurgeRecord, SinceAnswer, Target};
use rulecache::rfc::cache_control::CacheControl;
use rulecache::rfc::conditional;
use rulecache::storage::meta::{Meta, Purged, VaryIndex};
use rulecache::storage::stats::Outcome;
use rulecache::storage::store::{MemoryStore, Record, Store};
use rulecache::testing::sim::{self, cacheable_page as origin_page, not_purged, Forgetful, OriginResult};

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

/// The sizes each scaling curve is measured at.
const RULE_COUNTS: [usize; 3] = [10, 200, 2_000];
const VARIANT_COUNTS: [usize; 3] = [1, 16, 64];
const LEDGER_RECORDS: [usize; 3] = [100, 10_000, 100_000];
/// How many records one ledger refresh applies in the batch benchmark.
const LEDGER_BATCH: usize = 100;

/// The article request every rules benchmark sends (its rule is the policy's last).
fn article_request() -> RequestHead {
    request("https://www.example.org/articles/2025/edge-caching", "_ga=GA1.2.3; lang=en")
}

/// The decision path against the number of rules: classification alone, a hit and a miss,
/// for a request whose rule is the policy's last (every rule before it is tried).
fn scaling_rules(c: &mut Criterion) {
    let mut group = c.benchmark_group("scaling");
    for n in RULE_COUNTS {
        let policy =
            Policy::from_json(&large_bundle(n)).unwrap_or_else(|e| panic!("generated bundle: {e:?}"));
        let req = article_request();
        group.bench_with_input(BenchmarkId::new("rules_classify", n), &n, |b, _| {
            b.iter(|| black_box(policy.classify_request(black_box(&req)).map(|c| c.ruleset.len())))
        });
        let mut store = warmed_store(&policy, &req);
        group.bench_with_input(BenchmarkId::new("rules_hit", n), &n, |b, _| {
            let mut origin = |_: &RequestHead| -> OriginResult { None };
            b.iter_batched(
                || req.clone(),
                |r| black_box(sim::run(&policy, &mut store, &mut origin, r, NOW + 5_000, &not_purged)),
                BatchSize::SmallInput,
            )
        });
        group.bench_with_input(BenchmarkId::new("rules_miss", n), &n, |b, _| {
            let mut origin = |_: &RequestHead| -> OriginResult { Some(origin_page()) };
            let mut empty = Forgetful;
            b.iter_batched(
                || req.clone(),
                |r| black_box(sim::run(&policy, &mut empty, &mut origin, r, NOW + 5_000, &not_purged)),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

/// A page request whose `Accept-Language` names variant `i`.
fn variant_request(i: usize) -> RequestHead {
    let mut req = request("https://www.example.org/news", "_ga=GA1.2.3");
    req.headers.set("accept-language", format!("x-lang-{i}"));
    req
}

/// The splitviews policy's page answer, varying on `Accept-Language`.
fn origin_page_by_language() -> (ResponseHead, Vec<u8>) {
    let (mut head, body) = origin_page();
    head.headers.set("vary", "Accept-Language");
    (head, body)
}

/// A store holding `n` variants of `/news` (one per language) and the URL's variant index.
fn store_with_variants(policy: &Policy, n: usize) -> (MemoryStore, VaryIndex) {
    let mut store = MemoryStore::new();
    let mut origin = |_: &RequestHead| -> OriginResult { Some(origin_page_by_language()) };
    for i in 0..n {
        let ex = sim::run(policy, &mut store, &mut origin, variant_request(i), NOW + i as Time, &not_purged);
        assert_eq!(ex.outcome, Outcome::Miss, "variant {i} should be stored by a miss");
    }
    let index = store
        .keys()
        .map(str::to_owned)
        .collect::<Vec<_>>()
        .iter()
        .find_map(|k| match store.get(k) {
            Some((Record::Index(i), _)) => Some(i),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no variant index stored"));
    assert_eq!(index.variants.len(), n, "the index lists every variant");
    (store, index)
}

/// The decision path against the number of a URL's stored variants: a hit on the last
/// variant stored (index lookup, variant key, entry), and decoding the index record as the
/// worker reads it from the Cache API.
fn scaling_variants(c: &mut Criterion) {
    let policy = Policy::default_profile();
    let mut group = c.benchmark_group("scaling");
    for n in VARIANT_COUNTS {
        let (mut store, index) = store_with_variants(&policy, n);
        let req = variant_request(n - 1);
        let check =
            sim::run(&policy, &mut store, &mut |_: &RequestHead| None, req.clone(), NOW + 5_000, &not_purged);
        assert_eq!(check.outcome, Outcome::Hit, "the last variant should be a hit");
        group.bench_with_input(BenchmarkId::new("variants_hit", n), &n, |b, _| {
            let mut origin = |_: &RequestHead| -> OriginResult { None };
            b.iter_batched(
                || req.clone(),
                |r| black_box(sim::run(&policy, &mut store, &mut origin, r, NOW + 5_000, &not_purged)),
                BatchSize::SmallInput,
            )
        });
        let encoded = index.encode().unwrap_or_else(|e| panic!("index encodes: {e}"));
        group.bench_with_input(BenchmarkId::new("variants_index_decode", n), &n, |b, _| {
            b.iter(|| black_box(VaryIndex::decode(black_box(&encoded)).map(|i| i.variants.len())))
        });
    }
    group.finish();
}

/// A ledger answer of `count` records from sequence number `from + 1`: mostly URLs, every
/// tenth a tag and every twentieth a prefix, of URLs like the ones a site's purges name.
fn ledger_answer(from: u64, count: usize, distinct: usize, at: Time) -> SinceAnswer {
    let records = (0..count)
        .map(|i| {
            let seq = from + 1 + i as u64;
            let n = (seq as usize) % distinct.max(1);
            let target = match n % 20 {
                0 => Target::Prefix(format!("https://www.example.org/section-{n}")),
                10 => Target::Tag(format!("tag-{n}")),
                _ => Target::Url(format!("https://www.example.org/articles/{}/item-{n}", n % 97)),
            };
            PurgeRecord {
                seq,
                id: format!("p-{seq}"),
                at,
                target,
                soft: n.is_multiple_of(3),
                chain: String::new(),
            }
        })
        .collect();
    SinceAnswer {
        epoch: "bench".into(),
        from,
        to: from + count as u64,
        last_seq: from + count as u64,
        records,
        more: false,
        anchor: Some(String::new()),
        chain: String::new(),
    }
}

/// A stored entry's record (an article page), for the purge checks.
fn stored_meta(policy: &Policy, url: &str) -> Meta {
    let req = request(url, "");
    let store = warmed_store(policy, &req);
    let key = store.keys().map(str::to_owned).collect::<Vec<_>>();
    key.iter()
        .find_map(|k| match store.get(k) {
            Some((Record::Entry(m), _)) => Some(*m),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no entry stored for {url}"))
}

/// The purge ledger copy against its size: the per-request check of an entry no record
/// names, of one a URL record purges, and applying a refresh of [`LEDGER_BATCH`] records.
fn scaling_ledger(c: &mut Criterion) {
    let policy = Policy::from_json(&large_bundle(200)).unwrap_or_else(|e| panic!("generated bundle: {e:?}"));
    let unpurged = stored_meta(&policy, "https://www.example.org/articles/2025/edge-caching");
    let mut group = c.benchmark_group("scaling");
    for n in LEDGER_RECORDS {
        let mut copy = LedgerCopy::new();
        // The records were written before the entry's origin request (they do not affect it)
        // except the URL records the purged entry below is named by.
        let answer = ledger_answer(0, n, n, NOW + 10_000);
        copy.apply_answer(&answer, NOW + 10_000, NOW + 10_000);
        let mut purged = unpurged.clone();
        purged.url = "https://www.example.org/articles/1/item-1".into();
        assert!(matches!(copy.purged(&purged, NOW + 10_000), Purged::Hard | Purged::Soft { .. }));
        assert_eq!(copy.purged(&unpurged, NOW + 10_000), Purged::No);
        group.bench_with_input(BenchmarkId::new("ledger_check_unpurged", n), &n, |b, _| {
            b.iter(|| black_box(copy.purged(black_box(&unpurged), NOW + 10_000)))
        });
        group.bench_with_input(BenchmarkId::new("ledger_check_purged", n), &n, |b, _| {
            b.iter(|| black_box(copy.purged(black_box(&purged), NOW + 10_000)))
        });
        // Each refresh purges targets the copy already holds again, so the copy keeps its
        // size however many refreshes the benchmark applies.
        let mut next = n as u64;
        group.bench_with_input(BenchmarkId::new("ledger_apply_batch", n), &n, |b, _| {
            b.iter_batched(
                || {
                    let batch = ledger_answer(next, LEDGER_BATCH, n, NOW + 20_000);
                    next += LEDGER_BATCH as u64;
                    batch
                },
                |batch| black_box(copy.apply_answer(&batch, NOW + 20_000, NOW + 20_000)),
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
    targets = decision_path, policy_parse, parsers, scaling_rules, scaling_variants, scaling_ledger
}

/// Where criterion keeps its estimates: `$CARGO_TARGET_DIR/criterion`, else the target folder
/// this benchmark's executable was built in (`<target>/release/deps/core-…`).
fn criterion_dir() -> Option<std::path::PathBuf> {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return Some(home.into());
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(std::path::Path::new(&target).join("criterion"));
    }
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.parent()?.parent()?.join("criterion"))
}

/// The median (ns) criterion estimated for `scaling/<name>/<size>`, if it ran.
fn median_ns(dir: &std::path::Path, name: &str, size: usize) -> Option<f64> {
    let file = dir.join("scaling").join(name).join(size.to_string()).join("new/estimates.json");
    let text = std::fs::read_to_string(file).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json.get("median")?.get("point_estimate")?.as_f64()
}

/// How a curve grows over its three sizes: flat when the time changes by less than half from
/// the smallest size to the largest; otherwise logarithmic or linear, whichever predicts the
/// second step's increase over the first's better (a linear curve's increments grow with the
/// size's, a logarithmic one's with its ratio).
fn shape(points: &[(usize, f64)]) -> &'static str {
    let [(n1, t1), (n2, t2), (n3, t3)] = points else { return "not measured at every size" };
    if t3 / t1 < 1.5 && t2 / t1 < 1.5 {
        return "flat";
    }
    let (n1, n2, n3) = (*n1 as f64, *n2 as f64, *n3 as f64);
    let increase = (t3 - t2) / (t2 - t1);
    if increase.is_nan() || increase <= 0.0 {
        return "logarithmic or flatter";
    }
    let linear = (n3 - n2) / (n2 - n1);
    let logarithmic = (n3 / n2).ln() / (n2 / n1).ln();
    if (increase.ln() - linear.ln()).abs() < (increase.ln() - logarithmic.ln()).abs() {
        "linear"
    } else {
        "logarithmic"
    }
}

/// Prints the scaling curves and writes them to `bench-results/core-scaling.json`.
fn scaling_summary() {
    let Some(dir) = criterion_dir() else { return };
    let curves: [(&str, &str, &[usize]); 8] = [
        ("rules_classify", "classification, request matching the last rule", &RULE_COUNTS),
        ("rules_hit", "decision path, hit, request matching the last rule", &RULE_COUNTS),
        ("rules_miss", "decision path, miss, request matching the last rule", &RULE_COUNTS),
        ("variants_hit", "decision path, hit on one of the URL's stored variants", &VARIANT_COUNTS),
        ("variants_index_decode", "decoding the URL's variant index record", &VARIANT_COUNTS),
        ("ledger_check_unpurged", "purge check of an entry no record names", &LEDGER_RECORDS),
        ("ledger_check_purged", "purge check of an entry a URL record purges", &LEDGER_RECORDS),
        ("ledger_apply_batch", "applying a refresh of 100 records", &LEDGER_RECORDS),
    ];
    let mut out = Vec::new();
    println!("\nscaling curves (criterion medians, natively):");
    for (name, what, sizes) in curves {
        let points: Vec<(usize, f64)> =
            sizes.iter().filter_map(|n| median_ns(&dir, name, *n).map(|t| (*n, t))).collect();
        if points.is_empty() {
            continue;
        }
        let verdict = shape(&points);
        let cells: Vec<String> = points.iter().map(|(n, t)| format!("{n}: {:.3} µs", t / 1000.0)).collect();
        println!("  {name:<24} {}  → {verdict} ({what})", cells.join(", "));
        out.push(serde_json::json!({
            "curve": name,
            "what": what,
            "points": points.iter().map(|(n, t)| serde_json::json!({"size": n, "medianNs": t})).collect::<Vec<_>>(),
            "growth": points.last().map_or(f64::NAN, |l| l.1) / points.first().map_or(f64::NAN, |f| f.1),
            "shape": verdict,
        }));
    }
    if out.is_empty() {
        return;
    }
    let results = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-results");
    let written = std::fs::create_dir_all(&results).and_then(|()| {
        let text = serde_json::to_string_pretty(&serde_json::json!({ "curves": out })).unwrap_or_default();
        std::fs::write(results.join("core-scaling.json"), text + "\n")
    });
    match written {
        Ok(()) => println!("wrote bench-results/core-scaling.json"),
        Err(e) => println!("could not write bench-results/core-scaling.json: {e}"),
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    // `cargo test` runs each benchmark once without measuring: nothing to summarise then.
    if std::env::args().any(|a| a == "--bench") {
        scaling_summary();
    }
}
