//! Scoped secrets: `PURGE_SECRET` purges and nothing else, `ADMIN_SECRET` opens the admin API
//! (and may purge and read), `STATS_SECRET` reads the stats; each is a list of values so
//! rotation needs no downtime; an empty list turns its scope off.
//!
//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::{Headers, Time};
use rulecache::purge::auth::{
    authorize, authorize_address, is_authorized_quick, precheck, sign, AddressRange, AuthError, AuthInput,
    ReplayGuard, Scheme, Scope, SecretList, Secrets,
};

const PURGE: &str = "purge-value-0123";
const ADMIN: &str = "admin-value-4567";
const STATS: &str = "stats-value-89ab";
const TS: u64 = 1_700_000_000;
const NOW: Time = TS * 1000;

fn secrets() -> Secrets {
    Secrets::from_vars(Some(PURGE), Some(ADMIN), Some(STATS))
}

fn bearer(token: &str) -> Headers {
    Headers::from_pairs([("Authorization", format!("Bearer {token}"))])
}

/// `Bearer token` presented for `scope` (a POST to the admin API, a PURGE for the purge scope).
fn bearer_for(secrets: &Secrets, scope: Scope, token: &str) -> Result<Scheme, AuthError> {
    let headers = bearer(token);
    let method = if scope == Scope::Purge { "PURGE" } else { "POST" };
    let input =
        AuthInput { method, path_and_query: "/_rulecache/api/policy", headers: &headers, body: b"{}" };
    authorize(secrets, scope, &input, NOW, &mut ReplayGuard::new()).map(|c| c.scheme())
}

#[test]
fn the_purge_secret_purges_and_opens_nothing_else() {
    let s = secrets();
    assert_eq!(bearer_for(&s, Scope::Purge, PURGE), Ok(Scheme::Bearer));
    assert_eq!(bearer_for(&s, Scope::Admin, PURGE), Err(AuthError::Invalid));
    assert_eq!(bearer_for(&s, Scope::Read, PURGE), Err(AuthError::Invalid));
    assert!(!s.proves(Scope::Admin, PURGE.as_bytes()));
    assert!(!s.proves(Scope::Read, PURGE.as_bytes()));
    assert_eq!(precheck(&s, Scope::Admin, "POST", &bearer(PURGE), NOW), Err(AuthError::Invalid));
    // Debug headers take the admin scope: the purge secret does not turn them on.
    assert!(!is_authorized_quick(&s, Scope::Admin, &bearer(PURGE)));
}

#[test]
fn the_admin_secret_opens_the_admin_api_and_may_purge_and_read() {
    let s = secrets();
    for scope in Scope::ALL {
        assert_eq!(bearer_for(&s, scope, ADMIN), Ok(Scheme::Bearer), "{scope:?}");
        assert!(s.proves(scope, ADMIN.as_bytes()), "{scope:?}");
        assert_eq!(precheck(&s, scope, "POST", &bearer(ADMIN), NOW), Ok(()), "{scope:?}");
    }
    assert!(is_authorized_quick(&s, Scope::Admin, &bearer(ADMIN)));
}

#[test]
fn the_stats_secret_reads_only() {
    let s = secrets();
    assert_eq!(bearer_for(&s, Scope::Read, STATS), Ok(Scheme::Bearer));
    assert_eq!(bearer_for(&s, Scope::Purge, STATS), Err(AuthError::Invalid));
    assert_eq!(bearer_for(&s, Scope::Admin, STATS), Err(AuthError::Invalid));
}

#[test]
fn a_credential_knows_its_scope_and_only_admin_allows_more() {
    let s = secrets();
    let headers = bearer(ADMIN);
    let input = AuthInput { method: "POST", path_and_query: "/x", headers: &headers, body: b"" };
    let admin = authorize(&s, Scope::Admin, &input, NOW, &mut ReplayGuard::new()).expect("admin");
    assert_eq!(admin.scope(), Scope::Admin);
    assert!(Scope::ALL.iter().all(|&scope| admin.allows(scope)));
    let headers = bearer(STATS);
    let input = AuthInput { headers: &headers, ..input };
    let read = authorize(&s, Scope::Read, &input, NOW, &mut ReplayGuard::new()).expect("read");
    assert!(read.allows(Scope::Read) && !read.allows(Scope::Purge) && !read.allows(Scope::Admin));
    let allowed: Vec<AddressRange> = AddressRange::parse("203.0.113.7").into_iter().collect();
    let address = authorize_address("PURGE", Some("203.0.113.7"), &allowed).expect("allowed address");
    assert_eq!(address.scope(), Scope::Purge);
    assert!(!address.allows(Scope::Admin) && !address.allows(Scope::Read));
}

#[test]
fn a_read_credential_cannot_make_purge_targets() {
    let s = secrets();
    let headers = bearer(STATS);
    let input = AuthInput { method: "GET", path_and_query: "/x", headers: &headers, body: b"" };
    let read = authorize(&s, Scope::Read, &input, NOW, &mut ReplayGuard::new()).expect("read");
    let base = rulecache::http::parse_url("https://www.example.org/").expect("a base URL");
    let purge = rulecache::purge::request::PurgeRequest::from_json(br#"{"urls":["/news"]}"#).expect("valid");
    let opts = rulecache::storage::key::KeyOptions::default();
    let targets = purge.targets(&read, &base, &[], |u| rulecache::storage::key::primary_key(u, &opts));
    assert!(targets.is_err());
}

#[test]
fn each_list_takes_several_values_so_rotation_needs_no_downtime() {
    let s =
        Secrets::from_vars(Some("old-purge, new-purge"), Some("old-admin\nnew-admin"), Some(" r1 ,\tr2 "));
    for token in ["old-purge", "new-purge"] {
        assert_eq!(bearer_for(&s, Scope::Purge, token), Ok(Scheme::Bearer), "{token}");
        assert_eq!(bearer_for(&s, Scope::Admin, token), Err(AuthError::Invalid), "{token}");
    }
    for token in ["old-admin", "new-admin"] {
        assert_eq!(bearer_for(&s, Scope::Admin, token), Ok(Scheme::Bearer), "{token}");
    }
    for token in ["r1", "r2"] {
        assert_eq!(bearer_for(&s, Scope::Read, token), Ok(Scheme::Bearer), "{token}");
    }
    // The separators are not part of a value, and a list is not one value.
    for token in ["old-purge,", "old-purge, new-purge", "old-purge new-purge", ",", ""] {
        assert_eq!(bearer_for(&s, Scope::Purge, token), Err(AuthError::Invalid), "{token:?}");
    }
    assert_eq!(SecretList::parse(" a,, b\n\tc ,").len(), 3);
    assert!(SecretList::parse(" , \n").is_empty());
    // A signed request under either purge value, and Basic (plone.cachepurging) likewise.
    for key in ["old-purge", "new-purge"] {
        let headers = Headers::from_pairs([
            ("X-Rulecache-Timestamp", TS.to_string()),
            ("X-Rulecache-Signature", sign(key, "POST", "/_purge", TS, b"{}")),
        ]);
        let input = AuthInput { method: "POST", path_and_query: "/_purge", headers: &headers, body: b"{}" };
        let r = authorize(&s, Scope::Purge, &input, NOW, &mut ReplayGuard::new());
        assert_eq!(r.map(|c| c.scheme()), Ok(Scheme::Signed), "{key}");
        let r = authorize(&s, Scope::Admin, &input, NOW, &mut ReplayGuard::new());
        assert_eq!(r.err(), Some(AuthError::Invalid), "{key} signs no admin call");
    }
}

#[test]
fn an_empty_list_turns_its_scope_off_whatever_is_presented() {
    for empty in [None, Some(""), Some("  "), Some(" , ,\n")] {
        let s = Secrets::from_vars(Some(PURGE), empty, None);
        assert!(!s.enables(Scope::Admin), "{empty:?}");
        assert!(!s.enables(Scope::Read), "{empty:?}");
        assert!(s.enables(Scope::Purge));
        for token in [PURGE, ADMIN, "", " "] {
            assert_eq!(bearer_for(&s, Scope::Admin, token), Err(AuthError::NotConfigured(Scope::Admin)));
            assert_eq!(bearer_for(&s, Scope::Read, token), Err(AuthError::NotConfigured(Scope::Read)));
            assert!(!is_authorized_quick(&s, Scope::Admin, &bearer(token)));
        }
        assert_eq!(
            precheck(&s, Scope::Admin, "POST", &Headers::new(), NOW),
            Err(AuthError::NotConfigured(Scope::Admin))
        );
        // No purge secret: purging is off unless the admin secret is set (admin may purge).
        let s = Secrets::from_vars(empty, None, None);
        assert_eq!(bearer_for(&s, Scope::Purge, PURGE), Err(AuthError::NotConfigured(Scope::Purge)));
        let s = Secrets::from_vars(empty, Some(ADMIN), None);
        assert_eq!(bearer_for(&s, Scope::Purge, ADMIN), Ok(Scheme::Bearer));
        assert_eq!(bearer_for(&s, Scope::Purge, PURGE), Err(AuthError::Invalid));
    }
    // An allowed address still purges with no secret at all, and only with PURGE.
    let allowed: Vec<AddressRange> = AddressRange::parse("127.0.0.1").into_iter().collect();
    assert!(authorize_address("PURGE", Some("127.0.0.1"), &allowed).is_some());
    assert!(authorize_address("POST", Some("127.0.0.1"), &allowed).is_none());
}

#[test]
fn each_admin_call_needs_the_scope_it_is_for() {
    let cases = [
        ("POST", "purge", Scope::Purge),
        ("post", "purge", Scope::Purge),
        ("GET", "stats", Scope::Read),
        ("GET", "stats/fleet", Scope::Read),
        ("GET", "metrics", Scope::Read),
        ("GET", "purges/p-1234", Scope::Purge),
        ("GET", "purges/", Scope::Admin),
        ("GET", "purges/a/b", Scope::Admin),
        ("DELETE", "purges/p-1234", Scope::Admin),
        ("GET", "policy", Scope::Admin),
        ("POST", "policy", Scope::Admin),
        ("POST", "policy/rollback", Scope::Admin),
        ("GET", "profiles", Scope::Admin),
        ("POST", "explain", Scope::Admin),
        ("GET", "purge", Scope::Admin),
        ("POST", "stats", Scope::Admin),
        ("GET", "no-such-endpoint", Scope::Admin),
    ];
    for (method, endpoint, scope) in cases {
        assert_eq!(Scope::of_admin_call(method, endpoint), scope, "{method} {endpoint}");
    }
}

#[test]
fn no_secret_appears_in_a_message_or_a_debug_form() {
    let s = secrets();
    let shown = format!("{s:?}");
    for value in [PURGE, ADMIN, STATS] {
        assert!(!shown.contains(value), "{shown}");
    }
    for scope in Scope::ALL {
        let message = AuthError::NotConfigured(scope).message();
        assert!(message.contains("disabled"), "{message}");
    }
}

/// What the headers settle before a body is read: everything but a well-formed signature in
/// its window, whose body the MAC covers.
#[test]
fn precheck_refuses_before_the_body_whatever_the_headers_alone_settle() {
    let s = secrets();
    let with = |pairs: &[(&str, &str)]| Headers::from_pairs(pairs.iter().copied());
    let basic = |password: &str| {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("purge:{password}")))
    };
    let ts = TS.to_string();
    let old = (TS - 301).to_string();
    let mac = format!("v2={}", "ab".repeat(32));
    let cases: Vec<(&str, Headers, Result<(), AuthError>)> = vec![
        ("PURGE", Headers::new(), Err(AuthError::Missing)),
        ("PURGE", with(&[("authorization", &basic(PURGE))]), Ok(())),
        ("PURGE", with(&[("authorization", &basic("wrong"))]), Err(AuthError::Invalid)),
        ("PURGE", with(&[("authorization", "Basic !!!")]), Err(AuthError::Invalid)),
        ("POST", with(&[("authorization", &basic(PURGE))]), Err(AuthError::Invalid)),
        ("PURGE", with(&[("authorization", "Digest x")]), Err(AuthError::Invalid)),
        ("PURGE", with(&[("x-rulecache-timestamp", &ts)]), Err(AuthError::Invalid)),
        ("PURGE", with(&[("x-rulecache-signature", &mac)]), Err(AuthError::Invalid)),
        (
            "PURGE",
            with(&[("x-rulecache-timestamp", "soon"), ("x-rulecache-signature", &mac)]),
            Err(AuthError::Invalid),
        ),
        (
            "PURGE",
            with(&[("x-rulecache-timestamp", &ts), ("x-rulecache-signature", "zz")]),
            Err(AuthError::Invalid),
        ),
        (
            "PURGE",
            with(&[("x-rulecache-timestamp", &ts), ("x-rulecache-signature", "v2=abcd")]),
            Err(AuthError::Invalid),
        ),
        (
            "PURGE",
            with(&[("x-rulecache-timestamp", &old), ("x-rulecache-signature", &mac)]),
            Err(AuthError::Expired),
        ),
        ("PURGE", with(&[("x-rulecache-timestamp", &ts), ("x-rulecache-signature", &mac)]), Ok(())),
        (
            "PURGE",
            with(&[
                ("x-rulecache-timestamp", &ts),
                ("x-rulecache-signature", &mac.replace("v2=", "v1=")),
                ("x-purge-soft", "1"),
            ]),
            Err(AuthError::Invalid),
        ),
    ];
    for (method, headers, want) in cases {
        assert_eq!(precheck(&s, Scope::Purge, method, &headers, NOW), want, "{method} {headers:?}");
        // What precheck refuses, authorize refuses too (with any body).
        if want.is_err() {
            let input = AuthInput { method, path_and_query: "/news", headers: &headers, body: b"" };
            assert!(
                authorize(&s, Scope::Purge, &input, NOW, &mut ReplayGuard::new()).is_err(),
                "{method} {headers:?}"
            );
        }
    }
}
