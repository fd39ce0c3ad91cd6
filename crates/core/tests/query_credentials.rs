//! Credentials in the query string are read without allocating: `query_authenticates` reads
//! each parameter name in place and agrees with the reading it replaced (decode `+` and `%XX`
//! into a new string, read it as UTF-8 with invalid sequences replaced, cut at `:`, trim) on
//! every generated query, and a request's query costs no allocation at all.
//!
//! This test binary counts the allocations of the whole process (one test, so nothing else
//! runs meanwhile).

use std::alloc::System;

use rulecache::policy::audience::{percent_decode, AudienceConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The reading `query_authenticates` had before, kept as the reference.
fn reference(params: &[String], query: &str) -> bool {
    query.split(['&', ';']).any(|piece| {
        let raw = piece.split_once('=').map_or(piece, |(name, _)| name);
        let decoded = percent_decode(&raw.replace('+', " "));
        let name = decoded.split(':').next().unwrap_or("").trim();
        params.iter().any(|p| p.eq_ignore_ascii_case(name))
    })
}

/// Pieces a query is made of: names, separators, `+`, escapes of white space (ASCII and
/// multi-byte), of a zero-width space (not white space), of invalid and truncated UTF-8
/// sequences, of `:` and `+`, and raw non-ASCII text.
const PIECES: &[&str] = &[
    "__ac",
    "__AC_name",
    "__ac_password",
    "_",
    "name",
    "x",
    "%5F%5Fac",
    "%5f",
    "+",
    " ",
    "%20",
    "%09",
    "%C2%A0",
    "%E3%80%80",
    "%E2%80%8B",
    "%e2%80%a8",
    "%FF",
    "%C2",
    "%E3%80",
    "%ED%A0%80",
    "%F4%90%80%80",
    "%F0%9F%98%80",
    "%EF%BF%BD",
    "%C0%AF",
    "%",
    "%2",
    "%zz",
    ":",
    ":string",
    "%3A",
    "%2B",
    "=",
    "=v",
    "&",
    ";",
    "\u{3000}",
    "é",
    "\u{fffd}",
    "ac",
];

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn config(params: &[&str]) -> AudienceConfig {
    AudienceConfig {
        auth_query_params: params.iter().map(|p| p.to_string()).collect(),
        ..AudienceConfig::default()
    }
}

#[test]
fn query_credentials_are_read_as_before_and_without_allocating() {
    let configs = [
        config(&["__ac", "__ac_name", "__ac_password"]),
        // Names a policy may hold that the reading must treat exactly as before: inner and
        // outer white space, U+FFFD, non-ASCII letters, a `:`.
        config(&["a b", "\u{fffd}x", "\u{fffd}", "éac", " __ac", "__ac\u{3000}", "x:y", "\u{3000}"]),
    ];
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut queries = Vec::new();
    for _ in 0..40_000 {
        let len = xorshift(&mut state) % 9;
        let mut q = String::new();
        for _ in 0..len {
            let i = usize::try_from(xorshift(&mut state) % PIECES.len() as u64).unwrap_or(0);
            q.push_str(PIECES.get(i).copied().unwrap_or(""));
        }
        queries.push(q);
    }
    // Queries that must authenticate, and look-alikes that must not.
    queries.extend(
        [
            "__ac_name=alice&__ac_password=secret",
            "a=1;__ac=t",
            "__ac_name:string=alice",
            "%5F%5Fac_name=alice",
            "+__ac_name+=alice",
            "%C2%A0__ac%E3%80%80=t",
            "__AC_NAME=alice",
            "x__ac_name=1",
            "__ac_name%E2%80%8B=1",
            "__ac%FF=1",
        ]
        .map(String::from),
    );
    let mut authenticated = 0;
    for cfg in &configs {
        for q in &queries {
            let want = reference(&cfg.auth_query_params, q);
            assert_eq!(cfg.query_authenticates(q), want, "{q:?} with {:?}", cfg.auth_query_params);
            authenticated += usize::from(want);
        }
    }
    assert!(authenticated > 1_000, "the generated queries name credentials often enough ({authenticated})");

    let cfg = configs.first().cloned().unwrap_or_default();
    let region = Region::new(GLOBAL);
    let mut found = 0;
    for q in &queries {
        found += usize::from(cfg.query_authenticates(q));
    }
    let change = region.change();
    assert!(found > 0);
    assert_eq!(change.allocations + change.reallocations, 0, "{change:?} over {} queries", queries.len());
}
