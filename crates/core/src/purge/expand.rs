//! Purge-path expansion in the style of plone.cachepurging: purging one object purges every
//! path it is published under.
//!
//! A template is a path with `${path}` standing for the object's path, e.g. `${path}`,
//! `${path}/`, `${path}/view`, `${path}/@@images/image`, `${path}/RSS`. A template without
//! `${path}` is an absolute path purged alongside every object (e.g. `/sitemap.xml.gz`).

/// The placeholder replaced by the object's path in a template.
pub const PATH_PLACEHOLDER: &str = "${path}";

/// Every path to purge for `path`: the path as given first, then each template applied to
/// the object's path, without duplicates.
///
/// The object's path is `path` with a trailing `/` and then a trailing `/view` removed, so
/// purging `/news/` or `/news/view` also purges `/news` and the rest of its views. For the
/// root object `${path}` stands for the empty string, so `${path}/view` gives `/view` and
/// both `${path}` and `${path}/` give `/`. A path with a query string is purged as given,
/// without expansion (views are published without one). With no templates the result is
/// the path itself.
pub fn expand_paths(templates: &[String], path: &str) -> Vec<String> {
    let given = with_leading_slash(path);
    let mut paths = vec![given.clone()];
    if given.contains('?') {
        return paths;
    }
    let object = object_path(&given);
    for template in templates {
        let expanded = apply(template, object);
        if !expanded.is_empty() && !paths.contains(&expanded) {
            paths.push(expanded);
        }
    }
    paths
}

/// The most path segments an API traverser is inserted between (see [`api_paths`]).
pub const MAX_API_DEPTH: usize = 16;

/// How one purged object reaches everything published for it (the policy's `purge` section):
/// the path templates ([`expand_paths`]), prefix templates (everything under
/// `${path}/@@images`, say: every scale), an API traverser, and the alias groups.
#[derive(Debug, Clone, Copy, Default)]
pub struct Expansion<'a> {
    /// Path templates (`purge.paths`): each a URL purge.
    pub paths: &'a [String],
    /// Prefix templates (`purge.prefixes`): each a prefix purge of the object's path applied
    /// to it.
    pub prefixes: &'a [String],
    /// A traverser segment an API publishes the object's JSON under, such as plone.restapi's
    /// `++api++` (`purge.apiTraverser`): see [`api_paths`].
    pub api_traverser: Option<&'a str>,
    /// Origins that are one site (`purge.aliases`).
    pub aliases: &'a [Vec<String>],
}

/// The object's prefixes to purge: each prefix template applied to the object's path (as
/// [`expand_paths`] takes it), without duplicates; none for a path with a query.
pub fn expand_prefixes(templates: &[String], path: &str) -> Vec<String> {
    let given = with_leading_slash(path);
    let mut out: Vec<String> = Vec::new();
    if given.contains('?') {
        return out;
    }
    let object = object_path(&given);
    for template in templates {
        let expanded = apply(template, object);
        if !expanded.is_empty() && !out.contains(&expanded) {
            out.push(expanded);
        }
    }
    out
}

/// The paths an API publishes the object at `path` under when its traverser `segment` may
/// stand at any depth: plone.restapi serves the JSON of `/Plone/doc` at `/Plone/++api++/doc`
/// (the traverser after the site root, wherever the site is mounted: `/++api++/doc` behind
/// VirtualHostMonster at the root) and at `/Plone/doc/++api++`. Where the site root is cannot
/// be told from the path, so the segment is put at every depth, from before the first segment
/// to after the last (at most [`MAX_API_DEPTH`] + 1 paths). None for a path with a query, or
/// one that already holds the segment.
pub fn api_paths(segment: &str, path: &str) -> Vec<String> {
    let given = with_leading_slash(path);
    if given.contains('?') || segment.is_empty() {
        return Vec::new();
    }
    let object = object_path(&given);
    let segments: Vec<&str> = object.split('/').filter(|s| !s.is_empty()).collect();
    if segments.contains(&segment) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(segments.len().min(MAX_API_DEPTH) + 1);
    for at in 0..=segments.len().min(MAX_API_DEPTH) {
        let (before, after) = segments.split_at(at);
        let mut p = String::with_capacity(object.len() + segment.len() + 2);
        for s in before {
            p.push('/');
            p.push_str(s);
        }
        p.push('/');
        p.push_str(segment);
        for s in after {
            p.push('/');
            p.push_str(s);
        }
        out.push(p);
    }
    out
}

/// `path` with a `/` in front when it has none.
fn with_leading_slash(path: &str) -> String {
    let path = path.trim();
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

/// The object's path, without a trailing `/` or `/view`; `""` for the root.
fn object_path(path: &str) -> &str {
    let path = path.strip_suffix('/').unwrap_or(path);
    path.strip_suffix("/view").unwrap_or(path)
}

fn apply(template: &str, object: &str) -> String {
    let template = template.trim();
    if template.is_empty() {
        return String::new();
    }
    let expanded = template.replace(PATH_PLACEHOLDER, object);
    if expanded.is_empty() {
        "/".to_owned()
    } else {
        with_leading_slash(&expanded)
    }
}

/// Resolves a purge target: an absolute `http`/`https` URL is taken as is, a path (starting
/// with `/`) is resolved against `base`, keeping `base`'s scheme, host and port even when
/// the path starts with `//`. The fragment is dropped. None for anything else.
pub fn resolve(base: &crate::http::Url, url_or_path: &str) -> Option<crate::http::Url> {
    let target = url_or_path.trim();
    let target = target.split_once('#').map_or(target, |(before, _)| before);
    if target.starts_with('/') {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (target, None),
        };
        let mut url = base.clone();
        url.set_fragment(None);
        url.set_path(path);
        url.set_query(query);
        return Some(url);
    }
    let mut url = crate::http::parse_url(target)?;
    url.set_fragment(None);
    Some(url)
}

/// The normalised origin (`scheme://host[:port]`, lower case, default port left out) that
/// `text` names: an absolute http(s) URL with nothing after the host but an optional `/`.
pub fn origin_of(text: &str) -> Option<String> {
    let url = crate::http::parse_url(text.trim())?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    let plain = url.username().is_empty() && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || !bare || !plain {
        return None;
    }
    url_origin(&url)
}

/// `scheme://host[:port]` of `url`.
fn url_origin(url: &crate::http::Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(port) => format!("{}://{}:{}", url.scheme(), host, port),
        None => format!("{}://{}", url.scheme(), host),
    })
}

/// `url` and the same URL under every other origin of its alias group, when `aliases` (see
/// `Policy::purge_aliases`) list its origin; else `url` alone.
pub fn alias_urls(aliases: &[Vec<String>], url: &crate::http::Url) -> Vec<crate::http::Url> {
    let mut out = vec![url.clone()];
    let Some(origin) = url_origin(url) else { return out };
    let Some(group) = aliases.iter().find(|g| g.contains(&origin)) else { return out };
    let rest = &url.as_str()[origin.len().min(url.as_str().len())..];
    for other in group.iter().filter(|o| **o != origin) {
        if let Some(u) = crate::http::parse_url(&format!("{other}{rest}")) {
            if !out.contains(&u) {
                out.push(u);
            }
        }
    }
    out
}
