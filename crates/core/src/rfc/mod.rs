//! HTTP caching semantics: what RFC 9111 (and the parts of RFC 9110, 9211, 9213 and 9875 a
//! cache needs) says, as pure functions over message heads.

pub mod cache_control;
pub mod cache_status;
pub mod conditional;
pub mod freshness;
pub mod groups;
pub mod hop;
pub mod invalidate;
pub mod range;
pub mod revalidate;
pub mod storable;
