//! One offer round at a time (src/core/rounds.rs) with a fake clock: the
//! query recorded before it leaves, stale answers ignored, silent regions asked again.

mod common;

use common::*;
use ridewire::core::dispatch::Effect;
use ridewire::core::ride::{RideRecord, RideStatus};
use ridewire::core::rounds::{RoundStep, ROUND_QUERY_TIMEOUT_MS, ROUND_RETRY_MS};

fn searching_ride() -> RideRecord {
    new_ride()
}

fn ask(record: &mut RideRecord, now: i64) -> u32 {
    match record.begin_round(&settings(), now) {
        RoundStep::Ask { round, .. } => round,
        other => panic!("expected a query, got {other:?}"),
    }
}

#[test]
fn a_second_round_is_not_asked_while_a_query_is_out() {
    let mut record = searching_ride();
    assert_eq!(ask(&mut record, 0), 1);
    assert_eq!(record.begin_round(&settings(), 5), RoundStep::Wait);
    record.round_answered(1, candidates(&["d1"]), true, &settings(), 10);
    assert_eq!(record.ride.offer_round, 1);
}

#[test]
fn an_answer_for_a_round_no_longer_asked_changes_nothing() {
    let mut record = searching_ride();
    ask(&mut record, 0);
    record.round_answered(1, candidates(&["d1"]), true, &settings(), 10);
    assert!(record.round_answered(1, candidates(&["d2"]), true, &settings(), 11).is_empty());
    assert_eq!(record.offered_driver_ids(), vec!["d1".to_string()]);
}

#[test]
fn a_region_that_did_not_answer_is_asked_again_not_read_as_no_drivers() {
    let mut record = searching_ride();
    ask(&mut record, 0);
    let effects = record.round_answered(1, Vec::new(), false, &settings(), 10);
    assert_eq!(effects, vec![Effect::WakeAt(10 + ROUND_RETRY_MS)]);
    assert_eq!(record.ride.status, RideStatus::Searching);
    assert!(!record.round_due(10 + ROUND_RETRY_MS - 1));
    assert!(record.round_due(10 + ROUND_RETRY_MS));
    assert_eq!(ask(&mut record, 10 + ROUND_RETRY_MS), 1);
}

#[test]
fn a_lost_query_is_asked_again_after_its_timeout() {
    let mut record = searching_ride();
    ask(&mut record, 0);
    assert!(!record.round_due(ROUND_QUERY_TIMEOUT_MS - 1));
    assert!(record.round_due(ROUND_QUERY_TIMEOUT_MS));
    assert_eq!(ask(&mut record, ROUND_QUERY_TIMEOUT_MS), 1);
}

#[test]
fn a_retried_create_starts_a_first_round_that_never_ran() {
    let mut record = searching_ride();
    assert!(record.first_round_pending(0));
    ask(&mut record, 0);
    assert!(!record.first_round_pending(1), "its query is out");
    assert!(record.first_round_pending(ROUND_QUERY_TIMEOUT_MS), "its query was lost");
    record.round_answered(1, candidates(&["d1"]), true, &settings(), 2);
    assert!(!record.first_round_pending(3));
}

#[test]
fn an_answer_after_the_ride_was_cancelled_offers_nobody() {
    let mut record = searching_ride();
    ask(&mut record, 0);
    record.ride.status = RideStatus::Cancelled;
    assert!(record.round_answered(1, candidates(&["d1"]), true, &settings(), 5).is_empty());
    assert!(record.offers.is_empty());
}

#[test]
fn a_retry_after_a_timed_out_round_waits_its_second() {
    let mut record = searching_ride();
    ask(&mut record, 0);
    record.round_answered(1, Vec::new(), true, &settings(), 10);
    let timeout = 10 + settings().offer_timeout_ms;
    assert_eq!(ask(&mut record, timeout), 2);
    record.round_answered(2, Vec::new(), false, &settings(), timeout + 5);
    assert_eq!(record.next_deadline(), Some(timeout + 5 + ROUND_RETRY_MS), "not the past round's end");
    assert!(!record.round_due(timeout + 6));
    assert!(record.round_due(timeout + 5 + ROUND_RETRY_MS));
}
