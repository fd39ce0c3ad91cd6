//! Applying a reply's effects (`Flow::effects`): deletions, hit-for-pass marks and the memory
//! tier before the answer, the answer itself, the variant index, the Cache API and KV puts.

use std::rc::Rc;

use worker::*;

use super::{delete_key, record_stats, Io, StoredBody, INDEX_HEADER, META_HEADER, STORAGE_SECS};
use crate::convert::{
    edited_out, headers_to_js, lean_response, read_body, respond, slice_stream, HeaderEdits, OutBody,
    OutHeaders,
};
use crate::isolate::{with_isolate, MemEntry};
use crate::{persist, r2};
use rulecache::flow::engine::{merge_index, BodySource, Flow, Invalidation, Reply, ReplyBody};
use rulecache::flow::{Effect, Tier};
use rulecache::http::{Headers, Time};
use rulecache::rfc::range;
use rulecache::storage::key::StorageKey;
use rulecache::storage::meta::{Meta, VaryIndex};
use rulecache::storage::stats::{Outcome, Served};
use rulecache::storage::tiers;

impl Io {
    /// Applies a reply's effects in order (see [`Flow::effects`]): deletions, the hit-for-pass
    /// mark and a memory-tier put before the answer; the variant index right after it; the
    /// Cache API and KV puts in the background. Returns the client's response (when `reply` is
    /// given) and the background flow to run.
    pub(super) async fn execute(
        &mut self,
        effects: Vec<Effect>,
        reply: Option<Reply>,
        ctx: &Context,
        now: Time,
    ) -> Result<(Option<web_sys::Response>, Option<Box<Flow>>)> {
        // A body also stored after the answer reaches the client through a copy.
        let storing_after =
            effects.iter().any(|e| matches!(e, Effect::Put { tier: Tier::Cache | Tier::Kv | Tier::R2, .. }));
        let mut reply = reply;
        let mut response = None;
        let mut later = Vec::new();
        let mut background = None;
        let mut answered = false;
        for effect in effects {
            let effect = match effect {
                Effect::Background(flow) => {
                    background = Some(flow);
                    continue;
                }
                Effect::Record(record) => {
                    self.record(record, ctx, now);
                    continue;
                }
                effect if answered => {
                    later.push(effect);
                    continue;
                }
                effect => match self.apply_local(effect, now).await? {
                    Some(effect) => effect,
                    None => continue,
                },
            };
            match effect {
                Effect::Answer if self.unreadable => {
                    answered = true;
                    reply = None;
                    let (head, text) = rulecache::flow::engine::unreadable_body_reply();
                    let body = OutBody::Bytes(text.as_bytes());
                    response = Some(respond(head.status, &OutHeaders::Core(&head.headers), body)?);
                }
                Effect::Answer => {
                    answered = true;
                    if let Some(reply) = reply.take() {
                        response = Some(self.answer(reply, storing_after, now).await?);
                    }
                }
                other => later.push(other),
            }
        }
        // The variant index is written before answering, so the next request finds the variant
        // it just stored; the entry itself is stored in the background.
        let mut puts = Vec::new();
        if self.unreadable {
            later.clear();
        }
        for effect in later {
            match effect {
                Effect::WriteIndex { key, index } => {
                    if let Err(e) = write_index(&Cache::default(), key, index).await {
                        console_error!("rulecache: storing a variant index failed: {e}");
                    }
                }
                other => puts.push(other),
            }
        }
        if !puts.is_empty() {
            let (stored, origin) =
                (std::mem::replace(&mut self.stored, StoredBody::None), self.origin.take());
            let pending = self.pending_bytes.take();
            let env = self.env.clone();
            ctx.wait_until(async move {
                let mut io = Io { stored, origin, env, pending_bytes: pending, ..Io::new(crate::now()) };
                if let Err(e) = io.execute_stored(puts, now).await {
                    console_error!("rulecache: storing a response failed: {e}");
                }
            });
        }
        Ok((response, background))
    }

    /// Records an origin's invalidation (`Effect::Record`): counted; a hard one leaves the
    /// memory tier at once (the ledger's copy judges every other tier); the ledger takes it.
    fn record(&mut self, record: Invalidation, ctx: &Context, now: Time) {
        with_isolate(|i| {
            i.record_invalidation(&record, now);
            if !record.soft {
                for target in &record.targets {
                    i.memory.remove_where(|_, e| target.reaches(&e.meta.url, &e.meta.tags));
                }
            }
        });
        match &self.env {
            Some(env) => crate::ledger::record_invalidation(env, ctx, record, now),
            None => crate::ledger::apply_local(&record.targets, record.soft, now),
        }
    }

    /// Applies the effects that touch only this isolate and this location's deletions (no body
    /// leaves for storage): deletions, the hit-for-pass mark, the memory tier. Returns any other
    /// effect for the caller.
    async fn apply_local(&mut self, effect: Effect, now: Time) -> Result<Option<Effect>> {
        match effect {
            Effect::Delete { key } => {
                delete_key(&key, self.env.as_ref()).await;
            }
            Effect::Pass { key, change } => with_isolate(|i| i.pass.apply(&key, change, now)),
            Effect::Put { key, meta, body, tier: Tier::Memory } => self.put_memory(key, *meta, body).await?,
            Effect::Forget { key, tier: Tier::Memory } => {
                with_isolate(|i| i.memory.remove(key.as_str()));
            }
            other => return Ok(Some(other)),
        }
        Ok(None)
    }

    /// Puts an entry in the memory tier; an origin body (or a Cache API body) is read now.
    async fn put_memory(&mut self, key: StorageKey, mut meta: Meta, body: BodySource) -> Result<()> {
        let bytes = match self.body_bytes(body).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Ok(()),
            Err(e) if body == BodySource::Origin => {
                // It ended before its declared length, or could not be decoded.
                console_error!("rulecache: reading the origin's content failed: {e}");
                self.unreadable = true;
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        meta.body_len = bytes.len() as u64;
        let size = tiers::memory_entry_size(&meta, bytes.len());
        with_isolate(|i| i.memory.insert(key.into_string(), MemEntry::new(meta, bytes), size));
        Ok(())
    }

    /// The client's response for `reply`.
    async fn answer(&mut self, reply: Reply, storing_after: bool, now: Time) -> Result<web_sys::Response> {
        let Reply { head, body, outcome, ruleset, refusal, .. } = reply;
        // An origin response passes its own headers object on, edited where the flow changed it.
        let out_headers = match (&body, self.origin.as_ref(), self.origin_head.as_ref()) {
            (ReplyBody::Origin, Some(resp), Some(received)) => {
                edited_out(resp.headers(), received, &head.headers)
            }
            // So does a memory-tier entry, for the body it holds.
            (ReplyBody::Stored { .. }, _, _) => match (&self.stored, &self.memory_hit) {
                (StoredBody::Memory(bytes), Some(entry)) if Rc::ptr_eq(bytes, &entry.body) => {
                    OutHeaders::Js(entry.headers_for(&head.headers), HeaderEdits::default())
                }
                _ => OutHeaders::Core(&head.headers),
            },
            _ => OutHeaders::Core(&head.headers),
        };
        let bodyless = matches!(head.status, 101 | 204 | 205 | 304);
        let mut sent_bytes = 0u64;
        // A stored body read whole here (the body sent borrows from it).
        let whole: Vec<u8>;
        let out_body = match &body {
            _ if bodyless => OutBody::None,
            ReplyBody::Empty => OutBody::None,
            ReplyBody::Text(t) => OutBody::Bytes(t.as_bytes()),
            &ReplyBody::Stored { range } => match &mut self.stored {
                StoredBody::Memory(bytes) => {
                    let part = range::cut(bytes, range);
                    sent_bytes = part.len() as u64;
                    OutBody::Bytes(part)
                }
                StoredBody::Cache(resp) => {
                    let resp = if storing_after {
                        resp.cloned()?
                    } else {
                        std::mem::replace(resp, Response::empty()?)
                    };
                    if let Some((start, end)) = range {
                        // A range is streamed from the stored body: the bytes before it are
                        // read and dropped in the runtime, the bytes after it never read.
                        sent_bytes = end.saturating_sub(start) + 1;
                        match resp.into_parts().1 {
                            ResponseBody::Stream(stream) => OutBody::Stream(slice_stream(stream, start, end)),
                            ResponseBody::Body(bytes) => {
                                whole = bytes;
                                OutBody::Bytes(range::cut(&whole, range))
                            }
                            ResponseBody::Empty => OutBody::None,
                        }
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
                StoredBody::R2 { key, etag } => {
                    let stream = match &self.env {
                        Some(env) => r2::body(env, key, etag, range).await,
                        None => None,
                    };
                    match stream {
                        Some(stream) => {
                            sent_bytes = range.map_or(0, |(start, end)| end.saturating_sub(start) + 1);
                            OutBody::Stream(stream)
                        }
                        // Gone, or replaced, since its head was read: the core's answer for
                        // content that cannot be read, never a part of another version.
                        None => {
                            let (head, text) = rulecache::flow::engine::unreadable_body_reply();
                            return respond(
                                head.status,
                                &OutHeaders::Core(&head.headers),
                                OutBody::Bytes(text.as_bytes()),
                            );
                        }
                    }
                }
                StoredBody::None => OutBody::None,
            },
            ReplyBody::Origin => match (&self.pending_bytes, self.origin.as_ref()) {
                (Some(bytes), _) => OutBody::Bytes(bytes),
                (None, Some(resp)) if storing_after => {
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
        // An origin body is counted by what it is known to hold (read, or declared).
        let origin_bytes = match (&body, &out_body) {
            (_, OutBody::None) => 0,
            (ReplyBody::Origin, _) => match &self.pending_bytes {
                Some(bytes) => bytes.len() as u64,
                None => head.headers.content_length().unwrap_or(0),
            },
            _ => 0,
        };
        let from_cache = matches!(body, ReplyBody::Stored { .. });
        record_stats(
            &Served {
                ruleset: ruleset.as_deref(),
                outcome,
                status: head.status,
                not_stored: refusal.map(|r| r.as_str()),
                bytes_from_cache: if from_cache { sent_bytes } else { 0 },
                bytes_from_origin: origin_bytes,
                origin_ms: self.origin_ms,
            },
            now,
        );
        respond(head.status, &out_headers, out_body)
    }

    /// Applies effects with no client waiting (a background revalidation, or what follows an
    /// answer): puts into the Cache API and KV, the index, the memory tier.
    pub(super) async fn execute_stored(&mut self, effects: Vec<Effect>, now: Time) -> Result<()> {
        let needs_bytes =
            effects.iter().any(|e| matches!(e, Effect::Put { tier: Tier::Kv | Tier::Memory, .. }));
        let mut r2_puts = Vec::new();
        for effect in effects {
            let Some(effect) = self.apply_local(effect, now).await? else { continue };
            match effect {
                Effect::WriteIndex { key, index } => write_index(&Cache::default(), key, index).await?,
                Effect::Put { key, meta, body, tier: Tier::Cache } => {
                    self.put_cache(&key, *meta, body, needs_bytes).await?;
                }
                Effect::Put { key, meta, body, tier: Tier::Kv } => {
                    // Within the isolate's budget of KV writes (the core's rule).
                    if with_isolate(|i| i.kv_writes.admit(now)) {
                        self.put_kv(&key, *meta, body).await?;
                    }
                }
                Effect::Put { key, meta, body, tier: Tier::R2 } => {
                    // Within the isolate's budget of R2 writes (the core's rule). A streamed
                    // put runs beside the puts that follow (the Cache API's reads its own
                    // branch of the same body meanwhile), and is awaited last.
                    if with_isolate(|i| i.r2_writes.admit(now)) {
                        if let Some(put) = self.put_r2(&key, &meta, body, needs_bytes).await? {
                            r2_puts.push((key, put));
                        }
                    }
                }
                // Applied by `apply_local`, or nothing to do without a client.
                Effect::Delete { .. }
                | Effect::Record(_)
                | Effect::Pass { .. }
                | Effect::Put { tier: Tier::Memory, .. }
                | Effect::Forget { .. }
                | Effect::Answer
                | Effect::Background(_) => {}
            }
        }
        for (key, put) in r2_puts {
            if let Err(e) = put.await {
                console_error!("rulecache: storing {} in R2 failed: {e:?}", key.as_str());
            }
        }
        Ok(())
    }

    /// The body `source` names, read whole, or `None` when there is none. The bytes are kept
    /// (`pending_bytes`, and a stored body stays readable as bytes) for the answer and the next
    /// put of the same reply.
    async fn body_bytes(&mut self, source: BodySource) -> Result<Option<Rc<[u8]>>> {
        if let Some(bytes) = &self.pending_bytes {
            return Ok(Some(bytes.clone()));
        }
        let bytes: Rc<[u8]> = match source {
            BodySource::Origin => match self.origin.take() {
                Some(resp) => read_body(&resp).await?,
                None => return Ok(None),
            },
            BodySource::Stored => match std::mem::replace(&mut self.stored, StoredBody::None) {
                StoredBody::Memory(b) => b,
                StoredBody::Cache(mut resp) => resp.bytes().await?.into(),
                StoredBody::R2 { key, etag } => {
                    let Some(stream) = self.r2_stream(&key, &etag).await else { return Ok(None) };
                    let resp = web_sys::Response::new_with_opt_readable_stream(Some(&stream))?;
                    read_body(&resp).await?
                }
                StoredBody::None => return Ok(None),
            },
            BodySource::Empty => Rc::from(Vec::new()),
        };
        if source == BodySource::Stored {
            self.stored = StoredBody::Memory(bytes.clone());
        }
        self.pending_bytes = Some(bytes.clone());
        Ok(Some(bytes))
    }

    /// The body a put of `key` stores: a put of a body that is not held (the stored body when
    /// no lookup found it, an origin body already passed on) is an error, never an empty entry.
    async fn held_body(&mut self, key: &StorageKey, body: BodySource) -> Result<Rc<[u8]>> {
        self.body_bytes(body).await?.ok_or_else(|| {
            Error::RustError(format!("no {body:?} body is held for {}: nothing is stored", key.as_str()))
        })
    }

    /// Stores an entry in the Cache API: the body streams in unless it is (or must be) read.
    async fn put_cache(
        &mut self,
        key: &StorageKey,
        mut meta: Meta,
        body: BodySource,
        read: bool,
    ) -> Result<()> {
        let cache = Cache::default();
        let streams = !read
            && self.pending_bytes.is_none()
            && match body {
                BodySource::Origin => self.origin.is_some(),
                BodySource::Stored => matches!(self.stored, StoredBody::Cache(_) | StoredBody::R2 { .. }),
                BodySource::Empty => false,
            };
        if streams {
            let resp = match body {
                BodySource::Origin => self.origin.take().map(lean_response),
                _ => match std::mem::replace(&mut self.stored, StoredBody::None) {
                    StoredBody::Cache(resp) => Some(resp),
                    StoredBody::R2 { key, etag } => match self.r2_stream(&key, &etag).await {
                        Some(stream) => Some(Response::from_body(ResponseBody::Stream(stream))?),
                        None => None,
                    },
                    _ => None,
                },
            };
            if let Some(resp) = resp {
                // Large or unknown-length bodies stream straight into the Cache API.
                let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
                let stored = stored_response(&meta_value, resp.into_parts().1)?;
                return cache.put(key.as_str(), stored).await;
            }
        }
        let bytes = self.held_body(key, body).await?;
        meta.body_len = bytes.len() as u64;
        let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
        let stored = stored_response(&meta_value, ResponseBody::Body(bytes.to_vec()))?;
        cache.put(key.as_str(), stored).await
    }

    /// The whole body of the R2 object `key` at version `etag`, as a stream.
    async fn r2_stream(&self, key: &StorageKey, etag: &str) -> Option<web_sys::ReadableStream> {
        r2::body(self.env.as_ref()?, key, etag, None).await
    }

    /// Keeps an entry in R2 for every location: a body already read is put as bytes; one that
    /// streams is teed (the origin's, or another R2 object's), its put started now and
    /// returned to be awaited after the puts that follow. The record says the body's length
    /// (the core admitted it for that length only).
    async fn put_r2(
        &mut self,
        key: &StorageKey,
        meta: &Meta,
        body: BodySource,
        read: bool,
    ) -> Result<Option<wasm_bindgen_futures::JsFuture>> {
        let Some(env) = self.env.clone() else { return Ok(None) };
        let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
        if read || self.pending_bytes.is_some() || body == BodySource::Empty {
            let bytes = self.held_body(key, body).await?;
            if bytes.len() as u64 == meta.body_len {
                if let Err(e) = r2::put_bytes(&env, key, &bytes, &meta_value).await {
                    console_error!("rulecache: storing {} in R2 failed: {e}", key.as_str());
                }
            }
            return Ok(None);
        }
        let stream = match body {
            BodySource::Origin => match &self.origin {
                Some(resp) => resp.clone()?.body(),
                None => None,
            },
            _ => match &mut self.stored {
                StoredBody::R2 { key: from, etag } if from == key => {
                    // The same object with a new record: R2 keeps no record apart from its body.
                    let (from, etag) = (from.clone(), etag.clone());
                    self.r2_stream(&from, &etag).await
                }
                StoredBody::Cache(resp) => match resp.cloned()?.into_parts().1 {
                    ResponseBody::Stream(stream) => Some(stream),
                    _ => None,
                },
                _ => None,
            },
        };
        Ok(stream.and_then(|s| r2::put_stream(&env, key, s, meta.body_len, &meta_value)))
    }

    /// Keeps an entry in KV for every location.
    async fn put_kv(&mut self, key: &StorageKey, mut meta: Meta, body: BodySource) -> Result<()> {
        let bytes = self.held_body(key, body).await?;
        meta.body_len = bytes.len() as u64;
        let meta_value = meta.encode().map_err(|e| Error::RustError(e.to_string()))?;
        if let Some(env) = &self.env {
            if let Err(e) = persist::put(env, key, &meta_value, &bytes).await {
                console_error!("rulecache: persisting an entry in KV failed: {e}");
            }
        }
        Ok(())
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

async fn write_index(cache: &Cache, index_key: StorageKey, index: VaryIndex) -> Result<()> {
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
    with_isolate(|i| i.memory.remove(index_key.as_str()));
    cache.put(index_key.as_str(), resp).await
}
