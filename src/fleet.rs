//! The fleet's statistics, as I/O: this isolate's flush to its location's shard (after an
//! answer, in the background, when `rulecache::storage::stats::fleet` says one is due), and the
//! `FleetStats` Durable Object, one instance per location (`loc:<name>`: the shard) and one for
//! the fleet (`global`: the roll-up). The rules (when to flush, merging, exactly once, bounds)
//! are the core's; this module moves the data.

use std::collections::{BTreeMap, BTreeSet};

use wasm_bindgen::JsValue;
use worker::*;

use super::isolate::with_isolate;
use super::{ledger, now, Config};
use rulecache::http::Time;
use rulecache::storage::stats::fleet::{
    location_name, Applied, FlushReport, LocationReport, LocationShard, LocationState, Rollup,
};
use rulecache::storage::stats::MinuteCounts;

const BINDING: &str = "FLEET_STATS";
const GLOBAL: &str = "global";

thread_local! {
    /// This isolate's name in its flushes (random, for exactly-once counting at the shard).
    static ISOLATE_NAME: String = ledger::retry_key();
}

/// The location a request was answered at: the deployment's `STATS_LOCATION` when set (local
/// runs and tests), else the runtime's data centre (`request.cf.colo`).
pub fn location_of(config: &Config, req: &web_sys::Request) -> String {
    if let Some(name) = &config.stats_location {
        return name.clone();
    }
    let colo = js_sys::Reflect::get(req.as_ref(), &JsValue::from_str("cf"))
        .ok()
        .filter(|cf| cf.is_object())
        .and_then(|cf| js_sys::Reflect::get(&cf, &JsValue::from_str("colo")).ok())
        .and_then(|c| c.as_string());
    location_name(colo.as_deref())
}

/// Flushes this isolate's pending figures to its location's shard when due, in the background
/// of the current request (no timer: an isolate without requests has nothing new).
/// A deployment without the `FLEET_STATS` binding keeps its figures in the isolate (bounded).
pub fn flush_if_due(env: &Env, ctx: &Context, config: &Config, location: &str, now: Time) {
    if env.durable_object(BINDING).is_err() {
        return;
    }
    let cursor = ledger::cursor();
    let name = ISOLATE_NAME.with(Clone::clone);
    let interval = config.stats_flush_ms;
    let Some(report) =
        with_isolate(|i| i.stats.as_mut().and_then(|s| s.take_flush(&name, location, cursor, interval, now)))
    else {
        return;
    };
    let env = env.clone();
    ctx.wait_until(async move {
        let sent = send(&env, &format!("loc:{}", report.location), "/flush", &report, interval).await;
        with_isolate(|i| {
            if let Some(stats) = i.stats.as_mut() {
                match sent {
                    Ok(answer) => {
                        stats.flushed(&report);
                        // The shard's advice: a longer interval when its location is crowded.
                        if let Some(ms) = serde_json::from_str::<serde_json::Value>(&answer)
                            .ok()
                            .and_then(|v| v.get("intervalMs").and_then(serde_json::Value::as_u64))
                        {
                            stats.flush.advise(ms);
                        }
                    }
                    Err(e) => {
                        console_error!("rulecache: flushing the statistics failed: {e}");
                        stats.flush_failed(report);
                    }
                }
            }
        });
    });
}

/// POSTs `body` to `path` of the named object; its answer's text.
async fn send<T: serde::Serialize>(
    env: &Env,
    object: &str,
    path: &str,
    body: &T,
    interval: Time,
) -> Result<String> {
    let stub = env.durable_object(BINDING)?.get_by_name(object)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(serde_json::to_string(body)?.into()));
    let req = Request::new_with_init(&format!("https://fleet{path}?interval={interval}"), &init)?;
    let mut resp = stub.fetch_with_request(req).await?;
    if resp.status_code() != 200 {
        return Err(Error::RustError(format!("status {}: {}", resp.status_code(), resp.text().await?)));
    }
    resp.text().await
}

/// The fleet's roll-up, as the global object holds it.
pub async fn rollup(env: &Env) -> Result<Rollup> {
    let stub = env.durable_object(BINDING)?.get_by_name(GLOBAL)?;
    let mut resp = stub.fetch_with_str("https://fleet/rollup").await?;
    if resp.status_code() != 200 {
        return Err(Error::RustError(format!("status {}: {}", resp.status_code(), resp.text().await?)));
    }
    let text = resp.text().await?;
    serde_json::from_str(&text).map_err(|e| Error::RustError(e.to_string()))
}

/// A location's shard, or the fleet's roll-up: one class, its role by the path it is asked.
#[durable_object]
pub struct FleetStats {
    state: State,
    env: Env,
    shard: std::cell::RefCell<Option<LocationShard>>,
    rollup: std::cell::RefCell<Option<Rollup>>,
}

/// Storage keys of the roll-up: its totals, one per minute, one per location (each value stays
/// small whatever the fleet's size).
const ROLLUP_KEY: &str = "rollup";
const MINUTE_PREFIX: &str = "minute:";
const LOCATION_PREFIX: &str = "location:";
const SHARD_KEY: &str = "shard";
/// The interval the shard's last flush named, for its alarm.
const INTERVAL_KEY: &str = "interval";

async fn get_json<T: serde::de::DeserializeOwned>(storage: &Storage, key: &str) -> Result<Option<T>> {
    let Some(text) = storage.get::<String>(key).await? else { return Ok(None) };
    Ok(serde_json::from_str(&text).ok())
}

async fn list_json<T: serde::de::DeserializeOwned>(
    storage: &Storage,
    prefix: &str,
) -> Result<Vec<(String, T)>> {
    let map = storage.list_with_options(ListOptions::new().prefix(prefix)).await?;
    let mut out = Vec::new();
    for entry in map.entries() {
        let Ok(entry) = entry else { continue };
        let pair = js_sys::Array::from(&entry);
        let (Some(key), Some(text)) = (pair.get(0).as_string(), pair.get(1).as_string()) else { continue };
        if let Ok(value) = serde_json::from_str(&text) {
            out.push((key.trim_start_matches(prefix).to_string(), value));
        }
    }
    Ok(out)
}

impl FleetStats {
    async fn load_rollup(&self) -> Result<Rollup> {
        if let Some(r) = self.rollup.borrow().as_ref() {
            return Ok(r.clone());
        }
        let storage = self.state.storage();
        let mut rollup: Rollup = get_json(&storage, ROLLUP_KEY).await?.unwrap_or_else(|| Rollup::new(now()));
        for (m, counts) in list_json::<MinuteCounts>(&storage, MINUTE_PREFIX).await? {
            if let Ok(m) = m.parse::<u64>() {
                rollup.figures.minutes.insert(m, counts);
            }
        }
        rollup.locations = list_json::<LocationState>(&storage, LOCATION_PREFIX).await?.into_iter().collect();
        Ok(rollup)
    }

    /// Stores what `apply` changed: the totals, the minutes it touched (and drops those
    /// that left the day), its location.
    async fn save_rollup(
        &self,
        rollup: &Rollup,
        before: &BTreeSet<u64>,
        report: &LocationReport,
    ) -> Result<()> {
        let storage = self.state.storage();
        let mut main = rollup.clone();
        main.figures.minutes = BTreeMap::new();
        main.locations = BTreeMap::new();
        storage.put(ROLLUP_KEY, serde_json::to_string(&main)?).await?;
        for m in report.figures.minutes.keys() {
            if let Some(counts) = rollup.figures.minutes.get(m) {
                storage.put(&format!("{MINUTE_PREFIX}{m}"), serde_json::to_string(counts)?).await?;
            }
        }
        let gone: Vec<String> = before
            .iter()
            .filter(|m| !rollup.figures.minutes.contains_key(m))
            .map(|m| format!("{MINUTE_PREFIX}{m}"))
            .collect();
        if !gone.is_empty() {
            storage.delete_multiple(gone).await?;
        }
        if let Some(state) = rollup.locations.get(&report.location) {
            storage
                .put(&format!("{LOCATION_PREFIX}{}", report.location), serde_json::to_string(state)?)
                .await?;
        }
        let forgotten: Vec<String> = self
            .rollup
            .borrow()
            .iter()
            .flat_map(|r| r.locations.keys())
            .filter(|l| !rollup.locations.contains_key(*l))
            .map(|l| format!("{LOCATION_PREFIX}{l}"))
            .collect();
        if !forgotten.is_empty() {
            storage.delete_multiple(forgotten).await?;
        }
        Ok(())
    }

    async fn take_report(&self, report: LocationReport) -> Result<Response> {
        let now = now();
        let mut rollup = self.load_rollup().await?;
        let before: BTreeSet<u64> = rollup.figures.minutes.keys().copied().collect();
        if rollup.apply(&report, now) == Applied::Counted {
            self.save_rollup(&rollup, &before, &report).await?;
        }
        *self.rollup.borrow_mut() = Some(rollup);
        Response::ok("counted")
    }

    async fn load_shard(&self, location: &str, now: Time) -> Result<LocationShard> {
        let loaded = self.shard.borrow().clone();
        Ok(match loaded {
            Some(s) => s,
            None => get_json::<LocationShard>(&self.state.storage(), SHARD_KEY)
                .await?
                .unwrap_or_else(|| LocationShard::new(location, now)),
        })
    }

    async fn take_flush(&self, report: FlushReport, interval: Time) -> Result<Response> {
        let now = now();
        let mut shard = self.load_shard(&report.location, now).await?;
        shard.apply(&report, now);
        let advised = shard.advised_interval(interval, now);
        self.state.storage().put(INTERVAL_KEY, interval.to_string()).await?;
        self.forward(shard, interval, now).await?;
        Response::from_json(&serde_json::json!({ "intervalMs": advised }))
    }

    /// Sends the shard's report when due, and sets the alarm for what stays unsent.
    async fn forward(&self, mut shard: LocationShard, interval: Time, now: Time) -> Result<()> {
        let storage = self.state.storage();
        let forward = shard.take_forward(interval, now);
        *self.shard.borrow_mut() = Some(shard.clone());
        storage.put(SHARD_KEY, serde_json::to_string(&shard)?).await?;
        if let Some(forward) = forward {
            let sent = send(&self.env, GLOBAL, "/report", &forward, interval).await;
            let mut shard = self.shard.borrow().clone().unwrap_or(shard);
            match sent {
                Ok(_) => shard.forwarded(&forward),
                Err(e) => {
                    console_error!("rulecache: forwarding a location's statistics failed: {e}");
                    shard.forward_failed(forward);
                }
            }
            storage.put(SHARD_KEY, serde_json::to_string(&shard)?).await?;
            *self.shard.borrow_mut() = Some(shard);
        }
        // A quiet location's last figures go out when due, flush or not (the core's rule).
        let due = self.shard.borrow().as_ref().and_then(|s| s.forward_due_at(interval));
        if let Some(at) = due {
            let offset = i64::try_from(at.saturating_sub(now)).unwrap_or(i64::MAX).max(1);
            storage.set_alarm(offset).await?;
        }
        Ok(())
    }
}

impl DurableObject for FleetStats {
    fn new(state: State, env: Env) -> Self {
        Self { state, env, shard: std::cell::RefCell::new(None), rollup: std::cell::RefCell::new(None) }
    }

    /// A shard's alarm: what it could not forward with the last flush.
    async fn alarm(&self) -> Result<Response> {
        let now = now();
        let interval = rulecache::storage::stats::fleet::interval_from_setting(
            self.state.storage().get::<String>(INTERVAL_KEY).await?.as_deref(),
        );
        let shard = self.load_shard("unknown", now).await?;
        self.forward(shard, interval, now).await?;
        Response::ok("forwarded")
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let url = crate::convert::url_of(&req)?;
        let interval = rulecache::storage::stats::fleet::interval_from_setting(
            url.query_pairs().find(|(k, _)| k == "interval").map(|(_, v)| v.into_owned()).as_deref(),
        );
        match (req.method(), url.path()) {
            (Method::Post, "/flush") => match serde_json::from_str::<FlushReport>(&req.text().await?) {
                Ok(report) => self.take_flush(report, interval).await,
                Err(e) => Response::error(format!("not a flush: {e}"), 400),
            },
            (Method::Post, "/report") => match serde_json::from_str::<LocationReport>(&req.text().await?) {
                Ok(report) => self.take_report(report).await,
                Err(e) => Response::error(format!("not a location report: {e}"), 400),
            },
            (Method::Get, "/rollup") => {
                let rollup = self.load_rollup().await?;
                let body = serde_json::to_string(&rollup)?;
                *self.rollup.borrow_mut() = Some(rollup);
                Response::ok(body)
            }
            _ => Response::error("not found", 404),
        }
    }
}
