//! The deterministic simulation (issue 6): the ride and driver cores in
//! models of their Durable Objects, and a model region, exchanging calls
//! through a seeded scheduler that delays, reorders and loses them and
//! restarts objects, under random apps. Every seed is checked against the
//! dispatch promises; a failing seed prints itself and replays exactly:
//!   SIM_SEED=<n> cargo test --test simulation -- --nocapture   (one seed, with its trace)
//!   SIM_SEEDS=<count> cargo test --test simulation             (how many seeds; 2000 by default)
//! A seed that breaks a promise for a known cause (sim/findings.rs) is
//! reported, not failed; each known cause has an ignored test below.

mod sim;

use std::collections::BTreeMap;

use sim::findings::Finding;
use sim::observations::Stats;

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")))
}

/// Runs one seed with its trace printed; panics on any broken promise, of known cause or not.
fn keeps_every_promise(seed: u64) {
    let outcome = sim::run_seed(seed, true);
    outcome.trace.iter().for_each(|line| println!("{line}"));
    let broken: Vec<String> = outcome
        .broken
        .iter()
        .chain(&outcome.known)
        .map(|v| format!("SIM_SEED={seed}: {}: {} (known cause: {:?})", v.invariant, v.detail, v.known))
        .collect();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    println!("SIM_SEED={seed}: every promise kept; {:?}", outcome.stats);
}

/// What many seeds came to.
#[derive(Default)]
struct Tally {
    stats: Stats,
    known: BTreeMap<Finding, Vec<u64>>,
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.stats.add(&other.stats);
        for (finding, seeds) in other.known {
            self.known.entry(finding).or_default().extend(seeds);
        }
        self.failures.extend(other.failures);
    }
}

/// Runs `seeds` seeds on a few threads.
fn run_many(seeds: u64) -> Tally {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).min(4) as u64;
    let tallies: Vec<Tally> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    for seed in (t..seeds).step_by(threads as usize) {
                        let outcome = sim::run_seed(seed, false);
                        tally.stats.add(&outcome.stats);
                        let findings: std::collections::BTreeSet<Finding> =
                            outcome.known.iter().filter_map(|v| v.known).collect();
                        for finding in findings {
                            tally.known.entry(finding).or_default().push(seed);
                        }
                        if let Some(v) = outcome.broken {
                            tally.failures.push(format!("SIM_SEED={seed}: {}: {}", v.invariant, v.detail));
                        }
                    }
                    tally
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("a simulation thread")).collect()
    });
    let mut total = Tally::default();
    tallies.into_iter().for_each(|t| total.add(t));
    total.failures.sort();
    total.known.values_mut().for_each(|seeds| seeds.sort_unstable());
    total
}

#[test]
fn two_thousand_cities_keep_every_promise() {
    if let Some(seed) = env_number("SIM_SEED") {
        return keeps_every_promise(seed);
    }
    let seeds = env_number("SIM_SEEDS").unwrap_or(2_000);
    let tally = run_many(seeds);
    println!("{:?}", tally.stats);
    for (finding, seeds) in &tally.known {
        let first: Vec<String> = seeds.iter().take(5).map(u64::to_string).collect();
        println!(
            "known {finding:?} in {} seeds (e.g. SIM_SEED={}): {}",
            seeds.len(),
            first.join(", "),
            finding.summary()
        );
    }
    let failures = &tally.failures;
    assert!(failures.is_empty(), "{} seeds broke a promise:\n{}", failures.len(), failures.join("\n"));
    let stats = tally.stats;
    assert!(stats.completed > 0 && stats.cancelled > 0 && stats.expired > 0, "cities end rides every way: {stats:?}");
}

#[test]
fn a_seed_replays_exactly() {
    let first = sim::run_seed(11, true);
    let second = sim::run_seed(11, true);
    assert!(first.trace.len() > 100, "the seed did something");
    assert_eq!(first.trace, second.trace);
    // Keeping the trace changes nothing the seed does.
    let untraced = sim::run_seed(11, false);
    assert_eq!(format!("{:?}", first.stats), format!("{:?}", untraced.stats));
}

/// Runs `seed` with its trace printed; panics if `finding` shows in it, or a promise breaks for no known cause.
fn free_of(seed: u64, finding: Finding) {
    let outcome = sim::run_seed(seed, true);
    outcome.trace.iter().for_each(|line| println!("{line}"));
    if let Some(v) = &outcome.broken {
        panic!("SIM_SEED={seed}: {}: {}", v.invariant, v.detail);
    }
    let hits: Vec<String> = outcome
        .known
        .iter()
        .filter(|v| v.known == Some(finding))
        .map(|v| format!("SIM_SEED={seed}: {}: {}", v.invariant, v.detail))
        .collect();
    assert!(hits.is_empty(), "{finding:?} ({}):\n{}", finding.summary(), hits.join("\n"));
}

// Each ignored test below replays the seed in which the simulation found a
// bug in a core or a shell (see sim/findings.rs); it passes once the bug is
// fixed. A change to the cores changes every seed's course: if a seed no
// longer shows its bug before the fix, take another from the seeds that
// `two_thousand_cities_keep_every_promise` prints for that finding.

#[test]
#[ignore = "known bug (region shell): a failed attach leaves the driver marked busy in the index"]
fn a_failed_attach_leaves_no_busy_mark() {
    free_of(7, Finding::FailedAttachKeepsBusyMark);
}

#[test]
#[ignore = "known bug (region shell, driver core): an older busy mark lands after a newer one"]
fn busy_marks_land_in_order() {
    free_of(353, Finding::UnorderedBusyMarks);
}

#[test]
#[ignore = "known bug (region shell): an attach answer's mark reaches only the new socket"]
fn an_attach_marks_every_socket_of_the_driver() {
    free_of(659, Finding::AttachMarksOneSocket);
}

#[test]
fn a_ride_never_rings_its_alarm_back_to_back() {
    // While a round's query is out, its (past) timeout is no deadline: before that rule every
    // alarm re-armed itself in the past and rang again at once, about 140 times a city.
    let stats = sim::run_seed(0, false).stats;
    assert!(stats.past_ride_alarms <= 2, "SIM_SEED=0: {stats:?}");
}
