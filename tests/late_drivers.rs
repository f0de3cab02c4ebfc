//! Late drivers (src/core/late_driver.rs) with a fake clock: a driver a
//! region finds offerable near a searching ride is offered it at once, in
//! the current round, unless it was already offered it, the ride is not in
//! a live round, or it is out of reach; rounds tell the regions what to
//! watch for, and a ride that stops searching tells them to stop.

mod common;

use common::*;
use ridewire::core::dispatch::{DispatchSettings, Effect, RoundCandidate};
use ridewire::core::identity::{Caller, Role};
use ridewire::core::late_driver::SearchWatch;
use ridewire::core::protocol::{DriverOutbound, PassengerEvent};
use ridewire::core::ride::{RideRecord, RideStatus};
use ridewire::core::ride_input::RideInput;

fn late(id: &str, distance_m: f64) -> RoundCandidate {
    let mut c = candidates(&[id]).remove(0);
    c.candidate.distance_m = distance_m;
    c.region = "85bc5a3ffffffff".into();
    c
}

fn late_input(id: &str) -> RideInput {
    RideInput::LateDriver { candidate: late(id, 900.0) }
}

/// A ride whose first round found nobody (it waits).
fn waiting_ride() -> RideRecord {
    let mut record = new_ride();
    record.handle(RideInput::NextRound, &settings(), T0);
    record.handle(RideInput::RoundAnswered { round: 1, candidates: Vec::new(), complete: true }, &settings(), T0);
    record
}

fn watches(effects: &[Effect]) -> Vec<SearchWatch> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Watch(w) => Some(w.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_driver_who_turns_up_while_a_ride_waits_is_offered_it_at_once_in_the_current_round() {
    let mut record = waiting_ride();
    let out = record.handle(late_input("late"), &settings(), T0 + 3_000);
    assert_eq!(offered_ids(&out.effects), ["late"]);
    let expires = out.effects.iter().find_map(|e| match e {
        Effect::ToDrivers { drivers, message: DriverOutbound::RideOffer { expires_at, .. }, .. } => {
            Some((drivers[0].region.clone(), *expires_at))
        }
        _ => None,
    });
    assert_eq!(expires, Some(("85bc5a3ffffffff".to_string(), T0 + 20_000)), "the round's own expiry, via its region");
    assert_eq!(passenger_events(&out.effects), [PassengerEvent::Searching { round: 1, drivers_notified: 1 }]);
    assert_eq!(record.ride.offer_round, 1, "no new round");
    assert_eq!(record.next_deadline(), Some(T0 + 20_000));
    assert!(record.accept_refusal("late", T0 + 4_000).is_none(), "the late driver may accept");
}

#[test]
fn a_late_driver_joins_a_round_that_already_offered_others() {
    let mut record = with_round_one(&["d1", "d2"]);
    let effects = record.offer_late(late("late", 500.0), &settings(), T0 + 1_000);
    assert_eq!(offered_ids(&effects), ["late"]);
    assert_eq!(passenger_events(&effects), [PassengerEvent::Searching { round: 1, drivers_notified: 3 }]);
}

#[test]
fn a_driver_already_offered_the_ride_or_who_declined_it_is_not_offered_it_again() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.decline("d2", T0 + 500).unwrap();
    assert!(record.offer_late(late("d1", 100.0), &settings(), T0 + 1_000).is_empty());
    assert!(record.offer_late(late("d2", 100.0), &settings(), T0 + 1_000).is_empty());
    record.offer_late(late("late", 100.0), &settings(), T0 + 1_000);
    assert!(record.offer_late(late("late", 100.0), &settings(), T0 + 2_000).is_empty(), "once");
    assert_eq!(record.offered_driver_ids(), ["d1", "d2", "late"]);
}

#[test]
fn a_driver_beyond_the_dispatch_radius_is_not_offered_the_ride() {
    let mut record = waiting_ride();
    assert!(record.offer_late(late("far", 10_001.0), &settings(), T0 + 1_000).is_empty());
    assert!(!record.offer_late(late("edge", 10_000.0), &settings(), T0 + 1_000).is_empty());
}

#[test]
fn no_late_offer_outside_a_live_round() {
    let s = settings();
    // Before the first round, and after the round's time is up (the next round's query finds it).
    let mut fresh = new_ride();
    assert!(fresh.offer_late(late("x", 100.0), &s, T0).is_empty());
    let mut record = waiting_ride();
    assert!(record.offer_late(late("x", 100.0), &s, T0 + 20_000).is_empty());
    // While a query to the regions is out.
    let mut asking = waiting_ride();
    asking.handle(RideInput::Tick, &s, T0 + 20_000);
    assert!(asking.round_query.is_some());
    assert!(asking.offer_late(late("x", 100.0), &s, T0 + 20_001).is_empty());
    // Once the ride is taken or cancelled.
    let mut taken = accepted_by("d1", &["d1"]);
    assert!(taken.offer_late(late("x", 100.0), &s, T0 + 2_000).is_empty());
    let mut cancelled = waiting_ride();
    let pax = Caller { sub: "pax-1".into(), role: Role::Passenger, name: None };
    cancelled.handle(RideInput::Cancel { caller: pax, reason: None, req_id: None }, &s, T0 + 1_000);
    assert!(cancelled.offer_late(late("x", 100.0), &s, T0 + 2_000).is_empty());
}

#[test]
fn every_round_tells_the_regions_what_to_watch_for_until_it_ends() {
    let s = settings();
    let mut record = new_ride();
    record.handle(RideInput::NextRound, &s, T0);
    let out =
        record.handle(RideInput::RoundAnswered { round: 1, candidates: candidates(&["d1"]), complete: true }, &s, T0);
    let watch = watches(&out.effects);
    assert_eq!(watch.len(), 1);
    assert_eq!((watch[0].until, watch[0].exclude.clone(), watch[0].radius_km), (T0 + 20_000, vec!["d1".into()], 10.0));
    assert!(!watch[0].ended());
    // A late offer starts no round: nothing new to watch.
    let out = record.handle(late_input("late"), &s, T0 + 1_000);
    assert!(watches(&out.effects).is_empty());
}

#[test]
fn a_ride_that_stops_searching_tells_the_regions_to_stop_watching() {
    let s = DispatchSettings { max_rounds: 1, ..settings() };
    let mut record = waiting_ride();
    let out = record.handle(RideInput::Tick, &s, T0 + 20_000);
    assert_eq!(record.ride.status, RideStatus::Expired);
    let watch = watches(&out.effects);
    assert_eq!(watch.len(), 1);
    assert!(watch[0].ended());
}

#[test]
fn when_every_driver_of_the_round_late_ones_included_declined_the_next_round_starts_at_once() {
    let mut record = with_round_one(&["d1"]);
    record.offer_late(late("late", 300.0), &settings(), T0 + 1_000);
    let out = record.handle(RideInput::Decline { driver_id: "d1".into() }, &settings(), T0 + 2_000);
    assert!(record.round_query.is_none(), "the late driver still holds the round: {out:?}");
    record.handle(RideInput::Decline { driver_id: "late".into() }, &settings(), T0 + 3_000);
    assert_eq!(record.round_query.map(|q| q.round), Some(2), "every driver of round 1 declined");
}
