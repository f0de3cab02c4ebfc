//! The driver core (one driver's commitments) with a fake clock: claims,
//! offers that follow the driver, frames retried until they land.

use ridewire::core::commitments::{
    AttachAnswer, ClaimAnswer, Commitments, DriverEffect, DriverInput, FrameKind, RideFrame, CLAIM_CONFIRM_MS,
    RETRY_DELAYS_MS,
};
use ridewire::core::geo::LatLng;

const HERE: LatLng = LatLng { lat: -26.2, lng: 28.04 };

/// An offer; `delivered` when the region of its round (r1) already put it on the driver's sockets there.
fn offer(id: u64, expires_at: i64, delivered: bool) -> RideFrame {
    let kind = FrameKind::Offer { expires_at };
    let delivered_in = delivered.then(|| "r1".to_string());
    RideFrame { delivered_in, ..RideFrame::new(id, kind, Some(format!("offer-{id}"))) }
}

fn frame(id: u64, kind: FrameKind, text: &str) -> RideFrame {
    RideFrame::new(id, kind, Some(text.to_string()))
}

fn frames(ride: &str, list: Vec<RideFrame>) -> DriverInput {
    DriverInput::Frames { ride_id: ride.into(), frames: list }
}

fn claim(ride: &str) -> DriverInput {
    DriverInput::Claim { ride_id: ride.into(), token: 1 }
}

fn release(id: u64, token: u64) -> RideFrame {
    RideFrame::new(id, FrameKind::Release { token }, None)
}

fn attach(socket: &str, region: &str) -> DriverInput {
    DriverInput::Attach { socket_id: socket.into(), region: region.into() }
}

fn claim_answer(effects: &[DriverEffect]) -> ClaimAnswer {
    effects
        .iter()
        .find_map(|e| match e {
            DriverEffect::AnswerClaim(a) => Some(a.clone()),
            _ => None,
        })
        .expect("a claim is always answered")
}

fn attach_answer(effects: &[DriverEffect]) -> AttachAnswer {
    effects
        .iter()
        .find_map(|e| match e {
            DriverEffect::AnswerAttach(a) => Some(a.clone()),
            _ => None,
        })
        .expect("an attach is always answered")
}

/// A delivery as (region, numbered frames, busy ride).
type Delivery = (String, Vec<(u64, String)>, Option<String>);

fn deliveries(effects: &[DriverEffect]) -> Vec<Delivery> {
    effects
        .iter()
        .filter_map(|e| match e {
            DriverEffect::Deliver { region, frames, mark } => {
                Some((region.clone(), frames.clone(), mark.ride_id.clone()))
            }
            _ => None,
        })
        .collect()
}

fn declines(effects: &[DriverEffect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            DriverEffect::Decline { ride_id } => Some(ride_id.clone()),
            _ => None,
        })
        .collect()
}

/// A driver with one socket in region `r1` whose deliveries have all landed.
fn online() -> Commitments {
    let mut c = Commitments::default();
    c.handle(attach("s1", "r1"), 0);
    c
}

/// Acknowledges every delivery in `effects` as reaching the sockets known in its region.
fn ack_all(c: &mut Commitments, effects: &[DriverEffect], now: i64) -> Vec<DriverEffect> {
    let mut out = Vec::new();
    for (region, frames, _) in deliveries(effects) {
        let ids = frames.iter().map(|(id, _)| *id).collect();
        let sockets = c.sockets.iter().filter(|(_, r)| **r == region).map(|(id, _)| id.clone()).collect();
        out.extend(c.handle(DriverInput::Delivered { region, ids, sockets }, now));
    }
    out
}

#[test]
fn a_driver_with_an_active_ride_is_refused_a_second_claim() {
    let mut c = online();
    assert_eq!(claim_answer(&c.handle(claim("ride_a"), 10)), ClaimAnswer::Claimed { version: 1 });
    assert_eq!(claim_answer(&c.handle(claim("ride_b"), 11)), ClaimAnswer::Busy { ride_id: "ride_a".into() });
    assert_eq!(c.active_ride(), Some("ride_a"));
}

#[test]
fn a_repeated_claim_for_the_same_ride_is_granted_again() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    assert_eq!(claim_answer(&c.handle(claim("ride_a"), 12)), ClaimAnswer::Claimed { version: 1 });
}

#[test]
fn a_claim_is_persisted_with_its_check_alarm_before_anything_else() {
    let mut c = online();
    let effects = c.handle(claim("ride_a"), 10);
    assert_eq!(effects[0], DriverEffect::Persist { wake_at: Some(10 + CLAIM_CONFIRM_MS) });
    assert!(
        deliveries(&effects).is_empty(),
        "the claim is answered at once; the ride marks the region with ride_assigned"
    );
    let mut assigned = frame(1, FrameKind::Active, "assigned");
    assigned.delivered_in = Some("r1".into());
    let confirmed = c.handle(frames("ride_a", vec![assigned]), 20);
    let marks = deliveries(&confirmed);
    assert_eq!(marks, vec![("r1".to_string(), vec![], Some("ride_a".to_string()))], "every region learns busy");
}

#[test]
fn a_frame_landed_on_a_socket_that_closed_since_is_owed_to_the_new_socket_in_that_region() {
    // s1 in r1 took the offer through the fast path; before the ride handed the frame over, the
    // driver reconnected in r1 (s2: a restart, a new connection) and its attach found nothing.
    let mut c = online();
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 100);
    assert!(attach_answer(&c.handle(attach("s2", "r1"), 110)).frames.is_empty());
    let mut landed = offer(1, 20_000, true);
    landed.delivered_to = vec!["s1".into()];
    let effects = c.handle(frames("ride_a", vec![landed]), 120);
    let sent = deliveries(&effects);
    assert_eq!(sent.len(), 1, "owed to r1 again, for s2: {sent:?}");
    assert_eq!((sent[0].0.as_str(), sent[0].1[0].1.as_str()), ("r1", "offer-1"));
    // Landed on the socket that is still there: nothing owed.
    let mut c = online();
    let mut landed = offer(1, 20_000, true);
    landed.delivered_to = vec!["s1".into()];
    assert!(deliveries(&c.handle(frames("ride_a", vec![landed]), 120)).is_empty());
}

#[test]
fn open_offers_follow_the_driver_to_a_new_socket_with_their_original_expiry() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 20_000, true)]), 100);
    c.handle(frames("ride_b", vec![offer(1, 5_000, true)]), 100);
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 200);
    let answer = attach_answer(&c.handle(attach("s2", "r2"), 6_000));
    assert_eq!(answer.frames, vec!["offer-1".to_string()], "the lapsed offer of ride_b is not re-sent");
    assert_eq!(c.offers.len(), 1);
    assert_eq!(c.offers[0].ride_id, "ride_a");
    assert_eq!(c.offers[0].expires_at, 20_000);
}

#[test]
fn a_declined_or_taken_offer_is_not_sent_again() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 20_000, true)]), 100);
    c.handle(frames("ride_b", vec![offer(1, 20_000, true)]), 100);
    c.handle(frames("ride_a", vec![RideFrame::new(2, FrameKind::OfferClosed, None)]), 150);
    c.handle(frames("ride_b", vec![frame(2, FrameKind::OfferClosed, "taken-b")]), 160);
    let answer = attach_answer(&c.handle(attach("s2", "r2"), 200));
    assert!(answer.frames.is_empty(), "{:?}", answer.frames);
}

#[test]
fn the_active_ride_follows_the_driver_and_the_new_region_marks_it_busy() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    c.handle(frames("ride_a", vec![frame(3, FrameKind::Active, "assigned-a")]), 20);
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 30);
    let answer = attach_answer(&c.handle(attach("s2", "r2"), 40));
    assert_eq!(answer.mark.ride_id.as_deref(), Some("ride_a"));
    assert_eq!(answer.frames, vec!["assigned-a".to_string()]);
}

#[test]
fn a_retried_batch_of_frames_is_applied_once() {
    let mut c = online();
    let batch = vec![offer(1, 20_000, false), frame(2, FrameKind::Transient, "viewers")];
    let first = c.handle(frames("ride_a", batch.clone()), 100);
    assert_eq!(deliveries(&first)[0].1.len(), 2);
    ack_all(&mut c, &first, 101);
    let again = c.handle(frames("ride_a", batch), 102);
    assert!(deliveries(&again).is_empty(), "nothing new to deliver: {again:?}");
    // An older frame arriving after a newer one is ignored too.
    let late = c.handle(frames("ride_a", vec![offer(1, 20_000, false)]), 103);
    assert!(deliveries(&late).is_empty());
}

#[test]
fn an_offer_the_region_did_not_deliver_is_delivered_by_the_driver() {
    let mut c = online();
    let sent = c.handle(frames("ride_a", vec![offer(1, 20_000, false)]), 100);
    assert_eq!(deliveries(&sent), vec![("r1".into(), vec![(1, "offer-1".into())], None)]);
    let delivered = c.handle(frames("ride_b", vec![offer(1, 20_000, true)]), 100);
    assert!(deliveries(&delivered).is_empty(), "one in flight to r1 already");
}

#[test]
fn a_confirmed_ride_drops_the_other_offers_without_declining_them() {
    let mut c = online();
    c.handle(frames("ride_b", vec![offer(1, 20_000, true)]), 5);
    c.handle(frames("ride_c", vec![offer(1, 20_000, true)]), 5);
    c.handle(claim("ride_a"), 10);
    let effects = c.handle(frames("ride_a", vec![frame(4, FrameKind::Active, "assigned-a")]), 20);
    assert!(declines(&effects).is_empty(), "an accept of ride_b must still be refused driver_busy, not not_offered");
    assert!(c.offers.is_empty(), "not sent again on reconnect: a busy driver is offered nothing");
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 30);
    let answer = attach_answer(&c.handle(attach("s2", "r1"), 40));
    assert_eq!(answer.frames, vec!["assigned-a".to_string()]);
}

#[test]
fn a_busy_driver_gives_a_new_offer_back_at_once() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    let effects = c.handle(frames("ride_b", vec![offer(1, 20_000, false)]), 20);
    assert_eq!(declines(&effects), vec!["ride_b".to_string()]);
    assert!(c.offers.is_empty());
    assert!(deliveries(&effects).iter().all(|(_, frames, _)| frames.is_empty()), "the offer is not sent");
}

#[test]
fn the_end_of_the_active_ride_frees_the_driver_everywhere() {
    let mut c = online();
    c.handle(attach("s2", "r2"), 1);
    let claimed = c.handle(claim("ride_a"), 10);
    ack_all(&mut c, &claimed, 11);
    let over = c.handle(frames("ride_a", vec![frame(9, FrameKind::Over, "completed-a")]), 50);
    assert_eq!(c.active_ride(), None);
    let mut regions: Vec<_> = deliveries(&over).into_iter().map(|(r, _, busy)| (r, busy)).collect();
    regions.sort();
    assert_eq!(regions, vec![("r1".into(), None), ("r2".into(), None)]);
}

#[test]
fn a_release_frees_only_an_unconfirmed_claim_of_that_ride() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    c.handle(frames("ride_b", vec![release(1, 1)]), 11);
    assert_eq!(c.active_ride(), Some("ride_a"), "another ride's release changes nothing");
    c.handle(frames("ride_a", vec![release(1, 1)]), 12);
    assert_eq!(c.active_ride(), None);

    c.handle(claim("ride_c"), 20);
    c.handle(frames("ride_c", vec![frame(1, FrameKind::Active, "assigned-c")]), 21);
    c.handle(frames("ride_c", vec![release(2, 1)]), 22);
    assert_eq!(c.active_ride(), Some("ride_c"), "a confirmed ride is ended by its own frames only");
}

#[test]
fn a_claim_its_ride_never_recorded_is_checked_and_released() {
    let mut c = online();
    c.handle(claim("ride_a"), 0);
    assert!(c
        .handle(DriverInput::Tick, CLAIM_CONFIRM_MS - 1)
        .iter()
        .all(|e| !matches!(e, DriverEffect::CheckClaim { .. })));
    let tick = c.handle(DriverInput::Tick, CLAIM_CONFIRM_MS);
    assert!(tick.contains(&DriverEffect::CheckClaim { ride_id: "ride_a".into() }));
    c.handle(DriverInput::ClaimChecked { ride_id: "ride_a".into(), assigned: false }, CLAIM_CONFIRM_MS + 5);
    assert_eq!(c.active_ride(), None);
}

#[test]
fn a_checked_claim_the_ride_did_record_holds() {
    let mut c = online();
    c.handle(claim("ride_a"), 0);
    c.handle(DriverInput::Tick, CLAIM_CONFIRM_MS);
    c.handle(DriverInput::ClaimChecked { ride_id: "ride_a".into(), assigned: true }, CLAIM_CONFIRM_MS + 5);
    assert_eq!(c.active_ride(), Some("ride_a"));
    assert!(c.active.as_ref().is_some_and(|a| a.confirmed && a.check_at.is_none()));
}

#[test]
fn a_failed_delivery_is_retried_with_backoff_until_it_lands() {
    let mut c = online();
    let sent = c.handle(frames("ride_a", vec![frame(1, FrameKind::OfferClosed, "taken")]), 0);
    assert!(deliveries(&sent).is_empty(), "an offer the driver never held needs no closing frame");
    c.handle(frames("ride_b", vec![offer(1, 60_000, true)]), 0);
    let sent = c.handle(frames("ride_b", vec![frame(2, FrameKind::Transient, "viewers-2")]), 0);
    assert_eq!(deliveries(&sent).len(), 1);
    let failed = c.handle(DriverInput::DeliveryFailed { region: "r1".into() }, 10);
    assert!(deliveries(&failed).is_empty(), "no retry before the backoff");
    assert_eq!(c.next_wake(10), Some(10 + RETRY_DELAYS_MS[0]));
    let retried = c.handle(DriverInput::Tick, 10 + RETRY_DELAYS_MS[0]);
    assert_eq!(deliveries(&retried), vec![("r1".into(), vec![(1, "viewers-2".into())], None)]);
    ack_all(&mut c, &retried, 600);
    assert!(c.owed.is_empty());
}

#[test]
fn the_end_of_a_ride_reaches_a_driver_that_was_offline_on_its_next_connect() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned-a")]), 20);
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 30);
    c.handle(frames("ride_a", vec![frame(2, FrameKind::Over, "cancelled-a")]), 40);
    let answer = attach_answer(&c.handle(attach("s2", "r3"), 1_000));
    assert_eq!(answer.mark.ride_id, None);
    assert_eq!(answer.frames, vec!["cancelled-a".to_string()]);
    let again = attach_answer(&c.handle(attach("s3", "r3"), 1_001));
    assert!(again.frames.is_empty(), "sent once");
}

#[test]
fn a_region_that_no_longer_holds_the_socket_drops_it() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 60_000, true)]), 0);
    let sent = c.handle(frames("ride_a", vec![frame(2, FrameKind::Transient, "viewers")]), 1);
    let (region, frames_sent, _) = deliveries(&sent).remove(0);
    let ids = frames_sent.iter().map(|(id, _)| *id).collect();
    c.handle(DriverInput::Delivered { region, ids, sockets: vec![] }, 2);
    assert!(c.sockets.is_empty());
    assert!(c.owed.is_empty());
}

#[test]
fn a_socket_attached_while_a_delivery_was_in_flight_is_kept() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 60_000, true)]), 0);
    let sent = c.handle(frames("ride_a", vec![frame(2, FrameKind::Transient, "viewers")]), 1);
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 2);
    c.handle(attach("s2", "r1"), 3);
    let (region, _, _) = deliveries(&sent).remove(0);
    c.handle(DriverInput::Delivered { region, ids: vec![], sockets: vec![] }, 4);
    assert_eq!(c.sockets.get("s2").map(String::as_str), Some("r1"));
}

#[test]
fn the_position_reaches_the_active_ride_at_most_once_a_second_per_driver() {
    let mut c = online();
    let relays =
        |effects: Vec<DriverEffect>| effects.iter().filter(|e| matches!(e, DriverEffect::Relay { .. })).count();
    let at = |_: i32| DriverInput::Location { location: HERE, heading: None };
    assert_eq!(relays(c.handle(at(0), 5_000)), 0, "no active ride");
    c.handle(claim("ride_a"), 5_000);
    assert_eq!(relays(c.handle(at(0), 5_100)), 0, "not before the ride recorded the accept");
    c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned")]), 5_200);
    assert_eq!(relays(c.handle(at(0), 5_300)), 1);
    assert_eq!(relays(c.handle(at(0), 5_900)), 0, "from another socket, within the second");
    assert_eq!(relays(c.handle(at(0), 6_300)), 1);
}

#[test]
fn lapsed_offers_are_pruned_and_wake_the_object() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 20_000, true)]), 0);
    assert_eq!(c.next_wake(0), Some(20_000));
    let effects = c.handle(DriverInput::Tick, 20_000);
    assert!(matches!(effects.first(), Some(DriverEffect::Persist { .. })));
    assert!(c.offers.is_empty());
}

#[test]
fn the_commitments_survive_a_restart_but_nothing_stays_in_flight() {
    let mut c = online();
    c.handle(claim("ride_a"), 0);
    c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned")]), 1);
    let stored = serde_json::to_string(&c).unwrap();
    let mut restored: Commitments = serde_json::from_str(&stored).unwrap();
    assert_eq!(restored.active_ride(), Some("ride_a"));
    assert!(restored.in_flight.is_empty());
    let resent = restored.handle(DriverInput::Tick, 2);
    assert_eq!(deliveries(&resent).len(), 1, "the busy mark and frame still owed are sent again");
}

#[test]
fn a_driver_whose_offer_lapsed_still_hears_that_the_ride_ended() {
    let mut c = online();
    c.handle(frames("ride_a", vec![offer(1, 1_000, true)]), 0);
    c.handle(DriverInput::Tick, 1_000);
    assert!(c.offers.is_empty());
    let closed = c.handle(frames("ride_a", vec![frame(2, FrameKind::OfferClosed, "cancelled-a")]), 5_000);
    assert_eq!(deliveries(&closed), vec![("r1".into(), vec![(1, "cancelled-a".into())], None)]);
}

#[test]
fn a_busy_mark_that_changed_while_a_delivery_was_out_is_sent_again() {
    let mut c = online();
    c.handle(frames("ride_z", vec![offer(1, 60_000, true)]), 0);
    // A delivery carrying "free" leaves...
    let free = c.handle(frames("ride_z", vec![frame(2, FrameKind::Transient, "viewers")]), 1);
    assert_eq!(deliveries(&free)[0].2, None);
    // ...then the driver wins a ride before its answer comes back.
    c.handle(claim("ride_a"), 2);
    c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned")]), 2);
    let after = ack_all(&mut c, &free, 3);
    assert_eq!(
        deliveries(&after),
        vec![("r1".into(), vec![(2, "assigned".into())], Some("ride_a".into()))],
        "the answer to the older mark does not settle the new one"
    );
}

#[test]
fn a_frame_a_region_already_delivered_is_owed_only_to_the_other_regions() {
    let mut c = online();
    c.handle(attach("s2", "r2"), 1);
    let marks = c.handle(claim("ride_a"), 2);
    ack_all(&mut c, &marks, 2);
    let mut assigned = frame(1, FrameKind::Active, "assigned");
    assigned.delivered_in = Some("r1".into());
    let effects = c.handle(frames("ride_a", vec![assigned]), 3);
    let with_frames: Vec<_> = deliveries(&effects).into_iter().filter(|(_, f, _)| !f.is_empty()).collect();
    assert_eq!(with_frames.len(), 1);
    assert_eq!(with_frames[0].0, "r2");
    assert_eq!(c.active.as_ref().and_then(|a| a.frame.as_deref()), Some("assigned"), "still re-sent on connect");
}

#[test]
fn a_release_gives_up_only_its_own_claim_of_a_double_tap() {
    let mut c = online();
    c.handle(DriverInput::Claim { ride_id: "ride_a".into(), token: 7 }, 10);
    c.handle(DriverInput::Claim { ride_id: "ride_a".into(), token: 8 }, 11);
    c.handle(frames("ride_a", vec![release(1, 7)]), 12);
    assert_eq!(c.active_ride(), Some("ride_a"), "the second tap's claim stays: the ride may record it");
    c.handle(frames("ride_a", vec![release(2, 8)]), 13);
    assert_eq!(c.active_ride(), None, "both given up");
}

#[test]
fn a_driver_with_an_unconfirmed_claim_is_sent_no_offer_on_connect() {
    let mut c = online();
    c.handle(frames("ride_b", vec![offer(1, 60_000, true)]), 0);
    c.handle(claim("ride_a"), 1);
    let answer = attach_answer(&c.handle(attach("s2", "r2"), 2));
    assert_eq!(answer.mark.ride_id.as_deref(), Some("ride_a"));
    assert!(answer.frames.is_empty(), "{:?}", answer.frames);
}

#[test]
fn something_owed_always_has_an_alarm_even_with_its_delivery_out() {
    let mut c = online();
    c.handle(frames("ride_b", vec![offer(1, 600_000, true)]), 0);
    let sent = c.handle(frames("ride_b", vec![frame(2, FrameKind::Transient, "viewers")]), 5);
    assert!(matches!(sent[0], DriverEffect::Persist { wake_at: Some(at) } if at <= 5 + RETRY_DELAYS_MS[0]));
    // A restart loses the delivery that was out; the alarm sends it again.
    let mut restored: Commitments = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(deliveries(&restored.handle(DriverInput::Tick, 5 + RETRY_DELAYS_MS[0])).len(), 1);
}

#[test]
fn every_change_of_the_active_ride_is_a_new_mark_version_and_the_claim_answer_carries_it() {
    let mut c = online();
    let start = c.mark().version;
    assert_eq!(claim_answer(&c.handle(claim("ride_a"), 10)), ClaimAnswer::Claimed { version: start + 1 });
    // Confirming the same ride changes nothing the region shows.
    c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned-a")]), 11);
    assert_eq!(c.mark(), ridewire::core::busy_mark::BusyMark::new(Some("ride_a".into()), start + 1));
    // Its end frees the driver at the next version: the one the ride's final frame carries.
    c.handle(frames("ride_a", vec![frame(2, FrameKind::Over, "completed-a")]), 12);
    assert_eq!(c.mark(), ridewire::core::busy_mark::BusyMark::new(None, start + 2));
    c.handle(claim("ride_b"), 13);
    c.handle(frames("ride_b", vec![release(1, 1)]), 14);
    assert_eq!(c.mark().version, start + 4, "a claim released is two changes");
}

#[test]
fn deliveries_and_attach_answers_carry_the_current_mark_version() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    let confirmed = c.handle(frames("ride_a", vec![frame(1, FrameKind::Active, "assigned-a")]), 11);
    let version = c.mark().version;
    assert!(confirmed.iter().any(|e| matches!(e, DriverEffect::Deliver { mark, .. } if mark.version == version)));
    assert_eq!(attach_answer(&c.handle(attach("s9", "r9"), 12)).mark.version, version);
}

#[test]
fn an_alarm_that_rings_while_a_delivery_is_out_sets_the_next_one() {
    let mut c = online();
    c.handle(claim("ride_a"), 10);
    // The end of the ride owes r1 a free mark; its delivery is out (and will be lost).
    let over = c.handle(frames("ride_a", vec![frame(1, FrameKind::Over, "completed-a")]), 20);
    assert_eq!(deliveries(&over).len(), 1);
    // The alarm rings before any answer: nothing changed, yet the next alarm must be set,
    // or a restart that loses the delivery leaves the mark owed for ever.
    let tick = c.handle(DriverInput::Tick, 520);
    assert!(matches!(tick.first(), Some(DriverEffect::Persist { wake_at: Some(_) })), "{tick:?}");
}

#[test]
fn an_offer_the_rounds_region_delivered_still_reaches_the_drivers_sockets_elsewhere() {
    let mut c = online();
    c.handle(attach("s2", "r2"), 1);
    let effects = c.handle(frames("ride_a", vec![offer(1, 20_000, true)]), 10);
    let regions: Vec<(String, usize)> = deliveries(&effects).into_iter().map(|(r, f, _)| (r, f.len())).collect();
    assert!(regions.contains(&("r2".to_string(), 1)), "{regions:?}");
    assert!(!regions.iter().any(|(r, n)| r == "r1" && *n > 0), "not sent twice where it landed: {regions:?}");
}

#[test]
fn the_regions_a_driver_is_live_in_are_those_of_its_open_sockets_each_once() {
    let mut c = Commitments::default();
    assert!(c.regions().is_empty());
    c.handle(attach("s1", "r-b"), 0);
    c.handle(attach("s2", "r-a"), 0);
    c.handle(attach("s3", "r-b"), 0);
    assert_eq!(c.regions(), vec!["r-a".to_string(), "r-b".to_string()]);
    c.handle(DriverInput::Detach { socket_id: "s2".into() }, 0);
    assert_eq!(c.regions(), vec!["r-b".to_string()]);
    c.handle(DriverInput::Detach { socket_id: "s1".into() }, 0);
    c.handle(DriverInput::Detach { socket_id: "s3".into() }, 0);
    assert!(c.regions().is_empty());
}
