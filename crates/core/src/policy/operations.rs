//! Caching operations in the manner of plone.app.caching: each says whether the edge cache is
//! bypassed for a request, how the edge stores the response, and which caching headers are
//! sent downstream (`modify`).
//!
//! Downstream headers follow plone.app.caching's `setCacheHeaders` helpers:
//!
//! * `max-age` > 0 (strong, terse): `Cache-Control: max-age=M[, s-maxage=S], proxy-revalidate,
//!   public`, `Expires` M seconds ahead.
//! * else `s-maxage` > 0 (moderate): `Cache-Control: max-age=0, s-maxage=S, must-revalidate`,
//!   `Expires` in the past.
//! * else (weak, or a private response): `Cache-Control: max-age=0, must-revalidate, private`,
//!   `Expires` in the past.
//!
//! `Last-Modified` is kept only with `lastModified`; an ETag is built from the `etags`
//! components, otherwise the origin's passes through. As in plone, a response is private
//! for an authenticated request when its ETag names the user (`userid`, `anonymousOrRandom`
//! — the latter added by `anonOnly`): such a request also bypasses the edge cache.
//! Responses with an error status (400 and above) are left as the origin sent them, except
//! by `noCaching`, which always applies.

use std::borrow::Cow;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use crate::audience::{self, AudienceConfig};
use crate::decision::{Audience, Bypass, EdgeStorage, ModifyContext};
use crate::http::{Headers, ResponseHead};

/// The kinds of operation a ruleset can be mapped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OperationKind {
    /// Cache in browsers and the edge (default `maxage` one day).
    StrongCaching,
    /// Browsers revalidate every time; the edge keeps it (default `smaxage` one day).
    ModerateCaching,
    /// Browsers revalidate every time; the edge stores but revalidates before every use.
    WeakCaching,
    /// Very short caching to absorb load peaks (plone's newer `terseCaching`: `maxage` 10,
    /// `smaxage` 60, `vary` Accept).
    TerseCaching,
    /// Keep the response out of every cache.
    NoCaching,
    /// Run several operations in order.
    Chain,
    /// Behave as an RFC 9111 shared cache on the origin's own headers.
    HonourOrigin,
}

impl OperationKind {
    /// Every kind, in the order documentation lists them.
    pub const ALL: [OperationKind; 7] = [
        OperationKind::StrongCaching,
        OperationKind::ModerateCaching,
        OperationKind::WeakCaching,
        OperationKind::TerseCaching,
        OperationKind::NoCaching,
        OperationKind::Chain,
        OperationKind::HonourOrigin,
    ];

    /// The name used in policy bundles.
    pub fn name(self) -> &'static str {
        match self {
            OperationKind::StrongCaching => "strongCaching",
            OperationKind::ModerateCaching => "moderateCaching",
            OperationKind::WeakCaching => "weakCaching",
            OperationKind::TerseCaching => "terseCaching",
            OperationKind::NoCaching => "noCaching",
            OperationKind::Chain => "chain",
            OperationKind::HonourOrigin => "honourOrigin",
        }
    }

    /// The kind called `name` in policy bundles.
    pub fn from_name(name: &str) -> Option<OperationKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The parameters this kind accepts (plone's `options` plus the edge's own).
    pub fn parameter_names(self) -> &'static [&'static str] {
        const EDGE: [&str; 7] = [
            "staleWhileRevalidate",
            "staleIfError",
            "persist",
            "stripSetCookie",
            "splitView",
            "shareAuthenticated",
            "storeAnonymousPrivate",
        ];
        match self {
            OperationKind::StrongCaching | OperationKind::TerseCaching => &[
                "maxage",
                "smaxage",
                "etags",
                "lastModified",
                "ramCache",
                "vary",
                "anonOnly",
                EDGE[0],
                EDGE[1],
                EDGE[2],
                EDGE[3],
                EDGE[4],
                EDGE[5],
                EDGE[6],
            ],
            OperationKind::ModerateCaching => &[
                "smaxage",
                "etags",
                "lastModified",
                "ramCache",
                "vary",
                "anonOnly",
                EDGE[0],
                EDGE[1],
                EDGE[2],
                EDGE[3],
                EDGE[4],
                EDGE[5],
                EDGE[6],
            ],
            OperationKind::WeakCaching => {
                &["etags", "lastModified", "ramCache", "vary", "anonOnly", EDGE[1], EDGE[3], EDGE[4], EDGE[5]]
            }
            OperationKind::NoCaching => &["noStore"],
            OperationKind::Chain => &["operations"],
            OperationKind::HonourOrigin => &[],
        }
    }
}

/// A part of a composed ETag. plone.app.caching's server-side components (catalogCounter,
/// locked, skin, resourceRegistries…) are not visible at the edge: `origin` stands for them,
/// since the origin's own ETag already reflects its content state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtagComponent {
    /// The origin's own ETag (its opaque part).
    Origin,
    /// A short digest of the request's credential (auth cookie or Authorization); nothing
    /// for anonymous requests. Makes the response private for authenticated requests.
    UserId,
    /// `anon` or `auth`.
    Audience,
    /// The request's `Accept-Language` (empty when absent), as plone's `language`.
    Language,
    /// The response's `Content-Encoding`, `identity` when absent.
    Encoding,
    /// The origin's `Last-Modified` as seconds since the epoch.
    LastModified,
    /// The active policy's version.
    PolicyVersion,
    /// `1` when the `__cp` (copy) cookie is present, else `0`, as plone's `copy`.
    Copy,
    /// Nothing for anonymous requests; the current time for authenticated ones, so they
    /// never revalidate to a shared copy (added implicitly by `anonOnly`, as in plone).
    AnonymousOrRandom,
}

impl EtagComponent {
    /// Every component, in the order documentation lists them.
    pub const ALL: [EtagComponent; 9] = [
        EtagComponent::Origin,
        EtagComponent::UserId,
        EtagComponent::Audience,
        EtagComponent::Language,
        EtagComponent::Encoding,
        EtagComponent::LastModified,
        EtagComponent::PolicyVersion,
        EtagComponent::Copy,
        EtagComponent::AnonymousOrRandom,
    ];

    /// The name used in policy bundles.
    pub fn name(self) -> &'static str {
        match self {
            EtagComponent::Origin => "origin",
            EtagComponent::UserId => "userid",
            EtagComponent::Audience => "audience",
            EtagComponent::Language => "language",
            EtagComponent::Encoding => "encoding",
            EtagComponent::LastModified => "lastModified",
            EtagComponent::PolicyVersion => "policyVersion",
            EtagComponent::Copy => "copy",
            EtagComponent::AnonymousOrRandom => "anonymousOrRandom",
        }
    }

    /// The component called `name` in policy bundles.
    pub fn from_name(name: &str) -> Option<EtagComponent> {
        Self::ALL.into_iter().find(|c| c.name() == name)
    }

    fn names_the_user(self) -> bool {
        matches!(self, EtagComponent::UserId | EtagComponent::AnonymousOrRandom)
    }
}

/// An operation's parameters, defaults applied.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parameters {
    /// Browser (and, without `smaxage`, shared) lifetime in seconds.
    pub maxage: Option<u64>,
    /// Shared-cache lifetime in seconds.
    pub smaxage: Option<u64>,
    /// ETag components; None lets the origin's ETag through.
    pub etags: Option<Vec<EtagComponent>>,
    pub last_modified: bool,
    pub ram_cache: bool,
    /// Header names merged into Vary.
    pub vary: Vec<String>,
    pub anon_only: bool,
    pub stale_while_revalidate: u64,
    pub stale_if_error: u64,
    /// Also keep the response in the global store (KV).
    pub persist: bool,
    /// `noCaching` only: send `Cache-Control: no-store`.
    pub no_store: bool,
    /// Remove `Set-Cookie` from the origin's response so it can be stored.
    pub strip_set_cookie: bool,
    /// Whether split-view caching applies to this ruleset (default true).
    pub split_view: bool,
    /// Responses to authenticated requests may be shared among authenticated users (when the
    /// origin also marks them shareable, RFC 9111 §3.5). Default false: never stored.
    pub share_authenticated: bool,
    /// Store the origin's unqualified `private` answer to an *anonymous* request under the
    /// anonymous variant for the operation's lifetime (Plone's weakCaching answers `private`
    /// for every view, anonymous ones included). Off by default; needs `anonOnly`.
    pub store_anonymous_private: bool,
}

impl Parameters {
    /// The defaults of `kind`, as plone.app.caching's operation classes set them.
    pub fn defaults(kind: OperationKind) -> Parameters {
        let base = Parameters { split_view: true, ..Parameters::default() };
        match kind {
            OperationKind::StrongCaching => Parameters { maxage: Some(86400), ..base },
            OperationKind::ModerateCaching => Parameters { maxage: Some(0), smaxage: Some(86400), ..base },
            OperationKind::WeakCaching => Parameters { maxage: Some(0), ..base },
            OperationKind::TerseCaching => {
                Parameters { maxage: Some(10), smaxage: Some(60), vary: vec!["Accept".to_string()], ..base }
            }
            _ => base,
        }
    }
}

/// A compiled operation: its kind, its parameters and, for a chain, its members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    kind: OperationKind,
    params: Parameters,
    members: Vec<Operation>,
    /// The credential rules, kept only when the `userid` component needs them.
    audience: Option<Box<AudienceConfig>>,
}

impl Operation {
    /// An operation with `kind`'s default parameters and no members.
    pub fn new(kind: OperationKind) -> Operation {
        Operation::with_parameters(kind, Parameters::defaults(kind))
    }

    /// An operation with the given parameters.
    pub fn with_parameters(kind: OperationKind, params: Parameters) -> Operation {
        Operation { kind, params, members: Vec::new(), audience: None }
    }

    /// A chain of `members`, run in order.
    pub fn chain(members: Vec<Operation>) -> Operation {
        Operation { members, ..Operation::new(OperationKind::Chain) }
    }

    /// Gives the `userid` ETag component the policy's credential rules (here and in members).
    pub fn attach_audience(&mut self, cfg: &AudienceConfig) {
        let wants = self.params.etags.as_ref().is_some_and(|e| e.contains(&EtagComponent::UserId));
        if wants {
            self.audience = Some(Box::new(cfg.clone()));
        }
        for m in &mut self.members {
            m.attach_audience(cfg);
        }
    }

    /// What kind of operation this is.
    pub fn kind(&self) -> OperationKind {
        self.kind
    }

    /// The parameters, defaults applied.
    pub fn parameters(&self) -> &Parameters {
        &self.params
    }

    /// The chain's members (empty unless a chain).
    pub fn members(&self) -> &[Operation] {
        &self.members
    }

    /// `strongCaching`, …, `honourOrigin`.
    pub fn name(&self) -> &str {
        self.kind.name()
    }

    /// The members' names, for `X-Rulecache-Chain-Operations`; empty unless a chain.
    pub fn chain_names(&self) -> Vec<&str> {
        self.members.iter().map(Operation::name).collect()
    }

    /// The ETag components in effect: `anonOnly` adds `anonymousOrRandom`, as in plone.
    fn etag_components(&self) -> Option<Cow<'_, [EtagComponent]>> {
        let etags = self.params.etags.as_deref();
        let implied = self.params.anon_only
            && !etags.is_some_and(|list| list.contains(&EtagComponent::AnonymousOrRandom));
        if !implied {
            return etags.map(Cow::Borrowed);
        }
        let mut list = etags.map(<[EtagComponent]>::to_vec).unwrap_or_default();
        list.push(EtagComponent::AnonymousOrRandom);
        Some(Cow::Owned(list))
    }

    /// Whether this operation keeps authenticated responses out of shared caches: it is
    /// `anonOnly`, or its ETag names the user (plone's `public` check).
    fn private_when_authenticated(&self) -> bool {
        self.params.anon_only
            || self.params.etags.as_ref().is_some_and(|e| e.iter().any(|c| c.names_the_user()))
    }

    /// Whether the edge cache is skipped for this request. `noCaching` always bypasses; a
    /// caching operation bypasses authenticated requests when it is `anonOnly` or its ETag
    /// names the user. A chain bypasses when any member does (the first member's reason).
    pub fn bypass(&self, audience: Audience) -> Option<Bypass> {
        match self.kind {
            OperationKind::NoCaching => Some(Bypass::NoCaching),
            OperationKind::Chain => self.members.iter().find_map(|m| m.bypass(audience)),
            OperationKind::HonourOrigin => None,
            _ if audience == Audience::Authenticated && self.private_when_authenticated() => {
                Some(Bypass::AnonOnly)
            }
            _ => None,
        }
    }

    /// How the edge stores the response: strong and terse for `smaxage`, else `maxage`;
    /// moderate for `smaxage`; weak for 0 seconds (revalidated before every use). A chain's
    /// storage is that of its first member not honouring the origin.
    pub fn storage(&self) -> EdgeStorage {
        let p = &self.params;
        let store = |ttl: u64| EdgeStorage::Store {
            ttl,
            stale_while_revalidate: p.stale_while_revalidate,
            stale_if_error: p.stale_if_error,
        };
        match self.kind {
            OperationKind::StrongCaching | OperationKind::TerseCaching => {
                store(p.smaxage.or(p.maxage).unwrap_or(0))
            }
            OperationKind::ModerateCaching => store(p.smaxage.unwrap_or(0)),
            OperationKind::WeakCaching => store(0),
            OperationKind::NoCaching => EdgeStorage::DontStore,
            OperationKind::HonourOrigin => EdgeStorage::HonourOrigin,
            OperationKind::Chain => self
                .members
                .iter()
                .map(Operation::storage)
                .find(|s| *s != EdgeStorage::HonourOrigin)
                .unwrap_or(EdgeStorage::HonourOrigin),
        }
    }

    fn any(&self, f: fn(&Parameters) -> bool) -> bool {
        f(&self.params) || self.members.iter().any(|m| m.any(f))
    }

    /// Whether the in-isolate memory tier may keep the response.
    pub fn ram_cache(&self) -> bool {
        self.any(|p| p.ram_cache)
    }

    /// Whether the response is also kept in the global store.
    pub fn persist(&self) -> bool {
        self.any(|p| p.persist)
    }

    /// Whether `Set-Cookie` is removed from the origin's response before storing.
    pub fn strip_set_cookie(&self) -> bool {
        self.any(|p| p.strip_set_cookie)
    }

    /// Whether responses to authenticated requests may be shared among authenticated users.
    pub fn share_authenticated(&self) -> bool {
        self.any(|p| p.share_authenticated)
    }

    /// The `vary` parameter's header names, this operation's and its members'.
    pub fn vary_names(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.params.vary.iter().map(String::as_str).collect();
        for m in &self.members {
            out.extend(m.vary_names());
        }
        out
    }

    /// Whether an origin's `private` answer to an anonymous request may be stored under the
    /// anonymous variant (`storeAnonymousPrivate`). Never for `honourOrigin`, which has no
    /// parameters, nor for an operation that keeps no copy at the edge.
    pub fn stores_anonymous_private(&self) -> bool {
        match self.kind {
            OperationKind::Chain => self.members.iter().any(Operation::stores_anonymous_private),
            OperationKind::StrongCaching | OperationKind::ModerateCaching | OperationKind::TerseCaching => {
                self.params.store_anonymous_private && self.params.anon_only
            }
            _ => false,
        }
    }

    /// Whether split-view caching applies (false when this operation or any member turns it
    /// off).
    pub fn split_view(&self) -> bool {
        self.params.split_view && self.members.iter().all(Operation::split_view)
    }

    /// Whether this operation's responses advertise the split view downstream (the split-view
    /// header merged into `Vary`). `honourOrigin` leaves the origin's response as it is: the
    /// audience stays in the edge's own key, unadvertised, so a response the policy leaves to
    /// the origin reaches the client with the origin's own `Vary` (RFC 9111 §4.1 selection by
    /// clients and downstream caches depends on it).
    pub fn advertises_split_view(&self) -> bool {
        self.split_view()
            && match self.kind {
                OperationKind::HonourOrigin => false,
                OperationKind::Chain => self.members.iter().any(Operation::advertises_split_view),
                _ => true,
            }
    }

    /// Edits the response head sent downstream (see the module documentation).
    pub fn modify(&self, ctx: &ModifyContext, head: &mut ResponseHead) {
        match self.kind {
            OperationKind::HonourOrigin => {}
            OperationKind::Chain => self.members.iter().for_each(|m| m.modify(ctx, head)),
            OperationKind::NoCaching => self.do_not_cache(ctx, &mut head.headers),
            _ if head.status >= 400 => {}
            _ => self.set_cache_headers(ctx, &mut head.headers),
        }
    }

    /// plone's `doNotCache`, which also drops the validators (there is nothing to revalidate).
    fn do_not_cache(&self, ctx: &ModifyContext, h: &mut Headers) {
        h.remove("last-modified");
        h.remove("etag");
        h.set("expires", http_date_past(ctx.now));
        let cc = if self.params.no_store { "no-store" } else { "max-age=0, must-revalidate, private" };
        h.set("cache-control", cc);
    }

    /// plone's `BaseCaching.modifyResponse` and `setCacheHeaders`.
    fn set_cache_headers(&self, ctx: &ModifyContext, h: &mut Headers) {
        let p = &self.params;
        let (mut maxage, mut smaxage) = (p.maxage.unwrap_or(0), p.smaxage);
        let proxy_cache = smaxage.unwrap_or(0) > 0 || (maxage > 0 && smaxage.is_none());
        if proxy_cache && ctx.audience == Audience::Authenticated && self.private_when_authenticated() {
            // "This is private so keep it out of both shared and browser caches"
            maxage = 0;
            smaxage = Some(0);
        }
        if let Some(etag) = self.etag_components().and_then(|c| self.compose_etag(ctx, h, &c)) {
            h.set("etag", etag);
        }
        if !p.last_modified {
            h.remove("last-modified");
        }
        self.merge_vary(ctx, h);
        let cc = match smaxage {
            _ if maxage > 0 => {
                h.set("expires", http_date(ctx.now, maxage));
                match smaxage {
                    Some(s) => format!("max-age={maxage}, s-maxage={s}, proxy-revalidate, public"),
                    None => format!("max-age={maxage}, proxy-revalidate, public"),
                }
            }
            Some(s) if s > 0 => {
                h.set("expires", http_date_past(ctx.now));
                format!("max-age=0, s-maxage={s}, must-revalidate")
            }
            _ => {
                h.set("expires", http_date_past(ctx.now));
                "max-age=0, must-revalidate, private".to_string()
            }
        };
        h.set("cache-control", cc);
    }

    /// Merges the `vary` parameter and, for a split-view ruleset, the split-view header into
    /// Vary; never replaces or duplicates (case-insensitively) what is there.
    fn merge_vary(&self, ctx: &ModifyContext, h: &mut Headers) {
        let split = ctx.split_view_header.filter(|_| self.params.split_view);
        let joined = {
            let list: Vec<&str> = h.list("vary").collect();
            if list.contains(&"*") {
                return;
            }
            let mut added: Vec<Cow<'_, str>> = Vec::new();
            let wanted = self.params.vary.iter().map(|v| (v.as_str(), false)).chain(split.map(|s| (s, true)));
            for (name, title) in wanted {
                let listed = |v: &str| v.eq_ignore_ascii_case(name);
                if !list.iter().any(|v| listed(v)) && !added.iter().any(|v| listed(v)) {
                    added.push(if title { Cow::Owned(title_case(name)) } else { Cow::Borrowed(name) });
                }
            }
            if added.is_empty() {
                return;
            }
            let len = list.iter().map(|v| v.len() + 2).sum::<usize>()
                + added.iter().map(|v| v.len() + 2).sum::<usize>();
            let mut joined = String::with_capacity(len);
            for (i, v) in list.iter().copied().chain(added.iter().map(|v| v.as_ref())).enumerate() {
                if i > 0 {
                    joined.push_str(", ");
                }
                joined.push_str(v);
            }
            joined
        };
        h.set("vary", joined);
    }

    /// plone's `getETag`: the components' values joined as `"|a|b|c"`; None when no
    /// component has a value. Weak when the origin's ETag was weak.
    fn compose_etag(&self, ctx: &ModifyContext, h: &Headers, components: &[EtagComponent]) -> Option<String> {
        let weak = h.get("etag").is_some_and(|e| e.trim_start().starts_with("W/"));
        let mut out = String::with_capacity(48);
        out.push_str(if weak { "W/\"" } else { "\"" });
        let mut any = false;
        for c in components {
            if let Some(value) = self.component_value(*c, ctx, h) {
                any = true;
                out.push('|');
                // "commas are bad in etags"; quotes, spaces and controls are not etagc.
                out.extend(
                    value
                        .chars()
                        .map(|ch| if ch == ',' { ';' } else { ch })
                        .filter(|ch| ch.is_ascii_graphic() && *ch != '"'),
                );
            }
        }
        if !any {
            return None;
        }
        out.push('"');
        Some(out)
    }

    fn component_value<'h>(
        &self,
        c: EtagComponent,
        ctx: &ModifyContext<'h>,
        h: &'h Headers,
    ) -> Option<Cow<'h, str>> {
        let req = &ctx.request.headers;
        let authenticated = ctx.audience == Audience::Authenticated;
        match c {
            EtagComponent::Origin => h.get("etag").map(|e| Cow::Borrowed(origin_opaque(e))),
            EtagComponent::UserId => {
                // Only an authenticated request has a credential worth digesting.
                if !authenticated {
                    return None;
                }
                let cfg = self.audience.as_deref()?;
                cfg.credential(req).map(|c| Cow::Owned(digest(c)))
            }
            EtagComponent::Audience => Some(Cow::Borrowed(ctx.audience.as_str())),
            EtagComponent::Language => Some(Cow::Borrowed(req.get("accept-language").unwrap_or(""))),
            EtagComponent::Encoding => {
                Some(Cow::Borrowed(h.get("content-encoding").unwrap_or("identity").trim()))
            }
            EtagComponent::LastModified => h
                .get("last-modified")
                .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| Cow::Owned(d.as_secs().to_string())),
            EtagComponent::PolicyVersion => Some(Cow::Owned(ctx.policy_version.to_string())),
            EtagComponent::Copy => {
                Some(Cow::Borrowed(if audience::cookie_value(req, "__cp").is_some() { "1" } else { "0" }))
            }
            EtagComponent::AnonymousOrRandom => authenticated.then(|| Cow::Owned(ctx.now.to_string())),
        }
    }
}

/// The opaque part of an entity tag: without `W/` and quotes.
fn origin_opaque(etag: &str) -> &str {
    let e = etag.trim();
    let e = e.strip_prefix("W/").unwrap_or(e);
    e.strip_prefix('"').and_then(|e| e.strip_suffix('"')).unwrap_or(e)
}

/// The first 8 bytes of SHA-256, in hex.
fn digest(credential: &str) -> String {
    let hash = Sha256::digest(credential.as_bytes());
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// `x-anonymous` → `X-Anonymous`.
fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for ch in name.chars() {
        out.push(if upper { ch.to_ascii_uppercase() } else { ch });
        upper = ch == '-';
    }
    out
}

/// The last second an HTTP date can show (9999-12-31T23:59:59Z); `httpdate` refuses later.
const LAST_HTTP_DATE: u64 = 253_402_300_799;

/// An HTTP date `secs` seconds after `now` (milliseconds), clamped to what HTTP dates can show.
fn http_date(now: crate::http::Time, secs: u64) -> String {
    let t = crate::http::secs(now).saturating_add(secs).min(LAST_HTTP_DATE);
    fmt_http_date(t)
}

/// `httpdate::fmt_http_date` written into a string of the right size at once.
fn fmt_http_date(secs_since_epoch: u64) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(29);
    let _ = write!(out, "{}", httpdate::HttpDate::from(UNIX_EPOCH + Duration::from_secs(secs_since_epoch)));
    out
}

/// A date ten years before `now`, as plone's `getExpiration(0)`.
fn http_date_past(now: crate::http::Time) -> String {
    let t = crate::http::secs(now).min(LAST_HTTP_DATE).saturating_sub(3650 * 86400);
    fmt_http_date(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_never_overflow() {
        assert_eq!(http_date(u64::MAX, u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(http_date_past(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(http_date(1_000, 60), "Thu, 01 Jan 1970 00:01:01 GMT");
    }

    #[test]
    fn title_case_capitalises_each_word() {
        assert_eq!(title_case("x-anonymous"), "X-Anonymous");
        assert_eq!(title_case("accept"), "Accept");
    }

    #[test]
    fn origin_opaque_strips_weakness_and_quotes() {
        assert_eq!(origin_opaque(" W/\"abc\""), "abc");
        assert_eq!(origin_opaque("\"abc\""), "abc");
        assert_eq!(origin_opaque("abc"), "abc");
    }
}
