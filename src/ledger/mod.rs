//! The purge ledger: a Durable Object holds the authority as rows of its SQLite storage (one
//! for every location); each isolate keeps a copy, refreshed as `rulecache::purge::fanout`
//! decides, through its location's Cache API. The rules live in `rulecache::purge::ledger` and
//! `rulecache::purge::fanout`; this module only moves the data. Here: the isolate's side
//! (its copy, refreshes, appends and the retries of kept purges); `object`: the Durable Object
//! over its SQLite rows.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures_util::future::{select, Either};
use worker::*;

mod object;

use super::isolate::with_isolate;
use super::now;
use rulecache::flow::engine::{Invalidation, ORIGIN_BUDGET};
use rulecache::http::{hex, Time};
use rulecache::purge::fanout::{self, Outcome, Plan, Refresh, SharedAnswer, REFRESH_GIVE_UP_MS};
use rulecache::purge::ledger::{
    AppendAnswer, AppendOrder, LedgerError, Progress, Seen, SinceAnswer, Target, Unrecorded,
};
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::tiers::STORAGE_SECS;

const BINDING: &str = "PURGE_LEDGER";
const OBJECT_NAME: &str = "global";
/// Records older than this can affect nothing: every entry leaves storage by then (an hour
/// more for requests that took long to answer).
const MAX_ENTRY_LIFETIME_MS: Time = (STORAGE_SECS + 3600) * 1000;
/// Where a location keeps its last ledger answer in the Cache API.
const SHARED_KEY: &str = "https://purge-ledger.rulecache.internal/since";
/// How often a request waiting for a refresh looks whether it is done.
const WAIT_POLL_MS: u64 = 10;
/// The most answers one refresh applies (pages of a long ledger, a gap, a new epoch).
const MAX_ROUNDS: usize = 64;

thread_local! {
    /// The refresh in flight: set when it is done. (Waiters poll it on their own timers: the
    /// runtime cancels a promise one request resolves for another.)
    static FLIGHT: RefCell<Option<Rc<Cell<bool>>>> = const { RefCell::new(None) };
}

/// Where this isolate's copy of the ledger stands, once it has read the ledger.
pub fn cursor() -> Option<rulecache::storage::stats::fleet::LedgerCursor> {
    with_isolate(|i| {
        let c = &i.ledger;
        c.epoch().map(|epoch| rulecache::storage::stats::fleet::LedgerCursor {
            epoch: epoch.to_string(),
            seq: c.cursor(),
        })
    })
}

/// What the ledger says of purge `id`: when it was recorded and its last record; `None` when
/// the ledger holds no record of it.
pub async fn recorded(env: &Env, id: &str) -> Result<Option<rulecache::purge::receipt::PurgeRecorded>> {
    let stub = env.durable_object(BINDING)?.get_by_name(OBJECT_NAME)?;
    let enc = String::from(js_sys::encode_uri_component(id));
    let mut resp = stub.fetch_with_str(&format!("https://ledger/purge?id={enc}")).await?;
    match resp.status_code() {
        200 => Ok(Some(resp.json().await?)),
        404 => Ok(None),
        s => Err(Error::RustError(format!("status {s}: {}", resp.text().await.unwrap_or_default()))),
    }
}

/// What the ledger says about a stored entry at `now`, as the engine wants it.
pub fn effect(meta: &Meta, now: Time) -> Purged {
    with_isolate(|i| i.ledger.purged(meta, now))
}

/// Applies the answer to this isolate's own purge (out of band: the cursor only moves over
/// records directly after it). `taken_at`: when this isolate took the purge; an origin request
/// it sent after that postdates the purge (the purger sends it after the change), so it is
/// not purged again whatever the clocks say.
pub fn apply_own(answer: &AppendAnswer, taken_at: Time) {
    with_isolate(|i| i.ledger.apply_own(answer, taken_at));
}

/// Applies a purge the ledger has not taken (yet) to this isolate only.
pub fn apply_local(targets: &[Target], soft: bool, at: Time) {
    with_isolate(|i| i.ledger.apply_local(targets, soft, at));
}

/// Refreshes the copy when due: in the background (the current request uses the copy it
/// has), or waiting for a refresh, one per isolate at a time, until its deadline at most.
/// `serves_stored`: the request is about to serve a stored entry (only such a request may
/// wait; see `fanout::Refresher::due_before_lookup`).
/// True when it waited (the clock has moved on).
pub async fn refresh_if_due(env: &Env, ctx: &Context, now: Time, serves_stored: bool) -> bool {
    let last = with_isolate(|i| i.ledger.last_success());
    let due = with_isolate(|i| {
        let r = &i.refresher;
        if serves_stored {
            r.due(last, now)
        } else {
            r.due_before_lookup(last, now)
        }
    });
    match due {
        Refresh::No => false,
        Refresh::Background => {
            start_flight(env, ctx, now, false);
            false
        }
        Refresh::Blocking { until } => {
            let running = with_isolate(|i| i.refresher.in_flight(now));
            let flight = match FLIGHT.with(|f| f.borrow().clone()) {
                Some(f) if running => f,
                _ => start_flight(env, ctx, now, true),
            };
            while !flight.get() && super::now() < until {
                Delay::from(std::time::Duration::from_millis(WAIT_POLL_MS)).await;
            }
            true
        }
    }
}

fn start_flight(env: &Env, ctx: &Context, now: Time, blocking: bool) -> Rc<Cell<bool>> {
    with_isolate(|i| i.refresher.start(now));
    let done = Rc::new(Cell::new(false));
    FLIGHT.with(|f| *f.borrow_mut() = Some(done.clone()));
    let env = env.clone();
    let flag = done.clone();
    ctx.wait_until(async move {
        if !blocking {
            // A background refresh starts in a later task than the answer's, so the runtime
            // sends the answer first: neither the refresh's work nor compiling its code on
            // first use (an `OwnFuture`, not inlined here) delays it.
            Delay::from(std::time::Duration::ZERO).await;
        }
        let work: super::OwnFuture<Outcome> = Box::pin(refresh(&env, blocking));
        let limit = Box::pin(Delay::from(std::time::Duration::from_millis(REFRESH_GIVE_UP_MS)));
        let outcome = match select(work, limit).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => Outcome::Failure,
        };
        with_isolate(|i| i.refresher.finish(outcome, super::now()));
        flag.set(true);
        FLIGHT.with(|f| {
            let mut f = f.borrow_mut();
            if f.as_ref().is_some_and(|x| Rc::ptr_eq(x, &flag)) {
                *f = None;
            }
        });
    });
    done
}

async fn refresh(env: &Env, blocking: bool) -> Outcome {
    if !blocking {
        flush_pending(env).await;
    }
    // The first answer may be the location's shared one; the pages after it follow back to back.
    let mut next: Option<Plan> = None;
    // The page after the last one, asked for before that one was applied (`fanout::read_ahead`).
    let mut ahead: Option<PageRequest<'_>> = None;
    for _ in 0..MAX_ROUNDS {
        let (plan, shared) = match next.take() {
            Some(plan) => (plan, None),
            None => {
                let shared = read_shared().await;
                (with_isolate(|i| fanout::plan(&i.ledger, shared.as_ref(), now())), shared)
            }
        };
        let progress = match (plan, shared) {
            (Plan::UseShared, Some(s)) => {
                let at = now();
                with_isolate(|i| i.ledger.apply_answer(&s.answer, s.sent_at, at))
            }
            (Plan::Wait, _) => return Outcome::Deferred,
            (Plan::UseShared, None) => return Outcome::Failure,
            (Plan::Poll { since, claim }, shared) => {
                if let (true, Some(mut s)) = (claim, shared) {
                    s.claimed_at = Some(now());
                    write_shared(&s).await;
                }
                let request = match ahead.take().filter(|a| a.since == since) {
                    Some(a) => a,
                    None => PageRequest::send(env, since).await,
                };
                let sent_at = request.sent_at;
                let answer = match request.answer.await {
                    Ok(a) => a,
                    Err(e) => {
                        console_error!("rulecache: the purge ledger could not be read: {e}");
                        return Outcome::Failure;
                    }
                };
                if let Some(from) = fanout::read_ahead(&answer) {
                    ahead = Some(PageRequest::send(env, from).await);
                }
                let at = now();
                let progress = with_isolate(|i| i.ledger.apply_answer(&answer, sent_at, at));
                if fanout::shareable(&answer) {
                    write_shared(&SharedAnswer { answer, sent_at, claimed_at: None }).await;
                }
                progress
            }
        };
        if progress == Progress::Complete {
            let at = now();
            with_isolate(|i| i.ledger.compact(at, MAX_ENTRY_LIFETIME_MS));
            return Outcome::Success;
        }
        next = with_isolate(|i| fanout::plan_after(&i.ledger, progress));
    }
    Outcome::Failure
}

/// A ledger page asked for: its request is sent at once, its answer awaited later (so a page
/// can be asked for ahead of need, `fanout::read_ahead`).
struct PageRequest<'a> {
    since: u64,
    sent_at: Time,
    answer: super::OwnFuture<'a, Result<SinceAnswer>>,
}

impl<'a> PageRequest<'a> {
    /// Sends the request for the records after `since` now (the future is polled once, which
    /// hands the request to the runtime), without waiting for its answer.
    async fn send(env: &'a Env, since: u64) -> PageRequest<'a> {
        let seen = with_isolate(|i| i.ledger.seen());
        let sent_at = now();
        let mut answer: super::OwnFuture<'a, Result<SinceAnswer>> =
            Box::pin(async move { fetch_since(env, since, seen.as_ref()).await });
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(answer.as_mut().poll(cx))).await;
        if let std::task::Poll::Ready(done) = first {
            answer = Box::pin(std::future::ready(done));
        }
        PageRequest { since, sent_at, answer }
    }
}

async fn read_shared() -> Option<SharedAnswer> {
    let mut resp = Cache::default().get(SHARED_KEY, false).await.ok()??;
    resp.json::<SharedAnswer>().await.ok()
}

async fn write_shared(shared: &SharedAnswer) {
    let Ok(body) = serde_json::to_string(shared) else { return };
    let headers = worker::Headers::new();
    let _ = headers.set("content-type", "application/json");
    // The Cache API needs a lifetime; whether the answer is fresh is the core's decision.
    let _ = headers.set("cache-control", "max-age=60");
    let Ok(resp) = Response::ok(body).map(|r| r.with_headers(headers)) else { return };
    if let Err(e) = Cache::default().put(SHARED_KEY, resp).await {
        console_error!("rulecache: sharing the ledger answer failed: {e}");
    }
}

/// Asks the ledger for the records after `since`, telling it where the copy stands (`seen`),
/// so that it can tell when its own rows went back.
async fn fetch_since(env: &Env, since: u64, seen: Option<&Seen>) -> Result<SinceAnswer> {
    let stub = env.durable_object(BINDING)?.get_by_name(OBJECT_NAME)?;
    let mut url = format!("https://ledger/since?seq={since}");
    if let Some(seen) = seen {
        let enc = |s: &str| String::from(js_sys::encode_uri_component(s));
        url.push_str(&format!("&epoch={}&cursor={}&chain={}", enc(&seen.epoch), seen.seq, enc(&seen.chain)));
    }
    let mut resp = stub.fetch_with_str(&url).await?;
    if resp.status_code() != 200 {
        return Err(Error::RustError(format!(
            "status {}: {}",
            resp.status_code(),
            resp.text().await.unwrap_or_default()
        )));
    }
    resp.json().await
}

/// Records a purge in the ledger; returns the purge id and its records, or why it was not
/// recorded (the ledger's own answer read back by the core, or that it could not be reached).
pub async fn append(env: &Env, order: &AppendOrder) -> std::result::Result<AppendAnswer, LedgerError> {
    let unreachable = |e: Error| LedgerError::Unreachable(e.to_string());
    let stub = env.durable_object(BINDING).and_then(|ns| ns.get_by_name(OBJECT_NAME)).map_err(unreachable)?;
    let body = serde_json::to_string(order).map_err(|e| unreachable(e.into()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(body.into()));
    let req = Request::new_with_init("https://ledger/append", &init).map_err(unreachable)?;
    let mut resp = stub.fetch_with_request(req).await.map_err(unreachable)?;
    if resp.status_code() != 200 {
        let status = resp.status_code();
        return Err(LedgerError::from_answer(status, &resp.text().await.unwrap_or_default()));
    }
    resp.json().await.map_err(unreachable)
}

/// Records what an origin's response to an unsafe request invalidates
/// (`rulecache::flow::engine::Invalidation`): this isolate's copy honours it at once, and it is
/// appended to the ledger after the answer, under the origin's own budget; when the ledger does
/// not take it, it is kept and retried like any purge.
pub fn record_invalidation(env: &Env, ctx: &Context, record: Invalidation, now: Time) {
    apply_local(&record.targets, record.soft, now);
    let order = AppendOrder {
        targets: record.targets,
        soft: record.soft,
        nonce: Some(retry_key()),
        signed_at: None,
        credential: Some(ORIGIN_BUDGET.to_owned()),
        site: Some(record.site),
        soft_when_collapsed: true,
    };
    let env = env.clone();
    ctx.wait_until(async move {
        match append(&env, &order).await {
            Ok(answer) => apply_own(&answer, now),
            Err(e) => match e.for_retry() {
                Unrecorded::AlreadyRecorded => {}
                Unrecorded::Refused(why) => {
                    console_error!("rulecache: the purge ledger refused an origin's invalidation: {why}");
                }
                Unrecorded::Replayed | Unrecorded::RetryLater => {
                    console_error!("rulecache: the purge ledger did not take an origin's invalidation ({e}); retrying");
                    keep_pending(order, super::now());
                }
            },
        }
    });
}

/// Keeps a purge the ledger did not take for retrying: once after the first retry delay (in
/// the background of the request that took it), then with every refresh of the copy.
pub fn defer_append(env: &Env, ctx: &Context, order: AppendOrder, now: Time) {
    with_isolate(|i| i.pending.push(order, now));
    let env = env.clone();
    ctx.wait_until(async move {
        let delay = fanout::retry_delay(1).unwrap_or(500);
        Delay::from(std::time::Duration::from_millis(delay)).await;
        flush_pending(&env).await;
    });
}

/// Keeps a purge the ledger did not take for retrying with the next refreshes of the copy.
pub fn keep_pending(order: AppendOrder, now: Time) {
    with_isolate(|i| i.pending.push(order, now));
}

/// Tries the kept purges that are due.
async fn flush_pending(env: &Env) {
    let due = with_isolate(|i| i.pending.take_due(now()));
    for (order, attempts) in due {
        match append(env, &order).await {
            Ok(answer) => apply_own(&answer, now()),
            Err(e) => match e.for_retry() {
                Unrecorded::AlreadyRecorded => {}
                Unrecorded::Refused(why) => {
                    console_error!("rulecache: the purge ledger refused a kept purge: {why}");
                }
                Unrecorded::Replayed | Unrecorded::RetryLater => {
                    with_isolate(|i| i.pending.failed(order, attempts, now()))
                }
            },
        }
    }
}

/// 16 random bytes as hex: the retry key of a purge without a signature.
pub fn retry_key() -> String {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let r = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        for (slot, b) in chunk.iter_mut().zip(r.to_le_bytes()) {
            *slot = b;
        }
    }
    hex(&bytes)
}
