//! The deterministic harness: runs the engine against in-memory tiers (a memory tier with the
//! shell's size rules, a Cache API, KV), hit-for-pass marks and an origin given as a closure,
//! with the time passed in. It applies exactly the effect list the worker shell applies
//! ([`Flow::effects`]), so the native scenarios, the fuzz `flow` target and the benchmarks see
//! what production does.

use std::rc::Rc;

use crate::engine::{merge_index, BodySource, Flow, Found, Outcome, Purged, Step};
use crate::flow::{Effect, Tier};
use crate::http::{RequestHead, ResponseHead, Time};
use crate::lru::ByteLru;
use crate::meta::Meta;
use crate::policy::Policy;
use crate::store::{MemoryStore, Record, Store};
use crate::tiers::{self, HitForPass};

/// What the origin closure returns: a response, or `None` when it cannot be reached.
pub type OriginResult = Option<(ResponseHead, Vec<u8>)>;

/// The client's view of one request.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub head: ResponseHead,
    /// Shared with the store when the answer came from it.
    pub body: Rc<[u8]>,
    pub outcome: Outcome,
    pub ruleset: Option<String>,
    /// The deadline of each origin fetch made for the answer, in order (`None`: none set).
    pub fetch_deadlines: Vec<Option<u64>>,
    /// The tiers the last lookup of an entry searched, in order.
    pub looked_in: Vec<Tier>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One location's storage as one isolate sees it: its memory tier and hit-for-pass marks, the
/// location's Cache API, and KV.
pub struct Edge {
    pub memory: ByteLru<(Box<Meta>, Rc<[u8]>)>,
    pub cache: MemoryStore,
    pub kv: MemoryStore,
    pub pass: HitForPass,
}

impl Default for Edge {
    fn default() -> Self {
        Edge {
            memory: tiers::memory_tier(),
            cache: MemoryStore::new(),
            kv: MemoryStore::new(),
            pass: HitForPass::default(),
        }
    }
}

impl Edge {
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs one request through this edge at `now` (see [`run`]).
    pub fn run(
        &mut self,
        policy: &Policy,
        origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
        request: RequestHead,
        now: Time,
        purged: &dyn Fn(&Meta) -> Purged,
    ) -> Exchange {
        let mut tiers = Tiers {
            memory: &mut self.memory,
            cache: &mut self.cache,
            kv: &mut self.kv,
            pass: &mut self.pass,
        };
        run_on(policy, &mut tiers, origin, request, now, purged)
    }
}

/// The tiers a run applies its effects to.
struct Tiers<'a> {
    memory: &'a mut ByteLru<(Box<Meta>, Rc<[u8]>)>,
    cache: &'a mut dyn Store,
    kv: &'a mut dyn Store,
    pass: &'a mut HitForPass,
}

/// Runs one request through the cache at `now`, with `store` as the location's Cache API (the
/// memory tier, KV and hit-for-pass marks last for this request only; [`Edge::run`] keeps
/// them). Background revalidations run right after the answer, at the same `now`. `purged`
/// answers for the purge ledger.
pub fn run(
    policy: &Policy,
    store: &mut dyn Store,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    request: RequestHead,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> Exchange {
    let (mut memory, mut kv, mut pass) = (tiers::memory_tier(), MemoryStore::new(), HitForPass::default());
    let mut tiers = Tiers { memory: &mut memory, cache: store, kv: &mut kv, pass: &mut pass };
    run_on(policy, &mut tiers, origin, request, now, purged)
}

fn run_on(
    policy: &Policy,
    tiers: &mut Tiers<'_>,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    request: RequestHead,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> Exchange {
    let (mut flow, step) = Flow::start(policy, request, now, false);
    let (exchange, background) = drive(policy, tiers, origin, &mut flow, step, now, purged);
    if let Some(mut bg) = background {
        let step = bg.background_step();
        let _ = drive(policy, tiers, origin, &mut bg, step, now, purged);
    }
    exchange
}

/// What a lookup found, and the body beside it.
fn lookup(tiers: &Tiers<'_>, key: &str, kv: bool, now: Time, looked_in: &mut Vec<Tier>) -> (Found, Rc<[u8]>) {
    looked_in.clear();
    let none = || (Found::Nothing, Rc::from(Vec::new()));
    for tier in crate::flow::lookup_tiers(kv, tiers.pass.is_marked(key, now)) {
        looked_in.push(tier);
        let found = match tier {
            Tier::Memory => tiers.memory.peek(key).map(|(m, b)| (Found::Entry(m.clone()), Rc::clone(b))),
            Tier::Cache => tiers.cache.get(key).map(|(record, body)| match record {
                Record::Index(i) => (Found::Index(i), body),
                Record::Entry(m) => (Found::Entry(m), body),
            }),
            Tier::Kv => tiers.kv.get(key).and_then(|(record, body)| match record {
                Record::Entry(m) => Some((Found::Entry(m), body)),
                Record::Index(_) => None,
            }),
        };
        if let Some(found) = found {
            return found;
        }
    }
    none()
}

#[allow(clippy::too_many_arguments)]
fn drive(
    policy: &Policy,
    tiers: &mut Tiers<'_>,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    flow: &mut Flow,
    mut step: Step,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> (Exchange, Option<Box<Flow>>) {
    let mut stored_body: Rc<[u8]> = Rc::from(Vec::new());
    let mut origin_body: Rc<[u8]> = Rc::clone(&stored_body);
    let mut fetch_deadlines = Vec::new();
    let mut looked_in = Vec::new();
    loop {
        step = match step {
            Step::Lookup { key, kv } => {
                let (found, body) = lookup(tiers, &key, kv, now, &mut looked_in);
                let state = match &found {
                    Found::Entry(m) => {
                        stored_body = body;
                        purged(m)
                    }
                    _ => Purged::No,
                };
                flow.found(policy, found, state, now)
            }
            Step::Fetch { request, deadline_ms, .. } => {
                fetch_deadlines.push(deadline_ms);
                match origin(&request) {
                    Some((head, body)) => {
                        origin_body = Rc::from(body);
                        flow.origin_response(policy, head, now)
                    }
                    None => flow.origin_failed(policy, now),
                }
            }
            Step::Respond(reply) => {
                let mut reply = *reply;
                let mut background = None;
                for effect in flow.effects(policy, &mut reply) {
                    match effect {
                        Effect::Delete { key } => {
                            tiers.memory.remove(&key);
                            if let Some((Record::Index(i), _)) = tiers.cache.get(&key) {
                                for v in &i.variants {
                                    tiers.memory.remove(v);
                                    tiers.cache.delete(v);
                                }
                            }
                            tiers.cache.delete(&key);
                        }
                        Effect::Pass { key, change } => tiers.pass.apply(&key, change, now),
                        Effect::Put { key, mut meta, body, tier } => {
                            let body = match body {
                                BodySource::Stored => Rc::clone(&stored_body),
                                _ => Rc::clone(&origin_body),
                            };
                            // As the shell does: the record holds the length of the body it stores.
                            meta.body_len = body.len() as u64;
                            match tier {
                                Tier::Memory => {
                                    let size = tiers::memory_entry_size(&meta.head.headers, body.len());
                                    tiers.memory.insert(key, (meta, body), size);
                                }
                                Tier::Cache => tiers.cache.put(&key, Record::Entry(meta), body),
                                Tier::Kv => tiers.kv.put(&key, Record::Entry(meta), body),
                            }
                        }
                        Effect::Forget { key, tier } => match tier {
                            Tier::Memory => {
                                tiers.memory.remove(&key);
                            }
                            Tier::Cache => {
                                tiers.cache.delete(&key);
                            }
                            Tier::Kv => {
                                tiers.kv.delete(&key);
                            }
                        },
                        Effect::Answer => {}
                        Effect::WriteIndex { key, index } => {
                            let existing = match tiers.cache.get(&key) {
                                Some((Record::Index(i), _)) => Some(i),
                                _ => None,
                            };
                            let (merged, forgotten) = merge_index(existing, index);
                            for k in forgotten {
                                tiers.cache.delete(&k);
                            }
                            tiers.memory.remove(&key);
                            tiers.cache.put(&key, Record::Index(merged), Rc::from(Vec::new()));
                        }
                        Effect::Background(flow) => background = Some(flow),
                    }
                }
                let body = match reply.body {
                    BodySource::Empty => Rc::from(reply.text.map(String::into_bytes).unwrap_or_default()),
                    BodySource::Stored if reply.range.is_some() => {
                        Rc::from(crate::range::cut(&stored_body, reply.range))
                    }
                    BodySource::Stored => stored_body,
                    BodySource::Origin => origin_body,
                };
                let exchange = Exchange {
                    head: reply.head,
                    body,
                    outcome: reply.outcome,
                    ruleset: reply.ruleset,
                    fetch_deadlines,
                    looked_in,
                };
                return (exchange, background);
            }
        };
    }
}
