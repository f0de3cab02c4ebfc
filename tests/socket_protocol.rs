//! The rules every WebSocket obeys (PROTOCOL.md "WebSockets"), played as
//! client sessions through the public API with a fake clock: floods, bad
//! and oversized frames, replies with `req_id`, replay, eviction, refresh.

use ridewire::core::identity::{Caller, Role};
use ridewire::core::protocol::{
    error_frame, parse_frame, to_frame, DriverInbound, DriverOutbound, FrameError, PassengerEvent, PassengerInbound,
    RideOutbound, SequencedEvent, MAX_FRAME_BYTES,
};
use ridewire::core::ride::RideStatus;
use ridewire::core::socket_rules::{
    refresh_allowed, sockets_to_evict, token_deadline_ms, token_expired, Admission, RateLimiter, CLOSE_POLICY,
    CLOSE_TOO_LARGE, MAX_SOCKETS_PER_SUB,
};
use serde_json::{json, Value};

const T0: i64 = 1_800_000_000_000;
const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

fn frame(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// What a socket shell does with one frame: the frames it sends back and
/// the close code, if it closes.
fn shell(limiter: &mut RateLimiter, text: &str, now: i64) -> (Vec<Value>, Option<u16>) {
    match limiter.admit(now) {
        Admission::Admit => {}
        Admission::Drop { warn: false } => return (vec![], None),
        Admission::Drop { warn: true } => return (vec![frame(&error_frame("rate_limited", "slow down", None))], None),
        Admission::Close => {
            return (vec![frame(&error_frame("rate_limited", "slow down", None))], Some(CLOSE_POLICY));
        }
    }
    match parse_frame::<DriverInbound>(text) {
        Ok(inbound) => match inbound.message {
            DriverInbound::Ping => {
                (vec![frame(&to_frame(&DriverOutbound::Pong { ts: now }, inbound.req_id.as_deref()))], None)
            }
            _ => (vec![], None),
        },
        Err(err) => (vec![frame(&err.to_frame())], err.close_code()),
    }
}

#[test]
fn a_flood_of_1000_frames_in_one_second_gets_40_through_then_drops_then_a_close() {
    let mut limiter = RateLimiter::new(T0);
    let mut outcomes = Vec::new();
    for i in 0..1_000 {
        let outcome = limiter.admit(T0 + i);
        outcomes.push(outcome);
        if outcome == Admission::Close {
            break;
        }
    }
    assert!(outcomes[..40].iter().all(|a| *a == Admission::Admit), "the burst of 40 passes");
    assert_eq!(outcomes[40], Admission::Drop { warn: true }, "the 41st is dropped with a warning");
    assert_eq!(outcomes.last(), Some(&Admission::Close));
    let admitted = outcomes.iter().filter(|a| **a == Admission::Admit).count();
    let dropped = outcomes.iter().filter(|a| matches!(a, Admission::Drop { .. })).count();
    assert_eq!(dropped, 99, "the 100th drop within 10 s closes");
    assert!(admitted <= 40 + 8, "only the refill (1 per 50 ms) gets through: {admitted}");
    let warnings = outcomes.iter().filter(|a| **a == Admission::Drop { warn: true }).count();
    assert_eq!(warnings, 1, "rate_limited at most once a second");
}

#[test]
fn a_flooding_driver_is_told_rate_limited_once_then_closed_with_1008() {
    let mut limiter = RateLimiter::new(T0);
    let mut sent = Vec::new();
    let mut close = None;
    for i in 0..1_000 {
        let (frames, code) = shell(&mut limiter, r#"{"type":"ping"}"#, T0);
        sent.extend(frames);
        if code.is_some() {
            close = code;
            assert_eq!(i, 139);
            break;
        }
    }
    assert_eq!(close, Some(1008));
    let errors: Vec<&Value> = sent.iter().filter(|f| f["type"] == "error").collect();
    assert_eq!(errors.len(), 2, "one warning, then the one before closing");
    assert!(errors.iter().all(|e| e["code"] == "rate_limited"));
    assert_eq!(sent.iter().filter(|f| f["type"] == "pong").count(), 40);
}

#[test]
fn bad_frames_are_answered_and_the_session_goes_on() {
    let mut limiter = RateLimiter::new(T0);
    let (frames, close) = shell(&mut limiter, r#"{"type":"accept_ride","ride_id":"nope","req_id":"a1"}"#, T0);
    assert_eq!(close, None);
    assert_eq!(frames[0]["code"], "bad_message");
    assert_eq!(frames[0]["req_id"], "a1");
    assert_eq!(frames[0]["message"], "accept_ride.ride_id must be a ride id: ride_ and 32 lower-case hex digits");
    let (frames, close) = shell(&mut limiter, r#"{"type":"ping","req_id":"a2"}"#, T0 + 1);
    assert_eq!((frames, close), (vec![json!({"type": "pong", "ts": T0 + 1, "req_id": "a2"})], None));
}

#[test]
fn an_oversized_frame_is_answered_message_too_large_then_closed_with_1009() {
    let mut limiter = RateLimiter::new(T0);
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(MAX_FRAME_BYTES));
    let (frames, close) = shell(&mut limiter, &huge, T0);
    assert_eq!(frames[0]["type"], "error");
    assert_eq!(frames[0]["code"], "message_too_large");
    assert_eq!(close, Some(CLOSE_TOO_LARGE));
}

#[test]
fn a_driver_message_with_unknown_fields_from_a_newer_app_is_understood() {
    let text = r#"{"type":"location_update","lat":-26.2,"lng":28.04,"heading":180,"battery":0.8,"req_id":"L1"}"#;
    let inbound = parse_frame::<DriverInbound>(text).unwrap();
    assert_eq!(inbound.req_id.as_deref(), Some("L1"));
    assert!(matches!(inbound.message, DriverInbound::LocationUpdate { heading: Some(h), .. } if h == 180.0));
}

#[test]
fn a_reconnecting_passenger_gets_connected_then_every_missed_event_in_order() {
    let log: Vec<SequencedEvent> = [
        PassengerEvent::RideCreated,
        PassengerEvent::Searching { round: 1, drivers_notified: 3 },
        PassengerEvent::NoDrivers { rounds: 1 },
    ]
    .into_iter()
    .zip(1..)
    .map(|(event, seq)| SequencedEvent { seq, at: T0 + seq as i64, event })
    .collect();
    let stored: Vec<String> = log.iter().map(|e| serde_json::to_string(e).unwrap()).collect();
    let last_seq = 1;
    let mut sent = vec![to_frame(
        &RideOutbound::Connected { ride_id: RIDE.into(), status: RideStatus::Expired, last_seq: 3 },
        None,
    )];
    for text in &stored {
        let event: SequencedEvent = serde_json::from_str(text).unwrap();
        if event.seq > last_seq {
            sent.push(to_frame(&RideOutbound::from(event), None));
        }
    }
    let sent: Vec<Value> = sent.iter().map(|t| frame(t)).collect();
    assert_eq!(
        sent,
        vec![
            json!({"type": "connected", "ride_id": RIDE, "status": "expired", "last_seq": 3}),
            json!({"type": "searching", "round": 1, "drivers_notified": 3, "seq": 2, "at": T0 + 2}),
            json!({"type": "no_drivers", "rounds": 1, "seq": 3, "at": T0 + 3}),
        ]
    );
}

#[test]
fn a_passenger_ping_is_answered_with_its_req_id() {
    let inbound = parse_frame::<PassengerInbound>(r#"{"type":"ping","req_id":"p-7"}"#).unwrap();
    assert_eq!(inbound.message, PassengerInbound::Ping);
    let reply = frame(&to_frame(&RideOutbound::Pong { ts: T0 }, inbound.req_id.as_deref()));
    assert_eq!(reply, json!({"type": "pong", "ts": T0, "req_id": "p-7"}));
}

#[test]
fn a_passenger_socket_refuses_a_driver_message_as_bad_message() {
    let err =
        parse_frame::<PassengerInbound>(r#"{"type":"location_update","lat":1,"lng":2,"req_id":"x"}"#).unwrap_err();
    assert!(matches!(&err, FrameError::BadMessage { req_id: Some(r), .. } if r == "x"));
    assert_eq!(frame(&err.to_frame())["code"], "bad_message");
}

#[test]
fn opening_a_sixth_socket_for_one_sub_closes_the_oldest() {
    let mut open: Vec<(String, i64)> = (0..5).map(|i| (format!("s{i}"), T0 + i)).collect();
    assert!(sockets_to_evict(&open, MAX_SOCKETS_PER_SUB).is_empty());
    open.push(("s5".into(), T0 + 5));
    assert_eq!(sockets_to_evict(&open, MAX_SOCKETS_PER_SUB), ["s0"]);
}

#[test]
fn a_refreshed_token_moves_the_socket_deadline() {
    let current = Caller { sub: "d1".into(), role: Role::Driver, name: None };
    let refreshed = Caller { sub: "d1".into(), role: Role::Driver, name: None };
    let (old_exp, new_exp) = (1_800_000_060, 1_800_003_600);
    assert!(refresh_allowed(&current, &refreshed));
    assert!(token_expired(old_exp, token_deadline_ms(old_exp)));
    assert!(!token_expired(new_exp, token_deadline_ms(old_exp)));
    let stranger = Caller { sub: "d2".into(), ..refreshed };
    assert!(!refresh_allowed(&current, &stranger));
}
