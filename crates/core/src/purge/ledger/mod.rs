//! The rules of the global purge ledger: the authoritative log ([`Ledger`], run by a Durable
//! Object over rows of its SQLite storage, [`LedgerRows`]) and each isolate's copy of it
//! ([`LedgerCopy`], in `copy`).
//!
//! `cache.delete` reaches one location only, so every purge is also recorded in the ledger.
//! Every isolate keeps a copy, refreshed incrementally ([`Ledger::since`], see
//! [`super::fanout`] for when and how), and treats an entry whose origin request was sent at
//! or before a matching record's time (give or take [`CLOCK_SKEW_MARGIN_MS`]) as purged: a
//! hard purge removes it, a soft purge marks it stale so it is revalidated.
//!
//! **A log, not a value.** Each purged target is one row with its sequence number, written in
//! one transaction with the ledger's head (its epoch and last sequence number) before the
//! answer is given and before anything in memory changes. A read or write error fails the
//! request; nothing is ever taken to be empty because it could not be read.
//!
//! **Epoch.** Every answer names the ledger's epoch, a random identity chosen when the ledger
//! is first written. Sequence numbers only mean something within one epoch: a copy that sees
//! another epoch (the storage was lost or replaced) or a head below its own cursor starts over
//! from sequence 0, keeping what it already knows (a purge is never unlearned).
//!
//! **Cursor.** A copy's cursor only moves over a contiguous prefix of sequence numbers: over
//! an answer to "everything after my cursor", or over records learned out of band (the answer
//! to this isolate's own purge) when they directly follow it. Records learned out of band past
//! a gap are applied at once but the cursor waits below the gap, so the next refresh still
//! fetches what other locations wrote in between.
//!
//! **Matching** ([`Target::reaches`], and the copy's indexed [`LedgerCopy::effect`]). A
//! [`Target::Url`] with a query matches the entry whose primary key is exactly that string;
//! one without a query matches that path under every query string (a URL purge reaches the
//! resource, not one spelling of it); a [`Target::Prefix`] matches every primary key that starts with it by whole path
//! segments, scheme and host included (`https://example.com/news` matches
//! `https://example.com/news`, `https://example.com/news/a` and `…/news?page=2`, not
//! `https://example.com/newsletter`, nor anything on another host); a [`Target::Tag`] matches
//! every entry carrying that tag (exact, case-sensitive).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::http::{unhex, Time};

pub use super::refusal::{LedgerError, Unrecorded};
pub use copy::{Effect, LedgerCopy, Progress};

mod copy;

/// Refresh the copy in the background once the last successful refresh is this old.
pub const BACKGROUND_REFRESH_AFTER_MS: Time = 2_000;
/// Make the request wait for a refresh once the last successful refresh is this old, and
/// revalidate what might have been purged meanwhile when that refresh fails (see
/// [`LedgerCopy::judge`]). This is the propagation bound of a purge.
pub const BLOCKING_REFRESH_AFTER_MS: Time = 10_000;
/// How far the clocks of the ledger (which stamps a purge) and of an isolate (which stamps
/// when it sent an origin request) may disagree: an entry whose origin request was sent up
/// to this long after a purge's time is still taken to be purged by it.
pub const CLOCK_SKEW_MARGIN_MS: Time = 1_000;
/// The most records one [`Ledger::since`] answer carries; the rest follow on request.
pub const PAGE_RECORDS: usize = 5_000;
/// The most targets one append takes (one API purge of 1,000 URLs with their purge paths
/// fits many times over).
pub const MAX_APPEND_TARGETS: usize = 50_000;
/// How long a nonce (a signed request's signature, or a purge's retry key) is remembered:
/// a signed request is accepted within 300 s either side of the ledger's clock.
pub const NONCE_LIFETIME_MS: Time = 2 * super::auth::MAX_CLOCK_SKEW_SECS * 1000 + 60_000;

/// What a purge record reaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A normalised primary key, `scheme://host[:port]/path[?query]`: all its variants.
    Url(String),
    /// A primary-key prefix, `scheme://host[:port]/path-prefix`, by whole path segments.
    Prefix(String),
    /// A cache tag (`Cache-Tag` / `Surrogate-Key` from the origin).
    Tag(String),
}

impl Target {
    /// The kind as stored in a row: `url`, `prefix` or `tag`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Url(_) => "url",
            Target::Prefix(_) => "prefix",
            Target::Tag(_) => "tag",
        }
    }

    /// The target's text (URL, prefix or tag).
    pub fn value(&self) -> &str {
        match self {
            Target::Url(s) | Target::Prefix(s) | Target::Tag(s) => s,
        }
    }

    /// Whether this target reaches an entry with primary key `url` carrying `tags` (see the
    /// module's matching rules). The one rule every purge path uses: the ledger copy's
    /// indexed lookup agrees with it, and a location's own removal sweeps by it.
    pub fn reaches(&self, url: &str, tags: &[String]) -> bool {
        match self {
            Target::Url(target) => url == target || (!target.contains('?') && path_part(url) == target),
            Target::Prefix(prefix) => crate::http::has_path_prefix(url, prefix),
            Target::Tag(tag) => tags.iter().any(|t| t == tag),
        }
    }

    /// The target of a row; None for an unknown kind.
    pub fn from_row(kind: &str, value: String) -> Option<Target> {
        match kind {
            "url" => Some(Target::Url(value)),
            "prefix" => Some(Target::Prefix(value)),
            "tag" => Some(Target::Tag(value)),
            _ => None,
        }
    }
}

/// A primary key without its query (`scheme://host/path`).
pub fn path_part(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

/// One purged target, as stored in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeRecord {
    /// Position in the ledger; dense and strictly increasing within an epoch.
    pub seq: u64,
    /// The purge this record belongs to (one per [`Ledger::append`] call).
    pub id: String,
    /// When the purge was recorded; entries whose origin request was sent at or before this
    /// time are purged.
    pub at: Time,
    pub target: Target,
    /// Soft purge: mark stale and revalidate instead of removing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub soft: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The ledger's identity and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Chosen at random when the ledger is first written.
    pub epoch: String,
    /// The highest sequence number given out (compaction does not lower it).
    pub last_seq: u64,
}

/// A nonce row: signature bytes (or a retry key) and until when it is remembered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceRow {
    pub nonce: Vec<u8>,
    pub expires: Time,
}

/// Everything one append writes, in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowsWrite {
    pub head: Head,
    /// New rows, ascending `seq`.
    pub records: Vec<PurgeRecord>,
    pub nonce: Option<NonceRow>,
    /// Delete the records whose `at` is below this (spent: they can affect nothing).
    pub delete_records_before: Time,
    /// Delete the nonces whose `expires` is below this.
    pub delete_nonces_before: Time,
}

/// The ledger's storage: rows in the Durable Object's SQLite database (or memory, in tests).
/// Errors are plain messages; the ledger turns them into a failed request.
pub trait LedgerRows {
    /// The head; `None` for a ledger never written.
    fn head(&self) -> Result<Option<Head>, String>;
    /// Up to `limit` records with `after < seq <= through`, ascending.
    fn records(&self, after: u64, through: u64, limit: usize) -> Result<Vec<PurgeRecord>, String>;
    /// Whether `nonce` is remembered and has not expired at `now`.
    fn nonce_seen(&self, nonce: &[u8], now: Time) -> Result<bool, String>;
    /// Writes all of `write`, or nothing.
    fn commit(&mut self, write: &RowsWrite) -> Result<(), String>;
}

/// Rows held in memory: for tests and the simulation.
#[derive(Debug, Clone, Default)]
pub struct MemoryRows {
    pub head: Option<Head>,
    pub records: Vec<PurgeRecord>,
    pub nonces: HashMap<Vec<u8>, Time>,
}

impl LedgerRows for MemoryRows {
    fn head(&self) -> Result<Option<Head>, String> {
        Ok(self.head.clone())
    }

    fn records(&self, after: u64, through: u64, limit: usize) -> Result<Vec<PurgeRecord>, String> {
        let start = self.records.partition_point(|r| r.seq <= after);
        Ok(self.records.iter().skip(start).take_while(|r| r.seq <= through).take(limit).cloned().collect())
    }

    fn nonce_seen(&self, nonce: &[u8], now: Time) -> Result<bool, String> {
        Ok(self.nonces.get(nonce).is_some_and(|expires| *expires >= now))
    }

    fn commit(&mut self, write: &RowsWrite) -> Result<(), String> {
        self.head = Some(write.head.clone());
        self.records.extend(write.records.iter().cloned());
        self.records.retain(|r| r.at >= write.delete_records_before);
        if let Some(n) = &write.nonce {
            self.nonces.insert(n.nonce.clone(), n.expires);
        }
        self.nonces.retain(|_, expires| *expires >= write.delete_nonces_before);
        Ok(())
    }
}

/// What a location asks the ledger to record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendOrder {
    /// Any number of targets (up to [`MAX_APPEND_TARGETS`]), recorded in one transaction.
    pub targets: Vec<Target>,
    #[serde(default)]
    pub soft: bool,
    /// Hex of a signed request's decoded signature bytes (either case), or of a purge's retry
    /// key: the ledger refuses to apply the same bytes twice.
    #[serde(default)]
    pub nonce: Option<String>,
}

/// The ledger's answer to an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendAnswer {
    pub id: String,
    pub epoch: String,
    pub records: Vec<PurgeRecord>,
    pub last_seq: u64,
}

/// The ledger's answer to "the records after `from`".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinceAnswer {
    pub epoch: String,
    /// The sequence number asked after.
    pub from: u64,
    /// The answer holds every live record with `from < seq <= to`.
    pub to: u64,
    /// The ledger's head when it answered.
    pub last_seq: u64,
    pub records: Vec<PurgeRecord>,
    /// More records follow `to`: ask again after it.
    #[serde(default)]
    pub more: bool,
}

/// The authoritative ledger, run by the Durable Object over its rows. It remembers the head
/// it last read or wrote; the rows are the truth, and the head is replaced only after a
/// write succeeded.
#[derive(Debug, Clone)]
pub struct Ledger {
    head: Option<Head>,
    max_entry_lifetime_ms: Time,
}

impl Ledger {
    /// A ledger whose records are spent `max_entry_lifetime_ms` after their time (every
    /// stored entry has left storage by then).
    pub fn new(max_entry_lifetime_ms: Time) -> Self {
        Self { head: None, max_entry_lifetime_ms }
    }

    fn load(&mut self, rows: &dyn LedgerRows) -> Result<Option<Head>, LedgerError> {
        if self.head.is_none() {
            self.head = rows.head().map_err(LedgerError::Storage)?;
        }
        Ok(self.head.clone())
    }

    /// Records one purge of `order.targets` at `now`, one row per distinct target with
    /// increasing sequence numbers, in one write. `new_epoch` names the ledger when it is
    /// written for the first time. Nothing changes when the write fails.
    pub fn append(
        &mut self,
        rows: &mut dyn LedgerRows,
        order: &AppendOrder,
        now: Time,
        new_epoch: &str,
    ) -> Result<AppendAnswer, LedgerError> {
        if order.targets.len() > MAX_APPEND_TARGETS {
            return Err(LedgerError::BadOrder(format!(
                "at most {MAX_APPEND_TARGETS} targets in one append, not {}",
                order.targets.len()
            )));
        }
        let nonce = match &order.nonce {
            Some(hex) => Some(
                unhex(hex.trim())
                    .filter(|b| !b.is_empty())
                    .ok_or_else(|| LedgerError::BadOrder("the nonce must be hex".to_owned()))?,
            ),
            None => None,
        };
        let head = self.load(rows)?;
        if let Some(n) = &nonce {
            if rows.nonce_seen(n, now).map_err(LedgerError::Storage)? {
                return Err(LedgerError::Replayed);
            }
        }
        let (epoch, mut last_seq) = match head {
            Some(h) => (h.epoch, h.last_seq),
            None => (new_epoch.to_owned(), 0),
        };
        let id = format!("p-{}-{}", last_seq.saturating_add(1), now);
        let mut records: Vec<PurgeRecord> = Vec::with_capacity(order.targets.len());
        let mut seen = std::collections::HashSet::with_capacity(order.targets.len());
        for target in &order.targets {
            if !seen.insert(target) {
                continue;
            }
            last_seq = last_seq.saturating_add(1);
            records.push(PurgeRecord {
                seq: last_seq,
                id: id.clone(),
                at: now,
                target: target.clone(),
                soft: order.soft,
            });
        }
        let write = RowsWrite {
            head: Head { epoch: epoch.clone(), last_seq },
            records,
            nonce: nonce.map(|nonce| NonceRow { nonce, expires: now.saturating_add(NONCE_LIFETIME_MS) }),
            delete_records_before: now.saturating_sub(self.max_entry_lifetime_ms),
            delete_nonces_before: now,
        };
        if let Err(e) = rows.commit(&write) {
            // What the rows hold now is read again before the next request is answered.
            self.head = None;
            return Err(LedgerError::Storage(e));
        }
        self.head = Some(write.head.clone());
        Ok(AppendAnswer { id, epoch, records: write.records, last_seq })
    }

    /// The records after `from`, oldest first, at most [`PAGE_RECORDS`] of them.
    pub fn since(&mut self, rows: &dyn LedgerRows, from: u64) -> Result<SinceAnswer, LedgerError> {
        let Some(head) = self.load(rows)? else {
            // Never written: no epoch yet. A copy that saw this starts over when the first
            // purge names the epoch.
            return Ok(SinceAnswer {
                epoch: String::new(),
                from,
                to: 0,
                last_seq: 0,
                records: Vec::new(),
                more: false,
            });
        };
        let records = rows.records(from, head.last_seq, PAGE_RECORDS).map_err(LedgerError::Storage)?;
        let more = records.len() >= PAGE_RECORDS && records.last().is_some_and(|r| r.seq < head.last_seq);
        let to = if more { records.last().map_or(head.last_seq, |r| r.seq) } else { head.last_seq };
        Ok(SinceAnswer { epoch: head.epoch, from, to, last_seq: head.last_seq, records, more })
    }

    /// The head last read or written.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }
}
