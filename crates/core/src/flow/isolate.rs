//! What one isolate remembers between requests, in one value: the memory tier, the hit-for-pass
//! marks, the fetches in flight, the budget of KV writes, the statistics, the copy of the purge
//! ledger with its refresh schedule, the purges kept for retrying, the open purge bursts, the
//! signatures already accepted, the active policy and the URLs parsed lately. The worker keeps
//! one instance per isolate and the native harness ([`crate::testing::sim::Edge`]) one per
//! simulated isolate; both apply a reply's effects to it by the same rules (`storage::tiers`).

use crate::http::{Time, UrlMemo};
use crate::policy::versions::ActivePolicy;
use crate::purge::auth::ReplayGuard;
use crate::purge::burst::Burst;
use crate::purge::fanout::{PendingAppends, Refresher};
use crate::purge::ledger::LedgerCopy;
use crate::storage::lru::ByteLru;
use crate::storage::stats::{Served, Stats};
use crate::storage::tiers::{self, Collapser, HitForPass, KvWrites, R2Writes};

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
    /// The budget of R2 writes ([`R2Writes`]).
    pub r2_writes: R2Writes,
    /// Counters of the answered requests, from the first one.
    pub stats: Option<Stats>,
    /// This isolate's copy of the purge ledger ([`LedgerCopy`]).
    pub ledger: LedgerCopy,
    /// When the ledger copy is refreshed ([`Refresher`]).
    pub refresher: Refresher,
    /// Purges the ledger did not take, kept for retrying ([`PendingAppends`]).
    pub pending: PendingAppends,
    /// The open burst windows of unsigned purges ([`Burst`]).
    pub burst: Burst,
    /// Signatures already accepted (HMAC replay protection, [`ReplayGuard`]).
    pub replay: ReplayGuard,
    /// The active policy and the store's last failure ([`ActivePolicy`]).
    pub policy: ActivePolicy,
    /// Request URLs parsed lately ([`UrlMemo`]).
    pub urls: UrlMemo,
}

impl<M> Default for Isolate<M> {
    fn default() -> Self {
        Isolate {
            memory: tiers::memory_tier(),
            pass: HitForPass::default(),
            collapser: Collapser::default(),
            kv_writes: KvWrites::default(),
            r2_writes: R2Writes::default(),
            stats: None,
            ledger: LedgerCopy::new(),
            refresher: Refresher::new(),
            pending: PendingAppends::new(),
            burst: Burst::new(),
            replay: ReplayGuard::new(),
            policy: ActivePolicy::default(),
            urls: UrlMemo::default(),
        }
    }
}

impl<M> Isolate<M> {
    /// Counts the invalidations one response recorded (see [`Stats::record_invalidation`]).
    pub fn record_invalidation(&mut self, record: &crate::flow::engine::Invalidation, now: Time) {
        self.stats.get_or_insert_with(|| Stats::new(now)).record_invalidation(
            record.urls,
            record.groups,
            record.whole_site,
        );
    }

    /// Counts one answered request.
    pub fn record(&mut self, served: &Served, now: Time) {
        self.stats.get_or_insert_with(|| Stats::new(now)).record(served, now);
    }

    /// Counts one purge taken.
    pub fn record_purge(&mut self, now: Time) {
        self.stats.get_or_insert_with(|| Stats::new(now)).record_purge();
    }
}
