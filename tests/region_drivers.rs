//! The region core's rules for drivers and their sockets, with a fake
//! clock: online and offline, the attach answer, availability and the busy
//! mark, the location relay, hand-off, the heartbeat, viewing, commands.

mod region_fixtures;

use region_fixtures::*;
use ridewire::core::dispatch::CandidateQuery;
use ridewire::core::geo::destination;
use ridewire::core::protocol::AcceptFailure;
use ridewire::core::region::{DriverCallOut, Heard, RegionAnswer, RegionEffect, RegionInput, RideAnswer, RideCommand};

fn offerable(region: &mut ridewire::core::region::Region, now: i64) -> Vec<String> {
    let query = CandidateQuery { at: HERE, radius_km: 10.0, limit: 10, exclude: vec![] };
    match answer(&region.handle(RegionInput::Candidates(query), now)) {
        RegionAnswer::Candidates(found) => found.into_iter().map(|c| c.driver_id).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_drivers_first_socket_brings_it_online_and_its_last_takes_it_offline() {
    let mut region = region();
    let fx = online(&mut region, "s1", "d1", east(1.0), T0);
    assert_eq!(feed_types(&fx), ["driver_online"]);
    assert_eq!(types_to(&fx, "s1"), ["connected"]);
    assert_eq!(sent_to(&fx, "s1")[0]["region"], cell());
    let second = online(&mut region, "s2", "d1", east(1.0), T0 + 1);
    assert!(feed_types(&second).is_empty(), "online once");
    let fx = gone(&mut region, "s1", T0 + 2);
    assert!(feed_types(&fx).is_empty());
    assert_eq!(driver_calls(&fx), [("d1".to_string(), DriverCallOut::Detach { socket_id: "s1".into() })]);
    let fx = gone(&mut region, "s2", T0 + 3);
    assert_eq!(feed_types(&fx), ["driver_offline"]);
    assert!(offerable(&mut region, T0 + 4).is_empty());
}

#[test]
fn a_new_socket_is_offered_nothing_until_its_driver_do_answers() {
    let mut region = region();
    let fx = open_at(&mut region, "s1", "d1", east(1.0), T0);
    let asked = DriverCallOut::Attach { socket_id: "s1".into(), region: cell() };
    assert_eq!(driver_calls(&fx), [("d1".to_string(), asked)]);
    assert!(offerable(&mut region, T0).is_empty());
    let fx = attach(&mut region, "s1", None, &["offer-1", "offer-2"], T0 + 5);
    let sent: Vec<_> = fx
        .iter()
        .filter_map(|e| match e {
            RegionEffect::Send { frame, .. } => Some(frame.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(sent, ["offer-1", "offer-2"], "what it is owed, in order");
    assert_eq!(offerable(&mut region, T0 + 6), ["d1"]);
}

#[test]
fn a_driver_busy_by_its_driver_do_is_offered_nothing() {
    let mut region = region();
    open_at(&mut region, "s1", "d1", east(1.0), T0);
    attach(&mut region, "s1", Some("ride-a"), &[], T0 + 5);
    assert!(offerable(&mut region, T0 + 6).is_empty());
}

#[test]
fn a_socket_whose_driver_do_cannot_answer_is_closed_1011_and_its_driver_goes_offline() {
    let mut region = region();
    open_at(&mut region, "s1", "d1", east(1.0), T0);
    let fx = region.handle(RegionInput::Attached { socket_id: "s1".into(), answer: None }, T0 + 5);
    assert_eq!(closed(&fx), [("s1".to_string(), 1011)]);
    assert_eq!(feed_types(&fx), ["driver_offline"]);
    assert!(!region.has_driver_socket("s1"));
}

#[test]
fn an_attach_answer_for_a_socket_gone_meanwhile_changes_nothing() {
    let mut region = region();
    open_at(&mut region, "s1", "d1", east(1.0), T0);
    gone(&mut region, "s1", T0 + 1);
    let fx = attach(&mut region, "s1", None, &["offer-1"], T0 + 5);
    assert!(fx.iter().all(|e| !matches!(e, RegionEffect::Send { .. })));
    assert!(offerable(&mut region, T0 + 6).is_empty());
}

#[test]
fn a_new_socket_starts_as_available_as_the_drivers_other_sockets() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    message(&mut region, "s1", r#"{"type":"set_available","available":false}"#, T0 + 1);
    let fx = online(&mut region, "s2", "d1", east(1.0), T0 + 2);
    let saved: Vec<bool> = fx
        .iter()
        .filter_map(|e| match e {
            RegionEffect::SaveFacts { socket_id, facts } if socket_id == "s2" => Some(facts.available),
            _ => None,
        })
        .collect();
    assert!(!saved.is_empty() && saved.iter().all(|a| !a));
    assert!(offerable(&mut region, T0 + 3).is_empty());
}

#[test]
fn availability_is_the_drivers_on_every_socket_and_reaches_the_feed() {
    let mut region = region();
    desk(&mut region);
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d1", east(1.0), T0);
    let fx = message(&mut region, "s1", r#"{"type":"set_available","available":false}"#, T0 + 1);
    let saved: Vec<&str> = fx
        .iter()
        .filter_map(|e| match e {
            RegionEffect::SaveFacts { socket_id, facts } if !facts.available => Some(socket_id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(saved, ["s1", "s2"]);
    let moved = &feed(&fx)[0];
    assert_eq!((moved["type"].as_str(), moved["available"].as_bool()), (Some("driver_location"), Some(false)));
    assert!(sent_to(&fx, "s1").is_empty(), "no direct reply");
    assert!(offerable(&mut region, T0 + 2).is_empty());
}

#[test]
fn a_busy_drivers_position_is_relayed_at_most_once_a_second_per_socket() {
    let mut region = region();
    open_at(&mut region, "s1", "d1", east(1.0), T0);
    attach(&mut region, "s1", Some("ride-a"), &[], T0);
    let at = |km| format!(r#"{{"type":"location_update","lat":{},"lng":{},"heading":90}}"#, east(km).lat, east(km).lng);
    let relays = |fx: &[RegionEffect]| {
        driver_calls(fx).into_iter().filter(|(_, c)| matches!(c, DriverCallOut::Location { .. })).count()
    };
    assert_eq!(relays(&message(&mut region, "s1", &at(1.1), T0 + 1_000)), 1);
    assert_eq!(relays(&message(&mut region, "s1", &at(1.2), T0 + 1_500)), 0);
    assert_eq!(relays(&message(&mut region, "s1", &at(1.3), T0 + 2_000)), 1);
    online(&mut region, "s2", "d2", east(2.0), T0);
    assert_eq!(relays(&message(&mut region, "s2", &at(2.1), T0 + 3_000)), 0, "a free driver's is not relayed");
}

#[test]
fn a_location_update_moves_the_driver_and_reaches_the_feed() {
    let mut region = region();
    desk(&mut region);
    online(&mut region, "s1", "d1", east(1.0), T0);
    let to = east(3.0);
    let json = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, to.lat, to.lng);
    let fx = message(&mut region, "s1", &json, T0 + 1);
    let moved = &feed(&fx)[0];
    assert_eq!((moved["lat"].as_f64(), moved["lng"].as_f64()), (Some(to.lat), Some(to.lng)));
    let lookup = ridewire::core::region::DriverLookup { driver_id: "d1".into() };
    match answer(&region.handle(RegionInput::Driver(lookup), T0 + 2)) {
        RegionAnswer::Driver(Some(driver)) => assert_eq!(driver.location, to),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_driver_far_outside_the_cell_is_told_region_changed_closed_4000_and_goes_offline() {
    let mut region = region();
    desk(&mut region);
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d1", east(1.0), T0);
    let far = destination(HERE, 0.0, 40_000.0);
    let json = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, far.lat, far.lng);
    let fx = message(&mut region, "s1", &json, T0 + 1);
    for socket in ["s1", "s2"] {
        let changed = &sent_to(&fx, socket)[0];
        assert_eq!(changed["type"], "region_changed");
        assert_eq!(changed["reconnect"], format!("/v1/ws/driver?lat={}&lng={}", far.lat, far.lng));
        assert_ne!(changed["region"], cell());
    }
    assert_eq!(closed(&fx), [("s1".to_string(), 4000), ("s2".to_string(), 4000)]);
    assert_eq!(feed_types(&fx), ["driver_location", "driver_offline"]);
    assert!(!region.has_driver_socket("s1") && !region.has_driver_socket("s2"));
}

#[test]
fn a_driver_moving_within_its_cell_stays() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let json = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, east(1.2).lat, east(1.2).lng);
    assert!(closed(&message(&mut region, "s1", &json, T0 + 1)).is_empty());
}

#[test]
fn a_socket_silent_for_three_heartbeats_is_closed_4003_and_its_driver_goes_offline() {
    let mut region = region();
    let fx = online(&mut region, "s1", "d1", east(1.0), T0);
    assert!(wakes(&fx).contains(&(T0 + 90_000)), "the alarm watches the new socket");
    online(&mut region, "s2", "d2", east(1.0), T0);
    online(&mut region, "s3", "d3", east(1.0), T0);
    let heard = vec![
        Heard { socket_id: "s2".into(), frame_at: T0 + 60_000, keepalive_at: None },
        Heard { socket_id: "s3".into(), frame_at: 0, keepalive_at: Some(T0 + 50_000) },
    ];
    let fx = region.handle(RegionInput::Tick { heard }, T0 + 95_000);
    assert_eq!(closed(&fx), [("s1".to_string(), 4003)]);
    assert_eq!(feed_types(&fx), ["driver_offline"]);
    assert!(wakes(&fx).contains(&(T0 + 140_000)), "when the next may fall silent");
}

#[test]
fn a_closed_socket_ends_its_viewing_unless_another_socket_of_the_driver_views_the_ride() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d1", east(1.0), T0);
    for (socket, ride) in [("s1", RIDE_A), ("s1", RIDE_B), ("s2", RIDE_B)] {
        view(&mut region, socket, ride, T0 + 1);
    }
    let stops: Vec<String> = ride_calls(&gone(&mut region, "s1", T0 + 2)).into_iter().map(|c| c.ride_id).collect();
    assert_eq!(stops, [RIDE_A]);
}

/// `view_ride` on `socket`, counted by the ride.
fn view(region: &mut ridewire::core::region::Region, socket: &str, ride: &str, now: i64) -> Vec<RegionEffect> {
    let json = format!(r#"{{"type":"view_ride","ride_id":"{ride}"}}"#);
    let call = ride_calls(&message(region, socket, &json, now))[0].clone();
    region.handle(RegionInput::RideAnswered { call, answer: RideAnswer::Done }, now)
}

const RIDE_A: &str = "ride_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const RIDE_B: &str = "ride_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

#[test]
fn a_view_counted_after_its_socket_closed_is_ended_again() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let json = format!(r#"{{"type":"view_ride","ride_id":"{RIDE_A}"}}"#);
    let call = ride_calls(&message(&mut region, "s1", &json, T0 + 1))[0].clone();
    gone(&mut region, "s1", T0 + 2);
    let fx = region.handle(RegionInput::RideAnswered { call, answer: RideAnswer::Done }, T0 + 3);
    let calls = ride_calls(&fx);
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].ride_id.as_str(), &calls[0].command), (RIDE_A, &RideCommand::View(false)));
}

#[test]
fn lock_and_accept_answers_reach_the_socket_that_asked_with_its_req_id() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let lock = format!(r#"{{"type":"request_lock","ride_id":"{RIDE_A}","req_id":"L"}}"#);
    let call = ride_calls(&message(&mut region, "s1", &lock, T0 + 1))[0].clone();
    assert_eq!((call.command.clone(), call.req_id.as_deref()), (RideCommand::Lock, Some("L")));
    let locked = RideAnswer::Locked { expires_at: T0 + 5_000 };
    let fx = region.handle(RegionInput::RideAnswered { call: call.clone(), answer: locked }, T0 + 2);
    let frame = &sent_to(&fx, "s1")[0];
    assert_eq!((frame["type"].as_str(), frame["req_id"].as_str()), (Some("lock_acquired"), Some("L")));
    let refused = RideAnswer::Refused(AcceptFailure::LockLimit);
    let fx = region.handle(RegionInput::RideAnswered { call, answer: refused }, T0 + 3);
    assert_eq!(sent_to(&fx, "s1")[0]["reason"], "lock_limit");

    let accept = format!(r#"{{"type":"accept_ride","ride_id":"{RIDE_A}","req_id":"A"}}"#);
    let call = ride_calls(&message(&mut region, "s1", &accept, T0 + 4))[0].clone();
    let fx = region.handle(RegionInput::RideAnswered { call: call.clone(), answer: RideAnswer::Done }, T0 + 5);
    assert!(sent_to(&fx, "s1").is_empty(), "a won accept is announced by the ride");
    let fx = region.handle(RegionInput::RideAnswered { call, answer: RideAnswer::NoSuchRide }, T0 + 6);
    let failed = &sent_to(&fx, "s1")[0];
    assert_eq!((failed["type"].as_str(), failed["reason"].as_str()), (Some("accept_failed"), Some("not_offered")));
}

#[test]
fn a_refused_command_is_an_error_frame_with_its_code() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let step = format!(r#"{{"type":"ride_status","ride_id":"{RIDE_A}","status":"arrived","req_id":"S"}}"#);
    let call = ride_calls(&message(&mut region, "s1", &step, T0 + 1))[0].clone();
    let answer = RideAnswer::Failed { code: "invalid_transition".into(), message: "not now".into() };
    let fx = region.handle(RegionInput::RideAnswered { call, answer }, T0 + 2);
    let error = &sent_to(&fx, "s1")[0];
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some("invalid_transition")));
    assert_eq!(error["req_id"], "S");
}

#[test]
fn sockets_evicted_to_keep_five_are_gone_at_once() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let input = RegionInput::DriverOpened {
        socket_id: "s2".into(),
        driver_id: "d1".into(),
        name: "Driver d1".into(),
        location: east(1.0),
        cell: cell(),
        evicted: vec!["s1".into()],
    };
    let fx = region.handle(input, T0 + 1);
    assert!(driver_calls(&fx).contains(&("d1".to_string(), DriverCallOut::Detach { socket_id: "s1".into() })));
    assert!(feed_types(&fx).is_empty(), "the driver stays online");
    assert!(!region.has_driver_socket("s1") && region.has_driver_socket("s2"));
}

#[test]
fn a_message_on_a_socket_the_region_closed_changes_nothing() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    gone(&mut region, "s1", T0 + 1);
    assert!(message(&mut region, "s1", r#"{"type":"set_available","available":false}"#, T0 + 2).is_empty());
}

#[test]
fn a_second_socket_whose_attach_fails_leaves_the_driver_offerable() {
    // The simulation's model of the old region shell kept the "busy until attached" mark here.
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    assert_eq!(offerable(&mut region, T0 + 1), ["d1"]);
    open_at(&mut region, "s2", "d1", east(1.0), T0 + 2);
    assert!(offerable(&mut region, T0 + 3).is_empty(), "not offerable while s2 waits for its answer");
    let fx = region.handle(RegionInput::Attached { socket_id: "s2".into(), answer: None }, T0 + 4);
    assert_eq!(closed(&fx), [("s2".to_string(), 1011)]);
    assert_eq!(offerable(&mut region, T0 + 5), ["d1"], "its other socket is still attached and free");
}

#[test]
fn a_socket_views_at_most_eight_rides_and_a_ninth_view_ends_the_oldest() {
    use ridewire::core::region::MAX_VIEWED;
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let rides: Vec<String> = (0..=MAX_VIEWED).map(|i| format!("ride_{i:032}")).collect();
    let mut last = Vec::new();
    for ride in &rides {
        last = view(&mut region, "s1", ride, T0 + 1);
    }
    let stops = ride_calls(&last);
    assert_eq!(stops.len(), 1);
    assert_eq!((stops[0].ride_id.as_str(), &stops[0].command), (rides[0].as_str(), &RideCommand::View(false)));
    let saved = last.iter().rev().find_map(|e| match e {
        RegionEffect::SaveFacts { facts, .. } => Some(facts.viewing.clone()),
        _ => None,
    });
    assert_eq!(saved, Some(rides[1..].to_vec()));
}

/// A dispatch socket watching the region's feed.
fn desk(region: &mut ridewire::core::region::Region) {
    region.handle(RegionInput::DispatcherOpened { socket_id: "desk".into(), cell: cell() }, T0);
}

#[test]
fn the_feed_is_not_written_while_no_dispatcher_watches() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let to = east(2.0);
    let json = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, to.lat, to.lng);
    assert!(feed(&message(&mut region, "s1", &json, T0 + 1)).is_empty());
}

#[test]
fn a_stream_of_location_updates_saves_the_position_at_most_every_ten_seconds() {
    use ridewire::core::region::LOCATION_SAVE_MS;
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let saves = |fx: &[RegionEffect]| fx.iter().filter(|e| matches!(e, RegionEffect::SaveFacts { .. })).count();
    let mut saved = 0;
    for step in 1..=40 {
        let to = east(1.0 + step as f64 / 100.0);
        let json = format!(r#"{{"type":"location_update","lat":{},"lng":{}}}"#, to.lat, to.lng);
        saved += saves(&message(&mut region, "s1", &json, T0 + step * 1_000));
    }
    assert_eq!(saved as i64, 40_000 / LOCATION_SAVE_MS, "40 updates a second apart");
}
