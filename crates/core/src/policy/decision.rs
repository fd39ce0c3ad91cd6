//! The values the policy hands the engine besides its storage decision: *may the edge cache be
//! used for this request* ([`Bypass`]), and what an operation may consult when it edits the
//! response head sent downstream ([`ModifyContext`]). How the edge stores a response is
//! [`crate::rfc::freshness::EdgeStorage`]; who is asking is [`crate::storage::key::Audience`].

use serde::{Deserialize, Serialize};

use crate::http::{RequestHead, Time};
use crate::storage::key::Audience;

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

/// What an operation may consult when it edits the response head sent downstream.
#[derive(Debug, Clone, Copy)]
pub struct ModifyContext<'a> {
    pub request: &'a RequestHead,
    pub audience: Audience,
    /// The active policy's version (an ETag component).
    pub policy_version: u64,
    /// The split-view header name (lower case) when split-view caching is on.
    pub split_view_header: Option<&'a str>,
    pub now: Time,
}
