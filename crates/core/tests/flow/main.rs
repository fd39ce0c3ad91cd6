//! The request flow on the deterministic harness: the engine, explain, the tiers, the trust
//! rules, and the inputs fuzzing once found.

mod engine;
mod explain;
mod fuzz_regressions;
mod tiers;
mod trust;
