//! How pushed policy versions are numbered and listed. The worker keeps the bundles and the
//! list in KV; the rules are here.

use serde::{Deserialize, Serialize};

use crate::http::Time;

/// How many versions the history lists (and keeps for rollback).
pub const MAX_HISTORY: usize = 50;

/// One pushed version, as the history lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItem {
    pub version: u64,
    pub name: String,
    pub pushed_at: Time,
}

/// The version a new push gets: versions only grow, above every pushed one and above the
/// active one (which may be the bundled profile's, or a rolled-back older version).
pub fn next_version(history: &[HistoryItem], active: u64) -> u64 {
    history.iter().map(|i| i.version).max().unwrap_or(0).max(active).saturating_add(1)
}

/// Records a push at the front of the history, which keeps the newest [`MAX_HISTORY`].
pub fn record_push(history: &mut Vec<HistoryItem>, item: HistoryItem) {
    history.insert(0, item);
    history.truncate(MAX_HISTORY);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(version: u64) -> HistoryItem {
        HistoryItem { version, name: format!("v{version}"), pushed_at: 0 }
    }

    #[test]
    fn versions_only_grow_past_the_history_and_the_active_one() {
        assert_eq!(next_version(&[], 0), 1);
        assert_eq!(next_version(&[], 7), 8, "above the bundled profile's version");
        assert_eq!(next_version(&[item(3), item(5), item(4)], 1), 6);
        // After a rollback to 2, the next push still gets a new number.
        assert_eq!(next_version(&[item(5), item(2)], 2), 6);
        assert_eq!(next_version(&[item(u64::MAX)], 0), u64::MAX, "never wraps");
    }

    #[test]
    fn the_history_lists_the_newest_first_and_keeps_a_bounded_number() {
        let mut h = Vec::new();
        for v in 1..=(MAX_HISTORY as u64 + 5) {
            record_push(&mut h, item(v));
        }
        assert_eq!(h.len(), MAX_HISTORY);
        assert_eq!(h.first().map(|i| i.version), Some(MAX_HISTORY as u64 + 5));
        assert_eq!(h.last().map(|i| i.version), Some(6));
    }
}
