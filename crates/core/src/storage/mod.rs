//! What the edge keeps: cache keys, the versioned stored record, the memory tier's LRU, the
//! tier rules (memory admission and entry size, hit-for-pass marks, request collapsing,
//! deadlines), the storage trait (no HTTP semantics) and the per-ruleset counters.

pub mod key;
pub mod lru;
pub mod meta;
pub mod stats;
pub mod store;
pub mod tiers;
