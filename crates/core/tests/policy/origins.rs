//! Named origins: validation of `origins` and of every name that refers to one, routing by
//! page map, rule and ruleset, the keys their copies are stored under, their forwarding
//! settings and the purges their applications send.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
use rulecache::http::{parse_url, RequestHead};
use rulecache::policy::Policy;
use rulecache::storage::stats::Outcome;
use rulecache::testing::world::{response as resp, ScriptedOrigin, World};

/// Two sites behind one edge: the legacy site is the default origin, the new CMS (at a base
/// path) serves `/wiki/**` by rule, `plone.stableResource` by ruleset, and `/about` by the
/// page map.
fn migration(page_map: &str) -> String {
    format!(
        r#"{{
  "version": 1, "name": "migration",
  "origins": {{
    "cms": {{"url": "https://cms.example.net/site", "purgeAliases": ["https://cms.example.net"],
             "forward": {{"keepCookies": ["cms_lang"], "trustedHeaders": ["X-Cms-Preview"]}}}},
    "static": {{"url": "http://static.example.net:8080"}}
  }},
  "rulesets": {{"pages": {{}}, "plone.stableResource": {{"origin": "static"}}}},
  "rules": [
    {{"id": "wiki", "ruleset": "pages", "origin": "cms", "match": {{"pathPrefix": "/wiki/"}}}},
    {{"id": "assets", "ruleset": "plone.stableResource", "match": {{"pathPrefix": "/assets/"}}}},
    {{"id": "rest", "ruleset": "pages", "match": {{"glob": "/**"}}}}
  ],
  "operations": {{"pages": {{"operation": "moderateCaching", "parameters": {{"smaxage": 600}}}},
                  "plone.stableResource": {{"operation": "strongCaching", "parameters": {{"maxage": 86400}}}}}},
  "pageMap": {page_map}
}}"#
    )
}

/// An origin that answers with the host and path it was asked at.
fn echo() -> ScriptedOrigin {
    ScriptedOrigin::in_order(|req: &RequestHead, _, _| {
        let at = format!("{}{}", req.url.origin(), req.url.path());
        resp(200, &[("cache-control", "max-age=600")], &at)
    })
}

fn world(page_map: &str) -> World {
    let policy = Policy::from_json(&migration(page_map)).unwrap_or_else(|e| panic!("{e:?}"));
    World::new(policy, echo()).with_site("https://www.example.org")
}

#[test]
fn each_request_goes_to_the_origin_its_page_map_entry_rule_or_ruleset_names() {
    let mut w = world(
        r#"[{"path": "/about", "action": "rewrite", "to": "/pages/about-us", "origin": "cms"},
                          {"path": "/wiki/old", "action": "rewrite", "to": "/wiki/old", "origin": "default"}]"#,
    );
    let cases = [
        ("/wiki/start", "https://cms.example.net/site/wiki/start"),
        ("/assets/app.css", "http://static.example.net:8080/assets/app.css"),
        ("/about", "https://cms.example.net/site/pages/about-us"),
        ("/wiki/old", "https://www.example.org/wiki/old"),
        ("/news", "https://www.example.org/news"),
    ];
    for (path, at) in cases {
        assert_eq!(w.send("GET", path, &[]).text(), at, "{path}");
    }
}

#[test]
fn a_named_origin_gets_the_edge_forwarding_fields_of_the_public_url() {
    let mut w = world("[]");
    w.send("GET", "/wiki/start?x=1", &[]);
    let seen = w.origin.last().unwrap();
    assert_eq!(seen.url.as_str(), "https://cms.example.net/site/wiki/start?x=1");
    assert_eq!(seen.headers.get("x-forwarded-host"), Some("www.example.org"));
    assert_eq!(seen.headers.get("x-forwarded-proto"), Some("https"));
}

#[test]
fn an_origins_forwarding_settings_reach_that_origin_only() {
    let mut w = world("[]");
    let sent = [("cookie", "cms_lang=de; tracking=1"), ("x-cms-preview", "1")];
    w.send("GET", "/wiki/start", &sent);
    let cms = w.origin.last().unwrap();
    assert_eq!(cms.headers.get("cookie"), Some("cms_lang=de"));
    assert_eq!(cms.headers.get("x-cms-preview"), Some("1"));
    w.send("GET", "/news", &sent);
    let legacy = w.origin.last().unwrap();
    assert_eq!(legacy.headers.get("cookie"), None);
    assert_eq!(legacy.headers.get("x-cms-preview"), None);
}

#[test]
fn a_page_moved_to_another_origin_is_never_answered_from_the_old_origins_copy() {
    let mut w = world("[]");
    assert_eq!(w.send("GET", "/about", &[]).text(), "https://www.example.org/about");
    assert_eq!(w.send("GET", "/about", &[]).outcome, Outcome::Hit);
    // The page map moves it to the new CMS: its copy is keyed by that origin.
    w.policy = Policy::from_json(&migration(
        r#"[{"path": "/about", "action": "rewrite", "to": "/about", "origin": "cms"}]"#,
    ))
    .unwrap();
    let moved = w.send("GET", "/about", &[]);
    assert_eq!(moved.outcome, Outcome::Miss);
    assert_eq!(moved.text(), "https://cms.example.net/site/about");
    assert_eq!(w.send("GET", "/about", &[]).outcome, Outcome::Hit);
    // And back: the legacy copy is still the legacy page, not the CMS's.
    w.policy = Policy::from_json(&migration("[]")).unwrap();
    assert_eq!(w.send("GET", "/about", &[]).text(), "https://www.example.org/about");
}

#[test]
fn a_purge_in_an_origins_own_paths_names_the_public_url() {
    let policy = Policy::from_json(&migration("[]")).unwrap();
    let site = parse_url("https://www.example.org/_rulecache/api/purge").unwrap();
    let own = parse_url("https://cms.example.net/site/wiki/start?x=1").unwrap();
    let public = policy.public_url(&own, &site).unwrap();
    assert_eq!(public.as_str(), "https://www.example.org/wiki/start?x=1");
    let outside = parse_url("https://cms.example.net/other/page").unwrap();
    assert_eq!(policy.public_url(&outside, &site), None, "outside the base path: never asked for");
    let public_already = parse_url("https://www.example.org/wiki/start").unwrap();
    assert_eq!(policy.public_url(&public_already, &site), None);
}

#[test]
fn every_mistake_about_origins_is_reported_at_its_path() {
    let bundle = r#"{
  "version": 1, "name": "bad",
  "origins": {
    "default": {"url": "https://x.example"},
    "bad name": {"url": "https://y.example"},
    "creds": {"url": "https://user:pw@z.example"},
    "query": {"url": "https://q.example/?a=1"},
    "noscheme": {"url": "cms.example.net"},
    "a": {"url": "https://a.example", "purgeAliases": ["https://shared.example", "not a url"]},
    "b": {"url": "https://b.example", "purgeAliases": ["https://shared.example"],
          "forward": {"trustedHeaders": ["X-Forwarded-Host"], "keepCookies": ["a b"], "other": 1}},
    "c": {"uri": "https://c.example"}
  },
  "rulesets": {"pages": {"origin": "nowhere"}},
  "rules": [
    {"id": "r1", "ruleset": "pages", "origin": "wiki", "match": {"pathPrefix": "/wiki/"}},
    {"id": "r2", "ruleset": "pages", "origin": "a", "match": {"contentType": "text/html"}}
  ],
  "pageMap": [
    {"path": "/x", "action": "rewrite", "to": "/y", "origin": "legacy"},
    {"path": "/z", "action": "redirect301", "to": "/y", "origin": "a"},
    {"path": "/w", "action": "redirect302", "to": "http://[bad"}
  ]
}"#;
    let errors = Policy::from_json(bundle).unwrap_err();
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    let expect = [
        "/origins/default: \"default\" is the deployment's own origin (ORIGIN) and cannot be declared",
        "/origins/bad name: \"bad name\" is not a valid origin name",
        "/origins/creds/url: \"https://user:pw@z.example\" is not an origin URL",
        "/origins/query/url: \"https://q.example/?a=1\" is not an origin URL",
        "/origins/noscheme/url: \"cms.example.net\" is not an origin URL",
        "/origins/a/purgeAliases/1: \"not a url\" is not an origin",
        "/origins/b/purgeAliases: \"https://shared.example\" is already a purge alias of origin \"a\"",
        "/origins/b/forward/trustedHeaders/0: \"X-Forwarded-Host\" is a forwarding field",
        "/origins/b/forward/keepCookies/0: \"a b\" is not a cookie name",
        "/origins/b/forward/other: unknown key \"other\"",
        "/origins/c/uri: unknown key \"uri\"",
        "/origins/c: missing required key \"url\"",
        "/rulesets/pages/origin: origin \"nowhere\" is not declared in /origins",
        "/rules/0/origin: origin \"wiki\" is not declared in /origins",
        "/rules/1/origin: a rule with a contentType condition classifies the response",
        "/pageMap/0/origin: origin \"legacy\" is not declared in /origins",
        "/pageMap/1/origin: \"origin\" does not apply to redirect301",
        "/pageMap/2/to: \"http://[bad\" is neither a path starting with / nor an absolute URL",
    ];
    for e in expect {
        assert!(got.iter().any(|g| g.starts_with(e)), "missing {e:?} in\n{}", got.join("\n"));
    }
    assert_eq!(got.len(), expect.len(), "{}", got.join("\n"));
}

#[test]
fn origin_names_in_errors_list_what_is_declared() {
    let bundle = r#"{"version": 1, "name": "x", "origins": {"cms": {"url": "https://cms.example"}},
        "pageMap": [{"path": "/a", "action": "rewrite", "to": "/a", "origin": "cmss"}]}"#;
    let errors = Policy::from_json(bundle).unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "/pageMap/0/origin: origin \"cmss\" is not declared in /origins (declared: cms; \"default\" is the deployment's own)"
    );
}

#[test]
fn a_policy_without_origins_keys_its_copies_as_before() {
    // Stored copies of the deployment's own origin keep their keys: a policy that declares
    // origins does not orphan what is stored.
    let plain = r#"{"version": 1, "name": "plain"}"#;
    let mut w = World::new(Policy::from_json(plain).unwrap(), echo()).with_site("https://www.example.org");
    w.send("GET", "/news", &[]);
    w.policy = Policy::from_json(&migration("[]")).unwrap();
    assert_eq!(w.send("GET", "/news", &[]).outcome, Outcome::Hit);
}

#[test]
fn explain_names_the_page_map_entry_and_the_origin_that_answer() {
    let policy = Policy::from_json(&migration(
        r#"[{"path": "/about", "action": "rewrite", "to": "/pages/about-us", "origin": "cms"}]"#,
    ))
    .unwrap();
    let sample = rulecache::http::ResponseHead::new(200, rulecache::http::Headers::new());
    let explain = |path: &str| {
        let req = rulecache::testing::world::request("GET", &format!("https://www.example.org{path}"), &[]);
        rulecache::flow::explain::Explain::start(&policy, req, rulecache::testing::world::T0).finish(
            &policy,
            None,
            sample.clone(),
            rulecache::testing::world::T0,
        )
    };
    let about = explain("/about");
    assert_eq!(about.origin, "cms");
    assert_eq!(about.named_origin_url.as_deref(), Some("https://cms.example.net/site/pages/about-us"));
    let entry = serde_json::to_value(&about).unwrap()["pageMapEntry"].clone();
    assert_eq!(
        entry,
        serde_json::json!({"path": "/about", "action": "rewrite", "to": "/pages/about-us", "origin": "cms"})
    );
    let news = explain("/news");
    assert_eq!(news.origin, "default");
    assert_eq!(news.named_origin_url, None);
    assert!(serde_json::to_value(&news).unwrap().get("pageMapEntry").is_none());
}
