//! Objects of rulesets whose operation says `"globalTier": "r2"` (large bodies: files, images,
//! video), kept in an R2 bucket as well, so every location can serve them without the origin
//! once one location has stored them. The object's body is the entry's body, streamed in as it
//! streams to the client and out again (a range by R2's own ranged read); its custom metadata
//! field [`R2_RECORD_FIELD`] holds the entry's record. What is stored, and whether, is the
//! core's (`storage::tiers::r2_admits`, `flow::effects`); a worker without the binding runs
//! without the tier.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStream;
use worker::{Bucket, Conditional, Env, Range};

use rulecache::storage::key::StorageKey;
use rulecache::storage::meta::Meta;
use rulecache::storage::tiers::{r2_object_name as object_key, R2_RECORD_FIELD};

#[wasm_bindgen(module = "/js/r2.js")]
extern "C" {
    #[wasm_bindgen(js_name = putStream, catch)]
    fn put_stream_js(
        bucket: &JsValue,
        key: &str,
        stream: ReadableStream,
        length: f64,
        field: &str,
        record: &str,
    ) -> Result<js_sys::Promise, JsValue>;
}

const R2_BINDING: &str = "RULECACHE_R2";

fn bucket(env: &Env) -> Option<Bucket> {
    env.bucket(R2_BINDING).ok()
}

/// The record of the object under `storage_key`, and the object's ETag (its version), if any.
/// Only the object's head is read.
pub async fn head(env: &Env, storage_key: &StorageKey) -> Option<(Meta, String)> {
    let object = bucket(env)?.head(object_key(storage_key)).await.ok()??;
    let fields = object.custom_metadata().ok()?;
    let meta = Meta::decode(fields.get(R2_RECORD_FIELD)?).ok()?;
    Some((meta, object.etag()))
}

/// The body of the object under `storage_key` at version `etag`, or only its bytes
/// `start..=end` (R2's ranged read: the rest is never read). None when it is gone or was
/// replaced since its head was read.
pub async fn body(
    env: &Env,
    storage_key: &StorageKey,
    etag: &str,
    range: Option<(u64, u64)>,
) -> Option<ReadableStream> {
    let bucket = bucket(env)?;
    let mut get = bucket
        .get(object_key(storage_key))
        .only_if(Conditional { etag_matches: Some(etag.to_string()), ..Default::default() });
    if let Some((start, end)) = range {
        get = get.range(Range::OffsetWithLength { offset: start, length: end.saturating_sub(start) + 1 });
    }
    let object = get.execute().await.ok()??;
    match object.body()?.response_body().ok()? {
        worker::ResponseBody::Stream(stream) => Some(stream),
        _ => None,
    }
}

/// Starts storing `stream` (exactly `length` bytes) under `storage_key` with its encoded
/// record; the returned future ends when R2 has it. None without the binding.
pub fn put_stream(
    env: &Env,
    storage_key: &StorageKey,
    stream: ReadableStream,
    length: u64,
    meta_value: &str,
) -> Option<JsFuture> {
    let bucket = bucket(env)?;
    let promise = put_stream_js(
        bucket.as_ref(),
        &object_key(storage_key),
        stream,
        length as f64,
        R2_RECORD_FIELD,
        meta_value,
    )
    .ok()?;
    Some(JsFuture::from(promise))
}

/// Stores `bytes` (a body already read) under `storage_key` with its encoded record.
pub async fn put_bytes(
    env: &Env,
    storage_key: &StorageKey,
    bytes: &[u8],
    meta_value: &str,
) -> worker::Result<()> {
    let Some(bucket) = bucket(env) else { return Ok(()) };
    bucket
        .put(object_key(storage_key), bytes.to_vec())
        .custom_metadata(
            [(R2_RECORD_FIELD.to_string(), meta_value.to_string())]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        )
        .execute()
        .await
        .map(|_| ())
}

/// Deletes the object under `storage_key` (a hard purge at this location, an invalidation).
pub async fn delete(env: &Env, storage_key: &StorageKey) {
    if let Some(bucket) = bucket(env) {
        let _ = bucket.delete(object_key(storage_key)).await;
    }
}
