//! What a purge asks for: URLs (each expanded to the paths it is published under),
//! URL prefixes and cache tags, hard or soft.
//!
//! Two ways in: a JSON body (`{"urls": [...], "prefixes": [...], "tags": [...], "soft":
//! true}`), and the `PURGE <url>` method of Varnish, Squid and plone.cachepurging.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::auth::{Credential, Scope};
use super::expand::{alias_urls, api_paths, expand_paths, expand_prefixes, resolve, Expansion};
use super::ledger::Target;
use crate::storage::key::PrimaryKey;

/// At most this many URLs, prefixes and tags in one purge request, all together.
pub const MAX_PURGE_ITEMS: usize = 1000;
/// The largest JSON purge body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The longest URL or prefix accepted.
pub const MAX_URL_BYTES: usize = 4096;
/// The longest tag accepted.
pub const MAX_TAG_BYTES: usize = 1024;
/// At most this many problems are listed; the rest are counted.
const MAX_PROBLEMS_LISTED: usize = 50;

/// One problem with a purge request, in the shape of a policy error: the JSON pointer of the
/// offending value (`/urls/3`; `/` is the whole request) and a plain sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeProblem {
    pub path: String,
    pub message: String,
}

impl PurgeProblem {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        PurgeProblem { path: path.into(), message: message.into() }
    }
}

impl std::fmt::Display for PurgeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A purge request. URLs and prefixes are absolute `http(s)` URLs or paths starting with `/`
/// (resolved against the site's base URL by [`PurgeRequest::targets`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PurgeRequest {
    /// Objects to purge; each is expanded with the purge-path templates.
    pub urls: Vec<String>,
    /// URL prefixes: everything whose URL starts with one (host included) is purged.
    pub prefixes: Vec<String>,
    /// Cache tags, as sent by the origin in `Cache-Tag` or `Surrogate-Key`.
    pub tags: Vec<String>,
    /// Mark stale (revalidate on next use) instead of removing.
    pub soft: bool,
    /// Purge each URL with exactly its own query. By default a URL purge reaches the
    /// resource: the URL under every query string (`/doc` also purges `/doc?ref=newsletter`;
    /// origins such as Plone and Django answer unknown parameters with the same page, so a
    /// retraction must not survive a tracking parameter).
    #[serde(rename = "exactQuery")]
    pub exact_query: bool,
}

impl PurgeRequest {
    /// Parses and checks a JSON purge body; on failure every problem found is listed, each
    /// with its place.
    pub fn from_json(body: &[u8]) -> Result<PurgeRequest, Vec<PurgeProblem>> {
        if body.len() > MAX_BODY_BYTES {
            return Err(vec![PurgeProblem::new(
                "/",
                format!("the purge request is larger than {MAX_BODY_BYTES} bytes"),
            )]);
        }
        let value: Value = crate::http::json_from_bytes(body)
            .map_err(|e| vec![PurgeProblem::new("/", format!("the purge request is not valid JSON: {e}"))])?;
        let Value::Object(fields) = value else {
            return Err(vec![PurgeProblem::new("/", "the purge request must be a JSON object")]);
        };
        let mut problems = Vec::new();
        let mut request = PurgeRequest::default();
        for (key, value) in fields {
            match key.as_str() {
                "urls" => request.urls = string_list("urls", value, &mut problems),
                "prefixes" => request.prefixes = string_list("prefixes", value, &mut problems),
                "tags" => request.tags = string_list("tags", value, &mut problems),
                "soft" => match value {
                    Value::Bool(soft) => request.soft = soft,
                    _ => problems.push(PurgeProblem::new("/soft", "must be true or false")),
                },
                "exactQuery" => match value {
                    Value::Bool(exact) => request.exact_query = exact,
                    _ => problems.push(PurgeProblem::new("/exactQuery", "must be true or false")),
                },
                other => problems.push(PurgeProblem::new(
                    key_pointer(other),
                    "unknown key (expected urls, prefixes, tags, soft or exactQuery)",
                )),
            }
        }
        problems.extend(request.count_problems());
        if problems.is_empty() {
            Ok(request)
        } else {
            Err(capped(problems))
        }
    }

    /// The purge asked for by `PURGE <url>`: that URL, plus the tags listed in
    /// `X-Purge-Tags` (comma-separated) and `Surrogate-Key` (space-separated) request
    /// headers; soft when `X-Purge-Soft` or `Fastly-Soft-Purge` is `1`. Tags that are too
    /// long, repeated, or beyond [`MAX_PURGE_ITEMS`] are left out.
    pub fn from_purge_method(url: &str, headers: &crate::http::Headers) -> PurgeRequest {
        let soft = is_on(headers.get("x-purge-soft")) || is_on(headers.get("fastly-soft-purge"));
        let mut tags: Vec<String> = Vec::new();
        let listed = headers
            .get_all("x-purge-tags")
            .chain(headers.get_all("surrogate-key"))
            .flat_map(|v| v.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|t| !t.is_empty() && t.len() <= MAX_TAG_BYTES);
        for tag in listed {
            if tags.len() + 1 >= MAX_PURGE_ITEMS {
                break;
            }
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_owned());
            }
        }
        let urls = match crate::http::parse_url(url.trim()) {
            Some(parsed) => public_urls(&parsed),
            None => vec![url.trim().to_owned()],
        };
        PurgeRequest { urls, prefixes: Vec::new(), tags, soft, exact_query: false }
    }

    /// Every problem with this request (empty when it is acceptable).
    pub fn problems(&self) -> Vec<PurgeProblem> {
        let mut problems = self.count_problems();
        for (name, list) in [("urls", &self.urls), ("prefixes", &self.prefixes), ("tags", &self.tags)] {
            for (i, item) in list.iter().enumerate() {
                if let Some(problem) = item_problem(name, item) {
                    problems.push(PurgeProblem::new(format!("/{name}/{i}"), problem));
                }
            }
        }
        problems
    }

    /// Problems with the number of items (of the request as a whole).
    fn count_problems(&self) -> Vec<PurgeProblem> {
        let mut problems = Vec::new();
        let total = self.urls.len() + self.prefixes.len() + self.tags.len();
        if total == 0 {
            problems.push(PurgeProblem::new(
                "/",
                "nothing to purge: give at least one of urls, prefixes or tags",
            ));
        }
        if total > MAX_PURGE_ITEMS {
            problems.push(PurgeProblem::new(
                "/",
                format!(
                    "the request lists {total} urls, prefixes and tags in all; at most {MAX_PURGE_ITEMS} are allowed"
                ),
            ));
        }
        problems
    }

    /// The ledger targets of this purge: each URL resolved against `base`, expanded with
    /// the purge-path `templates` and turned into a primary key by `primary_key`; each
    /// prefix resolved against `base` (its URL without fragment is the prefix); each tag as
    /// is. Duplicates are left out. Only a request authorized to purge can be turned into
    /// targets (a credential of [`Scope::Read`] cannot).
    pub fn targets(
        &self,
        authorized: &Credential,
        base: &crate::http::Url,
        templates: &[String],
        primary_key: impl Fn(&crate::http::Url) -> PrimaryKey,
    ) -> Result<Vec<Target>, Vec<PurgeProblem>> {
        self.targets_with_aliases(authorized, base, templates, &[], primary_key)
    }

    /// As [`targets`](PurgeRequest::targets), and every URL and prefix is also purged under
    /// each other origin of its `aliases` group (the policy's `purge.aliases`: host names and
    /// schemes that are one site). A prefix without a query is normalised as primary keys
    /// are (so `/News%7e/` reaches keys written `/News~/`).
    pub fn targets_with_aliases(
        &self,
        authorized: &Credential,
        base: &crate::http::Url,
        templates: &[String],
        aliases: &[Vec<String>],
        primary_key: impl Fn(&crate::http::Url) -> PrimaryKey,
    ) -> Result<Vec<Target>, Vec<PurgeProblem>> {
        self.targets_for_site(authorized, base, templates, aliases, |_| None, primary_key)
    }

    /// As [`targets_with_aliases`](PurgeRequest::targets_with_aliases), and a URL or prefix an
    /// origin's application names by its own address (a purge alias of a named origin) is
    /// first turned into the public URL it answers for by `public` (None: the URL is public
    /// already), so that the application's purges reach what the edge stores.
    pub fn targets_for_site(
        &self,
        authorized: &Credential,
        base: &crate::http::Url,
        templates: &[String],
        aliases: &[Vec<String>],
        public: impl Fn(&crate::http::Url) -> Option<crate::http::Url>,
        primary_key: impl Fn(&crate::http::Url) -> PrimaryKey,
    ) -> Result<Vec<Target>, Vec<PurgeProblem>> {
        let expansion = Expansion { paths: templates, aliases, ..Expansion::default() };
        self.targets_expanded(authorized, base, &expansion, public, primary_key)
    }

    /// As [`targets_for_site`](PurgeRequest::targets_for_site), with every part of the
    /// policy's expansion: each URL purged as an object (query dropped, unless `exactQuery`)
    /// also purges the prefixes of `expansion.prefixes` (`${path}/@@images`: every scale) and
    /// the object's API paths (`expansion.api_traverser`, see [`api_paths`]) under every query
    /// string, on every origin of its alias group.
    pub fn targets_expanded(
        &self,
        authorized: &Credential,
        base: &crate::http::Url,
        expansion: &Expansion<'_>,
        public: impl Fn(&crate::http::Url) -> Option<crate::http::Url>,
        primary_key: impl Fn(&crate::http::Url) -> PrimaryKey,
    ) -> Result<Vec<Target>, Vec<PurgeProblem>> {
        let (templates, aliases) = (expansion.paths, expansion.aliases);
        let resolve = |base: &crate::http::Url, text: &str| {
            let url = resolve(base, text)?;
            Some(public(&url).unwrap_or(url))
        };
        if !authorized.allows(Scope::Purge) {
            return Err(vec![PurgeProblem::new("/", "the credential presented does not allow purging")]);
        }
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(capped(problems));
        }
        let mut targets = Vec::new();
        let mut push = |target: Target| {
            if !targets.contains(&target) {
                targets.push(target);
            }
        };
        for mut url in self.urls.iter().filter_map(|u| resolve(base, u)) {
            if !self.exact_query {
                // The resource, under every query string (a URL target without a query
                // reaches them all: see `Target::reaches`).
                url.set_query(None);
            }
            let path_and_query = match url.query() {
                Some(query) => format!("{}?{}", url.path(), query),
                None => url.path().to_owned(),
            };
            for path in expand_paths(templates, &path_and_query) {
                if let Some(expanded) = resolve(&url, &path) {
                    for alias in alias_urls(aliases, &expanded) {
                        push(Target::Url(primary_key(&alias).into_string()));
                    }
                }
            }
            // The API's JSON of the object, under every query string (expanders).
            let api = expansion.api_traverser.map(|t| api_paths(t, &path_and_query)).unwrap_or_default();
            for path in api {
                if let Some(expanded) = resolve(&url, &path) {
                    for alias in alias_urls(aliases, &expanded) {
                        push(Target::Url(primary_key(&alias).into_string()));
                    }
                }
            }
            for path in expand_prefixes(expansion.prefixes, &path_and_query) {
                if let Some(expanded) = resolve(&url, &path) {
                    for alias in alias_urls(aliases, &expanded) {
                        push(Target::Prefix(primary_key(&alias).into_string()));
                    }
                }
            }
        }
        for prefix in self.prefixes.iter().filter_map(|p| resolve(base, p)) {
            for alias in alias_urls(aliases, &prefix) {
                let normalised =
                    if alias.query().is_none() { primary_key(&alias).into_string() } else { alias.into() };
                push(Target::Prefix(normalised));
            }
        }
        // Tags are compared as entries record them (trimmed, lower-cased, bounded).
        for tag in self.tags.iter().filter_map(|t| crate::storage::meta::normalise_tag(t)) {
            push(Target::Tag(tag));
        }
        Ok(targets)
    }
}

fn string_list(name: &str, value: Value, problems: &mut Vec<PurgeProblem>) -> Vec<String> {
    let Value::Array(items) = value else {
        problems.push(PurgeProblem::new(format!("/{name}"), "must be a list of strings"));
        return Vec::new();
    };
    let mut strings = Vec::with_capacity(items.len().min(MAX_PURGE_ITEMS));
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(s) => {
                if let Some(problem) = item_problem(name, &s) {
                    problems.push(PurgeProblem::new(format!("/{name}/{i}"), problem));
                }
                strings.push(s);
            }
            _ => problems.push(PurgeProblem::new(format!("/{name}/{i}"), "must be a string")),
        }
    }
    strings
}

fn item_problem(list: &str, item: &str) -> Option<String> {
    if list == "tags" {
        tag_problem(item)
    } else {
        url_problem(item)
    }
}

fn url_problem(item: &str) -> Option<String> {
    if item.trim().is_empty() {
        return Some("is empty".to_owned());
    }
    if item.len() > MAX_URL_BYTES {
        return Some(format!("is longer than {MAX_URL_BYTES} bytes"));
    }
    if item.chars().any(char::is_control) {
        return Some("contains a control character".to_owned());
    }
    let is_path = item.trim().starts_with('/');
    let is_absolute = crate::http::parse_url(item.trim()).is_some();
    if !is_path && !is_absolute && !item.is_ascii() && item.contains("://") {
        return Some(format!(
            "{} has a host that is not ASCII: write an internationalised name in punycode (xn--…)",
            shown(item)
        ));
    }
    if !is_path && !is_absolute {
        return Some(format!(
            "{} is neither a path starting with / nor an absolute http(s) URL",
            shown(item)
        ));
    }
    None
}

fn tag_problem(tag: &str) -> Option<String> {
    if tag.is_empty() {
        Some("is empty".to_owned())
    } else if tag.len() > MAX_TAG_BYTES {
        Some(format!("is longer than {MAX_TAG_BYTES} bytes"))
    } else if tag.chars().any(|c| c == ',' || c.is_whitespace() || c.is_control()) {
        Some("must not contain commas, spaces or control characters".to_owned())
    } else {
        None
    }
}

/// `value` quoted for a message, cut short when long.
fn shown(value: &str) -> String {
    const MAX_CHARS: usize = 64;
    if value.chars().count() <= MAX_CHARS {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MAX_CHARS).collect();
        format!("{head:?}…")
    }
}

/// The JSON pointer of an unknown top-level key (RFC 6901 escaping), a long key cut short
/// with `…` so that a request cannot make its answer large.
fn key_pointer(key: &str) -> String {
    const MAX_CHARS: usize = 64;
    let escaped = |k: &str| k.replace('~', "~0").replace('/', "~1");
    if key.chars().count() <= MAX_CHARS {
        format!("/{}", escaped(key))
    } else {
        let head: String = key.chars().take(MAX_CHARS).collect();
        format!("/{}…", escaped(&head))
    }
}

fn capped(mut problems: Vec<PurgeProblem>) -> Vec<PurgeProblem> {
    if problems.len() > MAX_PROBLEMS_LISTED {
        let more = problems.len() - MAX_PROBLEMS_LISTED;
        problems.truncate(MAX_PROBLEMS_LISTED);
        problems.push(PurgeProblem::new("/", format!("and {more} more problems")));
    }
    problems
}

fn is_on(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"))
}

/// The public URLs a `PURGE` of `url` stands for, `url` itself first. plone.cachepurging
/// names objects by the paths Zope publishes them under, which are not always the URLs
/// clients use:
///
/// * a VirtualHostMonster path (`virtualHosting` on) carries the public scheme, host and
///   path: `/VirtualHostBase/https/www.example.org:443/Plone/VirtualHostRoot/doc1` is
///   `https://www.example.org/doc1`, and `_vh_` segments after `VirtualHostRoot` are put in
///   front of the path (`/VirtualHostRoot/_vh_site/doc1` → `/site/doc1`); without
///   `VirtualHostRoot` the path after the host is kept whole;
/// * plone.restapi's paths `/++api++/<site>/rest` are published to clients as
///   `/<site>/++api++/rest`; both are purged (at a site mounted at the root, the first is
///   the client's URL).
///
/// The query is kept on every URL.
pub fn public_urls(url: &crate::http::Url) -> Vec<String> {
    let mut out = vec![url.to_string()];
    let public = virtual_host_url(url).unwrap_or_else(|| url.clone());
    if public != *url {
        out.push(public.to_string());
    }
    if let Some(api) = api_site_path(public.path()) {
        let mut moved = public.clone();
        moved.set_path(&api);
        let moved = moved.to_string();
        if !out.contains(&moved) {
            out.push(moved);
        }
    }
    out
}

/// `/VirtualHostBase/<scheme>/<host[:port]>/<internal…>/VirtualHostRoot/[_vh_x/…]<rest>`
/// → `<scheme>://<host[:port]>/[x/…]<rest>`.
fn virtual_host_url(url: &crate::http::Url) -> Option<crate::http::Url> {
    let mut segments = url.path().strip_prefix('/')?.split('/');
    if segments.next()? != "VirtualHostBase" {
        return None;
    }
    let scheme = segments.next()?;
    let host = segments.next()?;
    if !matches!(scheme, "http" | "https") || host.is_empty() {
        return None;
    }
    let rest: Vec<&str> = segments.collect();
    let public_path: Vec<&str> = match rest.iter().position(|s| *s == "VirtualHostRoot") {
        Some(at) => {
            let after = rest.get(at + 1..).unwrap_or_default();
            let vh = after.iter().take_while(|s| s.starts_with("_vh_")).count();
            let prefix = after.iter().take(vh).filter_map(|s| s.strip_prefix("_vh_"));
            prefix.chain(after.iter().skip(vh).copied()).collect()
        }
        None => rest,
    };
    let mut public = crate::http::parse_url(&format!("{scheme}://{host}/"))?;
    public.set_path(&format!("/{}", public_path.join("/")));
    public.set_query(url.query());
    Some(public)
}

/// `/++api++/<site>/rest` → `/<site>/++api++/rest` (None for other paths, or `/++api++/x`
/// with nothing after the site).
fn api_site_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/++api++/")?;
    let (site, tail) = rest.split_once('/').unwrap_or((rest, ""));
    if site.is_empty() || site.starts_with('@') || site.starts_with("++") {
        return None;
    }
    Some(if tail.is_empty() { format!("/{site}/++api++") } else { format!("/{site}/++api++/{tail}") })
}
