//! Origin latency as a bounded, mergeable sketch: a histogram over fixed log-spaced buckets
//! (four to each power of two, from 1 ms to 2^16 ms, and one above), so two sketches merge by
//! adding their counts, any quantile is read back within one bucket (its upper bound is at most
//! 19 % above the true value), and the size never depends on how many values were counted.
//! The same buckets are the `le` bounds of the OpenMetrics histogram.

use serde::{Deserialize, Serialize};

/// Buckets with a finite upper bound: bucket `i` holds values up to `2^(i/4)` ms.
pub const FINITE_BUCKETS: usize = 65;
/// Every bucket: the finite ones and the one above the last bound.
pub const BUCKETS: usize = FINITE_BUCKETS + 1;

/// The upper bound of bucket `i` in milliseconds (`None`: the bucket above every bound).
pub fn upper_bound_ms(i: usize) -> Option<f64> {
    (i < FINITE_BUCKETS).then(|| 2f64.powf(i as f64 / 4.0))
}

/// The bucket a value of `ms` milliseconds falls in: the first whose upper bound is at least
/// `ms`.
pub fn bucket_of(ms: u64) -> usize {
    if ms <= 1 {
        return 0;
    }
    // 4·log2(ms), rounded up, found from the integer log and a check of the three bounds
    // inside that power of two (no rounding of a float decides it alone).
    let floor_log2 = 63 - ms.leading_zeros() as usize;
    let mut i = floor_log2 * 4;
    while i < FINITE_BUCKETS && upper_bound_ms(i).is_some_and(|b| b < ms as f64) {
        i += 1;
    }
    i.min(FINITE_BUCKETS)
}

/// Counts of values per bucket, and their sum (for the OpenMetrics `_sum`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LatencySketch {
    /// One count per bucket ([`BUCKETS`]); a shorter list (as sent) means zeros after it.
    counts: Vec<u64>,
    /// The sum of the values counted, in milliseconds.
    pub sum_ms: u64,
}

impl Default for LatencySketch {
    fn default() -> Self {
        LatencySketch { counts: vec![0; BUCKETS], sum_ms: 0 }
    }
}

impl LatencySketch {
    /// Counts one value.
    pub fn add(&mut self, ms: u64) {
        self.normalise();
        if let Some(c) = self.counts.get_mut(bucket_of(ms)) {
            *c = c.saturating_add(1);
        }
        self.sum_ms = self.sum_ms.saturating_add(ms);
    }

    /// Adds another sketch's counts to this one.
    pub fn merge(&mut self, other: &LatencySketch) {
        self.normalise();
        let mut normalised;
        let other = if other.counts.len() > BUCKETS {
            normalised = other.clone();
            normalised.normalise();
            &normalised
        } else {
            other
        };
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine = mine.saturating_add(*theirs);
        }
        self.sum_ms = self.sum_ms.saturating_add(other.sum_ms);
    }

    /// How many values were counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().fold(0u64, |t, c| t.saturating_add(*c))
    }

    /// The counts per bucket, [`BUCKETS`] of them.
    pub fn counts(&self) -> impl Iterator<Item = u64> + '_ {
        self.counts.iter().copied().chain(std::iter::repeat(0)).take(BUCKETS)
    }

    /// The `q` quantile (0 < q ≤ 1) as the upper bound of the bucket it falls in, in
    /// milliseconds: never below the true value, at most 19 % above it. `None` with no values;
    /// `f64::INFINITY` when it lies above the last bound.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.counts().enumerate() {
            seen = seen.saturating_add(c);
            if seen >= rank {
                return Some(upper_bound_ms(i).unwrap_or(f64::INFINITY));
            }
        }
        Some(f64::INFINITY)
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// Exactly [`BUCKETS`] counts, whatever was deserialised (a longer list is cut, its excess
    /// counted in the last bucket; a shorter one padded with zeros).
    fn normalise(&mut self) {
        if self.counts.len() > BUCKETS {
            let excess = self.counts.split_off(BUCKETS).into_iter().fold(0u64, |t, c| t.saturating_add(c));
            if let Some(last) = self.counts.last_mut() {
                *last = last.saturating_add(excess);
            }
        }
        self.counts.resize(BUCKETS, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_each_value_lies_under_its_bound() {
        for ms in [0u64, 1, 2, 3, 5, 17, 100, 999, 1000, 1001, 65_535, 65_536] {
            let i = bucket_of(ms);
            assert!(upper_bound_ms(i).is_none_or(|b| (ms as f64) <= b), "{ms} in {i}");
            if i > 0 {
                assert!(
                    upper_bound_ms(i - 1).is_some_and(|b| (ms as f64) > b),
                    "{ms} belongs lower than {i}"
                );
            }
        }
        assert_eq!(bucket_of(u64::MAX), FINITE_BUCKETS);
    }

    #[test]
    fn quantiles_are_within_one_bucket_above_the_true_value() {
        let mut s = LatencySketch::default();
        for ms in 1..=1000u64 {
            s.add(ms);
        }
        for (q, truth) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = s.quantile_ms(q).unwrap_or(0.0);
            assert!(got >= truth && got <= truth * 1.19 + 1.0, "p{q}: {got} for {truth}");
        }
        assert_eq!(s.count(), 1000);
        assert_eq!(s.sum_ms, 500_500);
    }

    #[test]
    fn merging_equals_counting_everything_in_one() {
        let (mut a, mut b, mut both) =
            (LatencySketch::default(), LatencySketch::default(), LatencySketch::default());
        for ms in [3u64, 40, 41, 700] {
            a.add(ms);
            both.add(ms);
        }
        for ms in [2u64, 9000, 12] {
            b.add(ms);
            both.add(ms);
        }
        a.merge(&b);
        assert_eq!(a, both);
    }

    #[test]
    fn a_malformed_list_is_bounded() {
        let mut s: LatencySketch =
            serde_json::from_str(&format!("{{\"counts\": {:?}, \"sumMs\": 5}}", vec![1u64; 500]))
                .unwrap_or_default();
        s.add(1);
        assert_eq!(s.counts().count(), BUCKETS);
        assert_eq!(s.count(), 501);
    }
}
