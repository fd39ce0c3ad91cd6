//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::purge::expand::{expand_paths, resolve};

fn plone_templates() -> Vec<String> {
    ["${path}", "${path}/", "${path}/view", "${path}/@@images/image", "${path}/RSS"]
        .map(String::from)
        .to_vec()
}

fn url(s: &str) -> rulecache::http::Url {
    rulecache::http::parse_url(s).expect("test URL")
}

#[test]
fn an_object_path_expands_to_all_its_views() {
    assert_eq!(
        expand_paths(&plone_templates(), "/news"),
        ["/news", "/news/", "/news/view", "/news/@@images/image", "/news/RSS"]
    );
}

#[test]
fn a_trailing_slash_or_view_maps_back_to_the_object() {
    for given in ["/news/", "/news/view", "/news/view/"] {
        let paths = expand_paths(&plone_templates(), given);
        assert_eq!(paths.first().map(String::as_str), Some(given));
        for expected in ["/news", "/news/", "/news/view", "/news/@@images/image", "/news/RSS"] {
            assert!(paths.iter().any(|p| p == expected), "{given} should purge {expected}: {paths:?}");
        }
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert_eq!(distinct.len(), paths.len(), "no duplicates: {paths:?}");
    }
}

#[test]
fn the_root_expands_without_double_slashes() {
    assert_eq!(expand_paths(&plone_templates(), "/"), ["/", "/view", "/@@images/image", "/RSS"]);
    assert_eq!(expand_paths(&plone_templates(), "/view"), ["/view", "/", "/@@images/image", "/RSS"]);
}

#[test]
fn without_templates_only_the_path_itself_is_purged() {
    assert_eq!(expand_paths(&[], "/news/"), ["/news/"]);
    assert_eq!(expand_paths(&[], "news"), ["/news"]);
}

#[test]
fn a_path_with_a_query_is_not_expanded() {
    assert_eq!(expand_paths(&plone_templates(), "/search?q=x"), ["/search?q=x"]);
}

#[test]
fn templates_without_the_placeholder_are_purged_as_absolute_paths() {
    let templates = vec!["${path}".to_owned(), "/sitemap.xml.gz".to_owned(), String::new()];
    assert_eq!(expand_paths(&templates, "/a/b"), ["/a/b", "/sitemap.xml.gz"]);
}

#[test]
fn paths_resolve_against_the_base_and_keep_its_host() {
    let base = url("https://www.example.com/");
    assert_eq!(
        resolve(&base, "/news?x=1#top").map(String::from),
        Some("https://www.example.com/news?x=1".into())
    );
    assert_eq!(
        resolve(&base, "//evil.test/x").map(|u| u.host_str().map(String::from)),
        Some(Some("www.example.com".into()))
    );
}

#[test]
fn absolute_urls_are_taken_as_they_are_when_http() {
    let base = url("https://www.example.com/");
    assert_eq!(
        resolve(&base, "http://Other.Example:8080/a#frag").map(String::from),
        Some("http://other.example:8080/a".into())
    );
    for rejected in ["news", "ftp://example.com/a", "mailto:a@b.c", "", "data:text/plain,x"] {
        assert_eq!(resolve(&base, rejected), None, "{rejected}");
    }
}

#[test]
fn an_api_traverser_stands_at_every_depth_of_the_object_path() {
    use rulecache::purge::expand::{api_paths, MAX_API_DEPTH};
    assert_eq!(
        api_paths("++api++", "/Plone/doc1"),
        ["/++api++/Plone/doc1", "/Plone/++api++/doc1", "/Plone/doc1/++api++"]
    );
    assert_eq!(api_paths("++api++", "/Plone/doc1/view"), api_paths("++api++", "/Plone/doc1"), "the object's");
    assert_eq!(api_paths("++api++", "/"), ["/++api++"]);
    assert!(api_paths("++api++", "/Plone/++api++/doc1").is_empty(), "already an API path");
    assert!(api_paths("++api++", "/Plone/doc1?x=1").is_empty(), "a path with a query is purged as given");
    let deep = format!("/{}", vec!["d"; 40].join("/"));
    assert_eq!(api_paths("++api++", &deep).len(), MAX_API_DEPTH + 1);
}

#[test]
fn prefix_templates_apply_to_the_object_path() {
    use rulecache::purge::expand::expand_prefixes;
    let templates = ["${path}/@@images", "${path}/@@download"].map(String::from).to_vec();
    assert_eq!(
        expand_prefixes(&templates, "/Plone/doc1/"),
        ["/Plone/doc1/@@images", "/Plone/doc1/@@download"]
    );
    assert_eq!(expand_prefixes(&templates, "/"), ["/@@images", "/@@download"]);
    assert!(expand_prefixes(&templates, "/a?b=1").is_empty());
}
