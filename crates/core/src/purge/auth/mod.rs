//! Authentication of purge and admin requests by scoped shared secrets: `PURGE_SECRET`
//! proves a purge and nothing else, `ADMIN_SECRET` the admin API and the control panel (and
//! purging and stats), `STATS_SECRET` reading the stats; each variable is a list of accepted
//! values, for rotation without downtime (`scope`: [`Scope`], [`Secrets`]). Every check
//! below is made for one [`Scope`] against the values that prove it.
//!
//! Three forms are accepted:
//!
//! 1. **Bearer**: `Authorization: Bearer <secret>`. The token is compared with every accepted
//!    value in constant time: both are hashed with SHA-256 and the two digests are compared
//!    with a byte fold that never exits early, so neither the content nor the length of a
//!    secret leaks through timing.
//! 2. **Signed** (the secret never travels): two headers,
//!
//!    ```text
//!    X-Rulecache-Timestamp: <unix time in seconds>
//!    X-Rulecache-Signature: v2=<hex HMAC-SHA256>
//!    ```
//!
//!    where the HMAC key is the secret (any accepted value of the scope) and the signed
//!    string is
//!
//!    ```text
//!    "v2" LF METHOD LF host LF path-and-query LF timestamp LF hex(sha256(body))
//!         LF X-Purge-Tags LF X-Purge-Soft LF Surrogate-Key LF Fastly-Soft-Purge
//!    ```
//!
//!    (LF is a single `\n`; METHOD is upper case; host is the request's host in lower case,
//!    with its port when the URL names one, e.g. `www.example.org`; path-and-query is the
//!    request target as sent, e.g. `/_purge?x=1`; the body hash of an empty body is that of
//!    zero bytes; each of the four header lines is that field's values as sent, joined by
//!    `, `, empty when absent: every field that changes what a `PURGE` purges, see
//!    [`PURGE_METHOD_HEADERS`]). A signed request is accepted when its
//!    timestamp is within [`MAX_CLOCK_SKEW_SECS`] of the server's clock, in either
//!    direction, and the same signature has not been accepted before ([`ReplayGuard`], and
//!    across isolates the purge ledger, both comparing the decoded signature bytes).
//!
//!    The older `v1=` form signs `"v1" LF METHOD LF path-and-query LF timestamp LF
//!    hex(sha256(body))`: it covers neither the host nor those header fields, so it is
//!    refused on a request that carries any of the fields.
//!
//!    From a shell (`$HOST` the site's host, `$PURGE_PATH` the endpoint's path and query):
//!
//!    ```text
//!    ts=$(date +%s)
//!    body='{"urls":["/news"]}'
//!    body_hash=$(printf '%s' "$body" | openssl dgst -sha256 | sed 's/^.* //')
//!    sig=$(printf 'v2\nPOST\n%s\n%s\n%s\n%s\n\n\n\n' "$HOST" "$PURGE_PATH" "$ts" "$body_hash" \
//!      | openssl dgst -sha256 -hmac "$PURGE_SECRET" | sed 's/^.* //')
//!    curl -X POST "https://$HOST$PURGE_PATH" -H "X-Rulecache-Timestamp: $ts" \
//!      -H "X-Rulecache-Signature: v2=$sig" --data "$body"
//!    ```
//!
//! 3. **Basic**, for `PURGE` requests only: `Authorization: Basic base64(user ":" secret)`,
//!    any user name, the password compared with the secret as a Bearer token is. This is
//!    what python-requests sends for plone.cachepurging when the caching proxy's URL carries
//!    userinfo (`cachingProxies = ('https://purge:PURGE_SECRET@www.example.org',)`), so
//!    Plone needs no add-on. A Basic header on any other method is not a credential (a
//!    browser's login prompt must not open the admin API).
//!
//! A `Bearer` Authorization header is checked first; otherwise the signature headers; any
//! other Authorization header (e.g. `Basic` for a logged-in user) is ignored when the request
//! is signed. A scope that no configured value proves is off: its requests are answered
//! [`AuthError::NotConfigured`] whatever they present.
//!
//! Here: the credentials and [`authorize`]; `scope`: which secret proves what; `signed`:
//! making and checking signatures; `address`: purgers let in by address
//! ([`authorize_address`]).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::http::{hex, secs, unhex, Headers, Time};

mod address;
mod scope;
mod signed;

pub use address::{authorize_address, AddressRange};
pub use scope::{Scope, SecretList, Secrets};
use signed::check_signed;
pub use signed::{digests_equal, sign, sign_v2, signature_bytes_of};

/// Request header carrying the signing time in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-rulecache-timestamp";
/// Request header carrying `v1=<hex signature>`.
pub const SIGNATURE_HEADER: &str = "x-rulecache-signature";
/// The request fields that change what a `PURGE <url>` purges (read by
/// [`PurgeRequest::from_purge_method`](super::request::PurgeRequest::from_purge_method)); a
/// signed request covers every one of them.
pub const PURGE_METHOD_HEADERS: &[&str] =
    &["x-purge-tags", "x-purge-soft", "surrogate-key", "fastly-soft-purge"];
/// How far a signed request's timestamp may be from the server's clock, either way.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;
/// How many accepted signatures a [`ReplayGuard`] remembers at most.
pub const REPLAY_GUARD_CAPACITY: usize = 4096;

/// Why a request was not authorized. Its [`message`](AuthError::message) never contains the
/// secret or the presented credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No configured value proves the scope: it is off.
    NotConfigured(Scope),
    /// The request carries no credential.
    Missing,
    /// The credential is malformed or does not match the secret.
    Invalid,
    /// The signed request's timestamp is too far from the server's clock.
    Expired,
    /// The same signed request was accepted before.
    Replayed,
}

impl AuthError {
    /// The HTTP status to answer with: 403 when the scope is off, 401 otherwise.
    pub fn status(self) -> u16 {
        match self {
            AuthError::NotConfigured(_) => 403,
            _ => 401,
        }
    }

    /// A plain sentence for the response body.
    pub fn message(self) -> &'static str {
        match self {
            AuthError::NotConfigured(Scope::Purge) => {
                "purging is disabled: neither PURGE_SECRET nor ADMIN_SECRET is configured"
            }
            AuthError::NotConfigured(Scope::Admin) => {
                "the admin API and the control panel are disabled: no ADMIN_SECRET is configured"
            }
            AuthError::NotConfigured(Scope::Read) => {
                "stats are disabled: neither STATS_SECRET nor ADMIN_SECRET is configured"
            }
            AuthError::Missing => {
                "authentication required: send Authorization: Bearer <secret> \
                 or sign the request with X-Rulecache-Timestamp and X-Rulecache-Signature"
            }
            AuthError::Invalid => "the credentials presented are not valid",
            AuthError::Expired => {
                "the signed request's timestamp is more than 300 seconds away from the server's clock"
            }
            AuthError::Replayed => "this signed request was already used: sign each request afresh",
        }
    }
}

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for AuthError {}

/// How a [`Credential`] was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Bearer,
    Signed,
    /// `Authorization: Basic` with the secret as password (PURGE only).
    Basic,
    /// A `PURGE` from an address on the policy's `purge.allowFrom` list.
    Address,
}

/// Proof that a request was authorized for a [`Scope`]. Only [`authorize`] and
/// [`authorize_address`] can make one, and the functions that change state take it as an
/// argument (and check its scope).
#[derive(Debug)]
pub struct Credential {
    scheme: Scheme,
    scope: Scope,
}

impl Credential {
    /// How the request proved itself.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The scope the request was proven for.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Whether this credential allows `scope` (see [`Scope::allows`]).
    pub fn allows(&self, scope: Scope) -> bool {
        self.scope.allows(scope)
    }
}

/// The parts of a request that authentication looks at.
#[derive(Debug, Clone, Copy)]
pub struct AuthInput<'a> {
    pub method: &'a str,
    /// The request target as sent: path and, when present, `?query`.
    pub path_and_query: &'a str,
    pub headers: &'a Headers,
    pub body: &'a [u8],
}

/// Remembers the signatures accepted within the last [`MAX_CLOCK_SKEW_SECS`] window so a
/// captured signed request cannot be sent again. Memory is bounded by
/// [`REPLAY_GUARD_CAPACITY`]: entries whose timestamp has left the window are forgotten
/// (such a request would be refused as expired anyway) and, when full, the entry closest to
/// leaving the window is dropped.
///
/// The guard is per isolate; a replay sent to another isolate is only refused by that
/// isolate's own guard.
#[derive(Debug, Default, Clone)]
pub struct ReplayGuard {
    /// Signature bytes → the request's timestamp in seconds.
    seen: HashMap<Vec<u8>, u64>,
}

impl ReplayGuard {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn forget_expired(&mut self, now_secs: u64) {
        self.seen.retain(|_, ts| ts.saturating_add(MAX_CLOCK_SKEW_SECS) >= now_secs);
    }

    /// Records `signature`; false when it was already recorded.
    fn record(&mut self, signature: &[u8], timestamp: u64, now_secs: u64) -> bool {
        self.forget_expired(now_secs);
        if self.seen.contains_key(signature) {
            return false;
        }
        if self.seen.len() >= REPLAY_GUARD_CAPACITY {
            let oldest = self.seen.iter().min_by_key(|(_, ts)| **ts).map(|(sig, _)| sig.clone());
            if let Some(sig) = oldest {
                self.seen.remove(&sig);
            }
        }
        self.seen.insert(signature.to_vec(), timestamp);
        true
    }
}

/// Checks a request against the configured values that prove `scope`.
pub fn authorize(
    secrets: &Secrets,
    scope: Scope,
    req: &AuthInput<'_>,
    now: Time,
    replay: &mut ReplayGuard,
) -> Result<Credential, AuthError> {
    if !secrets.enables(scope) {
        return Err(AuthError::NotConfigured(scope));
    }
    let authorization = req.headers.get("authorization");
    if let Some(token) = authorization.and_then(bearer_token) {
        return if secrets.proves(scope, token.as_bytes()) {
            Ok(Credential { scheme: Scheme::Bearer, scope })
        } else {
            Err(AuthError::Invalid)
        };
    }
    let timestamp = req.headers.get(TIMESTAMP_HEADER);
    let signature = req.headers.get(SIGNATURE_HEADER);
    let signed = timestamp.is_some() || signature.is_some();
    if let Some(basic) = authorization.and_then(basic_credentials).filter(|_| !signed) {
        if !req.method.eq_ignore_ascii_case("PURGE") || scope != Scope::Purge {
            return Err(AuthError::Invalid);
        }
        let password = basic.ok_or(AuthError::Invalid)?;
        return if secrets.proves(scope, password.trim().as_bytes()) {
            Ok(Credential { scheme: Scheme::Basic, scope })
        } else {
            Err(AuthError::Invalid)
        };
    }
    match (timestamp, signature) {
        (Some(ts), Some(sig)) => check_signed(secrets, scope, req, ts, sig, now, replay),
        (None, None) if authorization.is_none() => Err(AuthError::Missing),
        _ => Err(AuthError::Invalid),
    }
}

/// What the headers alone settle, before any body byte is read. A request is refused here
/// unless its headers could still prove `scope`:
///
/// - the scope off ([`AuthError::NotConfigured`]);
/// - no credential at all ([`AuthError::Missing`]);
/// - a Bearer token, or (for `PURGE` and [`Scope::Purge`] only) a Basic password, that does
///   not prove the scope: both are decided in full here, the body takes no part in them;
///   any other `Authorization` scheme on an unsigned request ([`AuthError::Invalid`]);
/// - signed, but one of the two headers missing, the timestamp not a number, the signature
///   not `v2=`/`v1=` and 32 bytes of hex, or a `v1=` signature on a request carrying a field
///   only `v2=` covers ([`AuthError::Invalid`]); or the timestamp more than
///   [`MAX_CLOCK_SKEW_SECS`] from `now` ([`AuthError::Expired`]).
///
/// `Ok` means the body may be read (at most [`crate::purge::request::MAX_BODY_BYTES`]): the
/// credential is proven already (Bearer, Basic) or a well-formed signature in its window
/// covers the body; [`authorize`] then decides on the exact bytes. Nothing is recorded.
pub fn precheck(
    secrets: &Secrets,
    scope: Scope,
    method: &str,
    headers: &Headers,
    now: Time,
) -> Result<(), AuthError> {
    if !secrets.enables(scope) {
        return Err(AuthError::NotConfigured(scope));
    }
    let authorization = headers.get("authorization");
    if let Some(token) = authorization.and_then(bearer_token) {
        return if secrets.proves(scope, token.as_bytes()) { Ok(()) } else { Err(AuthError::Invalid) };
    }
    let timestamp = headers.get(TIMESTAMP_HEADER);
    let signature = headers.get(SIGNATURE_HEADER);
    match (timestamp, signature) {
        (None, None) => match authorization.and_then(basic_credentials) {
            Some(basic) => {
                if !method.eq_ignore_ascii_case("PURGE") || scope != Scope::Purge {
                    return Err(AuthError::Invalid);
                }
                let password = basic.ok_or(AuthError::Invalid)?;
                if secrets.proves(scope, password.trim().as_bytes()) {
                    Ok(())
                } else {
                    Err(AuthError::Invalid)
                }
            }
            None if authorization.is_none() => Err(AuthError::Missing),
            None => Err(AuthError::Invalid),
        },
        (Some(ts), Some(sig)) => signed::precheck_signed(ts, sig, headers, now),
        _ => Err(AuthError::Invalid),
    }
}

/// True when `headers` carry `Authorization: Bearer <value>` for a value that proves `scope`.
/// For read-only extras such as debug headers (which take [`Scope::Admin`]); it changes
/// nothing and yields no [`Credential`].
pub fn is_authorized_quick(secrets: &Secrets, scope: Scope, headers: &Headers) -> bool {
    secrets.enables(scope)
        && headers
            .get("authorization")
            .and_then(bearer_token)
            .is_some_and(|token| secrets.proves(scope, token.as_bytes()))
}

/// The token of `Bearer <token>` (scheme name case-insensitive); None for other schemes.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
}

/// For `Basic <base64>` (scheme name case-insensitive): the password of `user:password`
/// (`Some(None)` when the value does not decode to that shape); None for other schemes.
/// RFC 7617 §2: "the user-id and password ... separated by a single colon", the user-id
/// containing no colon, so the password is everything after the first one.
fn basic_credentials(authorization: &str) -> Option<Option<String>> {
    use base64::Engine;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(token.trim()).ok();
    let text = decoded.and_then(|bytes| String::from_utf8(bytes).ok());
    Some(text.and_then(|t| t.split_once(':').map(|(_, password)| password.to_string())))
}
