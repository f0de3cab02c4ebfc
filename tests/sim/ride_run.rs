//! The work of a Ride DO task's steps, in the shell's order
//! (durable-objects/ride_effects.rs `run`, ride_dispatch.rs, ride.rs):
//! create; hand an input to the core; persist the record, its events and the
//! frames owed to drivers in one write (with the alarm that guards them),
//! announce on the ride socket, send frames straight to the region where the
//! ride last found each driver; mark those a socket there took; send each
//! driver its frames; ask every region a round's query.

use std::collections::BTreeMap;

use ridewire::core::commitments::{FrameKind, RideFrame};
use ridewire::core::dispatch::{CandidateQuery, Effect};
use ridewire::core::identity::{Caller, Role};
use ridewire::core::protocol::{DriverOutbound, PassengerEvent};
use ridewire::core::region::Delivery;
use ridewire::core::ride::RideRecord;
use ridewire::core::ride_input::{RideInput, RideReply};
use ridewire::core::ride_request::NewRide;

use super::ride_do::RideDo;
use super::ride_steps::{FastFrame, Resume, Step, Then};
use super::scheduler::{Addr, CallId, Request};
use super::world::Net;

impl RideDo {
    /// Creates the ride once, then starts its first round; a retry starts a round that never ran.
    /// The ride and its first round's query go out in one write, the feed held for the round's offers.
    pub(super) fn create(&mut self, net: &mut Net) -> Vec<Step> {
        if self.load() {
            let pending = self.current().is_some_and(|r| r.first_round_pending(net.sched.now));
            return match pending {
                true => vec![Step::Apply { input: RideInput::NextRound, then: Then::Ask }],
                false => Vec::new(),
            };
        }
        let now = net.sched.now;
        let request = NewRide::from_json(self.body.as_bytes(), Role::Passenger).expect("the city's rides are valid");
        let caller = Caller { sub: super::passenger_id(self.index), role: Role::Passenger, name: None };
        let (mut record, mut effects) = RideRecord::create(self.id.clone(), request, &caller, now);
        let first = record.handle(RideInput::NextRound, &super::settings(), now);
        effects.extend(first.effects);
        self.record = Some(record);
        let mut next = self.run(effects, true, net);
        if let Ok(RideReply::Ask { round, query }) = first.reply {
            next.push(Step::Ask { round, query });
        }
        next
    }

    /// `apply` (and `decide`): the core decides, its effects are carried out, then what follows.
    pub(super) fn apply(&mut self, tid: u64, input: RideInput, then: Then, net: &mut Net) -> Vec<Step> {
        if !self.load() {
            self.refuse(tid, "no such ride".into());
            return Vec::new();
        }
        let record = self.record.as_mut().expect("loaded");
        let output = record.handle(input, &super::settings(), net.sched.now);
        let mut next = self.run(output.effects, false, net);
        match (output.reply, then) {
            (Ok(RideReply::Ask { round, query }), Then::Ask) => next.push(Step::Ask { round, query }),
            (Ok(RideReply::Claim { token }), Then::Claim(driver_id)) => next.push(Step::Claim(driver_id, token)),
            (Err(refusal), _) => self.refuse(tid, format!("{refusal:?}")),
            _ => {}
        }
        next
    }

    /// The synchronous part of `EffectRunner::run`; returns the steps that follow.
    /// `hold_feed`: the dispatch feed waits for the next step's delivery to the pickup's region.
    pub(super) fn run(&mut self, effects: Vec<Effect>, hold_feed: bool, net: &mut Net) -> Vec<Step> {
        let record = self.record.as_mut().expect("run follows a load");
        let owed = record.frames_for_drivers(&effects);
        let owed_nothing = owed.is_empty();
        let as_stored = |r: &RideRecord| serde_json::to_string(r).expect("records serialize");
        if effects.is_empty() && self.stored.as_ref().map(as_stored) == Some(as_stored(record)) {
            // Nothing changed (a refused or answered query): no write, nothing sent.
            return Vec::new();
        }
        self.stored = Some(record.clone());
        let mut wake: Option<i64> = None;
        let mut published = Vec::new();
        for effect in effects {
            match effect {
                Effect::Publish(event) => published.push(event),
                Effect::WakeAt(at) => wake = Some(wake.map_or(at, |w| w.min(at))),
                Effect::ReleaseDriver { driver_id, .. } => drop(net.obs.released.insert((self.index, driver_id))),
                // search_watch.rs: after the answer, to every region (nobody awaits it); an ended
                // watch to the pickup's region alone (the others let it lapse).
                Effect::Watch(watch) => {
                    let regions =
                        if watch.ended() { self.pickup_region..self.pickup_region + 1 } else { 0..self.regions };
                    for r in regions {
                        net.sched.call(self.addr(), Addr::Region(r), Request::Watch(watch.clone()));
                    }
                }
                Effect::ToDrivers { drivers, message: DriverOutbound::RideAssigned { .. }, .. } => {
                    net.obs.fresh_assignments.extend(drivers.into_iter().map(|d| (self.index, d.driver_id)));
                }
                _ => {}
            }
        }
        self.events.extend(published.iter().cloned());
        for f in &owed {
            self.outbox.insert(f.frame.id, (f.driver_id.clone(), f.frame.clone()));
        }
        if let Some(at) = self.record.as_ref().and_then(RideRecord::next_deadline) {
            self.wake_by(at, net);
        }
        if !owed_nothing {
            // Frames owed to drivers are guarded by the alarm in the same write.
            self.wake_by(net.sched.now + super::ride_steps::OUTBOX_RETRY_MS, net);
        }
        if let Some(socket) = self.rider_socket {
            for event in &published {
                net.clients.rider_event(self.index, socket, event);
            }
        }
        let mut batches: BTreeMap<usize, Vec<Delivery>> = BTreeMap::new();
        self.held_feed += published.iter().filter(|e| !matches!(e.event, PassengerEvent::Searching { .. })).count();
        if !hold_feed && self.held_feed > 0 {
            self.held_feed = 0;
            batches.entry(self.pickup_region).or_default();
        }
        let mut fast = Vec::new();
        for f in owed {
            if let (Some(region), Some(text)) = (&f.region, &f.frame.frame) {
                let region = super::region_index(region);
                let offer = matches!(f.frame.kind, FrameKind::Offer { .. });
                let mark = self.record.as_ref().and_then(|r| r.fast_mark(&f.frame.kind));
                let batch = batches.entry(region).or_default();
                batch.push(Delivery { driver_id: f.driver_id.clone(), frame: text.clone(), offer, mark });
                fast.push(FastFrame { driver_id: f.driver_id, frame: f.frame, region, slot: batch.len() - 1 });
            }
        }
        let mut next = Vec::new();
        if !batches.is_empty() {
            next.push(Step::Deliver { batches, fast });
        }
        next.extend(wake.map(Step::Wake));
        next.push(Step::Flush { only_if_owed: owed_nothing });
        next
    }

    /// `mark_delivered`: frames a region's socket took reach the Driver DO marked so
    /// (rewritten even if already sent: the Driver DO applies a frame id once).
    pub(super) fn mark_delivered(&mut self, fast: Vec<FastFrame>, taken: &BTreeMap<usize, Vec<Vec<String>>>) {
        for FastFrame { driver_id, mut frame, region, slot } in fast {
            let Some(sockets) = taken.get(&region).and_then(|t| t.get(slot)).filter(|s| !s.is_empty()) else {
                continue;
            };
            frame.delivered_to = sockets.clone();
            frame.delivered_in = Some(super::region_name(region));
            // Only a frame still owed is rewritten: one a flush meanwhile handed over stays gone.
            if let Some(entry) = self.outbox.get_mut(&frame.id) {
                *entry = (driver_id, frame);
            }
        }
    }

    /// `flush_drivers`: each driver's owed frames in one call, in order.
    pub(super) fn flush(&mut self, tid: u64, net: &mut Net) {
        let mut by_driver: BTreeMap<&str, (Vec<u64>, Vec<RideFrame>)> = BTreeMap::new();
        for (id, (driver, frame)) in &self.outbox {
            let (ids, frames) = by_driver.entry(driver.as_str()).or_default();
            ids.push(*id);
            frames.push(frame.clone());
        }
        let mut keys = BTreeMap::new();
        for (driver, (ids, frames)) in by_driver {
            let request = Request::Frames { ride_id: self.id.clone(), frames };
            keys.insert(net.sched.call(self.addr(), Addr::Driver(super::driver_index(driver)), request), ids);
        }
        let calls = keys.keys().copied().collect();
        self.drivers_owed = true;
        self.suspend(tid, Resume::Flushed { keys }, calls, net);
    }

    /// `ask_regions`: the step that decided the query stored it with its alarm; every region is asked.
    pub(super) fn ask(&mut self, tid: u64, round: u32, query: CandidateQuery, net: &mut Net) {
        let regions: Vec<(CallId, String)> = (0..self.regions)
            .map(|r| {
                (
                    net.sched.call(self.addr(), Addr::Region(r), Request::Candidates(query.clone())),
                    super::region_name(r),
                )
            })
            .collect();
        let calls = regions.iter().map(|(call, _)| *call).collect();
        self.suspend(tid, Resume::Candidates { round, limit: query.limit, regions }, calls, net);
    }
}
