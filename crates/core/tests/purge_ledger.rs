//! Test code: a failed `expect` or index is a failed test.
#![allow(clippy::expect_used, clippy::indexing_slicing)]

use rulecache::http::Time;
use rulecache::purge::ledger::{
    Effect, Ledger, LedgerCopy, PurgeRecord, Refresh, Target, BACKGROUND_REFRESH_AFTER_MS,
    BLOCKING_REFRESH_AFTER_MS,
};
use rulecache::testing::XorShift;

const T0: Time = 1_700_000_000_000;
const NEWS: &str = "https://www.example.com/news";
const DAY_MS: Time = 86_400_000;

fn url(s: &str) -> Target {
    Target::Url(s.to_owned())
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| (*t).to_owned()).collect()
}

/// A copy holding everything `ledger` has, fetched at `at`.
fn copy_of(ledger: &Ledger, at: Time) -> LedgerCopy {
    let mut copy = LedgerCopy::new();
    copy.apply(ledger.since(0), at);
    copy
}

#[test]
fn the_propagation_bounds_are_two_and_ten_seconds() {
    assert_eq!(BACKGROUND_REFRESH_AFTER_MS, 2_000);
    assert_eq!(BLOCKING_REFRESH_AFTER_MS, 10_000);
}

#[test]
fn append_numbers_records_and_gives_one_id_per_purge() {
    let mut ledger = Ledger::new();
    let (first, records) = ledger.append(T0, vec![url(NEWS), Target::Tag("a".into()), url(NEWS)], true);
    assert_eq!(first, format!("p-1-{T0}"));
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2], "duplicates are recorded once");
    assert!(records.iter().all(|r| r.id == first && r.at == T0 && r.soft));
    let (second, records) = ledger.append(T0 + 5, vec![Target::Prefix(NEWS.into())], false);
    assert_eq!(second, format!("p-3-{}", T0 + 5));
    assert_eq!(records.first().map(|r| r.seq), Some(3));
    assert_eq!(ledger.last_seq(), 3);
    assert_eq!(ledger.since(1).iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
    assert!(ledger.since(3).is_empty());
    assert_eq!(ledger.since(0).len(), 3);
}

#[test]
fn a_url_purge_reaches_entries_stored_at_or_before_it() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS)], false);
    let copy = copy_of(&ledger, T0);
    assert_eq!(copy.effect(NEWS, &[], T0 - 1), Some(Effect::Hard));
    assert_eq!(copy.effect(NEWS, &[], T0), Some(Effect::Hard));
    assert_eq!(copy.effect(NEWS, &[], T0 + 1), None, "stored after the purge");
    assert_eq!(copy.effect("https://www.example.com/news/", &[], T0 - 1), None, "another URL");
    assert_eq!(copy.effect("https://other.example/news", &[], T0 - 1), None, "another host");
}

#[test]
fn a_tag_purge_reaches_entries_carrying_the_tag() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![Target::Tag("page-7".into())], false);
    let copy = copy_of(&ledger, T0);
    assert_eq!(copy.effect(NEWS, &tags(&["front", "page-7"]), T0 - 1), Some(Effect::Hard));
    assert_eq!(copy.effect(NEWS, &tags(&["front"]), T0 - 1), None);
    assert_eq!(copy.effect(NEWS, &tags(&["Page-7"]), T0 - 1), None, "tags are case-sensitive");
    assert_eq!(copy.effect(NEWS, &tags(&["page-7"]), T0 + 1), None);
}

#[test]
fn a_prefix_purge_is_a_plain_string_prefix_with_the_host() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![Target::Prefix(NEWS.into())], false);
    let copy = copy_of(&ledger, T0);
    for key in [NEWS, "https://www.example.com/news/2024/a?x=1", "https://www.example.com/newsletter"] {
        assert_eq!(copy.effect(key, &[], T0 - 1), Some(Effect::Hard), "{key}");
    }
    for key in ["https://www.example.com/new", "https://www.example.com/", "https://cdn.example.com/news/a"] {
        assert_eq!(copy.effect(key, &[], T0 - 1), None, "{key}");
    }
}

#[test]
fn many_prefixes_of_different_lengths_are_all_found() {
    let mut ledger = Ledger::new();
    let prefixes: Vec<Target> =
        (0..200).map(|i| Target::Prefix(format!("https://h.example/{}", "d/".repeat(i)))).collect();
    ledger.append(T0, prefixes, false);
    ledger.append(T0 + 10, vec![Target::Prefix("https://h.example/é".into())], true);
    let copy = copy_of(&ledger, T0 + 10);
    assert_eq!(copy.effect(&format!("https://h.example/{}x", "d/".repeat(150)), &[], T0), Some(Effect::Hard));
    assert_eq!(copy.effect("https://h.example/éa", &[], T0 + 1), Some(Effect::Soft { at: T0 + 10 }));
    assert_eq!(copy.effect("https://h.example/€", &[], T0 + 1), None, "a prefix length inside a character");
    assert_eq!(copy.effect("https://other.example/", &[], T0), None);
}

#[test]
fn hard_wins_over_soft_and_soft_reports_the_latest_time() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS)], true);
    ledger.append(T0 + 100, vec![Target::Tag("t".into())], true);
    ledger.append(T0 + 50, vec![Target::Prefix("https://www.example.com/".into())], false);
    let copy = copy_of(&ledger, T0 + 100);
    assert_eq!(copy.effect(NEWS, &[], T0 + 20), Some(Effect::Hard), "hard prefix purge at +50");
    assert_eq!(copy.effect(NEWS, &tags(&["t"]), T0 + 60), Some(Effect::Soft { at: T0 + 100 }));
    assert_eq!(copy.effect(NEWS, &[], T0 + 60), None);
    assert_eq!(
        copy.effect("https://other.example/", &tags(&["t"]), T0 - 5),
        Some(Effect::Soft { at: T0 + 100 })
    );
}

#[test]
fn a_soft_purge_marks_stale_with_its_time() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS)], true);
    ledger.append(T0 + 30, vec![url(NEWS)], true);
    let copy = copy_of(&ledger, T0 + 30);
    assert_eq!(copy.effect(NEWS, &[], T0 - 1), Some(Effect::Soft { at: T0 + 30 }));
    assert_eq!(copy.effect(NEWS, &[], T0 + 31), None);
}

#[test]
fn an_empty_copy_affects_nothing() {
    let copy = LedgerCopy::new();
    assert!(copy.is_empty());
    assert_eq!(copy.effect(NEWS, &tags(&["t"]), 0), None);
}

#[test]
fn a_copy_applies_only_newer_records() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS)], true);
    let mut copy = copy_of(&ledger, T0);
    assert_eq!(copy.last_seq(), 1);

    ledger.append(T0 + 10, vec![Target::Tag("t".into())], false);
    copy.apply(ledger.since(copy.last_seq()), T0 + 10);
    assert_eq!(copy.last_seq(), 2);
    assert_eq!(copy.effect(NEWS, &tags(&["t"]), T0 + 5), Some(Effect::Hard));

    // Records already applied are ignored, even when sent again with other contents.
    let replayed = PurgeRecord { seq: 1, id: "p-1-x".into(), at: T0 + 999, target: url(NEWS), soft: false };
    copy.apply(&[replayed], T0 + 20);
    assert_eq!(copy.effect(NEWS, &[], T0 + 5), None);
    assert_eq!(copy.last_seq(), 2);
}

#[test]
fn refresh_is_background_after_two_seconds_and_blocking_after_ten() {
    let mut copy = LedgerCopy::new();
    assert_eq!(copy.refresh_due(T0), Refresh::Blocking, "never fetched");
    copy.apply(&[], T0);
    assert_eq!(copy.last_fetch(), Some(T0));
    assert_eq!(copy.refresh_due(T0 + 1_999), Refresh::No);
    assert_eq!(copy.refresh_due(T0 + 2_000), Refresh::Background);
    assert_eq!(copy.refresh_due(T0 + 9_999), Refresh::Background);
    assert_eq!(copy.refresh_due(T0 + 10_000), Refresh::Blocking);
    assert_eq!(copy.refresh_due(T0 - 5), Refresh::No, "a clock that steps back");
}

#[test]
fn a_background_refresh_in_flight_is_not_started_twice() {
    let mut copy = LedgerCopy::new();
    copy.apply(&[], T0);
    copy.refresh_started(T0 + 2_000);
    assert_eq!(copy.refresh_due(T0 + 2_500), Refresh::No);
    assert_eq!(copy.refresh_due(T0 + 4_000), Refresh::Background, "the first one seems lost");
    assert_eq!(copy.refresh_due(T0 + 10_000), Refresh::Blocking);
    copy.apply(&[], T0 + 3_000);
    assert_eq!(copy.refresh_due(T0 + 4_000), Refresh::No);
}

#[test]
fn compaction_drops_only_records_that_can_no_longer_matter() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS)], false);
    ledger.append(T0 + DAY_MS, vec![Target::Tag("t".into())], false);
    assert_eq!(ledger.compact(T0 + DAY_MS, DAY_MS), 0, "an entry stored just before T0 may still live");
    assert_eq!(ledger.compact(T0 + DAY_MS + 1, DAY_MS), 1);
    assert_eq!(ledger.since(0).iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
    assert_eq!(ledger.last_seq(), 2, "sequence numbers are never reused");
    let (_, records) = ledger.append(T0 + DAY_MS + 2, vec![url(NEWS)], false);
    assert_eq!(records.first().map(|r| r.seq), Some(3));
}

#[test]
fn a_copy_compacts_the_same_way() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS), Target::Prefix("https://a.example/x".into())], false);
    ledger.append(T0 + DAY_MS, vec![Target::Tag("t".into())], false);
    let mut copy = copy_of(&ledger, T0 + DAY_MS);
    copy.compact(T0 + DAY_MS, DAY_MS);
    assert_eq!(copy.len(), 3);
    copy.compact(T0 + DAY_MS + 1, DAY_MS);
    assert_eq!(copy.len(), 1);
    assert_eq!(copy.effect("https://a.example/x", &tags(&["t"]), T0 + 1), Some(Effect::Hard));
    assert_eq!(copy.effect("https://a.example/x", &[], T0 - 1), None);
}

#[test]
fn records_are_compact_json_and_round_trip() {
    let record = PurgeRecord { seq: 7, id: "p-7-5".into(), at: 5, target: url(NEWS), soft: false };
    let json = serde_json::to_string(&record).expect("serialises");
    assert_eq!(json, r#"{"seq":7,"id":"p-7-5","at":5,"target":{"url":"https://www.example.com/news"}}"#);
    assert_eq!(serde_json::from_str::<PurgeRecord>(&json).ok(), Some(record));
    let soft = PurgeRecord { seq: 8, id: "p-8-5".into(), at: 5, target: Target::Tag("t".into()), soft: true };
    let json = serde_json::to_string(&soft).expect("serialises");
    assert_eq!(json, r#"{"seq":8,"id":"p-8-5","at":5,"target":{"tag":"t"},"soft":true}"#);
    assert_eq!(serde_json::from_str::<PurgeRecord>(&json).ok(), Some(soft));
}

#[test]
fn a_ledger_round_trips_through_json() {
    let mut ledger = Ledger::new();
    ledger.append(T0, vec![url(NEWS), Target::Prefix(NEWS.into())], true);
    ledger.append(T0 + 1, vec![Target::Tag("t".into())], false);
    ledger.compact(T0 + DAY_MS + 1, DAY_MS - 1);
    let json = ledger.to_json();
    let read = Ledger::from_json(&json);
    assert_eq!(read.as_ref().ok(), Some(&ledger));
    assert_eq!(read.map(|l| l.last_seq()), Ok(3));
    assert_eq!(Ledger::from_json(&Ledger::new().to_json()), Ok(Ledger::new()));
}

#[test]
fn a_damaged_ledger_is_refused_with_a_reason() {
    assert_eq!(
        Ledger::from_json(r#"{"version":2,"last_seq":0,"records":[]}"#),
        Err("the purge ledger has unknown format version 2".to_owned())
    );
    let out_of_order = r#"{"version":1,"last_seq":5,"records":[
        {"seq":4,"id":"a","at":1,"target":{"tag":"t"}},{"seq":3,"id":"a","at":1,"target":{"tag":"t"}}]}"#;
    assert_eq!(
        Ledger::from_json(out_of_order),
        Err("the purge ledger's records are out of order".to_owned())
    );
    let beyond = r#"{"version":1,"last_seq":1,"records":[{"seq":4,"id":"a","at":1,"target":{"tag":"t"}}]}"#;
    assert_eq!(Ledger::from_json(beyond), Err("the purge ledger's records are out of order".to_owned()));
    let not_json = Ledger::from_json("{");
    assert!(not_json.is_err_and(|e| e.starts_with("the purge ledger is not valid JSON: ")));
}

#[test]
fn random_bytes_never_panic_the_ledger_reader() {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let seed = Ledger::new().to_json();
    let alphabet = br#"{}[]",:0123456789 versionlast_seqrecordsidattargeturlprefixtagsoft"#;
    for round in 0..20_000 {
        let bytes: Vec<u8> = if round % 3 == 0 {
            let mut b = seed.as_bytes().to_vec();
            let at = rng.below(b.len());
            b[at] = rng.next() as u8;
            b
        } else {
            rng.text(alphabet, 79).into_bytes()
        };
        let _ = Ledger::from_json(&String::from_utf8_lossy(&bytes));
        let _ = serde_json::from_slice::<PurgeRecord>(&bytes);
    }
}
