//! How the ledger's copies are kept up to date without melting one Durable Object: when an
//! isolate refreshes ([`Refresher`]), where it gets the answer from ([`plan`]), and what a
//! purge does when the ledger cannot take it ([`retry_delay`]). Pure decisions; the worker
//! shell executes them.
//!
//! **One poll per location.** The answer to the last ledger poll made in a location is kept
//! in that location's Cache API as a [`SharedAnswer`]. An isolate whose copy is due for a
//! refresh uses it when it is less than [`SHARED_ANSWER_FRESH_MS`] old and starts at or below
//! the copy's cursor; otherwise it claims the next poll (writes the stale answer back with
//! its claim, so the isolates that look meanwhile wait for it rather than poll too), asks
//! the ledger and shares the answer. A location of any size therefore polls the ledger about
//! once per [`SHARED_ANSWER_FRESH_MS`] while it has traffic, whatever its isolate count.
//!
//! **Catching up.** A copy far behind (a new isolate, a start over) reads the pages after the
//! first back to back ([`plan_after`]), each asked for before the one before it is applied
//! ([`read_ahead`]).
//!
//! **Blocking refresh.** A request about to serve a stored entry whose copy is
//! [`BLOCKING_REFRESH_AFTER_MS`] old (or that never completed a refresh) waits for a refresh;
//! a request that serves nothing stored never waits, it only starts that refresh
//! ([`Refresher::due_before_lookup`]). The wait is but one refresh per isolate at a time (single flight: requests arriving while
//! one runs wait for the same one) and never longer than [`BLOCKING_REFRESH_TIMEOUT_MS`]
//! after that refresh started. A failed refresh is retried after a backoff (1 s, doubling up
//! to [`BACKOFF_MAX_MS`]); in between, no request waits.
//!
//! **Fail mode.** While the copy is older than the bound, entries old enough to have been
//! purged by a record it cannot see are revalidated before use
//! ([`super::ledger::LedgerCopy::judge`]) and `Cache-Status` says `detail=ledger-unverified`;
//! younger entries are served as usual.

use super::ledger::{
    LedgerCopy, Progress, SinceAnswer, BACKGROUND_REFRESH_AFTER_MS, BLOCKING_REFRESH_AFTER_MS,
};
use crate::http::Time;

/// A request waits for a blocking refresh at most this long after that refresh started.
pub const BLOCKING_REFRESH_TIMEOUT_MS: Time = 500;
/// A refresh that has not reported within this long is taken to be lost.
pub const REFRESH_GIVE_UP_MS: Time = 5_000;
/// The first retry after a failed refresh; each further failure doubles it.
pub const BACKOFF_BASE_MS: Time = 1_000;
/// The longest wait between refresh attempts while the ledger fails.
pub const BACKOFF_MAX_MS: Time = 30_000;
/// A location's shared answer is used for this long after its poll was sent.
pub const SHARED_ANSWER_FRESH_MS: Time = 1_500;
/// An isolate's claim of the next poll holds off other pollers of its location this long.
pub const CLAIM_HOLD_MS: Time = 1_000;
/// An isolate that found the next poll claimed looks again after this long.
pub const CLAIM_RETRY_MS: Time = 200;
/// How far back in time a poll reaches for the location's shared answer: a little more than
/// the propagation bound, so that even an isolate idle for twice the bound can use the answer.
pub const SHARED_WINDOW_MS: Time = 20_000;
/// A shared answer is written only when it holds at most this many records (a copy far
/// behind, such as a new isolate's, asks for its own pages).
pub const SHARED_MAX_RECORDS: usize = 2_000;
/// A poll reaches back over the records of the last [`SHARED_WINDOW_MS`] in the previous
/// shared answer (at most this many records), so the new shared answer also serves the
/// isolates of the location that did not apply the previous one.
pub const SHARED_REACH_BACK: u64 = 1_000;
/// A purge the ledger did not take is retried this many times.
pub const APPEND_RETRIES: u32 = 4;

/// What a request does about the copy before it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresh {
    /// Use the copy as it is.
    No,
    /// Start a refresh without waiting for it.
    Background,
    /// Wait, until `until` at most, for a refresh: start one when none runs, else join it.
    Blocking { until: Time },
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The copy is complete as of the refresh.
    Success,
    /// The ledger (or the location's cache) could not be read.
    Failure,
    /// Another isolate of the location is polling: look again shortly.
    Deferred,
}

/// One isolate's refresh state: the flight in progress, failures and backoff.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Refresher {
    started: Option<Time>,
    failures: u32,
    retry_at: Time,
}

impl Refresher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether a refresh runs (started less than [`REFRESH_GIVE_UP_MS`] ago).
    pub fn in_flight(&self, now: Time) -> bool {
        self.started.is_some_and(|s| now.saturating_sub(s) < REFRESH_GIVE_UP_MS)
    }

    /// What a request at `now` does, given when the copy last completed a refresh.
    pub fn due(&self, last_success: Option<Time>, now: Time) -> Refresh {
        let age = last_success.map(|l| now.saturating_sub(l));
        let stale = age.is_none_or(|a| a >= BLOCKING_REFRESH_AFTER_MS);
        if self.in_flight(now) {
            let until = self.started.map_or(now, |s| s.saturating_add(BLOCKING_REFRESH_TIMEOUT_MS));
            return if stale && until > now { Refresh::Blocking { until } } else { Refresh::No };
        }
        if now < self.retry_at {
            return Refresh::No;
        }
        if stale {
            Refresh::Blocking { until: now.saturating_add(BLOCKING_REFRESH_TIMEOUT_MS) }
        } else if age.is_some_and(|a| a >= BACKGROUND_REFRESH_AFTER_MS) {
            Refresh::Background
        } else {
            Refresh::No
        }
    }

    /// What a request at `now` does before it knows whether it will serve a stored entry: it
    /// never waits (a miss or a bypass answers nothing the ledger can have purged), but a
    /// refresh the copy needs starts in the background, so that the copy is ready, or
    /// nearly, when a request does serve one ([`Refresher::due`] then decides whether it waits).
    pub fn due_before_lookup(&self, last_success: Option<Time>, now: Time) -> Refresh {
        match self.due(last_success, now) {
            Refresh::Blocking { .. } if self.in_flight(now) => Refresh::No,
            Refresh::Blocking { .. } => Refresh::Background,
            other => other,
        }
    }

    /// A refresh starts at `now`.
    pub fn start(&mut self, now: Time) {
        self.started = Some(now);
    }

    /// The refresh ended at `now`.
    pub fn finish(&mut self, outcome: Outcome, now: Time) {
        self.started = None;
        match outcome {
            Outcome::Success => {
                self.failures = 0;
                self.retry_at = 0;
            }
            Outcome::Failure => {
                self.failures = self.failures.saturating_add(1);
                self.retry_at = now.saturating_add(backoff(self.failures));
            }
            Outcome::Deferred => self.retry_at = now.saturating_add(CLAIM_RETRY_MS),
        }
    }

    /// Consecutive failed refreshes.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The wait after `failures` consecutive failures: 1 s, 2 s, 4 s … at most 30 s.
pub fn backoff(failures: u32) -> Time {
    let shift = failures.saturating_sub(1).min(16);
    BACKOFF_BASE_MS.saturating_mul(1 << shift).min(BACKOFF_MAX_MS)
}

/// When to try a purge's ledger write again after `attempt` failures (1-based): 0.5 s, 1 s,
/// 2 s, 4 s; `None` after [`APPEND_RETRIES`].
pub fn retry_delay(attempt: u32) -> Option<Time> {
    (1..=APPEND_RETRIES).contains(&attempt).then(|| 500 * (1 << (attempt - 1).min(8)))
}

/// The last poll's answer kept in a location's cache.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SharedAnswer {
    pub answer: SinceAnswer,
    /// When the poll was sent.
    pub sent_at: Time,
    /// An isolate claimed the next poll at this time.
    #[serde(default)]
    pub claimed_at: Option<Time>,
}

/// Where a refresh gets its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Apply the location's shared answer.
    UseShared,
    /// Another isolate is polling for the location: use the copy as it is for now.
    Wait,
    /// Ask the ledger for the records after `since`; `claim`: first write the shared answer
    /// back with this isolate's claim; the answer is shared when [`shareable`].
    Poll { since: u64, claim: bool },
}

/// Whether `shared` can complete `copy`: same epoch (or a first answer from 0), starting at
/// or below the cursor, whole.
fn usable(copy: &LedgerCopy, shared: &SharedAnswer) -> bool {
    let a = &shared.answer;
    let epoch_ok = match copy.epoch() {
        Some(e) => e == a.epoch,
        None => a.from == 0,
    };
    epoch_ok && a.from <= copy.cursor() && !a.more && a.last_seq >= copy.cursor()
}

/// Where a refresh at `now` gets its answer, given the location's shared answer (if any). A
/// poll claimed by another isolate is left to it, even by a request that would wait: that
/// request goes on at once with the copy it has (in the fail mode when the copy is older
/// than the bound), so a location that comes back after a ledger outage polls once, not once
/// per isolate.
pub fn plan(copy: &LedgerCopy, shared: Option<&SharedAnswer>, now: Time) -> Plan {
    let Some(s) = shared else { return Plan::Poll { since: copy.cursor(), claim: false } };
    let fresh = now.saturating_sub(s.sent_at) < SHARED_ANSWER_FRESH_MS;
    let news = copy.last_success().is_none_or(|l| s.sent_at > l);
    if usable(copy, s) && fresh && news {
        return Plan::UseShared;
    }
    let claimed = s.claimed_at.is_some_and(|c| now.saturating_sub(c) < CLAIM_HOLD_MS);
    if claimed {
        return Plan::Wait;
    }
    let same_epoch = copy.epoch() == Some(s.answer.epoch.as_str());
    // Reach back to the first shared record of the last SHARED_WINDOW_MS: every isolate of
    // the location that refreshed within twice the propagation bound is at or past it.
    let reach = s
        .answer
        .records
        .iter()
        .find(|r| r.at.saturating_add(SHARED_WINDOW_MS) >= now)
        .map_or(s.answer.to, |r| r.seq.saturating_sub(1).max(s.answer.from));
    let since = if same_epoch && reach < copy.cursor() && copy.cursor() - reach <= SHARED_REACH_BACK {
        reach
    } else {
        copy.cursor()
    };
    Plan::Poll { since, claim: true }
}

/// What a refresh does next after an answer that took the copy to `progress`: nothing more
/// once it is complete; otherwise (a page of a longer ledger, a gap, a start over) it asks the
/// ledger at once for the records after the cursor: back to back, not after the location's
/// shared answer (which holds a short tail, never a page) nor after the claim hold (the claim
/// is its own). A copy 60,000 records behind reads its three pages in a row rather than one
/// per refresh.
pub fn plan_after(copy: &LedgerCopy, progress: Progress) -> Option<Plan> {
    match progress {
        Progress::Complete => None,
        Progress::More | Progress::Gap => Some(Plan::Poll { since: copy.cursor(), claim: false }),
    }
}

/// Where the page after `answer` starts, when there is one: an answer that says `more` ends
/// at `to`, and a copy far behind asks for the page after it as soon as it arrives, before
/// applying it, so that the next round trip runs while this page is applied (a page of
/// [`super::ledger::PAGE_RECORDS`] takes about as long to apply as a round trip to a distant
/// ledger). The answer read ahead is used only when [`plan_after`] then polls from that very
/// sequence number; otherwise (the page showed a rewritten history, or left a gap) it is
/// dropped.
pub fn read_ahead(answer: &SinceAnswer) -> Option<u64> {
    answer.more.then_some(answer.to)
}

/// Whether a poll's answer goes into the location's cache for the other isolates.
pub fn shareable(answer: &SinceAnswer) -> bool {
    !answer.more && answer.records.len() <= SHARED_MAX_RECORDS
}

/// The most purges an isolate keeps for retrying while the ledger is down; beyond it the
/// oldest is given up (and logged).
pub const PENDING_CAPACITY: usize = 1_000;

/// Purges the ledger did not take, kept by the isolate that took them and retried: after
/// [`retry_delay`] and by every refresh of the copy once it is due, until the ledger takes
/// them (their nonce makes a retry of a write that did land harmless).
#[derive(Debug, Clone, Default)]
pub struct PendingAppends {
    /// Order, failed attempts so far, next attempt at.
    orders: std::collections::VecDeque<(super::ledger::AppendOrder, u32, Time)>,
    given_up: u64,
}

impl PendingAppends {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps `order`, which failed at `now`.
    pub fn push(&mut self, order: super::ledger::AppendOrder, now: Time) {
        if self.orders.len() >= PENDING_CAPACITY {
            self.orders.pop_front();
            self.given_up += 1;
        }
        self.orders.push_back((order, 1, now.saturating_add(retry_delay(1).unwrap_or(BACKOFF_BASE_MS))));
    }

    /// Takes the orders due at `now` (each is handed back with [`failed`](Self::failed) or
    /// dropped when the ledger took it).
    pub fn take_due(&mut self, now: Time) -> Vec<(super::ledger::AppendOrder, u32)> {
        let (due, wait): (Vec<_>, Vec<_>) = self.orders.drain(..).partition(|(_, _, at)| *at <= now);
        self.orders = wait.into();
        due.into_iter().map(|(o, n, _)| (o, n)).collect()
    }

    /// `order` failed again at `now` after `attempts` attempts: retried after a backoff.
    pub fn failed(&mut self, order: super::ledger::AppendOrder, attempts: u32, now: Time) {
        let attempts = attempts.saturating_add(1);
        let wait = retry_delay(attempts).unwrap_or_else(|| backoff(attempts));
        if self.orders.len() >= PENDING_CAPACITY {
            self.orders.pop_front();
            self.given_up += 1;
        }
        self.orders.push_back((order, attempts, now.saturating_add(wait)));
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Purges given up because the queue was full.
    pub fn given_up(&self) -> u64 {
        self.given_up
    }
}
