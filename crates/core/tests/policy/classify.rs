//! Classification order, the origin hint, content-type rules, the page map, audience
//! spoofing and cache-stop variables.
#![allow(clippy::expect_used, clippy::indexing_slicing)] // tests may panic

use rulecache::http::{Headers, RequestHead, ResponseHead};
use rulecache::policy::{PageAction, Policy};
use rulecache::storage::key::Audience;
use rulecache::testing::world::{self, request as req};

const BUNDLE: &str = r#"{
  "version": 1,
  "name": "classify",
  "rulesets": {"first": {"title": "First"}, "second": {}, "hinted": {}, "typed": {}, "api": {}},
  "rules": [
    {"id": "news-item", "ruleset": "first", "match": {"glob": "/news/*"}},
    {"id": "news-any", "ruleset": "second", "match": {"pathPrefix": "/news"}},
    {"id": "api-json", "ruleset": "api", "match": {"methods": ["GET"], "hosts": ["*.example.org"],
        "header": {"Accept": "application/json", "X-Debug": false}, "query": {"format": "json", "page": true},
        "cookie": {"session": true}}},
    {"id": "html", "ruleset": "typed", "match": {"contentType": "text/html", "pathPrefix": "/p/"}}
  ],
  "rulesetHint": {"header": "X-Cache-Ruleset", "trust": true},
  "cacheStopRequestVariables": ["statusmessages", "SearchableText"],
  "pageMap": [
    {"path": "/old", "action": "redirect301", "to": "https://example.org/new"},
    {"path": "/temporary", "action": "redirect302", "to": "/elsewhere"},
    {"path": "/removed", "action": "gone410"},
    {"path": "/missing", "action": "gone404"},
    {"path": "/alias", "action": "rewrite", "to": "/real"}
  ]
}"#;

fn policy() -> Policy {
    Policy::from_json(BUNDLE).unwrap_or_else(|e| panic!("{e:?}"))
}

fn get(path: &str) -> RequestHead {
    req("GET", &format!("https://www.example.org{path}"), &[])
}

fn resp(headers: &[(&str, &str)]) -> ResponseHead {
    world::head(200, headers)
}

fn request_ruleset(p: &Policy, r: &RequestHead) -> Option<(String, Option<String>)> {
    p.classify_request(r).map(|c| (c.ruleset.to_string(), c.rule_id.map(str::to_string)))
}

#[test]
fn rules_are_tried_in_order_and_the_first_match_wins() {
    let p = policy();
    assert_eq!(request_ruleset(&p, &get("/news/item-1")), Some(("first".into(), Some("news-item".into()))));
    assert_eq!(request_ruleset(&p, &get("/news/a/b")), Some(("second".into(), Some("news-any".into()))));
    assert_eq!(request_ruleset(&p, &get("/t/anything")), None);
}

#[test]
fn a_path_prefix_covers_whole_segments_only() {
    let p = policy();
    assert_eq!(request_ruleset(&p, &get("/news")).map(|c| c.0), Some("second".into()));
    assert_eq!(request_ruleset(&p, &get("/news?page=2")).map(|c| c.0), Some("second".into()));
    assert_eq!(request_ruleset(&p, &get("/newsletter")), None, "/news is not a prefix of /newsletter");
}

#[test]
fn every_stated_condition_must_hold() {
    let p = policy();
    let url = "https://api.example.org/x?page=2&format=json";
    let good = [("accept", "application/json"), ("cookie", "a=1; session=s")];
    assert_eq!(request_ruleset(&p, &req("GET", url, &good)).map(|c| c.0), Some("api".into()));
    let wrong = [
        req("POST", url, &good),
        req("GET", "https://example.org/x?page=2&format=json", &good),
        req("GET", "https://api.example.org/x?page=2&format=xml", &good),
        req("GET", "https://api.example.org/x?format=json", &good),
        req("GET", url, &[("accept", "text/html"), ("cookie", "session=s")]),
        req("GET", url, &[("accept", "application/json"), ("cookie", "xsession=s")]),
        req("GET", url, &[("accept", "application/json"), ("cookie", "session=s"), ("x-debug", "1")]),
    ];
    for r in wrong {
        assert_eq!(request_ruleset(&p, &r), None, "{} {} {:?}", r.method, r.url, r.headers);
    }
}

#[test]
fn content_type_rules_only_apply_to_responses() {
    let p = policy();
    let r = get("/p/page");
    assert_eq!(p.classify_request(&r), None);
    let c = p.classify_response(&r, &resp(&[("content-type", "Text/HTML; charset=utf-8")]));
    assert_eq!(c.map(|c| (c.ruleset, c.rule_id)), Some(("typed", Some("html"))));
    assert_eq!(p.classify_response(&r, &resp(&[("content-type", "application/json")])), None);
    assert_eq!(p.classify_response(&get("/q/page"), &resp(&[("content-type", "text/html")])), None);
}

#[test]
fn a_trusted_hint_naming_a_declared_ruleset_comes_before_content_type_rules() {
    let p = policy();
    let r = get("/p/page");
    let hinted = resp(&[("content-type", "text/html"), ("x-cache-ruleset", " hinted ")]);
    let c = p.classify_response(&r, &hinted);
    assert_eq!(c.map(|c| (c.ruleset, c.rule_id)), Some(("hinted", None)));
    let undeclared = resp(&[("content-type", "text/html"), ("x-cache-ruleset", "plone.nothing")]);
    assert_eq!(p.classify_response(&r, &undeclared).map(|c| c.ruleset), Some("typed"));
    assert_eq!(p.ruleset_hint_header(), Some("x-cache-ruleset"));
    let untrusted =
        Policy::from_json(&BUNDLE.replace(r#""trust": true"#, r#""trust": false"#)).expect("valid");
    assert_eq!(untrusted.classify_response(&r, &hinted).map(|c| c.ruleset), Some("typed"));
    assert_eq!(untrusted.ruleset_hint_header(), None);
}

#[test]
fn the_page_map_answers_exact_paths() {
    let p = policy();
    let redirect =
        |status, location: &str| Some(PageAction::Redirect { status, location: location.to_string() });
    assert_eq!(p.page_action("/old").cloned(), redirect(301, "https://example.org/new"));
    assert_eq!(p.page_action("/temporary").cloned(), redirect(302, "/elsewhere"));
    assert_eq!(p.page_action("/removed"), Some(&PageAction::Gone { status: 410 }));
    assert_eq!(p.page_action("/missing"), Some(&PageAction::Gone { status: 404 }));
    assert_eq!(
        p.page_action("/alias"),
        Some(&PageAction::Rewrite { path: "/real".to_string(), origin: None })
    );
    assert_eq!(p.page_action("/old/"), None);
    assert_eq!(p.page_action("/OLD"), None);
}

#[test]
fn cache_stop_variables_are_cookies_or_query_parameters_named_exactly() {
    let p = policy();
    assert!(p.cache_stop(&req("GET", "https://e.org/a", &[("cookie", "x=1; statusmessages=abc")])));
    assert!(p.cache_stop(&req("GET", "https://e.org/search?SearchableText=plone", &[])));
    assert!(p.cache_stop(&req("GET", "https://e.org/search?SearchableText", &[])));
    assert!(!p.cache_stop(&req("GET", "https://e.org/search?searchabletext=plone", &[])));
    assert!(!p.cache_stop(&req(
        "GET",
        "https://e.org/a?x=statusmessages",
        &[("cookie", "xstatusmessages=1")]
    )));
}

fn split_policy(split_view: &str) -> Policy {
    let text = format!(r#"{{"version": 1, "name": "s", "splitView": {split_view}}}"#);
    Policy::from_json(&text).unwrap_or_else(|e| panic!("{e:?}"))
}

fn audience_of(p: &Policy, headers: &[(&str, &str)]) -> Audience {
    p.audience(&Headers::from_pairs(headers.iter().copied()))
}

#[test]
fn only_real_credentials_authenticate() {
    let p = split_policy(r#"{"enabled": true, "authCookies": ["__ac"], "authCookiePrefixes": ["auth_"]}"#);
    assert_eq!(audience_of(&p, &[("cookie", "x__ac=forged")]), Audience::Anonymous);
    assert_eq!(audience_of(&p, &[("cookie", "__ac_x=1; __acx=2")]), Audience::Anonymous);
    assert_eq!(audience_of(&p, &[("cookie", "__ac=\"\"")]), Audience::Anonymous, "a logged-out cookie");
    assert_eq!(audience_of(&p, &[("cookie", "__ac=")]), Audience::Anonymous);
    assert_eq!(audience_of(&p, &[("x-anonymous", "1")]), Audience::Anonymous);
    assert_eq!(audience_of(&p, &[("cookie", "a=b; __ac=\"token\"")]), Audience::Authenticated);
    assert_eq!(audience_of(&p, &[("cookie", "auth_tkt=1")]), Audience::Authenticated);
    assert_eq!(audience_of(&p, &[("authorization", "Bearer t")]), Audience::Authenticated);
    assert_eq!(audience_of(&p, &[("authorization", "")]), Audience::Anonymous);
    let no_auth_header = split_policy(r#"{"enabled": true, "authorizationHeader": false}"#);
    assert_eq!(audience_of(&no_auth_header, &[("authorization", "Bearer t")]), Audience::Anonymous);
    assert_eq!(
        audience_of(&no_auth_header, &[("cookie", "__ac=t")]),
        Audience::Authenticated,
        "default cookie"
    );
}

#[test]
fn client_sent_split_view_headers_never_reach_the_origin() {
    let on = split_policy(r#"{"enabled": true}"#);
    assert_eq!(on.split_view_header(), Some("x-anonymous"));
    let mut h = Headers::from_pairs([("X-Anonymous", "1"), ("cookie", "__ac=t")]);
    let audience = on.audience(&h);
    assert_eq!(audience, Audience::Authenticated);
    on.prepare_origin_headers(&mut h, audience);
    assert_eq!(h.get("x-anonymous"), None, "an authenticated request cannot pose as anonymous");
    let mut h = Headers::from_pairs([("x-anonymous", "0")]);
    on.prepare_origin_headers(&mut h, Audience::Anonymous);
    assert_eq!(h.get_all("x-anonymous").collect::<Vec<_>>(), vec!["1"]);

    let off = split_policy(r#"{"enabled": false}"#);
    assert_eq!(off.split_view_header(), None);
    let mut h = Headers::from_pairs([("x-anonymous", "1")]);
    off.prepare_origin_headers(&mut h, Audience::Anonymous);
    assert!(h.is_empty());

    let custom = split_policy(r#"{"enabled": true, "header": "X-Plone-Anon"}"#);
    assert_eq!(custom.split_view_header(), Some("x-plone-anon"));
    let mut h = Headers::from_pairs([("x-anonymous", "1"), ("x-plone-anon", "1")]);
    custom.prepare_origin_headers(&mut h, Audience::Authenticated);
    assert!(h.is_empty());
}

#[test]
fn summary_lists_rulesets_with_their_operations() {
    let p = Policy::bundled("with-caching-proxy").expect("profile");
    let s = p.summary_json();
    assert_eq!(s["caching"], serde_json::json!({"enabled": true, "debugHeaders": false}));
    assert_eq!(s["default"], "honourOrigin");
    let rulesets = s["rulesets"].as_array().expect("array");
    let file = rulesets.iter().find(|r| r["name"] == "plone.content.file").expect("file ruleset");
    assert_eq!(file["title"], "Content files and images");
    assert_eq!(file["operation"], "moderateCaching");
    assert_eq!(file["parameters"], serde_json::json!({"smaxage": 86400, "lastModified": true}));
    assert_eq!(p.rulesets().count(), rulesets.len());
}

#[test]
fn classification_answers_with_an_id_that_names_the_ruleset_and_its_operation() {
    let p = policy();
    let c = p.classify_request(&get("/news/item-1")).expect("classified");
    assert_eq!(p.ruleset_id(c.ruleset), Some(c.ruleset_id));
    for (name, _) in p.rulesets() {
        let id = p.ruleset_id(name).expect("declared");
        assert_eq!(p.ruleset_name(id), Some(name));
        assert_eq!(p.operation(Some(id)).name(), p.operation_named(Some(name)).name());
    }
    assert_eq!(p.ruleset_id("undeclared"), None);
    let hinted = resp(&[("x-cache-ruleset", "hinted")]);
    let by_hint = p.classify_response(&get("/t/x"), &hinted).expect("hint");
    assert_eq!(p.ruleset_name(by_hint.ruleset_id), Some("hinted"));
}

#[test]
fn a_bundle_declaring_more_rulesets_than_ids_is_refused() {
    let n = rulecache::policy::RulesetId::MAX_RULESETS + 1;
    let rulesets: Vec<String> = (0..n).map(|i| format!("\"r{i}\":{{}}")).collect();
    let text = format!("{{\"version\":1,\"name\":\"many\",\"rulesets\":{{{}}}}}", rulesets.join(","));
    let errors = Policy::from_json(&text).err().unwrap_or_default();
    let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(got, vec![format!("/rulesets: {n} rulesets are declared; at most {} are allowed", n - 1)]);
}
