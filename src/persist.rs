//! Objects a policy marks `persist`: kept in Workers KV as well, so every location can serve
//! them without the origin once one location has stored them. The value is the entry's
//! record (visible ASCII, no newline), a newline, then the body.

use worker::{Env, KvError};

use rulecache::storage::key::StorageKey;
use rulecache::storage::meta::Meta;
use rulecache::storage::tiers::STORAGE_SECS;

const KV_BINDING: &str = "RULECACHE_KV";
const PREFIX: &str = "obj:";

fn kv_key(storage_key: &StorageKey) -> String {
    format!("{PREFIX}{storage_key}")
}

/// The persisted entry under `storage_key`, if any.
pub async fn get(env: &Env, storage_key: &StorageKey) -> Option<(Meta, Vec<u8>)> {
    let kv = env.kv(KV_BINDING).ok()?;
    let value = kv.get(&kv_key(storage_key)).bytes().await.ok()??;
    let split = value.iter().position(|b| *b == b'\n')?;
    let meta = std::str::from_utf8(value.get(..split)?).ok().and_then(|m| Meta::decode(m).ok())?;
    Some((meta, value.get(split + 1..)?.to_vec()))
}

/// Persists an entry (its encoded record and body) for as long as the Cache API keeps it.
pub async fn put(env: &Env, storage_key: &StorageKey, meta_value: &str, body: &[u8]) -> Result<(), KvError> {
    if meta_value.len() + 1 + body.len() > rulecache::storage::tiers::KV_MAX_VALUE {
        return Ok(());
    }
    let kv = env.kv(KV_BINDING).map_err(|e| KvError::InvalidKvStore(e.to_string()))?;
    let mut value = Vec::with_capacity(meta_value.len() + 1 + body.len());
    value.extend_from_slice(meta_value.as_bytes());
    value.push(b'\n');
    value.extend_from_slice(body);
    kv.put_bytes(&kv_key(storage_key), &value)?.expiration_ttl(STORAGE_SECS).execute().await
}

/// Forgets a persisted entry (hard purge).
pub async fn delete(env: &Env, storage_key: &StorageKey) {
    if let Ok(kv) = env.kv(KV_BINDING) {
        let _ = kv.delete(&kv_key(storage_key)).await;
    }
}
