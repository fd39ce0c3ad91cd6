//! The shipped Plone 6 profile and plone.restapi: an anonymous content read under `++api++` is
//! kept like the HTML view, and the `PURGE`s plone.cachepurging sends for one edit reach the
//! JSON under every query string (expanders), the image scales and the downloads, at `/Plone`
//! and behind VirtualHostMonster. Against a real Plone in `tests/e2e/plone.test.mjs`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use rulecache::http::{Headers, RequestHead};
use rulecache::policy::Policy;
use rulecache::purge::auth::{authorize, AuthInput, Credential, ReplayGuard, Scope, Secrets};
use rulecache::purge::ledger::{Effect, LedgerCopy, Target};
use rulecache::purge::request::PurgeRequest;
use rulecache::storage::key;
use rulecache::storage::meta::Purged;
use rulecache::storage::stats::Outcome;
use rulecache::testing::sim::OriginResult;
use rulecache::testing::world::{response, ScriptedOrigin, World};
use std::cell::RefCell;
use std::rc::Rc;

fn credential() -> Credential {
    let headers = Headers::from_pairs([("Authorization", "Bearer k")]);
    let input = AuthInput { method: "PURGE", path_and_query: "/Plone/doc1", headers: &headers, body: b"" };
    authorize(&Secrets::from_vars(Some("k"), None, None), Scope::Purge, &input, 0, &mut ReplayGuard::new())
        .unwrap()
}

/// Plone as it answers anonymous reads: JSON under ++api++ labelled plone.content.dynamic
/// (`private`, as its terseCaching does), views and scales as the with-caching-proxy profile.
fn plone(req: &RequestHead, n: usize) -> OriginResult {
    let path = req.url.path();
    if path.contains("/++api++") {
        let headers = [
            ("content-type", "application/json"),
            ("x-cache-rule", "plone.content.dynamic"),
            ("cache-control", "max-age=0, must-revalidate, private"),
        ];
        return response(200, &headers, &format!("{{\"@id\": \"{path}\", \"n\": {n}}}"));
    }
    if path.contains("/@@images/") || path.contains("/@@download/") {
        let headers = [
            ("content-type", "image/png"),
            ("x-cache-rule", "plone.content.file"),
            ("cache-control", "max-age=0, s-maxage=86400, must-revalidate"),
            ("last-modified", "Sat, 31 May 2025 12:00:00 GMT"),
        ];
        return response(200, &headers, "png");
    }
    let headers = [
        ("content-type", "text/html"),
        ("x-cache-rule", "plone.content.itemView"),
        ("cache-control", "max-age=0, must-revalidate, private"),
    ];
    response(200, &headers, &format!("<p>{path} #{n}</p>"))
}

struct Site {
    world: World,
    copy: Rc<RefCell<LedgerCopy>>,
}

impl Site {
    fn new(site: &str) -> Site {
        let mut world = World::new(
            Policy::bundled("plone6-splitviews").unwrap(),
            ScriptedOrigin::in_order(|r, n, _| plone(r, n)),
        )
        .with_site(site);
        let copy = Rc::new(RefCell::new(LedgerCopy::new()));
        let seen = Rc::clone(&copy);
        world.purged = Box::new(move |m| match seen.borrow().effect(&m.url, &m.tags, m.request_time) {
            Some(Effect::Hard) => Purged::Hard,
            Some(Effect::Soft { at }) => Purged::Soft { at },
            _ => Purged::No,
        });
        Site { world, copy }
    }

    fn get(&mut self, path: &str) -> Outcome {
        self.world.advance(1000);
        self.world.send("GET", path, &[("accept", "application/json")]).outcome
    }

    /// What one `PURGE <url>` of plone.cachepurging records, applied to the copy.
    fn purge(&mut self, url: &str) -> Vec<Target> {
        self.world.advance(1000);
        let policy = &self.world.policy;
        let request = PurgeRequest::from_purge_method(url, &Headers::new());
        let base = rulecache::http::parse_url(url).unwrap();
        let targets = request
            .targets_expanded(
                &credential(),
                &base,
                &policy.purge_expansion(),
                |u| policy.public_url(u, &base),
                |u| key::primary_key(u, policy.key_options()),
            )
            .unwrap();
        self.copy.borrow_mut().apply_local(&targets, false, self.world.clock);
        targets
    }
}

const READS: [&str; 6] = [
    "/Plone/++api++/doc1",
    "/Plone/++api++/doc1?expand=breadcrumbs,navigation",
    "/Plone/doc1/++api++",
    "/Plone/doc1",
    "/Plone/doc1/@@images/image/preview",
    "/Plone/doc1/@@download/file",
];

#[test]
fn anonymous_json_reads_are_kept_like_the_html_view() {
    let mut site = Site::new("https://www.example.org");
    for path in READS {
        assert_eq!(site.get(path), Outcome::Miss, "{path}");
        assert_eq!(site.get(path), Outcome::Hit, "{path}");
    }
    let x = site.world.send("GET", "/Plone/++api++/doc1", &[("accept", "application/json")]);
    assert_eq!(x.ruleset.as_deref(), Some("plone.content.api"));
    // Endpoints stay dynamic: revalidated on every request.
    for endpoint in
        ["/Plone/++api++/@types", "/Plone/++api++/doc1/@workflow", "/Plone/++api++/@search?SearchableText=x"]
    {
        site.get(endpoint);
        assert_ne!(site.get(endpoint), Outcome::Hit, "{endpoint}");
    }
    // A logged-in reader bypasses the anonymous copy.
    let member = site.world.send("GET", "/Plone/++api++/doc1", &[("cookie", "__ac=abc")]);
    assert_eq!(member.outcome, Outcome::Bypass);
}

#[test]
fn the_purges_of_one_edit_reach_its_json_scales_and_downloads() {
    let mut site = Site::new("http://plone.example");
    for path in READS.iter().chain(&["/Plone/doc10/++api++", "/Plone/doc1-other/@@images/image"]) {
        site.get(path);
    }
    // plone.cachepurging names the object by its path; one PURGE of it is enough here.
    let targets = site.purge("http://plone.example/Plone/doc1");
    assert!(targets.contains(&Target::Url("http://plone.example/Plone/++api++/doc1".into())), "{targets:?}");
    assert!(targets.contains(&Target::Prefix("http://plone.example/Plone/doc1/@@images".into())));
    for path in READS {
        assert_eq!(site.get(path), Outcome::Miss, "{path} is purged");
    }
    assert_eq!(site.get("/Plone/doc10/++api++"), Outcome::Hit, "a sibling whose name starts alike is kept");
    assert_eq!(site.get("/Plone/doc1-other/@@images/image"), Outcome::Hit);
}

#[test]
fn behind_virtual_host_monster_the_public_json_paths_are_purged() {
    let mut site = Site::new("https://www.example.org");
    let reads = ["/++api++/doc1", "/++api++/doc1?expand=translations", "/doc1", "/doc1/@@images/image/thumb"];
    for path in reads {
        site.get(path);
        assert_eq!(site.get(path), Outcome::Hit, "{path}");
    }
    site.purge("http://backend:8080/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot/doc1");
    for path in reads {
        assert_eq!(site.get(path), Outcome::Miss, "{path} is purged");
    }
}
