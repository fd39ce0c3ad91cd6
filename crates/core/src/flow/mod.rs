//! The request flow: the vocabulary passed between the policy and the engine, and the engine
//! itself (a sans-I/O state machine: decisions in, actions out).

pub mod decision;
mod effects;
pub mod engine;
pub mod explain;
pub mod rehearse;

pub use effects::{lookup_tiers, Effect, Tier};
