//! The active policy: pushed bundles live in KV (every version kept for rollback); each
//! isolate reads the active one through a short in-memory cache. The bundled default profile
//! is used while KV holds no policy; when KV fails, or the active version no longer
//! validates, the isolate keeps the last good policy it has (the bundled one only if it never
//! had another), logs the failure and reports it in the admin API (`storeError`).

use std::rc::Rc;

use worker::*;

use crate::isolate::with_isolate;
use rulecache::http::Time;
use rulecache::policy::versions::StoreRead;
use rulecache::policy::{versions, Policy, PolicyError};

const KV_BINDING: &str = "RULECACHE_KV";
const ACTIVE_KEY: &str = "policy:active";
const HISTORY_KEY: &str = "policy:history";

fn version_key(v: u64) -> String {
    format!("policy:v:{v}")
}

pub use rulecache::policy::versions::HistoryItem;

thread_local! {
    /// The bundled default profile, compiled once per isolate (a constant of the build).
    static BUNDLED: Rc<Policy> = Rc::new(Policy::fallback(&crate::assets::default_profile()));
}

/// The bundled default profile (compiled on first use: [`prepare`] does it when the module
/// starts, before the first request).
fn bundled() -> Rc<Policy> {
    BUNDLED.with(Rc::clone)
}

/// Compiles the bundled profile now, while the module is being instantiated, and rehearses
/// the decision path under it (`flow::rehearse`), so that the first request waits for
/// neither.
pub fn prepare(now: Time) {
    BUNDLED.with(|policy| rulecache::flow::rehearse::rehearse(policy, now));
}

/// The policy store's last failure, while the active policy could not be read: (when, what).
pub fn store_error() -> Option<(Time, String)> {
    with_isolate(|i| i.policy.store_error().cloned())
}

/// The active policy (and where it came from): the isolate's copy while it is recent, else
/// what the store says, settled by the core's rules (`versions::ActivePolicy`).
pub async fn active_with_source(env: &Env, now: Time) -> (Rc<Policy>, &'static str) {
    if let Some((policy, source)) = with_isolate(|i| i.policy.if_fresh(now)) {
        return (policy, source.as_str());
    }
    let known = with_isolate(|i| i.policy.known_version());
    let read = match load_active(env, known).await {
        Ok(Some(p)) => StoreRead::Newer(Box::new(p)),
        Ok(None) => StoreRead::Nothing,
        Err(e) => StoreRead::Failed(e.to_string()),
    };
    let failed = matches!(read, StoreRead::Failed(_));
    let (policy, source) = with_isolate(|i| i.policy.settle(read, &bundled(), now));
    if failed {
        console_error!(
            "rulecache: reading the active policy failed ({}); keeping {} v{}",
            store_error().map(|(_, e)| e).unwrap_or_default(),
            policy.name(),
            policy.version()
        );
    }
    (policy, source.as_str())
}

/// The active policy.
pub async fn active(env: &Env, now: Time) -> Rc<Policy> {
    active_with_source(env, now).await.0
}

/// Reads the active version from KV: `Ok(None)` when KV has none, or it is `known`.
/// A worker deployed without the KV binding runs on the bundled policy (pushing one is refused
/// by the admin API), quietly.
async fn load_active(env: &Env, known: Option<u64>) -> Result<Option<Policy>> {
    let Ok(kv) = env.kv(KV_BINDING) else { return Ok(None) };
    let Some(active) = kv.get(ACTIVE_KEY).text().await.map_err(kv_err)? else { return Ok(None) };
    let Ok(version) = active.trim().parse::<u64>() else { return Ok(None) };
    if Some(version) == known {
        return Ok(None);
    }
    let Some(text) = kv.get(&version_key(version)).text().await.map_err(kv_err)? else {
        return Err(Error::RustError(format!("the active version {version} is not stored")));
    };
    match Policy::from_json(&text) {
        Ok(p) => Ok(Some(p.with_version(version))),
        Err(errors) => Err(Error::RustError(format!(
            "the active version {version} no longer validates ({} problems, first: {})",
            errors.len(),
            errors.first().map(|e| e.to_string()).unwrap_or_default()
        ))),
    }
}

fn kv_err(e: KvError) -> Error {
    Error::RustError(e.to_string())
}

/// The versions pushed so far, newest first.
pub async fn history(env: &Env) -> Result<Vec<HistoryItem>> {
    let kv = env.kv(KV_BINDING)?;
    let text = kv.get(HISTORY_KEY).text().await.map_err(kv_err)?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default())
}

/// Validates `text` and stores it as a new active version. An invalid bundle is refused with
/// every problem and changes nothing.
pub async fn push(env: &Env, text: &str, now: Time) -> Result<std::result::Result<u64, Vec<PolicyError>>> {
    let policy = match Policy::from_json(text) {
        Ok(p) => p,
        Err(errors) => return Ok(Err(errors)),
    };
    let kv = env.kv(KV_BINDING)?;
    let mut items = history(env).await?;
    let version = versions::next_version(&items, active(env, now).await.version());
    put_text(&kv, &version_key(version), text).await?;
    versions::record_push(
        &mut items,
        HistoryItem { version, name: policy.name().to_string(), pushed_at: now },
    );
    put_text(&kv, HISTORY_KEY, &serde_json::to_string(&items)?).await?;
    put_text(&kv, ACTIVE_KEY, &version.to_string()).await?;
    with_isolate(|i| i.policy.adopt(Rc::new(policy.with_version(version)), now));
    Ok(Ok(version))
}

/// Stores `text` under `key` as its UTF-8 bytes (read back with `.text()`). (`KvStore::put`
/// of a `String` first converts it to a JavaScript value through serde_wasm_bindgen; the
/// bytes go across as they are.)
async fn put_text(kv: &kv::KvStore, key: &str, text: &str) -> Result<()> {
    kv.put_bytes(key, text.as_bytes()).map_err(kv_err)?.execute().await.map_err(kv_err)
}

/// Makes a stored version active again. `Ok(false)` when that version is not kept.
pub async fn rollback(env: &Env, version: u64, now: Time) -> Result<bool> {
    let kv = env.kv(KV_BINDING)?;
    let Some(text) = kv.get(&version_key(version)).text().await.map_err(kv_err)? else { return Ok(false) };
    let Ok(policy) = Policy::from_json(&text) else { return Ok(false) };
    put_text(&kv, ACTIVE_KEY, &version.to_string()).await?;
    with_isolate(|i| i.policy.adopt(Rc::new(policy.with_version(version)), now));
    Ok(true)
}
