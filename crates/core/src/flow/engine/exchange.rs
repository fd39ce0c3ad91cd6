//! What the flow and its driver exchange: what a lookup found, whether the ledger purged it,
//! the next step, the final reply and what it stores, and why a response is not stored.

use super::{Flow, OriginFault};
use crate::http::{RequestHead, ResponseHead};
use crate::policy::decision::Bypass;
use crate::policy::RulesetId;
use crate::purge::ledger::Target;
use crate::rfc::storable;
use crate::storage::key::StorageKey;
use crate::storage::meta::{Meta, VaryIndex};
use crate::storage::stats::Outcome;

/// What a stored record at a key turned out to be.
#[derive(Debug, Clone)]
pub enum Found {
    Nothing,
    /// A response (its body is held by the driver).
    Entry(Box<Meta>),
    /// The per-URL record that says which request fields select a variant.
    Index(VaryIndex),
}

/// What the `detail` parameter of `Cache-Status` says: RFC 9211 §2.8, "additional
/// information not captured in other parameters". One variant per reason the flow gives; the
/// text is written only when the field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Why the response was not stored.
    Refusal(Refusal),
    /// Why the request went past the cache.
    Bypass(Bypass),
    /// Why the origin's answer could not be passed on.
    Fault(OriginFault),
    /// A stale entry served while it is revalidated in the background (RFC 5861 §3).
    StaleWhileRevalidate,
    /// A stale entry served because the origin failed (RFC 5861 §4).
    StaleIfError,
    /// Answered from the policy's page map.
    PageMap,
    /// An entry revalidated because the purge ledger could not be consulted (see
    /// [`Purged::Unverified`](crate::storage::meta::Purged::Unverified)).
    LedgerUnverified,
    /// The stored entry was purged: fetched anew.
    Purged,
    /// `only-if-cached` and nothing stored may answer (RFC 9111 §5.2.1.7: a 504).
    OnlyIfCached,
    /// The runtime cannot send the request's method ([`super::WORKERS_FETCH_METHODS`]).
    MethodNotForwardable,
    /// An origin answer the flow did not ask for (a defect, answered 500).
    UnexpectedOriginResponse,
}

impl Detail {
    /// The parameter's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Detail::Refusal(r) => r.as_str(),
            Detail::Bypass(b) => b.as_str(),
            Detail::Fault(f) => f.detail(),
            Detail::StaleWhileRevalidate => "stale-while-revalidate",
            Detail::StaleIfError => "stale-if-error",
            Detail::PageMap => "page-map",
            Detail::LedgerUnverified => "ledger-unverified",
            Detail::Purged => "purged",
            Detail::OnlyIfCached => "only-if-cached",
            Detail::MethodNotForwardable => "method-not-forwardable",
            Detail::UnexpectedOriginResponse => "unexpected-origin-response",
        }
    }
}

/// Why a response is not stored: the `detail` of `Cache-Status` ("not cacheable" is a value
/// with a reason, not an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request's method is not one whose responses are stored.
    Method,
    /// The policy sends the request past the cache.
    Bypass(Bypass),
    /// A status the policy does not store (or a server error while revalidating).
    Status,
    /// RFC 9111 §3 refuses it.
    Rfc(storable::NotStored),
    /// A response to an authenticated request the policy does not share.
    Authenticated,
    /// A response to a request with credentials the origin did not mark shareable (§3.5).
    Authorization,
    /// An extension-classified URL answered with another kind of body (cache deception).
    ContentType,
    /// `Vary: *`, or a variant that cannot be keyed.
    VaryStar,
    /// A 304 names other `Vary` fields than the stored response it validates: the entry is
    /// keyed by the old ones.
    VaryChanged,
    /// The URL's variant index is full of fresh variants: a new one is not admitted.
    VariantBudget,
}

impl Refusal {
    /// Whether the refusal is about the resource (its response, or the policy for its
    /// ruleset) rather than about the request: only those make a URL hit-for-pass, so that a
    /// logged-in visitor or a client's `no-store` never costs anonymous visitors their hits.
    pub fn is_about_resource(self) -> bool {
        match self {
            Refusal::Status | Refusal::ContentType | Refusal::VaryStar | Refusal::VaryChanged => true,
            Refusal::Rfc(r) => r.is_about_response(),
            // One more variant value says nothing about the resource's other variants.
            Refusal::Method
            | Refusal::Bypass(_)
            | Refusal::Authenticated
            | Refusal::Authorization
            | Refusal::VariantBudget => false,
        }
    }

    /// The token shown in `Cache-Status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Method => "method",
            Refusal::Bypass(b) => b.as_str(),
            Refusal::Status => "status",
            Refusal::Rfc(r) => r.as_str(),
            Refusal::Authenticated => "authenticated",
            Refusal::Authorization => "authorization",
            Refusal::ContentType => "content-type",
            Refusal::VaryStar => "vary-star",
            Refusal::VaryChanged => "vary-changed",
            Refusal::VariantBudget => "variant-budget",
        }
    }
}

/// Which body goes with a response the flow asks the driver to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodySource {
    /// No body (HEAD, 304, 204).
    Empty,
    /// The body of the stored entry found by the last lookup.
    Stored,
    /// The body of the last origin response.
    Origin,
}

/// One thing for the driver to do.
#[derive(Debug, Clone)]
pub enum Step {
    /// Look `key` up (memory tier, then Cache API, then — when `kv` — Workers KV, then — when
    /// `r2` — R2; see [`crate::flow::lookup_tiers`]) and call [`Flow::found`].
    Lookup { key: StorageKey, kv: bool, r2: bool },
    /// Send `request` to the origin (with the client's body when `with_body`), then call
    /// [`Flow::origin_response`] or [`Flow::origin_failed`]. `coalesce`: the storage key this
    /// miss will fill; a driver that already has a fetch for it in flight may wait for that
    /// one and call [`Flow::retry_after_collapse`] instead. `deadline_ms`: how long to wait for
    /// the origin before calling [`Flow::origin_failed`] (set only when a stale entry can stand
    /// in for the answer; otherwise the origin is waited for as long as the runtime allows).
    Fetch { request: RequestHead, with_body: bool, coalesce: Option<StorageKey>, deadline_ms: Option<u64> },
    /// Answer the client. `store`: keep the origin body under this record too (the driver
    /// tees it). `background`: run this revalidation after answering (stale-while-revalidate).
    Respond(Box<Reply>),
}

/// The final answer of a flow.
#[derive(Debug, Clone)]
pub struct Reply {
    pub head: ResponseHead,
    pub body: ReplyBody,
    pub store: Option<StoreOrder>,
    /// Storage keys to delete (RFC 9111 §4.4 invalidation).
    pub invalidate: Vec<StorageKey>,
    /// What the response to an unsafe request invalidates everywhere: recorded in the purge
    /// ledger like a purge.
    pub record: Option<Invalidation>,
    pub background: Option<Box<Flow>>,
    pub outcome: Outcome,
    /// The ruleset (for statistics), `None` when unclassified.
    pub ruleset: Option<String>,
    /// Why the origin's answer was not stored, when it was not.
    pub refusal: Option<Refusal>,
}

/// What the origin's response to an unsafe request invalidates at every location, recorded in
/// the purge ledger like a purge (soft or hard as the policy's `purge.invalidation` says): the
/// resource at the target URI and at a same-origin `Location` or `Content-Location` (RFC 9111
/// §4.4), and the groups its `Cache-Group-Invalidation` lists, on the request's origin (RFC
/// 9875 §3). The driver applies it to its own copy of the ledger before answering, then
/// appends it to the ledger under the budget of the origin ([`ORIGIN_BUDGET`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidation {
    pub targets: Vec<Target>,
    pub soft: bool,
    /// The request's site (`scheme://host[:port]/`): what an order beyond the budget collapses
    /// into.
    pub site: String,
    /// How many of the targets are URLs (RFC 9111 §4.4) and groups (RFC 9875), for statistics.
    pub urls: usize,
    pub groups: usize,
    /// The response listed more than `rfc::groups::MAX_INVALIDATED_GROUPS` groups: the whole
    /// site is invalidated instead.
    pub whole_site: bool,
}

/// The ledger budget every origin invalidation is counted against (apart from the purge
/// credentials' budgets; all together still count against the global one).
pub const ORIGIN_BUDGET: &str = "origin";

/// The body of the client's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyBody {
    /// No body (HEAD, 304, 204, 412, an unsatisfiable range).
    Empty,
    /// A body the flow made (page map, errors).
    Text(String),
    /// The body of the stored entry found by the last lookup, or only its bytes
    /// `start..=end` (a `206` cut from a stored `200`).
    Stored { range: Option<(u64, u64)> },
    /// The body of the last origin response.
    Origin,
}

/// Store a body under `key` with `meta`; write `index` beside it when the response varies.
#[derive(Debug, Clone)]
pub struct StoreOrder {
    pub key: StorageKey,
    /// The ruleset whose operation keeps the entry (the one `meta` names).
    pub ruleset: Option<RulesetId>,
    pub meta: Meta,
    /// The body to store: the origin's, or (after a 304) the stored one, re-stored.
    pub body: BodySource,
    /// Keep a copy in the in-isolate memory tier.
    pub memory: bool,
    /// Put it in the location's Cache API (and KV, when the ruleset persists): false only for
    /// a 304 whose refreshed entry the shared copy would gain nothing from (see
    /// `origin.rs`, `shared_copy_gains`).
    pub shared: bool,
    pub index: Option<(StorageKey, VaryIndex)>,
}
