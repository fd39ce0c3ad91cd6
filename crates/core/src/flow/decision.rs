//! The values that pass between the policy (classification and operations) and the engine.
//!
//! The policy answers two questions about a request: *may the edge cache be used for it*
//! ([`Bypass`]) and, once a response is known, *how does the edge store it* ([`EdgeStorage`]).
//! What is sent downstream is a separate output of an operation (it edits the response head).

use serde::{Deserialize, Serialize};

/// Who is asking: split-view caching keys and varies on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Audience {
    Anonymous,
    Authenticated,
}

impl Audience {
    pub fn is_anonymous(self) -> bool {
        self == Audience::Anonymous
    }

    /// The token used in cache keys and Cache-Status details.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Anonymous => "anon",
            Audience::Authenticated => "auth",
        }
    }
}

/// Why a request skips the edge cache entirely (neither served from it nor stored in it).
/// "Not cacheable" is a value with a reason, shown in `Cache-Status`, never an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bypass {
    /// The policy's global caching switch is off.
    CachingDisabled,
    /// The method is not GET or HEAD.
    Method,
    /// The operation is `anonOnly` and the request is authenticated.
    AnonOnly,
    /// A cache-stop request variable (cookie or query parameter) is present.
    CacheStop,
    /// The operation is `noCaching`.
    NoCaching,
    /// A range request for a resource we do not hold (ranges are forwarded untouched).
    Range,
}

impl Bypass {
    /// The token for `Cache-Status: …; fwd=bypass; detail=<token>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bypass::CachingDisabled => "caching-disabled",
            Bypass::Method => "method",
            Bypass::AnonOnly => "anon-only",
            Bypass::CacheStop => "cache-stop",
            Bypass::NoCaching => "no-caching",
            Bypass::Range => "range",
        }
    }
}

/// How the edge stores a response, as decided by an operation. Separate from the headers the
/// operation sends downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EdgeStorage {
    /// Behave as an RFC 9111 shared cache on the origin's own headers (targeted
    /// `CDN-Cache-Control` first). The default for unclassified requests.
    HonourOrigin,
    /// Keep the response fresh at the edge for `ttl` seconds whatever the origin's
    /// Cache-Control says (a `ttl` of 0 means: store, but revalidate before every use).
    /// Responses that must never be shared (Set-Cookie, `private`, `no-store`, non-final or
    /// partial statuses) are still not stored.
    Store { ttl: u64, stale_while_revalidate: u64, stale_if_error: u64 },
    /// Keep it out of the edge cache.
    DontStore,
}

/// What an operation may consult when it edits the response head sent downstream.
#[derive(Debug, Clone, Copy)]
pub struct ModifyContext<'a> {
    pub request: &'a crate::http::RequestHead,
    pub audience: Audience,
    /// The active policy's version (an ETag component).
    pub policy_version: u64,
    /// The split-view header name (lower case) when split-view caching is on.
    pub split_view_header: Option<&'a str>,
    pub now: crate::http::Time,
}
