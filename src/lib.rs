//! The Cloudflare Workers shell of rulecache: turns the core's decisions into I/O (the Cache
//! API, KV, the purge ledger's Durable Object, fetch to the origin). Compiled for wasm only; on
//! the host this crate is empty.

#![cfg(target_arch = "wasm32")]

mod admin;
mod assets;
mod cache;
mod convert;
mod fleet;
mod isolate;
mod ledger;
mod persist;
mod policy_store;
mod r2;
mod settle;

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::*;

use rulecache::http::Time;
use rulecache::purge::auth::Secrets;

/// The default admin path prefix (`ADMIN_PREFIX` var).
const DEFAULT_ADMIN_PREFIX: &str = "/_rulecache";

/// Settings read from the environment on each request (cheap: no I/O).
pub(crate) struct Config {
    /// The origin to forward to; `None`: the incoming URL itself (a worker on a zone route).
    pub origin: Option<rulecache::http::Url>,
    pub admin_prefix: String,
    /// `PURGE_SECRET`, `ADMIN_SECRET` and `STATS_SECRET`, each a list of accepted values; the
    /// core decides which proves what. Never logged, never sent.
    pub secrets: Secrets,
    /// `STATS_LOCATION`: the location this deployment reports its statistics under, instead
    /// of the runtime's data centre (local runs and tests).
    pub stats_location: Option<String>,
    /// `STATS_FLUSH_MS`: how often an isolate flushes its statistics (within the core's range).
    pub stats_flush_ms: Time,
}

impl Config {
    fn from_env(env: &Env) -> Config {
        let origin = env
            .var("ORIGIN")
            .ok()
            .map(|v| v.to_string())
            .filter(|v| !v.trim().is_empty())
            .and_then(|v| rulecache::http::parse_url(v.trim()));
        let admin_prefix = env
            .var("ADMIN_PREFIX")
            .ok()
            .map(|v| v.to_string().trim_end_matches('/').to_string())
            .filter(|v| v.starts_with('/') && v.len() > 1)
            .unwrap_or_else(|| DEFAULT_ADMIN_PREFIX.to_string());
        let text = |name: &str| env.secret(name).ok().map(|s| s.to_string());
        let secrets = Secrets::from_vars(
            text("PURGE_SECRET").as_deref(),
            text("ADMIN_SECRET").as_deref(),
            text("STATS_SECRET").as_deref(),
        );
        let var = |name: &str| env.var(name).ok().map(|v| v.to_string()).filter(|v| !v.trim().is_empty());
        let stats_location =
            var("STATS_LOCATION").map(|v| rulecache::storage::stats::fleet::location_name(Some(&v)));
        let stats_flush_ms =
            rulecache::storage::stats::fleet::interval_from_setting(var("STATS_FLUSH_MS").as_deref());
        Config { origin, admin_prefix, secrets, stats_location, stats_flush_ms }
    }
}

thread_local! {
    /// The settings, read once per isolate (a new deployment starts new isolates).
    static CONFIG: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

/// A future behind a pointer: its state machine is a function of its own, which the runtime
/// compiles on its first poll, not inlined into (and compiled with) the caller's.
pub(crate) type OwnFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// The current time; the only clock read in the crate.
pub(crate) fn now() -> Time {
    js_sys::Date::now() as Time
}

/// Runs once when the runtime instantiates the module, before its first request: what every
/// request needs and can be made without I/O is made here (the bundled policy, and the
/// decision path compiled by a rehearsal).
#[wasm_bindgen(start)]
fn start() {
    policy_store::prepare(now());
}

/// The fetch handler, exported for the runtime. A request answered without waiting on I/O (a
/// memory-tier hit) is answered within the call; any other gets a promise (see `settle`).
/// (The `worker` crate's `#[event(fetch)]` always spawns a task, queues a microtask and
/// returns a promise.)
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, ctx: worker::worker_sys::Context) -> JsValue {
    settle::settle(Box::pin(answer(req, env, Context::new(ctx))))
}

/// The response to one request; an error is logged and answered with a plain 500.
async fn answer(req: web_sys::Request, env: Env, ctx: Context) -> JsValue {
    match route(req, env, ctx).await {
        Ok(response) => response.into(),
        Err(e) => {
            console_error!("{e}");
            Response::error("INTERNAL SERVER ERROR", 500)
                .map(|r| web_sys::Response::from(r).into())
                .unwrap_or(JsValue::NULL)
        }
    }
}

async fn route(req: web_sys::Request, env: Env, ctx: Context) -> Result<web_sys::Response> {
    let config =
        CONFIG.with(|c| c.borrow_mut().get_or_insert_with(|| Rc::new(Config::from_env(&env))).clone());
    let now = now();
    // The runtime's request is used as it is on the cache path (its method, URL and fields
    // read in one crossing); the admin paths take the `worker` crate's wrapper (which reads
    // every property, `cf` included).
    let incoming = convert::RequestLines::read(&req);
    let location = fleet::location_of(&config, &req);
    let answer = if rulecache::http::url_path_is_under(incoming.url(), &config.admin_prefix) {
        // Neither the admin API nor PURGE is compiled with the cache path (see OwnFuture).
        let admin: OwnFuture<Result<Response>> =
            Box::pin(admin::handle(req.into(), &env, &ctx, &config, now));
        admin.await.map(Into::into)
    } else if incoming.method().eq_ignore_ascii_case("PURGE") {
        // Never forwarded to the origin, with or without credentials.
        let purge: OwnFuture<Result<Response>> =
            Box::pin(admin::purge_method(req.into(), &env, &ctx, &config, now));
        purge.await.map(Into::into)
    } else {
        cache::handle(req, incoming, &env, &ctx, &config, now).await
    };
    // Once answered, this isolate's statistics go to its location when a flush is due.
    fleet::flush_if_due(&env, &ctx, &config, &location, now);
    answer
}
