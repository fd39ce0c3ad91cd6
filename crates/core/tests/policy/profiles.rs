//! The shipped profiles: they validate, they classify the demo origin and a Plone site into
//! the rulesets plone.app.caching uses, and they map rulesets to plone's operations with
//! plone's parameters.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use rulecache::storage::key::Audience;

use rulecache::policy::decision::{Bypass, ModifyContext};

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::Policy;
use rulecache::rfc::freshness::EdgeStorage;

fn get(path: &str) -> RequestHead {
    RequestHead::parse("GET", &format!("https://example.org{path}"), Headers::new()).expect("test URL")
}

fn profile(id: &str) -> Policy {
    Policy::bundled(id).unwrap_or_else(|| panic!("profile {id}"))
}

const IDS: [&str; 3] = ["without-caching-proxy", "with-caching-proxy", "with-caching-proxy-splitviews"];

#[test]
fn every_profile_validates() {
    for (id, text) in Policy::profiles() {
        match Policy::from_json(text) {
            Ok(p) => assert_eq!(p.name(), *id),
            Err(errors) => panic!("{id}: {errors:?}"),
        }
        let embedded: serde_json::Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(embedded["$schema"], "./schema.json");
        // The embedded text is the file in policy/ without its layout: the same JSON value.
        let file = std::fs::read_to_string(format!("../../policy/{id}.json")).expect("the profile's file");
        assert_eq!(embedded, serde_json::from_str::<serde_json::Value>(&file).expect("JSON"), "{id}");
        assert!(text.len() < file.len(), "{id} is embedded compacted");
    }
    let mut all = IDS.to_vec();
    all.extend(["plone6-splitviews", "django"]);
    assert_eq!(Policy::profiles().iter().map(|(id, _)| *id).collect::<Vec<_>>(), all);
    assert_eq!(Policy::default_profile().name(), "with-caching-proxy-splitviews");
    assert!(Policy::bundled("nonexistent").is_none());
}

#[test]
fn demo_and_plone_paths_are_classified_alike_in_every_profile() {
    let cases = [
        ("/", Some("plone.content.folderView")),
        ("/news", Some("plone.content.folderView")),
        ("/front-page", Some("plone.content.itemView")),
        ("/news/item-1", Some("plone.content.itemView")),
        ("/news/item-2", Some("plone.content.itemView")),
        ("/some/page/view", Some("plone.content.itemView")),
        ("/news/RSS", Some("plone.content.feed")),
        ("/RSS", Some("plone.content.feed")),
        ("/events/rss.xml", Some("plone.content.feed")),
        ("/images/logo.png", Some("plone.content.file")),
        ("/files/report.pdf", Some("plone.content.file")),
        ("/files/report/@@download/file", Some("plone.content.file")),
        ("/news/item-1/@@images/image/preview", Some("plone.content.file")),
        ("/news/item-1/@@images/image-800-1f3c.jpeg", Some("plone.stableResource")),
        ("/++resource++demo/style.css", Some("plone.resource")),
        ("/++theme++barceloneta/css/barceloneta.min.css", Some("plone.resource")),
        ("/favicon.ico", Some("plone.resource")),
        ("/++plone++static/++unique++2026-01-01/app.js", Some("plone.stableResource")),
        ("/site/++resource++x/++unique++5/y.js", Some("plone.stableResource")),
        ("/news/@search", Some("plone.content.dynamic")),
        ("/set-cookie", None),
        ("/login", None),
        ("/logout", None),
        ("/t/max-age", None),
        ("/t/news/item-1", None),
    ];
    for id in IDS {
        let p = profile(id);
        for (path, want) in cases {
            let got = p.classify_request(&get(path)).map(|c| c.ruleset);
            assert_eq!(got, want, "{id}: {path}");
        }
        let pdf = ResponseHead::new(200, Headers::from_pairs([("content-type", "application/pdf")]));
        assert_eq!(
            p.classify_response(&get("/files/report"), &pdf).map(|c| c.ruleset),
            Some("plone.content.file")
        );
        let hinted = ResponseHead::new(
            200,
            Headers::from_pairs([
                ("content-type", "text/html"),
                ("x-cache-ruleset", "plone.content.itemView"),
            ]),
        );
        let c = p.classify_response(&get("/about"), &hinted).expect("hint");
        assert_eq!((c.ruleset, c.rule_id), ("plone.content.itemView", None));
        let plain = ResponseHead::new(200, Headers::from_pairs([("content-type", "text/html")]));
        assert_eq!(p.classify_response(&get("/t/html"), &plain), None, "{id}: test paths stay unclassified");
        assert_eq!(p.operation(None).name(), "honourOrigin");
        assert!(p.cache_stop(
            &RequestHead::parse("GET", "https://e.org/?SearchableText=x", Headers::new()).expect("url")
        ));
    }
}

/// `(ruleset, operation)` pairs of a profile, as in plone.app.caching's registry.xml.
fn mapping(p: &Policy) -> Vec<(String, String)> {
    p.rulesets()
        .map(|(name, _)| (name.to_string(), p.operation_named(Some(name)).name().to_string()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<_> = list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    v.sort();
    v
}

#[test]
fn operation_mappings_follow_plone_app_caching() {
    let resources = [("plone.resource", "strongCaching"), ("plone.stableResource", "strongCaching")];
    let without = [
        ("plone.content.itemView", "weakCaching"),
        ("plone.content.folderView", "weakCaching"),
        ("plone.content.feed", "weakCaching"),
        ("plone.content.file", "weakCaching"),
        ("plone.content.dynamic", "terseCaching"),
    ];
    let with = [
        ("plone.content.itemView", "weakCaching"),
        ("plone.content.folderView", "weakCaching"),
        ("plone.content.feed", "moderateCaching"),
        ("plone.content.file", "moderateCaching"),
        ("plone.content.dynamic", "terseCaching"),
    ];
    let split = [
        ("plone.content.itemView", "moderateCaching"),
        ("plone.content.folderView", "moderateCaching"),
        ("plone.content.feed", "moderateCaching"),
        ("plone.content.file", "moderateCaching"),
        ("plone.content.dynamic", "terseCaching"),
    ];
    for (id, rest) in [
        ("without-caching-proxy", without),
        ("with-caching-proxy", with),
        ("with-caching-proxy-splitviews", split),
    ] {
        let all: Vec<(&str, &str)> = resources.iter().chain(rest.iter()).copied().collect();
        assert_eq!(mapping(&profile(id)), pairs(&all), "{id}");
    }
}

fn ttl(p: &Policy, ruleset: &str) -> Option<u64> {
    match p.operation_named(Some(ruleset)).storage() {
        EdgeStorage::Store { ttl, .. } => Some(ttl),
        _ => None,
    }
}

#[test]
fn lifetimes_follow_plone_app_caching() {
    for id in IDS {
        let p = profile(id);
        assert_eq!(ttl(&p, "plone.resource"), Some(86400), "{id}");
        assert_eq!(ttl(&p, "plone.stableResource"), Some(31_536_000), "{id}");
    }
    let with = profile("with-caching-proxy");
    assert_eq!(ttl(&with, "plone.content.feed"), Some(86400));
    assert_eq!(ttl(&with, "plone.content.file"), Some(86400));
    assert_eq!(ttl(&with, "plone.content.itemView"), Some(0), "weak: revalidated every time");
    assert_eq!(ttl(&with, "plone.content.dynamic"), Some(60));
    let split = profile("with-caching-proxy-splitviews");
    assert_eq!(ttl(&split, "plone.content.itemView"), Some(3600));
    assert_eq!(ttl(&split, "plone.content.folderView"), Some(3600));
    assert_eq!(ttl(&profile("without-caching-proxy"), "plone.content.dynamic"), Some(0));
}

fn downstream(p: &Policy, path: &str, headers: &[(&str, &str)]) -> (Option<Bypass>, Headers) {
    let req = RequestHead::parse(
        "GET",
        &format!("https://example.org{path}"),
        Headers::from_pairs(headers.iter().copied()),
    )
    .expect("url");
    let audience = p.audience(&req.headers);
    let op = p.operation(p.classify_request(&req).map(|c| c.ruleset_id));
    let mut resp = ResponseHead::new(
        200,
        Headers::from_pairs([("etag", "\"v1\""), ("last-modified", "Thu, 01 Jan 2026 00:00:00 GMT")]),
    );
    let ctx = ModifyContext {
        request: &req,
        audience,
        policy_version: p.version(),
        split_view_header: p.split_view_header(),
        now: 1_767_225_600_000,
    };
    op.modify(&ctx, &mut resp);
    (op.bypass(audience), resp.headers)
}

#[test]
fn split_views_cache_anonymous_views_at_the_edge_and_keep_logged_in_views_out() {
    let p = profile("with-caching-proxy-splitviews");
    assert_eq!(p.split_view_header(), Some("x-anonymous"));
    let (bypass, h) = downstream(&p, "/news/item-1", &[]);
    assert_eq!(bypass, None);
    assert_eq!(h.get("cache-control"), Some("max-age=0, s-maxage=3600, must-revalidate"));
    assert_eq!(h.get("vary"), Some("X-Anonymous"));
    assert_eq!(h.get("etag"), Some("\"|v1|\""));
    let (bypass, h) = downstream(&p, "/news/item-1", &[("cookie", "__ac=secret")]);
    assert_eq!(bypass, Some(Bypass::AnonOnly));
    assert_eq!(h.get("cache-control"), Some("max-age=0, must-revalidate, private"));
    let (bypass, _) = downstream(&p, "/news/item-1", &[("cookie", "x__ac=forged")]);
    assert_eq!(bypass, None, "a look-alike cookie is anonymous");
    let (bypass, h) = downstream(&p, "/++resource++demo/style.css", &[("cookie", "__ac=secret")]);
    assert_eq!(bypass, None, "resources are shared by everyone");
    assert_eq!(h.get("cache-control"), Some("max-age=86400, proxy-revalidate, public"));
    assert_eq!(h.get("last-modified"), Some("Thu, 01 Jan 2026 00:00:00 GMT"));
}

#[test]
fn without_split_views_the_anonymous_header_is_neither_sent_nor_varied_on() {
    for id in ["without-caching-proxy", "with-caching-proxy"] {
        let p = profile(id);
        assert_eq!(p.split_view_header(), None);
        let (bypass, h) = downstream(&p, "/news/item-1", &[]);
        assert_eq!(bypass, None);
        assert_eq!(h.get("cache-control"), Some("max-age=0, must-revalidate, private"), "{id}");
        assert_eq!(h.get("vary"), None, "{id}");
        let (bypass, _) = downstream(&p, "/news/item-1", &[("authorization", "Basic eDp5")]);
        assert_eq!(bypass, Some(Bypass::AnonOnly), "{id}: a userid ETag keeps users' pages private");
        assert_eq!(p.audience(&Headers::from_pairs([("cookie", "__ac=t")])), Audience::Authenticated);
    }
}

#[test]
fn every_shipped_profile_has_debug_headers_off() {
    // Rule and operation names tell an attacker how the edge classifies; every file in
    // policy/ (not only the ones compiled in) ships with them off.
    let mut seen = 0;
    for entry in std::fs::read_dir("../../policy").expect("policy/") {
        let path = entry.expect("an entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        if !name.ends_with(".json") || name == "schema.json" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let policy = Policy::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(!policy.debug_headers(), "{name} ships with debugHeaders on");
        seen += 1;
    }
    assert!(seen >= 5, "every profile was read ({seen})");
}
