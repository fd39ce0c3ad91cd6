//! Policy bundles: the JSON an operator writes, validated into an immutable [`Policy`].
//!
//! A bundle declares rulesets (kinds of resource), ordered rules that classify requests into
//! them, the operation each ruleset is cached with, and the edge's own settings (cache key,
//! split view, purge paths, page map). [`Policy::from_json`] reports *every* problem at once,
//! each with the JSON pointer of the offending value; `policy/schema.json` describes the same
//! format for editors.
//!
//! The shipped profiles (plone.app.caching's three, stock Plone 6 and stock Django) live in
//! `policy/` and are compiled in ([`Policy::profiles`]).
//!
//! ```json
//! {
//!   "$schema": "./schema.json",
//!   "version": 1,
//!   "name": "example",
//!   "caching": {"enabled": true, "debugHeaders": true},
//!   "rulesets": {"plone.resource": {"title": "Resources"}},
//!   "rules": [{"id": "resources", "ruleset": "plone.resource",
//!              "match": {"glob": "/**/++resource++*/**"}}],
//!   "rulesetHint": {"header": "X-Cache-Ruleset", "trust": true},
//!   "operations": {"plone.resource": {"operation": "strongCaching",
//!                                     "parameters": {"maxage": 86400, "lastModified": true}}},
//!   "default": "honourOrigin",
//!   "cacheStopRequestVariables": ["statusmessages", "SearchableText"],
//!   "cacheKey": {"dropParams": ["utm_*"], "sortQuery": true, "encodings": ["br", "gzip"]},
//!   "splitView": {"enabled": true, "header": "X-Anonymous", "authCookies": ["__ac"]},
//!   "purge": {"paths": ["${path}", "${path}/", "${path}/view"]},
//!   "pageMap": [{"path": "/old", "action": "redirect301", "to": "/new"}]
//! }
//! ```
//!
//! Only `version` and `name` are required. Rule conditions (`methods`, `hosts`, `path`,
//! `pathPrefix`, `glob`, `extensions`, `query`, `header`, `cookie`, `contentType`) must all
//! hold; a list holds when any entry does. A chain's `operations` lists other `/operations`
//! entries by name, or inline operations; chains may nest but not form cycles.

pub mod audience;
pub mod classify;
pub mod decision;
pub(crate) mod glob;
pub mod operations;
pub mod origins;
mod validate;
pub mod versions;

use std::collections::BTreeMap;
use std::fmt;

use crate::http::{Headers, RequestHead, ResponseHead};
use crate::policy::audience::AudienceConfig;
pub use crate::policy::classify::{Classified, Rule};
pub use crate::policy::operations::{EtagComponent, Operation, OperationKind, Parameters};
use crate::policy::origins::Origin;
use crate::storage::key::Audience;
use crate::storage::key::KeyOptions;

/// One problem found in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// The JSON pointer of the offending value (`/rules/3/match/glob`); `/` is the whole
    /// bundle.
    pub path: String,
    /// A plain sentence saying what is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A declared ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetInfo {
    pub title: String,
    pub description: String,
}

/// A declared ruleset of a compiled [`Policy`], by its place in the policy (the rulesets sorted
/// by name): classification answers with it, and [`Policy::operation`] is an index. An id
/// means something only to the policy that gave it (a flow is driven with the policy it
/// started with); stored records and what is shown keep the name ([`Policy::ruleset_name`],
/// [`Policy::ruleset_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RulesetId(u16);

impl RulesetId {
    /// The most rulesets a bundle may declare.
    pub const MAX_RULESETS: usize = u16::MAX as usize + 1;

    /// The id of the `index`th declared ruleset (by name); None past [`Self::MAX_RULESETS`].
    pub(crate) fn from_index(index: usize) -> Option<RulesetId> {
        u16::try_from(index).ok().map(RulesetId)
    }

    fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// One declared ruleset, compiled: its name, what the bundle says of it, and its operation
/// (None: the default operation) with the parameters as written (for summaries).
#[derive(Debug, Clone)]
struct Ruleset {
    name: String,
    info: RulesetInfo,
    operation: Option<Operation>,
    parameters: Option<serde_json::Value>,
    /// The named origin that serves this ruleset (None: the default origin).
    origin: Option<String>,
}

/// What the page map answers at the edge for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageAction {
    /// 301 or 302 to `location` (an absolute URL or a path).
    Redirect { status: u16, location: String },
    /// 404 or 410.
    Gone { status: u16 },
    /// Fetch this path (with its query, when it has one) from `origin` (None: the default
    /// origin) instead: served and stored like any response of that origin.
    Rewrite { path: String, origin: Option<String> },
}

impl PageAction {
    /// The entry for `path` as a bundle's `pageMap` writes it.
    pub fn entry_json(&self, path: &str) -> serde_json::Value {
        let mut entry = serde_json::Map::new();
        entry.insert("path".into(), path.into());
        let (action, to, origin) = match self {
            PageAction::Redirect { status: 301, location } => ("redirect301", Some(location), None),
            PageAction::Redirect { location, .. } => ("redirect302", Some(location), None),
            PageAction::Gone { status: 410 } => ("gone410", None, None),
            PageAction::Gone { .. } => ("gone404", None, None),
            PageAction::Rewrite { path, origin } => ("rewrite", Some(path), origin.as_ref()),
        };
        entry.insert("action".into(), action.into());
        if let Some(to) = to {
            entry.insert("to".into(), to.as_str().into());
        }
        if let Some(origin) = origin {
            entry.insert("origin".into(), origin.as_str().into());
        }
        serde_json::Value::Object(entry)
    }
}

/// The origin's ruleset hint header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Hint {
    /// Lower-case header name.
    header: String,
    trust: bool,
}

/// A validated, compiled policy bundle. Immutable and cheap to query.
#[derive(Debug, Clone)]
pub struct Policy {
    source: String,
    version: u64,
    name: String,
    description: String,
    caching_enabled: bool,
    debug_headers: bool,
    /// The longest a policy operation keeps a 404 or 410, in seconds.
    not_found_ttl: u64,
    /// The declared rulesets sorted by name; a [`RulesetId`] is a place in this list.
    rulesets: Vec<Ruleset>,
    rules: Vec<Rule>,
    hint: Hint,
    default_operation: Operation,
    cache_stop: Vec<String>,
    key_options: KeyOptions,
    audience: AudienceConfig,
    purge_paths: Vec<String>,
    /// Groups of origins that are one site: a URL purge reaches every origin of its group.
    purge_aliases: Vec<Vec<String>>,
    purge_allow_from: Vec<crate::purge::auth::AddressRange>,
    /// Prefix templates (`purge.prefixes`).
    purge_prefixes: Vec<String>,
    /// The API traverser segment (`purge.apiTraverser`).
    purge_api_traverser: Option<String>,
    /// The response fields tags are read from (`purge.tagSources`).
    tag_sources: crate::storage::meta::TagSources,
    /// The invalidations an unsafe request's response carries are recorded soft
    /// (`purge.invalidation`).
    invalidation_soft: bool,
    page_map: BTreeMap<String, PageAction>,
    /// The named origins (`origins`), sorted by name.
    origins: Vec<Origin>,
}

/// The shipped profiles, compacted by `build.rs` (whitespace between tokens dropped).
#[cfg(feature = "bundled-profiles")]
const PROFILES: [(&str, &str); 5] = [
    ("without-caching-proxy", include_str!(concat!(env!("OUT_DIR"), "/without-caching-proxy.json"))),
    ("with-caching-proxy", include_str!(concat!(env!("OUT_DIR"), "/with-caching-proxy.json"))),
    (
        "with-caching-proxy-splitviews",
        include_str!(concat!(env!("OUT_DIR"), "/with-caching-proxy-splitviews.json")),
    ),
    ("plone6-splitviews", include_str!(concat!(env!("OUT_DIR"), "/plone6-splitviews.json"))),
    ("django", include_str!(concat!(env!("OUT_DIR"), "/django.json"))),
];

/// How long a policy operation keeps a 404 or 410 unless `caching.notFoundTtl` says otherwise.
pub const DEFAULT_NOT_FOUND_TTL: u64 = 30;

/// The id of the profile used when no policy has been pushed.
pub const DEFAULT_PROFILE: &str = "with-caching-proxy-splitviews";

impl Policy {
    /// Validates and compiles a bundle, or returns every problem found.
    pub fn from_json(text: &str) -> Result<Policy, Vec<PolicyError>> {
        validate::compile(text)
    }

    /// The shipped profiles as `(id, bundle text)`.
    #[cfg(feature = "bundled-profiles")]
    pub fn profiles() -> &'static [(&'static str, &'static str)] {
        &PROFILES
    }

    /// A shipped profile's bundle text.
    #[cfg(feature = "bundled-profiles")]
    pub fn profile_text(id: &str) -> Option<&'static str> {
        PROFILES.iter().find(|(name, _)| *name == id).map(|(_, text)| *text)
    }

    /// A shipped profile, compiled.
    #[cfg(feature = "bundled-profiles")]
    pub fn bundled(id: &str) -> Option<Policy> {
        Policy::from_json(Policy::profile_text(id)?).ok()
    }

    /// The fallback policy: the split-view profile (see [`Policy::fallback`]).
    #[cfg(feature = "bundled-profiles")]
    pub fn default_profile() -> Policy {
        Policy::fallback(Policy::profile_text(DEFAULT_PROFILE).unwrap_or_default())
    }

    /// The policy used while none has been pushed, from the default profile's text. The
    /// shipped profiles are checked by the test suite; should one ever fail to compile, a
    /// policy that only honours the origin is returned rather than a panic.
    pub fn fallback(default_profile_text: &str) -> Policy {
        Policy::from_json(default_profile_text).unwrap_or_else(|_| Policy::honour_origin_only())
    }

    /// A policy with no rules whose only operation honours the origin.
    fn honour_origin_only() -> Policy {
        Policy {
            source: String::new(),
            version: 1,
            name: "honour-origin".to_string(),
            description: String::new(),
            caching_enabled: true,
            debug_headers: false,
            not_found_ttl: DEFAULT_NOT_FOUND_TTL,
            rulesets: Vec::new(),
            rules: Vec::new(),
            hint: Hint { header: "x-cache-ruleset".to_string(), trust: false },
            default_operation: Operation::new(OperationKind::HonourOrigin),
            cache_stop: Vec::new(),
            key_options: KeyOptions::default(),
            audience: AudienceConfig::default(),
            purge_paths: vec!["${path}".to_string()],
            purge_aliases: Vec::new(),
            purge_allow_from: Vec::new(),
            purge_prefixes: Vec::new(),
            purge_api_traverser: None,
            tag_sources: crate::storage::meta::TagSources::ALL,
            invalidation_soft: false,
            page_map: BTreeMap::new(),
            origins: Vec::new(),
        }
    }

    /// The bundle's version (as written, or as assigned by [`Policy::with_version`]).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The bundle's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The bundle's description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The global switch: when off, the edge cache is bypassed for everything.
    pub fn caching_enabled(&self) -> bool {
        self.caching_enabled
    }

    /// Whether `X-Rulecache-Rule`/`X-Rulecache-Operation`/`X-Rulecache-Chain-Operations`/`X-Rulecache-Policy` are sent.
    pub fn debug_headers(&self) -> bool {
        self.debug_headers
    }

    /// The longest a policy operation keeps a 404 or 410 (`caching.notFoundTtl`), in seconds.
    pub fn not_found_ttl(&self) -> u64 {
        self.not_found_ttl
    }

    /// The same policy under another version (the server assigns versions on push).
    pub fn with_version(mut self, version: u64) -> Policy {
        self.version = version;
        self
    }

    /// The bundle text as given.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Cache-key options from the `cacheKey` section.
    pub fn key_options(&self) -> &KeyOptions {
        &self.key_options
    }

    /// The audience rules (auth cookies, Authorization, split view).
    pub fn audience_config(&self) -> &AudienceConfig {
        &self.audience
    }

    /// The page-map entry for exactly this path.
    pub fn page_action(&self, path: &str) -> Option<&PageAction> {
        self.page_map.get(path)
    }

    /// The named origins (`origins`), by name.
    pub fn origins(&self) -> &[Origin] {
        &self.origins
    }

    /// Whose copies a URL may have: the default origin's (None), then each named origin's
    /// (their storage keys carry the name: `key::origin_storage_key`).
    pub fn key_sources(&self) -> impl Iterator<Item = Option<&str>> {
        std::iter::once(None).chain(self.origins.iter().map(|o| Some(o.name.as_str())))
    }

    /// The named origin `name` (None for the default origin or an undeclared name).
    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.origins.binary_search_by(|o| o.name.as_str().cmp(name)).ok().and_then(|i| self.origins.get(i))
    }

    /// The named origin that serves a request for `path` classified as `classified`: the
    /// page-map entry's, else the rule's, else the ruleset's; None: the default origin.
    pub fn route(&self, path: &str, classified: Option<&Classified<'_>>) -> Option<&Origin> {
        let named = match self.page_map.get(path) {
            Some(PageAction::Rewrite { origin, .. }) => origin.as_deref(),
            _ => None,
        }
        .or_else(|| classified.and_then(|c| c.origin))
        .or_else(|| {
            classified.and_then(|c| self.rulesets.get(c.ruleset_id.index())).and_then(|r| r.origin.as_deref())
        })?;
        self.origin(named)
    }

    /// The public URL (under `site`, the purge request's own scheme and host) that `url`
    /// answers for, when `url` is under a named origin's purge alias: the application sent its
    /// own path, and the origin's base path is removed from it. None for any other URL (and
    /// for a path outside the base path, which the edge never asks that origin for).
    pub fn public_url(&self, url: &crate::http::Url, site: &crate::http::Url) -> Option<crate::http::Url> {
        if self.origins.is_empty() {
            return None;
        }
        let own = url.origin();
        let origin = self.origins.iter().find(|o| o.purge_aliases.contains(&own))?;
        let path = origin.public_path(url.path())?;
        let mut public = site.clone();
        public.set_path(&path);
        public.set_query(url.query());
        public.set_fragment(None);
        Some(public)
    }

    /// Anonymous or authenticated, from the auth cookies and `Authorization` header (also
    /// when split view is off).
    pub fn audience(&self, req: &Headers) -> Audience {
        self.audience.audience(req)
    }

    /// Anonymous or authenticated, from the auth cookies, `Authorization` and the credential
    /// query parameters (`splitView.authQueryParams`).
    pub fn audience_of(&self, req: &crate::http::RequestHead) -> Audience {
        self.audience.audience_of(&req.headers, req.url.query())
    }

    /// The split-view header name, lower case, when split view is on.
    pub fn split_view_header(&self) -> Option<&str> {
        self.audience.split_view.then_some(self.audience.header_lower.as_str())
    }

    /// Removes any client-sent split-view header (and `x-anonymous` even when split view is
    /// off); with split view on, sets it to `1` for anonymous requests.
    pub fn prepare_origin_headers(&self, h: &mut Headers, audience: Audience) {
        self.audience.prepare_origin_headers(h, audience);
    }

    /// Whether a cache-stop request variable (a cookie or query parameter of that exact
    /// name) is present: the edge cache is then bypassed.
    pub fn cache_stop(&self, req: &RequestHead) -> bool {
        if self.cache_stop.is_empty() {
            return false;
        }
        // A cookie is read as conservatively as for the audience: a cache-stop cookie any
        // origin could see (after a `,` or whitespace, say) stops the cache.
        let named = |n: &str| self.cache_stop.iter().any(|v| v == n);
        crate::policy::audience::mentions_any(&req.headers, &self.cache_stop)
            || req.url.query_pairs().any(|(n, _)| named(n.as_ref()))
    }

    /// The cache-stop request variables (cookie or query parameter names).
    pub fn cache_stop_variables(&self) -> &[String] {
        &self.cache_stop
    }

    /// The ruleset of the first request rule matching `req`.
    pub fn classify_request(&self, req: &RequestHead) -> Option<Classified<'_>> {
        classify::classify_request(&self.rules, req)
    }

    /// For a request no request rule matched: the trusted origin hint when it names a
    /// declared ruleset, else the first rule with a `contentType` condition that matches.
    pub fn classify_response(&self, req: &RequestHead, resp: &ResponseHead) -> Option<Classified<'_>> {
        self.classify_hint(resp).or_else(|| classify::classify_by_content_type(&self.rules, req, resp))
    }

    fn classify_hint(&self, resp: &ResponseHead) -> Option<Classified<'_>> {
        if !self.hint.trust {
            return None;
        }
        let named = resp.headers.get(&self.hint.header)?.trim();
        let id = self.ruleset_id(named)?;
        let ruleset = self.ruleset_name(id)?;
        Some(Classified { ruleset, ruleset_id: id, rule_id: None, origin: None })
    }

    /// The operation for a ruleset; the default operation for None or an unmapped ruleset.
    pub fn operation(&self, ruleset: Option<RulesetId>) -> &Operation {
        ruleset
            .and_then(|id| self.rulesets.get(id.index()))
            .and_then(|r| r.operation.as_ref())
            .unwrap_or(&self.default_operation)
    }

    /// The operation for a ruleset named as a stored record names it; the default operation
    /// for None or a name this policy does not declare or map.
    pub fn operation_named(&self, ruleset: Option<&str>) -> &Operation {
        self.operation(ruleset.and_then(|name| self.ruleset_id(name)))
    }

    /// The id of the declared ruleset `name`.
    pub fn ruleset_id(&self, name: &str) -> Option<RulesetId> {
        let index = self.rulesets.binary_search_by(|r| r.name.as_str().cmp(name)).ok()?;
        RulesetId::from_index(index)
    }

    /// The name of ruleset `id` (None for an id this policy did not give).
    pub fn ruleset_name(&self, id: RulesetId) -> Option<&str> {
        self.rulesets.get(id.index()).map(|r| r.name.as_str())
    }

    /// The operation for unclassified requests.
    pub fn default_operation(&self) -> &Operation {
        &self.default_operation
    }

    /// The origin's ruleset hint header (lower case), when it is trusted.
    pub fn ruleset_hint_header(&self) -> Option<&str> {
        self.hint.trust.then_some(self.hint.header.as_str())
    }

    /// Purge path templates (`${path}`, `${path}/view`, …).
    pub fn purge_paths(&self) -> &[String] {
        &self.purge_paths
    }

    /// The `purge.aliases` groups, each a list of normalised origins (`scheme://host[:port]`).
    pub fn purge_aliases(&self) -> &[Vec<String>] {
        &self.purge_aliases
    }

    /// How a purged object reaches everything published for it: `purge.paths`,
    /// `purge.prefixes`, `purge.apiTraverser` and `purge.aliases`.
    pub fn purge_expansion(&self) -> crate::purge::expand::Expansion<'_> {
        crate::purge::expand::Expansion {
            paths: &self.purge_paths,
            prefixes: &self.purge_prefixes,
            api_traverser: self.purge_api_traverser.as_deref(),
            aliases: &self.purge_aliases,
        }
    }

    /// The response fields a stored response's tags are read from (`purge.tagSources`).
    pub fn tag_sources(&self) -> crate::storage::meta::TagSources {
        self.tag_sources
    }

    /// Whether the invalidations carried by the response to an unsafe request (RFC 9111 §4.4,
    /// RFC 9875 `Cache-Group-Invalidation`) are recorded as soft purges (`purge.invalidation`).
    pub fn invalidation_soft(&self) -> bool {
        self.invalidation_soft
    }

    /// Addresses whose `PURGE` requests need no secret (`purge.allowFrom`).
    pub fn purge_allow_from(&self) -> &[crate::purge::auth::AddressRange] {
        &self.purge_allow_from
    }

    /// The declared rulesets, by name.
    pub fn rulesets(&self) -> impl Iterator<Item = (&str, &RulesetInfo)> {
        self.rulesets.iter().map(|r| (r.name.as_str(), &r.info))
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A summary for the control panel: `{"caching":{"enabled","debugHeaders"},
    /// "rulesets":[{"name","title","operation","parameters"}],"default":"honourOrigin"}`.
    pub fn summary_json(&self) -> serde_json::Value {
        let rulesets: Vec<serde_json::Value> = self
            .rulesets
            .iter()
            .map(|r| {
                let params = r.parameters.clone().unwrap_or_else(|| serde_json::json!({}));
                serde_json::json!({
                    "name": r.name,
                    "title": r.info.title,
                    "operation": r.operation.as_ref().unwrap_or(&self.default_operation).name(),
                    "parameters": params,
                })
            })
            .collect();
        serde_json::json!({
            "name": self.name,
            "version": self.version,
            "caching": {"enabled": self.caching_enabled, "debugHeaders": self.debug_headers},
            "rulesets": rulesets,
            "default": self.default_operation.name(),
        })
    }
}
