//! When copies refresh and where from: single flight, timeout, backoff, one poll per location.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::Time;
use rulecache::purge::fanout::{
    backoff, plan, retry_delay, shareable, Outcome, Plan, Refresh, Refresher, SharedAnswer, BACKOFF_MAX_MS,
    BLOCKING_REFRESH_TIMEOUT_MS, CLAIM_HOLD_MS, CLAIM_RETRY_MS, REFRESH_GIVE_UP_MS, SHARED_ANSWER_FRESH_MS,
    SHARED_MAX_RECORDS, SHARED_REACH_BACK, SHARED_WINDOW_MS,
};
use rulecache::purge::ledger::{
    chain_next, LedgerCopy, PurgeRecord, SinceAnswer, Target, BACKGROUND_REFRESH_AFTER_MS,
    BLOCKING_REFRESH_AFTER_MS,
};

const T0: Time = 1_700_000_000_000;

/// Record `seq` of one fixed history, with its chain.
fn record(seq: u64, previous: &str) -> PurgeRecord {
    let mut r = PurgeRecord {
        seq,
        id: "p".into(),
        at: T0,
        target: Target::Tag(format!("t{seq}")),
        soft: false,
        chain: String::new(),
    };
    r.chain = chain_next(previous, &r);
    r
}

fn answer(from: u64, to: u64) -> SinceAnswer {
    let mut chain = String::new();
    let mut anchor = String::new();
    let mut records = Vec::new();
    for seq in 1..=to {
        let r = record(seq, &chain);
        chain.clone_from(&r.chain);
        if seq == from {
            anchor.clone_from(&chain);
        }
        if seq > from {
            records.push(r);
        }
    }
    SinceAnswer {
        epoch: "e".into(),
        from,
        to,
        last_seq: to,
        records,
        more: false,
        anchor: Some(anchor),
        chain,
    }
}

/// A copy at `cursor`, complete as of `at`.
fn copy_at(cursor: u64, at: Time) -> LedgerCopy {
    let mut c = LedgerCopy::new();
    c.apply_answer(&answer(0, cursor), at, Time::MAX);
    c
}

#[test]
fn refresh_is_background_after_two_seconds_and_blocking_after_ten() {
    assert_eq!((BACKGROUND_REFRESH_AFTER_MS, BLOCKING_REFRESH_AFTER_MS), (2_000, 10_000));
    let r = Refresher::new();
    assert_eq!(
        r.due(None, T0),
        Refresh::Blocking { until: T0 + BLOCKING_REFRESH_TIMEOUT_MS },
        "never refreshed"
    );
    assert_eq!(r.due(Some(T0), T0 + 1_999), Refresh::No);
    assert_eq!(r.due(Some(T0), T0 + 2_000), Refresh::Background);
    assert_eq!(r.due(Some(T0), T0 + 9_999), Refresh::Background);
    assert!(matches!(r.due(Some(T0), T0 + 10_000), Refresh::Blocking { .. }));
    assert_eq!(r.due(Some(T0), T0 - 5), Refresh::No, "a clock that steps back");
}

#[test]
fn a_request_waits_for_the_ledger_only_when_it_serves_a_stored_entry() {
    // A new isolate's first request: before its lookup it starts the first refresh and does
    // not wait (a miss or a bypass depends on no purge)...
    let mut r = Refresher::new();
    assert_eq!(r.due_before_lookup(None, T0), Refresh::Background);
    r.start(T0);
    assert_eq!(r.due_before_lookup(None, T0 + 10), Refresh::No, "the refresh is already running");
    // ...and one that finds a stored entry waits for that same refresh.
    assert_eq!(r.due(None, T0 + 10), Refresh::Blocking { until: T0 + BLOCKING_REFRESH_TIMEOUT_MS });
    // The other rules are the same before a lookup as after it.
    let idle = Refresher::new();
    assert_eq!(idle.due_before_lookup(Some(T0), T0 + 1_999), Refresh::No);
    assert_eq!(idle.due_before_lookup(Some(T0), T0 + 2_000), Refresh::Background);
    assert_eq!(idle.due_before_lookup(Some(T0), T0 + 10_000), Refresh::Background);
}

#[test]
fn one_refresh_at_a_time_and_waiters_are_released_together() {
    let mut r = Refresher::new();
    r.start(T0 + 2_000);
    assert!(r.in_flight(T0 + 2_100));
    assert_eq!(r.due(Some(T0), T0 + 2_500), Refresh::No, "no second background refresh");
    // A blocking refresh started at 10 s: requests arriving meanwhile join it, and nobody
    // waits past its start plus the timeout.
    let mut b = Refresher::new();
    let start = T0 + 10_000;
    let until = start + BLOCKING_REFRESH_TIMEOUT_MS;
    assert_eq!(b.due(Some(T0), start), Refresh::Blocking { until });
    b.start(start);
    assert_eq!(b.due(Some(T0), start + 100), Refresh::Blocking { until }, "joins the same flight");
    assert_eq!(b.due(Some(T0), until), Refresh::No, "past the deadline nobody waits");
    assert!(!b.in_flight(start + REFRESH_GIVE_UP_MS), "a lost refresh is given up");
    assert!(matches!(b.due(Some(T0), start + REFRESH_GIVE_UP_MS), Refresh::Blocking { .. }));
}

#[test]
fn failures_back_off_and_no_request_waits_during_the_backoff() {
    assert_eq!(
        (1..=7).map(backoff).collect::<Vec<_>>(),
        [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]
    );
    assert_eq!(backoff(1_000), BACKOFF_MAX_MS);
    let mut r = Refresher::new();
    let mut now = T0 + 20_000;
    for failures in 1..=4u32 {
        assert!(matches!(r.due(Some(T0), now), Refresh::Blocking { .. }));
        r.start(now);
        r.finish(Outcome::Failure, now + BLOCKING_REFRESH_TIMEOUT_MS);
        assert_eq!(r.failures(), failures);
        let retry = now + BLOCKING_REFRESH_TIMEOUT_MS + backoff(failures);
        assert_eq!(r.due(Some(T0), retry - 1), Refresh::No, "in the backoff");
        now = retry;
    }
    r.start(now);
    r.finish(Outcome::Success, now + 10);
    assert_eq!(r.failures(), 0);
    assert_eq!(r.due(Some(now), now + 11), Refresh::No);
    // A deferred refresh (another isolate polls) looks again shortly.
    r.start(now + 3_000);
    r.finish(Outcome::Deferred, now + 3_000);
    assert_eq!(r.due(Some(now), now + 3_000 + CLAIM_RETRY_MS - 1), Refresh::No);
    assert_eq!(r.due(Some(now), now + 3_000 + CLAIM_RETRY_MS), Refresh::Background);
}

#[test]
fn a_purge_write_is_retried_four_times() {
    assert_eq!(
        (0..=5).map(retry_delay).collect::<Vec<_>>(),
        [None, Some(500), Some(1_000), Some(2_000), Some(4_000), None]
    );
}

#[test]
fn a_fresh_shared_answer_serves_every_isolate_of_the_location() {
    let copy = copy_at(10, T0);
    let shared = SharedAnswer { answer: answer(8, 12), sent_at: T0 + 2_000, claimed_at: None };
    assert_eq!(plan(&copy, Some(&shared), T0 + 2_000 + SHARED_ANSWER_FRESH_MS - 1), Plan::UseShared);
    let mut c = copy.clone();
    c.apply_answer(&shared.answer, shared.sent_at, Time::MAX);
    assert_eq!((c.cursor(), c.last_success()), (12, Some(T0 + 2_000)));
    // Stale: poll, reaching back to the shared records of the last 12 s, and claim the poll.
    assert_eq!(
        plan(&copy, Some(&shared), T0 + 2_000 + SHARED_ANSWER_FRESH_MS),
        Plan::Poll { since: 8, claim: true }
    );
    let ahead_copy = copy_at(15, T0 + 3_000);
    assert_eq!(
        plan(&ahead_copy, Some(&shared), T0 + 2_000 + SHARED_ANSWER_FRESH_MS),
        Plan::Poll { since: 8, claim: true }
    );
    // Records older than the window are not reached for.
    assert_eq!(
        plan(&ahead_copy, Some(&shared), T0 + SHARED_WINDOW_MS + 1),
        Plan::Poll { since: 12, claim: true }
    );
    // Starts after the cursor: of no use to this copy.
    let ahead = SharedAnswer { answer: answer(11, 12), sent_at: T0 + 2_000, claimed_at: None };
    assert_eq!(plan(&copy, Some(&ahead), T0 + 2_100), Plan::Poll { since: 10, claim: true });
    // Another epoch: poll after the cursor (the answer resets the copy).
    let mut other = shared.clone();
    other.answer.epoch = "e2".into();
    assert!(matches!(plan(&copy, Some(&other), T0 + 2_100), Plan::Poll { .. }));
    // Nothing shared yet.
    assert_eq!(plan(&copy, None, T0 + 2_100), Plan::Poll { since: 10, claim: false });
    // A new isolate can start from a shared answer that starts at 0.
    let whole = SharedAnswer { answer: answer(0, 12), sent_at: T0 + 2_000, claimed_at: None };
    assert_eq!(plan(&LedgerCopy::new(), Some(&whole), T0 + 2_100), Plan::UseShared);
    assert_eq!(plan(&LedgerCopy::new(), Some(&shared), T0 + 2_100), Plan::Poll { since: 0, claim: true });
}

#[test]
fn a_claimed_poll_is_left_to_the_isolate_that_claimed_it() {
    let copy = copy_at(10, T0);
    let stale = T0 + 2_000;
    let shared = SharedAnswer { answer: answer(8, 12), sent_at: stale, claimed_at: Some(stale + 1_600) };
    let now = stale + 1_700;
    assert_eq!(plan(&copy, Some(&shared), now), Plan::Wait);
    assert_eq!(
        plan(&copy, Some(&shared), stale + 1_600 + CLAIM_HOLD_MS),
        Plan::Poll { since: 8, claim: true }
    );
}

#[test]
fn the_shared_answer_reaches_back_only_so_far_and_stays_small() {
    let far = copy_at(5_000, T0);
    let shared =
        SharedAnswer { answer: answer(5_000 - SHARED_REACH_BACK - 1, 5_000), sent_at: T0, claimed_at: None };
    assert_eq!(plan(&far, Some(&shared), T0 + 5_000), Plan::Poll { since: 5_000, claim: true });
    assert!(shareable(&answer(0, SHARED_MAX_RECORDS as u64)));
    assert!(!shareable(&answer(0, SHARED_MAX_RECORDS as u64 + 1)));
    let mut paged = answer(0, 3);
    paged.more = true;
    assert!(!shareable(&paged));
}

#[test]
fn purges_the_ledger_did_not_take_are_kept_and_retried_with_a_backoff() {
    use rulecache::purge::fanout::{PendingAppends, PENDING_CAPACITY};
    use rulecache::purge::ledger::AppendOrder;
    let order = |i: usize| AppendOrder {
        targets: vec![Target::Tag(format!("t{i}"))],
        soft: false,
        nonce: Some(format!("{i:02x}")),
        ..AppendOrder::default()
    };
    let mut p = PendingAppends::new();
    p.push(order(1), T0);
    assert!(p.take_due(T0 + 499).is_empty());
    let due = p.take_due(T0 + 500);
    assert_eq!(due.len(), 1);
    assert!(p.is_empty(), "taken out while it is tried");
    let (o, attempts) = due.into_iter().next().expect("one");
    p.failed(o, attempts, T0 + 600);
    assert!(p.take_due(T0 + 1_599).is_empty(), "retried after a backoff");
    assert_eq!(p.len(), 1);
    // Never dropped for failing, only when the queue is full.
    let (o, mut attempts) = p.take_due(T0 + 1_600).into_iter().next().expect("one");
    let mut now = T0 + 1_600;
    let mut o = o;
    for _ in 0..20 {
        p.failed(o, attempts, now);
        // Past the longest backoff.
        now += 24 * 3_600_000;
        let next = p.take_due(now).into_iter().next().expect("kept, and due");
        o = next.0;
        attempts = next.1;
    }
    assert!(attempts > 20);
    for i in 0..PENDING_CAPACITY + 3 {
        p.push(order(i), now);
    }
    assert_eq!((p.len(), p.given_up()), (PENDING_CAPACITY, 3));
}

#[test]
fn a_copy_far_behind_reads_its_pages_back_to_back() {
    use rulecache::purge::fanout::{plan_after, read_ahead};
    use rulecache::purge::ledger::{AppendOrder, BudgetLimits, Ledger, MemoryRows, Progress, PAGE_RECORDS};
    // 60,000 records (the budgets opened wide: this is about paging).
    let wide = BudgetLimits {
        credential_burst: 1 << 40,
        credential_per_minute: 0,
        global_burst: 1 << 40,
        global_per_minute: 0,
    };
    let mut ledger = Ledger::with_budgets(86_400_000, wide);
    let mut rows = MemoryRows::default();
    for b in 0..12 {
        let targets = (0..5_000).map(|i| Target::Tag(format!("b{b}-{i}"))).collect();
        ledger
            .append(&mut rows, &AppendOrder { targets, ..AppendOrder::default() }, T0 + b, "e")
            .expect("append");
    }
    let mut copy = LedgerCopy::new();
    // The first answer of a refresh may come from the location's shared one; here it is a
    // poll. Every answer after it that is not complete asks again at once, without a claim
    // (the location's claim is this isolate's own: before, it waited it out, a page a second).
    let mut since = 0;
    let mut polls = 0;
    loop {
        polls += 1;
        let answer = ledger.since(&rows, since).expect("since");
        // The next page is asked for before this one is applied: the very page the plan polls.
        let ahead = read_ahead(&answer);
        let progress = copy.apply_answer(&answer, T0 + 100, T0 + 100);
        match plan_after(&copy, progress) {
            None => {
                assert_eq!(ahead, None, "nothing read ahead after the last page");
                break;
            }
            Some(Plan::Poll { since: next, claim }) => {
                assert!(!claim, "no claim between pages");
                assert_eq!(progress, Progress::More);
                assert_eq!(ahead, Some(next), "the page read ahead is the one the plan polls");
                since = next;
            }
            Some(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(polls, 60_000 / PAGE_RECORDS);
    assert_eq!(copy.cursor(), 60_000);
    // The location's poll claimed by this very isolate would have sent it waiting.
    let claimed = SharedAnswer { answer: answer(0, 0), sent_at: T0, claimed_at: Some(T0 + 50) };
    assert_eq!(plan(&copy, Some(&claimed), T0 + 100), Plan::Wait);
}

#[test]
fn a_page_read_ahead_is_dropped_when_the_page_before_it_shows_a_rewritten_history() {
    use rulecache::purge::fanout::{plan_after, read_ahead};
    use rulecache::purge::ledger::Progress;
    // The copy read to 10; the ledger's page from 10 says more, but its chain at 10 is not
    // the one the copy read (another history under the same numbers).
    let mut copy = copy_at(10, T0);
    let mut page = answer(10, 20);
    page.more = true;
    page.anchor = Some("another history".into());
    let ahead = read_ahead(&page);
    assert_eq!(ahead, Some(20), "asked for on arrival");
    let progress = copy.apply_answer(&page, T0 + 100, T0 + 100);
    assert_eq!(progress, Progress::Gap);
    assert_eq!(plan_after(&copy, progress), Some(Plan::Poll { since: 0, claim: false }), "starts over");
    assert_ne!(ahead, Some(copy.cursor()), "the page read ahead is not the one polled: it is dropped");
}
