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
//! **Chain.** A restored ledger (a storage restore, a point-in-time recovery) keeps its epoch
//! and gives out again sequence numbers some copies have already read past: a head that went
//! back and moved on again is not below their cursor, and "after my cursor" would skip the
//! records written in between. So every record carries a chain value, a digest of the
//! previous record's chain and its own fields ([`chain_next`]): two histories that differ
//! anywhere up to a sequence number have different chains there. Each answer names the chain
//! at the sequence number it starts after (its `anchor`) and at its end; a copy remembers the
//! chain at its cursor and, when the ledger's differs, the history it read was rewritten: it
//! starts over from 0 and, until it is complete again, has every entry it holds revalidated
//! ([`Effect::Unverified`]) rather than served. The ledger itself changes its epoch when it
//! notices its own rows went back: below the head it gave out last, or below (or different
//! from) the position a copy reports having read ([`Ledger::since_checked`]).
//!
//! **Budgets.** Every purge costs a row that lives as long as a stored entry and a target in
//! the copy of every isolate. A credential may record [`CREDENTIAL_BURST_TARGETS`] distinct
//! targets at once, refilled at [`CREDENTIAL_TARGETS_PER_MINUTE`]; all credentials together
//! [`GLOBAL_BURST_TARGETS`], refilled at [`GLOBAL_TARGETS_PER_MINUTE`] ([`Budgets`]). An
//! order beyond its budget is not refused: it collapses into one coarse record per site it
//! touches, a prefix of the whole site (`scheme://host/`, soft or hard as asked: "everything
//! on this site stored before now"), which purges at least what the order asked for.
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
//! every entry carrying that tag (exact, case-sensitive), a [`Target::Group`] every entry of
//! its site carrying that tag.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::http::{hex, unhex, Time};

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
/// The most records one [`Ledger::since`] answer carries; the rest follow on request, back to
/// back. A copy far behind is current after one round trip per page, so the page is what
/// decides how fast it catches up at a distance from the ledger: a fifth of the copy's bound
/// ([`MAX_COPY_TARGETS`]), a location 60,000 records behind is current after three pages, each
/// asked for while the one before it is applied (`fanout::read_ahead`): 1.1 s at 250 ms a round
/// trip in the purge simulation, where twelve pages of 5,000 one after another took 3.6 s. A
/// full page of short tags is 2.3 MB of JSON.
pub const PAGE_RECORDS: usize = MAX_COPY_TARGETS / 5;
/// The most targets one append takes (one API purge of 1,000 URLs with their purge paths
/// fits many times over).
pub const MAX_APPEND_TARGETS: usize = 50_000;
/// How long a nonce (a signed request's signature, or a purge's retry key) is remembered:
/// a signed request is accepted within 300 s either side of the ledger's clock.
pub const NONCE_LIFETIME_MS: Time = 2 * super::auth::MAX_CLOCK_SKEW_SECS * 1000 + 60_000;
/// A signed purge is recorded at most this long after the time it was signed at: a location
/// that took it while the ledger was unreachable retries within that time, and the ledger
/// remembers its signature at least until then, so a replay taken elsewhere meanwhile is
/// refused whichever of the two reaches the ledger first. Later, nothing could tell the
/// replay from the first use: the order is refused ([`LedgerError::BadOrder`]).
pub const SIGNED_RECORD_WINDOW_MS: Time = NONCE_LIFETIME_MS;
/// Distinct targets one credential may record at once (one API purge of 1,000 URLs expanded
/// to its purge paths fits).
pub const CREDENTIAL_BURST_TARGETS: u64 = 5_000;
/// … refilled at this rate.
pub const CREDENTIAL_TARGETS_PER_MINUTE: u64 = 1_000;
/// Distinct targets all credentials together may record at once.
pub const GLOBAL_BURST_TARGETS: u64 = 20_000;
/// … refilled at this rate.
pub const GLOBAL_TARGETS_PER_MINUTE: u64 = 5_000;
/// The most credentials whose budget the ledger tracks; beyond, the one closest to full is
/// forgotten (a full budget is what a forgotten one starts with).
pub const MAX_BUDGETED_CREDENTIALS: usize = 1_024;
/// The most distinct targets an isolate's copy holds (about 130 bytes each with the index:
/// some 13 MB of an isolate's 128 MB). Past it, the oldest collapse into one "purged before"
/// mark for every site (see [`LedgerCopy`]).
pub const MAX_COPY_TARGETS: usize = 100_000;

/// What a purge record reaches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// A normalised primary key, `scheme://host[:port]/path[?query]`: all its variants.
    Url(String),
    /// A primary-key prefix, `scheme://host[:port]/path-prefix`, by whole path segments.
    Prefix(String),
    /// A cache tag (`Cache-Groups`, `Cache-Tag`, `Surrogate-Key` or `xkey` from the origin),
    /// on every site.
    Tag(String),
    /// A cache group of one origin (RFC 9875 §2.1: responses belong to the same group when
    /// their `Cache-Groups` hold the same String "and they both share the same URI origin"):
    /// the site as [`site_of`] writes it (`scheme://host[:port]/`), a space, and the group as
    /// entries record their tags. Made by [`Target::group`].
    Group(String),
}

impl Target {
    /// The kind as stored in a row: `url`, `prefix` or `tag`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Url(_) => "url",
            Target::Prefix(_) => "prefix",
            Target::Tag(_) => "tag",
            Target::Group(_) => "group",
        }
    }

    /// The target's text (URL, prefix or tag).
    pub fn value(&self) -> &str {
        match self {
            Target::Url(s) | Target::Prefix(s) | Target::Tag(s) | Target::Group(s) => s,
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
            // The site ends with `/`, so it is a prefix of the keys of that origin only.
            Target::Group(value) => value
                .split_once(' ')
                .is_some_and(|(site, group)| url.starts_with(site) && tags.iter().any(|t| t == group)),
        }
    }

    /// The target of `group` (as entries record it) on the site `site` (`scheme://host[:port]/`,
    /// as [`site_of`] writes it).
    pub fn group(site: &str, group: &str) -> Target {
        Target::Group(format!("{site} {group}"))
    }

    /// The target of a row; None for an unknown kind.
    pub fn from_row(kind: &str, value: String) -> Option<Target> {
        match kind {
            "url" => Some(Target::Url(value)),
            "prefix" => Some(Target::Prefix(value)),
            "tag" => Some(Target::Tag(value)),
            "group" => Some(Target::Group(value)),
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
    /// The ledger's chain at this record ([`chain_next`] of the previous one's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub chain: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The chain value of `record` after a record whose chain is `previous` (`""` before the
/// first record of a ledger): 16 bytes of SHA-256 over the previous chain and every field of
/// the record, as hex. Two histories that differ at or before a sequence number differ there.
pub fn chain_next(previous: &str, record: &PurgeRecord) -> String {
    let mut h = Sha256::new();
    for part in [
        previous,
        &record.seq.to_string(),
        &record.id,
        &record.at.to_string(),
        record.target.kind(),
        record.target.value(),
        if record.soft { "soft" } else { "hard" },
    ] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    hex(h.finalize().get(..16).unwrap_or_default())
}

/// The chain a ledger written before records carried one starts from: any value no record
/// can have had, named after the new epoch.
fn chain_seed(epoch: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"rulecache ledger seed\n");
    h.update(epoch.as_bytes());
    hex(h.finalize().get(..16).unwrap_or_default())
}

/// The ledger's identity and position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    /// Chosen at random when the ledger is first written.
    pub epoch: String,
    /// The highest sequence number given out (compaction does not lower it).
    pub last_seq: u64,
    /// The chain at `last_seq` (kept when the record itself is compacted away).
    #[serde(default)]
    pub chain: String,
}

/// Where a copy stands: the epoch it counts in, its cursor and the chain there. Sent with a
/// refresh so the ledger can tell that its own rows went back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    pub epoch: String,
    pub seq: u64,
    pub chain: String,
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
    /// The chain at record `seq`; `None` when no such row is held (compacted, never written,
    /// or written before records carried a chain).
    fn chain_at(&self, seq: u64) -> Result<Option<String>, String>;
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

    fn chain_at(&self, seq: u64) -> Result<Option<String>, String> {
        let at = self.records.partition_point(|r| r.seq < seq);
        Ok(self.records.get(at).filter(|r| r.seq == seq && !r.chain.is_empty()).map(|r| r.chain.clone()))
    }

    fn nonce_seen(&self, nonce: &[u8], now: Time) -> Result<bool, String> {
        Ok(self.nonces.get(nonce).is_some_and(|expires| *expires >= now))
    }

    fn commit(&mut self, write: &RowsWrite) -> Result<(), String> {
        self.head = Some(write.head.clone());
        self.records.extend(write.records.iter().cloned());
        let last = write.head.last_seq;
        self.records.retain(|r| r.at >= write.delete_records_before || r.seq == last);
        if let Some(n) = &write.nonce {
            let kept = self.nonces.get(&n.nonce).copied().unwrap_or(0);
            self.nonces.insert(n.nonce.clone(), n.expires.max(kept));
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
    /// A signed request's signing time (its timestamp, in milliseconds): the ledger records
    /// it only within [`SIGNED_RECORD_WINDOW_MS`] of it and remembers its nonce until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_at: Option<Time>,
    /// The budget the order is counted against ([`credential_label`]); none is a budget of
    /// its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Beyond its budget, the order collapses into soft records (its site revalidated, not
    /// dropped) even when it is hard: for orders anyone can cause, such as the invalidations
    /// an origin's answers to unsafe requests carry, so that a flood of them makes the site
    /// revalidate rather than miss.
    #[serde(default, skip_serializing_if = "is_false")]
    pub soft_when_collapsed: bool,
    /// The site the purge was asked for, as a primary-key prefix `scheme://host[:port]/`: the
    /// coarse record tag targets collapse into when the order is beyond its budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
}

/// The budget label of a credential: its scheme (every holder of the one purge secret is one
/// credential).
pub fn credential_label(scheme: super::auth::Scheme) -> &'static str {
    use super::auth::Scheme;
    match scheme {
        Scheme::Bearer => "bearer",
        Scheme::Signed => "signed",
        Scheme::Basic => "basic",
        Scheme::Address => "address",
    }
}

/// A signed request's guard against replay in the ledger: its signature bytes as hex and the
/// time it was signed at (its timestamp, in milliseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNonce {
    pub nonce: String,
    pub signed_at: Option<Time>,
}

impl SignedNonce {
    /// The nonce of a signed request (none for any other).
    pub fn of(headers: &crate::http::Headers) -> Option<SignedNonce> {
        let bytes = super::auth::signature_bytes_of(headers)?;
        let signed_at = headers
            .get(super::auth::TIMESTAMP_HEADER)
            .and_then(|t| t.trim().parse::<u64>().ok())
            .map(|secs| secs.saturating_mul(1000));
        Some(SignedNonce { nonce: hex(&bytes), signed_at })
    }
}

/// The site of a primary key or primary-key prefix, `scheme://host[:port]/`; `None` when it
/// names no host.
pub fn site_of(key: &str) -> Option<String> {
    let (scheme, rest) = key.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}/"))
}

/// The ledger's answer to an append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendAnswer {
    pub id: String,
    pub epoch: String,
    pub records: Vec<PurgeRecord>,
    pub last_seq: u64,
    /// The chain just before the first record (at `records[0].seq - 1`).
    #[serde(default)]
    pub anchor: String,
    /// The order was beyond its budget: `records` are the coarse records it collapsed into.
    #[serde(default, skip_serializing_if = "is_false")]
    pub collapsed: bool,
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
    /// The chain at `from` (`""` for 0); `None` when the ledger no longer holds that record.
    #[serde(default)]
    pub anchor: Option<String>,
    /// The chain at `to`.
    #[serde(default)]
    pub chain: String,
}

/// One budget: up to `burst` targets at once, refilled at `per_minute`. Counted in
/// thousandths of a target so that a refill of a few milliseconds is not lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bucket {
    milli: u64,
    at: Time,
}

impl Bucket {
    fn full(burst: u64, now: Time) -> Self {
        Bucket { milli: burst.saturating_mul(1000), at: now }
    }

    fn refill(&mut self, burst: u64, per_minute: u64, now: Time) {
        let elapsed = now.saturating_sub(self.at);
        // per_minute targets per 60,000 ms = per_minute / 60 thousandths per ms.
        let gained = elapsed.saturating_mul(per_minute) / 60;
        self.milli = self.milli.saturating_add(gained).min(burst.saturating_mul(1000));
        self.at = self.at.max(now);
    }

    fn has(&self, n: u64) -> bool {
        self.milli >= n.saturating_mul(1000)
    }

    fn take(&mut self, n: u64) {
        self.milli = self.milli.saturating_sub(n.saturating_mul(1000));
    }
}

/// The ledger's budgets: one per credential label and one for all together (see the module's
/// "Budgets"). Held in the object's memory: a restarted object starts with full budgets.
#[derive(Debug, Clone)]
pub struct Budgets {
    credentials: HashMap<String, Bucket>,
    global: Option<Bucket>,
    limits: BudgetLimits,
}

/// The sizes of [`Budgets`], in distinct targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BudgetLimits {
    pub credential_burst: u64,
    pub credential_per_minute: u64,
    pub global_burst: u64,
    pub global_per_minute: u64,
}

impl Default for BudgetLimits {
    fn default() -> Self {
        BudgetLimits {
            credential_burst: CREDENTIAL_BURST_TARGETS,
            credential_per_minute: CREDENTIAL_TARGETS_PER_MINUTE,
            global_burst: GLOBAL_BURST_TARGETS,
            global_per_minute: GLOBAL_TARGETS_PER_MINUTE,
        }
    }
}

impl BudgetLimits {
    /// The limits from the `PURGE_BUDGETS` setting: four whole numbers separated by commas,
    /// `credential burst, credential per minute, global burst, global per minute`. `None` for
    /// anything else (the defaults apply).
    pub fn from_setting(text: &str) -> Option<BudgetLimits> {
        let n: Vec<u64> = text.split(',').map(|p| p.trim().parse::<u64>()).collect::<Result<_, _>>().ok()?;
        match n.as_slice() {
            [a, b, c, d] => Some(BudgetLimits {
                credential_burst: *a,
                credential_per_minute: *b,
                global_burst: *c,
                global_per_minute: *d,
            }),
            _ => None,
        }
    }
}

impl Budgets {
    pub fn new(limits: BudgetLimits) -> Self {
        Budgets { credentials: HashMap::new(), global: None, limits }
    }

    /// Whether `n` more distinct targets fit the budgets of `credential` and of all at `now`;
    /// when they do, they are taken.
    pub fn take(&mut self, credential: &str, n: u64, now: Time) -> bool {
        let l = self.limits;
        let global = self.global.get_or_insert_with(|| Bucket::full(l.global_burst, now));
        global.refill(l.global_burst, l.global_per_minute, now);
        if !self.credentials.contains_key(credential) && self.credentials.len() >= MAX_BUDGETED_CREDENTIALS {
            for b in self.credentials.values_mut() {
                b.refill(l.credential_burst, l.credential_per_minute, now);
            }
            let fullest = self.credentials.iter().max_by_key(|(_, b)| b.milli).map(|(k, _)| k.clone());
            if let Some(k) = fullest {
                self.credentials.remove(&k);
            }
        }
        let own = self
            .credentials
            .entry(credential.to_owned())
            .or_insert_with(|| Bucket::full(l.credential_burst, now));
        own.refill(l.credential_burst, l.credential_per_minute, now);
        let fits = own.has(n) && global.has(n);
        if fits {
            own.take(n);
            global.take(n);
        }
        fits
    }

    /// Takes `n` targets whether they fit or not (the coarse records of a collapsed order).
    pub fn charge(&mut self, credential: &str, n: u64) {
        if let Some(b) = self.credentials.get_mut(credential) {
            b.take(n);
        }
        if let Some(g) = self.global.as_mut() {
            g.take(n);
        }
    }
}

/// The coarse targets an order beyond its budget collapses into: a prefix of every site it
/// touches (`scheme://host/`: everything stored for that site), the order's own site for its
/// tags. `None` when it names no site at all.
pub fn collapse(order: &AppendOrder) -> Option<Vec<Target>> {
    let mut sites = std::collections::BTreeSet::new();
    for t in &order.targets {
        match t {
            Target::Url(v) | Target::Prefix(v) | Target::Group(v) => {
                if let Some(s) = site_of(v) {
                    sites.insert(s);
                }
            }
            Target::Tag(_) => {
                if let Some(s) = order.site.as_deref().and_then(site_of) {
                    sites.insert(s);
                }
            }
        }
    }
    if let Some(s) = order.site.as_deref().and_then(site_of).filter(|_| sites.is_empty()) {
        sites.insert(s);
    }
    (!sites.is_empty()).then(|| sites.into_iter().map(Target::Prefix).collect())
}

/// The authoritative ledger, run by the Durable Object over its rows. It remembers the head
/// it last read or wrote; the rows are the truth, read again for every request, and the
/// head is replaced only after a write succeeded. When the rows are found below the head it
/// remembers (in the same epoch), they were restored from an older copy: the ledger changes
/// its epoch.
#[derive(Debug, Clone)]
pub struct Ledger {
    head: Option<Head>,
    max_entry_lifetime_ms: Time,
    budgets: Budgets,
}

impl Ledger {
    /// A ledger whose records are spent `max_entry_lifetime_ms` after their time (every
    /// stored entry has left storage by then), with the default budgets.
    pub fn new(max_entry_lifetime_ms: Time) -> Self {
        Self::with_budgets(max_entry_lifetime_ms, BudgetLimits::default())
    }

    /// … with budgets of the given sizes.
    pub fn with_budgets(max_entry_lifetime_ms: Time, limits: BudgetLimits) -> Self {
        Self { head: None, max_entry_lifetime_ms, budgets: Budgets::new(limits) }
    }

    /// Reads the head from the rows and compares it with the one remembered: rows below it
    /// (or at it with another chain), in the same epoch, went back; rows written before
    /// records carried a chain get one. Either way the ledger moves to `new_epoch`.
    fn load(&mut self, rows: &mut dyn LedgerRows, new_epoch: &str) -> Result<Option<Head>, LedgerError> {
        let stored = rows.head().map_err(LedgerError::Storage)?;
        let Some(row) = stored else {
            // Never written (or every row lost): the first append names a new epoch.
            self.head = None;
            return Ok(None);
        };
        let regressed = self.head.as_ref().is_some_and(|mem| {
            mem.epoch == row.epoch
                && (row.last_seq < mem.last_seq || row.last_seq == mem.last_seq && row.chain != mem.chain)
        });
        let unchained = row.chain.is_empty() && row.last_seq > 0;
        if regressed || unchained {
            let chain = if unchained { chain_seed(new_epoch) } else { row.chain.clone() };
            return self
                .change_epoch(rows, Head { epoch: new_epoch.to_owned(), last_seq: row.last_seq, chain });
        }
        self.head = Some(row.clone());
        Ok(Some(row))
    }

    fn change_epoch(&mut self, rows: &mut dyn LedgerRows, head: Head) -> Result<Option<Head>, LedgerError> {
        let write = RowsWrite {
            head,
            records: Vec::new(),
            nonce: None,
            delete_records_before: 0,
            delete_nonces_before: 0,
        };
        if let Err(e) = rows.commit(&write) {
            self.head = None;
            return Err(LedgerError::Storage(e));
        }
        self.head = Some(write.head.clone());
        Ok(Some(write.head))
    }

    /// Records one purge of `order.targets` at `now`, one row per distinct target with
    /// increasing sequence numbers, in one write; an order beyond its budget is recorded as
    /// the coarse records it collapses into ([`collapse`]). `new_epoch` names the ledger when
    /// it is written for the first time (or its rows are found to have gone back). Nothing
    /// changes when the write fails.
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
        if order.signed_at.is_some_and(|t| now > t.saturating_add(SIGNED_RECORD_WINDOW_MS)) {
            return Err(LedgerError::BadOrder(format!(
                "a signed purge is recorded within {} s of its timestamp: sign it again",
                SIGNED_RECORD_WINDOW_MS / 1000
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
        let head = self.load(rows, new_epoch)?;
        if let Some(n) = &nonce {
            if rows.nonce_seen(n, now).map_err(LedgerError::Storage)? {
                return Err(LedgerError::Replayed);
            }
        }
        let mut distinct: Vec<&Target> = Vec::with_capacity(order.targets.len());
        let mut seen = std::collections::HashSet::with_capacity(order.targets.len());
        for target in &order.targets {
            if seen.insert(target) {
                distinct.push(target);
            }
        }
        let credential = order.credential.as_deref().unwrap_or("");
        let collapsed = if self.budgets.take(credential, distinct.len() as u64, now) {
            None
        } else {
            let coarse = collapse(order).ok_or_else(|| {
                LedgerError::BadOrder("the purge budget is spent and the order names no site".to_owned())
            })?;
            self.budgets.charge(credential, coarse.len() as u64);
            Some(coarse)
        };
        let targets: Vec<&Target> = match &collapsed {
            Some(coarse) => coarse.iter().collect(),
            None => distinct,
        };
        let (epoch, mut last_seq, mut chain) = match head {
            Some(h) => (h.epoch, h.last_seq, h.chain),
            None => (new_epoch.to_owned(), 0, String::new()),
        };
        let anchor = chain.clone();
        let id = format!("p-{}-{}", last_seq.saturating_add(1), now);
        let mut records: Vec<PurgeRecord> = Vec::with_capacity(targets.len());
        for target in targets {
            last_seq = last_seq.saturating_add(1);
            let mut record = PurgeRecord {
                seq: last_seq,
                id: id.clone(),
                at: now,
                target: target.clone(),
                soft: order.soft || (collapsed.is_some() && order.soft_when_collapsed),
                chain: String::new(),
            };
            record.chain = chain_next(&chain, &record);
            chain.clone_from(&record.chain);
            records.push(record);
        }
        let remember_until = order
            .signed_at
            .map_or(0, |t| t.saturating_add(SIGNED_RECORD_WINDOW_MS))
            .max(now.saturating_add(NONCE_LIFETIME_MS));
        let write = RowsWrite {
            head: Head { epoch: epoch.clone(), last_seq, chain },
            records,
            nonce: nonce.map(|nonce| NonceRow { nonce, expires: remember_until }),
            delete_records_before: now.saturating_sub(self.max_entry_lifetime_ms),
            delete_nonces_before: now,
        };
        if let Err(e) = rows.commit(&write) {
            // What the rows hold now is read again before the next request is answered.
            self.head = None;
            return Err(LedgerError::Storage(e));
        }
        self.head = Some(write.head.clone());
        Ok(AppendAnswer {
            id,
            epoch,
            records: write.records,
            last_seq,
            anchor,
            collapsed: collapsed.is_some(),
        })
    }

    /// The records after `from`, oldest first, at most [`PAGE_RECORDS`] of them.
    pub fn since(&mut self, rows: &dyn LedgerRows, from: u64) -> Result<SinceAnswer, LedgerError> {
        if self.head.is_none() {
            self.head = rows.head().map_err(LedgerError::Storage)?;
        }
        let head = self.head.clone();
        let Some(head) = head else {
            // Never written: no epoch yet. A copy that saw this starts over when the first
            // purge names the epoch.
            return Ok(SinceAnswer {
                epoch: String::new(),
                from,
                to: 0,
                last_seq: 0,
                records: Vec::new(),
                more: false,
                anchor: Some(String::new()),
                chain: String::new(),
            });
        };
        let records = rows.records(from, head.last_seq, PAGE_RECORDS).map_err(LedgerError::Storage)?;
        let more = records.len() >= PAGE_RECORDS && records.last().is_some_and(|r| r.seq < head.last_seq);
        let (to, chain) = match records.last().filter(|_| more) {
            Some(last) => (last.seq, last.chain.clone()),
            None => (head.last_seq, head.chain.clone()),
        };
        let anchor = if from == 0 {
            Some(String::new())
        } else if from == head.last_seq {
            Some(head.chain.clone()).filter(|c| !c.is_empty())
        } else if from > head.last_seq {
            None
        } else {
            rows.chain_at(from).map_err(LedgerError::Storage)?
        };
        Ok(SinceAnswer { epoch: head.epoch, from, to, last_seq: head.last_seq, records, more, anchor, chain })
    }

    /// [`since`](Ledger::since) for a copy that reports where it stands (`seen`): the head is
    /// read again from the rows, and when they went back below what this object gave out, or
    /// below (or away from) the copy's position in the same epoch, the ledger changes its
    /// epoch to `new_epoch` first, so that every copy starts over.
    pub fn since_checked(
        &mut self,
        rows: &mut dyn LedgerRows,
        from: u64,
        seen: Option<&Seen>,
        new_epoch: &str,
    ) -> Result<SinceAnswer, LedgerError> {
        let head = self.load(rows, new_epoch)?;
        if let (Some(h), Some(seen)) = (head, seen) {
            if seen.epoch == h.epoch && seen.seq > 0 {
                let ours = if seen.seq == h.last_seq {
                    Some(h.chain.clone())
                } else if seen.seq < h.last_seq {
                    rows.chain_at(seen.seq).map_err(LedgerError::Storage)?
                } else {
                    None
                };
                let went_back = seen.seq > h.last_seq || ours.is_some_and(|c| c != seen.chain);
                if went_back {
                    self.change_epoch(rows, Head { epoch: new_epoch.to_owned(), ..h })?;
                }
            }
        }
        self.since(rows, from)
    }

    /// The head last read or written.
    pub fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }
}
