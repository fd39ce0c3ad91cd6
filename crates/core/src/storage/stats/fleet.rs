//! Statistics across the fleet: each isolate flushes what it counted since its last flush
//! ([`FlushClock`]: at most once per interval, piggybacked on a request it answers) into its
//! location's shard ([`LocationShard`], one Durable Object per location), which forwards the
//! sum of its isolates' flushes to the global roll-up ([`Rollup`], one Durable Object) at most
//! once per interval, again on the back of a flush it takes. No timer anywhere: an isolate
//! with no requests has nothing new to say.
//!
//! Load: a location's shard takes one flush per active isolate per interval, the roll-up one
//! report per active location per interval; a shard holding figures it could not forward yet
//! forwards them when they are due even if no flush comes ([`LocationShard::forward_due_at`]:
//! its Durable Object's alarm, one per location). A shard with many isolates lengthens its isolates'
//! interval (its answer to each flush advises one: [`LocationShard::advised_interval`]) so
//! that it takes at most [`SHARD_FLUSHES_PER_S`] whatever their number, up to
//! [`MAX_ADVISED_INTERVAL_MS`]; `make bench-fleet-sim` measures the load and the staleness at
//! 1k, 10k and 100k isolates. Staleness: a request is in the roll-up at most an isolate's
//! interval plus a shard's (and the wait for the next request of its isolate and location)
//! after it was answered.
//!
//! Exactly once: every flush carries its sender's name and a sequence number; a shard counts
//! a flush once however often it is delivered (a flush whose answer was lost is sent again
//! with the same number), and the roll-up does the same for a location's reports. A failed
//! flush is sent again unchanged, under its number, before anything newer: nothing is lost
//! while its sender lives, nothing is counted twice.
//!
//! Purge receipts ride along: each flush carries the isolate's ledger cursor; the shard names
//! the location's cursor (the lowest of its active isolates'), and the roll-up keeps when each
//! location's cursor passed each sequence number (`purge::receipt` reads it).

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::{Counters, Figures, MinuteCounts, Stats};
use crate::http::Time;

/// How often an isolate flushes, and a shard forwards, by default.
pub const DEFAULT_INTERVAL_MS: Time = 10_000;
/// The shortest and longest interval a deployment may set (`STATS_FLUSH_MS`).
pub const INTERVAL_RANGE_MS: (Time, Time) = (500, 60_000);
/// A flush not answered in this long is taken as failed (and merged back).
pub const FLUSH_GIVE_UP_MS: Time = 10_000;
/// Isolates a shard remembers (for exactly-once and the location's cursor); the least recently
/// heard from is forgotten first.
pub const MAX_ISOLATES_PER_LOCATION: usize = 20_000;
/// Locations the roll-up keeps apart.
pub const MAX_LOCATIONS: usize = 1_024;
/// Cursor advances the roll-up keeps per location (the newest).
pub const MAX_ADVANCES: usize = 64;
/// A location name's longest form (a colo code is three letters).
pub const MAX_LOCATION_LEN: usize = 64;

/// The flush interval a setting asks for, within [`INTERVAL_RANGE_MS`]; the default when
/// absent or not a number.
pub fn interval_from_setting(setting: Option<&str>) -> Time {
    setting
        .and_then(|s| s.trim().parse::<Time>().ok())
        .map_or(DEFAULT_INTERVAL_MS, |ms| ms.clamp(INTERVAL_RANGE_MS.0, INTERVAL_RANGE_MS.1))
}

/// The flushes per second a location's shard asks for at most (a Durable Object takes about
/// 1,000 requests a second; the rest is headroom).
pub const SHARD_FLUSHES_PER_S: u64 = 250;
/// The longest interval a shard advises.
pub const MAX_ADVISED_INTERVAL_MS: Time = 300_000;

/// A location's name as reports carry it: up to [`MAX_LOCATION_LEN`] of ASCII letters, digits,
/// `-`, `_` and `.`; anything else is `unknown`.
pub fn location_name(raw: Option<&str>) -> String {
    match raw.map(str::trim) {
        Some(s)
            if !s.is_empty()
                && s.len() <= MAX_LOCATION_LEN
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) =>
        {
            s.to_string()
        }
        _ => "unknown".to_string(),
    }
}

/// Where a purge-ledger copy stands: its epoch and the sequence number it has every record up to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerCursor {
    pub epoch: String,
    pub seq: u64,
}

/// When an isolate flushes: the rule, its state, and its flush numbers.
#[derive(Debug, Clone)]
pub struct FlushClock {
    last: Time,
    in_flight: Option<Time>,
    seq: u64,
    /// A flush that failed, sent again before anything newer.
    retry: Option<FlushReport>,
    /// The interval the location's shard last advised.
    advised: Option<Time>,
}

/// What an isolate sends its location's shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlushReport {
    /// The isolate's name (random, chosen when it starts).
    pub isolate: String,
    /// Its flush number, from 1; a flush sent again keeps its number.
    pub seq: u64,
    pub location: String,
    pub sent_at: Time,
    pub figures: Figures,
    /// Its purge-ledger copy's cursor, when it has read the ledger.
    pub ledger: Option<LedgerCursor>,
}

impl FlushClock {
    pub fn new(started: Time) -> Self {
        FlushClock { last: started, in_flight: None, seq: 0, retry: None, advised: None }
    }

    /// Whether a flush is due at `now`: something to send (pending figures or a failed flush),
    /// no flush in flight (or the one in flight given up), and the last one `interval` old.
    /// `interval` is the deployment's; a longer one the shard advised wins.
    pub fn due(&self, pending: &Figures, interval: Time, now: Time) -> bool {
        let free = self.in_flight.is_none_or(|sent| now.saturating_sub(sent) >= FLUSH_GIVE_UP_MS);
        let interval = interval.max(self.advised.unwrap_or(0));
        free && (self.retry.is_some() || !pending.is_empty()) && now.saturating_sub(self.last) >= interval
    }

    /// Takes the interval the shard advised in its answer (bounded by
    /// [`MAX_ADVISED_INTERVAL_MS`]).
    pub fn advise(&mut self, interval: Time) {
        self.advised = Some(interval.min(MAX_ADVISED_INTERVAL_MS));
    }

    /// Flushes taken so far.
    pub fn flushes(&self) -> u64 {
        self.seq
    }
}

impl Stats {
    /// Takes what is pending as the next flush, when one is due (see [`FlushClock::due`]).
    pub fn take_flush(
        &mut self,
        isolate: &str,
        location: &str,
        ledger: Option<LedgerCursor>,
        interval: Time,
        now: Time,
    ) -> Option<FlushReport> {
        if !self.flush.due(&self.pending, interval, now) {
            return None;
        }
        self.flush.in_flight = Some(now);
        self.flush.last = now;
        if let Some(mut again) = self.flush.retry.take() {
            again.ledger = ledger.or(again.ledger);
            return Some(again);
        }
        self.flush.seq += 1;
        Some(FlushReport {
            isolate: isolate.to_string(),
            seq: self.flush.seq,
            location: location.to_string(),
            sent_at: now,
            figures: std::mem::take(&mut self.pending),
            ledger,
        })
    }

    /// The shard took the flush (or had taken it before).
    pub fn flushed(&mut self, _report: &FlushReport) {
        self.flush.in_flight = None;
    }

    /// The flush failed (or its answer was lost): it is sent again, unchanged and under its
    /// number, with the next flush that is due; the shard counts it once whichever arrives.
    pub fn flush_failed(&mut self, report: FlushReport) {
        self.flush.in_flight = None;
        self.flush.retry = Some(report);
    }
}

/// What the shard remembers of one isolate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IsolateSeen {
    pub seq: u64,
    pub at: Time,
    pub ledger: Option<LedgerCursor>,
}

/// Whether a shard or the roll-up counted a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Counted,
    /// Counted before (the same sender and number): not counted again.
    Duplicate,
}

/// One location's shard: the isolates' flushes summed until forwarded to the roll-up.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationShard {
    pub location: String,
    /// Counted, not yet forwarded.
    pub unsent: Figures,
    /// Kept in memory only: a shard that restarts relearns its isolates from their next
    /// flushes (one interval).
    #[serde(skip)]
    pub isolates: BTreeMap<String, IsolateSeen>,
    pub last_forward: Time,
    pub forward_seq: u64,
    pub forward_in_flight: Option<Time>,
    /// A report that failed, sent again before anything newer.
    pub forward_retry: Option<LocationReport>,
    /// The interval it advised last (0: the deployment's).
    pub advised: Time,
}

/// What a location's shard sends the roll-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationReport {
    pub location: String,
    pub seq: u64,
    pub sent_at: Time,
    pub figures: Figures,
    /// The location's ledger cursor: the lowest of its active isolates' in the newest epoch.
    pub ledger: Option<LedgerCursor>,
    /// Isolates heard from within the active window.
    pub isolates: u64,
}

impl LocationShard {
    pub fn new(location: &str, now: Time) -> Self {
        LocationShard { location: location.to_string(), last_forward: now, ..Default::default() }
    }

    /// Counts an isolate's flush, once.
    pub fn apply(&mut self, report: &FlushReport, now: Time) -> Applied {
        if let Some(seen) = self.isolates.get_mut(&report.isolate) {
            if report.seq <= seen.seq {
                seen.at = seen.at.max(now);
                return Applied::Duplicate;
            }
        }
        self.unsent.merge(&report.figures);
        self.isolates.insert(
            report.isolate.clone(),
            IsolateSeen { seq: report.seq, at: now, ledger: report.ledger.clone() },
        );
        while self.isolates.len() > MAX_ISOLATES_PER_LOCATION {
            let Some(oldest) = self.isolates.iter().min_by_key(|(_, s)| s.at).map(|(k, _)| k.clone()) else {
                break;
            };
            self.isolates.remove(&oldest);
        }
        Applied::Counted
    }

    /// The interval this shard asks its isolates to flush at, from `base` (the deployment's):
    /// long enough that the isolates heard from in the last three advised intervals send at
    /// most [`SHARD_FLUSHES_PER_S`], at most [`MAX_ADVISED_INTERVAL_MS`]. Counted when a flush
    /// is applied, and sent in the answer to it.
    pub fn advised_interval(&mut self, base: Time, now: Time) -> Time {
        let window = 3 * self.advised.max(base);
        let active = self.isolates.values().filter(|s| now.saturating_sub(s.at) <= window).count() as u64;
        let needed = active.saturating_mul(1000) / SHARD_FLUSHES_PER_S;
        self.advised = needed.clamp(base, MAX_ADVISED_INTERVAL_MS.max(base));
        self.advised
    }

    /// When this shard's unsent figures (or a report to send again) are due at the roll-up:
    /// the shard forwards then even if no flush arrives, so that a location gone quiet does not
    /// keep its last interval's figures. `None`: nothing to send, or a report in flight (its
    /// answer asks again).
    pub fn forward_due_at(&self, interval: Time) -> Option<Time> {
        (self.forward_in_flight.is_none() && (!self.unsent.is_empty() || self.forward_retry.is_some()))
            .then(|| self.last_forward.saturating_add(interval.max(1)))
    }

    /// The location's ledger cursor at `now`: the lowest cursor of the isolates heard from in
    /// the last `window` ms, in the epoch of the most recent report (an active isolate in
    /// another epoch, or without a cursor, holds it at 0: it cannot be said to have applied
    /// anything of this epoch).
    pub fn cursor(&self, window: Time, now: Time) -> Option<LedgerCursor> {
        let active: Vec<&IsolateSeen> =
            self.isolates.values().filter(|s| now.saturating_sub(s.at) <= window).collect();
        let newest = active.iter().filter(|s| s.ledger.is_some()).max_by_key(|s| s.at)?;
        let epoch = newest.ledger.as_ref()?.epoch.clone();
        let seq = active
            .iter()
            .map(|s| match &s.ledger {
                Some(c) if c.epoch == epoch => c.seq,
                _ => 0,
            })
            .min()
            .unwrap_or(0);
        Some(LedgerCursor { epoch, seq })
    }

    /// Takes a report for the roll-up when one is due: something to say (figures, or isolates
    /// whose cursor matters) and `interval` since the last one, none in flight.
    pub fn take_forward(&mut self, interval: Time, now: Time) -> Option<LocationReport> {
        let free = self.forward_in_flight.is_none_or(|sent| now.saturating_sub(sent) >= FLUSH_GIVE_UP_MS);
        if !free || now.saturating_sub(self.last_forward) < interval {
            return None;
        }
        let window = 3 * interval.max(self.advised);
        let active = self.isolates.values().filter(|s| now.saturating_sub(s.at) <= window).count() as u64;
        if let Some(mut again) = self.forward_retry.take() {
            self.forward_in_flight = Some(now);
            self.last_forward = now;
            again.ledger = self.cursor(window, now).or(again.ledger);
            return Some(again);
        }
        if self.unsent.is_empty() && active == 0 {
            return None;
        }
        self.forward_seq += 1;
        self.forward_in_flight = Some(now);
        self.last_forward = now;
        Some(LocationReport {
            location: self.location.clone(),
            seq: self.forward_seq,
            sent_at: now,
            figures: std::mem::take(&mut self.unsent),
            ledger: self.cursor(window, now),
            isolates: active,
        })
    }

    /// The roll-up took the report.
    pub fn forwarded(&mut self, _report: &LocationReport) {
        self.forward_in_flight = None;
    }

    /// The report failed (or its answer was lost): sent again, unchanged, next time.
    pub fn forward_failed(&mut self, report: LocationReport) {
        self.forward_in_flight = None;
        self.forward_retry = Some(report);
    }
}

/// What the roll-up keeps of one location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LocationState {
    pub seq: u64,
    pub first_report: Time,
    pub last_report: Time,
    /// Isolates active at its last report.
    pub isolates: u64,
    /// Everything it reported, summed over rulesets.
    pub totals: Counters,
    pub ledger: Option<LedgerCursor>,
    /// When its cursor first reached each value it reported (newest last, [`MAX_ADVANCES`]).
    pub advances: VecDeque<(u64, Time)>,
    /// The epoch of `advances`.
    pub advances_epoch: String,
}

/// The fleet's figures: every location's reports summed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Rollup {
    pub since: Time,
    pub figures: Figures,
    pub locations: BTreeMap<String, LocationState>,
}

impl Rollup {
    pub fn new(now: Time) -> Self {
        Rollup { since: now, ..Default::default() }
    }

    /// Counts a location's report, once. Beyond [`MAX_LOCATIONS`] the least recently heard
    /// from location is forgotten (its figures stay in the totals).
    pub fn apply(&mut self, report: &LocationReport, now: Time) -> Applied {
        if let Some(state) = self.locations.get(&report.location) {
            if report.seq <= state.seq {
                return Applied::Duplicate;
            }
        }
        self.figures.merge(&report.figures);
        let state = match self.locations.get_mut(&report.location) {
            Some(s) => s,
            None => self
                .locations
                .entry(report.location.clone())
                .or_insert_with(|| LocationState { first_report: now, ..Default::default() }),
        };
        state.seq = report.seq;
        state.last_report = now;
        state.isolates = report.isolates;
        state.totals.merge(&report.figures.total());
        if let Some(cursor) = &report.ledger {
            if cursor.epoch != state.advances_epoch {
                state.advances.clear();
                state.advances_epoch = cursor.epoch.clone();
            }
            if state.advances.back().is_none_or(|(seq, _)| cursor.seq > *seq) {
                state.advances.push_back((cursor.seq, now));
                while state.advances.len() > MAX_ADVANCES {
                    state.advances.pop_front();
                }
            }
            state.ledger = Some(cursor.clone());
        }
        while self.locations.len() > MAX_LOCATIONS {
            let Some(oldest) =
                self.locations.iter().min_by_key(|(_, s)| s.last_report).map(|(k, _)| k.clone())
            else {
                break;
            };
            self.locations.remove(&oldest);
        }
        Applied::Counted
    }

    /// The minute buckets, oldest first.
    pub fn minutes(&self) -> impl Iterator<Item = (&u64, &MinuteCounts)> {
        self.figures.minutes.iter()
    }

    /// The locations heard from within `window` ms of `now`.
    pub fn active_locations(
        &self,
        window: Time,
        now: Time,
    ) -> impl Iterator<Item = (&String, &LocationState)> {
        self.locations.iter().filter(move |(_, s)| now.saturating_sub(s.last_report) <= window)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Outcome, Served};
    use super::*;

    fn hit(f: &mut Stats, now: Time) {
        f.record(
            &Served {
                ruleset: Some("r"),
                outcome: Outcome::Hit,
                status: 200,
                not_stored: None,
                bytes_from_cache: 10,
                bytes_from_origin: 0,
                origin_ms: None,
            },
            now,
        );
    }

    #[test]
    fn an_isolate_flushes_at_most_once_per_interval_and_only_with_something_to_say() {
        let mut s = Stats::new(0);
        assert!(s.take_flush("i", "AMS", None, 1_000, 5_000).is_none(), "nothing counted");
        hit(&mut s, 100);
        assert!(s.take_flush("i", "AMS", None, 1_000, 900).is_none(), "not an interval yet");
        let first = s.take_flush("i", "AMS", None, 1_000, 1_000).unwrap_or_else(|| panic!("due"));
        assert_eq!(first.seq, 1);
        hit(&mut s, 1_100);
        assert!(s.take_flush("i", "AMS", None, 1_000, 2_500).is_none(), "one in flight");
        s.flushed(&first);
        assert!(s.take_flush("i", "AMS", None, 1_000, 1_500).is_none(), "an interval since the last");
        let second = s.take_flush("i", "AMS", None, 1_000, 2_500).unwrap_or_else(|| panic!("due"));
        assert_eq!((second.seq, second.figures.total().hits), (2, 1));
    }

    #[test]
    fn a_failed_flush_is_pending_again_and_a_repeated_one_is_counted_once() {
        let mut s = Stats::new(0);
        hit(&mut s, 0);
        let report = s.take_flush("i", "AMS", None, 1_000, 1_000).unwrap_or_else(|| panic!("due"));
        let mut shard = LocationShard::new("AMS", 0);
        assert_eq!(shard.apply(&report, 1_000), Applied::Counted);
        assert_eq!(shard.apply(&report, 1_001), Applied::Duplicate);
        assert_eq!(shard.unsent.total().hits, 1);
        s.flush_failed(report.clone());
        hit(&mut s, 1_500);
        let again = s.take_flush("i", "AMS", None, 1_000, 2_000).unwrap_or_else(|| panic!("due"));
        assert_eq!(again, report, "the failed flush is sent again, unchanged");
        assert_eq!(shard.apply(&again, 2_000), Applied::Duplicate, "and not counted twice");
        s.flushed(&again);
        let next = s.take_flush("i", "AMS", None, 1_000, 3_000).unwrap_or_else(|| panic!("due"));
        assert_eq!((next.seq, next.figures.total().hits), (2, 1), "what came after goes next");
        assert_eq!(shard.apply(&next, 3_000), Applied::Counted);
        assert_eq!(shard.unsent.total().hits, 2);
    }

    #[test]
    fn a_quiet_shard_names_when_its_last_figures_are_due() {
        let mut s = Stats::new(0);
        let mut shard = LocationShard::new("AMS", 0);
        assert_eq!(shard.forward_due_at(1_000), None, "nothing to send");
        hit(&mut s, 0);
        let first = s.take_flush("i", "AMS", None, 500, 1_000).unwrap_or_else(|| panic!("due"));
        s.flushed(&first);
        shard.apply(&first, 1_000);
        let report = shard.take_forward(1_000, 1_000).unwrap_or_else(|| panic!("due"));
        shard.forwarded(&report);
        hit(&mut s, 1_200);
        let second = s.take_flush("i", "AMS", None, 500, 1_500).unwrap_or_else(|| panic!("due"));
        shard.apply(&second, 1_500);
        assert!(shard.take_forward(1_000, 1_500).is_none(), "within an interval of the last report");
        assert_eq!(shard.forward_due_at(1_000), Some(2_000), "its figures are due then, flush or not");
        let late = shard.take_forward(1_000, 2_000).unwrap_or_else(|| panic!("due"));
        assert_eq!(late.figures.total().hits, 1);
        shard.forwarded(&late);
        assert_eq!(shard.forward_due_at(1_000), None);
    }

    #[test]
    fn the_rollup_equals_the_sum_of_every_isolate_across_locations() {
        let mut rollup = Rollup::new(0);
        let mut shards = [LocationShard::new("AMS", 0), LocationShard::new("FRA", 0)];
        let mut isolates: Vec<Stats> = (0..6).map(|_| Stats::new(0)).collect();
        let mut served = 0u64;
        for t in (0..30_000u64).step_by(250) {
            for (i, iso) in isolates.iter_mut().enumerate() {
                if (t / 250 + i as u64).is_multiple_of(3) {
                    hit(iso, t);
                    served += 1;
                }
                let shard = &mut shards[i % 2];
                if let Some(r) = iso.take_flush(&format!("i{i}"), &shard.location.clone(), None, 1_000, t) {
                    shard.apply(&r, t);
                    iso.flushed(&r);
                }
            }
            for shard in shards.iter_mut() {
                if let Some(r) = shard.take_forward(2_000, t) {
                    rollup.apply(&r, t);
                    shard.forwarded(&r);
                }
            }
        }
        // Everything flushed after the traffic: pending → shard → roll-up.
        for (i, iso) in isolates.iter_mut().enumerate() {
            if let Some(r) = iso.take_flush(&format!("i{i}"), "x", None, 1_000, 40_000) {
                shards[i % 2].apply(&r, 40_000);
            }
        }
        for shard in shards.iter_mut() {
            if let Some(r) = shard.take_forward(2_000, 40_000) {
                rollup.apply(&r, 40_000);
            }
        }
        assert_eq!(rollup.figures.total().hits, served);
        assert_eq!(rollup.locations["AMS"].totals.hits + rollup.locations["FRA"].totals.hits, served);
    }

    #[test]
    fn a_location_cursor_is_the_lowest_of_its_active_isolates() {
        let mut shard = LocationShard::new("AMS", 0);
        let report = |isolate: &str, seq: u64, cursor: u64| FlushReport {
            isolate: isolate.into(),
            seq,
            location: "AMS".into(),
            sent_at: 0,
            figures: Figures::default(),
            ledger: Some(LedgerCursor { epoch: "e1".into(), seq: cursor }),
        };
        shard.apply(&report("a", 1, 10), 0);
        shard.apply(&report("b", 1, 7), 1_000);
        assert_eq!(shard.cursor(30_000, 2_000).map(|c| c.seq), Some(7));
        shard.apply(&report("a", 2, 12), 40_000);
        assert_eq!(shard.cursor(30_000, 40_000).map(|c| c.seq), Some(12), "b went quiet: no longer counted");
    }

    #[test]
    fn a_crowded_shard_lengthens_its_isolates_interval_to_keep_its_load() {
        let mut shard = LocationShard::new("AMS", 0);
        let flush = |i: usize| FlushReport {
            isolate: format!("i{i}"),
            seq: 1,
            location: "AMS".into(),
            sent_at: 0,
            figures: Figures::default(),
            ledger: None,
        };
        for i in 0..100 {
            shard.apply(&flush(i), 1_000);
        }
        assert_eq!(shard.advised_interval(10_000, 1_000), 10_000, "100 isolates at 10 s: 10 a second");
        for i in 100..10_000 {
            shard.apply(&flush(i), 2_000);
        }
        let advised = shard.advised_interval(10_000, 2_000);
        assert_eq!(advised, 40_000, "10,000 isolates at 250 flushes a second");
        let mut stats = Stats::new(0);
        stats.flush.advise(advised);
        hit(&mut stats, 0);
        assert!(stats.take_flush("i", "AMS", None, 10_000, 20_000).is_none(), "the advised interval holds");
        assert!(stats.take_flush("i", "AMS", None, 10_000, 40_000).is_some());
        stats.flush.advise(u64::MAX);
        hit(&mut stats, 40_000);
        assert!(
            stats.take_flush("i", "AMS", None, 10_000, 40_000 + MAX_ADVISED_INTERVAL_MS).is_some(),
            "bounded"
        );
    }

    #[test]
    fn settings_and_location_names_are_bounded() {
        assert_eq!(interval_from_setting(Some("1")), INTERVAL_RANGE_MS.0);
        assert_eq!(interval_from_setting(Some("99999999")), INTERVAL_RANGE_MS.1);
        assert_eq!(interval_from_setting(Some("x")), DEFAULT_INTERVAL_MS);
        assert_eq!(location_name(Some("AMS")), "AMS");
        assert_eq!(location_name(Some("a\"} evil")), "unknown");
        assert_eq!(location_name(Some(&"x".repeat(65))), "unknown");
    }
}
