//! A deterministic simulation of the global purge path, on the core's own decisions
//! (`purge::ledger` and `purge::fanout`): L locations × I isolates, Poisson request traffic,
//! plone.cachepurging-shaped purge bursts (10–40 `PURGE`s about 45 ms apart, in arbitrary
//! order, each landing on any isolate of one location), a ledger with per-location latency and
//! an outage. Time is simulated; nothing is measured on the machine's clock.
//!
//!   make bench-purge-sim           (1k, 10k and 100k isolates)
//!   PURGE_SIM_ISOLATES=10000 cargo bench --bench purge_sim
//!
//! Reports, per size: ledger requests per second (and the busiest second), the time from a
//! purge being recorded to the last request anywhere served without it (p50/p99/max), lost
//! purges (a record a copy skipped, a purge never recorded, or a purge ignored past the
//! 10 s bound outside the fail mode — must be 0), and the latency the ledger added to client
//! requests during the outage.
//!
//! Simulation code: an index out of range is a bug of the simulation, and fails it.
#![allow(clippy::indexing_slicing)]

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rulecache::http::Time;
use rulecache::purge::fanout::{self, Outcome, PendingAppends, Plan, Refresh, Refresher, SharedAnswer};
use rulecache::purge::ledger::{
    AppendAnswer, AppendOrder, Ledger, LedgerCopy, MemoryRows, Progress, PurgeRecord, SinceAnswer, Target,
    BLOCKING_REFRESH_AFTER_MS, PAGE_RECORDS,
};
use rulecache::testing::XorShift;

const LOCATIONS: usize = 200;
/// Requests per second per isolate.
const RATE_PER_S: f64 = 0.5;
const END_MS: Time = 150_000;
/// No purge bursts after this (the last 30 s let every copy catch up).
const BURSTS_UNTIL_MS: Time = 120_000;
const WARM_UP_MS: Time = 10_000;
const OUTAGE: (Time, Time) = (60_000, 90_000);
/// Mean time between purge bursts.
const BURST_EVERY_MS: f64 = 4_000.0;
/// The Cache API's latency within a location.
const CACHE_MS: Time = 2;
/// A ledger request during the outage fails after this long.
const OUTAGE_ERROR_MS: Time = 1_000;
/// The pages a burst purges from (its purge paths).
const PAGES: usize = 40;
const EPOCH: &str = "e-sim";

fn in_outage(t: Time) -> bool {
    t >= OUTAGE.0 && t < OUTAGE.1
}

/// Round trip from a location to the ledger: 20–250 ms.
fn rtt(loc: usize) -> Time {
    20 + ((loc as u64).wrapping_mul(7919) % 231)
}

enum Ev {
    Request(usize),
    FlightRead(usize, u64),
    DoSince(usize, u64, u64, Time),
    FlightReply(usize, u64, Option<SinceAnswer>, Time),
    FlightDeadline(usize, u64),
    SharedWrite(usize, std::rc::Rc<SharedAnswer>),
    Burst,
    Purge(usize, String),
    DoAppend(usize, AppendOrder, Option<u32>),
    AppendReply(usize, Result<AppendAnswer, u16>, AppendOrder, Option<u32>),
    PendingRetry(usize),
}

struct Queued {
    at: Time,
    n: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.n) == (other.at, other.n)
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.n).cmp(&(self.at, self.n))
    }
}

struct Flight {
    id: u64,
    rounds: usize,
    deadline_set: bool,
}

struct Isolate {
    loc: usize,
    copy: LedgerCopy,
    refresher: Refresher,
    flight: Option<Flight>,
    waiters: Vec<Time>,
    pending: PendingAppends,
}

#[derive(Default)]
struct Metrics {
    ledger_requests: Vec<u64>,
    exposure: Vec<Time>,
    late: Vec<bool>,
    wait_outage: Vec<Time>,
    requests_outage: u64,
    fail_mode_requests: u64,
    purges_issued: u64,
}

struct Sim {
    now: Time,
    n: u64,
    queue: BinaryHeap<Queued>,
    rng: XorShift,
    isolates: Vec<Isolate>,
    shared: Vec<Option<std::rc::Rc<SharedAnswer>>>,
    ledger: Ledger,
    rows: MemoryRows,
    m: Metrics,
    per_location: usize,
    next_flight: u64,
}

impl Sim {
    fn new(per_location: usize, seed: u64) -> Self {
        let total = LOCATIONS * per_location;
        let isolates = (0..total)
            .map(|i| Isolate {
                loc: i / per_location,
                copy: LedgerCopy::new(),
                refresher: Refresher::new(),
                flight: None,
                waiters: Vec::new(),
                pending: PendingAppends::new(),
            })
            .collect();
        let mut sim = Sim {
            now: 0,
            n: 0,
            queue: BinaryHeap::new(),
            rng: XorShift(seed),
            isolates,
            shared: vec![None; LOCATIONS],
            ledger: Ledger::new(7 * 86_400_000),
            rows: MemoryRows::default(),
            m: Metrics { ledger_requests: vec![0; (END_MS / 1000) as usize + 10], ..Default::default() },
            per_location,
            next_flight: 0,
        };
        for i in 0..total {
            let first = sim.exp(RATE_PER_S);
            sim.at(first, Ev::Request(i));
        }
        let first_burst = sim.exp(1000.0 / BURST_EVERY_MS);
        sim.at(first_burst, Ev::Burst);
        sim
    }

    fn uniform(&mut self) -> f64 {
        ((self.rng.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// An exponential delay in ms for a rate per second.
    fn exp(&mut self, rate_per_s: f64) -> Time {
        (-self.uniform().ln() / rate_per_s * 1000.0) as Time
    }

    fn at(&mut self, at: Time, ev: Ev) {
        self.n += 1;
        self.queue.push(Queued { at, n: self.n, ev });
    }

    fn count_ledger_request(&mut self, t: Time) {
        if let Some(slot) = self.m.ledger_requests.get_mut((t / 1000) as usize) {
            *slot += 1;
        }
    }

    fn run(&mut self) {
        while let Some(Queued { at, ev, .. }) = self.queue.pop() {
            if at > END_MS {
                break;
            }
            self.now = at;
            self.step(ev);
        }
    }

    fn step(&mut self, ev: Ev) {
        let now = self.now;
        match ev {
            Ev::Request(i) => {
                let next = now + self.exp(RATE_PER_S);
                self.at(next, Ev::Request(i));
                let iso = &self.isolates[i];
                match iso.refresher.due(iso.copy.last_success(), now) {
                    Refresh::No => self.serve(i, now, 0),
                    Refresh::Background => {
                        self.start_flight(i, false);
                        self.serve(i, now, 0);
                    }
                    Refresh::Blocking { until } => {
                        if self.isolates[i].flight.is_none() || !self.isolates[i].refresher.in_flight(now) {
                            self.start_flight(i, true);
                        }
                        self.isolates[i].waiters.push(now);
                        let flight = self.isolates[i].flight.as_mut().map(|f| {
                            let first = !f.deadline_set;
                            f.deadline_set = true;
                            (f.id, first)
                        });
                        if let Some((id, true)) = flight {
                            self.at(until, Ev::FlightDeadline(i, id));
                        }
                    }
                }
            }
            Ev::FlightRead(i, id) => {
                if !self.flight_is(i, id) {
                    return;
                }
                let loc = self.isolates[i].loc;
                let shared = self.shared[loc].clone();
                let plan = fanout::plan(&self.isolates[i].copy, shared.as_deref(), now);
                match (plan, shared) {
                    (Plan::UseShared, Some(s)) => {
                        let progress = self.isolates[i].copy.apply_answer(&s.answer, s.sent_at, now);
                        self.after_progress(i, id, progress);
                    }
                    (Plan::Wait, _) | (Plan::UseShared, None) => self.finish(i, Outcome::Deferred),
                    (Plan::Poll { since, claim }, shared) => {
                        if let (true, Some(s)) = (claim, shared) {
                            let mut claimed = (*s).clone();
                            claimed.claimed_at = Some(now);
                            self.at(now + CACHE_MS, Ev::SharedWrite(loc, std::rc::Rc::new(claimed)));
                        }
                        let sent = now;
                        self.count_ledger_request(now);
                        self.at(now + rtt(loc) / 2, Ev::DoSince(i, id, since, sent));
                    }
                }
            }
            Ev::DoSince(i, id, since, sent) => {
                let loc = self.isolates[i].loc;
                if in_outage(now) {
                    self.at(now + OUTAGE_ERROR_MS + rtt(loc) / 2, Ev::FlightReply(i, id, None, sent));
                } else {
                    let answer = self.ledger.since(&self.rows, since).ok();
                    self.at(now + rtt(loc) / 2, Ev::FlightReply(i, id, answer, sent));
                }
            }
            Ev::FlightReply(i, id, answer, sent) => {
                if !self.flight_is(i, id) {
                    return;
                }
                match answer {
                    None => self.finish(i, Outcome::Failure),
                    Some(a) => {
                        let progress = self.isolates[i].copy.apply_answer(&a, sent, now);
                        if fanout::shareable(&a) {
                            let loc = self.isolates[i].loc;
                            self.at(
                                now + CACHE_MS,
                                Ev::SharedWrite(
                                    loc,
                                    std::rc::Rc::new(SharedAnswer {
                                        answer: a,
                                        sent_at: sent,
                                        claimed_at: None,
                                    }),
                                ),
                            );
                        }
                        self.after_progress(i, id, progress);
                    }
                }
            }
            Ev::FlightDeadline(i, id) => {
                if self.flight_is(i, id) {
                    let waiters = std::mem::take(&mut self.isolates[i].waiters);
                    for arrived in waiters {
                        self.serve(i, now, now - arrived);
                    }
                }
            }
            Ev::SharedWrite(loc, s) => self.shared[loc] = Some(s),
            Ev::Burst => {
                if now < BURSTS_UNTIL_MS {
                    let loc = self.rng.below(LOCATIONS);
                    let paths = 10 + self.rng.below(31);
                    let mut pages: Vec<usize> = (0..PAGES).collect();
                    for k in (1..pages.len()).rev() {
                        let j = self.rng.below(k + 1);
                        pages.swap(k, j);
                    }
                    for (k, page) in pages.into_iter().take(paths).enumerate() {
                        let iso = loc * self.per_location + self.rng.below(self.per_location);
                        let jitter = self.rng.below(20) as Time;
                        self.at(
                            now + 45 * k as Time + jitter,
                            Ev::Purge(iso, format!("https://site.example/page/{page}")),
                        );
                    }
                    let next = now + self.exp(1000.0 / BURST_EVERY_MS);
                    self.at(next, Ev::Burst);
                }
            }
            Ev::Purge(i, url) => {
                self.m.purges_issued += 1;
                let nonce = format!("{:016x}{:016x}", self.rng.next(), self.rng.next());
                let order = AppendOrder {
                    targets: vec![Target::Url(url)],
                    soft: false,
                    nonce: Some(nonce),
                    ..AppendOrder::default()
                };
                self.send_append(i, order, None);
            }
            Ev::DoAppend(i, order, attempts) => {
                let loc = self.isolates[i].loc;
                let back = rtt(loc) / 2;
                if in_outage(now) {
                    self.at(now + OUTAGE_ERROR_MS + back, Ev::AppendReply(i, Err(503), order, attempts));
                } else {
                    let answer =
                        self.ledger.append(&mut self.rows, &order, now, EPOCH).map_err(|e| e.status());
                    if answer.is_ok() {
                        self.m.exposure.push(0);
                        self.m.late.push(false);
                    }
                    self.at(now + back, Ev::AppendReply(i, answer, order, attempts));
                }
            }
            Ev::AppendReply(i, answer, order, attempts) => match answer {
                Ok(a) => self.isolates[i].copy.apply_own(&a, now),
                Err(409) => {}
                Err(_) => {
                    let iso = &mut self.isolates[i];
                    match attempts {
                        None => {
                            iso.copy.apply_local(&order.targets, order.soft, now);
                            iso.pending.push(order, now);
                            let retry = now + fanout::retry_delay(1).unwrap_or(500);
                            self.at(retry, Ev::PendingRetry(i));
                        }
                        Some(n) => iso.pending.failed(order, n, now),
                    }
                }
            },
            Ev::PendingRetry(i) => self.flush(i),
        }
    }

    fn send_append(&mut self, i: usize, order: AppendOrder, attempts: Option<u32>) {
        let loc = self.isolates[i].loc;
        self.count_ledger_request(self.now);
        self.at(self.now + rtt(loc) / 2, Ev::DoAppend(i, order, attempts));
    }

    fn flush(&mut self, i: usize) {
        let due = self.isolates[i].pending.take_due(self.now);
        for (order, n) in due {
            self.send_append(i, order, Some(n));
        }
    }

    fn flight_is(&self, i: usize, id: u64) -> bool {
        self.isolates[i].flight.as_ref().is_some_and(|f| f.id == id)
    }

    fn start_flight(&mut self, i: usize, blocking: bool) {
        self.next_flight += 1;
        let id = self.next_flight;
        let now = self.now;
        let iso = &mut self.isolates[i];
        iso.refresher.start(now);
        iso.flight = Some(Flight { id, rounds: 0, deadline_set: false });
        if !blocking {
            self.flush(i);
        }
        self.at(now + CACHE_MS, Ev::FlightRead(i, id));
    }

    fn after_progress(&mut self, i: usize, id: u64, progress: Progress) {
        if progress == Progress::Complete {
            self.finish(i, Outcome::Success);
            return;
        }
        let Some(f) = self.isolates[i].flight.as_mut() else { return };
        f.rounds += 1;
        if f.rounds > 64 {
            self.finish(i, Outcome::Failure);
            return;
        }
        // The next page (or the start over) is asked for at once, as the worker does.
        match fanout::plan_after(&self.isolates[i].copy, progress) {
            Some(Plan::Poll { since, .. }) => {
                let loc = self.isolates[i].loc;
                self.count_ledger_request(self.now);
                self.at(self.now + rtt(loc) / 2, Ev::DoSince(i, id, since, self.now));
            }
            _ => self.at(self.now + CACHE_MS, Ev::FlightRead(i, id)),
        }
    }

    fn finish(&mut self, i: usize, outcome: Outcome) {
        let now = self.now;
        let iso = &mut self.isolates[i];
        iso.refresher.finish(outcome, now);
        iso.flight = None;
        let waiters = std::mem::take(&mut iso.waiters);
        for arrived in waiters {
            self.serve(i, now, now - arrived);
        }
    }

    /// A request at isolate `i` is answered at `now` after waiting `waited` ms for the ledger.
    fn serve(&mut self, i: usize, now: Time, waited: Time) {
        let arrived = now - waited;
        if in_outage(arrived) {
            self.m.requests_outage += 1;
            self.m.wait_outage.push(waited);
        }
        let copy = &self.isolates[i].copy;
        let fail_mode = copy.last_success().is_none_or(|l| l + BLOCKING_REFRESH_AFTER_MS < now);
        if fail_mode {
            self.m.fail_mode_requests += 1;
        }
        // Every purge recorded before now that this copy does not know is ignored by this
        // request (for an entry fetched before it).
        let from = copy.cursor() as usize;
        for r in self.rows.records.iter().skip(from) {
            if r.at >= now {
                break;
            }
            let exposed = now - r.at;
            // In the fail mode, entries fetched before the bound are revalidated: a purge
            // older than the bound is honoured through that revalidation.
            let revalidated = fail_mode && exposed > BLOCKING_REFRESH_AFTER_MS;
            if !revalidated && copy.effect(r.target.value(), &[], r.at).is_none() {
                let k = (r.seq - 1) as usize;
                self.m.exposure[k] = self.m.exposure[k].max(exposed);
                if exposed > BLOCKING_REFRESH_AFTER_MS && !fail_mode {
                    self.m.late[k] = true;
                }
            }
        }
    }
}

fn percentile(sorted: &[Time], p: f64) -> Time {
    if sorted.is_empty() {
        return 0;
    }
    let k = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

struct Report {
    isolates: usize,
    ledger_rps: f64,
    ledger_peak: (u64, usize),
    p50: Time,
    p99: Time,
    max: Time,
    lost: u64,
    skipped: u64,
    unrecorded: u64,
    late: u64,
    outage_p50: Time,
    outage_p99: Time,
    outage_max: Time,
    outage_waited_share: f64,
    fail_mode_share: f64,
    records: usize,
}

fn simulate(per_location: usize) -> Report {
    let mut sim = Sim::new(per_location, 0x9e37_79b9_7f4a_7c15 ^ per_location as u64);
    sim.run();
    let records: Vec<PurgeRecord> = sim.rows.records.clone();
    // Skipped: a record at or below a copy's cursor that the copy does not know, or any
    // record a copy with a later successful refresh does not know.
    let mut skipped_records = vec![false; records.len()];
    for iso in &sim.isolates {
        let last = iso.copy.last_success().unwrap_or(0);
        for (k, r) in records.iter().enumerate() {
            let should = r.seq <= iso.copy.cursor() || r.at < last;
            if should && iso.copy.effect(r.target.value(), &[], r.at).is_none() {
                skipped_records[k] = true;
            }
        }
    }
    let skipped = skipped_records.iter().filter(|s| **s).count() as u64;
    let unrecorded = sim.m.purges_issued.saturating_sub(records.len() as u64);
    let late = sim.m.late.iter().filter(|l| **l).count() as u64;
    let mut normal: Vec<Time> = records
        .iter()
        .zip(&sim.m.exposure)
        .filter(|(r, _)| r.at >= WARM_UP_MS && (r.at < OUTAGE.0 || r.at >= OUTAGE.1 + 10_000))
        .map(|(_, e)| *e)
        .collect();
    normal.sort_unstable();
    let mut wait = sim.m.wait_outage.clone();
    wait.sort_unstable();
    let normal_seconds: Vec<u64> = sim
        .m
        .ledger_requests
        .iter()
        .enumerate()
        .filter(|(s, _)| {
            let t = *s as Time * 1000;
            (WARM_UP_MS..END_MS).contains(&t) && (t < OUTAGE.0 || t >= OUTAGE.1 + 10_000)
        })
        .map(|(_, n)| *n)
        .collect();
    let total_requests = (sim.isolates.len() as f64 * RATE_PER_S * END_MS as f64 / 1000.0).max(1.0);
    Report {
        isolates: sim.isolates.len(),
        ledger_rps: normal_seconds.iter().sum::<u64>() as f64 / normal_seconds.len().max(1) as f64,
        ledger_peak: sim
            .m
            .ledger_requests
            .iter()
            .enumerate()
            .skip((WARM_UP_MS / 1000) as usize)
            .map(|(s, n)| (*n, s))
            .max()
            .unwrap_or((0, 0)),
        p50: percentile(&normal, 0.5),
        p99: percentile(&normal, 0.99),
        max: normal.last().copied().unwrap_or(0),
        lost: skipped + unrecorded + late,
        skipped,
        unrecorded,
        late,
        outage_p50: percentile(&wait, 0.5),
        outage_p99: percentile(&wait, 0.99),
        outage_max: wait.last().copied().unwrap_or(0),
        outage_waited_share: wait.iter().filter(|w| **w >= 100).count() as f64 / wait.len().max(1) as f64,
        fail_mode_share: sim.m.fail_mode_requests as f64 / total_requests,
        records: records.len(),
    }
}

/// Simulated time to read and apply the ledger's records (besides the round trip), per
/// thousand records: the slowest catch-up measured in workerd on loopback, 0.84 s for 60,000
/// records (its round trips included).
const APPLY_MS_PER_THOUSAND: Time = 14;
/// The round trip between a location far from the ledger and its Durable Object.
const FAR_RTT_MS: Time = 250;
/// The longest a copy far behind may take to be current again at [`FAR_RTT_MS`].
const CATCH_UP_BOUND_MS: Time = 2_000;

/// How long a copy `behind` records behind takes to be complete again, from the first poll, at
/// a location [`FAR_RTT_MS`] from the ledger: reading ahead (now), back to back without reading
/// ahead, and each page through the location's claim of the poll (as first). Also the pages
/// read and the largest answer's JSON.
fn catch_up(behind: usize) -> (Time, Time, Time, usize, usize) {
    let wide = rulecache::purge::ledger::BudgetLimits {
        credential_burst: 1 << 40,
        credential_per_minute: 0,
        global_burst: 1 << 40,
        global_per_minute: 0,
    };
    let mut ledger = Ledger::with_budgets(30 * 86_400_000, wide);
    let mut rows = MemoryRows::default();
    for b in 0..behind.div_ceil(5_000) {
        let targets = (0..5_000.min(behind - b * 5_000)).map(|i| Target::Tag(format!("b{b}-{i}"))).collect();
        let order = AppendOrder { targets, ..AppendOrder::default() };
        let _ = ledger.append(&mut rows, &order, 1_000, EPOCH);
    }
    let pages = std::cell::Cell::new(0);
    let largest = std::cell::Cell::new(0);
    // Each page is asked for at `sent`, arrives a round trip later and is applied once it has
    // arrived and the page before it is applied.
    let run = |mode: CatchUp| {
        let mut copy = LedgerCopy::new();
        let start: Time = 10_000;
        let mut sent = start;
        let mut applied = start;
        let mut since = 0;
        pages.set(0);
        loop {
            let Ok(answer) = ledger.clone().since(&rows, since) else { return Time::MAX };
            pages.set(pages.get() + 1);
            largest.set(largest.get().max(serde_json::to_string(&answer).map_or(0, |j| j.len())));
            let arrived = sent + FAR_RTT_MS;
            // The next page is asked for on arrival, before this one is applied.
            let ahead = fanout::read_ahead(&answer).filter(|_| mode == CatchUp::ReadAhead);
            applied = applied.max(arrived) + answer.records.len() as Time * APPLY_MS_PER_THOUSAND / 1000;
            let progress = copy.apply_answer(&answer, sent, applied);
            if progress == Progress::Complete {
                return applied - start;
            }
            if mode == CatchUp::ClaimHold {
                // The next round reads the location's answer, claimed by this very poll.
                let shared = SharedAnswer { answer: answer.clone(), sent_at: sent, claimed_at: Some(sent) };
                let mut now = applied;
                loop {
                    match fanout::plan(&copy, Some(&shared), now) {
                        Plan::Poll { since: next, .. } => {
                            since = next;
                            break;
                        }
                        _ => now += fanout::CLAIM_RETRY_MS,
                    }
                }
                sent = now;
                continue;
            }
            match fanout::plan_after(&copy, progress) {
                Some(Plan::Poll { since: next, .. }) => {
                    sent = if ahead == Some(next) { arrived } else { applied };
                    since = next;
                }
                _ => return Time::MAX,
            }
        }
    };
    let claim_hold = run(CatchUp::ClaimHold);
    let back_to_back = run(CatchUp::BackToBack);
    let read_ahead = run(CatchUp::ReadAhead);
    (read_ahead, back_to_back, claim_hold, pages.get(), largest.get())
}

/// How a copy far behind asks for its pages after the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CatchUp {
    /// Each page asked for when the one before it arrives (`fanout::read_ahead`): now.
    ReadAhead,
    /// Each page asked for once the one before it is applied (`fanout::plan_after`).
    BackToBack,
    /// Each page through `fanout::plan`, meeting the location's claim of the poll, its own.
    ClaimHold,
}

/// The heap a copy holding `targets` distinct URL targets takes, in bytes per target.
fn copy_bytes_per_target(targets: usize) -> (usize, usize) {
    let mut copy = LedgerCopy::with_max_targets(targets);
    let list: Vec<Target> = (0..targets)
        .map(|i| Target::Url(format!("https://www.example.org/articles/2026/{i:08}/index")))
        .collect();
    for chunk in list.chunks(5_000) {
        copy.apply_local(chunk, false, 1_000);
    }
    let len = copy.len();
    (copy.approx_bytes() / len.max(1), len)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this once, small, as a
    // check that no purge is lost. The sizes come from the environment.
    let benching = std::env::args().any(|a| a == "--bench");
    let sizes: Vec<usize> = match std::env::var("PURGE_SIM_ISOLATES") {
        Ok(v) => v.split(',').filter_map(|s| s.trim().parse().ok()).collect(),
        Err(_) if benching => vec![1_000, 10_000, 100_000],
        Err(_) => vec![LOCATIONS],
    };
    println!(
        "catch-up of a copy far behind ({FAR_RTT_MS} ms round trip, {APPLY_MS_PER_THOUSAND} ms to read and apply 1,000 records, pages of {PAGE_RECORDS}):"
    );
    println!(
        "| records behind | pages | largest answer | reading ahead | back to back | a page per claim hold |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for behind in [12_000, 30_000, 60_000, 100_000] {
        let (now, back_to_back, claim_hold, pages, largest) = catch_up(behind);
        let s = |t: Time| t as f64 / 1000.0;
        println!(
            "| {behind} | {pages} | {:.1} MB | {:.2} s | {:.2} s | {:.1} s |",
            largest as f64 / 1e6,
            s(now),
            s(back_to_back),
            s(claim_hold)
        );
        assert!(now <= CATCH_UP_BOUND_MS, "a copy {behind} records behind took {now} ms");
    }
    let (per_target, held) = copy_bytes_per_target(100_000);
    println!(
        "a copy of {held} URL targets (the bound): {per_target} bytes per target, {:.1} MB",
        (per_target * held) as f64 / 1e6
    );
    println!(
        "purge simulation: {LOCATIONS} locations, {RATE_PER_S} req/s per isolate, {} s, bursts of 10-40 PURGEs 45 ms apart every {} s on average, ledger RTT 20-250 ms, ledger down from {} s to {} s",
        END_MS / 1000,
        BURST_EVERY_MS / 1000.0,
        OUTAGE.0 / 1000,
        OUTAGE.1 / 1000
    );
    println!(
        "| isolates | ledger req/s (mean, busiest s) | purge → last request without it p50 / p99 / max | lost purges | outage: added client latency p50 / p99 / max, share delayed ≥ 100 ms | requests in fail mode |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for isolates in sizes {
        let per_location = (isolates / LOCATIONS).max(1);
        let r = simulate(per_location);
        println!(
            "| {} | {:.0} ({} at {} s) | {} / {} / {} ms | {} ({} records; skipped {}, unrecorded {}, late {}) | {} / {} / {} ms, {:.2} % | {:.2} % |",
            r.isolates,
            r.ledger_rps,
            r.ledger_peak.0,
            r.ledger_peak.1,
            r.p50,
            r.p99,
            r.max,
            r.lost,
            r.records,
            r.skipped,
            r.unrecorded,
            r.late,
            r.outage_p50,
            r.outage_p99,
            r.outage_max,
            r.outage_waited_share * 100.0,
            r.fail_mode_share * 100.0
        );
        assert_eq!(r.lost, 0, "the simulation lost purges");
    }
}
