//! The dispatch rules' geography (PROTOCOL.md "Dispatch rules"), through the
//! public API only: a round's candidates are the closest available drivers
//! within the radius of the pickup, across region borders, each region
//! answering from its own index and the answers merged.

use std::collections::BTreeMap;

use ridewire::core::driver_index::{Candidate, DriverIndex, Eligibility};
use ridewire::core::geo::{destination, distance_m, LatLng};
use ridewire::core::matching::merge_nearest;
use ridewire::core::region_cells::{region_of, regions_within};

const RADIUS_KM: f64 = 10.0;
const OFFER_BATCH: usize = 5;
const REGION_RES: u8 = 5;

/// Johannesburg CBD, about 90 m from the border of the next region south-west.
const PICKUP: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };

/// A driver placed `km` from the pickup along compass `bearing`.
struct Placed {
    id: &'static str,
    bearing: f64,
    km: f64,
    available: bool,
    busy: bool,
}

const fn placed(id: &'static str, bearing: f64, km: f64, available: bool, busy: bool) -> Placed {
    Placed { id, bearing, km, available, busy }
}

/// Ten drivers: two beyond the radius, one busy, one unavailable, several in
/// neighbouring regions yet within the radius.
const DRIVERS: [Placed; 10] = [
    placed("busy-close", 0.0, 0.8, true, true),
    placed("off-duty", 210.0, 1.0, false, false),
    placed("north-east", 30.0, 1.5, true, false),
    placed("south", 180.0, 2.0, true, false),
    placed("west", 270.0, 4.0, true, false),
    placed("east-north-east", 60.0, 6.0, true, false),
    placed("south-east", 120.0, 8.0, true, false),
    placed("north-west", 300.0, 9.5, true, false),
    placed("far-north", 0.0, 10.5, true, false),
    placed("far-south-west", 240.0, 12.0, true, false),
];

fn location(driver: &Placed) -> LatLng {
    destination(PICKUP, driver.bearing, driver.km * 1000.0)
}

/// One index per region, each holding the drivers whose position lies in it.
fn regions() -> BTreeMap<String, DriverIndex> {
    let mut regions: BTreeMap<String, DriverIndex> = BTreeMap::new();
    for driver in &DRIVERS {
        let region = region_of(location(driver), REGION_RES).expect("a valid position");
        let index = regions.entry(region).or_default();
        index.upsert(driver.id, location(driver), driver.available);
        index.set_busy(driver.id, driver.busy);
    }
    regions
}

/// One offer round: ask every region within the radius, merge the answers.
fn round(regions: &BTreeMap<String, DriverIndex>, limit: usize, exclude: &[String]) -> Vec<Candidate> {
    let asked = regions_within(PICKUP, RADIUS_KM, REGION_RES).expect("a valid query");
    let lists = asked
        .iter()
        .filter_map(|cell| regions.get(cell))
        .map(|index| index.nearest(PICKUP, RADIUS_KM * 1000.0, limit, Eligibility::OfferableOnly, exclude))
        .collect();
    merge_nearest(lists, limit)
}

fn ids(found: &[Candidate]) -> Vec<&str> {
    found.iter().map(|c| c.driver_id.as_str()).collect()
}

#[test]
fn the_scenario_spans_several_regions_within_the_radius() {
    let home = region_of(PICKUP, REGION_RES).expect("a valid position");
    let asked = regions_within(PICKUP, RADIUS_KM, REGION_RES).expect("a valid query");
    let in_other_regions: Vec<&str> = DRIVERS
        .iter()
        .filter(|d| d.km <= RADIUS_KM && region_of(location(d), REGION_RES).ok() != Some(home.clone()))
        .map(|d| d.id)
        .collect();
    assert!(in_other_regions.len() >= 3, "{in_other_regions:?}");
    assert!(regions().len() >= 3);
    for driver in DRIVERS.iter().filter(|d| d.km <= RADIUS_KM) {
        assert!(asked.contains(&region_of(location(driver), REGION_RES).expect("a valid position")), "{}", driver.id);
    }
}

#[test]
fn a_round_offers_the_five_closest_available_drivers_across_region_borders() {
    let found = round(&regions(), OFFER_BATCH, &[]);
    assert_eq!(ids(&found), ["north-east", "south", "west", "east-north-east", "south-east"]);
    for candidate in &found {
        let placed = DRIVERS.iter().find(|d| d.id == candidate.driver_id).expect("a placed driver");
        assert!((candidate.distance_m - placed.km * 1000.0).abs() < 0.01, "{}", placed.id);
        assert!((candidate.distance_m - distance_m(PICKUP, candidate.location)).abs() < 1e-6);
        assert!(candidate.available);
    }
}

#[test]
fn drivers_beyond_the_radius_busy_or_unavailable_are_never_offered() {
    let found = round(&regions(), 50, &[]);
    assert_eq!(ids(&found), ["north-east", "south", "west", "east-north-east", "south-east", "north-west"]);
}

#[test]
fn the_next_round_skips_the_drivers_already_offered() {
    let regions = regions();
    let first: Vec<String> = round(&regions, OFFER_BATCH, &[]).into_iter().map(|c| c.driver_id).collect();
    let second = round(&regions, OFFER_BATCH, &first);
    assert_eq!(ids(&second), ["north-west"]);
    let mut all = first;
    all.extend(second.into_iter().map(|c| c.driver_id));
    assert!(round(&regions, OFFER_BATCH, &all).is_empty());
}

#[test]
fn a_driver_seen_by_two_regions_during_a_hand_off_is_offered_once() {
    let mut regions = regions();
    let north_east = &DRIVERS[2];
    let stale = regions.keys().find(|cell| **cell != region_of(location(north_east), REGION_RES).expect("valid"));
    let stale = stale.expect("another region").clone();
    let moved = destination(location(north_east), 0.0, 10.0);
    regions.get_mut(&stale).expect("a region").upsert(north_east.id, moved, true);
    let found = round(&regions, OFFER_BATCH, &[]);
    assert_eq!(ids(&found), ["north-east", "south", "west", "east-north-east", "south-east"]);
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A position in the square of about 30 km around the pickup.
    fn near_pickup(&mut self) -> LatLng {
        LatLng { lat: PICKUP.lat - 0.135 + self.unit() * 0.27, lng: PICKUP.lng - 0.15 + self.unit() * 0.3 }
    }
}

/// Mean microseconds per call of `f` over `n` calls.
#[allow(clippy::disallowed_methods, reason = "a native benchmark measures wall time; the core never does")]
fn mean_us(n: usize, mut f: impl FnMut(usize)) -> f64 {
    let start = std::time::Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

#[test]
#[ignore = "a benchmark: run scripts/bench-index"]
fn bench_nearest_query_over_10k_drivers() {
    const DRIVER_COUNT: usize = 10_000;
    const QUERIES: usize = 2_000;
    let mut rng = Lcg(7);
    let ids: Vec<String> = (0..DRIVER_COUNT).map(|i| format!("driver-{i:05}")).collect();
    let first: Vec<LatLng> = (0..DRIVER_COUNT).map(|_| rng.near_pickup()).collect();
    let moves: Vec<LatLng> = (0..DRIVER_COUNT).map(|_| rng.near_pickup()).collect();
    let pickups: Vec<LatLng> = (0..QUERIES).map(|_| rng.near_pickup()).collect();

    let mut index = DriverIndex::new();
    let insert_us = mean_us(DRIVER_COUNT, |i| index.upsert(&ids[i], first[i], i % 10 != 0));
    let move_us = mean_us(DRIVER_COUNT, |i| index.upsert(&ids[i], moves[i], i % 10 != 0));
    let exclude: Vec<String> = ids.iter().step_by(997).cloned().collect();
    let mut found = 0;
    let query_us = mean_us(QUERIES, |i| {
        found += index.nearest(pickups[i], RADIUS_KM * 1000.0, OFFER_BATCH, Eligibility::OfferableOnly, &exclude).len();
    });
    let map_us = mean_us(QUERIES, |i| found += index.nearest(pickups[i], 2_000.0, 50, Eligibility::Any, &[]).len());
    let regions_us =
        mean_us(QUERIES, |i| found += regions_within(pickups[i], RADIUS_KM, REGION_RES).map_or(0, |r| r.len()));
    let merge_lists: Vec<Vec<Candidate>> = (0..4)
        .map(|r| index.nearest(pickups[r], RADIUS_KM * 1000.0, OFFER_BATCH, Eligibility::OfferableOnly, &[]))
        .collect();
    let merge_us = mean_us(QUERIES, |_| found += merge_nearest(merge_lists.clone(), OFFER_BATCH).len());

    let res_label = format!("regions_within 10 km at res {REGION_RES}:");
    println!("{:<40} {DRIVER_COUNT}", "drivers indexed:");
    println!("{:<40} {insert_us:.2} us", "upsert, new driver:");
    println!("{:<40} {move_us:.2} us", "upsert, moved driver:");
    println!("{:<40} {query_us:.2} us", "nearest, 5 offerable within 10 km:");
    println!("{:<40} {map_us:.2} us", "nearest, 50 of any within 2 km:");
    println!("{res_label:<40} {regions_us:.2} us");
    println!("{:<40} {merge_us:.2} us", "merge_nearest, 4 lists of 5:");
    println!("(answers seen: {found})");
}
