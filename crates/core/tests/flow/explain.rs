//! "Explain this URL" (admin API and command line alike) on the flow that serves requests.

#![allow(clippy::unwrap_used)]

use rulecache::flow::engine::Found;

use rulecache::flow::explain::Explain;
use rulecache::http::{Headers, RequestHead, ResponseHead, Time};
use rulecache::policy::Policy;
use rulecache::storage::meta::Purged;
use rulecache::storage::store::{Record, Store};
use rulecache::testing::sim::{Edge, OriginResult};

const T0: Time = 1_800_000_000_000;

fn request(path: &str, cookie: Option<&str>) -> RequestHead {
    let mut h = Headers::new();
    if let Some(c) = cookie {
        h.set("cookie", c);
    }
    RequestHead::parse("GET", &format!("https://www.example.org{path}"), h).unwrap()
}

fn sample() -> ResponseHead {
    ResponseHead::new(200, Headers::from_pairs([("content-type", "text/html"), ("etag", "\"a\"")]))
}

#[test]
fn an_unstored_request_is_explained_with_its_ruleset_operation_and_bypass() {
    let policy = Policy::default_profile();
    let anon = Explain::start(&policy, request("/news", None), T0).finish(&policy, None, sample(), T0);
    assert_eq!(anon.ruleset.as_deref(), Some("plone.content.folderView"));
    assert_eq!(anon.audience, "anon");
    assert_eq!(anon.bypass, None);
    assert_eq!(anon.cached.status, "miss");
    let member =
        Explain::start(&policy, request("/news", Some("__ac=abc")), T0).finish(&policy, None, sample(), T0);
    assert_eq!(member.audience, "auth");
    assert!(member.bypass.is_some(), "the folder view is anonymous-only: a member bypasses");
    assert!(member.request_headers_to_origin.get("cookie").is_some());
}

#[test]
fn a_stored_entry_is_judged_as_the_flow_judges_it_purges_included() {
    let policy = Policy::from_json(r#"{"version": 1, "name": "plain"}"#).unwrap();
    let mut edge = Edge::new();
    let mut origin = |_: &RequestHead| -> OriginResult {
        let h = Headers::from_pairs([("cache-control", "max-age=60"), ("content-length", "2")]);
        Some((ResponseHead::new(200, h), b"ok".to_vec()))
    };
    edge.run(&policy, &mut origin, request("/t/x", None), T0, &|_| Purged::No);
    let explain_at = |purged: Purged, at: Time| {
        let mut x = Explain::start(&policy, request("/t/x", None), at);
        let mut entry = None;
        while let Some((key, _)) = x.lookup().map(|(k, kv)| (k.to_string(), kv)) {
            let found = match edge.cache.get(&key) {
                Some((Record::Entry(m), _)) => Found::Entry(m),
                Some((Record::Index(i), _)) => Found::Index(i),
                None => Found::Nothing,
            };
            x.found(&policy, &found, at);
            if let Found::Entry(m) = found {
                entry = Some(*m);
            }
        }
        x.finish(&policy, entry.as_ref().map(|m| (m, purged)), sample(), at)
    };
    let fresh = explain_at(Purged::No, T0 + 10_000);
    assert_eq!((fresh.cached.status, fresh.cached.age, fresh.cached.ttl), ("hit", Some(10), Some(50)));
    assert_eq!(explain_at(Purged::Soft { at: T0 + 5_000 }, T0 + 10_000).cached.status, "stale");
    let hard = explain_at(Purged::Hard, T0 + 10_000);
    assert_eq!((hard.cached.status, hard.cached.present), ("purged", false));
    assert_eq!(explain_at(Purged::No, T0 + 61_000).cached.status, "stale");
}
