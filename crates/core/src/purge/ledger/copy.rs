//! Each isolate's copy of the ledger ([`LedgerCopy`]): the records it has learned, by target,
//! the cursor it refreshes from (and the ledger's chain there), and what they do to a stored
//! entry ([`Effect`]).
//!
//! **Rewritten history.** A copy remembers the chain at its cursor. An answer whose chain at
//! that sequence number differs (or that cannot vouch for it, or whose head is below it), or an
//! own purge numbered at or below the cursor, shows that the history the copy read is not the
//! ledger's any more (it was restored from an older copy): the copy starts over from 0,
//! keeping every purge it learned, and until it is complete again every entry whose origin
//! request was sent before that moment is [`Effect::Unverified`] (revalidated, not served).
//!
//! **Memory bound.** The copy holds at most [`MAX_COPY_TARGETS`] distinct targets. Past it,
//! the tenth with the oldest records collapse into one mark that reaches every entry of every
//! site (a hard and a soft "purged before T", with the latest time and learning time of what
//! collapsed into it): an entry sent before the newest collapsed record is purged (or marked
//! stale), which is at least what the collapsed records did. It makes entries revalidate or
//! miss; it never serves one a record reached.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::*;

/// What the ledger does to a stored entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Purged: treat the entry as absent.
    Hard,
    /// Marked stale at `at` (the latest matching soft purge): revalidate before use.
    Soft { at: Time },
    /// The copy could not be refreshed for longer than the propagation bound and the entry is
    /// old enough to have been purged meanwhile: revalidate it before use (and say so).
    Unverified { before: Time },
}

/// The latest hard and soft purge recorded for one target: its time, and when this copy
/// learned of it (on the isolate's clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Marks {
    hard: Option<(Time, Time)>,
    soft: Option<(Time, Time)>,
}

impl Marks {
    fn add(&mut self, at: Time, soft: bool, learned: Time) {
        let slot = if soft { &mut self.soft } else { &mut self.hard };
        *slot = Some(match *slot {
            Some((t, l)) if t > at => (t, l),
            Some((t, l)) if t == at => (t, l.min(learned)),
            _ => (at, learned),
        });
    }

    fn newest(&self) -> Time {
        self.hard.map_or(0, |(t, _)| t).max(self.soft.map_or(0, |(t, _)| t))
    }

    /// Grows these marks to reach at least what `other` reaches: the latest time and the
    /// latest learning time of each kind.
    fn widen(&mut self, other: &Marks) {
        fn max(a: Option<(Time, Time)>, b: Option<(Time, Time)>) -> Option<(Time, Time)> {
            match (a, b) {
                (Some((t, l)), Some((u, m))) => Some((t.max(u), l.max(m))),
                (x, None) | (None, x) => x,
            }
        }
        self.hard = max(self.hard, other.hard);
        self.soft = max(self.soft, other.soft);
    }
}

/// How far an answer took a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The copy holds everything the ledger held when the answer was asked for.
    Complete,
    /// The answer was one page: ask again after [`LedgerCopy::cursor`].
    More,
    /// The answer started after the copy's cursor (or named another epoch): its records were
    /// applied, and the copy must ask again after its cursor.
    Gap,
}

/// An isolate's copy of the ledger, indexed for [`effect`](LedgerCopy::effect) lookups.
#[derive(Debug, Clone)]
pub struct LedgerCopy {
    epoch: Option<String>,
    /// Every record with `seq <= cursor` (of `epoch`) has been applied.
    cursor: u64,
    /// The ledger's chain at the cursor (`""` at 0).
    chain: String,
    /// Sequence numbers above the cursor applied out of band, with their chain.
    ahead: BTreeMap<u64, String>,
    /// When the last refresh that made the copy complete was sent.
    last_success: Option<Time>,
    /// The copy found the history it had read rewritten at this time and is not complete
    /// again yet.
    rewound: Option<Time>,
    /// What the targets dropped past the memory bound reached: every entry of every site.
    floor: Marks,
    /// The most distinct targets held.
    max_targets: usize,
    urls: HashMap<String, Marks>,
    tags: HashMap<String, Marks>,
    /// Group targets by their value (`site group`).
    groups: HashMap<String, Marks>,
    prefixes: HashMap<String, Marks>,
    /// The distinct byte lengths of the prefixes, so a lookup probes one slice per length.
    prefix_lengths: BTreeSet<usize>,
}

impl Default for LedgerCopy {
    fn default() -> Self {
        Self::with_max_targets(MAX_COPY_TARGETS)
    }
}

impl LedgerCopy {
    pub fn new() -> Self {
        Self::default()
    }

    /// A copy holding at most `max_targets` distinct targets (see the module's "Memory bound").
    pub fn with_max_targets(max_targets: usize) -> Self {
        LedgerCopy {
            epoch: None,
            cursor: 0,
            chain: String::new(),
            ahead: BTreeMap::new(),
            last_success: None,
            rewound: None,
            floor: Marks::default(),
            max_targets: max_targets.max(10),
            urls: HashMap::new(),
            tags: HashMap::new(),
            groups: HashMap::new(),
            prefixes: HashMap::new(),
            prefix_lengths: BTreeSet::new(),
        }
    }

    /// Starts over from sequence 0 of `epoch`: the history read so far is not the ledger's
    /// (another epoch, or the same one rewritten). What was learned is kept; until the copy
    /// is complete again, entries sent before `now` are unverified (see [`judge`](Self::judge)).
    fn start_over(&mut self, epoch: &str, now: Time) {
        let had_history = self.epoch.as_deref().is_some_and(|e| !e.is_empty());
        if had_history {
            self.rewound = Some(self.rewound.map_or(now, |r| r.min(now)));
            self.last_success = None;
        }
        self.epoch = Some(epoch.to_owned());
        self.cursor = 0;
        self.chain.clear();
        self.ahead.clear();
    }

    /// Whether `answer` (of this copy's epoch) agrees with the history the copy read: the
    /// ledger's chain at the cursor is the one the copy remembers.
    fn agrees(&self, a: &SinceAnswer) -> bool {
        if self.cursor == 0 {
            return true;
        }
        if a.last_seq < self.cursor {
            // The ledger is behind what this copy saw in the same epoch.
            return false;
        }
        match a.from.cmp(&self.cursor) {
            std::cmp::Ordering::Equal => a.anchor.as_deref() == Some(self.chain.as_str()),
            std::cmp::Ordering::Less => match a.records.iter().find(|r| r.seq == self.cursor) {
                Some(r) => r.chain == self.chain,
                None if a.to == self.cursor => a.chain == self.chain,
                // The page ends below the cursor: the next one is compared.
                None => a.more && a.to < self.cursor,
            },
            // An answer past the cursor leaves a gap; the answer that fills it is compared.
            std::cmp::Ordering::Greater => true,
        }
    }

    /// Takes in an answer to "the records after `answer.from`", asked for at `sent_at` (the
    /// time the request was *sent*, so that every purge recorded before it is known to be
    /// included once the copy is complete) and applied at `now`.
    pub fn apply_answer(&mut self, answer: &SinceAnswer, sent_at: Time, now: Time) -> Progress {
        let known_epoch = self.epoch.as_deref() == Some(answer.epoch.as_str());
        for record in &answer.records {
            self.add(record, now);
        }
        self.bound();
        if !known_epoch || !self.agrees(answer) {
            self.start_over(&answer.epoch, now);
            if known_epoch || answer.from > 0 {
                return Progress::Gap;
            }
        }
        if answer.from > self.cursor {
            self.ahead.extend(
                answer.records.iter().filter(|r| r.seq > self.cursor).map(|r| (r.seq, r.chain.clone())),
            );
            return Progress::Gap;
        }
        if answer.to >= self.cursor {
            self.cursor = answer.to;
            self.chain.clone_from(&answer.chain);
        }
        self.advance();
        if answer.more {
            return Progress::More;
        }
        self.last_success = Some(self.last_success.map_or(sent_at, |t| t.max(sent_at)));
        self.rewound = None;
        Progress::Complete
    }

    /// Takes in the answer to this isolate's own purge, learned out of band: its records
    /// apply at once; the cursor moves over them only where they directly follow it and the
    /// ledger's chain before them is the one at the cursor. A record numbered at or below the
    /// cursor, or another chain, means the ledger's history was rewritten: the copy starts
    /// over.
    pub fn apply_own(&mut self, answer: &AppendAnswer, now: Time) {
        for record in &answer.records {
            self.add(record, now);
        }
        self.bound();
        if self.epoch.as_deref() != Some(answer.epoch.as_str()) {
            return;
        }
        let Some(first) = answer.records.first() else { return };
        let rewritten = first.seq <= self.cursor
            || first.seq == self.cursor.saturating_add(1) && answer.anchor != self.chain;
        if rewritten {
            self.start_over(&answer.epoch, now);
            return;
        }
        self.ahead.extend(answer.records.iter().map(|r| (r.seq, r.chain.clone())));
        self.advance();
    }

    /// Takes in a purge the ledger could not record (yet): it applies in this isolate only
    /// and moves nothing.
    pub fn apply_local(&mut self, targets: &[Target], soft: bool, at: Time) {
        for target in targets {
            self.add(
                &PurgeRecord {
                    seq: 0,
                    id: String::new(),
                    at,
                    target: target.clone(),
                    soft,
                    chain: String::new(),
                },
                at,
            );
        }
        self.bound();
    }

    fn advance(&mut self) {
        let cursor = self.cursor;
        self.ahead.retain(|s, _| *s > cursor);
        while let Some(entry) = self.ahead.first_entry().filter(|e| *e.key() == self.cursor.saturating_add(1))
        {
            let (seq, chain) = entry.remove_entry();
            self.cursor = seq;
            self.chain = chain;
        }
    }

    /// Keeps the copy within its memory bound: past `max_targets`, the targets with the oldest
    /// records (down to nine tenths of the bound) collapse into the floor.
    fn bound(&mut self) {
        let len = self.len();
        if len <= self.max_targets {
            return;
        }
        let keep = self.max_targets / 10 * 9;
        let drop = len - keep;
        let mut times: Vec<Time> = self
            .urls
            .values()
            .chain(self.tags.values())
            .chain(self.groups.values())
            .chain(self.prefixes.values())
            .map(Marks::newest)
            .collect();
        let cutoff = *times.select_nth_unstable(drop.saturating_sub(1)).1;
        let floor = &mut self.floor;
        let mut collapse = |m: &Marks| {
            if m.newest() <= cutoff {
                floor.widen(m);
                false
            } else {
                true
            }
        };
        self.urls.retain(|_, m| collapse(m));
        self.tags.retain(|_, m| collapse(m));
        self.groups.retain(|_, m| collapse(m));
        self.prefixes.retain(|_, m| collapse(m));
        self.prefix_lengths = self.prefixes.keys().map(String::len).collect();
    }

    /// Where the copy stands, for the ledger to compare with its rows (none before its first
    /// record).
    pub fn seen(&self) -> Option<Seen> {
        let epoch = self.epoch.as_ref().filter(|_| self.cursor > 0)?;
        Some(Seen { epoch: epoch.clone(), seq: self.cursor, chain: self.chain.clone() })
    }

    /// When the copy found the history it read rewritten, while it is not complete again.
    pub fn rewound(&self) -> Option<Time> {
        self.rewound
    }

    fn add(&mut self, record: &PurgeRecord, learned: Time) {
        let (map, key) = match &record.target {
            Target::Url(url) => (&mut self.urls, url),
            Target::Tag(tag) => (&mut self.tags, tag),
            Target::Group(group) => (&mut self.groups, group),
            Target::Prefix(prefix) => {
                self.prefix_lengths.insert(prefix.len());
                (&mut self.prefixes, prefix)
            }
        };
        map.entry(key.clone()).or_default().add(record.at, record.soft, learned);
    }

    /// Every record up to this sequence number has been applied; ask for the ones after it.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The epoch of the ledger the cursor counts in, once known.
    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// When the last refresh that completed the copy was sent, if any.
    pub fn last_success(&self) -> Option<Time> {
        self.last_success
    }

    /// What the known records do to an entry with primary key `url` and `tags` whose origin
    /// request was sent at `sent_at`: a matching record affects it when
    /// `sent_at <= at + CLOCK_SKEW_MARGIN_MS` (the ledger's clock and this isolate's may
    /// disagree that much), unless the request was sent after this copy learned of the record
    /// (then it was certainly sent after the purge, whatever the clocks say: an entry fetched
    /// again right after a purge is not purged again). A hard purge wins over soft ones.
    pub fn effect(&self, url: &str, tags: &[String], sent_at: Time) -> Option<Effect> {
        let basis = sent_at.saturating_sub(CLOCK_SKEW_MARGIN_MS);
        let mut found = Marks::default();
        let affects = |(at, learned): (Time, Time)| at >= basis && sent_at < learned;
        let mut merge = |marks: &Marks| {
            if let Some(m) = marks.hard.filter(|m| affects(*m)) {
                found.add(m.0, false, m.1);
            }
            if let Some(m) = marks.soft.filter(|m| affects(*m)) {
                found.add(m.0, true, m.1);
            }
        };
        merge(&self.floor);
        if let Some(marks) = self.urls.get(url) {
            merge(marks);
        }
        // A URL target without a query reaches the path under every query string.
        let path = path_part(url);
        if path.len() < url.len() {
            if let Some(marks) = self.urls.get(path) {
                merge(marks);
            }
        }
        if !self.tags.is_empty() {
            tags.iter().filter_map(|tag| self.tags.get(tag)).for_each(&mut merge);
        }
        if !self.groups.is_empty() && !tags.is_empty() {
            // A group of the entry's own origin only (RFC 9875 §2.1).
            if let Some(site) = site_of(url) {
                let mut key = String::with_capacity(site.len() + 1 + crate::storage::meta::MAX_TAG_LEN);
                for tag in tags {
                    key.clear();
                    key.push_str(&site);
                    key.push(' ');
                    key.push_str(tag);
                    if let Some(marks) = self.groups.get(&key) {
                        merge(marks);
                    }
                }
            }
        }
        for len in self.prefix_lengths.range(..=url.len()) {
            // Whole segments only, as every prefix in rulecache (`http::has_path_prefix`).
            let Some(prefix) = url.get(..*len).filter(|p| crate::http::has_path_prefix(url, p)) else {
                continue;
            };
            if let Some(marks) = self.prefixes.get(prefix) {
                merge(marks);
            }
        }
        match found {
            Marks { hard: Some(_), .. } => Some(Effect::Hard),
            Marks { soft: Some((at, _)), .. } => Some(Effect::Soft { at }),
            Marks { hard: None, soft: None } => None,
        }
    }

    /// [`effect`](LedgerCopy::effect) at `now`, with the fail mode: when the copy has not
    /// been refreshed successfully for [`BLOCKING_REFRESH_AFTER_MS`], a purge older than that
    /// may be unknown to it, and such a purge can only affect entries whose origin request
    /// was sent before it. Those entries (sent more than the bound before `now`, give or take
    /// the clock margin) are [`Effect::Unverified`]: revalidated before use. Younger entries
    /// are served: any purge they could have missed is still within the bound.
    ///
    /// While the copy starts over after finding its history rewritten (at `r`), every entry
    /// sent before `r` (give or take the clock margin) is unverified, whatever its age: the
    /// records it missed may be of any age.
    pub fn judge(&self, url: &str, tags: &[String], sent_at: Time, now: Time) -> Option<Effect> {
        let known = self.effect(url, tags, sent_at);
        if known.is_some() {
            return known;
        }
        if let Some(r) = self.rewound {
            if sent_at <= r.saturating_add(CLOCK_SKEW_MARGIN_MS) {
                return Some(Effect::Unverified { before: r });
            }
        }
        let horizon = now.saturating_sub(BLOCKING_REFRESH_AFTER_MS);
        let behind = self.last_success.is_none_or(|l| l < horizon);
        let old = sent_at.saturating_sub(CLOCK_SKEW_MARGIN_MS) <= horizon;
        (behind && old).then_some(Effect::Unverified { before: horizon })
    }

    /// What the copy says about a stored entry at `now`, as the engine takes it: judged by
    /// when the entry's origin request was sent (`request_time`, kept by every format of the
    /// stored record), not by when its response arrived or was stored. A response fetched
    /// before a purge and arriving after it is purged.
    pub fn purged(&self, meta: &crate::storage::meta::Meta, now: Time) -> crate::storage::meta::Purged {
        use crate::storage::meta::Purged;
        match self.judge(&meta.url, &meta.tags, meta.request_time, now) {
            None => Purged::No,
            Some(Effect::Hard) => Purged::Hard,
            Some(Effect::Soft { at }) => Purged::Soft { at },
            Some(Effect::Unverified { before }) => Purged::Unverified { before },
        }
    }

    /// Drops what can no longer affect a stored entry: a record only affects entries sent at
    /// or before its time, and every entry leaves storage `max_entry_lifetime_ms` after it
    /// was stored.
    pub fn compact(&mut self, now: Time, max_entry_lifetime_ms: Time) {
        let live = |marks: &mut Marks| !is_spent(marks.newest(), now, max_entry_lifetime_ms);
        self.urls.retain(|_, m| live(m));
        self.tags.retain(|_, m| live(m));
        self.groups.retain(|_, m| live(m));
        self.prefixes.retain(|_, m| live(m));
        self.prefix_lengths = self.prefixes.keys().map(String::len).collect();
        if is_spent(self.floor.newest(), now, max_entry_lifetime_ms) {
            self.floor = Marks::default();
        }
    }

    /// Whether targets were collapsed into the site-wide "purged before" mark (the memory
    /// bound was reached), and its latest time.
    pub fn floor(&self) -> Option<Time> {
        (self.floor != Marks::default()).then(|| self.floor.newest())
    }

    /// About how many bytes of memory the copy's targets take: each table's slots (key,
    /// marks and a control byte) and each key's text.
    pub fn approx_bytes(&self) -> usize {
        let slot = std::mem::size_of::<String>() + std::mem::size_of::<Marks>() + 1;
        [&self.urls, &self.tags, &self.groups, &self.prefixes]
            .iter()
            .map(|m| m.capacity() * slot + m.keys().map(String::capacity).sum::<usize>())
            .sum()
    }

    /// How many distinct targets the copy holds.
    pub fn len(&self) -> usize {
        self.urls.len() + self.tags.len() + self.groups.len() + self.prefixes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn is_spent(at: Time, now: Time, max_entry_lifetime_ms: Time) -> bool {
    at.saturating_add(max_entry_lifetime_ms) < now
}
