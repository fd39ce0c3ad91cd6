//! The statistics: what one answered request adds ([`Served`]), the counters it adds to
//! ([`Figures`]: per ruleset and outcome, bypass and not-stored reasons apart, bytes from the
//! cache and from the origin, origin latency, purges, per-minute buckets), and one isolate's
//! statistics ([`Stats`]: everything since it started, and what it has not yet flushed).
//! `fleet`: flushing, the location shards and the global roll-up; `sketch`: origin latency;
//! `exposition`: the roll-up as OpenMetrics / Prometheus text.
//!
//! Every map here has a bound, so figures merged from any number of isolates (or read back
//! from storage) stay the same size: [`MAX_RULESETS`], [`MAX_REASONS`], [`MINUTES_KEPT`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::Time;

pub mod exposition;
pub mod fleet;
pub mod sketch;

use sketch::LatencySketch;

/// How a request was answered, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Hit,
    StaleServed,
    Miss,
    Revalidated304,
    Revalidated200,
    Bypass,
    Synthetic,
}

/// The name statistics use for unclassified requests.
pub const DEFAULT_RULESET: &str = "(default)";
/// The name the rulesets beyond [`MAX_RULESETS`] are counted under.
pub const OTHER_RULESETS: &str = "(other)";
/// The most rulesets counted apart (a policy declares far fewer).
pub const MAX_RULESETS: usize = 256;
/// The most reasons counted apart in one reason map (the flow has about 20).
pub const MAX_REASONS: usize = 32;
/// The name the reasons beyond [`MAX_REASONS`] are counted under.
pub const OTHER_REASON: &str = "other";
/// Per-minute buckets kept: 24 hours.
pub const MINUTES_KEPT: u64 = 24 * 60;
const MINUTE_MS: Time = 60_000;

/// One answered request, as the statistics see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served<'a> {
    /// The ruleset, `None` when unclassified.
    pub ruleset: Option<&'a str>,
    pub outcome: Outcome,
    /// The status sent to the client.
    pub status: u16,
    /// Why the response was not stored (the `Cache-Status` detail token), when it was not:
    /// for a bypass, why the policy sent it past the cache.
    pub not_stored: Option<&'a str>,
    /// Body bytes sent from storage.
    pub bytes_from_cache: u64,
    /// Body bytes sent from the origin's response.
    pub bytes_from_origin: u64,
    /// How long the origin took to answer (its response head), when it was asked.
    pub origin_ms: Option<u64>,
}

/// What kind of answer a request got, each request counted in exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Hit,
    Stale,
    Miss,
    Revalidated304,
    Revalidated200,
    Bypass,
    /// An answer the edge made itself because the origin failed (a 5xx of its own).
    Error,
    /// Any other answer the edge made itself (page map, refusals, 304 to a client).
    Synthetic,
}

impl Kind {
    pub fn of(outcome: Outcome, status: u16) -> Kind {
        match outcome {
            Outcome::Hit => Kind::Hit,
            Outcome::StaleServed => Kind::Stale,
            Outcome::Miss => Kind::Miss,
            Outcome::Revalidated304 => Kind::Revalidated304,
            Outcome::Revalidated200 => Kind::Revalidated200,
            Outcome::Bypass => Kind::Bypass,
            Outcome::Synthetic if status >= 500 => Kind::Error,
            Outcome::Synthetic => Kind::Synthetic,
        }
    }

    /// Every kind, in the order reports list them.
    pub const ALL: [Kind; 8] = [
        Kind::Hit,
        Kind::Stale,
        Kind::Miss,
        Kind::Revalidated304,
        Kind::Revalidated200,
        Kind::Bypass,
        Kind::Error,
        Kind::Synthetic,
    ];

    /// Its name in reports and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Hit => "hit",
            Kind::Stale => "stale",
            Kind::Miss => "miss",
            Kind::Revalidated304 => "revalidated304",
            Kind::Revalidated200 => "revalidated200",
            Kind::Bypass => "bypass",
            Kind::Error => "error",
            Kind::Synthetic => "synthetic",
        }
    }
}

/// Counts for one ruleset (or a sum of them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Counters {
    pub hits: u64,
    pub stale: u64,
    pub misses: u64,
    pub revalidated304: u64,
    pub revalidated200: u64,
    pub bypass: u64,
    pub errors: u64,
    pub synthetic: u64,
    /// Body bytes sent from storage (hits, stale, revalidated 304s).
    pub bytes_from_cache: u64,
    /// Body bytes sent from origin responses.
    pub bytes_from_origin: u64,
    /// Bypasses by why the policy sent the request past the cache.
    pub bypass_reasons: BTreeMap<String, u64>,
    /// Misses and revalidations whose response was not stored, by why.
    pub not_stored: BTreeMap<String, u64>,
}

fn add_reason(map: &mut BTreeMap<String, u64>, reason: &str, n: u64) {
    let name = if map.contains_key(reason) || map.len() < MAX_REASONS { reason } else { OTHER_REASON };
    let slot = match map.get_mut(name) {
        Some(slot) => slot,
        None => map.entry(name.to_string()).or_default(),
    };
    *slot = slot.saturating_add(n);
}

impl Counters {
    /// The count of one kind.
    pub fn of(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Hit => self.hits,
            Kind::Stale => self.stale,
            Kind::Miss => self.misses,
            Kind::Revalidated304 => self.revalidated304,
            Kind::Revalidated200 => self.revalidated200,
            Kind::Bypass => self.bypass,
            Kind::Error => self.errors,
            Kind::Synthetic => self.synthetic,
        }
    }

    fn slot(&mut self, kind: Kind) -> &mut u64 {
        match kind {
            Kind::Hit => &mut self.hits,
            Kind::Stale => &mut self.stale,
            Kind::Miss => &mut self.misses,
            Kind::Revalidated304 => &mut self.revalidated304,
            Kind::Revalidated200 => &mut self.revalidated200,
            Kind::Bypass => &mut self.bypass,
            Kind::Error => &mut self.errors,
            Kind::Synthetic => &mut self.synthetic,
        }
    }

    /// Every request counted.
    pub fn requests(&self) -> u64 {
        Kind::ALL.iter().fold(0u64, |t, k| t.saturating_add(self.of(*k)))
    }

    fn record(&mut self, kind: Kind, served: &Served) {
        let slot = self.slot(kind);
        *slot = slot.saturating_add(1);
        self.bytes_from_cache = self.bytes_from_cache.saturating_add(served.bytes_from_cache);
        self.bytes_from_origin = self.bytes_from_origin.saturating_add(served.bytes_from_origin);
        if let Some(reason) = served.not_stored {
            match kind {
                Kind::Bypass => add_reason(&mut self.bypass_reasons, reason, 1),
                Kind::Miss | Kind::Revalidated200 => add_reason(&mut self.not_stored, reason, 1),
                _ => {}
            }
        }
    }

    /// Adds another's counts to these.
    pub fn merge(&mut self, other: &Counters) {
        for kind in Kind::ALL {
            let slot = self.slot(kind);
            *slot = slot.saturating_add(other.of(kind));
        }
        self.bytes_from_cache = self.bytes_from_cache.saturating_add(other.bytes_from_cache);
        self.bytes_from_origin = self.bytes_from_origin.saturating_add(other.bytes_from_origin);
        for (reason, n) in &other.bypass_reasons {
            add_reason(&mut self.bypass_reasons, reason, *n);
        }
        for (reason, n) in &other.not_stored {
            add_reason(&mut self.not_stored, reason, *n);
        }
    }
}

/// One minute's counts, over every ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MinuteCounts {
    pub requests: u64,
    /// Answered from storage: hits, stale and revalidated 304s.
    pub from_cache: u64,
    pub misses: u64,
    pub bypass: u64,
    pub errors: u64,
    pub bytes_from_cache: u64,
    pub bytes_from_origin: u64,
}

impl MinuteCounts {
    fn record(&mut self, kind: Kind, served: &Served) {
        self.requests = self.requests.saturating_add(1);
        let slot = match kind {
            Kind::Hit | Kind::Stale | Kind::Revalidated304 => Some(&mut self.from_cache),
            Kind::Miss | Kind::Revalidated200 => Some(&mut self.misses),
            Kind::Bypass => Some(&mut self.bypass),
            Kind::Error => Some(&mut self.errors),
            Kind::Synthetic => None,
        };
        if let Some(slot) = slot {
            *slot = slot.saturating_add(1);
        }
        self.bytes_from_cache = self.bytes_from_cache.saturating_add(served.bytes_from_cache);
        self.bytes_from_origin = self.bytes_from_origin.saturating_add(served.bytes_from_origin);
    }

    pub fn merge(&mut self, other: &MinuteCounts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.from_cache = self.from_cache.saturating_add(other.from_cache);
        self.misses = self.misses.saturating_add(other.misses);
        self.bypass = self.bypass.saturating_add(other.bypass);
        self.errors = self.errors.saturating_add(other.errors);
        self.bytes_from_cache = self.bytes_from_cache.saturating_add(other.bytes_from_cache);
        self.bytes_from_origin = self.bytes_from_origin.saturating_add(other.bytes_from_origin);
    }
}

/// The minute a time falls in (minutes since the Unix epoch).
pub fn minute_of(t: Time) -> u64 {
    t / MINUTE_MS
}

/// Counts of the invalidations carried by origins' responses to unsafe requests (RFC 9111
/// §4.4 and RFC 9875 `Cache-Group-Invalidation`), each recorded in the purge ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Invalidations {
    /// Responses that invalidated something.
    pub responses: u64,
    /// URL targets recorded (the target URI, `Location`, `Content-Location`).
    pub urls: u64,
    /// Group targets recorded.
    pub groups: u64,
    /// Responses that listed more groups than one response may and invalidated their whole
    /// site instead.
    pub whole_site: u64,
}

impl Invalidations {
    pub fn merge(&mut self, other: &Invalidations) {
        self.responses = self.responses.saturating_add(other.responses);
        self.urls = self.urls.saturating_add(other.urls);
        self.groups = self.groups.saturating_add(other.groups);
        self.whole_site = self.whole_site.saturating_add(other.whole_site);
    }

    fn is_empty(&self) -> bool {
        *self == Invalidations::default()
    }
}

/// Counters that merge by adding: one isolate's, a location's, the fleet's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Figures {
    /// By ruleset ([`DEFAULT_RULESET`] for unclassified requests).
    pub rulesets: BTreeMap<String, Counters>,
    /// How long the origin took to answer.
    pub origin_latency: LatencySketch,
    /// Purge requests taken (the PURGE method and the purge API) and carried out.
    pub purges: u64,
    /// What origins' responses to unsafe requests invalidated.
    pub invalidations: Invalidations,
    /// Per minute ([`minute_of`]), the last [`MINUTES_KEPT`] at most.
    pub minutes: BTreeMap<u64, MinuteCounts>,
}

impl Figures {
    /// Counts one answered request at `now`.
    pub fn record(&mut self, served: &Served, now: Time) {
        let kind = Kind::of(served.outcome, served.status);
        self.with_ruleset(served.ruleset.unwrap_or(DEFAULT_RULESET), |c| c.record(kind, served));
        if let Some(ms) = served.origin_ms {
            self.origin_latency.add(ms);
        }
        let minute = minute_of(now);
        let counts = match self.minutes.get_mut(&minute) {
            Some(c) => c,
            None => self.minutes.entry(minute).or_default(),
        };
        counts.record(kind, served);
        self.prune_minutes(minute);
    }

    /// Counts one purge taken.
    pub fn record_purge(&mut self) {
        self.purges = self.purges.saturating_add(1);
    }

    /// Runs `f` on the counters of ruleset `name` (or of [`OTHER_RULESETS`] when
    /// [`MAX_RULESETS`] are counted already); allocates only for a name not seen before.
    fn with_ruleset(&mut self, name: &str, f: impl FnOnce(&mut Counters)) {
        let name = if self.rulesets.contains_key(name) || self.rulesets.len() < MAX_RULESETS {
            name
        } else {
            OTHER_RULESETS
        };
        match self.rulesets.get_mut(name) {
            Some(c) => f(c),
            None => f(self.rulesets.entry(name.to_string()).or_default()),
        }
    }

    /// Adds another's figures to these (the bounds hold whatever `other` holds).
    pub fn merge(&mut self, other: &Figures) {
        for (name, counters) in &other.rulesets {
            self.with_ruleset(name, |c| c.merge(counters));
        }
        self.origin_latency.merge(&other.origin_latency);
        self.purges = self.purges.saturating_add(other.purges);
        self.invalidations.merge(&other.invalidations);
        for (minute, counts) in &other.minutes {
            match self.minutes.get_mut(minute) {
                Some(c) => c.merge(counts),
                None => {
                    self.minutes.insert(*minute, counts.clone());
                }
            }
        }
        if let Some(newest) = self.minutes.keys().next_back().copied() {
            self.prune_minutes(newest);
        }
    }

    /// Drops the minutes more than [`MINUTES_KEPT`] before `newest`.
    fn prune_minutes(&mut self, newest: u64) {
        let keep_from = newest.saturating_sub(MINUTES_KEPT - 1);
        while self.minutes.first_key_value().is_some_and(|(m, _)| *m < keep_from) {
            self.minutes.pop_first();
        }
    }

    /// Every ruleset's counters summed.
    pub fn total(&self) -> Counters {
        let mut total = Counters::default();
        for c in self.rulesets.values() {
            total.merge(c);
        }
        total
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.rulesets.is_empty()
            && self.purges == 0
            && self.invalidations.is_empty()
            && self.origin_latency.is_empty()
            && self.minutes.is_empty()
    }
}

/// One isolate's statistics: everything since its first request, and what it has counted
/// since its last flush to its location ([`fleet::FlushClock`] says when).
#[derive(Debug, Clone)]
pub struct Stats {
    pub since: Time,
    /// Everything this isolate counted.
    pub figures: Figures,
    /// What it has not yet flushed.
    pub pending: Figures,
    /// When its figures are flushed, and its flushes so far.
    pub flush: fleet::FlushClock,
}

impl Stats {
    pub fn new(since: Time) -> Self {
        Self {
            since,
            figures: Figures::default(),
            pending: Figures::default(),
            flush: fleet::FlushClock::new(since),
        }
    }

    /// Counts one answered request.
    pub fn record(&mut self, served: &Served, now: Time) {
        self.figures.record(served, now);
        self.pending.record(served, now);
    }

    /// Counts one purge taken.
    pub fn record_purge(&mut self) {
        self.figures.record_purge();
        self.pending.record_purge();
    }

    /// Counts one response's invalidations: `urls` URL targets, `groups` group targets, and
    /// whether it invalidated its whole site.
    pub fn record_invalidation(&mut self, urls: usize, groups: usize, whole_site: bool) {
        let one = Invalidations {
            responses: 1,
            urls: urls as u64,
            groups: groups as u64,
            whole_site: u64::from(whole_site),
        };
        self.figures.invalidations.merge(&one);
        self.pending.invalidations.merge(&one);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(ruleset: Option<&str>, outcome: Outcome) -> Served<'_> {
        Served {
            ruleset,
            outcome,
            status: 200,
            not_stored: None,
            bytes_from_cache: 0,
            bytes_from_origin: 0,
            origin_ms: None,
        }
    }

    #[test]
    fn counts_by_ruleset_and_outcome() {
        let mut s = Stats::new(5);
        s.record(&Served { bytes_from_cache: 100, ..served(Some("plone.resource"), Outcome::Hit) }, 10);
        s.record(&Served { bytes_from_cache: 50, ..served(Some("plone.resource"), Outcome::Hit) }, 10);
        s.record(&Served { bytes_from_origin: 7, origin_ms: Some(30), ..served(None, Outcome::Miss) }, 10);
        s.record(
            &Served { bytes_from_cache: 10, ..served(Some("plone.resource"), Outcome::Revalidated304) },
            10,
        );
        let r = &s.figures.rulesets["plone.resource"];
        assert_eq!((r.hits, r.revalidated304, r.bytes_from_cache), (2, 1, 160));
        assert_eq!(s.figures.rulesets[DEFAULT_RULESET].misses, 1);
        assert_eq!(s.figures.rulesets[DEFAULT_RULESET].bytes_from_origin, 7);
        assert_eq!(s.figures.origin_latency.count(), 1);
        assert_eq!(s.pending, s.figures);
    }

    #[test]
    fn bypass_reasons_are_counted_apart_from_misses_and_errors_apart_from_other_answers() {
        let mut f = Figures::default();
        let rs = Some("plone.content.itemView");
        f.record(&Served { not_stored: Some("anon-only"), ..served(rs, Outcome::Bypass) }, 0);
        f.record(&Served { not_stored: Some("anon-only"), ..served(rs, Outcome::Bypass) }, 0);
        f.record(&Served { not_stored: Some("set-cookie"), ..served(rs, Outcome::Miss) }, 0);
        f.record(&served(rs, Outcome::Miss), 0);
        f.record(&Served { status: 502, ..served(rs, Outcome::Synthetic) }, 0);
        f.record(&Served { status: 404, ..served(rs, Outcome::Synthetic) }, 0);
        let c = &f.rulesets["plone.content.itemView"];
        assert_eq!((c.bypass, c.misses, c.errors, c.synthetic), (2, 2, 1, 1));
        assert_eq!(c.bypass_reasons.get("anon-only"), Some(&2));
        assert_eq!(c.not_stored.get("set-cookie"), Some(&1));
        assert!(!c.bypass_reasons.contains_key("set-cookie"));
        assert_eq!(c.requests(), 6);
    }

    #[test]
    fn minutes_are_bucketed_and_only_the_last_day_is_kept() {
        let mut f = Figures::default();
        f.record(&served(None, Outcome::Hit), 0);
        f.record(&served(None, Outcome::Miss), 59_999);
        f.record(&served(None, Outcome::Miss), 60_000);
        assert_eq!(f.minutes[&0].requests, 2);
        assert_eq!(f.minutes[&0].from_cache, 1);
        assert_eq!(f.minutes[&1].misses, 1);
        f.record(&served(None, Outcome::Hit), MINUTES_KEPT * 60_000);
        assert!(!f.minutes.contains_key(&0), "a minute more than a day old is dropped");
        assert!(f.minutes.contains_key(&1));
        assert!(f.minutes.len() as u64 <= MINUTES_KEPT);
    }

    #[test]
    fn merged_figures_equal_the_figures_of_every_request_counted_in_one() {
        let requests: Vec<(Option<&str>, Outcome, u64)> = vec![
            (Some("a"), Outcome::Hit, 1_000),
            (Some("b"), Outcome::Miss, 2_000),
            (None, Outcome::Bypass, 61_000),
            (Some("a"), Outcome::StaleServed, 125_000),
        ];
        let (mut one, mut left, mut right) = (Figures::default(), Figures::default(), Figures::default());
        for (i, (rs, outcome, at)) in requests.iter().enumerate() {
            let s = Served { origin_ms: Some(i as u64 * 10), bytes_from_cache: 3, ..served(*rs, *outcome) };
            one.record(&s, *at);
            if i % 2 == 0 { &mut left } else { &mut right }.record(&s, *at);
        }
        left.merge(&right);
        assert_eq!(left, one);
    }

    #[test]
    fn ruleset_and_reason_maps_are_bounded_whatever_is_merged() {
        let mut f = Figures::default();
        for i in 0..(MAX_RULESETS + 50) {
            let name = format!("r{i}");
            let reason = format!("why{i}");
            f.record(&Served { not_stored: Some(&reason), ..served(Some(&name), Outcome::Bypass) }, 0);
            f.record(&Served { not_stored: Some(&reason), ..served(Some("one"), Outcome::Bypass) }, 0);
        }
        assert!(f.rulesets.len() <= MAX_RULESETS + 1);
        assert!(f.rulesets["one"].bypass_reasons.len() <= MAX_REASONS + 1);
        assert_eq!(f.total().bypass, 2 * (MAX_RULESETS as u64 + 50), "nothing is lost, only grouped");
        let mut g = Figures::default();
        g.merge(&f);
        g.merge(&f);
        assert!(g.rulesets.len() <= MAX_RULESETS + 1);
        assert_eq!(g.total().bypass, 4 * (MAX_RULESETS as u64 + 50));
    }
}
