//! Demand alerts (src/core/region/demand.rs) with a fake clock: where more
//! rides search in a cell one resolution finer than the region than the
//! region has available drivers within the radius, for a whole window, the
//! available drivers within twice the radius and the dispatch sockets get
//! `high_demand`, at most once a window per cell.

mod region_fixtures;

use std::collections::BTreeMap;

use region_fixtures::*;
use ridewire::core::geo::{destination, LatLng, Place};
use ridewire::core::protocol::SnapshotRide;
use ridewire::core::region::{
    CellDemand, DeliverBatch, Heard, Region, RegionEffect, RegionInput, RegionSettings, RideFeed,
};
use ridewire::core::region_cells::{region_center, region_of};
use ridewire::core::ride::RideStatus;
use serde_json::Value;

const WINDOW: i64 = 60_000;

fn ride(region: &mut Region, id: &str, at: LatLng, status: RideStatus, now: i64) -> Vec<RegionEffect> {
    let feed = RideFeed {
        ride_id: id.into(),
        status,
        pickup: Place { lat: at.lat, lng: at.lng, address: None },
        created: status == RideStatus::Searching,
    };
    region.handle(RegionInput::Deliver(DeliverBatch { feed: vec![feed], ..DeliverBatch::default() }), now)
}

/// The alarm, with every driver socket of these tests heard just now.
fn tick(region: &mut Region, now: i64) -> Vec<RegionEffect> {
    let heard = ["s1", "s2", "near", "far", "resting"]
        .into_iter()
        .map(|s| Heard { socket_id: s.into(), frame_at: now, keepalive_at: None })
        .collect();
    region.handle(RegionInput::Tick { heard }, now)
}

/// The centre of HERE's demand cell (one resolution finer than the region), `km` east of it.
fn from_center(km: f64) -> LatLng {
    let center = region_center(&region_of(HERE, 6).unwrap()).unwrap();
    destination(center, 90.0, km * 1000.0)
}

fn alerts_to(fx: &[RegionEffect], socket: &str) -> Vec<Value> {
    sent_to(fx, socket).into_iter().filter(|f| f["type"] == "high_demand").collect()
}

fn desk_alerts(fx: &[RegionEffect]) -> Vec<Value> {
    feed(fx).into_iter().filter(|f| f["type"] == "high_demand").collect()
}

/// A region with one available driver 1 km from HERE and two rides searching at HERE since T0.
fn piled_up() -> Region {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0 - 1_000);
    region.handle(RegionInput::DispatcherOpened { socket_id: "desk".into(), cell: cell() }, T0 - 1_000);
    ride(&mut region, "r1", HERE, RideStatus::Searching, T0);
    ride(&mut region, "r2", HERE, RideStatus::Searching, T0);
    region
}

#[test]
fn rides_outnumbering_drivers_for_a_whole_window_alert_the_drivers_and_dispatchers_once() {
    let mut region = piled_up();
    let fx = tick(&mut region, T0 + WINDOW - 1);
    assert!(alerts_to(&fx, "s1").is_empty() && desk_alerts(&fx).is_empty(), "not before a whole window");
    assert!(wakes(&fx).contains(&(T0 + WINDOW)), "the alarm rings when it falls due");
    let fx = tick(&mut region, T0 + WINDOW);
    let alert = alerts_to(&fx, "s1");
    assert_eq!(alert.len(), 1);
    let cell6 = region_of(HERE, 6).unwrap();
    assert_eq!(alert[0]["cell"], cell6.as_str());
    assert_eq!((alert[0]["searching"].as_u64(), alert[0]["available"].as_u64()), (Some(2), Some(1)));
    assert!(alert[0]["center"]["lat"].is_f64() && alert[0]["center"]["lng"].is_f64());
    assert_eq!(desk_alerts(&fx), alert, "dispatch sockets see the same alert");
    assert!(fx.iter().any(|e| matches!(e, RegionEffect::StoreDemand(_))), "the clocks are kept through a wake-up");
    assert!(wakes(&fx).contains(&(T0 + 2 * WINDOW)), "the alarm rings for the next window");
}

#[test]
fn a_cell_is_alerted_at_most_once_a_window() {
    let mut region = piled_up();
    tick(&mut region, T0 + WINDOW);
    for at in [T0 + WINDOW + 1, T0 + WINDOW + 30_000, T0 + 2 * WINDOW - 1] {
        let fx = tick(&mut region, at);
        assert!(alerts_to(&fx, "s1").is_empty(), "again at {}", at - T0);
        let fx = message(&mut region, "s1", r#"{"type":"location_update","lat":-26.2041,"lng":28.05}"#, at);
        assert!(alerts_to(&fx, "s1").is_empty());
    }
    let fx = tick(&mut region, T0 + 2 * WINDOW);
    assert_eq!(alerts_to(&fx, "s1").len(), 1, "the pile-up lasts: the next window alerts again");
}

#[test]
fn no_alert_while_the_available_drivers_keep_up() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d2", east(2.0), T0);
    ride(&mut region, "r1", HERE, RideStatus::Searching, T0);
    ride(&mut region, "r2", HERE, RideStatus::Searching, T0);
    let fx = tick(&mut region, T0 + 5 * WINDOW);
    assert!(alerts_to(&fx, "s1").is_empty());
}

#[test]
fn the_clock_starts_again_when_the_pile_up_clears_for_a_moment() {
    let mut region = piled_up();
    online(&mut region, "s2", "d2", east(2.0), T0 + 30_000);
    gone(&mut region, "s2", T0 + 40_000);
    let fx = tick(&mut region, T0 + WINDOW);
    assert!(alerts_to(&fx, "s1").is_empty(), "over since 40 s only");
    let fx = tick(&mut region, T0 + 40_000 + WINDOW);
    assert_eq!(alerts_to(&fx, "s1").len(), 1);
}

#[test]
fn rides_that_stop_searching_stop_counting() {
    let mut region = piled_up();
    ride(&mut region, "r2", HERE, RideStatus::Accepted, T0 + 10_000);
    let fx = tick(&mut region, T0 + 2 * WINDOW);
    assert!(alerts_to(&fx, "s1").is_empty(), "one ride searching, one driver available");
}

#[test]
fn only_available_drivers_within_twice_the_radius_hear_it_and_busy_or_unavailable_ones_do_not_count() {
    let settings = RegionSettings { radius_km: 2.0, ..settings() };
    let mut region = Region::new(settings);
    online(&mut region, "near", "near", from_center(3.0), T0); // beyond the radius, within twice it
    online(&mut region, "far", "far", from_center(5.0), T0); // beyond twice the radius
    online(&mut region, "resting", "resting", from_center(0.5), T0);
    message(&mut region, "resting", r#"{"type":"set_available","available":false}"#, T0);
    ride(&mut region, "r1", from_center(0.0), RideStatus::Searching, T0);
    let fx = tick(&mut region, T0 + WINDOW);
    let alert = alerts_to(&fx, "near");
    assert_eq!(alert.len(), 1);
    assert_eq!((alert[0]["searching"].as_u64(), alert[0]["available"].as_u64()), (Some(1), Some(0)));
    assert!(alerts_to(&fx, "far").is_empty());
    assert!(alerts_to(&fx, "resting").is_empty());
}

#[test]
fn each_cell_is_counted_and_alerted_on_its_own() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let other = east(4.0);
    assert_ne!(region_of(HERE, 6).unwrap(), region_of(other, 6).unwrap());
    ride(&mut region, "r1", HERE, RideStatus::Searching, T0);
    ride(&mut region, "r2", HERE, RideStatus::Searching, T0);
    ride(&mut region, "r3", other, RideStatus::Searching, T0);
    let fx = tick(&mut region, T0 + WINDOW);
    let cells: Vec<Value> = alerts_to(&fx, "s1").into_iter().map(|a| a["cell"].clone()).collect();
    assert_eq!(cells, [Value::from(region_of(HERE, 6).unwrap())], "r3's cell has a driver for its one ride");
}

#[test]
fn the_demand_clocks_survive_a_wake_up() {
    let searching = |id: &str| SnapshotRide {
        id: id.into(),
        status: RideStatus::Searching,
        pickup: Place { lat: HERE.lat, lng: HERE.lng, address: None },
    };
    let mut region = Region::rebuild(settings(), Some(cell()), vec![searching("r1"), searching("r2")], vec![], vec![]);
    let mut clocks = BTreeMap::new();
    clocks.insert(region_of(HERE, 6).unwrap(), CellDemand { over_since: Some(T0), alerted_at: None });
    region.restore_demand(clocks);
    online(&mut region, "s1", "d1", east(1.0), T0 + 50_000);
    let fx = tick(&mut region, T0 + WINDOW);
    assert_eq!(alerts_to(&fx, "s1").len(), 1, "over since T0, as stored");
}

#[test]
fn an_alarm_that_rings_a_moment_before_an_alert_is_due_wakes_again_for_it() {
    let mut region = piled_up();
    // A location update half a second before the alert is due counts demand then...
    let moved = east(1.1);
    let update = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, moved.lat, moved.lng);
    message(&mut region, "s1", &update, T0 + WINDOW - 500);
    // ...so an alarm ringing a millisecond early falls inside the sampling interval: it still
    // counts, and asks to ring again when the alert falls due rather than losing it.
    let fx = tick(&mut region, T0 + WINDOW - 1);
    assert!(alerts_to(&fx, "s1").is_empty());
    assert!(wakes(&fx).contains(&(T0 + WINDOW)), "{:?}", wakes(&fx));
    let fx = tick(&mut region, T0 + WINDOW);
    assert_eq!(alerts_to(&fx, "s1").len(), 1);
}
