//! Each isolate's copy of the ledger ([`LedgerCopy`]): the records it has learned, by target,
//! the cursor it refreshes from, and what they do to a stored entry ([`Effect`]).

use std::collections::{BTreeSet, HashMap};

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
#[derive(Debug, Clone, Default)]
pub struct LedgerCopy {
    epoch: Option<String>,
    /// Every record with `seq <= cursor` (of `epoch`) has been applied.
    cursor: u64,
    /// Sequence numbers above the cursor applied out of band.
    ahead: BTreeSet<u64>,
    /// When the last refresh that made the copy complete was sent.
    last_success: Option<Time>,
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

    fn start_epoch(&mut self, epoch: &str) {
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_owned());
            self.cursor = 0;
            self.ahead.clear();
        }
    }

    /// Takes in an answer to "the records after `answer.from`", asked for at `sent_at` (the
    /// time the request was *sent*, so that every purge recorded before it is known to be
    /// included once the copy is complete) and applied at `now`.
    pub fn apply_answer(&mut self, answer: &SinceAnswer, sent_at: Time, now: Time) -> Progress {
        let known_epoch = self.epoch.as_deref() == Some(answer.epoch.as_str());
        self.start_epoch(&answer.epoch);
        for record in &answer.records {
            self.add(record, now);
        }
        if answer.last_seq < self.cursor {
            // The ledger is behind what this copy saw in the same epoch: start over.
            self.cursor = 0;
            self.ahead.clear();
            return Progress::Gap;
        }
        if answer.from > self.cursor || !known_epoch && answer.from > 0 {
            self.ahead.extend(answer.records.iter().map(|r| r.seq).filter(|s| *s > self.cursor));
            return Progress::Gap;
        }
        self.cursor = self.cursor.max(answer.to);
        self.advance();
        if answer.more {
            return Progress::More;
        }
        self.last_success = Some(self.last_success.map_or(sent_at, |t| t.max(sent_at)));
        Progress::Complete
    }

    /// Takes in records learned out of band (the answer to this isolate's own purge): they
    /// apply at once; the cursor moves over them only where they directly follow it.
    pub fn apply_own(&mut self, epoch: &str, records: &[PurgeRecord], now: Time) {
        for record in records {
            self.add(record, now);
        }
        if self.epoch.as_deref() == Some(epoch) {
            self.ahead.extend(records.iter().map(|r| r.seq).filter(|s| *s > self.cursor));
            self.advance();
        }
    }

    /// Takes in a purge the ledger could not record (yet): it applies in this isolate only
    /// and moves nothing.
    pub fn apply_local(&mut self, targets: &[Target], soft: bool, at: Time) {
        for target in targets {
            self.add(&PurgeRecord { seq: 0, id: String::new(), at, target: target.clone(), soft }, at);
        }
    }

    fn advance(&mut self) {
        self.ahead.retain(|s| *s > self.cursor);
        while self.ahead.first().is_some_and(|s| *s == self.cursor.saturating_add(1)) {
            self.cursor = self.cursor.saturating_add(1);
            self.ahead.pop_first();
        }
    }

    fn add(&mut self, record: &PurgeRecord, learned: Time) {
        let (map, key) = match &record.target {
            Target::Url(url) => (&mut self.urls, url),
            Target::Tag(tag) => (&mut self.tags, tag),
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
    pub fn judge(&self, url: &str, tags: &[String], sent_at: Time, now: Time) -> Option<Effect> {
        let known = self.effect(url, tags, sent_at);
        if known.is_some() {
            return known;
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
    pub fn purged(&self, meta: &crate::meta::Meta, now: Time) -> crate::engine::Purged {
        use crate::engine::Purged;
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

fn is_spent(at: Time, now: Time, max_entry_lifetime_ms: Time) -> bool {
    at.saturating_add(max_entry_lifetime_ms) < now
}
