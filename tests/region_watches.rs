//! A region's watches for late drivers (src/core/region/watches.rs), with a
//! fake clock: a driver who becomes offerable within the radius of a
//! watched searching ride, or moves into it while offerable, is reported to
//! the ride at once, once; busy, unavailable, attaching and far drivers are
//! not, nor one that was offerable inside the radius already (the round had
//! it to choose from); a watch ends when the ride stops searching or its
//! round is over.

mod region_fixtures;

use region_fixtures::*;
use ridewire::core::dispatch::RoundCandidate;
use ridewire::core::geo::LatLng;
use ridewire::core::late_driver::SearchWatch;
use ridewire::core::region::{DeliverBatch, Delivery, Region, RegionEffect, RegionInput};

const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

fn watch(until: i64, exclude: &[&str]) -> SearchWatch {
    SearchWatch {
        ride_id: RIDE.into(),
        at: HERE,
        radius_km: 10.0,
        until,
        exclude: exclude.iter().map(|s| s.to_string()).collect(),
    }
}

fn watched(region: &mut Region, w: SearchWatch, now: i64) -> Vec<RegionEffect> {
    region.handle(RegionInput::Watch(w), now)
}

/// The drivers reported to rides, as (ride, driver).
fn reported(fx: &[RegionEffect]) -> Vec<(String, String)> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::OfferLate { ride_id, candidate: RoundCandidate { candidate, .. } } => {
                Some((ride_id.clone(), candidate.driver_id.clone()))
            }
            _ => None,
        })
        .collect()
}

fn one(driver: &str) -> Vec<(String, String)> {
    vec![(RIDE.to_string(), driver.to_string())]
}

#[test]
fn a_driver_who_comes_online_near_a_watched_ride_is_reported_once_its_socket_attached() {
    let mut region = region();
    let fx = watched(&mut region, watch(T0 + 20_000, &[]), T0);
    assert!(fx.contains(&RegionEffect::StoreWatch(watch(T0 + 20_000, &[]))), "kept through a wake-up");
    let fx = open_at(&mut region, "s1", "late", east(3.0), T0 + 3_000);
    assert!(reported(&fx).is_empty(), "not before its Driver DO answered");
    let fx = attach(&mut region, "s1", None, &[], T0 + 3_100);
    assert_eq!(reported(&fx), one("late"));
    let late = fx.iter().find_map(|e| match e {
        RegionEffect::OfferLate { candidate, .. } => Some(candidate.clone()),
        _ => None,
    });
    let late = late.unwrap();
    assert_eq!(late.region, cell());
    assert!((late.candidate.distance_m - 3_000.0).abs() < 5.0);
    let fx = message(&mut region, "s1", r#"{"type":"location_update","lat":-26.2041,"lng":28.06}"#, T0 + 4_000);
    assert!(reported(&fx).is_empty(), "reported once per ride");
}

#[test]
fn a_driver_who_becomes_available_is_reported() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    message(&mut region, "s1", r#"{"type":"set_available","available":false}"#, T0 + 1);
    watched(&mut region, watch(T0 + 20_000, &[]), T0 + 2);
    let fx = message(&mut region, "s1", r#"{"type":"location_update","lat":-26.2041,"lng":28.05}"#, T0 + 3);
    assert!(reported(&fx).is_empty(), "unavailable drivers are not");
    let fx = message(&mut region, "s1", r#"{"type":"set_available","available":true}"#, T0 + 4);
    assert_eq!(reported(&fx), one("d1"));
}

#[test]
fn a_driver_moving_into_the_radius_is_reported_and_one_outside_is_not() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(4.0), T0);
    watched(&mut region, SearchWatch { radius_km: 2.0, ..watch(T0 + 20_000, &[]) }, T0 + 1);
    let fx = message(&mut region, "s1", &location(east(3.0)), T0 + 2);
    assert!(reported(&fx).is_empty(), "3 km from the pickup, beyond the radius");
    let fx = message(&mut region, "s1", &location(east(1.5)), T0 + 3);
    assert_eq!(reported(&fx), one("d1"));
}

#[test]
fn drivers_offerable_inside_the_radius_already_are_not_reported_for_moving_within_it() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d2", east(4.0), T0);
    watched(&mut region, SearchWatch { radius_km: 2.0, ..watch(T0 + 20_000, &[]) }, T0 + 1);
    for (i, km) in [1.2, 0.8, 1.5].iter().enumerate() {
        let fx = message(&mut region, "s1", &location(east(*km)), T0 + 2 + i as i64);
        assert!(reported(&fx).is_empty(), "d1 was offerable at {km} km inside the radius already");
    }
    let fx = message(&mut region, "s2", &location(east(1.9)), T0 + 10);
    assert_eq!(reported(&fx), one("d2"), "d2 came into the radius");
}

#[test]
fn a_driver_freed_by_its_busy_mark_is_reported_and_a_busy_one_is_not() {
    let mut region = region();
    open_at(&mut region, "s1", "d1", east(1.0), T0);
    attach(&mut region, "s1", Some("ride_other"), &[], T0 + 1);
    watched(&mut region, watch(T0 + 20_000, &[]), T0 + 2);
    let fx = message(&mut region, "s1", r#"{"type":"location_update","lat":-26.2041,"lng":28.05}"#, T0 + 3);
    assert!(reported(&fx).is_empty(), "busy drivers are offered nothing");
    let freed = Delivery {
        driver_id: "d1".into(),
        frame: "{\"type\":\"ride_updated\"}".into(),
        offer: false,
        mark: Some(mark(None, 2)),
    };
    let fx = region
        .handle(RegionInput::Deliver(DeliverBatch { deliveries: vec![freed], ..DeliverBatch::default() }), T0 + 4);
    assert_eq!(reported(&fx), one("d1"));
}

#[test]
fn drivers_the_ride_already_offered_are_not_reported() {
    let mut region = region();
    watched(&mut region, watch(T0 + 20_000, &["d1"]), T0);
    let fx = online(&mut region, "s1", "d1", east(1.0), T0 + 1);
    assert!(reported(&fx).is_empty());
}

#[test]
fn a_watch_ends_with_its_round_or_when_the_ride_stops_searching() {
    let mut region = region();
    watched(&mut region, watch(T0 + 20_000, &[]), T0);
    let fx = online(&mut region, "s1", "d1", east(1.0), T0 + 20_000);
    assert!(reported(&fx).is_empty(), "the round is over");
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + 20_001);
    assert!(fx.contains(&RegionEffect::ForgetWatch(RIDE.into())));

    watched(&mut region, watch(T0 + 60_000, &[]), T0 + 21_000);
    let fx = watched(&mut region, watch(0, &[]), T0 + 22_000);
    assert!(fx.contains(&RegionEffect::ForgetWatch(RIDE.into())));
    let fx = online(&mut region, "s2", "d2", east(1.0), T0 + 23_000);
    assert!(reported(&fx).is_empty(), "the ride stopped searching");
}

#[test]
fn watches_survive_a_wake_up() {
    let mut region = Region::rebuild(settings(), Some(cell()), vec![], vec![], vec![]);
    region.restore_watches(vec![watch(T0 + 20_000, &[])]);
    let fx = online(&mut region, "s1", "d1", east(1.0), T0);
    assert_eq!(reported(&fx), one("d1"));
}

fn location(at: LatLng) -> String {
    format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, at.lat, at.lng)
}

#[test]
fn a_watch_that_comes_with_a_deliver_batch_is_kept_like_one_sent_alone() {
    let mut region = region();
    let batch = DeliverBatch { watches: vec![watch(T0 + 20_000, &[])], ..DeliverBatch::default() };
    let fx = region.handle(RegionInput::Deliver(batch), T0);
    assert!(fx.contains(&RegionEffect::StoreWatch(watch(T0 + 20_000, &[]))), "kept through a wake-up");
    online(&mut region, "s1", "late", east(3.0), T0 + 3_000);
    let fx = region.handle(RegionInput::Deliver(DeliverBatch::default()), T0 + 3_100);
    assert!(reported(&fx).is_empty());
    let fx = open_at(&mut region, "s2", "later", east(2.0), T0 + 4_000);
    let mut fx2 = attach(&mut region, "s2", None, &[], T0 + 4_100);
    fx2.extend(fx);
    assert_eq!(reported(&fx2), one("later"), "the watch holds: a driver coming online is reported");
}
