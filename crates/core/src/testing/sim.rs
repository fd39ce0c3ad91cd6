//! The deterministic harness: runs the engine against in-memory tiers (a memory tier with the
//! shell's size rules, a Cache API, KV), hit-for-pass marks and an origin given as a closure,
//! with the time passed in. It applies exactly the effect list the worker shell applies
//! ([`Flow::effects`]), so the native scenarios, the fuzz `flow` target and the benchmarks see
//! what production does.

use std::rc::Rc;

use crate::flow::engine::{
    merge_index, BodySource, FetchFailure, Flow, Found, Invalidation, ReplyBody, Step,
};
use crate::flow::isolate::Isolate;
use crate::flow::{Effect, Tier};
use crate::http::{Headers, RequestHead, ResponseHead, Time};
use crate::policy::Policy;
use crate::storage::key::StorageKey;
use crate::storage::lru::ByteLru;
use crate::storage::meta::{Meta, Purged};
use crate::storage::stats::Outcome;
use crate::storage::store::{MemoryStore, Record, Store};
use crate::storage::tiers::{self, Collapser, HitForPass, Join, KvWrites, R2Writes};

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
    /// What the answer recorded in the purge ledger (an unsafe request's invalidations).
    pub recorded: Option<Invalidation>,
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One location's storage as one isolate sees it: the isolate's own state (the core's
/// [`Isolate`], as the worker keeps it: memory tier, hit-for-pass marks, fetches in flight, KV
/// budget), the location's Cache API, KV and R2.
pub struct Edge {
    pub isolate: Isolate<(Box<Meta>, Rc<[u8]>)>,
    pub cache: MemoryStore,
    pub kv: MemoryStore,
    pub r2: MemoryStore,
}

impl Default for Edge {
    fn default() -> Self {
        Edge {
            isolate: Isolate::default(),
            cache: MemoryStore::new(),
            kv: MemoryStore::new(),
            r2: MemoryStore::new(),
        }
    }
}

/// A request on its way through an [`Edge`], for interleaving several (see [`Edge::start`]).
pub struct Running {
    flow: Flow,
    step: Option<Step>,
    /// The body of the entry the last lookup found (none before one is found).
    stored_body: Option<Rc<[u8]>>,
    origin_body: Rc<[u8]>,
    fetch_deadlines: Vec<Option<u64>>,
    looked_in: Vec<Tier>,
    /// The fetch this request leads (its waiters are released when it is done).
    leading: Option<(StorageKey, u64)>,
    /// The fetch this request waits for.
    waiting: Option<(StorageKey, u64)>,
    /// Waited as long as allowed: look again and fetch alone.
    give_up: bool,
}

/// Where a [`Running`] request stopped.
pub enum Progress {
    /// It leads the fetch of an entry and is about to ask the origin; others collapse behind it.
    Leading,
    /// It waits for another request's fetch of the same entry.
    Waiting,
    Done(Box<Exchange>),
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
        run_on(policy, &mut self.tiers(), origin, request, now, purged)
    }

    /// Starts a request at `now` without running it: [`Edge::advance`] runs it until it is done
    /// or waits for another request's fetch, so that tests can interleave requests.
    pub fn start(&mut self, policy: &Policy, request: RequestHead, now: Time) -> Running {
        let (flow, step) = Flow::start(policy, request, now, false);
        Running::new(flow, step)
    }

    /// Runs `running` on until it is done or waits (see [`Progress`]).
    pub fn advance(
        &mut self,
        policy: &Policy,
        running: &mut Running,
        origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
        now: Time,
        purged: &dyn Fn(&Meta) -> Purged,
    ) -> Progress {
        advance(policy, &mut self.tiers(), running, origin, now, purged)
    }

    fn tiers(&mut self) -> Tiers<'_> {
        Tiers {
            memory: &mut self.isolate.memory,
            cache: &mut self.cache,
            kv: &mut self.kv,
            r2: &mut self.r2,
            pass: &mut self.isolate.pass,
            collapser: &mut self.isolate.collapser,
            kv_writes: &mut self.isolate.kv_writes,
            r2_writes: &mut self.isolate.r2_writes,
        }
    }
}

impl Running {
    fn new(flow: Flow, step: Step) -> Self {
        Running {
            flow,
            step: Some(step),
            stored_body: None,
            origin_body: Rc::from(Vec::new()),
            fetch_deadlines: Vec::new(),
            looked_in: Vec::new(),
            leading: None,
            waiting: None,
            give_up: false,
        }
    }
}

/// The tiers a run applies its effects to.
struct Tiers<'a> {
    memory: &'a mut ByteLru<(Box<Meta>, Rc<[u8]>)>,
    cache: &'a mut dyn Store,
    kv: &'a mut dyn Store,
    r2: &'a mut dyn Store,
    pass: &'a mut HitForPass,
    collapser: &'a mut Collapser,
    kv_writes: &'a mut KvWrites,
    r2_writes: &'a mut R2Writes,
}

/// What an origin answers for a page: a cacheable 200 with validators and purge tags.
pub fn cacheable_page() -> (ResponseHead, Vec<u8>) {
    let head = ResponseHead::new(
        200,
        Headers::from_pairs([
            ("content-type", "text/html; charset=utf-8"),
            ("content-length", "2048"),
            ("date", "Sun, 01 Jun 2025 00:00:00 GMT"),
            ("last-modified", "Sat, 31 May 2025 12:00:00 GMT"),
            ("etag", "\"v1-anon\""),
            ("cache-control", "public, max-age=600"),
            ("x-cache-ruleset", "plone.content.folderView"),
            ("cache-tag", "news, listing"),
        ]),
    );
    (head, vec![b'x'; 2048])
}

/// The purge ledger's answer for an entry nothing purged.
pub fn not_purged(_: &Meta) -> Purged {
    Purged::No
}

/// A store that keeps nothing: every lookup is a miss.
pub struct Forgetful;

impl Store for Forgetful {
    fn get(&self, _key: &str) -> Option<(Record, Rc<[u8]>)> {
        None
    }
    fn put(&mut self, _key: &str, _record: Record, _body: Rc<[u8]>) {}
    fn delete(&mut self, _key: &str) -> bool {
        false
    }
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
    let (mut isolate, mut kv, mut r2) = (Isolate::default(), MemoryStore::new(), MemoryStore::new());
    let mut tiers = Tiers {
        memory: &mut isolate.memory,
        cache: store,
        kv: &mut kv,
        r2: &mut r2,
        pass: &mut isolate.pass,
        collapser: &mut isolate.collapser,
        kv_writes: &mut isolate.kv_writes,
        r2_writes: &mut isolate.r2_writes,
    };
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
    let (flow, step) = Flow::start(policy, request, now, false);
    let mut running = Running::new(flow, step);
    loop {
        match advance(policy, tiers, &mut running, origin, now, purged) {
            Progress::Done(exchange) => return *exchange,
            Progress::Leading => {}
            // Nobody else is running: the fetch waited for never finishes, so the request
            // waits as long as it may, then looks again and fetches alone.
            Progress::Waiting => running.give_up = true,
        }
    }
}

/// What a lookup found, and the body beside it.
fn lookup(
    tiers: &mut Tiers<'_>,
    key: &StorageKey,
    kv: bool,
    r2: bool,
    now: Time,
    looked_in: &mut Vec<Tier>,
) -> (Found, Rc<[u8]>) {
    looked_in.clear();
    let none = || (Found::Nothing, Rc::from(Vec::new()));
    let (marked, key) = (tiers.pass.is_marked(key, now), key.as_str());
    for tier in crate::flow::lookup_tiers(kv, r2, marked) {
        looked_in.push(tier);
        let found = match tier {
            // A hit promotes the entry in the memory tier, as the worker's lookup does.
            Tier::Memory => tiers.memory.get(key).map(|(m, b)| (Found::Entry(m.clone()), Rc::clone(b))),
            Tier::Cache => tiers.cache.get(key).map(|(record, body)| match record {
                Record::Index(i) => (Found::Index(i), body),
                Record::Entry(m) => (Found::Entry(m), body),
            }),
            Tier::Kv => tiers.kv.get(key).and_then(|(record, body)| match record {
                Record::Entry(m) => Some((Found::Entry(m), body)),
                Record::Index(_) => None,
            }),
            // As the worker's R2 lookup: an object past the storage horizon is not served.
            Tier::R2 => tiers.r2.get(key).and_then(|(record, body)| match record {
                Record::Entry(m) if !tiers::outlived(m.stored_at, now) => Some((Found::Entry(m), body)),
                _ => None,
            }),
        };
        if let Some(found) = found {
            return found;
        }
    }
    none()
}

fn advance(
    policy: &Policy,
    tiers: &mut Tiers<'_>,
    running: &mut Running,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> Progress {
    if let Some((key, ticket)) = running.waiting.take() {
        if !running.give_up && !tiers.collapser.is_done(&key, ticket) {
            running.waiting = Some((key, ticket));
            return Progress::Waiting;
        }
        running.step = Some(running.flow.retry_after_collapse());
    }
    let Running { flow, stored_body, origin_body, fetch_deadlines, looked_in, .. } = running;
    let Some(mut step) = running.step.take() else { return Progress::Waiting };
    loop {
        step = match step {
            Step::Lookup { key, kv, r2 } => {
                let (found, body) = lookup(tiers, &key, kv, r2, now, looked_in);
                let state = match &found {
                    Found::Entry(m) => {
                        *stored_body = Some(body);
                        purged(m)
                    }
                    _ => Purged::No,
                };
                flow.found(policy, found, state, now)
            }
            Step::Fetch { request, deadline_ms, coalesce, with_body } => {
                let marked = tiers.pass.is_marked(&flow.base_key(), now);
                match tiers.collapser.join(coalesce.as_ref(), running.leading.is_some(), marked) {
                    Join::Wait(ticket) => {
                        running.waiting = coalesce.map(|k| (k, ticket));
                        return Progress::Waiting;
                    }
                    Join::Lead(ticket) => {
                        running.leading = coalesce.clone().map(|k| (k, ticket));
                        running.step = Some(Step::Fetch { request, deadline_ms, coalesce, with_body });
                        return Progress::Leading;
                    }
                    Join::Alone => {}
                }
                fetch_deadlines.push(deadline_ms);
                match origin(&request) {
                    Some((head, body)) => {
                        *origin_body = Rc::from(body);
                        flow.origin_response(policy, head, now)
                    }
                    None => flow.fetch_failed(policy, FetchFailure::Unreachable, now),
                }
            }
            Step::Respond(reply) => {
                let mut reply = *reply;
                let mut background = None;
                let mut recorded = None;
                for effect in flow.effects(policy, &mut reply) {
                    match effect {
                        Effect::Record(record) => {
                            // As the shell does: a hard invalidation leaves the memory tier at
                            // once (the ledger's copy judges every other tier).
                            if !record.soft {
                                for target in &record.targets {
                                    tiers.memory.remove_where(|_, (m, _)| target.reaches(&m.url, &m.tags));
                                }
                            }
                            recorded = Some(record);
                        }
                        Effect::Delete { key } => {
                            let key = key.as_str();
                            tiers.memory.remove(key);
                            if let Some((Record::Index(i), _)) = tiers.cache.get(key) {
                                for v in &i.variants {
                                    tiers.memory.remove(v);
                                    tiers.cache.delete(v);
                                    tiers.r2.delete(v);
                                }
                            }
                            tiers.cache.delete(key);
                            tiers.r2.delete(key);
                        }
                        Effect::Pass { key, change } => tiers.pass.apply(&key, change, now),
                        Effect::Put { key, mut meta, body, tier } => {
                            let body = match body {
                                // As in the shell: a put of the stored body when none is held
                                // is an error, never an empty entry.
                                BodySource::Stored => match stored_body {
                                    Some(body) => Rc::clone(body),
                                    None => panic!("a put of the stored body when none is held"),
                                },
                                _ => Rc::clone(origin_body),
                            };
                            // As the shell does: the record holds the length of the body it stores
                            // (an R2 put streams exactly the length its record declares, and
                            // fails on a body of another length).
                            if tier == Tier::R2 && meta.body_len != body.len() as u64 {
                                continue;
                            }
                            meta.body_len = body.len() as u64;
                            match tier {
                                Tier::Memory => {
                                    let size = tiers::memory_entry_size(&meta, body.len());
                                    tiers.memory.insert(key.into_string(), (meta, body), size);
                                }
                                Tier::Cache => tiers.cache.put(key.as_str(), Record::Entry(meta), body),
                                Tier::Kv => {
                                    if tiers.kv_writes.admit(now) {
                                        tiers.kv.put(key.as_str(), Record::Entry(meta), body)
                                    }
                                }
                                Tier::R2 => {
                                    if tiers.r2_writes.admit(now) {
                                        tiers.r2.put(key.as_str(), Record::Entry(meta), body)
                                    }
                                }
                            }
                        }
                        Effect::Forget { key, tier } => match tier {
                            Tier::Memory => {
                                tiers.memory.remove(key.as_str());
                            }
                            Tier::Cache => {
                                tiers.cache.delete(key.as_str());
                            }
                            Tier::Kv => {
                                tiers.kv.delete(key.as_str());
                            }
                            Tier::R2 => {
                                tiers.r2.delete(key.as_str());
                            }
                        },
                        Effect::Answer => {}
                        Effect::WriteIndex { key, index } => {
                            let key = key.as_str();
                            let existing = match tiers.cache.get(key) {
                                Some((Record::Index(i), _)) => Some(i),
                                _ => None,
                            };
                            let (merged, forgotten) = merge_index(existing, index);
                            for k in forgotten {
                                tiers.cache.delete(&k);
                            }
                            tiers.memory.remove(key);
                            tiers.cache.put(key, Record::Index(merged), Rc::from(Vec::new()));
                        }
                        Effect::Background(flow) => background = Some(flow),
                    }
                }
                let body = match reply.body {
                    ReplyBody::Empty => Rc::from(Vec::new()),
                    ReplyBody::Text(text) => Rc::from(text.into_bytes()),
                    ReplyBody::Stored { range } => {
                        let Some(stored) = stored_body.as_ref() else {
                            panic!("an answer from a stored body when none is held")
                        };
                        match range {
                            Some(range) => Rc::from(crate::rfc::range::cut(stored, Some(range))),
                            None => Rc::clone(stored),
                        }
                    }
                    ReplyBody::Origin => Rc::clone(origin_body),
                };
                let exchange = Exchange {
                    head: reply.head,
                    body,
                    outcome: reply.outcome,
                    ruleset: reply.ruleset,
                    fetch_deadlines: std::mem::take(fetch_deadlines),
                    looked_in: std::mem::take(looked_in),
                    recorded,
                };
                // The answer and the memory tier are in place: release the waiters.
                if let Some((key, ticket)) = running.leading.take() {
                    tiers.collapser.finish(&key, ticket);
                }
                // A background revalidation runs right after the answer, at the same `now`.
                if let Some(bg) = background {
                    let step = bg.background_step();
                    let mut bg = Running::new(*bg, step);
                    loop {
                        match advance(policy, tiers, &mut bg, origin, now, purged) {
                            Progress::Done(_) => break,
                            Progress::Leading => {}
                            Progress::Waiting => bg.give_up = true,
                        }
                    }
                }
                return Progress::Done(Box::new(exchange));
            }
        };
    }
}
