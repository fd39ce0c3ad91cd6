//! A synchronous driver for [`Flow`]: runs the engine against any [`Store`] and an origin
//! given as a closure, with the time passed in. The native scenario tests use it; the worker
//! shell drives the same flow asynchronously against the Cache API and `fetch`.

use std::rc::Rc;

use crate::engine::{merge_index, BodySource, Flow, Found, Outcome, Purged, Step};
use crate::http::{RequestHead, ResponseHead, Time};
use crate::meta::Meta;
use crate::policy::Policy;
use crate::store::{Record, Store};

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
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get(name)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Runs one request through the cache at `now`. Background revalidations run right after
/// the answer, at the same `now`. `purged` answers for the purge ledger.
pub fn run(
    policy: &Policy,
    store: &mut dyn Store,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    request: RequestHead,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> Exchange {
    let (mut flow, step) = Flow::start(policy, request, now, false);
    let (exchange, background) = drive(policy, store, origin, &mut flow, step, now, purged);
    if let Some(mut bg) = background {
        let step = bg.background_step();
        let _ = drive(policy, store, origin, &mut bg, step, now, purged);
    }
    exchange
}

#[allow(clippy::too_many_arguments)]
fn drive(
    policy: &Policy,
    store: &mut dyn Store,
    origin: &mut dyn FnMut(&RequestHead) -> OriginResult,
    flow: &mut Flow,
    mut step: Step,
    now: Time,
    purged: &dyn Fn(&Meta) -> Purged,
) -> (Exchange, Option<Box<Flow>>) {
    let mut stored_body: Rc<[u8]> = Rc::from(Vec::new());
    let mut origin_body: Rc<[u8]> = Rc::clone(&stored_body);
    let mut fetch_deadlines = Vec::new();
    loop {
        step = match step {
            Step::Lookup { key } => {
                let (found, state) = match store.get(&key) {
                    None => (Found::Nothing, Purged::No),
                    Some((Record::Index(i), _)) => (Found::Index(i), Purged::No),
                    Some((Record::Entry(m), body)) => {
                        stored_body = body;
                        let state = purged(&m);
                        (Found::Entry(m), state)
                    }
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
                let reply = *reply;
                for key in &reply.invalidate {
                    if let Some((Record::Index(i), _)) = store.get(key) {
                        for v in &i.variants {
                            store.delete(v);
                        }
                    }
                    store.delete(key);
                }
                if let Some(order) = reply.store {
                    let body = match order.body {
                        BodySource::Stored => Rc::clone(&stored_body),
                        _ => Rc::clone(&origin_body),
                    };
                    if let Some((index_key, index)) = order.index {
                        let existing = match store.get(&index_key) {
                            Some((Record::Index(i), _)) => Some(i),
                            _ => None,
                        };
                        let (merged, forgotten) = merge_index(existing, index);
                        for k in forgotten {
                            store.delete(&k);
                        }
                        store.put(&index_key, Record::Index(merged), Rc::from(Vec::new()));
                    }
                    // As the shell does: the record holds the length of the body it stores.
                    let mut meta = order.meta;
                    meta.body_len = body.len() as u64;
                    store.put(&order.key, Record::Entry(Box::new(meta)), body);
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
                };
                return (exchange, reply.background);
            }
        };
    }
}
