//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::{Headers, Time};
use rulecache::purge::auth::{
    authorize, digests_equal, sign, AuthError, AuthInput, Credential, ReplayGuard, Scheme, Scope, Secrets,
    REPLAY_GUARD_CAPACITY,
};

const SECRET: &str = "s3cret-value";
/// 2023-11-14T22:13:20Z
const TS: u64 = 1_700_000_000;
const NOW: Time = TS * 1000;
const BODY: &[u8] = br#"{"urls":["/news"]}"#;

/// The configured secrets with `secret` (a list's text) as the purge secret only.
fn purge_only(secret: Option<&str>) -> Secrets {
    Secrets::from_vars(secret, None, None)
}

/// A purge checked against `secret` as the purge secret.
fn check(
    secret: Option<&str>,
    method: &str,
    path: &str,
    headers: &Headers,
    body: &[u8],
    now: Time,
) -> Result<Credential, AuthError> {
    let input = AuthInput { method, path_and_query: path, headers, body };
    authorize(&purge_only(secret), Scope::Purge, &input, now, &mut ReplayGuard::new())
}

/// The quick (debug header) check of `headers` with `secret` as the purge secret.
fn is_authorized_quick(secret: Option<&str>, headers: &Headers) -> bool {
    rulecache::purge::auth::is_authorized_quick(&purge_only(secret), Scope::Purge, headers)
}

fn bearer(token: &str) -> Headers {
    Headers::from_pairs([("Authorization", format!("Bearer {token}"))])
}

fn signed(ts: u64, signature: &str) -> Headers {
    Headers::from_pairs([
        ("X-Rulecache-Timestamp", ts.to_string()),
        ("X-Rulecache-Signature", signature.to_owned()),
    ])
}

fn signed_post(ts: u64) -> Headers {
    signed(ts, &sign(SECRET, "POST", "/_purge", ts, BODY))
}

#[test]
fn error_statuses_and_messages_are_pinned() {
    let cases = [
        (
            AuthError::NotConfigured(Scope::Purge),
            403,
            "purging is disabled: neither PURGE_SECRET nor ADMIN_SECRET is configured",
        ),
        (
            AuthError::NotConfigured(Scope::Admin),
            403,
            "the admin API and the control panel are disabled: no ADMIN_SECRET is configured",
        ),
        (
            AuthError::NotConfigured(Scope::Read),
            403,
            "stats are disabled: neither STATS_SECRET nor ADMIN_SECRET is configured",
        ),
        (
            AuthError::Missing,
            401,
            "authentication required: send Authorization: Bearer <secret> or sign the request with \
             X-Rulecache-Timestamp and X-Rulecache-Signature",
        ),
        (AuthError::Invalid, 401, "the credentials presented are not valid"),
        (
            AuthError::Expired,
            401,
            "the signed request's timestamp is more than 300 seconds away from the server's clock",
        ),
        (AuthError::Replayed, 401, "this signed request was already used: sign each request afresh"),
    ];
    for (error, status, message) in cases {
        assert_eq!(error.status(), status, "{error:?}");
        assert_eq!(error.message(), message);
        assert_eq!(error.to_string(), message);
        assert!(!message.contains(SECRET));
    }
}

#[test]
fn no_or_empty_secret_disables_purge_whatever_is_presented() {
    for secret in [None, Some(""), Some("   ")] {
        let result = check(secret, "POST", "/_purge", &bearer(""), b"", NOW);
        assert_eq!(result.err(), Some(AuthError::NotConfigured(Scope::Purge)), "{secret:?}");
        let result = check(secret, "POST", "/_purge", &Headers::new(), b"", NOW);
        assert_eq!(result.err(), Some(AuthError::NotConfigured(Scope::Purge)));
        assert!(!is_authorized_quick(secret, &bearer("")));
    }
}

#[test]
fn a_request_without_credentials_is_missing_them() {
    let headers = Headers::from_pairs([("Cookie", "a=b")]);
    assert_eq!(check(Some(SECRET), "POST", "/_purge", &headers, b"", NOW).err(), Some(AuthError::Missing));
}

#[test]
fn the_right_bearer_token_is_accepted() {
    let credential = check(Some(SECRET), "POST", "/_purge", &bearer(SECRET), b"", NOW);
    assert_eq!(credential.map(|c| c.scheme()), Ok(Scheme::Bearer));
    let lower_case_scheme = Headers::from_pairs([("authorization", format!("bearer {SECRET}"))]);
    assert!(check(Some(SECRET), "GET", "/", &lower_case_scheme, b"", NOW).is_ok());
}

#[test]
fn whitespace_around_the_configured_secret_is_ignored() {
    let configured = format!("{SECRET}\n");
    assert!(check(Some(&configured), "POST", "/_purge", &bearer(SECRET), b"", NOW).is_ok());
}

#[test]
fn wrong_bearer_tokens_are_invalid() {
    let same_length_wrong = "s3cret-valuX";
    let shorter = "s3cret";
    let longer = "s3cret-value-and-more";
    for token in [same_length_wrong, shorter, longer, "S3CRET-VALUE"] {
        let result = check(Some(SECRET), "POST", "/_purge", &bearer(token), b"", NOW);
        assert_eq!(result.err(), Some(AuthError::Invalid), "{token}");
    }
    let basic = Headers::from_pairs([("Authorization", format!("Basic {SECRET}"))]);
    assert_eq!(check(Some(SECRET), "POST", "/_purge", &basic, b"", NOW).err(), Some(AuthError::Invalid));
    let empty = Headers::from_pairs([("Authorization", "Bearer ")]);
    assert_eq!(check(Some(SECRET), "POST", "/_purge", &empty, b"", NOW).err(), Some(AuthError::Invalid));
}

#[test]
fn constant_time_comparison_is_correct() {
    assert!(digests_equal(b"", b""));
    assert!(digests_equal(SECRET.as_bytes(), SECRET.as_bytes()));
    assert!(!digests_equal(b"abc", b"abd"));
    assert!(!digests_equal(b"abc", b"abcd"));
    assert!(!digests_equal(b"", b"a"));
    assert!(!digests_equal(b"xbc", b"abc"));
}

#[test]
fn quick_check_accepts_only_the_right_bearer_token() {
    assert!(is_authorized_quick(Some(SECRET), &bearer(SECRET)));
    assert!(!is_authorized_quick(Some(SECRET), &bearer("nope")));
    assert!(!is_authorized_quick(Some(SECRET), &Headers::new()));
    assert!(!is_authorized_quick(Some(SECRET), &signed_post(TS)));
}

#[test]
fn signatures_match_the_documented_openssl_recipe() {
    // printf 'v1\nPOST\n/_purge?x=1\n1700000000\n<sha256 of body>' | openssl dgst -sha256 -hmac s3cret
    assert_eq!(
        sign("s3cret", "POST", "/_purge?x=1", TS, br#"{"urls":["/news"]}"#),
        "v1=058765dde2a41d2734e18b8a4ac6a87f7150ce39ac14ed61344ca0e6baf19537"
    );
    // An empty body is hashed as zero bytes; the method is upper-cased.
    assert_eq!(
        sign("s3cret", "purge", "/news", TS, b""),
        "v1=6287b19efa71aa20d01d7970bee951e728c7b62f8ee78a1b0fda32e329f5d043"
    );
}

#[test]
fn a_correctly_signed_request_is_accepted() {
    let credential = check(Some(SECRET), "POST", "/_purge", &signed_post(TS), BODY, NOW);
    assert_eq!(credential.map(|c| c.scheme()), Ok(Scheme::Signed));
    let upper_hex = sign(SECRET, "POST", "/_purge", TS, BODY).to_uppercase().replace("V1=", "v1=");
    assert!(check(Some(SECRET), "POST", "/_purge", &signed(TS, &upper_hex), BODY, NOW).is_ok());
}

#[test]
fn a_signed_request_may_carry_another_authorization_scheme() {
    let mut headers = signed_post(TS);
    headers.append("Authorization", "Basic dXNlcjpwYXNz");
    let credential = check(Some(SECRET), "POST", "/_purge", &headers, BODY, NOW);
    assert_eq!(credential.map(|c| c.scheme()), Ok(Scheme::Signed));
}

#[test]
fn a_signature_over_anything_else_is_invalid() {
    let headers = signed_post(TS);
    let invalid = Some(AuthError::Invalid);
    assert_eq!(check(Some(SECRET), "POST", "/_purge", &headers, b"{}", NOW).err(), invalid, "body");
    assert_eq!(check(Some(SECRET), "POST", "/_purge?all", &headers, BODY, NOW).err(), invalid, "path");
    assert_eq!(check(Some(SECRET), "PURGE", "/_purge", &headers, BODY, NOW).err(), invalid, "method");
    assert_eq!(check(Some("other"), "POST", "/_purge", &headers, BODY, NOW).err(), invalid, "secret");
    let other_ts = signed(TS + 1, &sign(SECRET, "POST", "/_purge", TS, BODY));
    assert_eq!(check(Some(SECRET), "POST", "/_purge", &other_ts, BODY, NOW).err(), invalid, "timestamp");
}

#[test]
fn malformed_signed_headers_are_invalid() {
    let good = sign(SECRET, "POST", "/_purge", TS, BODY);
    let hex = good.trim_start_matches("v1=");
    let malformed = [
        Headers::from_pairs([("X-Rulecache-Timestamp", TS.to_string())]),
        Headers::from_pairs([("X-Rulecache-Signature", good.clone())]),
        signed(TS, hex),
        signed(TS, &format!("v2={hex}")),
        signed(TS, "v1=zz"),
        signed(TS, "v1=abc"),
        signed(TS, &format!("v1={}", &hex[..62])),
        Headers::from_pairs([("X-Rulecache-Timestamp", "soon"), ("X-Rulecache-Signature", good.as_str())]),
        Headers::from_pairs([("X-Rulecache-Timestamp", "-5"), ("X-Rulecache-Signature", good.as_str())]),
    ];
    for headers in malformed {
        assert_eq!(
            check(Some(SECRET), "POST", "/_purge", &headers, BODY, NOW).err(),
            Some(AuthError::Invalid),
            "{headers:?}"
        );
    }
}

#[test]
fn a_signed_request_expires_300_seconds_either_side_of_now() {
    for ts in [TS - 300, TS + 300] {
        assert!(check(Some(SECRET), "POST", "/_purge", &signed_post(ts), BODY, NOW).is_ok(), "{ts}");
    }
    for ts in [TS - 301, TS + 301, 0] {
        let result = check(Some(SECRET), "POST", "/_purge", &signed_post(ts), BODY, NOW);
        assert_eq!(result.err(), Some(AuthError::Expired), "{ts}");
    }
}

#[test]
fn a_signed_request_is_accepted_once() {
    let mut guard = ReplayGuard::new();
    let headers = signed_post(TS);
    let input = AuthInput { method: "POST", path_and_query: "/_purge", headers: &headers, body: BODY };
    let secrets = purge_only(Some(SECRET));
    let mut auth =
        |input: &AuthInput<'_>, now: Time| authorize(&secrets, Scope::Purge, input, now, &mut guard);
    assert!(auth(&input, NOW).is_ok());
    assert_eq!(auth(&input, NOW + 1_000).err(), Some(AuthError::Replayed));
    // Once out of the window it is refused as expired, and the guard has forgotten it.
    assert_eq!(auth(&input, NOW + 301_000).err(), Some(AuthError::Expired));
    // A fresh signature for the same purge is fine.
    let again = signed_post(TS + 1);
    let input = AuthInput { headers: &again, ..input };
    assert!(auth(&input, NOW + 1_000).is_ok());
}

#[test]
fn bearer_requests_do_not_fill_the_replay_guard() {
    let mut guard = ReplayGuard::new();
    let headers = bearer(SECRET);
    let input = AuthInput { method: "POST", path_and_query: "/_purge", headers: &headers, body: b"" };
    let secrets = purge_only(Some(SECRET));
    assert!(authorize(&secrets, Scope::Purge, &input, NOW, &mut guard).is_ok());
    assert!(authorize(&secrets, Scope::Purge, &input, NOW, &mut guard).is_ok());
    assert!(guard.is_empty());
}

#[test]
fn the_replay_guard_forgets_old_signatures_and_stays_bounded() {
    let mut guard = ReplayGuard::new();
    let secrets = purge_only(Some(SECRET));
    for i in 0..(REPLAY_GUARD_CAPACITY + 10) {
        let path = format!("/_purge?n={i}");
        let headers = signed(TS, &sign(SECRET, "POST", &path, TS, b""));
        let input = AuthInput { method: "POST", path_and_query: &path, headers: &headers, body: b"" };
        assert!(authorize(&secrets, Scope::Purge, &input, NOW, &mut guard).is_ok());
    }
    assert_eq!(guard.len(), REPLAY_GUARD_CAPACITY);

    let later = TS + 301;
    let headers = signed(later, &sign(SECRET, "POST", "/_purge", later, b""));
    let input = AuthInput { method: "POST", path_and_query: "/_purge", headers: &headers, body: b"" };
    assert!(authorize(&secrets, Scope::Purge, &input, later * 1000, &mut guard).is_ok());
    assert_eq!(guard.len(), 1);
}

fn v2_headers(ts: u64, host: &str, extra: &[(&str, &str)]) -> Headers {
    let mut h = Headers::from_pairs(extra.iter().copied());
    h.set("host", host);
    let sig = rulecache::purge::auth::sign_v2(SECRET, "PURGE", "/news", ts, b"", &h);
    h.set("x-rulecache-timestamp", ts.to_string());
    h.set("x-rulecache-signature", sig);
    h
}

#[test]
fn a_v2_signature_covers_the_host_and_every_field_that_changes_a_purge() {
    let ok = v2_headers(TS, "www.example.org", &[("x-purge-tags", "a, b"), ("x-purge-soft", "1")]);
    assert!(check(Some(SECRET), "PURGE", "/news", &ok, b"", NOW).is_ok());
    for (name, value) in [
        ("host", "other.example.org"),
        ("x-purge-tags", "a, b, everything"),
        ("x-purge-soft", "0"),
        ("surrogate-key", "more"),
        ("fastly-soft-purge", "1"),
    ] {
        let mut tampered = ok.clone();
        tampered.set(name, value);
        assert_eq!(
            check(Some(SECRET), "PURGE", "/news", &tampered, b"", NOW).err(),
            Some(AuthError::Invalid),
            "{name}"
        );
    }
    let mut dropped = ok.clone();
    dropped.remove("x-purge-soft");
    assert_eq!(check(Some(SECRET), "PURGE", "/news", &dropped, b"", NOW).err(), Some(AuthError::Invalid));
}

#[test]
fn a_v1_signature_is_refused_when_a_purge_field_it_does_not_cover_is_sent() {
    let v1 = sign(SECRET, "PURGE", "/news", TS, b"");
    let plain = signed(TS, &v1);
    assert!(check(Some(SECRET), "PURGE", "/news", &plain, b"", NOW).is_ok());
    let mut with_tags = plain.clone();
    with_tags.set("x-purge-tags", "everything");
    assert_eq!(check(Some(SECRET), "PURGE", "/news", &with_tags, b"", NOW).err(), Some(AuthError::Invalid));
}

#[test]
fn the_ledger_nonce_is_the_decoded_signature_in_either_case() {
    let sig = sign(SECRET, "POST", "/_purge", TS, BODY);
    let lower = signed(TS, &sig);
    let upper = signed(TS, &sig.to_uppercase().replace("V1=", "v1="));
    let bytes = rulecache::purge::auth::signature_bytes_of(&lower);
    assert_eq!(bytes.as_ref().map(Vec::len), Some(32));
    assert_eq!(bytes, rulecache::purge::auth::signature_bytes_of(&upper));
    assert_eq!(rulecache::purge::auth::signature_bytes_of(&signed(TS, "v1=zz")), None);
}

fn basic(user_and_password: &str) -> Headers {
    use std::fmt::Write;
    // base64 by hand, so the test does not share the decoder it checks
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = user_and_password.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                let _ = write!(out, "{}", ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    Headers::from_pairs([("Authorization", format!("Basic {out}"))])
}

#[test]
fn plone_cachepurging_basic_credentials_prove_a_purge_with_the_secret_as_password() {
    // python-requests' header for cachingProxies = ('https://purge:SECRET@www.example.org',)
    let ok = check(Some(SECRET), "PURGE", "/Plone/doc1", &basic(&format!("purge:{SECRET}")), b"", NOW);
    assert_eq!(ok.map(|c| c.scheme()), Ok(Scheme::Basic));
    // any user name; a password with a colon is kept whole (RFC 7617: split at the first)
    assert!(check(Some("a:b"), "PURGE", "/x", &basic("anyone:a:b"), b"", NOW).is_ok());
    for bad in [format!("purge:{SECRET}x"), "purge:".to_owned(), SECRET.to_owned(), format!("{SECRET}:purge")]
    {
        let r = check(Some(SECRET), "PURGE", "/x", &basic(&bad), b"", NOW);
        assert_eq!(r.err(), Some(AuthError::Invalid), "{bad}");
    }
    let garbage = Headers::from_pairs([("Authorization", "Basic ***not base64***")]);
    assert_eq!(check(Some(SECRET), "PURGE", "/x", &garbage, b"", NOW).err(), Some(AuthError::Invalid));
    // never for the admin API, and never as the quick debug check
    let admin =
        check(Some(SECRET), "POST", "/_rulecache/api/purge", &basic(&format!("purge:{SECRET}")), BODY, NOW);
    assert_eq!(admin.err(), Some(AuthError::Invalid));
    let headers = basic(&format!("purge:{SECRET}"));
    let input = AuthInput { method: "PURGE", path_and_query: "/x", headers: &headers, body: b"" };
    let both = Secrets::from_vars(Some(SECRET), Some(SECRET), Some(SECRET));
    for scope in [Scope::Admin, Scope::Read] {
        let r = authorize(&both, scope, &input, NOW, &mut ReplayGuard::new());
        assert_eq!(r.err(), Some(AuthError::Invalid), "{scope:?}");
    }
    assert!(!is_authorized_quick(Some(SECRET), &basic(&format!("purge:{SECRET}"))));
    // a logged-in user's Basic header beside a valid signature does not get in the way
    let mut h = signed(TS, &sign(SECRET, "PURGE", "/x", TS, b""));
    h.set("authorization", basic("alice:alice").get("authorization").unwrap_or_default());
    assert_eq!(check(Some(SECRET), "PURGE", "/x", &h, b"", NOW).map(|c| c.scheme()), Ok(Scheme::Signed));
}

#[test]
fn an_allowed_address_may_purge_without_a_secret_but_only_with_purge() {
    use rulecache::purge::auth::{authorize_address, AddressRange};
    let allowed: Vec<AddressRange> = ["203.0.113.7", "2001:db8::/32", "198.51.100.0/24"]
        .iter()
        .filter_map(|a| AddressRange::parse(a))
        .collect();
    assert_eq!(allowed.len(), 3);
    for ip in ["203.0.113.7", "2001:db8::1", "198.51.100.200", "::ffff:203.0.113.7"] {
        let c = authorize_address("PURGE", Some(ip), &allowed).map(|c| c.scheme());
        assert_eq!(c, Some(Scheme::Address), "{ip}");
    }
    for ip in
        [Some("203.0.113.8"), Some("2001:db9::1"), Some("198.51.101.1"), Some("not an ip"), Some(""), None]
    {
        assert!(authorize_address("PURGE", ip, &allowed).is_none(), "{ip:?}");
    }
    assert!(authorize_address("POST", Some("203.0.113.7"), &allowed).is_none());
    assert!(authorize_address("PURGE", Some("203.0.113.7"), &[]).is_none());
    for bad in ["203.0.113.7/33", "2001:db8::/129", "x", "10.0.0.0/", "10.0.0.0/a", "1.2.3.4/-1"] {
        assert!(AddressRange::parse(bad).is_none(), "{bad}");
    }
    let everything = AddressRange::parse("0.0.0.0/0")
        .map(|r| r.contains("192.0.2.1".parse().unwrap_or([0, 0, 0, 0].into())));
    assert_eq!(everything, Some(true));
}
