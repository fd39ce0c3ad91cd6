//! RFC 9875 (HTTP Cache Groups) and RFC 9111 §4.4 invalidation, natively: what the response
//! to an unsafe request records in the purge ledger, and what that does to stored entries of
//! the same origin and of another one. The same rules run against the real worker in
//! `tests/integration/groups.test.mjs`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::cell::RefCell;
use std::rc::Rc;

use rulecache::flow::engine::Invalidation;
use rulecache::http::{RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::purge::ledger::{AppendOrder, BudgetLimits, Effect, Ledger, LedgerCopy, MemoryRows, Target};
use rulecache::rfc::groups::MAX_INVALIDATED_GROUPS;
use rulecache::storage::meta::Purged;
use rulecache::storage::stats::{Outcome, Stats};
use rulecache::testing::sim::{Exchange, OriginResult};
use rulecache::testing::world::{response, ScriptedOrigin, World};

const A: &str = "https://a.example";
const B: &str = "https://b.example";
const SEC: Time = 1000;

/// An origin for both sites: `GET /page/<name>` is cacheable for ten minutes with the groups
/// `?g=` lists and an ETag; an unsafe request to `/edit` answers with the
/// `Cache-Group-Invalidation` its `x-test-invalidate` request header asks for (the test's
/// way of scripting the origin), or a `Location` from `x-test-location`.
fn origin(req: &RequestHead, n: usize) -> OriginResult {
    let path = req.url.path();
    if req.method.as_str() != "GET" {
        let mut headers: Vec<(&str, &str)> = vec![("content-type", "text/plain")];
        if let Some(v) = req.headers.get("x-test-invalidate") {
            headers.push(("cache-group-invalidation", v));
        }
        if let Some(v) = req.headers.get("x-test-location") {
            headers.push(("location", v));
        }
        if let Some(v) = req.headers.get("x-test-content-location") {
            headers.push(("content-location", v));
        }
        let status = req.headers.get("x-test-status").and_then(|s| s.parse().ok()).unwrap_or(200);
        return response(status, &headers, "done");
    }
    if req.headers.get("if-none-match") == Some("\"v1\"") {
        return response(304, &[("etag", "\"v1\""), ("cache-control", "max-age=600")], "");
    }
    let groups = req.url.query().and_then(|q| q.strip_prefix("g=")).unwrap_or("");
    let listed: Vec<String> =
        groups.split('.').filter(|g| !g.is_empty()).map(|g| format!("\"{g}\"")).collect();
    let field = listed.join(", ");
    let mut headers =
        vec![("cache-control", "max-age=600"), ("etag", "\"v1\""), ("content-type", "text/html")];
    if !field.is_empty() {
        headers.push(("cache-groups", &field));
    }
    response(200, &headers, &format!("{path} #{n}"))
}

/// A world whose edge honours a ledger copy, as the worker's isolate does: what a response
/// records is applied to it at once (`Effect::Record`).
struct Edge {
    world: World,
    copy: Rc<RefCell<LedgerCopy>>,
    stats: Stats,
}

impl Edge {
    fn new(policy: &str) -> Self {
        let policy = Policy::from_json(policy).unwrap();
        let mut world = World::new(policy, ScriptedOrigin::in_order(|r, n, _| origin(r, n)));
        let copy = Rc::new(RefCell::new(LedgerCopy::new()));
        let seen = Rc::clone(&copy);
        world.purged = Box::new(move |m| match seen.borrow().effect(&m.url, &m.tags, m.request_time) {
            None => Purged::No,
            Some(Effect::Hard) => Purged::Hard,
            Some(Effect::Soft { at }) => Purged::Soft { at },
            Some(Effect::Unverified { before }) => Purged::Unverified { before },
        });
        let stats = Stats::new(world.clock);
        Edge { world, copy, stats }
    }

    fn plain() -> Self {
        Edge::new(r#"{"version": 1, "name": "groups"}"#)
    }

    fn send(&mut self, site: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Exchange {
        self.world.site = site.to_owned();
        self.world.advance(SEC);
        let exchange = self.world.send(method, path, headers);
        if let Some(record) = &exchange.recorded {
            self.copy.borrow_mut().apply_local(&record.targets, record.soft, self.world.clock);
            self.stats.record_invalidation(record.urls, record.groups, record.whole_site);
        }
        exchange
    }

    fn get(&mut self, site: &str, path: &str) -> Exchange {
        self.send(site, "GET", path, &[])
    }

    /// Stores `path` on `site` and checks the next request is a hit.
    fn stored(&mut self, site: &str, path: &str) {
        self.get(site, path);
        assert_eq!(self.get(site, path).outcome, Outcome::Hit, "{site}{path} is stored");
    }

    fn recorded(&mut self, site: &str, method: &str, headers: &[(&str, &str)]) -> Option<Invalidation> {
        self.send(site, method, "/edit", headers).recorded
    }
}

fn group(site: &str, name: &str) -> Target {
    Target::group(&format!("{site}/"), name)
}

fn url(u: &str) -> Target {
    Target::Url(u.to_owned())
}

#[test]
fn an_unsafe_response_invalidates_its_groups_on_its_own_origin_only() {
    let mut edge = Edge::plain();
    for (site, path) in
        [(A, "/page/a?g=news"), (A, "/page/b?g=news.sport"), (A, "/page/c?g=sport"), (B, "/page/a?g=news")]
    {
        edge.stored(site, path);
    }
    let record = edge.recorded(A, "POST", &[("x-test-invalidate", r#""news";p=1"#)]).unwrap();
    assert_eq!(record.targets, [url("https://a.example/edit"), group(A, "news")]);
    assert_eq!((record.urls, record.groups, record.soft, record.whole_site), (1, 1, false, false));
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Miss, "grouped: purged");
    assert_eq!(edge.get(A, "/page/b?g=news.sport").outcome, Outcome::Miss, "in the group among others");
    assert_eq!(edge.get(A, "/page/c?g=sport").outcome, Outcome::Hit, "another group");
    assert_eq!(edge.get(B, "/page/a?g=news").outcome, Outcome::Hit, "the same group of another origin");
    // The invalidation affects what was stored before it only.
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Hit);
    assert_eq!(edge.stats.figures.invalidations.responses, 1);
    assert_eq!(edge.stats.figures.invalidations.groups, 1);
}

#[test]
fn every_unsafe_method_counts_and_safe_methods_are_ignored() {
    let mut edge = Edge::plain();
    edge.stored(A, "/page/a?g=news");
    for method in ["GET", "HEAD", "OPTIONS"] {
        let got = edge.recorded(A, method, &[("x-test-invalidate", "\"news\"")]);
        assert!(got.is_none(), "{method}: {got:?}");
    }
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Hit);
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let record = edge.recorded(A, method, &[("x-test-invalidate", "\"news\"")]).unwrap();
        assert!(record.targets.contains(&group(A, "news")), "{method}");
    }
}

#[test]
fn the_field_is_honoured_on_any_status_and_the_target_uri_on_success_only() {
    let mut edge = Edge::plain();
    let record =
        edge.recorded(A, "POST", &[("x-test-invalidate", "\"news\""), ("x-test-status", "409")]).unwrap();
    assert_eq!(record.targets, [group(A, "news")], "RFC 9875 sets no condition on the status");
    assert!(edge.recorded(A, "POST", &[("x-test-status", "500")]).is_none(), "RFC 9111 §4.4: non-error only");
}

#[test]
fn a_client_sent_field_is_not_forwarded_and_does_nothing() {
    let mut edge = Edge::plain();
    edge.stored(A, "/page/a?g=news");
    let sent = [("cache-group-invalidation", "\"news\""), ("cache-groups", "\"news\"")];
    let record = edge.recorded(A, "POST", &sent).unwrap();
    assert_eq!(record.targets, [url("https://a.example/edit")], "only the target URI");
    let seen = edge.world.origin.last().unwrap();
    assert!(!seen.headers.contains("cache-group-invalidation") && !seen.headers.contains("cache-groups"));
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Hit);
    // Nor does a GET carrying it.
    edge.send(A, "GET", "/page/a?g=news", &sent);
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Hit);
}

#[test]
fn soft_invalidation_revalidates_instead_of_refetching() {
    let mut edge = Edge::new(r#"{"version": 1, "name": "soft", "purge": {"invalidation": "soft"}}"#);
    edge.stored(A, "/page/a?g=news");
    let record = edge.recorded(A, "POST", &[("x-test-invalidate", "\"news\"")]).unwrap();
    assert!(record.soft);
    let after = edge.get(A, "/page/a?g=news");
    assert_eq!(after.outcome, Outcome::Revalidated304, "{:?}", after.header("cache-status"));
    assert_eq!(edge.world.origin.last().unwrap().headers.get("if-none-match"), Some("\"v1\""));
}

#[test]
fn location_and_content_location_of_the_same_origin_are_recorded_as_resources() {
    let mut edge = Edge::plain();
    edge.stored(A, "/page/new?ref=x");
    let headers = [
        ("x-test-location", "/page/new?id=7#top"),
        ("x-test-content-location", "https://b.example/page/new"),
    ];
    let record = edge.recorded(A, "POST", &headers).unwrap();
    assert_eq!(record.targets, [url("https://a.example/edit"), url("https://a.example/page/new")]);
    assert_eq!(record.urls, 2);
    assert_eq!(edge.get(A, "/page/new?ref=x").outcome, Outcome::Miss, "every query string of the resource");
}

#[test]
fn more_groups_than_the_limit_invalidate_the_whole_origin() {
    let mut edge = Edge::plain();
    edge.stored(A, "/page/a?g=unlisted");
    edge.stored(B, "/page/a?g=unlisted");
    let many: Vec<String> = (0..=MAX_INVALIDATED_GROUPS).map(|i| format!("\"g{i}\"")).collect();
    let record = edge.recorded(A, "POST", &[("x-test-invalidate", &many.join(", "))]).unwrap();
    assert!(record.whole_site);
    assert!(record.targets.contains(&Target::Prefix("https://a.example/".into())));
    assert_eq!(edge.get(A, "/page/a?g=unlisted").outcome, Outcome::Miss);
    assert_eq!(edge.get(B, "/page/a?g=unlisted").outcome, Outcome::Hit);
    assert_eq!(edge.stats.figures.invalidations.whole_site, 1);
}

#[test]
fn tag_sources_are_a_policy_setting() {
    let mut edge = Edge::new(r#"{"version": 1, "name": "t", "purge": {"tagSources": ["Cache-Tag"]}}"#);
    edge.stored(A, "/page/a?g=news");
    edge.recorded(A, "POST", &[("x-test-invalidate", "\"news\"")]).unwrap();
    assert_eq!(edge.get(A, "/page/a?g=news").outcome, Outcome::Hit, "Cache-Groups are not read");
    for profile in Policy::profiles() {
        let policy = Policy::from_json(profile.1).unwrap();
        assert_eq!(policy.tag_sources(), rulecache::storage::meta::TagSources::ALL, "{}", profile.0);
    }
}

#[test]
fn the_edge_does_not_pass_groups_on_to_clients() {
    let mut edge = Edge::plain();
    let first = edge.get(A, "/page/a?g=news");
    assert!(first.header("cache-groups").is_none());
}

#[test]
fn an_origin_beyond_its_budget_collapses_into_its_site() {
    let limits = BudgetLimits {
        credential_burst: 3,
        credential_per_minute: 0,
        global_burst: 100,
        global_per_minute: 0,
    };
    let mut ledger = Ledger::with_budgets(86_400_000, limits);
    let mut rows = MemoryRows::default();
    let order = |targets: Vec<Target>| AppendOrder {
        targets,
        credential: Some(rulecache::flow::engine::ORIGIN_BUDGET.to_owned()),
        site: Some("https://a.example/".into()),
        soft_when_collapsed: true,
        ..AppendOrder::default()
    };
    let first = ledger.append(&mut rows, &order(vec![group(A, "x"), group(A, "y")]), 1, "e").unwrap();
    assert!(!first.collapsed);
    assert!(first.records.iter().all(|r| !r.soft), "hard while within the budget");
    let second = ledger.append(&mut rows, &order(vec![group(A, "z"), group(A, "w")]), 2, "e").unwrap();
    assert!(second.collapsed);
    assert_eq!(
        second.records.iter().map(|r| r.target.clone()).collect::<Vec<_>>(),
        [Target::Prefix("https://a.example/".into())]
    );
    assert!(second.records[0].soft, "a flood makes the site revalidate, not miss");
    // A group target reaches entries of its site carrying the group, nothing else.
    let g = group(A, "x");
    assert!(g.reaches("https://a.example/p?q=1", &["x".into()]));
    assert!(!g.reaches("https://a.example.evil/p", &["x".into()]));
    assert!(!g.reaches("https://a.example:8443/p", &["x".into()]));
    assert!(!g.reaches("https://a.example/p", &["y".into()]));
    assert_eq!(Target::from_row(g.kind(), g.value().to_owned()), Some(g));
}
