//! rulecache: a policy-driven HTTP cache for the edge — the core.
//!
//! This crate makes every decision as a pure function of its inputs and the time passed in; it
//! performs no I/O and reads no clock. The Cloudflare Workers shell (crate `rulecache-worker`)
//! turns its decisions into I/O.
//!
//! Layers, bottom up; a module imports only from the layers below it (and from its own), so
//! each is reached by one path (`rulecache::rfc::freshness`, never a shortcut at the root).
//! `crates/core/tests/layers.rs` checks it.
//!
//! - [`http`]: the HTTP message model and wire syntax (heads, header fields, cookies, dates,
//!   URLs);
//! - [`rfc`]: HTTP caching semantics (RFC 9111, 9110, 9211, 9213), and how the edge stores a
//!   response ([`rfc::freshness::EdgeStorage`]);
//! - [`storage`]: cache keys and the audience they carry, the stored record and whether the
//!   ledger purged it, the memory tier and the tier rules, statistics, the storage trait;
//! - [`purge`]: purge requests, their authentication, path expansion, the purge ledger and
//!   its copies;
//! - [`policy`]: the policy bundle, its validation, classification, operations and audience,
//!   and what it hands the engine ([`policy::decision`]);
//! - [`flow`]: the request flow as a state machine (decisions in, actions out);
//! - [`testing`]: the deterministic harness the tests, fuzzers and benchmarks run on (other
//!   layers reach it from their tests only).

pub mod flow;
pub mod http;
pub mod policy;
pub mod purge;
pub mod rfc;
pub mod storage;

#[doc(hidden)]
pub mod testing;
