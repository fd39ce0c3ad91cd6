//! The rules of the edge's storage tiers, as the shell applies them: how long things are kept,
//! which bodies the memory tier takes and what each one costs it, hit-for-pass marks, and how
//! long a request waits for the origin or for another request's fetch. The shell holds the
//! state (one per isolate) and performs the I/O; every choice is made here.

use crate::http::Time;
use crate::storage::key::StorageKey;
use crate::storage::lru::ByteLru;
use crate::storage::meta::Meta;
use crate::storage::stats::Outcome;

/// How long the Cache API keeps what we store. Freshness is decided by the flow; this only
/// bounds how long an entry stays available for revalidation and stale serving. The purge
/// ledger keeps its records at least this long.
pub const STORAGE_SECS: u64 = 7 * 24 * 3600;

/// The memory tier's capacity in bytes.
pub const MEMORY_CAPACITY: usize = 16 << 20;
/// The largest body the memory tier takes.
pub const MEMORY_MAX_ENTRY: usize = 256 << 10;
/// Room for an entry's key and head fields beside the largest body.
const MEMORY_HEAD_ALLOWANCE: usize = 128 << 10;

/// The largest value (record, newline, body) KV takes: Workers KV's own limit is 25 MiB.
pub const KV_MAX_VALUE: usize = 25 << 20;

/// How long a request waits for the origin when a stale entry can stand in for its answer.
pub const ORIGIN_DEADLINE_MS: u64 = 30_000;
/// How often a request waiting for another request's fetch of the same entry looks again.
pub const COLLAPSE_POLL_MS: u64 = 10;
/// How long a collapsed request waits at most before fetching on its own.
pub const COLLAPSE_WAIT_MS: u64 = ORIGIN_DEADLINE_MS;

/// How long a URL whose response could not be stored skips the Cache API lookup and request
/// collapsing (Varnish's hit-for-pass).
pub const PASS_MS: Time = 120_000;
/// How many bytes of keys the hit-for-pass marks may hold, and the longest key they take.
pub const PASS_CAPACITY: usize = 1 << 20;
pub const PASS_MAX_KEY: usize = 4096;
/// What one mark costs beyond its key.
const PASS_ENTRY_OVERHEAD: usize = 64;

/// Whether a body of `declared` bytes (its `Content-Length`) is read into the memory tier
/// before the client is answered. Bodies of unknown length stream and are not.
pub fn memory_admits(declared: Option<u64>) -> bool {
    declared.is_some_and(|n| n <= MEMORY_MAX_ENTRY as u64)
}

/// The tier's bookkeeping per entry beside its key: the entry's three reference-counted boxes
/// (record, body, last head) with their counts and allocation headers, the list links and the
/// map slot of the LRU.
pub const MEMORY_ENTRY_BOOKKEEPING: usize = 160;
/// What the runtime's `Headers` object costs per field beside its text (its entry and two
/// string objects).
const JS_FIELD_OVERHEAD: usize = 64;

/// What an entry costs the memory tier beside its key (which the tier counts itself), as the
/// isolate holds it. One formula wherever an entry is put there:
///
/// - its body;
/// - its record: the record itself, its stored head (text and field table, as allocated), its
///   URL, variant, tags and names;
/// - the head of the last response served from it, kept twice: as fields, and as the runtime's
///   `Headers` (UTF-16 strings: twice the bytes, and an object per field);
/// - the tier's bookkeeping ([`MEMORY_ENTRY_BOOKKEEPING`]).
///
/// Counting only the body and the head's bytes, as before, let a flood of small entries hold
/// about three times the tier's budget.
pub fn memory_entry_size(meta: &Meta, body_len: usize) -> usize {
    let fields = &meta.head.headers;
    let record = std::mem::size_of::<Meta>()
        + fields.heap_bytes()
        + meta.url.len()
        + meta.variant.as_ref().map_or(0, String::len)
        + meta.tags.iter().map(|t| t.len() + std::mem::size_of::<String>()).sum::<usize>()
        + meta.ruleset.as_ref().map_or(0, String::len)
        + meta.operation.len();
    let last_head = fields.heap_bytes() + 2 * fields.byte_size() + JS_FIELD_OVERHEAD * fields.len();
    body_len + record + last_head + MEMORY_ENTRY_BOOKKEEPING
}

/// An empty memory tier: [`MEMORY_CAPACITY`] bytes, entries up to the largest body it takes
/// with room for its key and fields.
pub fn memory_tier<V>() -> ByteLru<V> {
    ByteLru::new(MEMORY_CAPACITY, MEMORY_MAX_ENTRY + MEMORY_HEAD_ALLOWANCE)
}

/// How many Workers KV writes one isolate may make at once, and how many more a minute after
/// that (`persist`). The account's daily write quota is shared with policy pushes, which are
/// not counted here: a flood of stores can spend this budget, never the quota.
pub const KV_WRITE_BURST: u32 = 20;
/// See [`KV_WRITE_BURST`].
pub const KV_WRITES_PER_MINUTE: u32 = 10;

/// How many R2 writes one isolate may make at once, and how many more a minute after that
/// (`"globalTier": "r2"`). Each is a class A operation, billed per million, and a large body
/// it carries is read once more from the origin's stream: a flood of misses spends this
/// budget, never the bucket's.
pub const R2_WRITE_BURST: u32 = 20;
/// See [`R2_WRITE_BURST`].
pub const R2_WRITES_PER_MINUTE: u32 = 10;

/// One isolate's budget of writes to a global tier: a bucket of `BURST` writes, refilled at
/// `PER_MINUTE`. A write over budget is skipped (the entry stays in the location's tiers;
/// another location fetches it itself).
#[derive(Debug, Clone)]
pub struct WriteBudget<const BURST: u32, const PER_MINUTE: u32> {
    tokens: u32,
    refilled_at: Time,
}

/// The budget of Workers KV writes ([`KV_WRITE_BURST`], [`KV_WRITES_PER_MINUTE`]).
pub type KvWrites = WriteBudget<KV_WRITE_BURST, KV_WRITES_PER_MINUTE>;
/// The budget of R2 writes ([`R2_WRITE_BURST`], [`R2_WRITES_PER_MINUTE`]).
pub type R2Writes = WriteBudget<R2_WRITE_BURST, R2_WRITES_PER_MINUTE>;

impl<const BURST: u32, const PER_MINUTE: u32> Default for WriteBudget<BURST, PER_MINUTE> {
    fn default() -> Self {
        WriteBudget { tokens: BURST, refilled_at: 0 }
    }
}

impl<const BURST: u32, const PER_MINUTE: u32> WriteBudget<BURST, PER_MINUTE> {
    /// Whether a write may be made at `now` (and counts it when it may).
    pub fn admit(&mut self, now: Time) -> bool {
        const MINUTE: Time = 60_000;
        if self.refilled_at == 0 {
            self.refilled_at = now;
        }
        let minutes = now.saturating_sub(self.refilled_at) / MINUTE;
        if minutes > 0 {
            let added = u32::try_from(minutes).unwrap_or(u32::MAX).saturating_mul(PER_MINUTE);
            self.tokens = self.tokens.saturating_add(added).min(BURST);
            self.refilled_at += minutes * MINUTE;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// The largest body R2 takes in one streamed put: R2's limit for a single upload is 5 GiB
/// less 5 MiB. A larger body is served and kept by the location's tiers only.
pub const R2_MAX_OBJECT: u64 = (5 << 30) - (5 << 20);
/// The most bytes of custom metadata (names and values) R2 keeps with an object: our record
/// travels there, and a record that does not fit is not stored in R2.
pub const R2_MAX_METADATA: usize = 8192;
/// The name of the custom metadata field that holds the stored record of an R2 object.
pub const R2_RECORD_FIELD: &str = "rulecache-record";
/// What an R2 object's name is: this prefix, then the entry's storage key.
pub const R2_OBJECT_PREFIX: &str = "obj/";
/// The longest object name R2 takes, in bytes.
pub const R2_MAX_KEY: usize = 1024;

/// The name of the R2 object holding the entry stored under `storage_key`.
pub fn r2_object_name(storage_key: &StorageKey) -> String {
    format!("{R2_OBJECT_PREFIX}{storage_key}")
}

/// Whether R2 takes a body whose record encodes to `record_len` bytes, declared `declared`
/// bytes long (the origin's `Content-Length`) and coded as `content_encoding` says, under an
/// object name of `name_len` bytes.
///
/// R2 takes a stream only when its length is known in advance, so the body streams into it
/// through a stream of exactly the declared length: a body of unknown length is not stored
/// there, nor one the runtime decodes on the way (any `Content-Encoding` but `identity`,
/// RFC 9110 §8.4: what arrives is then not what `Content-Length` counted), nor one over
/// [`R2_MAX_OBJECT`], nor a record over the metadata limit, nor a name over [`R2_MAX_KEY`].
pub fn r2_admits(
    declared: Option<u64>,
    content_encoding: Option<&str>,
    record_len: usize,
    name_len: usize,
) -> bool {
    let identity =
        content_encoding.is_none_or(|c| c.trim().is_empty() || c.trim().eq_ignore_ascii_case("identity"));
    identity
        && declared.is_some_and(|n| n <= R2_MAX_OBJECT)
        && R2_RECORD_FIELD.len() + record_len <= R2_MAX_METADATA
        && name_len <= R2_MAX_KEY
}

/// Whether an entry stored at `stored_at` has outlived the storage horizon at `now`: it may
/// have outlived the purge ledger's records that purged it (they are compacted after
/// [`STORAGE_SECS`]), so it is not served. R2 and the memory tier keep entries without an
/// expiry of their own; the Cache API and KV are given this lifetime when stored.
pub fn outlived(stored_at: Time, now: Time) -> bool {
    stored_at < now.saturating_sub(STORAGE_SECS * 1000)
}

/// What an answer does to the URL's hit-for-pass mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassChange {
    /// A response was stored: the URL is cacheable again.
    Clear,
    /// A response came from the origin and could not be stored.
    Mark,
    Keep,
}

/// The mark change after an answer with `status`: `stored` when the reply stores a response;
/// `refused_for_the_resource` when it was not stored for a reason about the resource (its
/// response, or the policy of its ruleset: see `Flow::refusal_marks_pass`), as pingora's
/// predictor marks only for reasons about the asset. A bypass, a refusal about the request
/// (a logged-in visitor, a client's `no-store`) and an error answer (400 and above) say
/// nothing about the URL's later responses: marking them would send anonymous visitors past
/// the cache because of one client, hide a stored entry after a failed revalidation, or let
/// one request that provokes a 431 send everyone past the cache.
pub fn pass_change(
    outcome: Outcome,
    stored: bool,
    refused_for_the_resource: bool,
    status: u16,
) -> PassChange {
    match outcome {
        _ if stored => PassChange::Clear,
        Outcome::Miss | Outcome::Revalidated200 if refused_for_the_resource && status < 400 => {
            PassChange::Mark
        }
        _ => PassChange::Keep,
    }
}

/// One isolate's hit-for-pass marks: base key → until when.
#[derive(Debug)]
pub struct HitForPass {
    marks: ByteLru<Time>,
}

impl Default for HitForPass {
    fn default() -> Self {
        HitForPass { marks: ByteLru::new(PASS_CAPACITY, PASS_MAX_KEY) }
    }
}

impl HitForPass {
    /// Whether `key` is marked at `now`: its lookups skip the Cache API and its fetches are not
    /// collapsed (its responses are not stored, so waiting for another request's fetch would
    /// only delay this one).
    pub fn is_marked(&self, key: &StorageKey, now: Time) -> bool {
        self.marks.peek(key.as_str()).is_some_and(|until| *until > now)
    }

    /// Applies an answer's [`PassChange`] to `key`.
    pub fn apply(&mut self, key: &StorageKey, change: PassChange, now: Time) {
        match change {
            PassChange::Clear => {
                self.marks.remove(key.as_str());
            }
            PassChange::Mark => {
                self.marks.insert(key.as_str().to_string(), now + PASS_MS, PASS_ENTRY_OVERHEAD);
            }
            PassChange::Keep => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Headers;

    #[test]
    fn kv_writes_come_in_a_burst_then_at_a_steady_rate() {
        let mut kv = KvWrites::default();
        let t = 1_000_000;
        assert_eq!((0..100).filter(|_| kv.admit(t)).count(), KV_WRITE_BURST as usize);
        assert!(!kv.admit(t + 59_999), "nothing before a minute has passed");
        assert_eq!((0..100).filter(|_| kv.admit(t + 60_000)).count(), KV_WRITES_PER_MINUTE as usize);
        // A long pause refills the burst, no more.
        assert_eq!((0..100).filter(|_| kv.admit(t + 3_600_000)).count(), KV_WRITE_BURST as usize);
    }

    #[test]
    fn memory_takes_known_small_bodies_only() {
        assert!(memory_admits(Some(0)));
        assert!(memory_admits(Some(MEMORY_MAX_ENTRY as u64)));
        assert!(!memory_admits(Some(MEMORY_MAX_ENTRY as u64 + 1)));
        assert!(!memory_admits(None));
    }

    fn entry(fields: Headers) -> Meta {
        Meta {
            url: "https://example.org/news/item".into(),
            variant: None,
            audience: None,
            request_time: 0,
            response_time: 0,
            stored_at: 0,
            tags: vec!["news".into()],
            head: crate::http::ResponseHead::new(200, fields),
            storage: crate::rfc::freshness::EdgeStorage::HonourOrigin,
            ruleset: Some("plone.content.itemView".into()),
            operation: "moderateCaching".into(),
            policy_version: 1,
            body_len: 0,
            stale_from: None,
        }
    }

    #[test]
    fn an_entry_costs_what_the_isolate_holds_for_it_and_the_largest_body_fits() {
        let fields = Headers::from_pairs([("etag", "\"a\""), ("content-type", "text/html")]);
        let meta = entry(fields.clone());
        // At least: the body, the record as allocated with its strings, and the head held
        // again for the last answer (once as fields, once as the runtime's UTF-16 strings).
        let held = 10
            + std::mem::size_of::<Meta>()
            + fields.heap_bytes()
            + meta.url.len()
            + "news".len()
            + "plone.content.itemView".len()
            + "moderateCaching".len()
            + fields.heap_bytes()
            + 2 * fields.byte_size();
        assert!(memory_entry_size(&meta, 10) >= held, "{} < {held}", memory_entry_size(&meta, 10));
        // The old formula (body and head bytes) counted a quarter of that or less.
        assert!(memory_entry_size(&meta, 10) > 4 * (10 + fields.byte_size()));
        let mut tier = memory_tier::<()>();
        let key = "https://example.org/a-rather-long-path/with/segments?and=query".to_string();
        assert!(tier.insert(key, (), memory_entry_size(&meta, MEMORY_MAX_ENTRY)));
        let mut tier = memory_tier::<()>();
        let many = (0..MEMORY_CAPACITY / MEMORY_MAX_ENTRY + 4)
            .filter(|i| tier.insert(format!("k{i}"), (), memory_entry_size(&meta, MEMORY_MAX_ENTRY)))
            .count();
        assert!(many > MEMORY_CAPACITY / MEMORY_MAX_ENTRY - 2, "each insert is taken");
        assert!(tier.bytes() <= MEMORY_CAPACITY, "but the tier stays within its capacity");
    }

    #[test]
    fn a_flood_of_small_entries_stays_within_the_tier_counting_what_each_really_holds() {
        // A Plone-like head of some 700 bytes and a 1-byte body.
        let fields = Headers::from_pairs((0..14).map(|i| (format!("x-field-{i}"), "v".repeat(40))));
        let meta = entry(fields);
        let mut tier = memory_tier::<()>();
        let admitted = (0..100_000)
            .filter(|i| tier.insert(format!("https://example.org/p?{i}"), (), memory_entry_size(&meta, 1)))
            .count();
        let held_each = memory_entry_size(&meta, 1);
        assert!(tier.bytes() <= MEMORY_CAPACITY);
        assert!(tier.len() * held_each <= MEMORY_CAPACITY, "{} entries of {held_each} bytes", tier.len());
        assert!(admitted > 0);
    }

    #[test]
    fn unstorable_misses_mark_and_stored_answers_clear() {
        assert_eq!(pass_change(Outcome::Miss, false, true, 200), PassChange::Mark);
        assert_eq!(pass_change(Outcome::Revalidated200, false, true, 200), PassChange::Mark);
        assert_eq!(pass_change(Outcome::Miss, true, false, 200), PassChange::Clear);
        // A refusal about the request, or a bypass, says nothing about the URL's responses;
        // hits and synthetic answers neither.
        assert_eq!(pass_change(Outcome::Miss, false, false, 200), PassChange::Keep);
        assert_eq!(pass_change(Outcome::Bypass, false, false, 200), PassChange::Keep);
        assert_eq!(pass_change(Outcome::Hit, false, true, 200), PassChange::Keep);
        // An error says nothing about the URL's later responses.
        assert_eq!(pass_change(Outcome::Miss, false, true, 431), PassChange::Keep);
        assert_eq!(pass_change(Outcome::Revalidated200, false, true, 503), PassChange::Keep);
    }

    #[test]
    fn a_mark_lasts_pass_ms_and_a_store_clears_it() {
        let mut p = HitForPass::default();
        let (u, v) = (StorageKey::from_stored("u"), StorageKey::from_stored("v"));
        p.apply(&u, PassChange::Mark, 1_000);
        assert!(p.is_marked(&u, 1_000));
        assert!(p.is_marked(&u, 1_000 + PASS_MS - 1));
        assert!(!p.is_marked(&u, 1_000 + PASS_MS));
        p.apply(&u, PassChange::Mark, 5_000);
        p.apply(&u, PassChange::Clear, 5_001);
        assert!(!p.is_marked(&u, 5_002));
        p.apply(&v, PassChange::Keep, 0);
        assert!(!p.is_marked(&v, 0));
    }

    #[test]
    fn marks_are_bounded_the_oldest_forgotten_first() {
        let mut p = HitForPass::default();
        let key = |i: usize| StorageKey::from_stored(format!("https://example.org/{i:06}"));
        let per = key(0).as_str().len() + PASS_ENTRY_OVERHEAD;
        let n = PASS_CAPACITY / per + 100;
        for i in 0..n {
            p.apply(&key(i), PassChange::Mark, 0);
        }
        assert!(!p.is_marked(&key(0), 1), "the first marks were evicted");
        assert!(p.is_marked(&key(n - 1), 1));
        // A key longer than the bound is never marked (it would evict everything else).
        let long = StorageKey::from_stored("x".repeat(PASS_MAX_KEY + 1));
        p.apply(&long, PassChange::Mark, 0);
        assert!(!p.is_marked(&long, 1));
    }
}

/// What a request that needs the origin for a storage key does (RFC 9111 §4: "a cache can
/// ... collapse requests" for the same resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Fetch, and release the waiters when the answer (and the memory tier) is in place.
    Lead(u64),
    /// Another request is fetching this key: wait until it is done (or for at most
    /// [`COLLAPSE_WAIT_MS`]), then look again.
    Wait(u64),
    /// Fetch without collapsing: the flow asked for none, this request already leads, or the
    /// key is marked hit-for-pass (its responses are not stored, so waiting would only delay).
    Alone,
}

/// One isolate's fetches in flight, by storage key.
#[derive(Debug, Default)]
pub struct Collapser {
    inflight: std::collections::HashMap<StorageKey, u64>,
    next: u64,
}

impl Collapser {
    /// How a fetch for `coalesce` (the flow's [`crate::flow::engine::Step::Fetch`] key) goes.
    pub fn join(&mut self, coalesce: Option<&StorageKey>, leading: bool, pass_marked: bool) -> Join {
        let Some(key) = coalesce.filter(|_| !leading && !pass_marked) else { return Join::Alone };
        if let Some(ticket) = self.inflight.get(key) {
            return Join::Wait(*ticket);
        }
        self.next += 1;
        self.inflight.insert(key.clone(), self.next);
        Join::Lead(self.next)
    }

    /// The leader of `ticket` is done with `key`.
    pub fn finish(&mut self, key: &StorageKey, ticket: u64) {
        if self.inflight.get(key) == Some(&ticket) {
            self.inflight.remove(key);
        }
    }

    /// Whether the fetch a waiter joined as `ticket` is done.
    pub fn is_done(&self, key: &StorageKey, ticket: u64) -> bool {
        self.inflight.get(key) != Some(&ticket)
    }

    /// Whether a waiter that has waited `waited_ms` fetches on its own.
    pub fn gives_up(waited_ms: u64) -> bool {
        waited_ms >= COLLAPSE_WAIT_MS
    }
}

#[cfg(test)]
mod collapse_tests {
    use super::*;

    fn key(s: &str) -> StorageKey {
        StorageKey::from_stored(s)
    }

    #[test]
    fn the_first_fetch_leads_the_next_wait_and_all_are_released_together() {
        let mut c = Collapser::default();
        let Join::Lead(t) = c.join(Some(&key("k")), false, false) else { panic!("lead") };
        assert_eq!(c.join(Some(&key("k")), false, false), Join::Wait(t));
        assert_eq!(c.join(Some(&key("k")), false, false), Join::Wait(t));
        assert!(!c.is_done(&key("k"), t));
        assert!(matches!(c.join(Some(&key("other")), false, false), Join::Lead(_)), "keys are independent");
        c.finish(&key("k"), t);
        assert!(c.is_done(&key("k"), t));
        // A later fetch leads anew; the old ticket stays done.
        let Join::Lead(t2) = c.join(Some(&key("k")), false, false) else { panic!("lead") };
        assert_ne!(t, t2);
        assert!(c.is_done(&key("k"), t) && !c.is_done(&key("k"), t2));
        // Finishing an old ticket does not release the new fetch's waiters.
        c.finish(&key("k"), t);
        assert!(!c.is_done(&key("k"), t2));
    }

    #[test]
    fn no_collapse_without_a_key_for_a_leader_or_under_hit_for_pass() {
        let mut c = Collapser::default();
        assert_eq!(c.join(None, false, false), Join::Alone);
        assert_eq!(c.join(Some(&key("k")), true, false), Join::Alone);
        assert_eq!(c.join(Some(&key("k")), false, true), Join::Alone);
        assert!(matches!(c.join(Some(&key("k")), false, false), Join::Lead(_)), "nothing was registered");
        assert!(!Collapser::gives_up(COLLAPSE_WAIT_MS - 1));
        assert!(Collapser::gives_up(COLLAPSE_WAIT_MS));
    }
}
