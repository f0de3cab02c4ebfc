//! The deterministic simulation: the ride, driver and region cores in
//! models of their Durable Object shells, exchanging calls through a seeded
//! scheduler that delays, reorders and loses them and restarts objects,
//! under random apps. Every seed is checked against the dispatch promises;
//! a failing seed prints itself and replays exactly:
//!   SIM_SEED=<n> cargo test --test simulation -- --nocapture   (one seed, with its trace)
//!   SIM_SEEDS=<count> cargo test --test simulation             (how many seeds; 2000 by default)

mod sim;

use sim::observations::Stats;

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name} must be a number, not {value:?}")))
}

/// Runs one seed with its trace printed; panics on any broken promise.
fn keeps_every_promise(seed: u64) {
    let outcome = sim::run_seed(seed, true);
    outcome.trace.iter().for_each(|line| println!("{line}"));
    if let Some(v) = outcome.broken {
        panic!("SIM_SEED={seed}: {}: {}", v.invariant, v.detail);
    }
    println!("SIM_SEED={seed}: every promise kept; {:?}", outcome.stats);
}

/// What many seeds came to.
#[derive(Default)]
struct Tally {
    stats: Stats,
    failures: Vec<String>,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.stats.add(&other.stats);
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
    let failures = &tally.failures;
    assert!(failures.is_empty(), "{} seeds broke a promise:\n{}", failures.len(), failures.join("\n"));
    let stats = tally.stats;
    assert!(stats.completed > 0 && stats.cancelled > 0 && stats.expired > 0, "cities end rides every way: {stats:?}");
    assert!(stats.late_reports > 0, "late drivers are offered waiting rides: {stats:?}");
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

// Seeds in which the simulation found bugs, kept as regressions (a change
// to the cores changes each seed's course, so the unit tests named here hold
// the rule itself):
// - 7: a second socket whose attach failed left its driver marked busy
//   (tests/region_drivers.rs a_second_socket_whose_attach_fails_leaves_the_driver_offerable);
// - 353: an older busy mark landed after a newer one and stayed
//   (tests/region_feed.rs a_busy_mark_decided_before_the_one_the_region_holds_changes_nothing);
// - 659: an attach answer's mark reached only the new socket's attachment.

#[test]
fn the_seeds_that_found_busy_mark_bugs_keep_every_promise() {
    for seed in [7, 353, 659] {
        if let Some(v) = sim::run_seed(seed, false).broken {
            panic!("SIM_SEED={seed}: {}: {}", v.invariant, v.detail);
        }
    }
}

#[test]
fn a_ride_never_rings_its_alarm_back_to_back() {
    // While a round's query is out, its (past) timeout is no deadline: before that rule every
    // alarm re-armed itself in the past and rang again at once, about 140 times a city.
    let stats = sim::run_seed(0, false).stats;
    assert!(stats.past_ride_alarms <= 2, "SIM_SEED=0: {stats:?}");
}
