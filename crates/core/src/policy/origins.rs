//! Named origins (`origins`): the servers a policy can send a request to besides the
//! deployment's own (`ORIGIN`, the default), each with its forwarding settings and the names
//! its purges arrive under.
//!
//! A rule, a ruleset or a page-map entry names the origin that serves it; the most specific
//! one wins (page-map entry, then rule, then ruleset), and nothing named means the default.
//! The copies of a named origin are stored under keys that carry its name
//! ([`crate::storage::key::origin_storage_key`]), so two origins never answer from one
//! another's copies, whichever of them a URL is routed to after a policy change.

use crate::http::Url;

/// The name that stands for the deployment's own origin (`ORIGIN`); it cannot be declared.
pub const DEFAULT_ORIGIN: &str = "default";

/// One declared origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Its name in the policy.
    pub name: String,
    /// Where requests go: scheme, host, port and a base path the request's path is appended
    /// to (`https://cms.example.net/site` sends `/about` as `/site/about`).
    pub url: Url,
    /// Origins (`scheme://host[:port]`) under which this origin's application sends its
    /// purges: a purged URL under one of them names this origin's own path, and reaches the
    /// public URLs that path answers (its base path removed).
    pub purge_aliases: Vec<String>,
    /// Cookies forwarded to this origin on requests whose answer may be stored, besides the
    /// policy's (`cacheKey.keepCookies`).
    pub keep_cookies: Vec<String>,
    /// Request fields forwarded to this origin on requests whose answer may be stored, besides
    /// the policy's (`cacheKey.trustedHeaders`), lower case.
    pub trusted_headers: Vec<String>,
}

impl Origin {
    /// The URL `request` is sent to at this origin: its scheme, host and port, its base path
    /// followed by the request's path, and the request's query.
    pub fn target(&self, request: &Url) -> Url {
        let mut url = self.url.clone();
        let base = self.url.path().trim_end_matches('/');
        url.set_path(&format!("{base}{}", request.path()));
        url.set_query(request.query());
        url
    }

    /// The public path an origin path of this origin answers for: the path with the base path
    /// removed; None for a path outside the base path.
    pub fn public_path<'p>(&self, origin_path: &'p str) -> Option<std::borrow::Cow<'p, str>> {
        let base = self.url.path().trim_end_matches('/');
        if base.is_empty() {
            return Some(std::borrow::Cow::Borrowed(origin_path));
        }
        let rest = origin_path.strip_prefix(base)?;
        match rest {
            "" => Some(std::borrow::Cow::Borrowed("/")),
            r if r.starts_with('/') => Some(std::borrow::Cow::Borrowed(r)),
            _ => None,
        }
    }
}

/// Whether `s` can name an origin: letters, digits, `.`, `-` and `_`.
pub fn is_origin_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}
