//! Drives the engine's [`Flow`] against the memory tier, the Workers Cache API and the origin.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use futures_util::future::{select, Either};
use worker::*;

use super::convert::{
    edited_copy, forward, headers_to_js, lean_response, read_body, respond, response_head, OutBody,
    OutHeaders, RequestLines,
};
use super::{ledger, now, persist, policy_store, Config};
use rulecache::engine::{merge_index, BodySource, Flow, Found, Outcome, Purged, Reply, Step, StoreOrder};
use rulecache::http::{Headers, RequestHead, Time};
use rulecache::lru::ByteLru;
use rulecache::meta::{Meta, VaryIndex};
use rulecache::policy::Policy;
use rulecache::range;
use rulecache::stats::Stats;
use rulecache::tiers::{self, HitForPass, COLLAPSE_POLL_MS, COLLAPSE_WAIT_MS};

/// Header carrying an entry's record on a Cache API response.
pub const META_HEADER: &str = "x-rulecache-meta";
/// Header carrying a URL's variant index on a Cache API response.
pub const INDEX_HEADER: &str = "x-rulecache-index";
pub use rulecache::tiers::STORAGE_SECS;

/// A body held by the memory tier.
#[derive(Clone)]
pub struct MemEntry {
    pub meta: Rc<Meta>,
    pub body: Rc<[u8]>,
    /// The head fields of the last response served from this entry, and the same as a
    /// JavaScript `Headers`: the next hit passes that object on again when its fields are the
    /// same (they change with `Age`), else a copy edited where they differ, instead of sending
    /// every field across.
    last_head: Rc<RefCell<Option<(Headers, web_sys::Headers)>>>,
}

impl MemEntry {
    fn new(meta: Meta, body: Rc<[u8]>) -> Self {
        MemEntry { meta: Rc::new(meta), body, last_head: Rc::default() }
    }

    /// The JavaScript `Headers` of a response from this entry with head fields `to`.
    fn headers_for(&self, to: &Headers) -> web_sys::Headers {
        let mut last = self.last_head.borrow_mut();
        let js = match last.as_ref() {
            Some((fields, js)) if fields == to => return js.clone(),
            Some((fields, js)) => edited_copy(js.clone(), fields, to),
            None => headers_to_js(to).0,
        };
        *last = Some((to.clone(), js.clone()));
        js
    }
}

/// One origin fetch in flight for a storage key; requests for the same key wait for it.
/// (Waiters poll on their own timers: the runtime cancels a promise one request resolves for
/// another, so the fetching request cannot wake them.)
#[derive(Default)]
struct Inflight {
    done: Cell<bool>,
}

/// Held by the request that fetches; dropping it (after the answer, and the memory tier,
/// are in place) releases the waiters.
struct InflightGuard {
    key: String,
    inner: Rc<Inflight>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        INFLIGHT.with(|m| {
            let mut m = m.borrow_mut();
            if m.get(&self.key).is_some_and(|i| Rc::ptr_eq(i, &self.inner)) {
                m.remove(&self.key);
            }
        });
        self.inner.done.set(true);
    }
}

/// Waits until the fetch is done (or as long as the core lets a collapsed request wait).
async fn wait_for_fetch(inflight: Rc<Inflight>) {
    let mut waited = 0;
    while !inflight.done.get() && waited < COLLAPSE_WAIT_MS {
        Delay::from(std::time::Duration::from_millis(COLLAPSE_POLL_MS)).await;
        waited += COLLAPSE_POLL_MS;
    }
}

/// Either joins a fetch in flight for `key` (returns what to wait on) or registers this
/// request as the one that fetches (returns the guard).
fn coalesce(key: &str) -> Either<Rc<Inflight>, InflightGuard> {
    INFLIGHT.with(|m| {
        let mut m = m.borrow_mut();
        match m.get(key) {
            Some(i) => Either::Left(i.clone()),
            None => {
                let inner = Rc::new(Inflight::default());
                m.insert(key.to_string(), inner.clone());
                Either::Right(InflightGuard { key: key.to_string(), inner })
            }
        }
    })
}

thread_local! {
    /// Hit-for-pass marks (the core's rules).
    static PASS: RefCell<HitForPass> = RefCell::new(HitForPass::default());
    static INFLIGHT: RefCell<HashMap<String, Rc<Inflight>>> = RefCell::new(HashMap::new());
    pub static MEMORY: RefCell<ByteLru<MemEntry>> = RefCell::new(tiers::memory_tier());
    pub static STATS: RefCell<Option<Stats>> = const { RefCell::new(None) };
}

/// Counts one answered request in this isolate's statistics.
fn record_stats(ruleset: Option<&str>, outcome: Outcome, bytes: u64, now: Time) {
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.get_or_insert_with(|| Stats::new(now)).record(ruleset, outcome, bytes);
    });
}

/// Whether `base_key` is marked hit-for-pass (its last response could not be stored).
fn is_hit_for_pass(base_key: &str, now: Time) -> bool {
    PASS.with(|p| p.borrow().is_marked(base_key, now))
}

/// The body the last lookup found.
enum StoredBody {
    None,
    Memory(Rc<[u8]>),
    Cache(Response),
}

/// Serves one request through the cache.
pub async fn handle(
    req: web_sys::Request,
    incoming: RequestLines,
    env: &Env,
    ctx: &Context,
    config: &Config,
    now: Time,
) -> Result<web_sys::Response> {
    let policy = policy_store::active(env, now).await;
    ledger::refresh_if_due(env, ctx, now).await;
    let head = incoming.head()?;
    let debug = rulecache::purge::auth::is_authorized_quick(config.secret.as_deref(), &head.headers);
    let client_headers = head.headers.clone();
    let (mut flow, step) = Flow::start(&policy, head, now, debug);
    let mut io = Io::new();
    io.client = Some((req, client_headers));
    io.env = Some(env.clone());
    let reply = io.drive(&policy, &mut flow, step, config).await;
    io.persist = reply.store.as_ref().is_some_and(|o| policy.operation(o.meta.ruleset.as_deref()).persist());
    let change = tiers::pass_change(reply.outcome, reply.store.is_some(), flow.bypass().is_some());
    PASS.with(|p| p.borrow_mut().apply(&flow.base_key(), change, now));
    let background = reply.background.clone();
    let response = io.finish(reply, ctx, now).await?;
    if let Some(bg) = background {
        let policy = policy.clone();
        let origin = config.origin.clone();
        ctx.wait_until(async move {
            let config = Config { origin, admin_prefix: String::new(), secret: None };
            let mut flow = *bg;
            let step = flow.background_step();
            let mut io = Io::new();
            // The stored body, for re-storing it after a 304.
            io.lookup(&flow.entry_key()).await;
            let reply = io.drive(&policy, &mut flow, step, &config).await;
            if let Err(e) = io.execute_store(reply.store, now).await {
                console_error!("rulecache: storing a revalidated response failed: {e}");
            }
        });
    }
    Ok(response)
}

/// Looks up what is stored under `key` in the memory tier, then the Cache API. Used by the
/// engine's lookups and by "explain".
pub async fn lookup(key: &str) -> (Found, Option<Rc<Meta>>) {
    let mut io = Io::new();
    let found = io.lookup(key).await;
    let meta = match &found {
        Found::Entry(m) => Some(Rc::new((**m).clone())),
        _ => None,
    };
    (found, meta)
}

/// Removes whatever is stored under `key` (and, for an index, every variant it lists) from
/// this location. Returns how many records were removed.
pub async fn delete_key(key: &str) -> usize {
    let mut removed = 0;
    MEMORY.with(|m| {
        if m.borrow_mut().remove(key).is_some() {
            removed += 1;
        }
    });
    let cache = Cache::default();
    if let Ok(Some(resp)) = cache.get(key, false).await {
        if let Ok(Some(index)) = resp.headers().get(INDEX_HEADER) {
            if let Ok(index) = VaryIndex::decode(&index) {
                for v in &index.variants {
                    MEMORY.with(|m| m.borrow_mut().remove(v));
                    if matches!(cache.delete(v.as_str(), false).await, Ok(CacheDeletionOutcome::Success)) {
                        removed += 1;
                    }
                }
            }
        }
    }
    if matches!(cache.delete(key, false).await, Ok(CacheDeletionOutcome::Success)) {
        removed += 1;
    }
    removed
}

struct Io {
    stored: StoredBody,
    origin: Option<web_sys::Response>,
    /// The origin's head as received (what the JavaScript response's headers hold).
    origin_head: Option<Headers>,
    /// The client's request and its head as received: its headers object is passed on to the
    /// origin with only the fields the flow changed edited, and its body forwarded.
    client: Option<(web_sys::Request, Headers)>,
    /// The origin body, already read for the memory tier.
    pending_bytes: Option<Rc<[u8]>>,
    /// The memory-tier entry the last lookup found (its head, as a JavaScript object).
    memory_hit: Option<MemEntry>,
    /// Set while this request is the one fetching an entry others wait for.
    leader: Option<InflightGuard>,
    /// The bindings, for objects persisted in KV.
    env: Option<Env>,
    /// The entry being stored is also persisted in KV (its operation says `persist`).
    persist: bool,
}

impl Io {
    fn new() -> Self {
        Io {
            stored: StoredBody::None,
            origin: None,
            origin_head: None,
            client: None,
            pending_bytes: None,
            memory_hit: None,
            leader: None,
            env: None,
            persist: false,
        }
    }

    async fn drive(&mut self, policy: &Policy, flow: &mut Flow, mut step: Step, config: &Config) -> Reply {
        loop {
            step = match step {
                Step::Lookup { key } => {
                    let mut found = self.lookup(&key).await;
                    if matches!(found, Found::Nothing) && policy.operation(flow.ruleset()).persist() {
                        if let Some(env) = &self.env {
                            if let Some((meta, body)) = persist::get(env, &key).await {
                                self.stored = StoredBody::Memory(body.into());
                                found = Found::Entry(Box::new(meta));
                            }
                        }
                    }
                    let purged = match &found {
                        Found::Entry(meta) => ledger::effect(meta),
                        _ => Purged::No,
                    };
                    flow.found(policy, found, purged, now())
                }
                // A URL marked hit-for-pass is fetched at once: its responses are not stored, so
                // waiting for another request's fetch would only delay this one (as Varnish's
                // hit-for-pass objects turn request coalescing off).
                Step::Fetch { request, with_body, coalesce: Some(key), deadline_ms }
                    if self.leader.is_none() && !is_hit_for_pass(&flow.base_key(), now()) =>
                {
                    match coalesce(&key) {
                        Either::Left(inflight) => {
                            wait_for_fetch(inflight).await;
                            flow.retry_after_collapse()
                        }
                        Either::Right(guard) => {
                            self.leader = Some(guard);
                            Step::Fetch { request, with_body, coalesce: None, deadline_ms }
                        }
                    }
                }
                Step::Fetch { request, with_body, deadline_ms, .. } => {
                    match self.fetch(config, &request, with_body, deadline_ms).await {
                        Ok(resp) => {
                            let head = response_head(&resp);
                            self.origin_head = Some(head.headers.clone());
                            self.origin = Some(resp);
                            flow.origin_response(policy, head, now())
                        }
                        Err(message) => flow.origin_error(
                            policy,
                            rulecache::engine::fetch_failure_detail(&message),
                            None,
                            now(),
                        ),
                    }
                }
                Step::Respond(reply) => return *reply,
            }
        }
    }

    async fn lookup(&mut self, key: &str) -> Found {
        let hit = MEMORY.with(|m| m.borrow_mut().get(key).cloned());
        if let Some(entry) = hit {
            self.stored = StoredBody::Memory(entry.body.clone());
            let meta = (*entry.meta).clone();
            self.memory_hit = Some(entry);
            return Found::Entry(Box::new(meta));
        }
        if is_hit_for_pass(key, super::now()) {
            return Found::Nothing;
        }
        let cache = Cache::default();
        let Ok(Some(resp)) = cache.get(key, false).await else { return Found::Nothing };
        if let Ok(Some(index)) = resp.headers().get(INDEX_HEADER) {
            return match VaryIndex::decode(&index) {
                Ok(i) => Found::Index(i),
                Err(_) => Found::Nothing,
            };
        }
        match resp.headers().get(META_HEADER) {
            Ok(Some(m)) => match Meta::decode(&m) {
                Ok(meta) => {
                    self.stored = StoredBody::Cache(resp);
                    Found::Entry(Box::new(meta))
                }
                Err(_) => Found::Nothing,
            },
            _ => Found::Nothing,
        }
    }

    /// Sends `request` to the origin; the runtime's error message when it cannot be reached
    /// (within `deadline_ms` when the flow set one) or its answer cannot be read.
    async fn fetch(
        &mut self,
        config: &Config,
        request: &RequestHead,
        with_body: bool,
        deadline_ms: Option<u64>,
    ) -> std::result::Result<web_sys::Response, String> {
        let url = match &config.origin {
            Some(origin) => {
                let mut u = origin.clone();
                u.set_path(request.url.path());
                u.set_query(request.url.query());
                u
            }
            None => request.url.clone(),
        };
        let headers = match &self.client {
            Some((js, received)) => edited_copy(js.headers(), received, &request.headers),
            None => headers_to_js(&request.headers).0,
        };
        let body = if with_body { self.client.take().and_then(|(client, _)| client.body()) } else { None };
        let send = forward(url.as_str(), &request.method, &headers, body);
        let Some(deadline_ms) = deadline_ms else { return send.await.map_err(|e| e.to_string()) };
        let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(deadline_ms)));
        let outcome = {
            let fetch = Box::pin(send);
            match select(fetch, timeout).await {
                Either::Left((result, _)) => result.map_err(|e| e.to_string()),
                Either::Right(_) => Err("timed out".to_string()),
            }
        };
        outcome
    }

    /// Turns the engine's reply into the client's response, storing and invalidating as told.
    async fn finish(&mut self, reply: Reply, ctx: &Context, now: Time) -> Result<web_sys::Response> {
        let Reply { head, body, store, invalidate, outcome, ruleset, text, range, .. } = reply;
        // An origin response passes its own headers object on, edited where the flow changed it.
        let out_headers = match (body, self.origin.as_ref(), self.origin_head.as_ref()) {
            (BodySource::Origin, Some(resp), Some(received)) => {
                OutHeaders::Js(edited_copy(resp.headers(), received, &head.headers))
            }
            // So does a memory-tier entry, for the body it holds.
            (BodySource::Stored, _, _) => match (&self.stored, &self.memory_hit) {
                (StoredBody::Memory(bytes), Some(entry)) if Rc::ptr_eq(bytes, &entry.body) => {
                    OutHeaders::Js(entry.headers_for(&head.headers))
                }
                _ => OutHeaders::Core(&head.headers),
            },
            _ => OutHeaders::Core(&head.headers),
        };
        for key in &invalidate {
            delete_key(key).await;
        }
        // A small body bound for the memory tier is read now and put there before the client
        // is answered, so the very next request in this isolate is a hit.
        if let Some(order) = store.as_ref().filter(|o| o.memory && o.body == BodySource::Origin) {
            if let (true, Some(resp)) =
                (tiers::memory_admits(order.meta.head.headers.content_length()), self.origin.as_ref())
            {
                let bytes = match read_body(resp).await {
                    Ok(bytes) => bytes,
                    Err(e) => {
                        console_error!("rulecache: reading the origin's content failed: {e}");
                        let (head, text) = rulecache::engine::unreadable_body_reply();
                        return respond(
                            head.status,
                            &OutHeaders::Core(&head.headers),
                            OutBody::Bytes(text.as_bytes()),
                        );
                    }
                };
                let mut meta = order.meta.clone();
                meta.body_len = bytes.len() as u64;
                let size = tiers::memory_entry_size(&meta.head.headers, bytes.len());
                MEMORY.with(|m| {
                    m.borrow_mut().insert(order.key.clone(), MemEntry::new(meta, bytes.clone()), size)
                });
                self.origin = None;
                self.pending_bytes = Some(bytes);
            }
        }
        let bodyless = matches!(head.status, 101 | 204 | 205 | 304);
        let mut sent_bytes = 0u64;
        // A stored body read whole here (the body sent borrows from it).
        let whole: Vec<u8>;
        let out_body = match body {
            _ if bodyless => OutBody::None,
            BodySource::Empty => match &text {
                Some(t) => OutBody::Bytes(t.as_bytes()),
                None => OutBody::None,
            },
            BodySource::Stored => match &mut self.stored {
                StoredBody::Memory(bytes) => {
                    let part = range::cut(bytes, range);
                    sent_bytes = part.len() as u64;
                    OutBody::Bytes(part)
                }
                StoredBody::Cache(resp) => {
                    let mut resp = if store.is_some() {
                        resp.cloned()?
                    } else {
                        std::mem::replace(resp, Response::empty()?)
                    };
                    if range.is_some() {
                        // A range is cut from the stored body, read whole.
                        whole = resp.bytes().await?;
                        let part = range::cut(&whole, range);
                        sent_bytes = part.len() as u64;
                        OutBody::Bytes(part)
                    } else {
                        match resp.into_parts().1 {
                            ResponseBody::Body(bytes) => {
                                whole = bytes;
                                OutBody::Bytes(&whole)
                            }
                            ResponseBody::Stream(stream) => OutBody::Stream(stream),
                            ResponseBody::Empty => OutBody::None,
                        }
                    }
                }
                StoredBody::None => OutBody::None,
            },
            BodySource::Origin => match (&self.pending_bytes, self.origin.as_ref()) {
                (Some(bytes), _) => OutBody::Bytes(bytes),
                // A body also being stored reaches the client through a copy.
                (None, Some(resp)) if store.is_some() => {
                    resp.clone()?.body().map_or(OutBody::None, OutBody::Stream)
                }
                (None, Some(resp)) => resp.body().map_or(OutBody::None, OutBody::Stream),
                (None, None) => OutBody::None,
            },
        };
        if matches!(outcome, Outcome::Hit | Outcome::StaleServed)
            && !matches!(out_body, OutBody::None)
            && sent_bytes == 0
        {
            sent_bytes = head.headers.content_length().unwrap_or(0);
        }
        record_stats(ruleset.as_deref(), outcome, sent_bytes, now);
        let response = respond(head.status, &out_headers, out_body)?;
        if let Some(order) = store {
            // The variant index is written before answering, so the next request finds the
            // variant it just stored.
            let mut order = order;
            if let Some(index) = order.index.take() {
                let cache = Cache::default();
                if let Err(e) = write_index(&cache, Some(index), now).await {
                    console_error!("rulecache: storing a variant index failed: {e}");
                }
            }
            let (mut stored, origin) =
                (std::mem::replace(&mut self.stored, StoredBody::None), self.origin.take());
            if let Some(bytes) = self.pending_bytes.take() {
                stored = StoredBody::Memory(bytes);
                order.body = BodySource::Stored;
            } else if let (BodySource::Stored, StoredBody::Memory(bytes)) = (order.body, &stored) {
                // Refreshed by a 304 and held in memory: update the memory tier now; the Cache
                // API copy keeps its older record and is revalidated if it is ever used.
                let size = tiers::memory_entry_size(&order.meta.head.headers, bytes.len());
                let entry = MemEntry::new(order.meta, bytes.clone());
                MEMORY.with(|m| m.borrow_mut().insert(order.key, entry, size));
                return Ok(response);
            }
            let (env, persist) = (self.env.clone(), self.persist);
            ctx.wait_until(async move {
                let mut io = Io { stored, origin, env, persist, ..Io::new() };
                if let Err(e) = io.execute_store(Some(order), now).await {
                    console_error!("rulecache: storing a response failed: {e}");
                }
            });
        }
        Ok(response)
    }

    /// Writes a store order: the entry (Cache API, and the memory tier when asked) and the
    /// URL's variant index.
    async fn execute_store(&mut self, order: Option<StoreOrder>, now: Time) -> Result<()> {
        let Some(order) = order else { return Ok(()) };
        let StoreOrder { key, mut meta, body, memory, index } = order;
        let cache = Cache::default();
        let source = match body {
            BodySource::Origin => {
                self.origin.take().map(|r| StoredBody::Cache(lean_response(r))).unwrap_or(StoredBody::None)
            }
            BodySource::Stored => std::mem::replace(&mut self.stored, StoredBody::None),
            BodySource::Empty => StoredBody::None,
        };
        let bytes: Option<Rc<[u8]>> = match source {
            StoredBody::Memory(b) => Some(b),
            StoredBody::Cache(mut resp) => {
                if (memory && tiers::memory_admits(meta.head.headers.content_length())) || self.persist {
                    Some(resp.bytes().await?.into())
                } else {
                    // Large or unknown-length bodies stream straight into the Cache API.
                    let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
                    let stored = stored_response(&meta_value, resp.into_parts().1)?;
                    cache.put(key.as_str(), stored).await?;
                    MEMORY.with(|m| m.borrow_mut().remove(&key));
                    return write_index(&cache, index, now).await;
                }
            }
            StoredBody::None => Some(Rc::from(Vec::new())),
        };
        let bytes = bytes.unwrap_or_else(|| Rc::from(Vec::new()));
        meta.body_len = bytes.len() as u64;
        let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
        let stored = stored_response(&meta_value, ResponseBody::Body(bytes.to_vec()))?;
        cache.put(key.as_str(), stored).await?;
        if let (true, Some(env)) = (self.persist, &self.env) {
            if let Err(e) = persist::put(env, &key, &meta_value, &bytes).await {
                console_error!("rulecache: persisting an entry in KV failed: {e}");
            }
        }
        let size = tiers::memory_entry_size(&meta.head.headers, bytes.len());
        MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if memory {
                m.insert(key.clone(), MemEntry::new(meta, bytes), size);
            } else {
                m.remove(&key);
            }
        });
        write_index(&cache, index, now).await
    }
}

/// The response the Cache API keeps: our record in a header, a storage lifetime, the body.
fn stored_response(meta_value: &str, body: ResponseBody) -> Result<Response> {
    let h = Headers::from_pairs([
        (META_HEADER, meta_value.to_string()),
        ("cache-control", format!("public, max-age={STORAGE_SECS}")),
    ]);
    Ok(Response::builder().with_status(200).with_headers(headers_to_js(&h)).body(body))
}

async fn write_index(cache: &Cache, index: Option<(String, VaryIndex)>, _now: Time) -> Result<()> {
    let Some((index_key, index)) = index else { return Ok(()) };
    let existing = match cache.get(index_key.as_str(), false).await {
        Ok(Some(resp)) => {
            resp.headers().get(INDEX_HEADER).ok().flatten().and_then(|v| VaryIndex::decode(&v).ok())
        }
        _ => None,
    };
    let (merged, forgotten) = merge_index(existing, index);
    for k in forgotten {
        let _ = cache.delete(k.as_str(), false).await;
    }
    let value = merged.encode().map_err(|e| Error::RustError(e.to_string()))?;
    let h = Headers::from_pairs([
        (INDEX_HEADER, value),
        ("cache-control", format!("public, max-age={STORAGE_SECS}")),
    ]);
    let resp = Response::builder().with_status(200).with_headers(headers_to_js(&h)).empty();
    MEMORY.with(|m| m.borrow_mut().remove(&index_key));
    cache.put(index_key.as_str(), resp).await
}
