//! The rules of the global purge ledger.
//!
//! `cache.delete` reaches one location only, so every purge is also recorded in a
//! [`Ledger`] held by a Durable Object (strongly consistent). Every isolate keeps a
//! [`LedgerCopy`], refreshed incrementally with [`Ledger::since`], and treats an entry
//! stored at or before a matching record's time as purged: a hard purge removes it, a soft
//! purge marks it stale so it is revalidated.
//!
//! **Propagation bound.** An isolate refreshes its copy in the background once it is
//! [`BACKGROUND_REFRESH_AFTER_MS`] old (the current request uses the copy it has), and a
//! request waits for a refresh once the copy is [`BLOCKING_REFRESH_AFTER_MS`] old. So a purge
//! recorded in the ledger takes effect everywhere within 10 s (plus the duration of one
//! ledger fetch), and typically within about 2 s on a busy isolate.
//!
//! **Matching.** A [`Target::Url`] matches the entry whose primary key is exactly that
//! string; a [`Target::Prefix`] matches every primary key that starts with it, as a plain
//! string prefix with scheme and host included (`https://example.com/news` matches
//! `https://example.com/news`, `https://example.com/news/a` and
//! `https://example.com/newsletter`, but nothing on another host); a [`Target::Tag`] matches
//! every entry carrying that tag (exact, case-sensitive).

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::http::Time;

/// Refresh the copy in the background once the last successful fetch is this old.
pub const BACKGROUND_REFRESH_AFTER_MS: Time = 2_000;
/// Make the request wait for a refresh once the last successful fetch is this old. This is
/// the propagation bound of a purge.
pub const BLOCKING_REFRESH_AFTER_MS: Time = 10_000;
/// The version written by [`Ledger::to_json`].
pub const LEDGER_FORMAT_VERSION: u32 = 1;

/// What a purge record reaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A normalised primary key, `scheme://host[:port]/path[?query]`: all its variants.
    Url(String),
    /// A primary-key prefix, `scheme://host[:port]/path-prefix` (plain string prefix).
    Prefix(String),
    /// A cache tag (`Cache-Tag` / `Surrogate-Key` from the origin).
    Tag(String),
}

/// One purged target, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRecord {
    /// Position in the ledger; strictly increasing.
    pub seq: u64,
    /// The purge this record belongs to (one per [`Ledger::append`] call).
    pub id: String,
    /// When the purge was recorded; entries stored at or before this time are purged.
    pub at: Time,
    pub target: Target,
    /// Soft purge: mark stale and revalidate instead of removing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub soft: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The authoritative ledger, held by the Durable Object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ledger {
    version: u32,
    /// The highest sequence number ever given out (compaction does not lower it).
    last_seq: u64,
    /// Records in ascending `seq` order.
    records: Vec<PurgeRecord>,
}

impl Default for Ledger {
    fn default() -> Self {
        Self::new()
    }
}

impl Ledger {
    pub fn new() -> Self {
        Self { version: LEDGER_FORMAT_VERSION, last_seq: 0, records: Vec::new() }
    }

    /// Records one purge of `targets` at `now`: returns its id (`p-<first seq>-<now>`) and
    /// the new records, one per distinct target, with increasing sequence numbers.
    pub fn append(&mut self, now: Time, targets: Vec<Target>, soft: bool) -> (String, Vec<PurgeRecord>) {
        let id = format!("p-{}-{}", self.last_seq.saturating_add(1), now);
        let mut added = Vec::with_capacity(targets.len());
        for target in targets {
            if added.iter().any(|r: &PurgeRecord| r.target == target) {
                continue;
            }
            self.last_seq = self.last_seq.saturating_add(1);
            added.push(PurgeRecord { seq: self.last_seq, id: id.clone(), at: now, target, soft });
        }
        self.records.extend(added.iter().cloned());
        (id, added)
    }

    /// The records after `seq`, oldest first (all of them for 0).
    pub fn since(&self, seq: u64) -> &[PurgeRecord] {
        let start = self.records.partition_point(|r| r.seq <= seq);
        self.records.get(start..).unwrap_or(&[])
    }

    /// The highest sequence number given out; 0 for a new ledger.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The records held.
    pub fn records(&self) -> &[PurgeRecord] {
        &self.records
    }

    /// Drops the records that can no longer affect anything: a record only affects entries
    /// stored at or before its time, and every entry leaves storage `max_entry_lifetime_ms`
    /// after it was stored, so a record older than that is spent. Returns how many went.
    pub fn compact(&mut self, now: Time, max_entry_lifetime_ms: Time) -> usize {
        let before = self.records.len();
        self.records.retain(|r| !is_spent(r.at, now, max_entry_lifetime_ms));
        before - self.records.len()
    }

    /// The ledger as compact JSON, for Durable Object storage.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads what [`to_json`](Ledger::to_json) wrote. Refuses unknown versions and records
    /// out of order.
    pub fn from_json(json: &str) -> Result<Ledger, String> {
        let ledger: Ledger =
            serde_json::from_str(json).map_err(|e| format!("the purge ledger is not valid JSON: {e}"))?;
        if ledger.version != LEDGER_FORMAT_VERSION {
            return Err(format!("the purge ledger has unknown format version {}", ledger.version));
        }
        let ordered = ledger.records.windows(2).all(|w| matches!(w, [a, b] if a.seq < b.seq));
        let within = ledger.records.last().is_none_or(|r| r.seq <= ledger.last_seq);
        if !ordered || !within {
            return Err("the purge ledger's records are out of order".to_owned());
        }
        Ok(ledger)
    }
}

fn is_spent(at: Time, now: Time, max_entry_lifetime_ms: Time) -> bool {
    at.saturating_add(max_entry_lifetime_ms) < now
}

/// What the ledger does to a stored entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Purged: treat the entry as absent.
    Hard,
    /// Marked stale at `at` (the latest matching soft purge): revalidate before use.
    Soft { at: Time },
}

/// Whether the copy must be refreshed before, or alongside, the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// The copy is recent enough.
    No,
    /// Start a refresh without waiting for it; use the copy as it is.
    Background,
    /// Wait for a refresh before using the copy.
    Blocking,
}

/// The latest hard and soft purge times recorded for one target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    hard: Option<Time>,
    soft: Option<Time>,
}

impl Marks {
    fn add(&mut self, at: Time, soft: bool) {
        let slot = if soft { &mut self.soft } else { &mut self.hard };
        *slot = Some(slot.map_or(at, |t| t.max(at)));
    }

    fn newest(&self) -> Time {
        self.hard.unwrap_or(0).max(self.soft.unwrap_or(0))
    }
}

/// An isolate's copy of the ledger, indexed for [`effect`](LedgerCopy::effect) lookups.
#[derive(Debug, Clone, Default)]
pub struct LedgerCopy {
    last_seq: u64,
    last_fetch: Option<Time>,
    refresh_started: Option<Time>,
    urls: HashMap<String, Marks>,
    tags: HashMap<String, Marks>,
    prefixes: HashMap<String, Marks>,
    /// The distinct byte lengths of the prefixes, so a lookup probes one slice per length.
    prefix_lengths: BTreeSet<usize>,
}

impl LedgerCopy {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes in records fetched at `fetched_at` (the time the fetch was *sent*, so that
    /// every purge recorded before it is known to be included). Records at or below
    /// [`last_seq`](LedgerCopy::last_seq) are ignored.
    pub fn apply(&mut self, records: &[PurgeRecord], fetched_at: Time) {
        let known = self.last_seq;
        for record in records.iter().filter(|r| r.seq > known) {
            self.add(record);
        }
        let newest = records.iter().map(|r| r.seq).max().unwrap_or(0);
        self.last_seq = self.last_seq.max(newest);
        self.last_fetch = Some(self.last_fetch.map_or(fetched_at, |t| t.max(fetched_at)));
        self.refresh_started = None;
    }

    fn add(&mut self, record: &PurgeRecord) {
        let (map, key) = match &record.target {
            Target::Url(url) => (&mut self.urls, url),
            Target::Tag(tag) => (&mut self.tags, tag),
            Target::Prefix(prefix) => {
                self.prefix_lengths.insert(prefix.len());
                (&mut self.prefixes, prefix)
            }
        };
        map.entry(key.clone()).or_default().add(record.at, record.soft);
    }

    /// The highest sequence number applied; ask the ledger for the records after it.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// When the last successful fetch was sent, if any.
    pub fn last_fetch(&self) -> Option<Time> {
        self.last_fetch
    }

    /// What the ledger does to an entry with primary key `url` and `tags`, stored at
    /// `stored_at`. An entry is affected by a matching record with `at >= stored_at`; a hard
    /// purge wins over soft ones.
    pub fn effect(&self, url: &str, tags: &[String], stored_at: Time) -> Option<Effect> {
        let mut found = Marks::default();
        let mut merge = |marks: &Marks| {
            if let Some(at) = marks.hard.filter(|at| *at >= stored_at) {
                found.add(at, false);
            }
            if let Some(at) = marks.soft.filter(|at| *at >= stored_at) {
                found.add(at, true);
            }
        };
        if let Some(marks) = self.urls.get(url) {
            merge(marks);
        }
        if !self.tags.is_empty() {
            tags.iter().filter_map(|tag| self.tags.get(tag)).for_each(&mut merge);
        }
        for len in self.prefix_lengths.range(..=url.len()) {
            if let Some(marks) = url.get(..*len).and_then(|p| self.prefixes.get(p)) {
                merge(marks);
            }
        }
        match found {
            Marks { hard: Some(_), .. } => Some(Effect::Hard),
            Marks { soft: Some(at), .. } => Some(Effect::Soft { at }),
            Marks { hard: None, soft: None } => None,
        }
    }

    /// Whether to refresh the copy at `now`: in the background once the last successful
    /// fetch is [`BACKGROUND_REFRESH_AFTER_MS`] old (unless one was started less than that
    /// long ago, see [`refresh_started`](LedgerCopy::refresh_started)), blocking once it is
    /// [`BLOCKING_REFRESH_AFTER_MS`] old or there has been none.
    pub fn refresh_due(&self, now: Time) -> Refresh {
        let Some(last) = self.last_fetch else { return Refresh::Blocking };
        let age = now.saturating_sub(last);
        if age >= BLOCKING_REFRESH_AFTER_MS {
            return Refresh::Blocking;
        }
        let in_flight =
            self.refresh_started.is_some_and(|t| now.saturating_sub(t) < BACKGROUND_REFRESH_AFTER_MS);
        if age >= BACKGROUND_REFRESH_AFTER_MS && !in_flight {
            Refresh::Background
        } else {
            Refresh::No
        }
    }

    /// Notes that a background refresh was started at `now`, so that the requests that
    /// follow do not start more while it runs. [`apply`](LedgerCopy::apply) clears it.
    pub fn refresh_started(&mut self, now: Time) {
        self.refresh_started = Some(now);
    }

    /// Drops what can no longer affect a stored entry (see [`Ledger::compact`]).
    pub fn compact(&mut self, now: Time, max_entry_lifetime_ms: Time) {
        let live = |marks: &mut Marks| !is_spent(marks.newest(), now, max_entry_lifetime_ms);
        self.urls.retain(|_, m| live(m));
        self.tags.retain(|_, m| live(m));
        self.prefixes.retain(|_, m| live(m));
        self.prefix_lengths = self.prefixes.keys().map(String::len).collect();
    }

    /// How many distinct targets the copy holds.
    pub fn len(&self) -> usize {
        self.urls.len() + self.tags.len() + self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
