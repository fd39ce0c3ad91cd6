//! A deterministic simulation of the fleet's statistics, on the core's own rules
//! (`storage::stats` and `storage::stats::fleet`): I isolates in 300 locations (isolates spread
//! over the locations by a Zipf law, so the busiest location holds about a sixth of them),
//! Poisson request traffic, each isolate flushing to its location's shard after a request
//! when due, each shard forwarding to the global roll-up after a flush when due (or on its
//! alarm, for what it holds when no flush comes); 1 % of the
//! answers are lost (the sender retries what was counted: exactly once is checked). Time is
//! simulated; nothing is measured on the machine's clock.
//!
//!   make bench-fleet-sim              (1k, 10k and 100k isolates)
//!   FLEET_SIM_ISOLATES=10000 cargo bench --bench fleet_sim
//!
//! Reports, per size: requests per second at the busiest location's shard (mean and busiest
//! second) and at the roll-up, the interval the busiest shard advised, and the staleness of
//! the roll-up's figures (the age of a request when it reaches the roll-up: mean, p99 of the
//! oldest per report, max), and whether the roll-up's totals equal what was served once
//! everything pending is flushed. Writes `bench-results/fleet-sim.json`.
//!
//! Simulation code: an index out of range is a bug of the simulation, and fails it.
#![allow(clippy::indexing_slicing)]

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use rulecache::http::Time;
use rulecache::storage::stats::fleet::{
    Applied, FlushReport, LocationReport, LocationShard, Rollup, DEFAULT_INTERVAL_MS, FLUSH_GIVE_UP_MS,
    MAX_ADVISED_INTERVAL_MS,
};
use rulecache::storage::stats::{Outcome, Served, Stats};
use rulecache::testing::XorShift;

const LOCATIONS: usize = 300;
/// Requests per second per isolate.
const RATE_PER_S: f64 = 0.5;
const END_MS: Time = 240_000;
/// Load and staleness are measured after this (every interval has settled).
const WARM_UP_MS: Time = 60_000;
/// An isolate's flush reaches its shard, and is answered, in this long.
const SHARD_RTT_MS: Time = 10;
/// Share of answers lost (the report was counted, the sender does not know).
const LOST: f64 = 0.01;
const RULESETS: [&str; 5] =
    ["plone.content.itemView", "plone.resource", "plone.content.file", "(default)", "feed"];

/// Round trip from a location to the roll-up: 20–250 ms.
fn rtt(loc: usize) -> Time {
    20 + ((loc as u64).wrapping_mul(7919) % 231)
}

/// Sim-side bookkeeping of what a report carries: how many requests, the sum of their answer
/// times, the oldest.
#[derive(Clone, Copy, Default)]
struct Ages {
    count: u64,
    sum: u128,
    oldest: Time,
}

impl Ages {
    fn add(&mut self, other: Ages) {
        if other.count == 0 {
            return;
        }
        self.oldest = if self.count == 0 { other.oldest } else { self.oldest.min(other.oldest) };
        self.count += other.count;
        self.sum += other.sum;
    }
}

enum Ev {
    Request(usize),
    FlushArrives(usize, FlushReport),
    FlushAnswer(usize, FlushReport, Option<Time>),
    ReportArrives(usize, LocationReport),
    ReportAnswer(usize, LocationReport, bool),
    /// A shard's alarm: what it could not forward with the last flush.
    Alarm(usize),
}

struct Sim {
    queue: BinaryHeap<Reverse<(Time, u64, usize)>>,
    events: Vec<Option<Ev>>,
    n: u64,
}

impl Sim {
    fn at(&mut self, t: Time, ev: Ev) {
        self.n += 1;
        self.events.push(Some(ev));
        self.queue.push(Reverse((t, self.n, self.events.len() - 1)));
    }
}

struct Outcome_ {
    isolates: usize,
    busiest_location_isolates: usize,
    shard_mean_rps: f64,
    shard_peak_rps: u32,
    advised_ms: Time,
    rollup_mean_rps: f64,
    rollup_peak_rps: u32,
    stale_mean_ms: f64,
    stale_p99_ms: Time,
    stale_max_ms: Time,
    served: u64,
    counted: u64,
    duplicates: u64,
}

fn poisson_gap(rng: &mut XorShift, rate_per_s: f64) -> Time {
    let u = (rng.next() % 1_000_000 + 1) as f64 / 1_000_001.0;
    (-u.ln() / rate_per_s * 1000.0) as Time + 1
}

fn simulate(isolates: usize) -> Outcome_ {
    let mut rng = XorShift(0x5eed_f1ee7 ^ isolates as u64);
    // Zipf over locations.
    let weights: Vec<f64> = (0..LOCATIONS).map(|l| 1.0 / (l as f64 + 1.0)).collect();
    let total_w: f64 = weights.iter().sum();
    let location_of: Vec<usize> = (0..isolates)
        .map(|_| {
            let mut x = (rng.next() % 1_000_000) as f64 / 1_000_000.0 * total_w;
            for (l, w) in weights.iter().enumerate() {
                if x < *w {
                    return l;
                }
                x -= w;
            }
            LOCATIONS - 1
        })
        .collect();
    let mut per_location = vec![0usize; LOCATIONS];
    for l in &location_of {
        per_location[*l] += 1;
    }
    let busiest = (0..LOCATIONS).max_by_key(|l| per_location[*l]).unwrap_or(0);
    let names: Vec<String> = (0..LOCATIONS).map(|l| format!("L{l:03}")).collect();
    let iso_names: Vec<String> = (0..isolates).map(|i| format!("i{i}")).collect();

    let mut stats: Vec<Stats> = (0..isolates).map(|_| Stats::new(0)).collect();
    let mut pending_ages: Vec<Ages> = vec![Ages::default(); isolates];
    let mut sent_seq: Vec<u64> = vec![0; isolates];
    let mut forward_seq: Vec<u64> = vec![0; LOCATIONS];
    let mut flush_ages: HashMap<(usize, u64), Ages> = HashMap::new();
    let mut shards: Vec<LocationShard> = names.iter().map(|n| LocationShard::new(n, 0)).collect();
    let mut unsent_ages: Vec<Ages> = vec![Ages::default(); LOCATIONS];
    let mut report_ages: HashMap<(usize, u64), Ages> = HashMap::new();
    let mut rollup = Rollup::new(0);
    let mut alarm_at: Vec<Option<Time>> = vec![None; LOCATIONS];

    let mut shard_load: HashMap<(usize, Time), u32> = HashMap::new();
    let mut rollup_load: HashMap<Time, u32> = HashMap::new();
    let (mut stale_sum, mut stale_count) = (0u128, 0u64);
    let mut oldest_ages: Vec<Time> = Vec::new();
    let (mut served, mut duplicates) = (0u64, 0u64);

    let mut sim = Sim { queue: BinaryHeap::new(), events: Vec::new(), n: 0 };
    // A shard forwards what is due, then sets its alarm for what stays unsent.
    macro_rules! forward {
        ($loc:expr, $now:expr) => {{
            let (loc, now) = ($loc, $now);
            if let Some(forward) = shards[loc].take_forward(DEFAULT_INTERVAL_MS, now) {
                if forward.seq > forward_seq[loc] {
                    forward_seq[loc] = forward.seq;
                    report_ages.insert((loc, forward.seq), std::mem::take(&mut unsent_ages[loc]));
                }
                sim.at(now + rtt(loc) / 2, Ev::ReportArrives(loc, forward));
            }
            if let Some(at) = shards[loc].forward_due_at(DEFAULT_INTERVAL_MS) {
                let at = at.max(now + 1);
                if alarm_at[loc].is_none_or(|a| a > at) {
                    alarm_at[loc] = Some(at);
                    sim.at(at, Ev::Alarm(loc));
                }
            }
        }};
    }
    for i in 0..isolates {
        let gap = poisson_gap(&mut rng, RATE_PER_S);
        sim.at(gap, Ev::Request(i));
    }
    while let Some(Reverse((now, _, slot))) = sim.queue.pop() {
        let Some(ev) = sim.events[slot].take() else { continue };
        match ev {
            Ev::Request(i) => {
                if now > END_MS {
                    continue;
                }
                let r = rng.next();
                let outcome = match r % 10 {
                    0..=5 => Outcome::Hit,
                    6 | 7 => Outcome::Miss,
                    8 => Outcome::Bypass,
                    _ => Outcome::Revalidated304,
                };
                let origin_ms = matches!(outcome, Outcome::Miss | Outcome::Bypass).then_some(20 + r % 400);
                stats[i].record(
                    &Served {
                        ruleset: Some(RULESETS[(r / 10 % 5) as usize]),
                        outcome,
                        status: 200,
                        not_stored: (outcome == Outcome::Bypass).then_some("anon-only"),
                        bytes_from_cache: if outcome == Outcome::Hit { 2_000 } else { 0 },
                        bytes_from_origin: if origin_ms.is_some() { 2_000 } else { 0 },
                        origin_ms,
                    },
                    now,
                );
                served += 1;
                pending_ages[i].add(Ages { count: 1, sum: u128::from(now), oldest: now });
                let loc = location_of[i];
                if let Some(report) =
                    stats[i].take_flush(&iso_names[i], &names[loc], None, DEFAULT_INTERVAL_MS, now)
                {
                    // A new flush carries the requests counted since the last; a flush sent
                    // again carries what it carried.
                    if report.seq > sent_seq[i] {
                        sent_seq[i] = report.seq;
                        flush_ages.insert((i, report.seq), std::mem::take(&mut pending_ages[i]));
                    }
                    sim.at(now + SHARD_RTT_MS / 2, Ev::FlushArrives(i, report));
                }
                let gap = poisson_gap(&mut rng, RATE_PER_S);
                sim.at(now + gap, Ev::Request(i));
            }
            Ev::FlushArrives(i, report) => {
                let loc = location_of[i];
                if (WARM_UP_MS..=END_MS).contains(&now) {
                    *shard_load.entry((loc, now / 1000)).or_default() += 1;
                }
                let shard = &mut shards[loc];
                if shard.apply(&report, now) == Applied::Counted {
                    if let Some(ages) = flush_ages.remove(&(i, report.seq)) {
                        unsent_ages[loc].add(ages);
                    }
                } else {
                    duplicates += 1;
                }
                let advised = shard.advised_interval(DEFAULT_INTERVAL_MS, now);
                forward!(loc, now);
                let lost = (rng.next() % 10_000) as f64 / 10_000.0 < LOST;
                sim.at(now + SHARD_RTT_MS / 2, Ev::FlushAnswer(i, report, (!lost).then_some(advised)));
            }
            Ev::FlushAnswer(i, report, answer) => match answer {
                Some(advised) => {
                    stats[i].flushed(&report);
                    stats[i].flush.advise(advised);
                }
                None => stats[i].flush_failed(report),
            },
            Ev::ReportArrives(loc, report) => {
                if (WARM_UP_MS..=END_MS).contains(&now) {
                    *rollup_load.entry(now / 1000).or_default() += 1;
                }
                if rollup.apply(&report, now) == Applied::Counted {
                    if let Some(ages) = report_ages.remove(&(loc, report.seq)) {
                        if ages.count > 0 && now >= WARM_UP_MS {
                            stale_sum += u128::from(now) * u128::from(ages.count) - ages.sum;
                            stale_count += ages.count;
                            oldest_ages.push(now - ages.oldest);
                        }
                    }
                } else {
                    duplicates += 1;
                }
                let lost = (rng.next() % 10_000) as f64 / 10_000.0 < LOST;
                sim.at(now + rtt(loc) / 2, Ev::ReportAnswer(loc, report, !lost));
            }
            Ev::ReportAnswer(loc, report, ok) => {
                if ok {
                    shards[loc].forwarded(&report);
                } else {
                    shards[loc].forward_failed(report);
                }
                forward!(loc, now);
            }
            Ev::Alarm(loc) => {
                if alarm_at[loc] != Some(now) {
                    continue;
                }
                alarm_at[loc] = None;
                forward!(loc, now);
            }
        }
    }
    // Everything pending flushed, without losses: every isolate, then every shard.
    let later = END_MS + MAX_ADVISED_INTERVAL_MS + FLUSH_GIVE_UP_MS + 1_000;
    for round in 0..2 {
        let now = later * (round + 1);
        for i in 0..isolates {
            if let Some(report) =
                stats[i].take_flush(&iso_names[i], &names[location_of[i]], None, DEFAULT_INTERVAL_MS, now)
            {
                if shards[location_of[i]].apply(&report, now) == Applied::Duplicate {
                    duplicates += 1;
                }
                stats[i].flushed(&report);
            }
        }
        for shard in shards.iter_mut() {
            if let Some(report) = shard.take_forward(DEFAULT_INTERVAL_MS, now) {
                if rollup.apply(&report, now) == Applied::Duplicate {
                    duplicates += 1;
                }
                shard.forwarded(&report);
            }
        }
    }
    let seconds = ((END_MS - WARM_UP_MS) / 1000) as f64;
    let busiest_loads: Vec<u32> =
        shard_load.iter().filter(|((l, _), _)| *l == busiest).map(|(_, n)| *n).collect();
    oldest_ages.sort_unstable();
    let p99 = oldest_ages.get(oldest_ages.len().saturating_sub(1) * 99 / 100).copied().unwrap_or(0);
    Outcome_ {
        isolates,
        busiest_location_isolates: per_location[busiest],
        shard_mean_rps: busiest_loads.iter().map(|n| f64::from(*n)).sum::<f64>() / seconds,
        shard_peak_rps: busiest_loads.iter().copied().max().unwrap_or(0),
        advised_ms: shards[busiest].advised,
        rollup_mean_rps: rollup_load.values().map(|n| f64::from(*n)).sum::<f64>() / seconds,
        rollup_peak_rps: rollup_load.values().copied().max().unwrap_or(0),
        stale_mean_ms: if stale_count == 0 { 0.0 } else { stale_sum as f64 / stale_count as f64 },
        stale_p99_ms: p99,
        stale_max_ms: oldest_ages.last().copied().unwrap_or(0),
        served,
        counted: rollup.figures.total().requests(),
        duplicates,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once, small, as a
    // check that nothing is lost or counted twice. The sizes come from the environment.
    let benching = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("FLEET_SIM_ISOLATES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if benching => vec![1_000, 10_000, 100_000],
        Err(_) => vec![LOCATIONS],
    };
    println!(
        "fleet statistics simulation: {LOCATIONS} locations (Zipf), {RATE_PER_S} req/s per isolate, {} s (measured after {} s), flush interval {} s, {} % of answers lost",
        END_MS / 1000,
        WARM_UP_MS / 1000,
        DEFAULT_INTERVAL_MS / 1000,
        LOST * 100.0
    );
    println!("| isolates | busiest location: isolates, shard req/s mean (busiest s), advised interval | roll-up req/s mean (busiest s) | staleness mean / p99 / max | served = counted |");
    println!("|---:|---:|---:|---:|---:|");
    let mut rows = Vec::new();
    for isolates in sizes {
        let r = simulate(isolates);
        println!(
            "| {} | {}, {:.0} ({}), {} s | {:.1} ({}) | {:.1} / {:.1} / {:.1} s | {} = {} ({} repeats not counted) |",
            r.isolates,
            r.busiest_location_isolates,
            r.shard_mean_rps,
            r.shard_peak_rps,
            r.advised_ms / 1000,
            r.rollup_mean_rps,
            r.rollup_peak_rps,
            r.stale_mean_ms / 1000.0,
            r.stale_p99_ms as f64 / 1000.0,
            r.stale_max_ms as f64 / 1000.0,
            r.served,
            r.counted,
            r.duplicates
        );
        assert_eq!(r.served, r.counted, "the roll-up lost or double-counted requests");
        assert!(r.shard_peak_rps <= 1_000, "a shard took more than a Durable Object's 1,000 req/s");
        rows.push(format!(
            "{{\"isolates\": {}, \"busiestLocationIsolates\": {}, \"shardMeanRps\": {:.1}, \"shardPeakRps\": {}, \"advisedIntervalMs\": {}, \"rollupMeanRps\": {:.1}, \"rollupPeakRps\": {}, \"stalenessMeanMs\": {:.0}, \"stalenessP99Ms\": {}, \"stalenessMaxMs\": {}, \"served\": {}, \"counted\": {}, \"repeats\": {}}}",
            r.isolates, r.busiest_location_isolates, r.shard_mean_rps, r.shard_peak_rps, r.advised_ms, r.rollup_mean_rps, r.rollup_peak_rps, r.stale_mean_ms, r.stale_p99_ms, r.stale_max_ms, r.served, r.counted, r.duplicates
        ));
    }
    if benching {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench-results");
        let json = format!(
            "{{\n  \"locations\": {LOCATIONS},\n  \"ratePerIsolate\": {RATE_PER_S},\n  \"seconds\": {},\n  \"flushIntervalMs\": {DEFAULT_INTERVAL_MS},\n  \"lostAnswers\": {LOST},\n  \"results\": [\n    {}\n  ]\n}}\n",
            (END_MS - WARM_UP_MS) / 1000,
            rows.join(",\n    ")
        );
        if std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(dir.join("fleet-sim.json"), json))
            .is_err()
        {
            eprintln!("bench-results/fleet-sim.json could not be written");
        }
    }
}
