//! How pushed policy versions are numbered and listed. The worker keeps the bundles and the
//! list in KV; the rules are here.

use serde::{Deserialize, Serialize};

use std::rc::Rc;

use crate::http::Time;
use crate::policy::Policy;

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

/// How long an isolate trusts its copy of the active policy before asking the store whether a
/// newer version is active.
pub const POLICY_CHECK_MS: Time = 5_000;

/// Where the policy an isolate applies came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// A pushed bundle, read from the store.
    Store,
    /// The profile built into the worker (the store holds none, or never answered).
    Bundled,
}

impl PolicySource {
    /// As the admin API reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicySource::Store => "kv",
            PolicySource::Bundled => "bundled",
        }
    }
}

/// What the store said when asked for the active version.
#[derive(Debug)]
pub enum StoreRead {
    /// The store holds no active version, or the one this isolate already has.
    Nothing,
    /// A different active version, compiled.
    Newer(Box<Policy>),
    /// The store failed, or its active version no longer validates.
    Failed(String),
}

/// An isolate's copy of the active policy and the rules over it: trusted for
/// [`POLICY_CHECK_MS`], replaced only by another version that compiles, and kept when the
/// store fails (the bundled profile only when there never was another), with the failure
/// reported while it lasts.
#[derive(Debug, Default)]
pub struct ActivePolicy {
    current: Option<(Rc<Policy>, PolicySource, Time)>,
    store_error: Option<(Time, String)>,
}

impl ActivePolicy {
    /// The policy to apply at `now` without asking the store (checked lately).
    pub fn if_fresh(&self, now: Time) -> Option<(Rc<Policy>, PolicySource)> {
        let (policy, source, checked_at) = self.current.as_ref()?;
        (now.saturating_sub(*checked_at) < POLICY_CHECK_MS).then(|| (policy.clone(), *source))
    }

    /// The version held, if any: the store need only send another.
    pub fn known_version(&self) -> Option<u64> {
        self.current.as_ref().map(|(p, _, _)| p.version())
    }

    /// Settles the store's answer at `now` into the policy to apply: a newer version replaces
    /// the copy; nothing new keeps it; a failure keeps the last good policy and is reported
    /// (`store_error`) until the store answers again.
    pub fn settle(&mut self, read: StoreRead, bundled: &Rc<Policy>, now: Time) -> (Rc<Policy>, PolicySource) {
        let kept = || match &self.current {
            Some((p, s, _)) => (p.clone(), *s),
            None => (bundled.clone(), PolicySource::Bundled),
        };
        let (policy, source) = match read {
            StoreRead::Newer(p) => {
                self.store_error = None;
                (Rc::new(*p), PolicySource::Store)
            }
            StoreRead::Nothing => {
                self.store_error = None;
                kept()
            }
            StoreRead::Failed(why) => {
                let kept = kept();
                self.store_error = Some((now, why));
                kept
            }
        };
        self.current = Some((policy.clone(), source, now));
        (policy, source)
    }

    /// Adopts a version this isolate has just made active in the store (a push, a rollback).
    pub fn adopt(&mut self, policy: Rc<Policy>, now: Time) {
        self.current = Some((policy, PolicySource::Store, now));
        self.store_error = None;
    }

    /// The store's last failure, while the active policy cannot be read: (when, what).
    pub fn store_error(&self) -> Option<&(Time, String)> {
        self.store_error.as_ref()
    }
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

    fn policy(version: u64) -> Policy {
        crate::policy::Policy::fallback(
            crate::policy::Policy::profile_text(crate::policy::DEFAULT_PROFILE).unwrap_or_default(),
        )
        .with_version(version)
    }

    #[test]
    fn the_copy_is_trusted_for_the_check_interval_then_asked_again() {
        let bundled = Rc::new(policy(1));
        let mut active = ActivePolicy::default();
        assert!(active.if_fresh(0).is_none(), "nothing held: ask the store");
        let (p, source) = active.settle(StoreRead::Newer(Box::new(policy(7))), &bundled, 1_000);
        assert_eq!((p.version(), source), (7, PolicySource::Store));
        assert_eq!(active.known_version(), Some(7), "the store need only send another version");
        assert!(active.if_fresh(1_000 + POLICY_CHECK_MS - 1).is_some());
        assert!(active.if_fresh(1_000 + POLICY_CHECK_MS).is_none(), "checked again after the interval");
        let (p, _) = active.settle(StoreRead::Nothing, &bundled, 9_000);
        assert_eq!(p.version(), 7, "nothing new keeps the copy");
        assert!(active.if_fresh(9_000).is_some(), "and trusts it for another interval");
    }

    #[test]
    fn a_failing_store_keeps_the_last_good_policy_and_says_so_until_it_answers() {
        let bundled = Rc::new(policy(1));
        let mut active = ActivePolicy::default();
        let (p, source) = active.settle(StoreRead::Failed("kv down".into()), &bundled, 0);
        assert_eq!(
            (p.version(), source),
            (1, PolicySource::Bundled),
            "the bundled profile only when there never was another"
        );
        assert_eq!(active.store_error(), Some(&(0, "kv down".to_string())));
        active.settle(StoreRead::Newer(Box::new(policy(4))), &bundled, 10_000);
        assert_eq!(active.store_error(), None, "the store answered");
        let (p, source) = active.settle(StoreRead::Failed("v5 no longer validates".into()), &bundled, 20_000);
        assert_eq!((p.version(), source), (4, PolicySource::Store), "the last good policy is kept");
        assert!(active.store_error().is_some_and(|(at, why)| *at == 20_000 && why.contains("v5")));
        active.adopt(Rc::new(policy(6)), 21_000);
        assert_eq!(active.if_fresh(21_000).map(|(p, s)| (p.version(), s)), Some((6, PolicySource::Store)));
        assert_eq!(active.store_error(), None, "a push this isolate made reached the store");
    }
}
