//! The purge ledger: rows, epochs, nonces, compaction, and the copies' cursor and matching.
//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::Time;
use rulecache::purge::ledger::{
    AppendOrder, BudgetLimits, Effect, Head, Ledger, LedgerCopy, LedgerError, LedgerRows, MemoryRows,
    Progress, PurgeRecord, RowsWrite, SinceAnswer, Target, BLOCKING_REFRESH_AFTER_MS, CLOCK_SKEW_MARGIN_MS,
    NONCE_LIFETIME_MS, PAGE_RECORDS,
};
use rulecache::storage::meta::{Meta, Purged};
use rulecache::testing::XorShift;

const T0: Time = 1_700_000_000_000;
const NEWS: &str = "https://www.example.com/news";
const DAY_MS: Time = 86_400_000;
const EPOCH: &str = "e-test";

fn url(s: &str) -> Target {
    Target::Url(s.to_owned())
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

fn order(targets: Vec<Target>, soft: bool) -> AppendOrder {
    AppendOrder { targets, soft, ..AppendOrder::default() }
}

/// A ledger over rows in memory.
struct World {
    ledger: Ledger,
    rows: MemoryRows,
}

impl World {
    fn new() -> Self {
        World { ledger: Ledger::new(DAY_MS), rows: MemoryRows::default() }
    }

    fn append(
        &mut self,
        now: Time,
        targets: Vec<Target>,
        soft: bool,
    ) -> rulecache::purge::ledger::AppendAnswer {
        self.ledger.append(&mut self.rows, &order(targets, soft), now, EPOCH).expect("append")
    }

    fn since(&mut self, from: u64) -> SinceAnswer {
        self.ledger.since(&self.rows, from).expect("since")
    }

    /// Refreshes `copy` completely (following pages) as of `now`.
    fn refresh(&mut self, copy: &mut LedgerCopy, now: Time) {
        for _ in 0..1000 {
            let answer = self.since(copy.cursor());
            if copy.apply_answer(&answer, now, Time::MAX) == Progress::Complete {
                return;
            }
        }
        panic!("the copy never completed");
    }

    fn copy(&mut self, now: Time) -> LedgerCopy {
        let mut copy = LedgerCopy::new();
        self.refresh(&mut copy, now);
        copy
    }
}

#[test]
fn append_numbers_records_and_gives_one_id_per_purge() {
    let mut w = World::new();
    let first = w.append(T0, vec![url(NEWS), Target::Tag("a".into()), url(NEWS)], true);
    assert_eq!(first.id, format!("p-1-{T0}"));
    assert_eq!(first.epoch, EPOCH);
    assert_eq!(
        first.records.iter().map(|r| r.seq).collect::<Vec<_>>(),
        [1, 2],
        "duplicates are recorded once"
    );
    assert!(first.records.iter().all(|r| r.id == first.id && r.at == T0 && r.soft));
    let second = w.append(T0 + 5, vec![Target::Prefix(NEWS.into())], false);
    assert_eq!(second.id, format!("p-3-{}", T0 + 5));
    assert_eq!(second.last_seq, 3);
    assert_eq!(w.since(1).records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
    let tail = w.since(3);
    assert!(tail.records.is_empty());
    assert_eq!((tail.to, tail.last_seq, tail.more), (3, 3, false));
    assert_eq!(w.since(0).records.len(), 3);
    assert_eq!(w.rows.records.len(), 3, "one row per target");
}

#[test]
fn a_ledger_never_written_answers_no_epoch_and_names_one_on_the_first_purge() {
    let mut w = World::new();
    let empty = w.since(0);
    assert_eq!((empty.epoch.as_str(), empty.last_seq), ("", 0));
    let mut copy = LedgerCopy::new();
    assert_eq!(copy.apply_answer(&empty, T0, Time::MAX), Progress::Complete);
    w.append(T0 + 1, vec![url(NEWS)], false);
    // The copy asks after its cursor (0) and gets the new epoch with everything.
    w.refresh(&mut copy, T0 + 2);
    assert_eq!(copy.epoch(), Some(EPOCH));
    assert_eq!(copy.effect(NEWS, &[], T0), Some(Effect::Hard));
}

#[test]
fn a_url_purge_reaches_entries_whose_request_was_sent_before_it_give_or_take_the_margin() {
    let mut w = World::new();
    w.append(T0, vec![url(NEWS)], false);
    let copy = w.copy(T0);
    assert_eq!(copy.effect(NEWS, &[], T0 - 1), Some(Effect::Hard));
    assert_eq!(copy.effect(NEWS, &[], T0), Some(Effect::Hard));
    assert_eq!(
        copy.effect(NEWS, &[], T0 + CLOCK_SKEW_MARGIN_MS),
        Some(Effect::Hard),
        "within the clock margin"
    );
    assert_eq!(copy.effect(NEWS, &[], T0 + CLOCK_SKEW_MARGIN_MS + 1), None, "sent after the purge");
    assert_eq!(copy.effect("https://www.example.com/news/", &[], T0 - 1), None, "another URL");
    assert_eq!(copy.effect("https://other.example/news", &[], T0 - 1), None, "another host");
}

fn meta_of(url: &str, request_time: Time, response_time: Time) -> Meta {
    let v1 = format!(
        concat!(
            "m1:{{\"url\":\"{}\",\"variant\":null,\"audience\":null,\"request_time\":{},",
            "\"response_time\":{},\"stored\":{},\"head\":{{\"status\":200,\"headers\":[]}},",
            "\"storage\":\"HonourOrigin\",\"ruleset\":null,\"operation\":\"honourOrigin\",",
            "\"policy_version\":0,\"body_len\":1}}"
        ),
        url, request_time, response_time, response_time
    );
    Meta::decode(&v1).expect("a version 1 record")
}

#[test]
fn a_response_fetched_before_a_purge_and_arriving_after_it_is_purged() {
    let mut w = World::new();
    let purge_at = T0 + 1_000;
    w.append(purge_at, vec![url(NEWS)], false);
    let copy = w.copy(purge_at + 10);
    // Sent 5 s before the purge, arrived (and stored) 20 s after it: it may predate the edit.
    let mut slow = meta_of(NEWS, purge_at - 5_000, purge_at + 20_000);
    assert_eq!(copy.purged(&slow, purge_at + 20_001), Purged::Hard);
    // Current records are judged the same way; the stored time plays no part.
    slow.stored_at = purge_at + 60_000;
    assert_eq!(copy.purged(&slow, purge_at + 60_001), Purged::Hard);
    // Sent after the purge (beyond the clock margin): served.
    let later = meta_of(NEWS, purge_at + CLOCK_SKEW_MARGIN_MS + 1, purge_at + 2_000);
    assert_eq!(copy.purged(&later, purge_at + 2_001), Purged::No);
}

#[test]
fn an_entry_fetched_after_the_copy_learned_of_a_purge_is_not_purged_again() {
    let mut w = World::new();
    w.append(T0, vec![url(NEWS)], false);
    let mut copy = LedgerCopy::new();
    let answer = w.since(0);
    // Learned at T0 + 200: a request sent within the clock margin but after that is newer
    // than the purge for certain.
    copy.apply_answer(&answer, T0 + 100, T0 + 200);
    assert_eq!(
        copy.effect(NEWS, &[], T0 + 199),
        Some(Effect::Hard),
        "sent before it was learned: within the margin"
    );
    assert_eq!(copy.effect(NEWS, &[], T0 + 200), None, "sent after it was learned");
    // Its own purge: learned when the ledger answered.
    let mine = w.append(T0 + 5_000, vec![url("https://e.com/mine")], true);
    copy.apply_own(&mine, T0 + 5_050);
    assert_eq!(copy.effect("https://e.com/mine", &[], T0 + 5_049), Some(Effect::Soft { at: T0 + 5_000 }));
    assert_eq!(copy.effect("https://e.com/mine", &[], T0 + 5_050), None);
}

#[test]
fn version_1_records_are_judged_by_their_request_time() {
    let mut w = World::new();
    w.append(T0, vec![url("https://e.com/a")], true);
    let copy = w.copy(T0);
    let old = meta_of("https://e.com/a", T0 - 10, T0 + 10);
    assert_eq!(old.request_time, T0 - 10);
    assert_eq!(copy.purged(&old, T0 + 11), Purged::Soft { at: T0 });
}

#[test]
fn a_tag_purge_reaches_entries_carrying_the_tag() {
    let mut w = World::new();
    w.append(T0, vec![Target::Tag("page-7".into())], false);
    let copy = w.copy(T0);
    assert_eq!(copy.effect(NEWS, &tags(&["front", "page-7"]), T0 - 1), Some(Effect::Hard));
    assert_eq!(copy.effect(NEWS, &tags(&["front"]), T0 - 1), None);
    assert_eq!(copy.effect(NEWS, &tags(&["Page-7"]), T0 - 1), None, "tags are case-sensitive");
    assert_eq!(copy.effect(NEWS, &tags(&["page-7"]), T0 + CLOCK_SKEW_MARGIN_MS + 1), None);
}

#[test]
fn a_prefix_purge_covers_whole_segments_on_its_host() {
    let mut w = World::new();
    w.append(T0, vec![Target::Prefix(NEWS.into())], false);
    let copy = w.copy(T0);
    for key in [NEWS, "https://www.example.com/news/2024/a?x=1", "https://www.example.com/news?page=2"] {
        assert_eq!(copy.effect(key, &[], T0 - 1), Some(Effect::Hard), "{key}");
    }
    for key in [
        "https://www.example.com/newsletter",
        "https://www.example.com/new",
        "https://www.example.com/",
        "https://cdn.example.com/news/a",
    ] {
        assert_eq!(copy.effect(key, &[], T0 - 1), None, "{key}");
    }
}

#[test]
fn many_prefixes_of_different_lengths_are_all_found() {
    let mut w = World::new();
    let prefixes: Vec<Target> =
        (0..200).map(|i| Target::Prefix(format!("https://h.example/{}", "d/".repeat(i)))).collect();
    w.append(T0, prefixes, false);
    let later = T0 + 10 * CLOCK_SKEW_MARGIN_MS;
    w.append(later, vec![Target::Prefix("https://h.example/é".into())], true);
    let copy = w.copy(later);
    assert_eq!(copy.effect(&format!("https://h.example/{}x", "d/".repeat(150)), &[], T0), Some(Effect::Hard));
    assert_eq!(copy.effect("https://h.example/é/a", &[], later - 1), Some(Effect::Soft { at: later }));
    assert_eq!(copy.effect("https://h.example/éa", &[], later - 1), None, "whole segments only");
    assert_eq!(
        copy.effect("https://h.example/€", &[], later - 1),
        None,
        "a prefix length inside a character"
    );
    assert_eq!(copy.effect("https://other.example/", &[], T0), None);
}

#[test]
fn hard_wins_over_soft_and_soft_reports_the_latest_time() {
    let mut w = World::new();
    let m = CLOCK_SKEW_MARGIN_MS;
    w.append(T0, vec![url(NEWS)], true);
    w.append(T0 + 10 * m, vec![Target::Tag("t".into())], true);
    w.append(T0 + 5 * m, vec![Target::Prefix("https://www.example.com/".into())], false);
    let copy = w.copy(T0 + 10 * m);
    assert_eq!(copy.effect(NEWS, &[], T0 + 2 * m), Some(Effect::Hard), "hard prefix purge at +5");
    assert_eq!(copy.effect(NEWS, &tags(&["t"]), T0 + 7 * m), Some(Effect::Soft { at: T0 + 10 * m }));
    assert_eq!(copy.effect(NEWS, &[], T0 + 7 * m), None);
}

#[test]
fn an_empty_copy_affects_nothing() {
    let copy = LedgerCopy::new();
    assert!(copy.is_empty());
    assert_eq!(copy.effect(NEWS, &tags(&["t"]), 0), None);
}

// ---------------------------------------------------------------------------------------------
// The cursor
// ---------------------------------------------------------------------------------------------

/// The issue's observation: an isolate that takes a purge itself must not move its cursor
/// past what other locations wrote since its last refresh.
#[test]
fn an_own_purge_does_not_skip_what_another_location_wrote() {
    let mut w = World::new();
    w.append(T0, vec![url("https://e.com/old")], false);
    let mut copy = w.copy(T0);
    assert_eq!(copy.cursor(), 1);
    // Another location purges /other (seq 2); then this isolate purges /mine (seq 3).
    w.append(T0 + 100, vec![url("https://e.com/other")], false);
    let mine = w.append(T0 + 200, vec![url("https://e.com/mine")], false);
    copy.apply_own(&mine, Time::MAX);
    assert_eq!(copy.effect("https://e.com/mine", &[], T0), Some(Effect::Hard), "its own purge at once");
    assert_eq!(copy.cursor(), 1, "seq 2 is unseen: the cursor waits below it");
    w.refresh(&mut copy, T0 + 300);
    assert_eq!(copy.effect("https://e.com/other", &[], T0), Some(Effect::Hard), "the other location's purge");
    assert_eq!(copy.cursor(), 3);
}

#[test]
fn own_records_directly_after_the_cursor_move_it() {
    let mut w = World::new();
    w.append(T0, vec![url("https://e.com/a")], false);
    let mut copy = w.copy(T0);
    let mine = w.append(T0 + 1, vec![url("https://e.com/b"), url("https://e.com/c")], false);
    copy.apply_own(&mine, Time::MAX);
    assert_eq!(copy.cursor(), 3);
    assert_eq!(copy.last_success(), Some(T0), "learning out of band is not a refresh");
}

/// Two writers (two locations) and slow refreshes, interleaved at random: at every step,
/// every record at or below a copy's cursor is known to that copy, and after a last refresh
/// every copy knows every record.
#[test]
fn interleaved_writers_and_slow_refreshes_never_skip_a_record() {
    for seed in 1..=40u64 {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15 ^ seed.wrapping_mul(0x2545_f491_4f6c_dd1d));
        let mut w = World::new();
        let mut copies = [LedgerCopy::new(), LedgerCopy::new()];
        // A refresh asked for (its answer computed) and not yet applied, per copy.
        let mut pending: [Option<(SinceAnswer, Time)>; 2] = [None, None];
        let mut now = T0;
        let mut n = 0;
        for _ in 0..300 {
            now += 1 + rng.below(50) as Time;
            let who = rng.below(2);
            match rng.below(4) {
                0 | 1 => {
                    n += 1;
                    let targets: Vec<Target> =
                        (0..1 + rng.below(3)).map(|i| url(&format!("https://e.com/{n}/{i}"))).collect();
                    let answer = w.append(now, targets, false);
                    copies[who].apply_own(&answer, Time::MAX);
                }
                2 => {
                    if pending[who].is_none() {
                        let answer = w.since(copies[who].cursor());
                        pending[who] = Some((answer, now));
                    }
                }
                _ => {
                    if let Some((answer, sent)) = pending[who].take() {
                        copies[who].apply_answer(&answer, sent, Time::MAX);
                    }
                }
            }
            for copy in &copies {
                for record in w.rows.records.iter().filter(|r| r.seq <= copy.cursor()) {
                    assert_eq!(
                        copy.effect(record.target.value(), &[], record.at),
                        Some(Effect::Hard),
                        "seed {seed}: record {} is at or below the cursor {} but unknown",
                        record.seq,
                        copy.cursor()
                    );
                }
            }
        }
        for (who, copy) in copies.iter_mut().enumerate() {
            if let Some((answer, sent)) = pending[who].take() {
                copy.apply_answer(&answer, sent, Time::MAX);
            }
            w.refresh(copy, now + 1);
            for record in &w.rows.records {
                assert_eq!(
                    copy.effect(record.target.value(), &[], record.at),
                    Some(Effect::Hard),
                    "seed {seed}"
                );
            }
        }
    }
}

#[test]
fn an_answer_that_starts_after_the_cursor_is_applied_but_leaves_a_gap() {
    let mut w = World::new();
    w.append(T0, vec![url("https://e.com/1")], false);
    let mut copy = w.copy(T0);
    w.append(T0 + 1, vec![url("https://e.com/2")], false);
    w.append(T0 + 2, vec![url("https://e.com/3")], false);
    let later = w.since(2);
    assert_eq!(copy.apply_answer(&later, T0 + 3, Time::MAX), Progress::Gap);
    assert_eq!(copy.cursor(), 1);
    assert_eq!(copy.effect("https://e.com/3", &[], T0), Some(Effect::Hard));
    assert_eq!(copy.last_success(), Some(T0));
    w.refresh(&mut copy, T0 + 4);
    assert_eq!(copy.cursor(), 3);
    assert_eq!(copy.last_success(), Some(T0 + 4));
}

#[test]
fn another_epoch_or_a_ledger_behind_the_cursor_starts_the_copy_over() {
    let mut w = World::new();
    w.append(T0, vec![url("https://e.com/a"), url("https://e.com/b")], false);
    let mut copy = w.copy(T0);
    assert_eq!(copy.cursor(), 2);
    // The storage was lost: a new ledger, a new epoch, sequence numbers from 1 again.
    let mut fresh = Ledger::new(DAY_MS);
    let mut rows = MemoryRows::default();
    fresh
        .append(&mut rows, &order(vec![url("https://e.com/new")], false), T0 + 10, "e-other")
        .expect("append");
    let answer = fresh.since(&rows, copy.cursor()).expect("since");
    assert_eq!(copy.apply_answer(&answer, T0 + 11, Time::MAX), Progress::Gap, "another epoch");
    assert_eq!((copy.epoch(), copy.cursor()), (Some("e-other"), 0));
    let whole = fresh.since(&rows, 0).expect("since");
    assert_eq!(copy.apply_answer(&whole, T0 + 12, Time::MAX), Progress::Complete);
    assert_eq!(copy.effect("https://e.com/new", &[], T0), Some(Effect::Hard));
    assert_eq!(copy.effect("https://e.com/a", &[], T0), Some(Effect::Hard), "a purge is never unlearned");

    // Same epoch, but the head went back below the cursor.
    let behind = SinceAnswer {
        epoch: "e-other".into(),
        from: 5,
        to: 0,
        last_seq: 0,
        records: vec![],
        more: false,
        anchor: None,
        chain: String::new(),
    };
    let mut ahead = copy.clone();
    let second = fresh
        .append(&mut rows, &order(vec![url("https://e.com/x")], false), T0 + 12, "e-other")
        .expect("append");
    ahead.apply_own(&second, Time::MAX);
    assert_eq!(ahead.cursor(), 2);
    assert_eq!(ahead.apply_answer(&behind, T0 + 13, Time::MAX), Progress::Gap);
    assert_eq!(ahead.cursor(), 0);
}

// ---------------------------------------------------------------------------------------------
// Durability: restart, failed writes, read errors
// ---------------------------------------------------------------------------------------------

/// Rows that fail on demand.
#[derive(Default)]
struct FlakyRows {
    inner: MemoryRows,
    fail_reads: bool,
    /// Fail the commits whose 1-based numbers are listed.
    fail_commits: Vec<usize>,
    commits: usize,
}

impl LedgerRows for FlakyRows {
    fn head(&self) -> Result<Option<Head>, String> {
        if self.fail_reads {
            return Err("SQLITE_IOERR".into());
        }
        self.inner.head()
    }

    fn records(&self, after: u64, through: u64, limit: usize) -> Result<Vec<PurgeRecord>, String> {
        if self.fail_reads {
            return Err("SQLITE_IOERR".into());
        }
        self.inner.records(after, through, limit)
    }

    fn chain_at(&self, seq: u64) -> Result<Option<String>, String> {
        if self.fail_reads {
            return Err("SQLITE_IOERR".into());
        }
        self.inner.chain_at(seq)
    }

    fn nonce_seen(&self, nonce: &[u8], now: Time) -> Result<bool, String> {
        self.inner.nonce_seen(nonce, now)
    }

    fn commit(&mut self, write: &RowsWrite) -> Result<(), String> {
        self.commits += 1;
        if self.fail_commits.contains(&self.commits) {
            return Err("SQLITE_TOOBIG".into());
        }
        self.inner.commit(write)
    }
}

#[test]
fn a_restarted_ledger_continues_from_its_rows() {
    let mut w = World::new();
    for i in 0..10 {
        w.append(T0 + i, vec![url(&format!("https://e.com/{i}"))], false);
    }
    let mut copy = w.copy(T0 + 10);
    // The object restarts: a new instance over the same rows.
    let mut restarted = Ledger::new(DAY_MS);
    let next = restarted
        .append(&mut w.rows, &order(vec![url("https://e.com/after")], false), T0 + 20, "e-ignored")
        .expect("append");
    assert_eq!(next.records[0].seq, 11, "sequence numbers continue");
    assert_eq!(next.epoch, EPOCH, "the epoch is kept");
    let answer = restarted.since(&w.rows, copy.cursor()).expect("since");
    assert_eq!(copy.apply_answer(&answer, T0 + 21, Time::MAX), Progress::Complete);
    assert_eq!(copy.effect("https://e.com/after", &[], T0), Some(Effect::Hard));
}

#[test]
fn a_failed_write_records_nothing_and_the_next_one_follows_the_last_written() {
    let mut rows = FlakyRows { fail_commits: vec![2], ..Default::default() };
    let mut ledger = Ledger::new(DAY_MS);
    ledger.append(&mut rows, &order(vec![url("https://e.com/1")], false), T0, EPOCH).expect("first");
    let failed = ledger.append(&mut rows, &order(vec![url("https://e.com/2")], false), T0 + 1, EPOCH);
    assert!(matches!(failed, Err(LedgerError::Storage(_))), "{failed:?}");
    assert_eq!(failed.as_ref().map_err(LedgerError::status).err(), Some(503));
    assert_eq!(ledger.since(&rows, 0).expect("since").last_seq, 1, "nothing unsaved is served");
    let retried =
        ledger.append(&mut rows, &order(vec![url("https://e.com/2")], false), T0 + 2, EPOCH).expect("retry");
    assert_eq!(retried.records[0].seq, 2);
}

#[test]
fn a_storage_error_in_the_middle_of_a_burst_loses_no_purge() {
    // A plone.cachepurging burst: 30 PURGEs; the 7th and 8th writes fail, and each failed
    // purge is retried (as the isolate does) until the ledger takes it.
    let mut rows = FlakyRows { fail_commits: vec![7, 8, 19], ..Default::default() };
    let mut ledger = Ledger::new(DAY_MS);
    let mut copy = LedgerCopy::new();
    let mut now = T0;
    for i in 0..30 {
        now += 45;
        let o = order(vec![url(&format!("https://e.com/burst/{i}"))], false);
        let answer = loop {
            match ledger.append(&mut rows, &o, now, EPOCH) {
                Ok(a) => break a,
                Err(e) => {
                    assert_eq!(e.status(), 503);
                    now += 500;
                }
            }
        };
        copy.apply_own(&answer, Time::MAX);
        if i % 5 == 0 {
            let a = ledger.since(&rows, copy.cursor()).expect("since");
            copy.apply_answer(&a, now, Time::MAX);
        }
    }
    let a = ledger.since(&rows, copy.cursor()).expect("since");
    assert_eq!(copy.apply_answer(&a, now, Time::MAX), Progress::Complete);
    assert_eq!(rows.inner.records.len(), 30);
    assert_eq!(rows.inner.records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=30).collect::<Vec<u64>>());
    for i in 0..30 {
        assert_eq!(
            copy.effect(&format!("https://e.com/burst/{i}"), &[], T0),
            Some(Effect::Hard),
            "purge {i}"
        );
    }
}

#[test]
fn a_read_error_fails_the_request_and_never_starts_an_empty_ledger() {
    let mut rows = FlakyRows::default();
    let mut ledger = Ledger::new(DAY_MS);
    ledger.append(&mut rows, &order(vec![url("https://e.com/1")], false), T0, EPOCH).expect("append");
    let mut restarted = Ledger::new(DAY_MS);
    rows.fail_reads = true;
    assert!(matches!(restarted.since(&rows, 0), Err(LedgerError::Storage(_))));
    let append = restarted.append(&mut rows, &order(vec![url("https://e.com/2")], false), T0 + 1, "e-new");
    assert!(matches!(append, Err(LedgerError::Storage(_))), "no write over a ledger it could not read");
    rows.fail_reads = false;
    let ok = restarted
        .append(&mut rows, &order(vec![url("https://e.com/2")], false), T0 + 2, "e-new")
        .expect("append");
    assert_eq!((ok.epoch.as_str(), ok.records[0].seq), (EPOCH, 2));
}

#[test]
fn more_than_a_page_of_records_is_kept_and_served_in_pages() {
    let mut w = World::new();
    // Budgets wide enough for this many purges at once: this is about paging.
    let wide = BudgetLimits {
        credential_burst: 1 << 40,
        credential_per_minute: 0,
        global_burst: 1 << 40,
        global_per_minute: 0,
    };
    w.ledger = Ledger::with_budgets(DAY_MS, wide);
    // API purges of 1,000 URLs each: a page and a half of records.
    let purges = (PAGE_RECORDS + PAGE_RECORDS / 2) / 1000;
    let total = purges * 1000;
    for p in 0..purges as u64 {
        let targets = (0..1000).map(|i| url(&format!("https://e.com/{p}/{i}"))).collect();
        let o = AppendOrder { credential: Some(format!("c{p}")), ..order(targets, p % 2 == 1) };
        w.ledger.append(&mut w.rows, &o, T0 + p, EPOCH).expect("append");
    }
    assert_eq!(w.rows.records.len(), total);
    let first = w.since(0);
    assert_eq!(first.records.len(), PAGE_RECORDS);
    assert!(first.more);
    let mut copy = LedgerCopy::new();
    assert_eq!(copy.apply_answer(&first, T0 + 20, Time::MAX), Progress::More);
    assert_eq!(copy.last_success(), None, "one page is not a complete copy");
    w.refresh(&mut copy, T0 + 21);
    assert_eq!(copy.cursor(), total as u64);
    assert_eq!(copy.len(), total);
    let last = purges as u64 - 1;
    let want = if last % 2 == 1 { Effect::Soft { at: T0 + last } } else { Effect::Hard };
    assert_eq!(copy.effect(&format!("https://e.com/{last}/999"), &[], T0), Some(want));
    // Restarted, the ledger still has all of them and gives out the next number.
    let mut restarted = Ledger::new(DAY_MS);
    let next = restarted
        .append(&mut w.rows, &order(vec![url("https://e.com/x")], false), T0 + 30, "e")
        .expect("append");
    assert_eq!(next.records[0].seq, total as u64 + 1);
}

// ---------------------------------------------------------------------------------------------
// Nonces and compaction
// ---------------------------------------------------------------------------------------------

#[test]
fn a_nonce_is_applied_once_compared_on_its_bytes() {
    let mut w = World::new();
    let sig = "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";
    let mut o = order(vec![url(NEWS)], false);
    o.nonce = Some(sig.into());
    w.ledger.append(&mut w.rows, &o, T0, EPOCH).expect("first use");
    assert_eq!(w.ledger.append(&mut w.rows, &o, T0 + 1, EPOCH).err(), Some(LedgerError::Replayed));
    o.nonce = Some(sig.to_ascii_uppercase());
    assert_eq!(
        w.ledger.append(&mut w.rows, &o, T0 + 2, EPOCH).err(),
        Some(LedgerError::Replayed),
        "the same signature in upper-case hex is the same signature"
    );
    assert_eq!(w.ledger.append(&mut w.rows, &o, T0 + 2, EPOCH).map_err(|e| e.status()).err(), Some(409));
    o.nonce = Some("not hex".into());
    assert_eq!(w.ledger.append(&mut w.rows, &o, T0 + 3, EPOCH).map_err(|e| e.status()).err(), Some(400));
    assert_eq!(w.rows.records.len(), 1, "refused appends record nothing");
    // Nonces are rows with an expiry, dropped by later writes.
    assert_eq!(w.rows.nonces.len(), 1);
    w.append(T0 + NONCE_LIFETIME_MS + 1, vec![url(NEWS)], false);
    assert!(w.rows.nonces.is_empty());
}

#[test]
fn compaction_deletes_only_rows_that_can_no_longer_matter() {
    let mut w = World::new();
    w.append(T0, vec![url(NEWS)], false);
    w.append(T0 + DAY_MS, vec![Target::Tag("t".into())], false);
    assert_eq!(w.rows.records.len(), 2, "an entry sent just before T0 may still live");
    w.append(T0 + DAY_MS + 1, vec![Target::Tag("u".into())], false);
    assert_eq!(w.rows.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
    let next = w.append(T0 + DAY_MS + 2, vec![url(NEWS)], false);
    assert_eq!(next.records[0].seq, 4, "sequence numbers are never reused");
    // A copy far behind still completes: the compacted record is spent.
    let mut copy = LedgerCopy::new();
    w.refresh(&mut copy, T0 + DAY_MS + 3);
    assert_eq!(copy.cursor(), 4);
}

#[test]
fn a_copy_compacts_the_same_way() {
    let mut w = World::new();
    w.append(T0, vec![url(NEWS), Target::Prefix("https://a.example/x".into())], false);
    w.append(T0 + DAY_MS, vec![Target::Tag("t".into())], false);
    let mut copy = w.copy(T0 + DAY_MS);
    copy.compact(T0 + DAY_MS, DAY_MS);
    assert_eq!(copy.len(), 3);
    copy.compact(T0 + DAY_MS + 1, DAY_MS);
    assert_eq!(copy.len(), 1);
    assert_eq!(copy.effect("https://a.example/x", &tags(&["t"]), T0 + 1), Some(Effect::Hard));
    assert_eq!(copy.effect("https://a.example/x", &[], T0 - 1), None);
}

// ---------------------------------------------------------------------------------------------
// Fail mode
// ---------------------------------------------------------------------------------------------

#[test]
fn without_a_recent_refresh_old_entries_are_unverified_and_young_ones_served() {
    let mut w = World::new();
    let copy = w.copy(T0);
    let bound = BLOCKING_REFRESH_AFTER_MS;
    let margin = CLOCK_SKEW_MARGIN_MS;
    // Fresh copy: nothing is unverified.
    assert_eq!(copy.judge(NEWS, &[], T0 - DAY_MS, T0 + bound), None);
    let now = T0 + bound + 1;
    assert_eq!(copy.judge(NEWS, &[], T0 - DAY_MS, now), Some(Effect::Unverified { before: now - bound }));
    assert_eq!(
        copy.judge(NEWS, &[], now - bound + margin, now),
        Some(Effect::Unverified { before: now - bound })
    );
    assert_eq!(
        copy.judge(NEWS, &[], now - bound + margin + 1, now),
        None,
        "too young to miss an overdue purge"
    );
    // A copy that never completed a refresh.
    let never = LedgerCopy::new();
    assert!(matches!(never.judge(NEWS, &[], T0, T0 + 2 * bound), Some(Effect::Unverified { .. })));
    // A known purge is reported as such.
    w.append(T0 + 5, vec![url(NEWS)], true);
    let known = w.copy(T0 + 6);
    assert_eq!(known.judge(NEWS, &[], T0, T0 + 3 * bound), Some(Effect::Soft { at: T0 + 5 }));
}

#[test]
fn records_are_compact_json_and_round_trip() {
    let record = PurgeRecord {
        seq: 7,
        id: "p-7-5".into(),
        at: 5,
        target: url(NEWS),
        soft: false,
        chain: String::new(),
    };
    let json = serde_json::to_string(&record).expect("serialises");
    assert_eq!(json, r#"{"seq":7,"id":"p-7-5","at":5,"target":{"url":"https://www.example.com/news"}}"#);
    assert_eq!(serde_json::from_str::<PurgeRecord>(&json).ok(), Some(record));
    let soft = PurgeRecord {
        seq: 8,
        id: "p-8-5".into(),
        at: 5,
        target: Target::Tag("t".into()),
        soft: true,
        chain: String::new(),
    };
    let json = serde_json::to_string(&soft).expect("serialises");
    assert_eq!(json, r#"{"seq":8,"id":"p-8-5","at":5,"target":{"tag":"t"},"soft":true}"#);
    assert_eq!(serde_json::from_str::<PurgeRecord>(&json).ok(), Some(soft));
    for (kind, t) in
        [("url", url(NEWS)), ("prefix", Target::Prefix("p".into())), ("tag", Target::Tag("t".into()))]
    {
        assert_eq!(t.kind(), kind);
        assert_eq!(Target::from_row(kind, t.value().to_owned()), Some(t));
    }
    assert_eq!(Target::from_row("other", "x".into()), None);
}

#[test]
fn random_bytes_never_panic_the_answer_readers() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut w = World::new();
    w.append(T0, vec![url(NEWS)], false);
    let seed = serde_json::to_string(&w.since(0)).expect("json");
    let alphabet = br#"{}[]",:0123456789 epochfromtolast_seqrecordsmoreidattargeturlprefixtagsoft"#;
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 3 == 0 {
            let mut b = seed.as_bytes().to_vec();
            let at = rng.below(b.len());
            b[at] = rng.next() as u8;
            b
        } else {
            rng.text(alphabet, 79).into_bytes()
        };
        if let Ok(answer) = serde_json::from_slice::<SinceAnswer>(&bytes) {
            LedgerCopy::new().apply_answer(&answer, T0, Time::MAX);
        }
        let _ = serde_json::from_slice::<AppendOrder>(&bytes);
    }
}

#[test]
fn the_copy_reaches_exactly_what_each_target_reaches() {
    // The copy's indexed lookup and `Target::reaches` (the rule a location's own removal
    // sweeps by) agree on every URL: generated targets and URLs over a small alphabet, so
    // that prefixes, queries and near-misses (`/a` and `/ab`) meet often.
    let mut rng = XorShift(0x9e37_79b9);
    let pieces = ["/a", "/ab", "/a/", "/a/b", "?x=1", "?y", "/b"];
    let text = |rng: &mut XorShift| {
        let mut s = "https://s.example".to_string();
        for _ in 0..=rng.below(3) {
            s.push_str(pieces[rng.below(pieces.len())]);
        }
        s
    };
    for _ in 0..3000 {
        let value = text(&mut rng);
        let target = match rng.below(3) {
            0 => Target::Url(value),
            1 => Target::Prefix(value),
            _ => Target::Tag(format!("t{}", rng.below(3))),
        };
        let mut copy = LedgerCopy::new();
        copy.apply_local(std::slice::from_ref(&target), false, T0);
        let stored = text(&mut rng);
        let entry_tags = vec![format!("t{}", rng.below(3))];
        let by_copy = copy.effect(&stored, &entry_tags, T0 - 10).is_some();
        assert_eq!(by_copy, target.reaches(&stored, &entry_tags), "{target:?} on {stored}");
    }
    // A URL purge reaches the page under a tracking parameter.
    let mut copy = LedgerCopy::new();
    copy.apply_local(&[url(NEWS)], false, T0);
    assert!(copy.effect(&format!("{NEWS}?ref=newsletter"), &[], T0 - 10).is_some());
    assert!(copy.effect(&format!("{NEWS}letter?ref=x"), &[], T0 - 10).is_none());
}

// ---------------------------------------------------------------------------------------------
// A rewritten history: the ledger restored from an older copy
// ---------------------------------------------------------------------------------------------

/// A ledger with ten purges, a copy complete at 10, and the rows as they were at 5 (the
/// backup a restore brings back).
fn restored_world() -> (World, LedgerCopy, MemoryRows) {
    let mut w = World::new();
    let mut backup = MemoryRows::default();
    for i in 1..=10u64 {
        w.append(T0 + i, vec![url(&format!("https://e.com/{i}"))], false);
        if i == 5 {
            backup = w.rows.clone();
        }
    }
    let copy = w.copy(T0 + 20);
    assert_eq!(copy.cursor(), 10);
    (w, copy, backup)
}

#[test]
fn a_copy_past_a_restored_ledger_that_gave_its_numbers_out_again_starts_over() {
    let (_, mut copy, backup) = restored_world();
    // The object restarts over the restored rows (it remembers nothing), and seven purges
    // are recorded: sequence numbers 6 to 12 again, /x among them at 8.
    let mut restored = World { ledger: Ledger::new(DAY_MS), rows: backup };
    for i in 6..=12u64 {
        let target = if i == 8 { url("https://e.com/x") } else { url(&format!("https://e.com/new{i}")) };
        restored.append(T0 + 100 + i, vec![target], false);
    }
    assert_eq!(restored.rows.head.as_ref().map(|h| h.epoch.as_str()), Some(EPOCH), "same epoch");
    // Asked "after 10", the ledger answers 11 and 12: without the chain, /x (8) was never seen.
    let answer = restored.since(copy.cursor());
    assert_eq!(answer.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [11, 12]);
    assert_eq!(copy.apply_answer(&answer, T0 + 200, T0 + 200), Progress::Gap, "the chain at 10 differs");
    assert_eq!((copy.cursor(), copy.rewound()), (0, Some(T0 + 200)));
    // Meanwhile every entry sent before then is revalidated, however young.
    assert_eq!(
        copy.judge("https://e.com/x", &[], T0 + 199, T0 + 201),
        Some(Effect::Unverified { before: T0 + 200 })
    );
    assert_eq!(copy.judge("https://e.com/y", &[], T0 + 2_000, T0 + 2_001), None, "sent after: served");
    restored.refresh(&mut copy, T0 + 300);
    assert_eq!(copy.cursor(), 12);
    assert_eq!(copy.rewound(), None, "complete again");
    assert_eq!(copy.effect("https://e.com/x", &[], T0 + 50), Some(Effect::Hard), "the purge at 8 is known");
    assert_eq!(copy.effect("https://e.com/9", &[], T0), Some(Effect::Hard), "nothing learned is unlearned");
}

#[test]
fn an_own_purge_numbered_at_or_below_the_cursor_starts_the_copy_over() {
    let (_, mut copy, backup) = restored_world();
    let mut restored = World { ledger: Ledger::new(DAY_MS), rows: backup };
    let mine = restored.append(T0 + 100, vec![url("https://e.com/mine")], false);
    assert_eq!(mine.records[0].seq, 6);
    copy.apply_own(&mine, T0 + 100);
    assert_eq!((copy.cursor(), copy.rewound()), (0, Some(T0 + 100)));
    assert_eq!(copy.effect("https://e.com/mine", &[], T0), Some(Effect::Hard), "its own purge applies");
    // At the cursor + 1 but after another history: the anchor differs.
    let (_, mut copy, backup) = restored_world();
    let mut restored = World { ledger: Ledger::new(DAY_MS), rows: backup };
    for i in 6..=10u64 {
        restored.append(T0 + 100 + i, vec![url(&format!("https://e.com/other{i}"))], false);
    }
    let next = restored.append(T0 + 200, vec![url("https://e.com/next")], false);
    assert_eq!(next.records[0].seq, 11);
    copy.apply_own(&next, T0 + 200);
    assert_eq!(copy.cursor(), 0, "the chain before 11 is not the one this copy read");
}

#[test]
fn the_ledger_changes_epoch_when_it_finds_its_rows_gone_back() {
    // The rows go back under a running object: its next append notices.
    let (mut w, _, backup) = restored_world();
    w.rows = backup.clone();
    let after = w.ledger.append(&mut w.rows, &order(vec![url("https://e.com/a")], false), T0 + 100, "e-new");
    let after = after.expect("append");
    assert_eq!((after.epoch.as_str(), after.records[0].seq), ("e-new", 6));
    // A restarted object learns it from a copy that read further than its rows hold.
    let (_, copy, backup) = restored_world();
    let mut restarted = Ledger::new(DAY_MS);
    let mut rows = backup;
    let seen = copy.seen().expect("a position");
    assert_eq!(seen.seq, 10);
    let answer = restarted.since_checked(&mut rows, seen.seq, Some(&seen), "e-new").expect("since");
    assert_eq!((answer.epoch.as_str(), answer.last_seq), ("e-new", 5));
    // … or that read another record at a number it holds.
    let (_, copy, backup) = restored_world();
    let mut restarted = Ledger::new(DAY_MS);
    let mut rows = backup;
    for i in 6..=12u64 {
        restarted
            .append(&mut rows, &order(vec![url(&format!("https://e.com/o{i}"))], false), T0 + 100 + i, "x")
            .expect("append");
    }
    let seen = copy.seen().expect("a position");
    let answer = restarted.since_checked(&mut rows, seen.seq, Some(&seen), "e-new").expect("since");
    assert_eq!(answer.epoch, "e-new");
    // A copy that agrees changes nothing.
    let mut w = World::new();
    w.append(T0, vec![url(NEWS)], false);
    let copy = w.copy(T0 + 1);
    let seen = copy.seen().expect("a position");
    let answer = w.ledger.since_checked(&mut w.rows, 1, Some(&seen), "e-new").expect("since");
    assert_eq!(answer.epoch, EPOCH);
    // A copy of the new epoch starts over and completes from 0.
    let (_, mut copy, backup) = restored_world();
    let mut restarted = Ledger::new(DAY_MS);
    let mut rows = backup;
    let seen = copy.seen().expect("a position");
    let first = restarted.since_checked(&mut rows, seen.seq, Some(&seen), "e-new").expect("since");
    assert_eq!(copy.apply_answer(&first, T0 + 300, T0 + 300), Progress::Gap);
    let whole = restarted.since(&rows, 0).expect("since");
    assert_eq!(copy.apply_answer(&whole, T0 + 301, T0 + 301), Progress::Complete);
    assert_eq!((copy.epoch(), copy.cursor()), (Some("e-new"), 5));
}

#[test]
fn a_ledger_written_before_records_carried_a_chain_moves_to_a_chained_epoch() {
    let records = (1..=3)
        .map(|seq| PurgeRecord {
            seq,
            id: format!("p-{seq}"),
            at: T0,
            target: url(&format!("https://e.com/{seq}")),
            soft: false,
            chain: String::new(),
        })
        .collect();
    let head = Some(Head { epoch: "old".into(), last_seq: 3, chain: String::new() });
    let mut rows = MemoryRows { head, records, ..MemoryRows::default() };
    let mut ledger = Ledger::new(DAY_MS);
    let a = ledger.since_checked(&mut rows, 0, None, "e-chained").expect("since");
    assert_eq!((a.epoch.as_str(), a.last_seq, a.records.len()), ("e-chained", 3, 3));
    assert!(!a.chain.is_empty(), "the head has a chain to continue from");
    let mut copy = LedgerCopy::new();
    assert_eq!(copy.apply_answer(&a, T0, T0), Progress::Complete);
    let next = ledger.append(&mut rows, &order(vec![url(NEWS)], false), T0 + 1, "unused").expect("append");
    assert_eq!(next.anchor, a.chain);
    copy.apply_own(&next, T0 + 1);
    assert_eq!(copy.cursor(), 4, "the chain continues");
    let again = ledger.since_checked(&mut rows, 4, copy.seen().as_ref(), "e-other").expect("since");
    assert_eq!(again.epoch, "e-chained", "no further change");
    assert_eq!(copy.apply_answer(&again, T0 + 2, T0 + 2), Progress::Complete);
}

// ---------------------------------------------------------------------------------------------
// Signed purges recorded late
// ---------------------------------------------------------------------------------------------

#[test]
fn a_replayed_signature_is_refused_however_late_either_copy_reaches_the_ledger() {
    use rulecache::purge::ledger::SIGNED_RECORD_WINDOW_MS;
    let sig = "5a".repeat(32);
    let signed = |targets: Vec<Target>| AppendOrder {
        nonce: Some(sig.clone()),
        signed_at: Some(T0),
        ..order(targets, false)
    };
    // Recorded at once by the location that took it …
    let mut w = World::new();
    w.ledger.append(&mut w.rows, &signed(vec![url(NEWS)]), T0 + 1_000, EPOCH).expect("first use");
    // … replayed at another location while the ledger was unreachable, and retried from there
    // once it is back: refused within the window, refused after it (when the nonce alone could
    // have been forgotten: before, it was recorded a second time).
    let late = NONCE_LIFETIME_MS + 60_000;
    assert_eq!(
        w.ledger.append(&mut w.rows, &signed(vec![url(NEWS)]), T0 + 300_000, EPOCH).err(),
        Some(LedgerError::Replayed)
    );
    // An unrelated purge in between drops expired nonces.
    w.append(T0 + late - 1, vec![url("https://e.com/other")], false);
    let refused = w.ledger.append(&mut w.rows, &signed(vec![url(NEWS)]), T0 + late, EPOCH);
    assert!(matches!(refused, Err(LedgerError::BadOrder(_))), "{refused:?}");
    assert_eq!(w.rows.records.len(), 2, "recorded once");
    // The first use itself kept while the ledger was down is recorded within the window, and
    // its nonce is remembered until the window ends.
    let mut w = World::new();
    w.ledger
        .append(&mut w.rows, &signed(vec![url(NEWS)]), T0 + SIGNED_RECORD_WINDOW_MS, EPOCH)
        .expect("late first use");
    assert_eq!(
        w.ledger.append(&mut w.rows, &signed(vec![url(NEWS)]), T0 + SIGNED_RECORD_WINDOW_MS, EPOCH).err(),
        Some(LedgerError::Replayed)
    );
    assert!(w.rows.nonces.values().all(|expires| *expires >= T0 + SIGNED_RECORD_WINDOW_MS));
}

// ---------------------------------------------------------------------------------------------
// Budgets and the copy's memory bound
// ---------------------------------------------------------------------------------------------

#[test]
fn a_flood_of_tags_collapses_into_one_record_for_the_site() {
    use rulecache::purge::ledger::{CREDENTIAL_BURST_TARGETS, CREDENTIAL_TARGETS_PER_MINUTE};
    let mut w = World::new();
    let flood = |k: usize, soft: bool| AppendOrder {
        credential: Some("bearer".into()),
        site: Some("https://www.example.com/".into()),
        ..order((0..500).map(|i| Target::Tag(format!("flood-{k}-{i}"))).collect(), soft)
    };
    // 10,000 distinct tags in 20 orders within half a second.
    let mut collapsed = 0;
    for k in 0..20 {
        let a = w.ledger.append(&mut w.rows, &flood(k, false), T0 + 25 * k as Time, EPOCH).expect("append");
        if a.collapsed {
            collapsed += 1;
            assert_eq!(a.records.len(), 1);
            assert_eq!(a.records[0].target, Target::Prefix("https://www.example.com/".into()));
            assert!(!a.records[0].soft, "hard as asked");
        }
    }
    assert_eq!(collapsed, 10, "the first {CREDENTIAL_BURST_TARGETS} targets fit the budget");
    assert_eq!(w.rows.records.len(), CREDENTIAL_BURST_TARGETS as usize + 10, "not 10,000 rows");
    let copy = w.copy(T0 + 1_000);
    assert_eq!(copy.len(), CREDENTIAL_BURST_TARGETS as usize + 1);
    // What the flood asked for is purged (and more: the whole site, as it was before then).
    let page = "https://www.example.com/any/page";
    assert_eq!(copy.effect(page, &tags(&["flood-19-499"]), T0 + 400), Some(Effect::Hard));
    assert_eq!(copy.effect("https://other.example/x", &[], T0), None, "another site is not touched");
    // Another credential has its own budget; after a minute the flooder has some again.
    let other = AppendOrder { credential: Some("signed".into()), ..order(vec![url(NEWS)], true) };
    assert!(!w.ledger.append(&mut w.rows, &other, T0 + 600, EPOCH).expect("append").collapsed);
    let small = AppendOrder {
        credential: Some("bearer".into()),
        site: Some("https://www.example.com/".into()),
        ..order(
            (0..CREDENTIAL_TARGETS_PER_MINUTE).map(|i| Target::Tag(format!("later-{i}"))).collect(),
            false,
        )
    };
    assert!(w.ledger.append(&mut w.rows, &small, T0 + 600, EPOCH).expect("append").collapsed);
    assert!(!w.ledger.append(&mut w.rows, &small, T0 + 600 + 60_000, EPOCH).expect("append").collapsed);
    // URL and prefix floods collapse per site they name; an order that names no site at all
    // is refused rather than recorded without bound.
    let urls = AppendOrder {
        credential: Some("bearer".into()),
        ..order(
            (0..100)
                .map(|i| url(&format!("https://a.example/{i}")))
                .chain([Target::Prefix("https://b.example/x".into())])
                .collect(),
            true,
        )
    };
    let a = w.ledger.append(&mut w.rows, &urls, T0 + 61_000, EPOCH).expect("append");
    assert!(a.collapsed);
    let sites: Vec<Target> = a.records.iter().map(|r| r.target.clone()).collect();
    assert_eq!(
        sites,
        [Target::Prefix("https://a.example/".into()), Target::Prefix("https://b.example/".into())]
    );
    assert!(a.records.iter().all(|r| r.soft), "soft as asked");
    let bare = AppendOrder {
        credential: Some("bearer".into()),
        ..order((0..50).map(|i| Target::Tag(format!("t{i}"))).collect(), false)
    };
    assert!(matches!(w.ledger.append(&mut w.rows, &bare, T0 + 61_000, EPOCH), Err(LedgerError::BadOrder(_))));
}

#[test]
fn all_credentials_together_have_a_budget_too() {
    use rulecache::purge::ledger::GLOBAL_BURST_TARGETS;
    let mut w =
        World { ledger: Ledger::with_budgets(DAY_MS, BudgetLimits::default()), rows: MemoryRows::default() };
    let mut collapsed = 0;
    for c in 0..10 {
        let o = AppendOrder {
            credential: Some(format!("c{c}")),
            ..order((0..4_000).map(|i| url(&format!("https://e.com/{c}/{i}"))).collect(), false)
        };
        collapsed += usize::from(w.ledger.append(&mut w.rows, &o, T0 + c, EPOCH).expect("append").collapsed);
    }
    assert_eq!(collapsed, 5, "{GLOBAL_BURST_TARGETS} targets fit in all");
    // The setting that resizes them: four numbers, or the defaults.
    assert_eq!(
        BudgetLimits::from_setting(" 1, 2,3 ,4"),
        Some(BudgetLimits {
            credential_burst: 1,
            credential_per_minute: 2,
            global_burst: 3,
            global_per_minute: 4
        })
    );
    for bad in ["", "1,2,3", "1,2,3,x", "1,2,3,4,5", "-1,2,3,4"] {
        assert_eq!(BudgetLimits::from_setting(bad), None, "{bad:?}");
    }
}

#[test]
fn a_copy_past_its_memory_bound_collapses_the_oldest_into_a_mark_for_every_site() {
    let mut copy = LedgerCopy::with_max_targets(1_000);
    let mut w = World {
        ledger: Ledger::with_budgets(
            DAY_MS,
            rulecache::purge::ledger::BudgetLimits {
                credential_burst: u64::MAX / 4_000,
                credential_per_minute: 0,
                global_burst: u64::MAX / 4_000,
                global_per_minute: 0,
            },
        ),
        rows: MemoryRows::default(),
    };
    for i in 0..3_000u64 {
        w.append(T0 + i, vec![url(&format!("https://e.com/{i}"))], i % 2 == 0);
    }
    w.refresh(&mut copy, T0 + 5_000);
    assert!(copy.len() <= 1_000, "{} targets held", copy.len());
    let floor = copy.floor().expect("the oldest collapsed");
    assert!((T0 + 2_000..T0 + 3_000).contains(&floor), "{floor}");
    // Every record still reaches what it reached: an old hard purge is still hard …
    assert_eq!(copy.effect("https://e.com/1", &[], T0), Some(Effect::Hard));
    // … and an entry anywhere sent before the mark is purged too (never served stale) …
    assert_eq!(copy.effect("https://elsewhere.example/", &[], T0 + 10), Some(Effect::Hard));
    // … but not one sent after every collapsed record.
    assert_eq!(copy.effect("https://elsewhere.example/", &[], floor + CLOCK_SKEW_MARGIN_MS + 1), None);
    assert_eq!(
        copy.effect("https://e.com/2999", &[], T0 + 2_999),
        Some(Effect::Hard),
        "a recent one is held"
    );
    // The mark is spent like any record.
    copy.compact(T0 + 3_000 + DAY_MS + 1, DAY_MS);
    assert_eq!(copy.floor(), None);
}
