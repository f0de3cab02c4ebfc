//! A ride after dispatch started, decided by the pure core: declines move
//! rounds on, any allowed party cancels, the assigned driver steps the ride
//! to completion, and illegal moves are typed errors that change nothing.

mod common;

use common::*;
use ridewire::core::dispatch::Effect;
use ridewire::core::identity::{Caller, Role};
use ridewire::core::lifecycle::StepError;
use ridewire::core::protocol::{AcceptFailure, DriverOutbound, PassengerEvent, RideStep};
use ridewire::core::ride::RideStatus;

fn caller(role: Role, sub: &str) -> Caller {
    Caller { sub: sub.into(), role, name: None }
}

#[test]
fn a_round_moves_on_once_every_driver_of_it_declined() {
    let mut record = with_round_one(&["d1", "d2"]);
    assert_eq!(record.decline("d1", T0).unwrap(), vec![Effect::CloseOffer { driver_id: "d1".into() }]);
    assert_eq!(
        record.decline("d2", T0).unwrap(),
        vec![Effect::CloseOffer { driver_id: "d2".into() }, Effect::StartNextRound],
        "the Driver DO forgets the offer; the round is over"
    );
}

#[test]
fn a_driver_who_declined_can_no_longer_accept() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.decline("d1", T0).unwrap();
    assert_eq!(record.accept(profile("d1"), None, T0).unwrap_err(), AcceptFailure::NotOffered);
    assert!(record.accept(profile("d2"), None, T0).is_ok());
}

#[test]
fn a_decline_by_a_driver_never_offered_is_refused() {
    let mut record = with_round_one(&["d1"]);
    assert_eq!(record.decline("d9", T0).unwrap_err(), StepError::Refused(AcceptFailure::NotOffered));
}

#[test]
fn a_declining_lock_holder_frees_the_lock() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.request_lock("d1", &settings(), T0).unwrap();
    record.decline("d1", T0).unwrap();
    assert!(record.live_lock(T0).is_none());
    assert!(record.accept(profile("d2"), None, T0).is_ok());
}

#[test]
fn the_passenger_cancels_a_searching_ride_and_offer_holders_hear_it() {
    let mut record = with_round_one(&["d1", "d2"]);
    record.decline("d2", T0).unwrap();
    let effects = record.cancel(&caller(Role::Passenger, "pax-1"), Some("changed plans".into()), None, T0 + 5).unwrap();
    assert_eq!(record.ride.status, RideStatus::Cancelled);
    assert_eq!(record.ride.cancelled_at, Some(T0 + 5));
    assert_eq!(record.ride.cancelled_by, Some(Role::Passenger));
    assert_eq!(record.ride.cancel_reason.as_deref(), Some("changed plans"));
    assert_eq!(
        passenger_events(&effects),
        [PassengerEvent::RideCancelled { by: Role::Passenger, reason: Some("changed plans".into()) }]
    );
    assert_eq!(driver_frames(&effects), [("d1".to_string(), "ride_cancelled".to_string())], "d2 declined already");
    assert_eq!(record.accept(profile("d1"), None, T0 + 6).unwrap_err(), AcceptFailure::RideClosed);
    assert_eq!(record.next_deadline(), None);
}

#[test]
fn a_dispatcher_cancels_an_accepted_ride_and_the_driver_is_freed() {
    let mut record = accepted_by("d1", &["d1", "d2"]);
    let effects = record.cancel(&caller(Role::Dispatcher, "ops"), None, None, T0 + 9).unwrap();
    assert_eq!(record.ride.cancelled_by, Some(Role::Dispatcher));
    assert_eq!(driver_frames(&effects), [("d1".to_string(), "ride_updated".to_string())]);
    assert!(
        effects.iter().any(|e| matches!(e,
        Effect::ToDrivers { drivers, message: DriverOutbound::RideUpdated { ride }, .. }
            if drivers[0].driver_id == "d1" && ride.status == RideStatus::Cancelled)),
        "the final ride_updated frees the driver at its Driver DO"
    );
}

#[test]
fn the_assigned_driver_may_cancel_and_gets_the_answer_with_its_req_id() {
    let mut record = accepted_by("d1", &["d1"]);
    let effects = record.cancel(&caller(Role::Driver, "d1"), Some("flat tyre".into()), Some("c-1".into()), T0).unwrap();
    assert_eq!(
        passenger_events(&effects),
        [PassengerEvent::RideCancelled { by: Role::Driver, reason: Some("flat tyre".into()) }]
    );
    assert!(effects.iter().any(|e| matches!(e, Effect::ToDrivers { req_id: Some(r), .. } if r == "c-1")));
}

#[test]
fn a_driver_only_offered_the_ride_may_not_cancel_it() {
    let mut record = with_round_one(&["d1"]);
    assert!(matches!(record.cancel(&caller(Role::Driver, "d1"), None, None, T0), Err(StepError::Forbidden(_))));
    assert_eq!(record.ride.status, RideStatus::Searching);
}

#[test]
fn another_passenger_or_partner_may_not_cancel() {
    let mut record = with_round_one(&["d1"]);
    assert!(record.cancel(&caller(Role::Passenger, "someone"), None, None, T0).is_err());
    assert!(record.cancel(&caller(Role::Partner, "acme"), None, None, T0).is_err());
}

#[test]
fn cancelling_twice_changes_nothing_the_second_time() {
    let mut record = with_round_one(&["d1"]);
    record.cancel(&caller(Role::Passenger, "pax-1"), None, None, T0).unwrap();
    let seq = record.last_seq;
    assert_eq!(record.cancel(&caller(Role::Dispatcher, "ops"), None, None, T0 + 1).unwrap(), Vec::<Effect>::new());
    assert_eq!(record.last_seq, seq);
    assert_eq!(record.ride.cancelled_by, Some(Role::Passenger));
}

#[test]
fn the_assigned_driver_steps_the_ride_to_completion_in_order() {
    let mut record = accepted_by("d1", &["d1"]);
    let arrived = record.step("d1", RideStep::Arrived, Some("s1".into()), T0 + 10).unwrap();
    assert_eq!(passenger_events(&arrived), [PassengerEvent::DriverArrived]);
    assert_eq!(driver_frames(&arrived), [("d1".to_string(), "ride_updated".to_string())]);
    let started = record.step("d1", RideStep::InProgress, None, T0 + 20).unwrap();
    assert_eq!(passenger_events(&started), [PassengerEvent::TripStarted]);
    let completed = record.step("d1", RideStep::Completed, None, T0 + 30).unwrap();
    assert_eq!(passenger_events(&completed), [PassengerEvent::RideCompleted { fare: None, proof: None }]);
    assert!(
        completed.iter().any(|e| matches!(e,
            Effect::ToDrivers { message: DriverOutbound::RideUpdated { ride }, .. } if ride.status == RideStatus::Completed)),
        "the final ride_updated frees the driver at its Driver DO"
    );
    assert_eq!(record.ride.status, RideStatus::Completed);
    assert_eq!(
        (record.ride.arrived_at, record.ride.started_at, record.ride.completed_at),
        (Some(T0 + 10), Some(T0 + 20), Some(T0 + 30))
    );
}

#[test]
fn steps_out_of_order_are_invalid_transitions_and_change_nothing() {
    let mut record = accepted_by("d1", &["d1"]);
    let seq = record.last_seq;
    let err = record.step("d1", RideStep::Completed, None, T0).unwrap_err();
    assert_eq!(err, StepError::InvalidTransition { from: "accepted", to: "completed" });
    record.step("d1", RideStep::Arrived, None, T0).unwrap();
    assert!(matches!(record.step("d1", RideStep::Arrived, None, T0), Err(StepError::InvalidTransition { .. })));
    assert_eq!(record.ride.status, RideStatus::Arrived);
    assert_eq!(record.last_seq, seq + 1);
}

#[test]
fn only_the_assigned_driver_may_step_the_ride() {
    let mut record = accepted_by("d1", &["d1", "d2"]);
    assert!(matches!(record.step("d2", RideStep::Arrived, None, T0), Err(StepError::Forbidden(_))));
    let mut searching = with_round_one(&["d1"]);
    assert!(matches!(searching.step("d1", RideStep::Arrived, None, T0), Err(StepError::Forbidden(_))));
}

#[test]
fn a_completed_ride_cannot_be_cancelled() {
    let mut record = accepted_by("d1", &["d1"]);
    for step in [RideStep::Arrived, RideStep::InProgress, RideStep::Completed] {
        record.step("d1", step, None, T0).unwrap();
    }
    let err = record.cancel(&caller(Role::Passenger, "pax-1"), None, None, T0).unwrap_err();
    assert_eq!(err, StepError::InvalidTransition { from: "completed", to: "cancelled" });
}

#[test]
fn location_is_relayed_only_for_the_assigned_driver_of_an_active_ride() {
    let searching = with_round_one(&["d1"]);
    assert!(!searching.relays_location_of("d1"));
    let mut record = accepted_by("d1", &["d1", "d2"]);
    assert!(record.relays_location_of("d1"));
    assert!(!record.relays_location_of("d2"));
    for step in [RideStep::Arrived, RideStep::InProgress] {
        record.step("d1", step, None, T0).unwrap();
        assert!(record.relays_location_of("d1"));
    }
    record.step("d1", RideStep::Completed, None, T0).unwrap();
    assert!(!record.relays_location_of("d1"));
}

#[test]
fn drivers_holding_the_offer_hear_the_viewer_count_change() {
    let mut record = with_round_one(&["d1", "d2", "d3"]);
    let effects = record.set_viewing("d1", true, T0).unwrap();
    assert_eq!(driver_frames(&effects).len(), 3, "every holder hears it");
    assert!(effects.iter().any(|e| matches!(
        e,
        Effect::ToDrivers { message: ridewire::core::protocol::DriverOutbound::ViewerCount { count: 1, .. }, .. }
    )));
    record.set_viewing("d2", true, T0).unwrap();
    assert_eq!(record.viewers.len(), 2);
    let stopped = record.set_viewing("d1", false, T0).unwrap();
    assert!(stopped.iter().any(|e| matches!(
        e,
        Effect::ToDrivers { message: ridewire::core::protocol::DriverOutbound::ViewerCount { count: 1, .. }, .. }
    )));
}

#[test]
fn viewing_twice_or_stopping_without_viewing_changes_nothing() {
    let mut record = with_round_one(&["d1"]);
    record.set_viewing("d1", true, T0).unwrap();
    assert!(record.set_viewing("d1", true, T0).unwrap().is_empty());
    record.set_viewing("d1", false, T0).unwrap();
    assert!(record.set_viewing("d1", false, T0).unwrap().is_empty());
}

#[test]
fn only_drivers_holding_the_offer_may_view_it() {
    let mut record = with_round_one(&["d1"]);
    assert_eq!(record.set_viewing("d9", true, T0).unwrap_err(), StepError::Refused(AcceptFailure::NotOffered));
    record.decline("d1", T0).unwrap();
    assert!(record.set_viewing("d1", true, T0).is_err(), "a driver who declined holds no offer");
}

#[test]
fn positions_are_relayed_at_most_once_a_second() {
    use ridewire::core::lifecycle::location_relay_due;
    assert!(location_relay_due(0, T0), "the first position goes at once");
    assert!(!location_relay_due(T0, T0 + 999));
    assert!(location_relay_due(T0, T0 + 1_000));
}
