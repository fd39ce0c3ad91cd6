//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::Headers;
use rulecache::purge::auth::{authorize, AuthInput, Credential, ReplayGuard, Scope, Secrets};
use rulecache::purge::ledger::Target;
use rulecache::purge::request::{PurgeProblem, PurgeRequest, MAX_PURGE_ITEMS};
use rulecache::storage::key::PrimaryKey;
use rulecache::testing::XorShift;

fn credential() -> Credential {
    let headers = Headers::from_pairs([("Authorization", "Bearer k")]);
    let input = AuthInput { method: "POST", path_and_query: "/_purge", headers: &headers, body: b"" };
    let secrets = Secrets::from_vars(Some("k"), None, None);
    authorize(&secrets, Scope::Purge, &input, 0, &mut ReplayGuard::new())
        .expect("the test credential is accepted")
}

/// Each problem as `path: message` (its JSON pointer and sentence).
fn problems(json: &str) -> Vec<String> {
    PurgeRequest::from_json(json.as_bytes()).err().unwrap_or_default().iter().map(|p| p.to_string()).collect()
}

#[test]
fn a_full_json_request_is_read() {
    let request = PurgeRequest::from_json(
        br#"{"urls":["/news","https://example.com/a?b=1"],"prefixes":["/docs/"],"tags":["page-1"],"soft":true}"#,
    );
    assert_eq!(
        request,
        Ok(PurgeRequest {
            urls: vec!["/news".into(), "https://example.com/a?b=1".into()],
            prefixes: vec!["/docs/".into()],
            tags: vec!["page-1".into()],
            soft: true,
            exact_query: false,
        })
    );
    assert_eq!(PurgeRequest::from_json(br#"{"tags":["t"]}"#).map(|r| r.soft), Ok(false));
}

#[test]
fn every_problem_is_listed_with_its_place() {
    assert_eq!(
        problems(
            r#"{"urls":["news", 3, ""],"prefixes":"/a","tags":["a b",""],"soft":"yes","everything":true}"#
        ),
        [
            "/everything: unknown key (expected urls, prefixes, tags, soft or exactQuery)",
            "/prefixes: must be a list of strings",
            "/soft: must be true or false",
            "/tags/0: must not contain commas, spaces or control characters",
            "/tags/1: is empty",
            "/urls/0: \"news\" is neither a path starting with / nor an absolute http(s) URL",
            "/urls/1: must be a string",
            "/urls/2: is empty",
        ]
    );
}

#[test]
fn structural_problems_are_plain_sentences() {
    assert_eq!(problems("{}"), ["/: nothing to purge: give at least one of urls, prefixes or tags"]);
    assert_eq!(problems(r#"["/a"]"#), ["/: the purge request must be a JSON object"]);
    assert_eq!(
        problems(r#"{"urls":["ftp://example.com/x"]}"#),
        ["/urls/0: \"ftp://example.com/x\" is neither a path starting with / nor an absolute http(s) URL"]
    );
    assert_eq!(problems(r#"{"urls":["/a\u0000"]}"#), ["/urls/0: contains a control character"]);
    assert_eq!(
        problems(r#"{"urls":["https://bücher.example/a"]}"#),
        ["/urls/0: \"https://bücher.example/a\" has a host that is not ASCII: write an internationalised name in punycode (xn--…)"]
    );
    assert!(problems(r#"{"urls":["https://xn--bcher-kva.example/a"]}"#).is_empty());
    let not_json = problems("{");
    assert_eq!(not_json.len(), 1);
    assert!(not_json[0].starts_with("/: the purge request is not valid JSON: "), "{not_json:?}");
    // A body that is not UTF-8 (here Latin-1 `é` inside a string) is malformed JSON too.
    let latin1 = PurgeRequest::from_json(b"{\"urls\":[\"/caf\xe9\"]}").err().unwrap_or_default();
    assert_eq!(latin1.len(), 1, "{latin1:?}");
    assert!(latin1[0].to_string().starts_with("/: the purge request is not valid JSON: "), "{latin1:?}");
}

#[test]
fn at_most_a_thousand_items_in_all() {
    let urls: Vec<String> = (0..600).map(|i| format!("\"/p{i}\"")).collect();
    let tags: Vec<String> = (0..401).map(|i| format!("\"t{i}\"")).collect();
    let json = format!(r#"{{"urls":[{}],"tags":[{}]}}"#, urls.join(","), tags.join(","));
    assert_eq!(
        problems(&json),
        ["/: the request lists 1001 urls, prefixes and tags in all; at most 1000 are allowed"]
    );
    let json = format!(r#"{{"urls":[{}],"tags":[{}]}}"#, urls.join(","), tags[1..].join(","));
    assert!(PurgeRequest::from_json(json.as_bytes()).is_ok());
}

#[test]
fn a_long_list_of_problems_is_cut_short() {
    let items = vec!["1"; 70].join(",");
    let listed = problems(&format!(r#"{{"tags":[{items}]}}"#));
    assert_eq!(listed.len(), 51);
    assert_eq!(listed.last().map(String::as_str), Some("/: and 21 more problems"));
}

#[test]
fn long_unknown_keys_are_shortened_in_messages() {
    let key = "k".repeat(500);
    let listed = problems(&format!(r#"{{"{key}":1,"tags":["t"]}}"#));
    assert_eq!(
        listed,
        [format!("/{}…: unknown key (expected urls, prefixes, tags, soft or exactQuery)", "k".repeat(64))]
    );
}

#[test]
fn the_purge_method_purges_its_url_with_header_tags() {
    let headers = Headers::from_pairs([
        ("X-Purge-Tags", "news, page-1"),
        ("Surrogate-Key", "page-1  front"),
        ("Fastly-Soft-Purge", "1"),
    ]);
    let request = PurgeRequest::from_purge_method("https://example.com/news", &headers);
    assert_eq!(
        request,
        PurgeRequest {
            urls: vec!["https://example.com/news".into()],
            prefixes: vec![],
            tags: vec!["news".into(), "page-1".into(), "front".into()],
            soft: true,
            exact_query: false,
        }
    );
}

#[test]
fn the_purge_method_is_hard_unless_asked_to_be_soft() {
    let plain = PurgeRequest::from_purge_method("/news", &Headers::new());
    assert!(!plain.soft);
    assert!(plain.tags.is_empty());
    let soft = PurgeRequest::from_purge_method("/news", &Headers::from_pairs([("X-Purge-Soft", "1")]));
    assert!(soft.soft);
    let off = PurgeRequest::from_purge_method("/news", &Headers::from_pairs([("X-Purge-Soft", "0")]));
    assert!(!off.soft);
}

#[test]
fn the_purge_method_bounds_its_tags() {
    let many: Vec<String> = (0..5000).map(|i| format!("t{i}")).collect();
    let headers = Headers::from_pairs([("Surrogate-Key", many.join(" "))]);
    let request = PurgeRequest::from_purge_method("/", &headers);
    assert_eq!(request.tags.len(), MAX_PURGE_ITEMS - 1);
    assert!(request.problems().is_empty());
}

#[test]
fn targets_expand_urls_resolve_prefixes_and_keep_tags() {
    let request = PurgeRequest {
        urls: vec!["/news/".into(), "https://other.example/x?y=1".into()],
        prefixes: vec!["/docs/".into()],
        tags: vec!["page-1".into(), "page-1".into()],
        ..PurgeRequest::default()
    };
    let base = rulecache::http::parse_url("https://www.example.com/").expect("base");
    let templates = vec!["${path}".to_owned(), "${path}/view".to_owned()];
    let targets =
        request.targets(&credential(), &base, &templates, |u| PrimaryKey::from_stored(format!("key:{u}")));
    assert_eq!(
        targets,
        Ok(vec![
            Target::Url("key:https://www.example.com/news/".into()),
            Target::Url("key:https://www.example.com/news".into()),
            Target::Url("key:https://www.example.com/news/view".into()),
            // A URL purge reaches the resource under every query string.
            Target::Url("key:https://other.example/x".into()),
            Target::Url("key:https://other.example/x/view".into()),
            Target::Prefix("key:https://www.example.com/docs/".into()),
            Target::Tag("page-1".into()),
        ])
    );
}

#[test]
fn an_invalid_request_yields_no_targets() {
    let request = PurgeRequest::default();
    let base = rulecache::http::parse_url("https://www.example.com/").expect("base");
    assert_eq!(
        request.targets(&credential(), &base, &[], |u| PrimaryKey::from_stored(u.as_str())),
        Err(vec![PurgeProblem {
            path: "/".into(),
            message: "nothing to purge: give at least one of urls, prefixes or tags".into()
        }])
    );
    let relative = PurgeRequest { prefixes: vec!["docs".into()], ..PurgeRequest::default() };
    assert_eq!(
        relative.targets(&credential(), &base, &[], |u| PrimaryKey::from_stored(u.as_str())),
        Err(vec![PurgeProblem {
            path: "/prefixes/0".into(),
            message: "\"docs\" is neither a path starting with / nor an absolute http(s) URL".into()
        }])
    );
}

#[test]
fn random_bytes_never_panic_the_parser() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let alphabet = br#"{}[]",:/ \0aetrufsln0123456789.-urlsprefixestagssoft"#;
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = rng.below(64);
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            rng.text(alphabet, 63).into_bytes()
        };
        let _ = PurgeRequest::from_json(&bytes);
    }
    for json in [r#"{"urls":["#.repeat(1000), "[".repeat(100_000)] {
        assert!(PurgeRequest::from_json(json.as_bytes()).is_err());
    }
}

#[test]
fn a_url_purge_reaches_every_alias_of_its_site_and_prefixes_are_normalised_like_keys() {
    use rulecache::storage::key::{primary_key, KeyOptions};
    let policy = rulecache::policy::Policy::from_json(
        r#"{"version": 1, "name": "aliases", "purge": {"paths": ["${path}"],
            "aliases": [["https://www.example.org", "http://www.example.org", "https://example.org", "https://example.org."]]}}"#,
    )
    .expect("a valid policy");
    assert_eq!(
        policy.purge_aliases(),
        [vec![
            "https://www.example.org".to_owned(),
            "http://www.example.org".into(),
            "https://example.org".into(),
            "https://example.org.".into()
        ]]
    );
    let request = PurgeRequest {
        urls: vec!["/news?b=2&a=1".into()],
        prefixes: vec!["/Docs%7e/".into()],
        exact_query: true,
        ..PurgeRequest::default()
    };
    let base = rulecache::http::parse_url("https://www.example.org/").expect("base");
    let opts = KeyOptions::default();
    let targets = request
        .targets_with_aliases(&credential(), &base, policy.purge_paths(), policy.purge_aliases(), |u| {
            primary_key(u, &opts)
        })
        .expect("targets");
    let urls: Vec<&str> =
        targets.iter().filter_map(|t| if let Target::Url(u) = t { Some(u.as_str()) } else { None }).collect();
    let key = |s: &str| primary_key(&rulecache::http::parse_url(s).expect("url"), &opts);
    for origin in
        ["https://www.example.org", "http://www.example.org", "https://example.org", "https://example.org."]
    {
        let k = key(&format!("{origin}/news?b=2&a=1"));
        assert!(urls.contains(&k.as_str()), "{k} in {urls:?}");
    }
    let prefixes: Vec<&str> = targets
        .iter()
        .filter_map(|t| if let Target::Prefix(p) = t { Some(p.as_str()) } else { None })
        .collect();
    assert_eq!(prefixes.len(), 4);
    assert!(prefixes.contains(&key("https://example.org/Docs~/").as_str()), "{prefixes:?}");
    // An origin of no group: the URL alone.
    let other = rulecache::http::parse_url("https://cdn.example.net/").expect("base");
    let alone = request
        .targets_with_aliases(&credential(), &other, policy.purge_paths(), policy.purge_aliases(), |u| {
            PrimaryKey::from_stored(u.as_str())
        })
        .expect("targets");
    assert_eq!(alone.len(), 2);
}

#[test]
fn alias_groups_are_checked() {
    let Err(errors) = rulecache::policy::Policy::from_json(
        r#"{"version": 1, "name": "aliases", "purge": {"aliases": [["https://a.example"], ["https://b.example/path", "ftp://c.example", "https://d.example"], ["https://d.example", "https://e.example"], "x"]}}"#,
    ) else {
        panic!("the policy is invalid");
    };
    let shown: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path, e.message)).collect();
    assert_eq!(
        shown,
        [
            "/purge/aliases/0: an alias group names at least two origins",
            "/purge/aliases/1/0: \"https://b.example/path\" is not an origin: write scheme and host only, as in \"https://www.example.org\"",
            "/purge/aliases/1/1: \"ftp://c.example\" is not an origin: write scheme and host only, as in \"https://www.example.org\"",
            "/purge/aliases/2/0: \"https://d.example\" is already listed at /purge/aliases/1/2",
            "/purge/aliases/3: expected an array of origins, found a string",
        ]
    );
}

#[test]
fn plone_cachepurging_paths_are_mapped_to_the_urls_clients_use() {
    let urls = |u: &str| {
        let url = rulecache::http::parse_url(u).expect("test URL");
        rulecache::purge::request::public_urls(&url)
    };
    // a site at /Plone: as sent
    assert_eq!(urls("http://edge.example/Plone/doc1"), ["http://edge.example/Plone/doc1"]);
    // plone.restapi's paths: the client's /Plone/++api++/… too
    assert_eq!(
        urls("http://edge.example/++api++/Plone/doc1/@actions"),
        [
            "http://edge.example/++api++/Plone/doc1/@actions",
            "http://edge.example/Plone/++api++/doc1/@actions"
        ]
    );
    assert_eq!(
        urls("http://edge.example/++api++/Plone"),
        ["http://edge.example/++api++/Plone", "http://edge.example/Plone/++api++"]
    );
    assert_eq!(urls("http://edge.example/++api++/@navigation"), ["http://edge.example/++api++/@navigation"]);
    // VirtualHostMonster (plone.cachepurging's virtualHosting): the public scheme, host, path
    assert_eq!(
        urls("http://edge.example/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot/doc1/view"),
        [
            "http://edge.example/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot/doc1/view",
            "https://www.example.org/doc1/view"
        ]
    );
    assert_eq!(
        urls("http://e/VirtualHostBase/http/www.example.org:8080/Plone/VirtualHostRoot/_vh_site/_vh_en/doc1?x=1")[1],
        "http://www.example.org:8080/site/en/doc1?x=1"
    );
    assert_eq!(
        urls("http://e/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot/")[1],
        "https://www.example.org/"
    );
    assert_eq!(
        urls("http://e/VirtualHostBase/https/www.example.org/Plone/doc1")[1],
        "https://www.example.org/Plone/doc1"
    );
    // …and a restapi path behind it
    assert_eq!(
        urls("http://e/VirtualHostBase/https/www.example.org:443/VirtualHostRoot/++api++/Plone/doc1"),
        [
            "http://e/VirtualHostBase/https/www.example.org:443/VirtualHostRoot/++api++/Plone/doc1",
            "https://www.example.org/++api++/Plone/doc1",
            "https://www.example.org/Plone/++api++/doc1"
        ]
    );
    // nonsense stays as sent
    for odd in [
        "http://e/VirtualHostBase/ftp/x/VirtualHostRoot/a",
        "http://e/VirtualHostBase",
        "http://e/VirtualHostBase/https//a",
    ] {
        assert_eq!(urls(odd), [odd], "{odd}");
    }
    // and a PURGE request names them all
    let purge = PurgeRequest::from_purge_method("http://edge.example/++api++/Plone/doc1", &Headers::new());
    assert_eq!(purge.urls.len(), 2);
}

#[test]
fn a_url_purge_reaches_the_resource_under_every_query_string_unless_exact() {
    let base = rulecache::http::parse_url("https://www.example.com/").expect("base");
    let key = |u: &rulecache::http::Url| PrimaryKey::from_stored(u.to_string());
    let by_default = PurgeRequest::from_json(br#"{"urls":["/doc?ref=newsletter"]}"#).expect("valid");
    let targets = by_default.targets(&credential(), &base, &[], key).expect("targets");
    assert_eq!(targets, [Target::Url("https://www.example.com/doc".into())]);
    for stored in [
        "https://www.example.com/doc",
        "https://www.example.com/doc?ref=x",
        "https://www.example.com/doc?zz=1",
    ] {
        assert!(targets[0].reaches(stored, &[]), "{stored}");
    }
    for other in
        ["https://www.example.com/doc/x", "https://www.example.com/docs?a=1", "https://other.example/doc"]
    {
        assert!(!targets[0].reaches(other, &[]), "{other}");
    }
    let exact =
        PurgeRequest::from_json(br#"{"urls":["/doc?ref=newsletter"],"exactQuery":true}"#).expect("valid");
    let targets = exact.targets(&credential(), &base, &[], key).expect("targets");
    assert_eq!(targets, [Target::Url("https://www.example.com/doc?ref=newsletter".into())]);
    assert!(!targets[0].reaches("https://www.example.com/doc?zz=1", &[]));
    assert_eq!(problems(r#"{"urls":["/a"],"exactQuery":1}"#), ["/exactQuery: must be true or false"]);
}

#[test]
fn a_prefix_reaches_whole_path_segments_only() {
    let news = Target::Prefix("https://www.example.com/news".into());
    assert!(news.reaches("https://www.example.com/news", &[]));
    assert!(news.reaches("https://www.example.com/news/a", &[]));
    assert!(news.reaches("https://www.example.com/news?page=2", &[]));
    assert!(!news.reaches("https://www.example.com/newsletter", &[]));
    let tag = Target::Tag("t1".into());
    assert!(tag.reaches("https://www.example.com/x", &["t0".into(), "t1".into()]));
    assert!(!tag.reaches("https://www.example.com/x", &["t10".into()]));
}
