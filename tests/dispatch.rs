//! The dispatch rules of PROTOCOL.md, decided by the pure core with a fake
//! clock: offer rounds, the accept lock and the exactly-once accept.

mod common;

use common::*;
use ridewire::core::dispatch::{DispatchSettings, Effect};
use ridewire::core::protocol::{AcceptFailure, DriverOutbound, PassengerEvent};
use ridewire::core::ride::RideStatus;

#[test]
fn a_round_offers_the_ride_to_at_most_the_batch_nearest_first() {
    let mut record = new_ride();
    let effects = record.start_round(candidates(&["d1", "d2", "d3", "d4", "d5", "d6", "d7"]), &settings(), T0);
    assert_eq!(offered_ids(&effects), ["d1", "d2", "d3", "d4", "d5"]);
    assert_eq!(record.ride.offer_round, 1);
    assert_eq!(passenger_events(&effects), [PassengerEvent::Searching { round: 1, drivers_notified: 5 }]);
    assert!(effects.contains(&Effect::WakeAt(T0 + 20_000)));
    assert_eq!(record.next_deadline(), Some(T0 + 20_000));
}

#[test]
fn an_offer_carries_the_distance_to_pickup_and_its_expiry() {
    let mut record = new_ride();
    let effects = record.start_round(candidates(&["d1"]), &settings(), T0);
    let offer = effects.iter().find_map(|e| match e {
        Effect::ToDrivers { message: DriverOutbound::RideOffer { distance_to_pickup_m, expires_at, ride }, .. } => {
            Some((*distance_to_pickup_m, *expires_at, ride.id.clone()))
        }
        _ => None,
    });
    assert_eq!(offer, Some((100.0, T0 + 20_000, record.ride.id.clone())));
}

#[test]
fn the_next_round_asks_only_for_drivers_not_yet_offered() {
    let record = with_round_one(&["d1", "d2"]);
    let query = record.candidate_query(&settings()).unwrap();
    assert_eq!(query.exclude, ["d1", "d2"]);
    assert_eq!(query.limit, 5);
    assert_eq!(query.radius_km, 10.0);
}

#[test]
fn candidates_already_offered_are_never_offered_again() {
    let mut record = with_round_one(&["d1", "d2"]);
    let effects = record.start_round(candidates(&["d1", "d3"]), &settings(), T0 + 20_000);
    assert_eq!(offered_ids(&effects), ["d3"]);
    assert_eq!(record.ride.offer_round, 2);
}

#[test]
fn a_round_that_finds_nobody_keeps_the_ride_searching_and_looks_again_after_the_timeout() {
    let mut record = new_ride();
    let effects = record.start_round(Vec::new(), &settings(), T0);
    assert_eq!(record.ride.status, RideStatus::Searching);
    assert_eq!(record.ride.offer_round, 1);
    assert_eq!(passenger_events(&effects), [PassengerEvent::Searching { round: 1, drivers_notified: 0 }]);
    assert!(effects.contains(&Effect::WakeAt(T0 + 20_000)));
    assert!(!record.round_timed_out(T0 + 19_999));
    assert!(record.round_timed_out(T0 + 20_000));
    assert!(record.candidate_query(&settings()).is_some(), "the next round asks again");
}

#[test]
fn a_ride_that_finds_nobody_in_max_rounds_rounds_expires_with_no_drivers() {
    let mut record = new_ride();
    let s = settings();
    for round in 0..3 {
        record.start_round(Vec::new(), &s, T0 + round * 20_000);
        assert_eq!(record.ride.status, RideStatus::Searching);
    }
    assert!(record.candidate_query(&s).is_none());
    let effects = record.start_round(Vec::new(), &s, T0 + 60_000);
    assert_eq!(record.ride.status, RideStatus::Expired);
    assert_eq!(passenger_events(&effects), [PassengerEvent::NoDrivers { rounds: 3 }]);
    assert_eq!(record.next_deadline(), None);
}

#[test]
fn after_the_last_round_the_ride_expires_and_offer_holders_of_every_round_hear_it() {
    let mut record = new_ride();
    let s = settings();
    record.start_round(candidates(&["d1"]), &s, T0);
    record.start_round(candidates(&["d2"]), &s, T0 + 20_000);
    record.start_round(candidates(&["d3"]), &s, T0 + 40_000);
    assert!(record.candidate_query(&s).is_none());
    let effects = record.start_round(candidates(&["d4"]), &s, T0 + 60_000);
    assert_eq!(record.ride.status, RideStatus::Expired);
    assert_eq!(passenger_events(&effects), [PassengerEvent::NoDrivers { rounds: 3 }]);
    let cancelled: Vec<String> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToDrivers { drivers, message: DriverOutbound::RideCancelled { reason, .. }, .. } => {
                assert_eq!(reason, "expired");
                Some(drivers.iter().map(|d| d.driver_id.clone()).collect::<Vec<_>>())
            }
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(cancelled, ["d1", "d2", "d3"], "an earlier round's offer could still be accepted");
}

#[test]
fn when_the_last_round_times_out_the_ride_expires_without_asking_for_candidates() {
    let s = DispatchSettings { max_rounds: 1, ..settings() };
    let mut record = new_ride();
    record.start_round(candidates(&["d1"]), &s, T0);
    assert!(!record.round_timed_out(T0 + 19_999));
    assert!(record.round_timed_out(T0 + 20_000));
    assert!(record.candidate_query(&s).is_none(), "no more rounds");
    let effects = record.start_round(Vec::new(), &s, T0 + 20_000);
    assert_eq!(record.ride.status, RideStatus::Expired);
    assert_eq!(passenger_events(&effects), [PassengerEvent::NoDrivers { rounds: 1 }]);
}

#[test]
fn a_round_started_after_the_ride_left_searching_does_nothing() {
    let mut record = with_round_one(&["d1"]);
    record.accept(profile("d1"), None, T0).unwrap();
    assert!(record.start_round(candidates(&["d2"]), &settings(), T0 + 20_000).is_empty());
    assert_eq!(record.ride.status, RideStatus::Accepted);
}

#[test]
fn the_first_accept_wins_and_everyone_concerned_is_told() {
    let mut record = with_round_one(&["d1", "d2", "d3"]);
    let effects = record.accept(profile("d2"), Some("req-9".into()), T0 + 1_000).unwrap();
    assert_eq!(record.ride.status, RideStatus::Accepted);
    assert_eq!(record.ride.accepted_at, Some(T0 + 1_000));
    assert_eq!(record.ride.driver.as_ref().map(|d| d.id.as_str()), Some("d2"));
    let events = passenger_events(&effects);
    assert!(matches!(&events[..], [PassengerEvent::DriverAssigned { driver, location: Some(_) }] if driver.id == "d2"));
    let assigned = effects.iter().any(|e| {
        matches!(e, Effect::ToDrivers { drivers, message: DriverOutbound::RideAssigned { .. }, req_id }
            if drivers.len() == 1 && drivers[0].driver_id == "d2" && req_id.as_deref() == Some("req-9"))
    });
    assert!(assigned, "the winner gets ride_assigned with its req_id");
    let taken: Vec<&str> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToDrivers { drivers, message: DriverOutbound::RideTaken { .. }, .. } => Some(drivers),
            _ => None,
        })
        .flatten()
        .map(|d| d.driver_id.as_str())
        .collect();
    assert_eq!(taken, ["d1", "d3"]);
    assert_eq!(record.next_deadline(), None, "no round timer once accepted");
}

#[test]
fn fifty_accepts_in_one_turn_yield_exactly_one_winner() {
    let ids: Vec<String> = (0..50).map(|i| format!("d{i:02}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let mut record = new_ride();
    let s = DispatchSettings { offer_batch: 50, ..settings() };
    record.start_round(candidates(&id_refs), &s, T0);
    let outcomes: Vec<_> = ids.iter().map(|id| record.accept(profile(id), None, T0 + 500)).collect();
    let winners = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(winners, 1);
    assert!(outcomes[1..].iter().all(|o| matches!(o, Err(AcceptFailure::RideTaken))));
    let assigned_events = outcomes
        .iter()
        .flatten()
        .flat_map(|effects| passenger_events(effects))
        .filter(|e| matches!(e, PassengerEvent::DriverAssigned { .. }))
        .count();
    assert_eq!(assigned_events, 1);
}

#[test]
fn a_driver_never_offered_the_ride_may_not_accept_it() {
    let mut record = with_round_one(&["d1"]);
    assert_eq!(record.accept(profile("stranger"), None, T0).unwrap_err(), AcceptFailure::NotOffered);
    record.accept(profile("d1"), None, T0).unwrap();
    assert_eq!(record.accept(profile("stranger"), None, T0).unwrap_err(), AcceptFailure::NotOffered);
}

#[test]
fn an_accept_after_the_ride_expired_is_ride_closed() {
    let s = DispatchSettings { max_rounds: 1, ..settings() };
    let mut record = with_round_one(&["d1"]);
    record.start_round(Vec::new(), &s, T0 + 20_000);
    assert_eq!(record.ride.status, RideStatus::Expired);
    assert_eq!(record.accept(profile("d1"), None, T0 + 20_001).unwrap_err(), AcceptFailure::RideClosed);
}

#[test]
fn the_lock_holder_alone_may_accept_while_the_lock_holds() {
    let mut record = with_round_one(&["d1", "d2"]);
    let lock = record.request_lock("d1", &settings(), T0 + 1_000).unwrap();
    assert_eq!(lock.expires_at, T0 + 6_000);
    assert_eq!(record.request_lock("d2", &settings(), T0 + 2_000).unwrap_err(), AcceptFailure::RideLocked);
    assert_eq!(record.accept(profile("d2"), None, T0 + 5_999).unwrap_err(), AcceptFailure::RideLocked);
    assert!(record.accept(profile("d1"), None, T0 + 5_999).is_ok());
}

#[test]
fn the_lock_lapses_by_itself_and_another_driver_may_then_take_it() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.request_lock("d1", &settings(), T0).unwrap();
    assert!(record.live_lock(T0 + 4_999).is_some());
    assert!(record.live_lock(T0 + 5_000).is_none());
    let lock = record.request_lock("d2", &settings(), T0 + 5_000).unwrap();
    assert_eq!(lock.driver_id, "d2");
    assert!(record.accept(profile("d2"), None, T0 + 5_001).is_ok());
}

#[test]
fn the_holder_may_renew_its_own_lock() {
    let mut record = with_round_one(&["d1"]);
    record.request_lock("d1", &settings(), T0).unwrap();
    let renewed = record.request_lock("d1", &settings(), T0 + 3_000).unwrap();
    assert_eq!(renewed.expires_at, T0 + 8_000);
}

#[test]
fn the_holder_keeps_the_lock_at_most_twice_its_ttl_in_a_row() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.request_lock("d1", &settings(), T0).unwrap();
    let renewed = record.request_lock("d1", &settings(), T0 + 4_000).unwrap();
    assert_eq!(renewed.expires_at, T0 + 9_000);
    let capped = record.request_lock("d1", &settings(), T0 + 8_000).unwrap();
    assert_eq!(capped.expires_at, T0 + 10_000, "a renewal never reaches past 2 x LOCK_TTL_S from the first");
    assert_eq!(record.request_lock("d1", &settings(), T0 + 10_000).unwrap_err(), AcceptFailure::LockLimit);
    // Right after the lapse, the same driver's request still counts as the same hold.
    assert_eq!(record.request_lock("d1", &settings(), T0 + 12_000).unwrap_err(), AcceptFailure::LockLimit);
    // Someone else may lock it at once; the first holder again once a whole TTL passed.
    assert!(record.request_lock("d2", &settings(), T0 + 10_001).is_ok());
}

#[test]
fn a_hold_that_lapsed_for_a_whole_ttl_starts_anew() {
    let mut record = with_round_one(&["d1"]);
    record.request_lock("d1", &settings(), T0).unwrap();
    record.request_lock("d1", &settings(), T0 + 4_000).unwrap();
    let fresh = record.request_lock("d1", &settings(), T0 + 9_000 + 5_000).unwrap();
    assert_eq!(fresh.held_since, T0 + 14_000);
    assert_eq!(fresh.expires_at, T0 + 19_000);
}

#[test]
fn a_driver_not_offered_the_ride_cannot_lock_it() {
    let mut record = with_round_one(&["d1"]);
    assert_eq!(record.request_lock("d9", &settings(), T0).unwrap_err(), AcceptFailure::NotOffered);
}

#[test]
fn event_numbers_run_without_gaps() {
    let mut record = new_ride();
    let mut seqs = vec![1];
    for effect in record.start_round(candidates(&["d1"]), &settings(), T0) {
        if let Effect::Publish(e) = effect {
            seqs.push(e.seq);
        }
    }
    for effect in record.accept(profile("d1"), None, T0).unwrap() {
        if let Effect::Publish(e) = effect {
            seqs.push(e.seq);
        }
    }
    assert_eq!(seqs, [1, 2, 3]);
    assert_eq!(record.last_seq, 3);
}

#[test]
fn the_winners_claim_version_numbers_the_busy_mark_its_frames_carry_and_the_end_frees_at_the_next() {
    use ridewire::core::busy_mark::BusyMark;
    use ridewire::core::commitments::FrameKind;
    use ridewire::core::dispatch::ClaimResult;
    let mut ride = with_round_one(&["d1", "d2"]);
    let token = ride.claim_sent("d1", T0 + 500);
    let (won, _) =
        ride.accept_claimed(profile("d1"), ClaimResult::Claimed { mark_version: 7 }, token, None, T0 + 1_000);
    assert!(won.is_ok());
    let id = ride.ride.id.clone();
    assert_eq!(ride.fast_mark(&FrameKind::Active), Some(BusyMark::new(Some(id), 7)));
    assert_eq!(ride.fast_mark(&FrameKind::Over), Some(BusyMark::new(None, 8)));
    assert_eq!(ride.fast_mark(&FrameKind::OfferClosed), None, "other frames mark nothing");
    // A ride whose claim version is not known (recorded before versions) sends no mark.
    assert_eq!(accepted_by("d1", &["d1"]).fast_mark(&FrameKind::Active), None);
}
