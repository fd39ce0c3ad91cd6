//! rulecache: a policy-driven HTTP cache for the edge — the core.
//!
//! This crate makes every decision as a pure function of its inputs and the time passed in; it
//! performs no I/O and reads no clock. The Cloudflare Workers shell (crate `rulecache-worker`)
//! turns its decisions into I/O.
//!
//! Layers, bottom up:
//!
//! - [`http`]: the HTTP message model and wire syntax (heads, header fields, dates, URLs);
//! - [`rfc`]: HTTP caching semantics (RFC 9111, 9110, 9211, 9213);
//! - [`policy`]: the policy bundle, its validation, classification, operations and audience;
//! - [`storage`]: cache keys, the stored record, the memory tier and the tier rules, the
//!   storage trait;
//! - [`purge`]: purge requests, their authentication, path expansion, the purge ledger and
//!   its copies;
//! - [`flow`]: the request flow as a state machine (decisions in, actions out);
//! - [`testing`]: the deterministic harness the tests, fuzzers and benchmarks run on.
//!
//! Every module is also re-exported at the crate root (`rulecache::freshness`, …).

pub mod http;

pub mod rfc;
pub use rfc::{
    cache_control, cache_status, conditional, freshness, hop, invalidate, range, revalidate, storable,
};

pub mod policy;
pub use policy::{audience, classify, operations};

pub mod storage;
pub use storage::{key, lru, meta, stats, store, tiers};

pub mod purge;

pub mod flow;
pub use flow::{decision, engine};

#[doc(hidden)]
pub mod testing;
pub use testing::sim;
