//! Drives the engine's [`Flow`] against the memory tier, the Workers Cache API and the origin:
//! the lookups and the origin fetch here, the reply's effects in [`execute`].

mod execute;

use std::rc::Rc;

use futures_util::future::{select, Either};
use worker::*;

use super::convert::{edited_copy, forward, headers_to_js, response_head, HeaderEdits, RequestLines};
use super::isolate::{with_isolate, MemEntry};
use super::{ledger, now, persist, policy_store, r2, Config};
use rulecache::flow::engine::{FetchFailure, Flow, Found, Reply, Step};
use rulecache::flow::{lookup_tiers, Tier};
use rulecache::http::{Headers, RequestHead, Time};
use rulecache::policy::Policy;
use rulecache::purge::auth;
use rulecache::storage::key::StorageKey;
use rulecache::storage::meta::{Meta, Purged, VaryIndex};
use rulecache::storage::stats::Served;
use rulecache::storage::tiers::{self, Collapser, Join, COLLAPSE_POLL_MS};

/// Header carrying an entry's record on a Cache API response.
pub const META_HEADER: &str = "x-rulecache-meta";
/// Header carrying a URL's variant index on a Cache API response.
pub const INDEX_HEADER: &str = "x-rulecache-index";
use rulecache::storage::tiers::STORAGE_SECS;

impl MemEntry {
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

/// Held by the request that leads the fetch of an entry; dropping it (after the answer, and
/// the memory tier, are in place) releases the requests collapsed behind it. (Waiters poll on
/// their own timers: the runtime cancels a promise one request resolves for another, so the
/// fetching request cannot wake them.)
struct InflightGuard {
    key: StorageKey,
    ticket: u64,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        with_isolate(|i| i.collapser.finish(&self.key, self.ticket));
    }
}

/// Waits until the fetch joined as `ticket` is done, or as long as the core lets a collapsed
/// request wait.
async fn wait_for_fetch(key: &StorageKey, ticket: u64) {
    let mut waited = 0;
    while !with_isolate(|i| i.collapser.is_done(key, ticket)) && !Collapser::gives_up(waited) {
        Delay::from(std::time::Duration::from_millis(COLLAPSE_POLL_MS)).await;
        waited += COLLAPSE_POLL_MS;
    }
}

/// Counts one answered request in this isolate's statistics.
fn record_stats(served: &Served, now: Time) {
    with_isolate(|i| i.record(served, now));
}

/// Whether `base_key` is marked hit-for-pass (its last response could not be stored).
fn is_hit_for_pass(base_key: &StorageKey, now: Time) -> bool {
    with_isolate(|i| i.pass.is_marked(base_key, now))
}

/// The body the last lookup found.
enum StoredBody {
    None,
    Memory(Rc<[u8]>),
    Cache(Response),
    /// An R2 object: its key and version; its body is read when it is sent (a range by R2's
    /// ranged read).
    R2 {
        key: StorageKey,
        etag: String,
    },
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
    let head = incoming.head()?;
    // Debug headers on request: proven by the admin secret only.
    let debug = auth::is_authorized_quick(&config.secrets, auth::Scope::Admin, &head.headers);
    let client_headers = head.headers.clone();
    let (mut flow, step) = Flow::start(&policy, head, now, debug);
    let mut io = Io::new(now);
    io.client = Some((req, client_headers));
    io.env = Some(env.clone());
    let mut reply = io.drive(&policy, &mut flow, step, config, Some(ctx)).await;
    let effects = flow.effects(&policy, &mut reply);
    let (response, background) = io.execute(effects, Some(reply), ctx, now).await?;
    // A refresh of the purge ledger's copy that is due starts once the answer is made (a
    // request that served a stored entry has waited for one already, if it had to).
    ledger::refresh_if_due(env, ctx, now, false).await;
    if let Some(bg) = background {
        let policy = policy.clone();
        let origin = config.origin.clone();
        let env = env.clone();
        ctx.wait_until(async move {
            let config = Config {
                origin,
                admin_prefix: String::new(),
                secrets: Default::default(),
                stats_location: None,
                stats_flush_ms: 0,
            };
            let mut flow = *bg;
            let step = flow.background_step();
            let mut io = Io::new(super::now());
            io.env = Some(env);
            let mut reply = io.drive(&policy, &mut flow, step, &config, None).await;
            let effects = flow.effects(&policy, &mut reply);
            if let Err(e) = io.execute_stored(effects, now).await {
                console_error!("rulecache: storing a revalidated response failed: {e}");
            }
        });
    }
    response.ok_or_else(|| Error::RustError("no answer".into()))
}

/// Looks up what is stored under `key` in the tiers a lookup searches (see
/// [`Io::lookup`]; KV through `env` when `kv`, R2 when `r2`). Used by "explain".
pub async fn lookup(env: &Env, key: &StorageKey, kv: bool, r2: bool) -> (Found, Option<Rc<Meta>>) {
    let mut io = Io::new(now());
    io.env = Some(env.clone());
    let found = io.lookup(key, kv, r2).await;
    let meta = match &found {
        Found::Entry(m) => Some(Rc::new((**m).clone())),
        _ => None,
    };
    (found, meta)
}

/// Removes whatever is stored under `key` (and, for an index, every variant it lists) from
/// this location, and from R2 when `env` is given. Returns how many records were removed
/// from this location.
pub async fn delete_key(key: &StorageKey, env: Option<&Env>) -> usize {
    if let Some(env) = env {
        r2::delete(env, key).await;
    }
    let key = key.as_str();
    let mut removed = 0;
    if with_isolate(|i| i.memory.remove(key).is_some()) {
        removed += 1;
    }
    let cache = Cache::default();
    if let Ok(Some(resp)) = cache.get(key, false).await {
        if let Ok(Some(index)) = resp.headers().get(INDEX_HEADER) {
            if let Ok(index) = VaryIndex::decode(&index) {
                for v in &index.variants {
                    with_isolate(|i| i.memory.remove(v));
                    if let Some(env) = env {
                        r2::delete(env, &StorageKey::from_stored(v)).await;
                    }
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
    /// The origin's content could not be read in full for the memory tier: nothing is stored
    /// and the client gets the core's 502 for it (`engine::unreadable_body_reply`).
    unreadable: bool,
    /// How long the origin took to answer the last fetch (its response head), for statistics.
    origin_ms: Option<u64>,
    /// The time, read again after each wait (a lookup in the Cache API or KV, a purge ledger
    /// refresh, the origin, another request's fetch): between two waits the flow runs in one
    /// go, and the clock is one call into JavaScript.
    now: Time,
}

impl Io {
    /// `now`: the time the request (or background task) started at.
    fn new(now: Time) -> Self {
        Io {
            stored: StoredBody::None,
            origin: None,
            origin_head: None,
            client: None,
            pending_bytes: None,
            memory_hit: None,
            leader: None,
            env: None,
            unreadable: false,
            origin_ms: None,
            now,
        }
    }

    /// Reads the clock again (after a wait).
    fn tick(&mut self) -> Time {
        self.now = now();
        self.now
    }

    /// Runs the flow to its reply. `ctx`: the client's request context, when there is a
    /// client (a request about to serve a stored entry may then wait for the purge ledger).
    async fn drive(
        &mut self,
        policy: &Policy,
        flow: &mut Flow,
        mut step: Step,
        config: &Config,
        ctx: Option<&Context>,
    ) -> Reply {
        loop {
            step = match step {
                Step::Lookup { key, kv, r2 } => {
                    let found = self.lookup(&key, kv, r2).await;
                    let purged = match &found {
                        Found::Entry(meta) => {
                            if let (Some(ctx), Some(env)) = (ctx, self.env.as_ref()) {
                                if ledger::refresh_if_due(env, ctx, self.now, true).await {
                                    self.tick();
                                }
                            }
                            ledger::effect(meta, self.now)
                        }
                        _ => Purged::No,
                    };
                    flow.found(policy, found, purged, self.now)
                }
                // RFC 9111 §4: requests for an entry another request is fetching wait for that
                // fetch and look again (the core says when: not for a URL marked hit-for-pass).
                Step::Fetch { request, with_body, coalesce, deadline_ms } => {
                    let marked = is_hit_for_pass(&flow.base_key(), self.now);
                    let join =
                        with_isolate(|i| i.collapser.join(coalesce.as_ref(), self.leader.is_some(), marked));
                    match (join, coalesce) {
                        (Join::Wait(ticket), Some(key)) => {
                            wait_for_fetch(&key, ticket).await;
                            self.tick();
                            flow.retry_after_collapse()
                        }
                        (join, key) => {
                            if let (Join::Lead(ticket), Some(key)) = (join, key) {
                                self.leader = Some(InflightGuard { key, ticket });
                            }
                            let sent = self.tick();
                            let named = flow.origin_name().is_some();
                            let fetched = self.fetch(config, &request, named, with_body, deadline_ms).await;
                            let now = self.tick();
                            self.origin_ms = Some(now.saturating_sub(sent));
                            match fetched {
                                Ok(resp) => {
                                    let head = response_head(&resp);
                                    self.origin_head = Some(head.headers.clone());
                                    self.origin = Some(resp);
                                    flow.origin_response(policy, head, now)
                                }
                                Err(failure) => flow.fetch_failed(policy, failure, now),
                            }
                        }
                    }
                }
                Step::Respond(reply) => return *reply,
            }
        }
    }

    /// Searches the tiers the core names for `key` (memory, the Cache API unless the key is
    /// marked hit-for-pass, KV when `kv`, R2 when `r2`).
    async fn lookup(&mut self, key: &StorageKey, kv: bool, r2: bool) -> Found {
        for tier in lookup_tiers(kv, r2, is_hit_for_pass(key, self.now)) {
            let found = match tier {
                Tier::Memory => self.lookup_memory(key),
                Tier::Cache => self.lookup_cache(key).await,
                Tier::Kv => self.lookup_kv(key).await,
                Tier::R2 => self.lookup_r2(key).await,
            };
            if tier != Tier::Memory {
                self.tick();
            }
            if !matches!(found, Found::Nothing) {
                return found;
            }
        }
        Found::Nothing
    }

    fn lookup_memory(&mut self, key: &StorageKey) -> Found {
        let key = key.as_str();
        let Some(entry) = with_isolate(|i| i.memory.get(key).cloned()) else { return Found::Nothing };
        // An entry older than the storage horizon may have outlived the ledger records that
        // purged it (they are compacted after that long): it is dropped, not served.
        if tiers::outlived(entry.meta.stored_at, self.now) {
            with_isolate(|i| i.memory.remove(key));
            return Found::Nothing;
        }
        self.stored = StoredBody::Memory(entry.body.clone());
        let meta = (*entry.meta).clone();
        self.memory_hit = Some(entry);
        Found::Entry(Box::new(meta))
    }

    async fn lookup_cache(&mut self, key: &StorageKey) -> Found {
        let cache = Cache::default();
        let Ok(Some(resp)) = cache.get(key.as_str(), false).await else { return Found::Nothing };
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

    async fn lookup_kv(&mut self, key: &StorageKey) -> Found {
        let Some(env) = &self.env else { return Found::Nothing };
        match persist::get(env, key).await {
            Some((meta, body)) => {
                self.stored = StoredBody::Memory(body.into());
                Found::Entry(Box::new(meta))
            }
            None => Found::Nothing,
        }
    }

    /// Only the object's head (its record) is read here; its body when it is sent.
    async fn lookup_r2(&mut self, key: &StorageKey) -> Found {
        let Some(env) = &self.env else { return Found::Nothing };
        match r2::head(env, key).await {
            // An object older than the storage horizon may have outlived the ledger records
            // that purged it: not served (the next miss replaces it).
            Some((meta, _)) if tiers::outlived(meta.stored_at, self.now) => Found::Nothing,
            Some((meta, etag)) => {
                self.stored = StoredBody::R2 { key: key.clone(), etag };
                Found::Entry(Box::new(meta))
            }
            None => Found::Nothing,
        }
    }

    /// Sends `request` to the origin; the runtime's error message when it cannot be reached
    /// (within `deadline_ms` when the flow set one) or its answer cannot be read. `named`: the
    /// request is for a named origin of the policy, and its URL is already that origin's.
    async fn fetch(
        &mut self,
        config: &Config,
        request: &RequestHead,
        named: bool,
        with_body: bool,
        deadline_ms: Option<u64>,
    ) -> std::result::Result<web_sys::Response, FetchFailure> {
        let url = match &config.origin {
            Some(origin) if !named => rulecache::http::origin_url(origin, &request.url),
            _ => request.url.to_string(),
        };
        let (headers, edits) = match &self.client {
            Some((js, received)) => (js.headers(), HeaderEdits::between(received, &request.headers)),
            None => (headers_to_js(&request.headers).0, HeaderEdits::default()),
        };
        let body = if with_body { self.client.take().and_then(|(client, _)| client.body()) } else { None };
        let send = forward(&url, request.method.as_str(), &headers, &edits, body);
        let Some(deadline_ms) = deadline_ms else { return send.await };
        let timeout = Box::pin(Delay::from(std::time::Duration::from_millis(deadline_ms)));
        let outcome = {
            let fetch = Box::pin(send);
            match select(fetch, timeout).await {
                Either::Left((result, _)) => result,
                Either::Right(_) => Err(FetchFailure::TimedOut),
            }
        };
        outcome
    }
}
