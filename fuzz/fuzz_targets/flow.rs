//! The whole request flow through `sim::run`: a few requests with fuzzed heads, answered by
//! an origin with fuzzed status, headers and body (or unreachable), on a moving clock, under
//! each shipped policy and one without rules.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use rulecache::policy::Policy;
use rulecache::storage::meta::{Meta, Purged};
use rulecache::storage::store::MemoryStore;
use rulecache::testing::sim::{self, OriginResult};

const T0: u64 = 1_800_000_000_000;

fn policy(u: &mut Unstructured) -> Result<Policy> {
    let profiles = Policy::profiles();
    let i = usize::from(u.arbitrary::<u8>()?) % (profiles.len() + 1);
    Ok(match profiles.get(i).and_then(|(id, _)| Policy::bundled(id)) {
        Some(p) => p,
        None => Policy::from_json(r#"{"version": 1, "name": "fuzz"}"#)
            .unwrap_or_else(|_| Policy::default_profile()),
    })
}

fn origin_answer(u: &mut Unstructured) -> Result<OriginResult> {
    if u.ratio(1, 8)? {
        return Ok(None);
    }
    let head = rulecache_fuzz::response(u, 10)?;
    let body: Vec<u8> = u.arbitrary()?;
    Ok(Some((head, body)))
}

fn run(data: &[u8]) -> Result<()> {
    let mut u = Unstructured::new(data);
    let policy = policy(&mut u)?;
    let mut store = MemoryStore::new();
    let mut answers: Vec<OriginResult> = Vec::new();
    for _ in 0..u.int_in_range(1..=4)? {
        answers.push(origin_answer(&mut u)?);
    }
    let mut next = 0usize;
    let mut origin = |_: &rulecache::http::RequestHead| -> OriginResult {
        let a = answers.get(next % answers.len()).cloned().flatten();
        next += 1;
        a
    };
    let purge = u.int_in_range(0..=2u8)?;
    let purged: &dyn Fn(&Meta) -> Purged = &|m: &Meta| match purge {
        0 => Purged::No,
        1 => Purged::Hard,
        _ => Purged::Soft { at: m.stored_at },
    };
    let mut now = T0;
    for _ in 0..u.int_in_range(1..=4)? {
        let Some(req) = rulecache_fuzz::request(&mut u, 10)? else { return Ok(()) };
        let ex = sim::run(&policy, &mut store, &mut origin, req, now, purged);
        let _ = (ex.text(), ex.outcome, ex.ruleset);
        now = now.saturating_add(u.int_in_range(0..=86_400_000u64)?);
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(data);
});
