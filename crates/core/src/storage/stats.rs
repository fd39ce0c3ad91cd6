//! Per-ruleset counters kept by one isolate since it started.

use std::collections::BTreeMap;

use crate::http::Time;

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

/// Counts for one ruleset.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub hits: u64,
    pub misses: u64,
    pub stale: u64,
    pub revalidated304: u64,
    pub revalidated200: u64,
    pub bypass: u64,
    pub synthetic: u64,
    /// Bytes of body sent from the cache (hits and stale).
    pub bytes: u64,
}

/// The isolate's counters, keyed by ruleset (`(default)` for unclassified requests).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Stats {
    pub since: Time,
    pub rulesets: BTreeMap<String, Counters>,
}

/// The name statistics use for unclassified requests.
pub const DEFAULT_RULESET: &str = "(default)";

impl Stats {
    pub fn new(since: Time) -> Self {
        Self { since, rulesets: BTreeMap::new() }
    }

    /// Counts one answered request.
    pub fn record(&mut self, ruleset: Option<&str>, outcome: Outcome, cached_bytes: u64) {
        let name = ruleset.unwrap_or(DEFAULT_RULESET);
        let c = match self.rulesets.get_mut(name) {
            Some(c) => c,
            None => self.rulesets.entry(name.to_string()).or_default(),
        };
        match outcome {
            Outcome::Hit => c.hits += 1,
            Outcome::StaleServed => c.stale += 1,
            Outcome::Miss => c.misses += 1,
            Outcome::Revalidated304 => c.revalidated304 += 1,
            Outcome::Revalidated200 => c.revalidated200 += 1,
            Outcome::Bypass => c.bypass += 1,
            Outcome::Synthetic => c.synthetic += 1,
        }
        c.bytes = c.bytes.saturating_add(cached_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_ruleset_and_outcome() {
        let mut s = Stats::new(5);
        s.record(Some("plone.resource"), Outcome::Hit, 100);
        s.record(Some("plone.resource"), Outcome::Hit, 50);
        s.record(None, Outcome::Miss, 0);
        s.record(Some("plone.resource"), Outcome::Revalidated304, 10);
        let r = &s.rulesets["plone.resource"];
        assert_eq!((r.hits, r.revalidated304, r.bytes), (2, 1, 160));
        assert_eq!(s.rulesets[DEFAULT_RULESET].misses, 1);
    }
}
