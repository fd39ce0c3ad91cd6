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
    /// What origins' responses to unsafe requests invalidated.
    pub invalidations: Invalidations,
}

/// Counts of the invalidations carried by origins' responses to unsafe requests (RFC 9111
/// §4.4 and RFC 9875 `Cache-Group-Invalidation`), each recorded in the purge ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
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

/// The name statistics use for unclassified requests.
pub const DEFAULT_RULESET: &str = "(default)";

impl Stats {
    pub fn new(since: Time) -> Self {
        Self { since, rulesets: BTreeMap::new(), invalidations: Invalidations::default() }
    }

    /// Counts one response's invalidations: `urls` URL targets, `groups` group targets, and
    /// whether it invalidated its whole site.
    pub fn record_invalidation(&mut self, urls: usize, groups: usize, whole_site: bool) {
        let i = &mut self.invalidations;
        i.responses = i.responses.saturating_add(1);
        i.urls = i.urls.saturating_add(urls as u64);
        i.groups = i.groups.saturating_add(groups as u64);
        i.whole_site = i.whole_site.saturating_add(u64::from(whole_site));
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
