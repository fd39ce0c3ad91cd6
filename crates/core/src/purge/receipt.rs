//! Purge receipts: when a purge was recorded in the ledger and, per location that has
//! reported, when it was applied there. A location has applied a purge once its ledger cursor
//! (the lowest cursor of its active isolates, carried by the statistics flush; see
//! `storage::stats::fleet`) reached the purge's last record in the same epoch. A purge is live
//! everywhere once every location heard from in the active window has applied it; a location
//! that stopped reporting is named, not waited for in silence.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::http::Time;
use crate::storage::stats::fleet::LocationState;

/// Locations heard from within this long count as active for a receipt, by default.
pub const DEFAULT_ACTIVE_WINDOW_MS: Time = 5 * 60_000;

/// What the ledger says of one purge: when it was recorded, and the sequence number of its
/// last record in which epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeRecorded {
    pub id: String,
    pub recorded_at: Time,
    pub epoch: String,
    pub last_seq: u64,
}

/// One location in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationReceipt {
    pub location: String,
    /// When the roll-up first heard that the location's cursor had passed the purge (an upper
    /// bound of when it was applied there); `None`: not (yet) known to be applied.
    pub applied_at: Option<Time>,
    pub last_report: Time,
    /// Heard from within the active window.
    pub active: bool,
}

/// The receipt of one purge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub id: String,
    pub recorded_at: Time,
    pub locations: Vec<LocationReceipt>,
    /// Active locations that have not applied it.
    pub pending: Vec<String>,
    /// Every active location has applied it (and at least one location is active).
    pub applied_everywhere: bool,
    /// When the last active location applied it, once all have.
    pub applied_everywhere_at: Option<Time>,
}

/// When `state`'s cursor reached `recorded.last_seq` in the purge's epoch, if it has.
fn applied_at(state: &LocationState, recorded: &PurgeRecorded) -> Option<Time> {
    if state.advances_epoch != recorded.epoch {
        return None;
    }
    state.advances.iter().find(|(seq, _)| *seq >= recorded.last_seq).map(|(_, at)| *at)
}

/// The receipt of `recorded` from the roll-up's `locations`, at `now`.
pub fn receipt(
    recorded: &PurgeRecorded,
    locations: &BTreeMap<String, LocationState>,
    active_window: Time,
    now: Time,
) -> Receipt {
    let mut list = Vec::new();
    let mut pending = Vec::new();
    let mut last_applied: Option<Time> = None;
    let mut any_active = false;
    for (name, state) in locations {
        let active = now.saturating_sub(state.last_report) <= active_window;
        let at = applied_at(state, recorded);
        if active {
            any_active = true;
            match at {
                Some(t) => last_applied = Some(last_applied.map_or(t, |l| l.max(t))),
                None => pending.push(name.clone()),
            }
        }
        list.push(LocationReceipt {
            location: name.clone(),
            applied_at: at,
            last_report: state.last_report,
            active,
        });
    }
    let everywhere = any_active && pending.is_empty();
    Receipt {
        id: recorded.id.clone(),
        recorded_at: recorded.recorded_at,
        locations: list,
        pending,
        applied_everywhere: everywhere,
        applied_everywhere_at: if everywhere { last_applied } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::stats::fleet::{LedgerCursor, LocationReport, Rollup};
    use crate::storage::stats::Figures;

    fn report(location: &str, seq: u64, cursor: u64, epoch: &str) -> LocationReport {
        LocationReport {
            location: location.into(),
            seq,
            sent_at: 0,
            figures: Figures::default(),
            ledger: Some(LedgerCursor { epoch: epoch.into(), seq: cursor }),
            isolates: 1,
        }
    }

    #[test]
    fn a_purge_is_applied_everywhere_once_every_active_location_passed_it() {
        let mut rollup = Rollup::new(0);
        rollup.apply(&report("AMS", 1, 4, "e1"), 1_000);
        rollup.apply(&report("FRA", 1, 4, "e1"), 1_000);
        let purge = PurgeRecorded { id: "p1".into(), recorded_at: 1_500, epoch: "e1".into(), last_seq: 5 };
        let r = receipt(&purge, &rollup.locations, 60_000, 2_000);
        assert!(!r.applied_everywhere);
        assert_eq!(r.pending, vec!["AMS".to_string(), "FRA".to_string()]);
        rollup.apply(&report("AMS", 2, 5, "e1"), 3_000);
        let r = receipt(&purge, &rollup.locations, 60_000, 3_000);
        assert_eq!(r.pending, vec!["FRA".to_string()]);
        rollup.apply(&report("FRA", 2, 9, "e1"), 4_000);
        let r = receipt(&purge, &rollup.locations, 60_000, 4_000);
        assert!(r.applied_everywhere);
        assert_eq!(r.applied_everywhere_at, Some(4_000));
        assert_eq!(
            r.locations.iter().map(|l| l.applied_at).collect::<Vec<_>>(),
            vec![Some(3_000), Some(4_000)]
        );
    }

    #[test]
    fn a_location_gone_quiet_is_named_until_it_leaves_the_window_and_another_epoch_is_not_applied() {
        let mut rollup = Rollup::new(0);
        rollup.apply(&report("AMS", 1, 9, "e1"), 1_000);
        rollup.apply(&report("SIN", 1, 9, "e0"), 1_000);
        let purge = PurgeRecorded { id: "p".into(), recorded_at: 500, epoch: "e1".into(), last_seq: 3 };
        let r = receipt(&purge, &rollup.locations, 60_000, 2_000);
        assert_eq!(r.pending, vec!["SIN".to_string()], "a cursor of another epoch says nothing");
        let later = receipt(&purge, &rollup.locations, 60_000, 70_000);
        assert!(!later.applied_everywhere, "no location is active: nothing can be confirmed");
        rollup.apply(&report("AMS", 2, 9, "e1"), 65_000);
        let r = receipt(&purge, &rollup.locations, 60_000, 70_000);
        assert!(r.applied_everywhere, "SIN left the active window");
        assert!(r.locations.iter().any(|l| l.location == "SIN" && !l.active));
    }
}
