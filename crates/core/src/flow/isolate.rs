//! What one isolate remembers between requests, in one value: the memory tier, the hit-for-pass
//! marks, the fetches in flight, the budget of KV writes and the statistics. The worker keeps
//! one instance per isolate and the native harness ([`crate::testing::sim::Edge`]) one per
//! simulated isolate; both apply a reply's effects to it by the same rules (`storage::tiers`).

use crate::http::Time;
use crate::storage::lru::ByteLru;
use crate::storage::stats::{Outcome, Stats};
use crate::storage::tiers::{self, Collapser, HitForPass, KvWrites};

/// One isolate's state; `M` is what the memory tier holds for an entry (the worker keeps the
/// runtime's objects beside the record and body, the harness the record and body alone).
#[derive(Debug)]
pub struct Isolate<M> {
    /// The in-isolate memory tier ([`tiers::memory_tier`]).
    pub memory: ByteLru<M>,
    /// URLs whose responses could not be stored ([`HitForPass`]).
    pub pass: HitForPass,
    /// Fetches in flight, for collapsing ([`Collapser`]).
    pub collapser: Collapser,
    /// The budget of Workers KV writes ([`KvWrites`]).
    pub kv_writes: KvWrites,
    /// Counters of the answered requests, from the first one.
    pub stats: Option<Stats>,
}

impl<M> Default for Isolate<M> {
    fn default() -> Self {
        Isolate {
            memory: tiers::memory_tier(),
            pass: HitForPass::default(),
            collapser: Collapser::default(),
            kv_writes: KvWrites::default(),
            stats: None,
        }
    }
}

impl<M> Isolate<M> {
    /// Counts one answered request (`bytes` sent from storage).
    pub fn record(&mut self, ruleset: Option<&str>, outcome: Outcome, bytes: u64, now: Time) {
        self.stats.get_or_insert_with(|| Stats::new(now)).record(ruleset, outcome, bytes);
    }
}
