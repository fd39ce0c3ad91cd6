//! The request flow on the deterministic harness: the engine, explain, the tiers (the R2 media
//! tier among them), the trust rules, invalidation carried by origins' responses (RFC 9875,
//! RFC 9111 §4.4), and the inputs fuzzing once found.

mod cache_groups;
mod engine;
mod explain;
mod fuzz_regressions;
mod plone_rest;
mod r2;
mod tiers;
mod trust;
