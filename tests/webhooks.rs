//! Partner webhooks (src/core/webhooks.rs) with a fake clock: the published
//! retry schedule counted from the first try, seq order per ride, giving up,
//! redelivery, the body and the signature.

mod common;

use common::*;
use ridewire::core::dispatch::Effect;
use ridewire::core::identity::{Caller, Role};
use ridewire::core::ride::{RideEvent, RideRecord, RideStatus};
use ridewire::core::ride_request::NewRide;
use ridewire::core::webhooks::{
    deliveries_for, is_empty_body, log, next_step, redeliver, signature, DeliveryState, NextStep, Schedule,
    WebhookDelivery, TRIES_PER_RUN,
};

const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

fn delivery(seq: u64, at: i64) -> WebhookDelivery {
    let event = RideEvent { seq, kind: format!("event_{seq}"), status: RideStatus::Searching, at };
    WebhookDelivery::of_event(RIDE, &event)
}

fn queue(n: u64) -> Vec<WebhookDelivery> {
    (1..=n).map(|seq| delivery(seq, T0)).collect()
}

fn schedule() -> Schedule {
    Schedule::default()
}

/// Tries `seq` at `now` and answers it.
fn attempt(queue: &mut [WebhookDelivery], seq: u64, now: i64, answer: Option<u16>) {
    assert_eq!(next_step(queue, now), NextStep::Send(seq), "seq {seq} should be due at {now}");
    let d = queue.iter_mut().find(|d| d.seq == seq).unwrap();
    let n = d.begin_try(&schedule(), now);
    assert!(d.answered(n, answer));
}

fn state(queue: &[WebhookDelivery], seq: u64) -> DeliveryState {
    queue.iter().find(|d| d.seq == seq).unwrap().state
}

#[test]
fn a_failed_delivery_is_retried_10s_1m_5m_30m_2h_12h_after_the_first_try_then_given_up() {
    let mut q = queue(1);
    let first = T0 + 250;
    let mut now = first;
    let mut due_times = Vec::new();
    for _ in 0..TRIES_PER_RUN - 1 {
        // The receiver takes 3 s to fail: the schedule counts from the first try, not the last.
        attempt(&mut q, 1, now, Some(500));
        let due = q[0].next_try_at.unwrap();
        assert_eq!(next_step(&q, due - 1), NextStep::WaitUntil(due));
        due_times.push(due - first);
        now = due + 3_000;
    }
    assert_eq!(due_times, vec![10_000, 60_000, 300_000, 1_800_000, 7_200_000, 43_200_000]);
    attempt(&mut q, 1, now, Some(503));
    assert_eq!(state(&q, 1), DeliveryState::GivenUp);
    assert_eq!((q[0].attempts, q[0].last_status, q[0].next_try_at), (7, Some(503), None));
    assert_eq!(next_step(&q, now + 100_000_000), NextStep::Idle);
}

#[test]
fn only_a_2xx_answer_delivers_and_no_answer_is_recorded_as_null() {
    let mut q = queue(1);
    attempt(&mut q, 1, T0, None);
    assert_eq!((q[0].state, q[0].last_status), (DeliveryState::Pending, None));
    attempt(&mut q, 1, T0 + 10_000, Some(302));
    assert_eq!((q[0].state, q[0].last_status), (DeliveryState::Pending, Some(302)));
    attempt(&mut q, 1, T0 + 60_000, Some(204));
    assert_eq!((q[0].state, q[0].attempts, q[0].last_status), (DeliveryState::Delivered, 3, Some(204)));
    assert_eq!(q[0].next_try_at, None);
}

#[test]
fn a_later_event_waits_until_the_earlier_one_is_delivered() {
    let mut q = queue(3);
    attempt(&mut q, 1, T0, Some(500));
    // Seq 2 is due, but seq 1 is not settled: nothing goes before seq 1's retry.
    assert_eq!(next_step(&q, T0 + 5_000), NextStep::WaitUntil(T0 + 10_000));
    attempt(&mut q, 1, T0 + 10_000, Some(200));
    attempt(&mut q, 2, T0 + 10_001, Some(200));
    attempt(&mut q, 3, T0 + 10_002, Some(200));
    assert_eq!(next_step(&q, T0 + 10_003), NextStep::Idle);
}

#[test]
fn a_later_event_goes_once_the_earlier_one_is_given_up() {
    let mut q = queue(2);
    let mut now = T0;
    for _ in 0..TRIES_PER_RUN {
        attempt(&mut q, 1, now, Some(500));
        now = q[0].next_try_at.unwrap_or(now);
    }
    assert_eq!(state(&q, 1), DeliveryState::GivenUp);
    attempt(&mut q, 2, now, Some(200));
    assert_eq!(state(&q, 2), DeliveryState::Delivered);
}

#[test]
fn deliveries_are_tried_in_seq_order_whatever_order_they_are_stored_in() {
    let mut q = queue(3);
    q.reverse();
    assert_eq!(next_step(&q, T0), NextStep::Send(1));
    assert_eq!(log(&q).deliveries.iter().map(|d| d.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn a_try_cut_short_by_a_restart_counts_and_is_retried_on_schedule() {
    let mut q = queue(1);
    q[0].begin_try(&schedule(), T0);
    // No answer ever came back (the object restarted); the alarm finds it due later.
    assert_eq!(next_step(&q, T0 + 9_999), NextStep::WaitUntil(T0 + 10_000));
    assert_eq!(next_step(&q, T0 + 10_000), NextStep::Send(1));
    assert_eq!(q[0].attempts, 1);
}

#[test]
fn a_last_try_cut_short_is_given_up_once_its_answer_is_overdue() {
    let mut q = queue(2);
    let mut now = T0;
    for _ in 0..TRIES_PER_RUN - 1 {
        attempt(&mut q, 1, now, None);
        now = q[0].next_try_at.unwrap();
    }
    q[0].begin_try(&schedule(), now);
    assert_eq!(next_step(&q, now + 9_999), NextStep::WaitUntil(now + 10_000));
    assert_eq!(next_step(&q, now + 10_000), NextStep::GiveUp(1));
}

#[test]
fn an_answer_to_an_older_try_is_ignored() {
    let mut q = queue(1);
    let old = q[0].begin_try(&schedule(), T0);
    q[0].begin_try(&schedule(), T0 + 10_000);
    assert!(!q[0].answered(old, Some(200)));
    assert_eq!(q[0].state, DeliveryState::Pending);
}

#[test]
fn redelivery_resends_the_given_up_ones_in_order_with_a_fresh_schedule_and_never_a_delivered_one() {
    let mut q = queue(3);
    let mut now = T0;
    for seq in 1..=2 {
        for _ in 0..TRIES_PER_RUN {
            attempt(&mut q, seq, now, Some(500));
            now = q[(seq - 1) as usize].next_try_at.unwrap_or(now);
        }
    }
    attempt(&mut q, 3, now, Some(200));
    let later = now + 1_000;
    assert_eq!(redeliver(&mut q, later), vec![1, 2]);
    assert_eq!(
        (state(&q, 1), state(&q, 2), state(&q, 3)),
        (DeliveryState::Pending, DeliveryState::Pending, DeliveryState::Delivered)
    );
    attempt(&mut q, 1, later, Some(500));
    assert_eq!(q[0].next_try_at, Some(later + 10_000), "a fresh run counts from its own first try");
    assert_eq!(q[0].attempts, TRIES_PER_RUN + 1, "attempts keep counting across runs");
    attempt(&mut q, 1, later + 10_000, Some(200));
    attempt(&mut q, 2, later + 10_001, Some(200));
    assert_eq!(next_step(&q, later + 10_002), NextStep::Idle);
    assert!(redeliver(&mut q, later + 20_000).is_empty(), "nothing given up, nothing re-sent");
}

#[test]
fn the_retry_scale_shrinks_every_delay() {
    let fast = Schedule { scale: 0.001, answer_timeout_ms: 2_000 };
    let delays: Vec<i64> = (1..TRIES_PER_RUN).map(|n| fast.retry_at(0, n).unwrap()).collect();
    assert_eq!(delays, vec![10, 60, 300, 1_800, 7_200, 43_200]);
    assert_eq!(fast.retry_at(0, TRIES_PER_RUN), None);
}

#[test]
fn the_body_has_the_protocol_fields_and_the_same_id_on_every_try() {
    let mut d = delivery(4, T0);
    let body = d.body();
    assert_eq!(
        body,
        format!(
            r#"{{"id":"whd_0123456789abcdef0123456789abcdef_4","ride_id":"{RIDE}","status":"searching","event":"event_4","seq":4,"at":{T0}}}"#
        )
    );
    let n = d.begin_try(&schedule(), T0);
    d.answered(n, None);
    assert_eq!(d.body(), body);
}

#[test]
fn the_signature_is_hmac_sha256_of_time_dot_body_in_hex() {
    // openssl: printf '1700000000000.{"id":"whd_x_1"}' | openssl dgst -sha256 -hmac k
    assert_eq!(
        signature(b"k", 1_700_000_000_000, r#"{"id":"whd_x_1"}"#),
        "t=1700000000000,v1=549f6baa3eeca1cb8b4efc310ac70299fa8c060a6fefb69c88c86852465721d7"
    );
    assert_ne!(
        signature(b"k", 1_700_000_000_001, r#"{"id":"whd_x_1"}"#),
        signature(b"k", 1_700_000_000_000, r#"{"id":"whd_x_1"}"#)
    );
}

fn partner_ride(callback: Option<&str>) -> (RideRecord, Vec<Effect>) {
    let hook = callback.map(|url| format!(r#","callback_url":"{url}""#)).unwrap_or_default();
    let body = format!(r#"{{"pickup":{{"lat":-26.2,"lng":28.0}},"dropoff":{{"lat":-26.1,"lng":28.1}}{hook}}}"#);
    let request = NewRide::from_json(body.as_bytes(), Role::Partner).unwrap();
    let caller = Caller { sub: "acme".into(), role: Role::Partner, name: None };
    RideRecord::create(RIDE.into(), request, &caller, T0)
}

#[test]
fn every_recorded_event_from_ride_created_on_becomes_a_delivery_when_the_ride_has_a_callback_url() {
    let (mut record, effects) = partner_ride(Some("https://partner.example/hooks"));
    let first = deliveries_for(&record, &effects);
    assert_eq!(first.len(), 1);
    assert_eq!((first[0].seq, first[0].event.as_str(), first[0].status), (1, "ride_created", RideStatus::Searching));
    let caller = Caller { sub: "acme".into(), role: Role::Partner, name: None };
    let cancelled = record.cancel(&caller, Some("no longer needed".into()), None, T0 + 5).unwrap();
    let next = deliveries_for(&record, &cancelled);
    assert_eq!(
        next.iter().map(|d| (d.seq, d.event.as_str(), d.status)).collect::<Vec<_>>(),
        vec![(2, "ride_cancelled", RideStatus::Cancelled)]
    );
}

#[test]
fn a_ride_without_a_callback_url_owes_no_deliveries() {
    let (record, effects) = partner_ride(None);
    assert!(deliveries_for(&record, &effects).is_empty());
    let (record, effects) = (new_ride(), Vec::<Effect>::new());
    assert!(deliveries_for(&record, &effects).is_empty());
}

#[test]
fn redelivery_takes_no_body_but_tolerates_an_empty_object() {
    for ok in ["", "  \n", "{}", " { } "] {
        assert!(is_empty_body(ok.as_bytes()), "{ok:?}");
    }
    for bad in [r#"{"seq":1}"#, "[]", "null", "{", "x"] {
        assert!(!is_empty_body(bad.as_bytes()), "{bad:?}");
    }
}
