//! rulecache: a policy-driven HTTP cache for the edge.
//!
//! The core (everything but `edge`) makes every decision as a pure function of its inputs and
//! the time passed in; it performs no I/O and reads no clock. The `edge` module is the thin
//! Cloudflare Workers shell, compiled for wasm only.

pub mod decision;
pub mod http;

// RFC 9111 core
pub mod cache_control;
pub mod cache_status;
pub mod conditional;
pub mod freshness;
pub mod hop;
pub mod invalidate;
pub mod range;
pub mod revalidate;
pub mod storable;

// keys, stored records, storage
pub mod key;
pub mod lru;
pub mod meta;
pub mod store;

// policy
pub mod audience;
pub mod classify;
pub mod operations;
pub mod policy;

pub mod purge;

pub mod engine;
pub mod sim;
pub mod stats;

#[doc(hidden)]
pub mod testing;

#[cfg(target_arch = "wasm32")]
mod edge;
