//! Proof of delivery, the start PIN and watch links, decided by the pure
//! ride core with a fake clock: what a step needs, who sees the PIN, how
//! wrong PINs are throttled, and how long and for whom a watch link works.

mod common;

use common::*;
use ridewire::core::identity::{Caller, Role};
use ridewire::core::lifecycle::StepError;
use ridewire::core::proof::{Proof, ProofObject, ProofType};
use ridewire::core::protocol::{PassengerEvent, RideStep};
use ridewire::core::ride::{RideRecord, RideStatus};
use ridewire::core::ride_input::{RideInput, RideRefusal};
use ridewire::core::start_pin::{PinGuard, PIN_LOCKOUT_MS};
use ridewire::core::step_evidence::StepEvidence;
use ridewire::core::watchers::{WATCH_AFTER_END_MS, WATCH_TOKEN_MAX_MS};

fn caller(role: Role, sub: &str) -> Caller {
    Caller { sub: sub.into(), role, name: None }
}

fn partner_request() -> ridewire::core::ride_request::NewRide {
    let body = br#"{"pickup":{"lat":-26.2,"lng":28.0},"dropoff":{"lat":-26.1,"lng":28.1},
        "passenger":{"name":"Bo","phone":"+27825550100"}}"#;
    ridewire::core::ride_request::NewRide::from_json(body, Role::Partner).unwrap()
}

fn pax() -> Caller {
    caller(Role::Passenger, "pax-1")
}

fn pin_ride() -> RideRecord {
    let mut record = accepted_by("d1", &["d1"]);
    record.ride.start_pin_required = true;
    record.arm_start_pin(PinGuard::from_random(4821u32.to_le_bytes()));
    record.step("d1", RideStep::Arrived, None, T0).unwrap();
    record
}

fn start(record: &mut RideRecord, pin: Option<&str>, now: i64) -> Result<(), StepError> {
    let evidence = StepEvidence { pin: pin.map(Into::into), proof: None };
    record.step_with("d1", RideStep::InProgress, evidence, None, now).map(|_| ())
}

fn in_progress(proof_required: bool) -> RideRecord {
    let mut record = accepted_by("d1", &["d1"]);
    record.ride.proof_required = proof_required;
    record.step("d1", RideStep::Arrived, None, T0).unwrap();
    record.step("d1", RideStep::InProgress, None, T0).unwrap();
    record
}

fn complete(record: &mut RideRecord, proof: Option<Proof>) -> Result<Vec<PassengerEvent>, StepError> {
    let evidence = StepEvidence { pin: None, proof };
    record.step_with("d1", RideStep::Completed, evidence, None, T0 + 50).map(|fx| passenger_events(&fx))
}

fn photo(name: &str) -> Proof {
    Proof { kind: ProofType::Photo, value: None, object: Some(name.into()) }
}

fn uploaded(key: &str) -> ProofObject {
    ProofObject { key: key.into(), content_type: "image/png".into(), size: 10, uploaded_at: T0 }
}

#[test]
fn a_pin_ride_starts_only_with_its_pin() {
    let mut record = pin_ride();
    assert_eq!(start(&mut record, Some("0000"), T0), Err(StepError::WrongPin));
    assert_eq!(record.ride.status, RideStatus::Arrived);
    assert!(matches!(start(&mut record, None, T0), Err(StepError::Invalid(_))));
    assert_eq!(start(&mut record, Some("4821"), T0), Ok(()));
    assert_eq!(record.ride.status, RideStatus::InProgress);
}

#[test]
fn five_wrong_pins_lock_starts_for_a_minute_then_the_right_one_starts() {
    let mut record = pin_ride();
    for i in 0..5 {
        assert_eq!(start(&mut record, Some("1111"), T0 + i), Err(StepError::WrongPin));
    }
    assert_eq!(start(&mut record, Some("4821"), T0 + 10), Err(StepError::PinLocked { retry_after_s: 60 }));
    assert_eq!(start(&mut record, Some("4821"), T0 + 4 + PIN_LOCKOUT_MS), Ok(()));
}

#[test]
fn the_pin_count_survives_a_restart_of_the_ride() {
    let mut record = pin_ride();
    for _ in 0..4 {
        let _ = start(&mut record, Some("1111"), T0);
    }
    let mut restarted: RideRecord = serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
    assert_eq!(start(&mut restarted, Some("1111"), T0), Err(StepError::WrongPin));
    assert!(matches!(start(&mut restarted, Some("4821"), T0 + 1), Err(StepError::PinLocked { .. })));
}

#[test]
fn pins_from_another_driver_or_out_of_order_are_not_counted() {
    let mut record = pin_ride();
    for _ in 0..10 {
        let evidence = StepEvidence { pin: Some("1111".into()), proof: None };
        let refused = record.step_with("d9", RideStep::InProgress, evidence, None, T0);
        assert!(matches!(refused, Err(StepError::Forbidden(_))));
    }
    assert_eq!(start(&mut record, Some("4821"), T0), Ok(()));
}

#[test]
fn a_wrong_pin_through_handle_is_a_refusal_that_keeps_its_count() {
    let mut record = pin_ride();
    let input = || RideInput::Step {
        driver_id: "d1".into(),
        step: RideStep::InProgress,
        evidence: StepEvidence { pin: Some("9999".into()), proof: None },
        req_id: None,
    };
    let out = record.handle(input(), &settings(), T0);
    assert_eq!(out.reply, Err(RideRefusal::Step(StepError::WrongPin)));
    assert_eq!(record.start_pin.as_ref().unwrap().wrong_in_a_row, 1);
}

#[test]
fn only_the_passenger_side_sees_the_pin_and_the_driver_never() {
    let record = pin_ride();
    assert_eq!(record.ride_for(&pax()).start_pin.as_deref(), Some("4821"));
    assert_eq!(record.ride_for(&caller(Role::Dispatcher, "ops")).start_pin.as_deref(), Some("4821"));
    assert_eq!(record.ride_for(&caller(Role::Driver, "d1")).start_pin, None);
    assert_eq!(record.ride_for(&caller(Role::Passenger, "someone")).start_pin, None);
    assert_eq!(record.ride.start_pin, None, "the stored ride (sent to drivers, D1, events) never holds it");
    assert!(record.ride_for(&caller(Role::Driver, "d1")).start_pin_required);
    let json = serde_json::to_string(&record.ride).unwrap();
    assert!(!json.contains("4821"), "{json}");
}

#[test]
fn a_ride_without_start_pin_starts_without_one() {
    let mut record = accepted_by("d1", &["d1"]);
    record.arm_start_pin(PinGuard::from_random([1, 2, 3, 4]));
    assert_eq!(record.start_pin, None, "only a ride created with start_pin gets one");
    record.step("d1", RideStep::Arrived, None, T0).unwrap();
    assert_eq!(start(&mut record, None, T0), Ok(()));
}

#[test]
fn a_proof_required_ride_cannot_complete_without_proof() {
    let mut record = in_progress(true);
    assert!(matches!(complete(&mut record, None), Err(StepError::Invalid(_))));
    assert_eq!(record.ride.status, RideStatus::InProgress);
    let code = Proof { kind: ProofType::Code, value: Some("7731".into()), object: None };
    let events = complete(&mut record, Some(code.clone())).unwrap();
    assert_eq!(events, [PassengerEvent::RideCompleted { fare: None, proof: Some(code.clone()) }]);
    assert_eq!(record.ride.proof, Some(code), "stored with the ride");
}

#[test]
fn a_photo_proof_must_name_an_uploaded_image() {
    let mut record = in_progress(true);
    assert!(matches!(complete(&mut record, Some(photo("door"))), Err(StepError::Invalid(_))));
    record.record_proof_object("d1", "door", uploaded("k1")).unwrap();
    assert!(complete(&mut record, Some(photo("door"))).is_ok());
}

#[test]
fn only_the_assigned_driver_uploads_and_only_before_completion() {
    let mut record = in_progress(false);
    assert!(matches!(record.record_proof_object("d9", "door", uploaded("k")), Err(StepError::Forbidden(_))));
    assert_eq!(record.record_proof_object("d1", "door", uploaded("k1")), Ok(None));
    assert_eq!(record.record_proof_object("d1", "door", uploaded("k2")), Ok(Some("k1".into())), "replaced");
    complete(&mut record, Some(photo("door"))).unwrap();
    let late = record.record_proof_object("d1", "door", uploaded("k3"));
    assert!(matches!(late, Err(StepError::InvalidTransition { .. })), "a completed ride's proof is final");
    assert_eq!(record.proof_objects["door"].key, "k2");
}

#[test]
fn proof_images_are_served_to_the_rides_parties_only() {
    let mut record = in_progress(false);
    record.record_proof_object("d1", "door", uploaded("k1")).unwrap();
    assert!(record.proof_object_for(&pax(), "door").is_some());
    assert!(record.proof_object_for(&caller(Role::Driver, "d1"), "door").is_some());
    assert!(record.proof_object_for(&caller(Role::Dispatcher, "ops"), "door").is_some());
    assert!(record.proof_object_for(&caller(Role::Driver, "d2"), "door").is_none());
    assert!(record.proof_object_for(&caller(Role::Passenger, "other"), "door").is_none());
    assert!(record.proof_object_for(&pax(), "missing").is_none());
}

#[test]
fn only_the_passenger_or_partner_makes_watch_links() {
    let mut record = new_ride();
    assert!(record.add_watcher(&pax(), "w_1".into(), T0).is_ok());
    for other in [caller(Role::Driver, "d1"), caller(Role::Dispatcher, "ops"), caller(Role::Passenger, "x")] {
        assert!(matches!(record.add_watcher(&other, "w_2".into(), T0), Err(StepError::Forbidden(_))));
    }
}

#[test]
fn a_watch_link_works_until_the_ride_ends_plus_an_hour() {
    let mut record = with_round_one(&["d1"]);
    let link = record.add_watcher(&pax(), "w_1".into(), T0).unwrap();
    assert_eq!(link.expires_at, T0 + WATCH_TOKEN_MAX_MS, "capped while the ride lasts");
    assert!(record.watchers.admits("w_1", T0 + 1_000));
    record.cancel(&pax(), None, None, T0 + 5_000).unwrap();
    assert_eq!(record.watchers.ended_at, Some(T0 + 5_000));
    assert!(record.watchers.admits("w_1", T0 + 5_000 + WATCH_AFTER_END_MS - 1));
    assert!(!record.watchers.admits("w_1", T0 + 5_000 + WATCH_AFTER_END_MS));
    let late = record.add_watcher(&pax(), "w_2".into(), T0 + 10_000).unwrap();
    assert_eq!(late.expires_at, T0 + 5_000 + WATCH_AFTER_END_MS, "a link made after the end lasts the hour left");
    assert!(matches!(
        record.add_watcher(&pax(), "w_3".into(), T0 + 5_000 + WATCH_AFTER_END_MS),
        Err(StepError::Closed(_))
    ));
}

#[test]
fn a_partner_shares_the_rides_it_created_and_only_those() {
    let acme = caller(Role::Partner, "acme");
    let (mut record, _) = RideRecord::create("ride_p".into(), partner_request(), &acme, T0);
    assert!(record.add_watcher(&acme, "w_1".into(), T0).is_ok());
    let other = caller(Role::Partner, "globex");
    assert!(matches!(record.add_watcher(&other, "w_2".into(), T0), Err(StepError::Forbidden(_))));
    assert!(matches!(record.revoke_watchers(&other, None), Err(StepError::Forbidden(_))));
    assert_eq!(record.revoke_watchers(&acme, Some("w_1")), Ok(vec!["w_1".to_string()]));
}

#[test]
fn a_ride_keeps_at_most_twenty_live_links_and_lapsed_ones_make_room() {
    let mut record = new_ride();
    for i in 0..20 {
        record.add_watcher(&pax(), format!("w_{i}"), T0).unwrap();
    }
    assert!(matches!(record.add_watcher(&pax(), "w_x".into(), T0), Err(StepError::Invalid(_))));
    assert!(record.add_watcher(&pax(), "w_y".into(), T0 + WATCH_TOKEN_MAX_MS).is_ok(), "the first twenty lapsed");
}

#[test]
fn a_link_of_one_ride_is_not_a_link_of_another() {
    let mut record = new_ride();
    record.add_watcher(&pax(), "w_1".into(), T0).unwrap();
    let other = new_ride();
    assert!(!other.watchers.admits("w_1", T0));
}

#[test]
fn revoking_one_link_leaves_the_others_and_revoking_all_ends_them() {
    let mut record = new_ride();
    for id in ["w_1", "w_2", "w_3"] {
        record.add_watcher(&pax(), id.into(), T0).unwrap();
    }
    assert_eq!(record.revoke_watchers(&pax(), Some("w_2")), Ok(vec!["w_2".to_string()]));
    assert!(!record.watchers.admits("w_2", T0));
    assert!(record.watchers.admits("w_1", T0));
    assert_eq!(record.revoke_watchers(&pax(), Some("w_2")), Err(StepError::NoSuchWatcher));
    assert!(matches!(record.revoke_watchers(&caller(Role::Driver, "d1"), None), Err(StepError::Forbidden(_))));
    assert_eq!(record.revoke_watchers(&caller(Role::Dispatcher, "ops"), None), Ok(vec!["w_1".into(), "w_3".into()]));
    assert!(record.watchers.links.is_empty());
}
