//! What a driver does with a flow's answer: an explicit, ordered list of effects.
//!
//! The worker shell and the native harness ([`crate::testing::sim`]) both turn a [`Reply`] into this
//! list with [`Flow::effects`] and apply it in order, each effect by one storage operation (or
//! the answer itself). Every choice — which keys go, which tiers keep the entry, what happens to
//! the URL's hit-for-pass mark, whether the body is read before the client is answered — is
//! made here.

use crate::flow::engine::{BodySource, Flow, Invalidation, Reply};
use crate::policy::Policy;
use crate::storage::key::StorageKey;
use crate::storage::meta::{Meta, VaryIndex};
use crate::storage::tiers::{self, PassChange};

/// A storage tier of the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    /// The isolate's memory (hot small objects).
    Memory,
    /// The location's Cache API.
    Cache,
    /// Workers KV (entries of rulesets whose operation says `persist`), shared by every location.
    Kv,
    /// R2 (entries of rulesets whose operation says `"globalTier": "r2"`: large bodies), shared
    /// by every location. The body streams in as it streams to the client, never read whole.
    R2,
}

/// One thing the driver does, in list order.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Record what the response to an unsafe request invalidates everywhere (see
    /// [`Invalidation`]): apply it to the isolate's copy of the purge ledger now (a hard one
    /// also removes what it reaches from the memory tier), append it to the ledger (after the
    /// answer is fine: this isolate already honours it), and count it in the statistics.
    Record(Invalidation),
    /// Remove what is stored under `key` from the memory tier, the Cache API and R2 and, when
    /// it is a variant index, every variant it lists (RFC 9111 §4.4 invalidation).
    Delete { key: StorageKey },
    /// Apply `change` to the hit-for-pass mark of `key` (the URL's base key).
    Pass { key: StorageKey, change: PassChange },
    /// Store `meta` and the body `body` names under `key` in `tier`. A memory-tier put that
    /// comes before [`Effect::Answer`] with an origin body has the driver read the body first,
    /// so that the very next request in the isolate is a hit.
    Put { key: StorageKey, meta: Box<Meta>, body: BodySource, tier: Tier },
    /// Drop `key` from `tier` (an older copy there would now be outdated).
    Forget { key: StorageKey, tier: Tier },
    /// Send the reply's head and body to the client.
    Answer,
    /// Merge `index` into the variant index stored under `key` in the Cache API, deleting the
    /// variants it forgets (see [`crate::flow::engine::merge_index`]).
    WriteIndex { key: StorageKey, index: VaryIndex },
    /// Run this flow after answering (a background revalidation).
    Background(Box<Flow>),
}

impl Flow {
    /// The effects of `reply`, in the order they are applied. Takes the reply's store order,
    /// invalidations and background flow out of it; what is left is the answer.
    pub fn effects(&self, policy: &Policy, reply: &mut Reply) -> Vec<Effect> {
        let mut effects: Vec<Effect> = reply.record.take().map(Effect::Record).into_iter().collect();
        effects.extend(reply.invalidate.drain(..).map(|key| Effect::Delete { key }));
        let order = reply.store.take();
        let for_the_resource = reply.refusal.is_some_and(|r| self.refusal_marks_pass(r));
        let change = tiers::pass_change(reply.outcome, order.is_some(), for_the_resource, reply.head.status);
        if change != PassChange::Keep {
            effects.push(Effect::Pass { key: self.base_key(), change });
        }
        let Some(order) = order else {
            effects.push(Effect::Answer);
            effects.extend(reply.background.take().map(Effect::Background));
            return effects;
        };
        // The memory tier takes the entry when its operation asks for it and the body is small
        // enough: a body of known length (the origin's Content-Length, or the length the
        // stored record holds).
        let length = order.meta.head.headers.content_length().or(match order.body {
            BodySource::Stored if order.meta.body_len > 0 => Some(order.meta.body_len),
            _ => None,
        });
        let memory = order.memory && tiers::memory_admits(length);
        let persist = policy.operation(order.ruleset).persist();
        let r2 = policy.operation(order.ruleset).r2();
        let (key, meta, body) = (order.key, Box::new(order.meta), order.body);
        if memory {
            // Before the answer: the next request in this isolate finds it.
            effects.push(Effect::Put { key: key.clone(), meta: meta.clone(), body, tier: Tier::Memory });
        } else {
            effects.push(Effect::Forget { key: key.clone(), tier: Tier::Memory });
        }
        effects.push(Effect::Answer);
        if let Some((index_key, index)) = order.index {
            effects.push(Effect::WriteIndex { key: index_key, index });
        }
        if persist && order.shared && self.kv_admits(policy) {
            effects.push(Effect::Put { key: key.clone(), meta: meta.clone(), body, tier: Tier::Kv });
        }
        if r2 && order.shared && self.kv_admits(policy) {
            if let Some(meta) = r2_record(&key, &meta, length) {
                effects.push(Effect::Put { key: key.clone(), meta: Box::new(meta), body, tier: Tier::R2 });
            }
        }
        if order.shared {
            effects.push(Effect::Put { key, meta, body, tier: Tier::Cache });
        }
        effects.extend(reply.background.take().map(Effect::Background));
        effects
    }
}

impl Flow {
    /// Whether this request's entry may be written to Workers KV (a write every location
    /// reads, from a daily quota the policy store shares): only when its key holds no query
    /// the policy did not bound. A URL with a query is admitted only under `cacheKey.keepParams`
    /// (the parameters the key keeps, all others dropped), so a cache-busting parameter never
    /// costs a KV write; what is admitted is further capped per isolate ([`tiers::KvWrites`]).
    pub fn kv_admits(&self, policy: &Policy) -> bool {
        !self.primary_key().as_str().contains('?') || policy.key_options().keep_params.is_some()
    }
}

/// The record an R2 copy of the entry under `key` keeps (its body `length` bytes long), when
/// R2 takes it ([`tiers::r2_admits`]): the body streams in through a stream of exactly that
/// length.
fn r2_record(key: &StorageKey, meta: &Meta, length: Option<u64>) -> Option<Meta> {
    let mut record = meta.clone();
    record.body_len = length?;
    let encoded = record.encode().ok()?;
    let coding = record.head.headers.get("content-encoding");
    let name_len = tiers::r2_object_name(key).len();
    tiers::r2_admits(length, coding, encoded.len(), name_len).then_some(record)
}

/// The tiers a lookup searches, in order: the memory tier; the Cache API unless the key is
/// marked hit-for-pass (its responses are not stored, so there is nothing to find); KV when
/// the ruleset persists its entries; R2 when it keeps them there.
pub fn lookup_tiers(kv: bool, r2: bool, pass_marked: bool) -> impl Iterator<Item = Tier> {
    [
        Some(Tier::Memory),
        (!pass_marked).then_some(Tier::Cache),
        kv.then_some(Tier::Kv),
        r2.then_some(Tier::R2),
    ]
    .into_iter()
    .flatten()
}
