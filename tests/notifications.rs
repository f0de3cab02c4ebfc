//! `POST /v1/notifications`: the body's rules, the frame, the fan-out (which
//! objects are asked and which of their sockets it reaches), a driver's
//! 24-hour mailbox in its Driver DO core, and any other user's, with a fake clock.

use ridewire::core::commitments::{Commitments, DriverEffect, DriverInput, OFFLINE_KEEP_MS};
use ridewire::core::geo::LatLng;
use ridewire::core::notifications::{
    deliverable, keep_for_user, notification_id_from_random, targets, Addressee, Audience, KeptNotification,
    LivePlaces, NotificationRequest, Severity, SocketClass, Target, KEEP_MS, MAX_PLACES,
};
use ridewire::core::region_cells::region_of;

const RES: u8 = 5;
const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

fn body(to: &str, extra: &str) -> String {
    format!(r#"{{"to":{to},"title":"Road closed","message":"N1 closed at Grasmere","severity":"warning"{extra}}}"#)
}

fn parse(body: &str) -> Result<NotificationRequest, String> {
    NotificationRequest::from_json(body.as_bytes()).map_err(|e| e.0)
}

fn refused(body: &str) -> String {
    parse(body).expect_err(&format!("should be refused: {body}"))
}

#[test]
fn each_addressee_form_is_read() {
    assert_eq!(parse(&body(r#"{"user":"drv_1"}"#, "")).unwrap().to, Addressee::User("drv_1".into()));
    let region = parse(&body(r#"{"region":{"lat":-26.2,"lng":28.04}}"#, "")).unwrap();
    assert_eq!(region.to, Addressee::Region(LatLng { lat: -26.2, lng: 28.04 }));
    let all = parse(&body(
        r#"{"all":true}"#,
        r#","action":{"type":"open_ride","ride_id":"RIDE"}"#.replace("RIDE", RIDE).as_str(),
    ));
    let all = all.unwrap();
    assert_eq!(all.to, Addressee::All);
    assert_eq!(all.severity, Severity::Warning);
    assert_eq!(all.action.unwrap().ride_id.as_deref(), Some(RIDE));
}

#[test]
fn the_addressee_must_be_exactly_one_of_three() {
    assert!(refused(&body("{}", "")).starts_with("to must name exactly one"));
    assert!(refused(&body(r#"{"user":"a","all":true}"#, "")).starts_with("to must name exactly one"));
    assert!(refused(&body(r#"{"all":false}"#, "")).starts_with("to.all must be true"));
    assert!(refused(&body(r#"{"user":""}"#, "")).starts_with("to.user"));
    assert!(refused(&body(&format!(r#"{{"user":"{}"}}"#, "u".repeat(129)), "")).starts_with("to.user"));
    assert!(refused(&body(r#"{"region":{"lat":91,"lng":0}}"#, "")).starts_with("to.region.lat"));
    assert!(refused(&body(r#"{"region":[28.04,-26.2]}"#, "")).starts_with("to.region: invalid type"));
    assert!(refused(&body(r#"{"users":"a"}"#, "")).contains("unknown field `users`"));
    assert!(refused(&body(r#""drv_1""#, "")).starts_with("to: invalid type"));
}

#[test]
fn severity_must_be_one_of_three() {
    let bad = r#"{"to":{"all":true},"title":"t","message":"m","severity":"urgent"}"#;
    assert!(refused(bad).starts_with("severity: unknown variant `urgent`"), "{}", refused(bad));
    let missing = r#"{"to":{"all":true},"title":"t","message":"m"}"#;
    assert!(refused(missing).contains("missing field `severity`"));
    for ok in ["info", "warning", "critical"] {
        let body = format!(r#"{{"to":{{"all":true}},"title":"t","message":"m","severity":"{ok}"}}"#);
        assert!(parse(&body).is_ok(), "{ok}");
    }
}

#[test]
fn title_and_message_are_bounded_and_trimmed() {
    let with = |title: &str, message: &str| {
        format!(r#"{{"to":{{"all":true}},"title":"{title}","message":"{message}","severity":"info"}}"#)
    };
    assert_eq!(parse(&with("  Hi ", "m")).unwrap().title, "Hi");
    assert!(parse(&with(&"t".repeat(100), &"m".repeat(1000))).is_ok());
    assert!(refused(&with(&"t".repeat(101), "m")).starts_with("title must be at most 100"));
    assert!(refused(&with("t", &"m".repeat(1001))).starts_with("message must be at most 1000"));
    assert!(refused(&with("  ", "m")).starts_with("title must not be empty"));
}

#[test]
fn bodies_are_strict_and_actions_checked() {
    assert!(refused(&body(r#"{"all":true}"#, r#","colour":"red""#)).contains("unknown field `colour`"));
    assert!(refused("[1,2]").starts_with("body: invalid type"));
    assert!(refused(&body(r#"{"all":true}"#, r#","action":{"type":"Open Ride"}"#)).starts_with("action.type"));
    assert!(refused(&body(r#"{"all":true}"#, r#","action":{"type":"open_ride","ride_id":"r1"}"#))
        .starts_with("action.ride_id"));
    assert!(refused(&body(r#"{"all":true}"#, r#","action":{"type":"x","url":"u"}"#)).contains("unknown field `url`"));
}

#[test]
fn the_frame_carries_id_texts_severity_action_and_time() {
    let request = parse(&body(r#"{"all":true}"#, r#","action":{"type":"open_app"}"#)).unwrap();
    let frame: serde_json::Value = serde_json::from_str(&request.frame("ntf_1", 42)).unwrap();
    assert_eq!(
        frame,
        serde_json::json!({"type":"notification","id":"ntf_1","title":"Road closed",
            "message":"N1 closed at Grasmere","severity":"warning",
            "action":{"type":"open_app","ride_id":null},"sent_at":42})
    );
    let id = notification_id_from_random(&[0xab; 16]);
    assert_eq!(id, format!("ntf_{}", "ab".repeat(16)));
}

fn live(regions: usize, rides: usize) -> LivePlaces {
    LivePlaces {
        regions: (0..regions).map(|i| format!("cell{i}")).collect(),
        rides: (0..rides).map(|i| format!("ride{i}")).collect(),
    }
}

#[test]
fn a_registered_driver_is_reached_through_its_driver_do_alone() {
    let to = Addressee::User("drv_1".into());
    assert_eq!(targets(&to, true, &live(3, 3), RES).unwrap(), vec![Target::Driver("drv_1".into())]);
}

#[test]
fn another_user_is_sought_only_among_its_own_sockets_in_the_live_places() {
    let to = Addressee::User("disp_1".into());
    let found = targets(&to, false, &live(1, 1), RES).unwrap();
    let own = Audience { drivers: false, dispatchers: true, riders: true, user: Some("disp_1".into()) };
    assert_eq!(
        found,
        vec![
            Target::Region { cell: "cell0".into(), audience: own.clone() },
            Target::Ride { ride_id: "ride0".into(), audience: own.clone() },
        ]
    );
    assert!(own.reaches(SocketClass::Dispatcher, "disp_1"));
    assert!(own.reaches(SocketClass::Rider, "disp_1"));
    assert!(!own.reaches(SocketClass::Dispatcher, "disp_2"), "another dispatcher's socket");
    assert!(!own.reaches(SocketClass::Driver, "disp_1"));
}

#[test]
fn a_region_notification_reaches_that_regions_driver_sockets_only() {
    let at = LatLng { lat: -26.2041, lng: 28.0473 };
    let found = targets(&Addressee::Region(at), false, &live(5, 5), RES).unwrap();
    let Target::Region { cell, audience } = &found[..].first().cloned().unwrap() else { panic!("{found:?}") };
    assert_eq!(found.len(), 1);
    assert_eq!(cell, &region_of(at, RES).unwrap());
    assert!(audience.reaches(SocketClass::Driver, "anyone"));
    assert!(!audience.reaches(SocketClass::Dispatcher, "anyone"));
    assert!(!audience.reaches(SocketClass::Rider, "anyone"));
}

#[test]
fn everyone_is_every_socket_of_every_live_place_bounded() {
    let found = targets(&Addressee::All, false, &live(2, 1), RES).unwrap();
    assert_eq!(found.len(), 3);
    for target in &found {
        let audience = match target {
            Target::Region { audience, .. } | Target::Ride { audience, .. } => audience,
            Target::Driver(_) => panic!("no driver is asked for everyone"),
        };
        for class in [SocketClass::Driver, SocketClass::Dispatcher, SocketClass::Rider] {
            assert!(audience.reaches(class, "anyone"));
        }
    }
    let many = targets(&Addressee::All, false, &live(MAX_PLACES, MAX_PLACES), RES).unwrap();
    assert_eq!(many.len(), MAX_PLACES, "the fan-out is bounded");
    assert!(matches!(many.last(), Some(Target::Region { .. })), "regions (drivers and consoles) come first");
}

// The driver's mailbox: its Driver DO core.

const DAY: i64 = OFFLINE_KEEP_MS;

fn notify(id: &str) -> DriverInput {
    DriverInput::Notify { id: id.into(), frame: format!("notification-{id}") }
}

fn attach(socket: &str, region: &str) -> DriverInput {
    DriverInput::Attach { socket_id: socket.into(), region: region.into() }
}

fn attached_frames(effects: &[DriverEffect]) -> Vec<String> {
    effects
        .iter()
        .find_map(|e| match e {
            DriverEffect::AnswerAttach(a) => Some(a.frames.clone()),
            _ => None,
        })
        .expect("an attach is always answered")
}

/// The deliveries as (region, frame ids and texts).
fn deliveries(effects: &[DriverEffect]) -> Vec<(String, Vec<(u64, String)>)> {
    effects
        .iter()
        .filter_map(|e| match e {
            DriverEffect::Deliver { region, frames, .. } => Some((region.clone(), frames.clone())),
            _ => None,
        })
        .collect()
}

fn notified(effects: &[DriverEffect]) -> u64 {
    effects
        .iter()
        .find_map(|e| match e {
            DriverEffect::Notified { owed } => Some(*owed),
            _ => None,
        })
        .expect("a notification is always owed")
}

#[test]
fn a_notification_goes_to_every_region_with_a_socket_of_the_driver() {
    let mut c = Commitments::default();
    c.handle(attach("s1", "r1"), 0);
    c.handle(attach("s2", "r2"), 0);
    let effects = c.handle(notify("n1"), 10);
    assert!(matches!(effects.first(), Some(DriverEffect::Persist { .. })), "stored before it is sent");
    let owed = notified(&effects);
    let sent = deliveries(&effects);
    assert_eq!(sent.len(), 2);
    for (_, frames) in &sent {
        assert_eq!(frames, &vec![(owed, "notification-n1".to_string())]);
    }
    for (region, socket) in [("r1", "s1"), ("r2", "s2")] {
        let delivered = DriverInput::Delivered { region: region.into(), ids: vec![owed], sockets: vec![socket.into()] };
        c.handle(delivered, 20);
    }
    assert!(c.owed.is_empty(), "delivered everywhere: nothing kept");
    assert!(attached_frames(&c.handle(attach("s3", "r1"), 30)).is_empty(), "not sent again on a new socket");
}

/// What a driver's next socket, opened in `region`, is sent of its kept notifications: the
/// notification frames of the delivery to that region the attach starts.
fn kept_for(effects: &[DriverEffect], region: &str) -> Vec<String> {
    deliveries(effects)
        .into_iter()
        .filter(|(r, _)| r == region)
        .flat_map(|(_, frames)| frames.into_iter().map(|(_, text)| text))
        .filter(|text| text.starts_with("notification-"))
        .collect()
}

#[test]
fn a_notification_for_an_offline_driver_is_kept_for_its_next_connect() {
    let mut c = Commitments::default();
    let effects = c.handle(notify("n1"), 1_000);
    assert!(deliveries(&effects).is_empty(), "no socket: nothing to send");
    assert_eq!(c.next_wake(1_000), Some(1_000 + DAY), "the alarm drops it after a day");
    let stored = serde_json::to_string(&c).unwrap();
    let mut c: Commitments = serde_json::from_str(&stored).unwrap();
    let effects = c.handle(attach("s1", "r1"), 1_000 + DAY - 1);
    assert!(attached_frames(&effects).is_empty(), "not in the attach answer, which may be lost");
    assert_eq!(kept_for(&effects, "r1"), vec!["notification-n1".to_string()]);
    let owed = c.owed[0].id;
    c.handle(DriverInput::Delivered { region: "r1".into(), ids: vec![owed], sockets: vec!["s1".into()] }, 1_000 + DAY);
    let next = c.handle(attach("s2", "r2"), 1_000 + DAY);
    assert!(kept_for(&next, "r2").is_empty(), "delivered once");
    assert!(c.owed.is_empty());
}

#[test]
fn a_kept_notification_survives_a_connect_that_failed_half_way() {
    let mut c = Commitments::default();
    c.handle(notify("n1"), 0);
    let sent = c.handle(attach("s1", "r1"), 10);
    assert_eq!(kept_for(&sent, "r1").len(), 1);
    // The region lost the socket before the frames landed (its attach answer never arrived).
    let owed = c.owed[0].id;
    c.handle(DriverInput::Delivered { region: "r1".into(), ids: vec![owed], sockets: vec![] }, 20);
    assert_eq!(kept_for(&c.handle(attach("s2", "r2"), 30), "r2"), vec!["notification-n1".to_string()]);
}

#[test]
fn a_kept_notification_is_dropped_after_24_hours() {
    let mut c = Commitments::default();
    c.handle(notify("n1"), 0);
    c.handle(notify("n2"), DAY / 2);
    c.handle(DriverInput::Tick, DAY);
    let frames = kept_for(&c.handle(attach("s1", "r1"), DAY), "r1");
    assert_eq!(frames, vec!["notification-n2".to_string()], "n1 is a day old, n2 is not");
}

#[test]
fn a_notification_whose_sockets_vanished_is_kept_for_the_next_connect() {
    let mut c = Commitments::default();
    c.handle(attach("s1", "r1"), 0);
    let owed = notified(&c.handle(notify("n1"), 10));
    // The region no longer holds the socket (it closed before the close was reported).
    c.handle(DriverInput::Delivered { region: "r1".into(), ids: vec![owed], sockets: vec![] }, 20);
    assert_eq!(kept_for(&c.handle(attach("s2", "r2"), 30), "r2"), vec!["notification-n1".to_string()]);
}

#[test]
fn a_failed_delivery_is_retried_not_dropped() {
    let mut c = Commitments::default();
    c.handle(attach("s1", "r1"), 0);
    let owed = notified(&c.handle(notify("n1"), 10));
    c.handle(DriverInput::DeliveryFailed { region: "r1".into() }, 20);
    let retry_at = c.next_wake(20).expect("a retry is due");
    let retried = c.handle(DriverInput::Tick, retry_at);
    assert_eq!(deliveries(&retried), vec![("r1".to_string(), vec![(owed, "notification-n1".to_string())])]);
}

#[test]
fn a_drivers_ride_frames_do_not_supersede_a_kept_notification() {
    use ridewire::core::commitments::{FrameKind, RideFrame};
    let mut c = Commitments::default();
    c.handle(notify("n1"), 0);
    let offer = RideFrame::new(1, FrameKind::Offer { expires_at: 50_000 }, Some("offer".into()));
    c.handle(DriverInput::Frames { ride_id: RIDE.into(), frames: vec![offer] }, 1);
    c.handle(DriverInput::Claim { ride_id: RIDE.into(), token: 1 }, 2);
    let over = RideFrame::new(2, FrameKind::Over, Some("ride-over".into()));
    c.handle(DriverInput::Frames { ride_id: RIDE.into(), frames: vec![over] }, 3);
    let effects = c.handle(attach("s1", "r1"), 4);
    assert_eq!(attached_frames(&effects), vec!["ride-over".to_string()]);
    assert_eq!(kept_for(&effects, "r1"), vec!["notification-n1".to_string()]);
}

// Any other user's mailbox: kept in D1 when the notification reached none of its sockets.

fn kept(id: &str, sent_at: i64) -> KeptNotification {
    KeptNotification { id: id.into(), frame: format!("frame-{id}"), sent_at }
}

#[test]
fn only_a_user_who_is_not_a_driver_and_was_reached_nowhere_gets_a_kept_notification() {
    let pax = Addressee::User("pax-1".into());
    assert_eq!(keep_for_user(&pax, false, 0), Some("pax-1"));
    assert_eq!(keep_for_user(&pax, false, 1), None, "it reached a socket");
    assert_eq!(keep_for_user(&pax, true, 0), None, "a driver's Driver DO keeps its own");
    assert_eq!(keep_for_user(&Addressee::All, false, 0), None);
    assert_eq!(keep_for_user(&Addressee::Region(LatLng { lat: 0.0, lng: 0.0 }), false, 0), None);
}

#[test]
fn a_users_next_socket_gets_what_was_kept_in_the_last_24_hours_oldest_first() {
    let now = 5 * DAY;
    let taken = vec![kept("b", now - 10), kept("old", now - KEEP_MS), kept("a", now - DAY + 1), kept("c", now - 10)];
    assert_eq!(deliverable(taken, now), vec!["frame-a", "frame-b", "frame-c"]);
    assert!(deliverable(vec![kept("x", 0)], KEEP_MS).is_empty(), "exactly a day old is gone");
    assert_eq!(deliverable(vec![kept("x", 0)], KEEP_MS - 1), vec!["frame-x"]);
}

#[test]
fn a_notification_whose_region_lost_the_socket_goes_to_a_socket_opened_elsewhere_meanwhile() {
    let mut c = Commitments::default();
    c.handle(attach("s1", "r2"), 0);
    let owed = notified(&c.handle(notify("n1"), 10));
    // A socket opens in r1 while the delivery to r2 is out; r2 then answers it holds none.
    c.handle(attach("s2", "r1"), 20);
    let answered = c.handle(DriverInput::Delivered { region: "r2".into(), ids: vec![owed], sockets: vec![] }, 30);
    assert_eq!(kept_for(&answered, "r1"), vec!["notification-n1".to_string()]);
}

#[test]
fn notifications_past_the_cap_never_push_out_the_end_of_a_ride() {
    use ridewire::core::commitments::{FrameKind, RideFrame, MAX_OWED};
    let mut c = Commitments::default();
    c.handle(DriverInput::Claim { ride_id: RIDE.into(), token: 1 }, 0);
    let assigned = RideFrame::new(1, FrameKind::Active, Some("assigned".into()));
    let over = RideFrame::new(2, FrameKind::Over, Some("ride-over".into()));
    c.handle(DriverInput::Frames { ride_id: RIDE.into(), frames: vec![assigned, over] }, 1);
    for i in 0..MAX_OWED + 5 {
        c.handle(notify(&format!("n{i}")), 10 + i as i64);
    }
    assert_eq!(c.owed.len(), MAX_OWED);
    assert!(c.owed.iter().any(|o| o.frame == "ride-over"), "the end of the ride is kept");
    let kept: Vec<&str> = c.owed.iter().filter(|o| o.is_notification()).map(|o| o.frame.as_str()).collect();
    assert_eq!(kept.first(), Some(&"notification-n6"), "the oldest notifications went first");
    assert_eq!(kept.last(), Some(&format!("notification-n{}", MAX_OWED + 4).as_str()));
}
