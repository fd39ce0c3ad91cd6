//! The request flow as data: decisions in, actions out.
//!
//! A [`Flow`] is a small state machine. The driver (the worker shell, or the native harness
//! in [`crate::testing::sim`]) asks it for the next [`Step`], performs that step's I/O, and feeds the
//! result back; a reply becomes an ordered effect list ([`crate::flow::Effect`]) both apply.
//! The flow never touches a body: it says which body to send ([`BodySource`]) and the driver
//! moves the bytes (or the JavaScript stream) itself.
//!
//! By phase: `start` (classification, bypass, page map, what the origin is sent), `lookup`
//! (what the stores held), `origin` (the origin's answer, storability, revalidation), `answer`
//! (the client's response).

mod answer;
mod exchange;
mod fields;
mod lookup;
mod origin;
mod start;
mod store;

use answer::Answer;

pub use exchange::{
    BodySource, Detail, Found, Invalidation, Refusal, Reply, ReplyBody, Step, StoreOrder, ORIGIN_BUDGET,
};
pub use fields::{keep_private, merge_index, merge_vary};

use std::borrow::Cow;

use crate::http::{is_listed, Headers, Method, RequestHead, ResponseHead, Time};
use crate::policy::decision::{Bypass, ModifyContext};
use crate::policy::operations::Operation;
use crate::policy::{PageAction, Policy, RulesetId};
use crate::purge::ledger::Target;
use crate::rfc::cache_status::{CacheStatus, Fwd};
use crate::rfc::conditional::{self, Conditional};
use crate::rfc::freshness::EdgeStorage;
use crate::rfc::freshness::{self, Verdict};
use crate::rfc::groups::{self, Invalidated};
use crate::rfc::storable;
use crate::rfc::{cache_control, hop, invalidate, range, revalidate};
use crate::storage::key::Audience;
use crate::storage::key::{self, PrimaryKey, StorageKey, VarySpec};
use crate::storage::meta::{Meta, Purged, VaryIndex};
use crate::storage::stats::Outcome;

/// The name this cache uses in `Cache-Status` (RFC 9211 §2: "a token identifying the cache").
pub const CACHE_NAME: &str = "rulecache";

/// Request header fields a client may never set: they are ours, or (RFC 9875's
/// `Cache-Groups` and `Cache-Group-Invalidation`) response fields only an origin may send,
/// which a client's request must neither carry to the origin nor have any effect with. (The
/// split-view header is removed by the policy, whatever its configured name.)
pub const INTERNAL_REQUEST_HEADERS: &[&str] = &[
    "x-rulecache-meta",
    "x-rulecache-index",
    "x-rulecache-timestamp",
    "x-rulecache-signature",
    crate::rfc::groups::CACHE_GROUPS,
    crate::rfc::groups::CACHE_GROUP_INVALIDATION,
];

#[derive(Debug, Clone)]
enum State {
    /// Waiting for the base record of the URL.
    Base,
    /// Waiting for a variant record.
    Variant,
    /// Waiting for the origin's answer to a plain forward (no cache involvement).
    Forwarding {
        status: CacheStatus,
    },
    /// Waiting for the origin's answer to a miss.
    Missing {
        status: CacheStatus,
        /// The client's `If-None-Match` went along: a 304 answers the client, unstored.
        client_validators: bool,
    },
    /// Waiting for the origin's answer to a conditional revalidation of `stored`.
    Revalidating {
        stored: Box<Meta>,
        serve_if_error: bool,
        background: bool,
        /// `Stale`, or `Request` when the entry was fresh but the request refused it.
        fwd: Fwd,
        /// The revalidation was sent as a HEAD (the client's own method): its 200 updates the
        /// stored GET response (RFC 9111 §4.3.5) instead of replacing it.
        head: bool,
    },
    /// A background revalidation waiting for its entry to be looked up again: the driver then
    /// holds that entry's body (a 304 re-stores it), whichever tier it is in (KV included).
    Reloading,
    Done,
}

/// The state of one request's way through the cache.
#[derive(Debug, Clone)]
pub struct Flow {
    /// The request as the client sent it (internal headers removed).
    client: RequestHead,
    /// The request as the origin will see it (split-view header set, path rewritten). Built
    /// on first use: a request answered from the cache never needs it.
    upstream: Option<RequestHead>,
    /// The lookup stage was reached: a lazily built `upstream` drops the client's
    /// conditionals and uses GET.
    upstream_for_cache: bool,
    audience: Audience,
    primary: PrimaryKey,
    keyed_audience: Option<Audience>,
    /// The storage key of the base record (of `primary` and `keyed_audience`), made once.
    base: StorageKey,
    /// Resolved once, at classification (or from the stored record's name).
    ruleset: Option<RulesetId>,
    rule_id: Option<String>,
    vary: Option<VarySpec>,
    variant: Option<String>,
    state: State,
    request_time: Time,
    /// The request proved the admin secret: debug headers are sent whatever the policy says.
    debug_proven: bool,
    /// Why the request skips the cache, when it does.
    bypass: Option<Bypass>,
    /// This request waited for another request's fetch of the same entry.
    collapsed: bool,
    /// The length of the stored body found by the last lookup, when known.
    stored_len: Option<u64>,
    /// The entry is revalidated because the purge ledger could not be consulted.
    unverified: bool,
    /// What a request of the cache path forwards differently from what the client sent.
    forward: Option<Box<ForwardEdits>>,
    /// The request's ruleset keeps its entries in KV too: lookups fall back to it.
    persist: bool,
    /// The request's ruleset keeps its entries in R2 too (`"globalTier": "r2"`): lookups fall
    /// back to it after KV.
    r2: bool,
    /// The URL's variant index (when one was found) has room for this request's variant.
    variant_room: bool,
    /// The named origin that serves this request (None: the default origin); its copies are
    /// keyed by its name.
    origin: Option<String>,
}

/// The edits that make a request of the cache path forward exactly what is keyed: the query
/// of the key, only the cookies the policy names, and the negotiated `Accept-Encoding`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ForwardEdits {
    /// The `Cookie` field to send (`Some(None)`: none; `None`: the client's, untouched).
    cookie: Option<Option<String>>,
    /// The query to send, when it differs from the client's.
    query: Option<Option<String>>,
    accept_encoding: String,
    /// Fields forwarded besides the keyed ones and `key::FORWARDED_UNKEYED` (lower case).
    also: Vec<String>,
}

impl ForwardEdits {
    /// Whether a request field reaches the origin on the cache path.
    fn forwards(&self, name: &str) -> bool {
        key::forwarded_on_cache_path(name, &self.also)
    }

    fn apply(&self, u: &mut RequestHead) {
        // The key is what is forwarded: an allowlist, not a list of known-bad fields.
        u.headers.retain(|name, _| self.forwards(name));
        match &self.cookie {
            Some(Some(c)) => u.headers.set("cookie", c.clone()),
            Some(None) => {
                u.headers.remove("cookie");
            }
            None => {}
        }
        if let Some(q) = &self.query {
            u.url.set_query(q.as_deref());
        }
        u.headers.set("accept-encoding", self.accept_encoding.clone());
    }
}

impl Flow {
    /// Why this request skips the cache (None when it uses it).
    pub fn bypass(&self) -> Option<Bypass> {
        self.bypass
    }

    /// A request no request-only rule classified takes its ruleset from the origin's response
    /// (a trusted hint header, then `contentType` rules).
    pub fn classify_response(&mut self, policy: &Policy, head: &ResponseHead) {
        if self.ruleset.is_none() {
            if let Some(c) = policy.classify_response(&self.client, head) {
                self.ruleset = Some(c.ruleset_id);
                self.rule_id = c.rule_id.map(str::to_string);
            }
        }
    }

    /// The headers a response would be sent downstream with (explain): the operation's
    /// modifications and the debug decoration, without storing anything.
    pub fn preview(&self, policy: &Policy, mut head: ResponseHead, now: Time) -> ResponseHead {
        let operation = policy.operation(self.ruleset);
        self.modify(policy, operation, &mut head, now);
        self.decorate(policy, &mut head, &CacheStatus::default(), Some(operation.name()));
        head
    }

    /// The operation's edits of the head sent downstream.
    fn modify(
        &self,
        policy: &Policy,
        operation: &crate::policy::Operation,
        head: &mut ResponseHead,
        now: Time,
    ) {
        let ctx = ModifyContext {
            request: &self.client,
            audience: self.audience,
            policy_version: policy.version(),
            split_view_header: policy.split_view_header(),
            now,
        };
        operation.modify(&ctx, head);
    }

    /// Whether `refusal` (this request's answer was not stored) marks the URL hit-for-pass: a
    /// reason about the resource, for a request that went through the cache and whose key
    /// stands for everyone who shares it (an anonymous request without credentials, or a key
    /// that separates the audiences).
    pub fn refusal_marks_pass(&self, refusal: Refusal) -> bool {
        refusal.is_about_resource()
            && self.bypass.is_none()
            && !self.client.headers.contains("authorization")
            && (self.audience.is_anonymous() || self.keyed_audience.is_some())
    }

    pub fn audience(&self) -> Audience {
        self.audience
    }

    pub fn ruleset(&self) -> Option<RulesetId> {
        self.ruleset
    }

    /// The name of this request's ruleset in `policy` (the one the flow is driven with).
    pub fn ruleset_name<'p>(&self, policy: &'p Policy) -> Option<&'p str> {
        self.ruleset.and_then(|id| policy.ruleset_name(id))
    }

    pub fn rule_id(&self) -> Option<&str> {
        self.rule_id.as_deref()
    }

    pub fn primary_key(&self) -> &PrimaryKey {
        &self.primary
    }

    pub fn variant(&self) -> Option<&str> {
        self.variant.as_deref()
    }

    pub fn upstream(&self) -> Cow<'_, RequestHead> {
        match &self.upstream {
            Some(u) => Cow::Borrowed(u),
            None => {
                Cow::Owned(build_upstream(&self.client, self.upstream_for_cache, self.forward.as_deref()))
            }
        }
    }

    pub fn client(&self) -> &RequestHead {
        &self.client
    }

    /// The storage key of the entry this request uses (its variant, when it has one).
    pub fn entry_key(&self) -> StorageKey {
        match self.variant.as_deref() {
            None => self.base_key(),
            variant => self.key_of(variant),
        }
    }

    /// The fields a known `Vary` names (the URL's variant index) are part of the key: from
    /// here on they are forwarded too, so that the variant fetched is the variant keyed (and
    /// RFC 9111 §4.3.1: a validation request carries "the request's selecting header fields").
    fn forward_varied_fields(&mut self) {
        let (Some(VarySpec::Fields(fields)), Some(edits)) = (&self.vary, self.forward.as_deref_mut()) else {
            return;
        };
        for field in fields {
            if edits.forwards(field) || key::is_forwarding_field(field) {
                continue;
            }
            edits.also.push(field.clone());
            if let Some(u) = &mut self.upstream {
                for value in self.client.headers.get_all(field) {
                    u.headers.append(field, value);
                }
            }
        }
    }

    /// The storage key of this request's `variant` (None: the base record) at the origin that
    /// serves it.
    fn key_of(&self, variant: Option<&str>) -> StorageKey {
        key::origin_storage_key(&self.primary, self.origin.as_deref(), self.keyed_audience, variant)
    }

    /// The named origin that serves this request (None: the default origin).
    pub fn origin_name(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The storage key of the base record for this request.
    pub fn base_key(&self) -> StorageKey {
        self.base.clone()
    }
}

/// The origin's request when the client's needs no hop-by-hop stripping: the client's, with
/// its conditionals dropped and GET once the request goes through the cache.
fn build_upstream(client: &RequestHead, for_cache: bool, edits: Option<&ForwardEdits>) -> RequestHead {
    let mut u = client.clone();
    if for_cache {
        strip_conditionals(&mut u.headers);
        u.method = Method::Get;
    }
    if let Some(e) = edits {
        e.apply(&mut u);
    }
    u
}

/// Appends the decimal digits of `n` (what `write!` does, without the formatting machinery).
fn push_u64(out: &mut String, n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = n;
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    for &b in buf.get(i..).unwrap_or(&[]) {
        out.push(char::from(b));
    }
}

/// The client's fields that make the origin's answer partial or conditional.
const RANGE_AND_PRECONDITIONS: [&str; 6] =
    ["range", "if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range"];

/// Drops the client's range and preconditions from a request of the cache path: the cache
/// asks the origin for the whole representation (adding its own validators) and answers the
/// client's conditionals and range itself.
fn strip_conditionals(h: &mut Headers) {
    for name in RANGE_AND_PRECONDITIONS {
        h.remove(name);
    }
}

/// The methods the Workers runtime's `fetch` can send, in upper case (it compares them case
/// insensitively and sends them upper-cased). Measured in workerd: `new Request(url,
/// { method })` throws `TypeError: Invalid HTTP method string` for any other (`CONNECT`,
/// `M-SEARCH`, `LINK`, `BIND`, `MKCALENDAR`, `BREW`, …), and the runtime answers such a
/// request 501 itself before the worker runs.
pub const WORKERS_FETCH_METHODS: &[&str] = &[
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "PURGE",
    "OPTIONS",
    "TRACE",
    "COPY",
    "LOCK",
    "MKCOL",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "SEARCH",
    "UNLOCK",
    "ACL",
    "REPORT",
    "MKACTIVITY",
    "CHECKOUT",
    "MERGE",
    "MSEARCH",
    "NOTIFY",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "QUERY",
    "BAN",
];

/// Whether the runtime can send a request with `method` to the origin.
pub fn is_forwardable_method(method: &str) -> bool {
    WORKERS_FETCH_METHODS.iter().any(|m| m.eq_ignore_ascii_case(method))
}

/// Why an origin fetch brought back no response the runtime could read, as the shell tells
/// it from the runtime's error object (never from its text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchFailure {
    /// The connection could not be made or was lost (the runtime marks such errors
    /// `retryable`).
    Unreachable,
    /// The runtime refused what the origin sent: a status line or framing it cannot parse
    /// (an unknown `Transfer-Encoding`, conflicting `Content-Length`s).
    InvalidResponse,
    /// No response head before the origin deadline ([`crate::storage::tiers`]).
    TimedOut,
}

/// Why the origin's answer cannot be passed on to the client: a fetch that failed, or a
/// response the cache must not pass on. Each is a 502 with its `Cache-Status` detail, or the
/// stale entry under stale-if-error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginFault {
    Fetch(FetchFailure),
    /// A 1xx handed over as if it were final.
    InterimResponse,
    /// A status outside 100..599.
    InvalidStatus,
    /// Content that ended before its `Content-Length`, or a connection that failed while the
    /// content was read for storage.
    InvalidContent,
}

impl OriginFault {
    /// The `Cache-Status` detail that names it.
    pub fn detail(self) -> &'static str {
        match self {
            OriginFault::Fetch(FetchFailure::Unreachable) => "origin-unreachable",
            OriginFault::Fetch(FetchFailure::InvalidResponse) => "origin-invalid-response",
            OriginFault::Fetch(FetchFailure::TimedOut) => "origin-timeout",
            OriginFault::InterimResponse => "origin-interim-response",
            OriginFault::InvalidStatus => "origin-invalid-status",
            OriginFault::InvalidContent => "origin-invalid-content",
        }
    }
}

/// Why an origin response with this status cannot be passed on, or None when it can.
///
/// RFC 9110 §15: "Values outside the range 100..599 are invalid. Implementations often use
/// three-digit integer values outside of that range (i.e., 600..999) for internal
/// communication of non-HTTP status"; and a 1xx is interim (§15.2: "A client MUST be able to
/// parse one or more 1xx responses received prior to a final response"). The runtime builds
/// responses only with a status from 200 to 599, and its `fetch` hands an interim response
/// over as if it were final (what follows it, the final response, arriving as its content),
/// so neither can reach the client: the answer is a 502 (or the stale entry, under
/// stale-if-error), and nothing stored is replaced.
pub fn unusable_status(status: u16) -> Option<OriginFault> {
    match status {
        100..=199 => Some(OriginFault::InterimResponse),
        200..=599 => None,
        _ => Some(OriginFault::InvalidStatus),
    }
}

/// The answer when the origin's content cannot be read in full while it is read for storage
/// (it ended before its declared `Content-Length`, or the connection failed): a 502 saying so,
/// with nothing stored. The head and its text.
pub fn unreadable_body_reply() -> (ResponseHead, &'static str) {
    let mut h = Headers::new();
    h.set("content-type", "text/plain; charset=utf-8");
    h.set("cache-control", "no-store");
    let cs = CacheStatus {
        detail: Some(Detail::Fault(OriginFault::InvalidContent).as_str()),
        ..Default::default()
    };
    h.set("cache-status", cs.to_value_with_key(CACHE_NAME, None));
    (ResponseHead::new(502, h), "502 origin-invalid-content\n")
}

/// Whether any `Cookie` field names an auth cookie (`<name>=`) or an auth cookie prefix
/// anywhere in its text, however a server would split it.
fn mentions_auth_cookie(cfg: &crate::policy::audience::AudienceConfig, h: &Headers) -> bool {
    h.get_all("cookie").any(|v| {
        cfg.auth_cookies.iter().any(|name| {
            v.match_indices(name.as_str())
                .any(|(at, _)| v.get(at + name.len()..).is_some_and(|rest| rest.starts_with('=')))
        }) || cfg.auth_cookie_prefixes.iter().any(|p| v.contains(p.as_str()))
    })
}
