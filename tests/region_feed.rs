//! The region core's rules for what reaches it from other objects and what
//! it reports, with a fake clock: offers and busy marks, a Driver DO's
//! frames, queries, the dispatch feed and snapshot, leased stats, and the
//! region rebuilt after a wake-up.

mod region_fixtures;

use region_fixtures::*;
use ridewire::core::busy_mark::BusyMark;
use ridewire::core::commitments::AttachAnswer;
use ridewire::core::dispatch::CandidateQuery;
use ridewire::core::geo::Place;
use ridewire::core::identity::Role;
use ridewire::core::protocol::SnapshotRide;
use ridewire::core::region::REPORT_MIN_MS;
use ridewire::core::region::{
    DeliverBatch, Delivered, Delivery, DriverDelivery, DriverFacts, DriverSockets, NearbyQuery, Region, RegionAnswer,
    RegionEffect, RegionInput, RideFeed,
};
use ridewire::core::ride::RideStatus;
use ridewire::core::socket_rules::SocketHeader;
use ridewire::core::stats::RegionFigures;

fn delivery(driver: &str, frame: &str, offer: bool, mark: Option<BusyMark>) -> Delivery {
    Delivery { driver_id: driver.into(), frame: frame.into(), offer, mark }
}

fn deliver(region: &mut Region, deliveries: Vec<Delivery>, feed: Vec<RideFeed>, now: i64) -> Vec<RegionEffect> {
    region.handle(RegionInput::Deliver(DeliverBatch { deliveries, feed, watches: Vec::new() }), now)
}

fn taken(fx: &[RegionEffect]) -> Vec<Vec<String>> {
    match answer(fx) {
        RegionAnswer::Delivered(Delivered { taken }) => taken,
        other => panic!("{other:?}"),
    }
}

fn offerable(region: &mut Region, now: i64) -> Vec<String> {
    let query = CandidateQuery { at: HERE, radius_km: 10.0, limit: 10, exclude: vec![] };
    match answer(&region.handle(RegionInput::Candidates(query), now)) {
        RegionAnswer::Candidates(found) => found.into_iter().map(|c| c.driver_id).collect(),
        other => panic!("{other:?}"),
    }
}

fn ride(id: &str, status: RideStatus, created: bool) -> RideFeed {
    let pickup = Place { lat: HERE.lat, lng: HERE.lng, address: None };
    RideFeed { ride_id: id.into(), status, pickup, created }
}

fn reports(fx: &[RegionEffect]) -> Vec<RegionFigures> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::Report { figures, .. } => Some(*figures),
            _ => None,
        })
        .collect()
}

#[test]
fn an_offer_skips_a_driver_marked_busy_here_and_reaches_every_socket_of_a_free_one() {
    let mut region = region();
    online(&mut region, "s1", "free", east(1.0), T0);
    online(&mut region, "s2", "free", east(1.0), T0);
    open_at(&mut region, "s3", "busy", east(1.0), T0);
    attach(&mut region, "s3", Some("ride-x"), &[], T0);
    let fx = deliver(
        &mut region,
        vec![delivery("free", r#"{"o":1}"#, true, None), delivery("busy", r#"{"o":2}"#, true, None)],
        vec![],
        T0 + 1,
    );
    assert_eq!(taken(&fx), [vec!["s1".to_string(), "s2".to_string()], vec![]], "the sockets that took each");
    assert_eq!(sent_to(&fx, "s1").len(), 1);
    assert_eq!(sent_to(&fx, "s2").len(), 1);
    assert!(sent_to(&fx, "s3").is_empty());
    let fx = deliver(&mut region, vec![delivery("nobody", "o3", true, None)], vec![], T0 + 2);
    assert_eq!(taken(&fx), [Vec::<String>::new()], "a driver without a socket here");
}

#[test]
fn ride_assigned_marks_the_driver_busy_before_it_is_sent_and_the_final_update_frees_it() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let fx =
        deliver(&mut region, vec![delivery("d1", "assigned", false, Some(mark(Some("ride-a"), 2)))], vec![], T0 + 1);
    let save = fx.iter().position(
        |e| matches!(e, RegionEffect::SaveFacts { facts, .. } if facts.mark.ride_id.as_deref() == Some("ride-a")),
    );
    let send = fx.iter().position(|e| matches!(e, RegionEffect::Send { .. }));
    assert!(save.unwrap() < send.unwrap(), "marked before it is sent");
    assert!(offerable(&mut region, T0 + 2).is_empty());
    deliver(&mut region, vec![delivery("d1", "done", false, Some(mark(None, 3)))], vec![], T0 + 5);
    assert_eq!(offerable(&mut region, T0 + 6), ["d1"]);
}

#[test]
fn a_busy_mark_decided_before_the_one_the_region_holds_changes_nothing() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    // The ride ended (version 3) before the slow `ride_assigned` (version 2) landed.
    deliver(&mut region, vec![delivery("d1", "done", false, Some(mark(None, 3)))], vec![], T0 + 1);
    deliver(&mut region, vec![delivery("d1", "assigned", false, Some(mark(Some("ride-a"), 2)))], vec![], T0 + 2);
    assert_eq!(offerable(&mut region, T0 + 3), ["d1"], "the older busy mark is not put back");
    // An attach answer and a Driver DO's delivery decided before that are ignored too.
    online(&mut region, "s2", "d1", east(1.0), T0 + 4);
    let old = DriverDelivery { driver_id: "d1".into(), frames: vec![], mark: mark(Some("ride-a"), 2) };
    region.handle(RegionInput::DriverFrames(old), T0 + 5);
    assert_eq!(offerable(&mut region, T0 + 6), ["d1"]);
    // A newer one is taken.
    let newer = DriverDelivery { driver_id: "d1".into(), frames: vec![], mark: mark(Some("ride-b"), 4) };
    region.handle(RegionInput::DriverFrames(newer), T0 + 7);
    assert!(offerable(&mut region, T0 + 8).is_empty());
}

#[test]
fn a_driver_dos_frames_carry_its_busy_mark_and_reach_every_socket_in_order() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d1", east(1.0), T0);
    let delivery = DriverDelivery {
        driver_id: "d1".into(),
        frames: vec!["{\"n\":1}".into(), "{\"n\":2}".into()],
        mark: mark(Some("ride-a"), 1),
    };
    let fx = region.handle(RegionInput::DriverFrames(delivery), T0 + 1);
    for socket in ["s1", "s2"] {
        assert_eq!(sent_to(&fx, socket).iter().map(|f| f["n"].as_i64().unwrap()).collect::<Vec<_>>(), [1, 2]);
    }
    assert_eq!(answer(&fx), RegionAnswer::Sockets(DriverSockets { sockets: vec!["s1".into(), "s2".into()] }));
    assert!(offerable(&mut region, T0 + 2).is_empty());
    // Reported with the next report, at most a second after the last one.
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + REPORT_MIN_MS);
    assert_eq!(reports(&fx).last().map(|f| f.drivers_busy), Some(1));
}

#[test]
fn a_fleet_connecting_is_reported_at_most_once_a_second() {
    let mut region = region();
    let mut written = 0;
    for i in 0..100 {
        let fx = open_at(&mut region, &format!("s{i}"), &format!("d{i}"), east(1.0), T0 + i * 10);
        written += reports(&fx).len();
    }
    assert_eq!(written, 1, "the first connect is reported at once, the rest wait for the alarm");
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + REPORT_MIN_MS);
    assert_eq!(reports(&fx).last().map(|f| f.driver_sockets), Some(100));
}

#[test]
fn candidates_are_only_offerable_drivers_and_nearby_lists_every_driver_with_its_name() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    online(&mut region, "s2", "d2", east(2.0), T0);
    message(&mut region, "s2", r#"{"type":"set_available","available":false}"#, T0 + 1);
    assert_eq!(offerable(&mut region, T0 + 2), ["d1"]);
    let query = NearbyQuery { at: HERE, radius_m: 10_000.0, limit: 10 };
    match answer(&region.handle(RegionInput::Nearby(query), T0 + 3)) {
        RegionAnswer::Nearby(found) => {
            let names: Vec<(&str, bool)> = found.iter().map(|d| (d.name.as_str(), d.candidate.available)).collect();
            assert_eq!(names, [("Driver d1", true), ("Driver d2", false)]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_snapshot_lists_online_drivers_and_the_rides_not_over() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    let fx = deliver(
        &mut region,
        vec![],
        vec![ride("r1", RideStatus::Searching, true), ride("r2", RideStatus::Searching, true)],
        T0 + 1,
    );
    assert_eq!(feed_types(&fx), ["ride_created", "ride_created"]);
    assert!(fx.iter().any(|e| matches!(e, RegionEffect::StoreRide(r) if r.id == "r1")));
    let fx = deliver(&mut region, vec![], vec![ride("r2", RideStatus::Cancelled, false)], T0 + 2);
    assert_eq!(feed(&fx)[0]["status"], "cancelled", "a ride's last status is still sent");
    assert!(fx.contains(&RegionEffect::ForgetRide("r2".into())));
    let fx = region.handle(RegionInput::DispatcherOpened { socket_id: "desk".into(), cell: cell() }, T0 + 3);
    let snapshot = &sent_to(&fx, "desk")[0];
    assert_eq!(snapshot["type"], "snapshot");
    assert_eq!(snapshot["drivers"][0]["id"], "d1");
    assert_eq!(snapshot["drivers"][0]["available"], true);
    let rides: Vec<&str> = snapshot["rides"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(rides, ["r1"]);
}

#[test]
fn stats_are_reported_when_the_figures_change_and_renewed_under_a_lease_while_they_count() {
    let mut region = region();
    let fx = open_at(&mut region, "s1", "d1", east(1.0), T0);
    let first = reports(&fx);
    assert_eq!(first.last().map(|f| (f.driver_sockets, f.drivers_online)), Some((1, 1)));
    assert!(wakes(&fx).contains(&(T0 + 60_000)), "renewed every 2 heartbeats");
    let fx = message(&mut region, "s1", r#"{"type":"ping"}"#, T0 + 1);
    assert!(reports(&fx).is_empty(), "nothing changed");
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + 30_000);
    assert!(reports(&fx).is_empty() && wakes(&fx).contains(&(T0 + 60_000)), "not due yet");
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + 60_000);
    assert_eq!(reports(&fx).len(), 1, "renewed when due");
    assert!(fx.iter().any(|e| matches!(e, RegionEffect::PurgeReports { .. })));
    let fx = gone(&mut region, "s1", T0 + 61_000);
    assert_eq!(reports(&fx), [RegionFigures::default()], "the region's row goes");
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0 + 200_000);
    assert_eq!(reports(&fx), [RegionFigures::default()]);
    assert!(wakes(&fx).is_empty(), "nothing left to renew");
}

#[test]
fn nothing_is_reported_before_a_socket_tells_the_region_its_cell() {
    let mut region = region();
    let fx = deliver(&mut region, vec![], vec![ride("r1", RideStatus::Searching, true)], T0);
    assert!(reports(&fx).is_empty());
    let fx = region.handle(RegionInput::DispatcherOpened { socket_id: "desk".into(), cell: cell() }, T0 + 1);
    assert!(fx.contains(&RegionEffect::StoreCell(cell())));
    assert_eq!(reports(&fx).last().map(|f| f.dispatcher_sockets), Some(1));
}

fn socket(
    id: &str,
    driver: &str,
    location_at: i64,
    available: bool,
    busy: Option<&str>,
) -> (SocketHeader, DriverFacts) {
    let header = SocketHeader::new(id.into(), driver, Role::Driver, 1_900_000_000, T0);
    let mut facts = DriverFacts::new(&format!("Driver {driver}"), east(location_at as f64 / 1000.0), location_at);
    facts.available = available;
    facts.mark = mark(busy, if busy.is_some() { 2 } else { 1 });
    (header, facts)
}

#[test]
fn the_region_is_rebuilt_from_its_sockets_attachments_and_storage_the_latest_position_winning() {
    let sockets = vec![
        socket("s1", "d1", 1_000, false, None),
        socket("s2", "d1", 3_000, true, None),
        socket("s3", "d2", 2_000, true, Some("ride-a")),
    ];
    let rides = vec![SnapshotRide {
        id: "r1".into(),
        status: RideStatus::Searching,
        pickup: ride("r1", RideStatus::Searching, true).pickup,
    }];
    let mut region = Region::rebuild(settings(), Some(cell()), rides, sockets, vec!["desk".into()]);
    assert_eq!(offerable(&mut region, T0), ["d1"]);
    let lookup = ridewire::core::region::DriverLookup { driver_id: "d1".into() };
    match answer(&region.handle(RegionInput::Driver(lookup), T0)) {
        RegionAnswer::Driver(Some(driver)) => assert_eq!(driver.location, east(3.0)),
        other => panic!("{other:?}"),
    }
    let figures = region.figures();
    assert_eq!((figures.driver_sockets, figures.dispatcher_sockets, figures.drivers_busy), (3, 1, 1));
    let fx = region.handle(RegionInput::DispatcherOpened { socket_id: "desk2".into(), cell: cell() }, T0);
    assert_eq!(sent_to(&fx, "desk2")[0]["rides"][0]["id"], "r1");
    assert!(!fx.iter().any(|e| matches!(e, RegionEffect::StoreCell(_))), "the cell was known");
}

#[test]
fn a_region_woken_up_writes_no_report_before_the_figures_change() {
    let mut region =
        Region::rebuild(settings(), Some(cell()), vec![], vec![socket("s1", "d1", 1_000, true, None)], vec![]);
    let query = CandidateQuery { at: HERE, radius_km: 10.0, limit: 10, exclude: vec![] };
    assert!(reports(&region.handle(RegionInput::Candidates(query), T0)).is_empty());
    assert_eq!(reports(&gone(&mut region, "s1", T0 + 1)), [RegionFigures::default()]);
}

#[test]
fn after_a_restart_with_no_socket_left_the_first_tick_removes_the_regions_row() {
    let mut region = Region::rebuild(settings(), Some(cell()), vec![], vec![], vec![]);
    let fx = region.handle(RegionInput::Tick { heard: vec![] }, T0);
    assert_eq!(reports(&fx), [RegionFigures::default()]);
}

#[test]
fn a_rebuilt_region_keeps_the_newest_busy_mark_any_socket_kept() {
    let (h1, mut f1) = socket("s1", "d1", 5_000, true, None);
    f1.mark = mark(Some("ride-a"), 2);
    let (h2, mut f2) = socket("s2", "d1", 1_000, true, None);
    f2.mark = mark(None, 3);
    let mut region = Region::rebuild(settings(), Some(cell()), vec![], vec![(h1, f1), (h2, f2)], vec![]);
    assert_eq!(offerable(&mut region, T0), ["d1"], "the free mark is newer, though its socket's position is older");
}

#[test]
fn an_offer_decided_before_the_driver_took_a_ride_is_dropped_when_it_lands_after() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    deliver(&mut region, vec![delivery("d1", "assigned", false, Some(mark(Some("ride-a"), 2)))], vec![], T0 + 1);
    // The Driver DO sent an offer while the driver was free (version 1); it lands now.
    let offer = r#"{"type":"ride_offer","ride_id":"ride-b"}"#;
    let late =
        DriverDelivery { driver_id: "d1".into(), frames: vec![offer.into(), "{\"n\":1}".into()], mark: mark(None, 1) };
    let fx = region.handle(RegionInput::DriverFrames(late), T0 + 2);
    assert_eq!(sent_to(&fx, "s1").len(), 1, "only the frame that is not an offer goes out");
    assert!(offerable(&mut region, T0 + 3).is_empty());
    assert_eq!(answer(&fx), RegionAnswer::Sockets(DriverSockets { sockets: vec!["s1".into()] }));
}

#[test]
fn a_late_attach_answer_keeps_the_newer_busy_mark_and_sends_no_offer() {
    let mut region = region();
    online(&mut region, "s1", "d1", east(1.0), T0);
    open_at(&mut region, "s2", "d1", east(1.0), T0 + 1);
    deliver(&mut region, vec![delivery("d1", "assigned", false, Some(mark(Some("ride-a"), 2)))], vec![], T0 + 2);
    let offer = r#"{"type":"ride_offer","ride_id":"ride-b"}"#;
    let answer = AttachAnswer { mark: mark(None, 1), frames: vec![offer.into()] };
    let fx = region.handle(RegionInput::Attached { socket_id: "s2".into(), answer: Some(answer) }, T0 + 3);
    assert!(sent_to(&fx, "s2").is_empty(), "no offer reaches a driver marked busy");
    assert!(offerable(&mut region, T0 + 4).is_empty(), "the older free mark is not taken");
}
