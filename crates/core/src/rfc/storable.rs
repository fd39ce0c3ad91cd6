//! May this shared cache store a response? RFC 9111 §3, with the edge policy's say.
//!
//! "Not stored" is a value with a reason ([`NotStored`]), shown in `Cache-Status` as the
//! `detail` of a response that was forwarded but not stored.

use crate::http::{RequestHead, ResponseHead};
use crate::rfc::cache_control::{self, CacheControl};
use crate::rfc::freshness::is_heuristically_cacheable;
use crate::rfc::freshness::EdgeStorage;

/// Why a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotStored {
    /// The request method is not GET (HEAD is answered from a stored GET, never stored).
    Method,
    /// The status is not final (1xx), is 304, or is otherwise not one we store.
    Status,
    /// A partial response (206) or a response to a Range request.
    Partial,
    /// `no-store` in the response.
    NoStore,
    /// `no-store` in the request (the client's own answer is not stored; nothing says the
    /// resource cannot be).
    RequestNoStore,
    /// Unqualified `private`.
    Private,
    /// The response sets a cookie.
    SetCookie,
    /// The request carries credentials and the response does not allow shared caching.
    Authorization,
    /// `Vary: *`: a stored copy could never be selected.
    VaryStar,
    /// Nothing says how long it stays fresh and nothing would make it reusable.
    NoFreshness,
    /// `must-understand` with a status code this cache does not understand.
    MustUnderstand,
    /// The edge policy said not to store it.
    Policy,
}

impl NotStored {
    /// Whether the refusal is about the response (and so about the resource), not about the
    /// request that fetched it: a method, a client's `no-store`, a range or credentials say
    /// who asked and how, not whether the resource can be stored.
    pub fn is_about_response(&self) -> bool {
        !matches!(
            self,
            NotStored::Method | NotStored::RequestNoStore | NotStored::Partial | NotStored::Authorization
        )
    }

    /// The token for `Cache-Status: …; detail=<token>`.
    pub fn as_str(&self) -> &'static str {
        match self {
            NotStored::Method => "method",
            NotStored::Status => "status",
            NotStored::Partial => "partial",
            NotStored::NoStore => "no-store",
            NotStored::RequestNoStore => "request-no-store",
            NotStored::Private => "private",
            NotStored::SetCookie => "set-cookie",
            NotStored::Authorization => "authorization",
            NotStored::VaryStar => "vary-star",
            NotStored::NoFreshness => "no-freshness",
            NotStored::MustUnderstand => "must-understand",
            NotStored::Policy => "policy",
        }
    }
}

/// Status codes whose caching requirements this cache understands (those RFC 9110 defines),
/// for `must-understand` (RFC 9111 §5.2.2.3).
pub fn understands_status(status: u16) -> bool {
    matches!(status, 200..=206 | 300..=305 | 307 | 308 | 400..=417 | 421 | 422 | 426 | 500..=505)
}

/// Checks whether `resp`, received for `req`, may be stored by this shared cache.
///
/// `authenticated` is true when the request is authenticated by other means than
/// `Authorization` (e.g. a login cookie); it is treated like `Authorization` (§3.5).
///
/// With `EdgeStorage::Store { .. }` the policy supplies the lifetime, so the explicit
/// freshness requirement and the §3.5 credentials rule are skipped (the policy keys
/// authenticated requests apart); `Set-Cookie`, `private`, `no-store`, `Vary: *`, non-GET,
/// non-final and partial responses are still refused. With `DontStore` nothing is stored.
///
/// When the response has a valid RFC 9213 targeted field, its directives replace
/// `Cache-Control` and `Expires` is ignored.
pub fn check(
    req: &RequestHead,
    authenticated: bool,
    resp: &ResponseHead,
    storage: EdgeStorage,
) -> Result<(), NotStored> {
    // §3: "the request method is understood by the cache" — we store GET only.
    if req.method != crate::http::Method::Get {
        return Err(NotStored::Method);
    }
    if storage == EdgeStorage::DontStore {
        return Err(NotStored::Policy);
    }
    // §3.3/§3.4 allow storing and combining partial content; this cache does not.
    if resp.status == 206 || req.headers.contains("range") {
        return Err(NotStored::Partial);
    }
    // §3: "the response status code is final (see Section 15 of [HTTP])". A 304 updates a
    // stored response (§4.3.4) and is never stored itself.
    if !(200..=599).contains(&resp.status) || resp.status == 304 {
        return Err(NotStored::Status);
    }
    let (cc, is_targeted) = cache_control::effective(&resp.headers);
    let cc = cc.unwrap_or_default();
    check_directives(req, resp, &cc)?;
    // Never store a response that sets a cookie for shared use: it belongs to one client.
    // Unless the origin itself names Set-Cookie in a qualified private or no-cache, which
    // drops the field from the stored copy (§5.2.2.4, §5.2.2.7; `hop::prepare_for_storage`).
    if resp.headers.contains("set-cookie") && !names_field(&cc, "set-cookie") {
        return Err(NotStored::SetCookie);
    }
    // §4.1: "A stored response with a Vary header field value containing a member "*" always
    // fails to match."
    if resp.headers.list("vary").any(|v| v == "*") {
        return Err(NotStored::VaryStar);
    }
    if let EdgeStorage::Store { .. } = storage {
        return Ok(());
    }
    check_credentials(req, authenticated, &cc)?;
    check_freshness(resp, &cc, is_targeted)
}

/// True when a qualified `private` or `no-cache` names `field`.
fn names_field(cc: &CacheControl, field: &str) -> bool {
    [&cc.private, &cc.no_cache].into_iter().flatten().any(|scope| scope.fields().iter().any(|f| f == field))
}

fn check_directives(req: &RequestHead, resp: &ResponseHead, cc: &CacheControl) -> Result<(), NotStored> {
    // §5.2.1.5: "The no-store request directive indicates that a cache MUST NOT store any part
    // of either this request or any response to it."
    let request_cc = CacheControl::from_headers(&req.headers, "cache-control").unwrap_or_default();
    if request_cc.no_store {
        return Err(NotStored::RequestNoStore);
    }
    if cc.must_understand {
        // §5.2.2.3: "a cache MUST NOT store the response if it doesn't understand the status
        // code"; one that does "MAY store it even if no-store is present" (§3: "if the
        // must-understand cache directive is present, the cache understands the response
        // status code").
        if !understands_status(resp.status) {
            return Err(NotStored::MustUnderstand);
        }
    } else if cc.no_store {
        // §3: "the no-store cache directive is not present in the response".
        return Err(NotStored::NoStore);
    }
    // §3: "if the cache is shared: the private response directive is either not present or
    // allows a shared cache to store a modified response". A qualified private is handled by
    // dropping the named fields (`hop::prepare_for_storage`).
    if cc.private_all() {
        return Err(NotStored::Private);
    }
    Ok(())
}

/// §3.5: "A shared cache MUST NOT use a cached response to a request with an Authorization
/// header field (Section 11.6.2 of \[HTTP\]) to satisfy any subsequent request unless the
/// response contains a Cache-Control field with a response directive (Section 5.2.2) that
/// allows it to be stored by a shared cache", i.e. must-revalidate, public or s-maxage.
fn check_credentials(req: &RequestHead, authenticated: bool, cc: &CacheControl) -> Result<(), NotStored> {
    let has_credentials = authenticated || req.headers.contains("authorization");
    if has_credentials && !(cc.must_revalidate || cc.public || cc.s_maxage.is_some()) {
        return Err(NotStored::Authorization);
    }
    Ok(())
}

/// §3: the response contains at least one of "a public response directive", "an Expires
/// header field", "a max-age response directive", "if the cache is shared: an s-maxage
/// response directive", "a status code that is defined as heuristically cacheable". For the
/// last we also require something that makes a stored copy usable: a `Last-Modified` for a
/// heuristic lifetime, or a validator to revalidate it with.
fn check_freshness(resp: &ResponseHead, cc: &CacheControl, is_targeted: bool) -> Result<(), NotStored> {
    let expires = !is_targeted && resp.headers.contains("expires");
    if cc.public || cc.max_age.is_some() || cc.s_maxage.is_some() || expires {
        return Ok(());
    }
    let usable = resp.headers.contains("last-modified") || resp.headers.contains("etag");
    if is_heuristically_cacheable(resp.status) && usable {
        return Ok(());
    }
    Err(NotStored::NoFreshness)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::disallowed_methods)]
mod tests {
    use super::*;
    use crate::http::Headers;

    fn get(pairs: &[(&str, &str)]) -> RequestHead {
        RequestHead::new(
            "GET",
            crate::http::parse_url("https://example.org/a").unwrap(),
            Headers::from_pairs(pairs.iter().copied()),
        )
    }

    fn resp(status: u16, pairs: &[(&str, &str)]) -> ResponseHead {
        ResponseHead::new(status, Headers::from_pairs(pairs.iter().copied()))
    }

    const ORIGIN: EdgeStorage = EdgeStorage::HonourOrigin;
    const STORE: EdgeStorage = EdgeStorage::Store { ttl: 60, stale_while_revalidate: 0, stale_if_error: 0 };

    fn check_origin(req: &RequestHead, r: &ResponseHead) -> Result<(), NotStored> {
        check(req, false, r, ORIGIN)
    }

    #[test]
    fn reasons_have_stable_tokens() {
        let all = [
            (NotStored::Method, "method"),
            (NotStored::Status, "status"),
            (NotStored::Partial, "partial"),
            (NotStored::NoStore, "no-store"),
            (NotStored::RequestNoStore, "request-no-store"),
            (NotStored::Private, "private"),
            (NotStored::SetCookie, "set-cookie"),
            (NotStored::Authorization, "authorization"),
            (NotStored::VaryStar, "vary-star"),
            (NotStored::NoFreshness, "no-freshness"),
            (NotStored::MustUnderstand, "must-understand"),
            (NotStored::Policy, "policy"),
        ];
        for (reason, token) in all {
            assert_eq!(reason.as_str(), token);
        }
    }

    #[test]
    fn only_get_is_stored() {
        let r = resp(200, &[("cache-control", "max-age=60")]);
        let mut req = get(&[]);
        assert_eq!(check_origin(&req, &r), Ok(()));
        for m in ["HEAD", "POST", "PUT"] {
            req.method = m.into();
            assert_eq!(check_origin(&req, &r), Err(NotStored::Method));
        }
    }

    #[test]
    fn non_final_not_modified_and_partial_statuses_are_refused() {
        let cc = [("cache-control", "max-age=60")];
        assert_eq!(check_origin(&get(&[]), &resp(103, &cc)), Err(NotStored::Status));
        assert_eq!(check_origin(&get(&[]), &resp(304, &cc)), Err(NotStored::Status));
        assert_eq!(check_origin(&get(&[]), &resp(206, &cc)), Err(NotStored::Partial));
        assert_eq!(check_origin(&get(&[("range", "bytes=0-1")]), &resp(200, &cc)), Err(NotStored::Partial));
        assert_eq!(check(&get(&[]), false, &resp(206, &cc), STORE), Err(NotStored::Partial));
    }

    #[test]
    fn no_store_in_request_or_response() {
        let r = resp(200, &[("cache-control", "max-age=60")]);
        assert_eq!(check_origin(&get(&[("cache-control", "no-store")]), &r), Err(NotStored::RequestNoStore));
        let r = resp(200, &[("cache-control", "max-age=60, no-store")]);
        assert_eq!(check_origin(&get(&[]), &r), Err(NotStored::NoStore));
        assert_eq!(check(&get(&[]), false, &r, STORE), Err(NotStored::NoStore));
    }

    #[test]
    fn must_understand_overrides_no_store_for_understood_statuses() {
        let cc = [("cache-control", "max-age=60, no-store, must-understand")];
        assert_eq!(check_origin(&get(&[]), &resp(200, &cc)), Ok(()));
        assert_eq!(check_origin(&get(&[]), &resp(299, &cc)), Err(NotStored::MustUnderstand));
    }

    #[test]
    fn private_unqualified_is_refused_qualified_is_stored() {
        let r = resp(200, &[("cache-control", "max-age=60, private")]);
        assert_eq!(check_origin(&get(&[]), &r), Err(NotStored::Private));
        assert_eq!(check(&get(&[]), false, &r, STORE), Err(NotStored::Private));
        let r = resp(200, &[("cache-control", "max-age=60, private=\"x-user\"")]);
        assert_eq!(check_origin(&get(&[]), &r), Ok(()));
    }

    #[test]
    fn set_cookie_and_vary_star_are_never_stored() {
        let r = resp(200, &[("cache-control", "public, max-age=60"), ("set-cookie", "a=b")]);
        assert_eq!(check(&get(&[]), false, &r, STORE), Err(NotStored::SetCookie));
        let r = resp(200, &[("cache-control", "max-age=60, no-cache=\"Set-Cookie\""), ("set-cookie", "a=b")]);
        assert_eq!(check(&get(&[]), false, &r, ORIGIN), Ok(()));
        let r = resp(200, &[("cache-control", "max-age=60"), ("vary", "Accept, *")]);
        assert_eq!(check(&get(&[]), false, &r, STORE), Err(NotStored::VaryStar));
    }

    #[test]
    fn credentials_need_an_explicit_shared_permission() {
        let auth = get(&[("authorization", "Basic eA==")]);
        let plain = resp(200, &[("cache-control", "max-age=60")]);
        assert_eq!(check_origin(&auth, &plain), Err(NotStored::Authorization));
        assert_eq!(check(&get(&[]), true, &plain, ORIGIN), Err(NotStored::Authorization));
        for cc in ["max-age=60, public", "s-maxage=60", "max-age=60, must-revalidate"] {
            assert_eq!(check_origin(&auth, &resp(200, &[("cache-control", cc)])), Ok(()), "{cc}");
        }
        assert_eq!(check(&auth, true, &plain, STORE), Ok(()));
    }

    #[test]
    fn explicit_freshness_or_a_useful_heuristic_status() {
        assert_eq!(check_origin(&get(&[]), &resp(200, &[])), Err(NotStored::NoFreshness));
        assert_eq!(check_origin(&get(&[]), &resp(200, &[("etag", "\"a\"")])), Ok(()));
        assert_eq!(
            check_origin(&get(&[]), &resp(404, &[("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT")])),
            Ok(())
        );
        assert_eq!(check_origin(&get(&[]), &resp(302, &[("etag", "\"a\"")])), Err(NotStored::NoFreshness));
        assert_eq!(check_origin(&get(&[]), &resp(302, &[("expires", "0")])), Ok(()));
        assert_eq!(check_origin(&get(&[]), &resp(500, &[("cache-control", "public")])), Ok(()));
        assert_eq!(check(&get(&[]), false, &resp(500, &[]), STORE), Ok(()));
    }

    #[test]
    fn policy_can_refuse_storage() {
        let r = resp(200, &[("cache-control", "max-age=60")]);
        assert_eq!(check(&get(&[]), false, &r, EdgeStorage::DontStore), Err(NotStored::Policy));
    }

    #[test]
    fn the_targeted_field_replaces_cache_control_and_expires() {
        let r = resp(200, &[("cache-control", "no-store"), ("cdn-cache-control", "max-age=60")]);
        assert_eq!(check_origin(&get(&[]), &r), Ok(()));
        let r = resp(200, &[("cache-control", "max-age=60"), ("cdn-cache-control", "no-store")]);
        assert_eq!(check_origin(&get(&[]), &r), Err(NotStored::NoStore));
        let r = resp(302, &[("expires", "0"), ("cdn-cache-control", "no-transform")]);
        assert_eq!(check_origin(&get(&[]), &r), Err(NotStored::NoFreshness));
    }
}
