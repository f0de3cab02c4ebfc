//! A Region DO, as small as the simulation needs it (durable-objects/
//! region.rs, region_delivery.rs): its drivers' sockets, whose attachments
//! (position, availability, the busy mark) survive a restart, and the
//! driver index in memory, rebuilt from them. It answers a round's query,
//! delivers a ride's frames at once (but offers to drivers marked busy), takes
//! a Driver DO's frames with its busy mark, and attaches new sockets.

use std::collections::BTreeMap;

use ridewire::core::commitments::AttachAnswer;
use ridewire::core::driver_index::{DriverIndex, Eligibility};
use ridewire::core::geo::LatLng;

use super::findings::Finding;
use super::scheduler::{Addr, Answer, Call, CallId, Delivery, FastMark, Request, Response};
use super::world::Net;

/// A driver socket's attachment.
pub struct Sock {
    pub driver: usize,
    pub location: LatLng,
    /// When the location was reported (no updates are modelled: when the socket opened).
    pub location_at: i64,
    pub available: bool,
    pub busy_ride: Option<String>,
}

/// One region's Durable Object.
pub struct RegionDo {
    pub index: usize,
    pub name: String,
    /// Hibernatable sockets with their attachments, by socket id.
    pub sockets: BTreeMap<String, Sock>,
    /// Memory: the driver index.
    drivers: Option<DriverIndex>,
    /// Memory: sockets (and their drivers) whose Driver DO has not answered the attach yet.
    connecting: BTreeMap<CallId, (String, usize)>,
    /// Bookkeeping, not the object's state: the stamp of the newest busy mark applied per driver.
    newest_mark: BTreeMap<usize, u64>,
}

impl RegionDo {
    /// A region with no sockets.
    pub fn new(index: usize) -> Self {
        RegionDo {
            index,
            name: super::region_name(index),
            sockets: BTreeMap::new(),
            drivers: None,
            connecting: BTreeMap::new(),
            newest_mark: BTreeMap::new(),
        }
    }

    /// The index, rebuilt after a restart from each driver's socket with the latest location.
    pub fn index(&mut self) -> &mut DriverIndex {
        let sockets = &self.sockets;
        self.drivers.get_or_insert_with(|| {
            let mut latest: BTreeMap<usize, &Sock> = BTreeMap::new();
            for sock in sockets.values() {
                match latest.get(&sock.driver) {
                    Some(known) if known.location_at >= sock.location_at => {}
                    _ => drop(latest.insert(sock.driver, sock)),
                }
            }
            let mut index = DriverIndex::new();
            for (driver, sock) in latest {
                let id = super::driver_id(driver);
                index.upsert(&id, sock.location, sock.available);
                index.set_busy(&id, sock.busy_ride.is_some());
            }
            index
        })
    }

    fn sockets_of(&self, driver: usize) -> Vec<String> {
        self.sockets.iter().filter(|(_, s)| s.driver == driver).map(|(id, _)| id.clone()).collect()
    }

    /// A driver's socket opens here: not offerable until its Driver DO answers the attach.
    pub fn connect(&mut self, driver: usize, socket_id: String, location: LatLng, net: &mut Net) {
        // The driver's oldest socket here (ids grow with time, like the platform's acceptance order).
        let first_other = self.sockets.values().find(|s| s.driver == driver);
        let available = first_other.is_none_or(|s| s.available);
        let busy_ride = first_other.and_then(|s| s.busy_ride.clone());
        let location_at = net.sched.now;
        self.sockets.insert(socket_id.clone(), Sock { driver, location, location_at, available, busy_ride });
        let id = super::driver_id(driver);
        self.index().upsert(&id, location, available);
        self.index().set_busy(&id, true);
        net.clients.socket_opened(driver, &socket_id, self.index);
        let request = Request::Attach { socket_id: socket_id.clone(), region: self.name.clone() };
        let call = net.sched.call(Addr::Region(self.index), Addr::Driver(driver), request);
        self.connecting.insert(call, (socket_id, driver));
    }

    /// The Driver DO's answer to an attach: the busy mark and what the socket is owed; no answer
    /// closes it. Like region.rs `attached`, the index takes the mark even if the socket closed meanwhile.
    pub fn on_answer(&mut self, call: CallId, answer: Answer, net: &mut Net) {
        let Some((socket_id, driver)) = self.connecting.remove(&call) else { return };
        match answer {
            Ok(Response::Attach(AttachAnswer { busy_ride, frames }, stamp)) => {
                let others_differ = self
                    .sockets
                    .iter()
                    .any(|(id, s)| *id != socket_id && s.driver == driver && s.busy_ride != busy_ride);
                let cause = others_differ.then_some(Finding::AttachMarksOneSocket);
                self.note_mark(driver, stamp, cause, net);
                let busy = busy_ride.is_some();
                if let Some(sock) = self.sockets.get_mut(&socket_id) {
                    sock.busy_ride = busy_ride;
                }
                self.index().set_busy(&super::driver_id(driver), busy);
                let open = self.sockets.contains_key(&socket_id);
                for frame in frames.iter().filter(|_| open) {
                    self.send(driver, &socket_id, frame, busy, net);
                }
            }
            _ => {
                if self.sockets_of(driver).iter().any(|other| *other != socket_id) {
                    net.obs.mark_causes.insert((self.index, driver), Finding::FailedAttachKeepsBusyMark);
                }
                self.close(&socket_id, net);
            }
        }
    }

    /// A socket closes (`on_gone`): its Driver DO is told; the driver leaves the index with its last socket.
    pub fn close(&mut self, socket_id: &str, net: &mut Net) {
        let Some(sock) = self.sockets.remove(socket_id) else { return };
        net.clients.socket_closed(sock.driver, socket_id);
        let request = Request::Detach { socket_id: socket_id.to_string() };
        net.sched.call(Addr::Region(self.index), Addr::Driver(sock.driver), request);
        if self.sockets_of(sock.driver).is_empty() {
            self.index().remove(&super::driver_id(sock.driver));
        }
    }

    /// `set_available` from the driver's app.
    pub fn set_available(&mut self, driver: usize, available: bool) {
        for sock in self.sockets.values_mut().filter(|s| s.driver == driver) {
            sock.available = available;
        }
        self.index().set_available(&super::driver_id(driver), available);
    }

    /// The object restarts: the index is rebuilt; sockets whose connect had not finished are gone.
    pub fn restart(&mut self, net: &mut Net) {
        self.drivers = None;
        for (_, (socket_id, _)) in std::mem::take(&mut self.connecting) {
            if let Some(sock) = self.sockets.remove(&socket_id) {
                net.clients.socket_closed(sock.driver, &socket_id);
            }
        }
    }

    /// A call reaches the region; every one is answered at once.
    pub fn on_request(&mut self, call: Call, request: Request, net: &mut Net) {
        let response = match request {
            Request::Candidates(query) => {
                let radius_m = query.radius_km * 1000.0;
                let limit = query.limit as usize;
                Response::Candidates(self.index().nearest(
                    query.at,
                    radius_m,
                    limit,
                    Eligibility::OfferableOnly,
                    &query.exclude,
                ))
            }
            Request::Deliver { deliveries } => Response::Taken(self.deliver_fast(deliveries, net)),
            Request::DriverFrames { driver_id, frames, busy_ride, stamp } => {
                Response::Sockets(self.driver_frames(&driver_id, &frames, busy_ride, stamp, net))
            }
            other => return net.sched.answer(call, Err(format!("a region does not serve {other:?}"))),
        };
        net.sched.answer(call, Ok(response));
    }

    /// A ride's frames (region_delivery.rs `deliver_offers`): to every socket of their
    /// driver, but an offer to a driver marked busy here; per delivery, whether a socket took it.
    fn deliver_fast(&mut self, deliveries: Vec<Delivery>, net: &mut Net) -> Vec<bool> {
        let mut taken = Vec::with_capacity(deliveries.len());
        for delivery in deliveries {
            let busy = self.index().get(&delivery.driver_id).is_some_and(|d| d.busy);
            if delivery.offer && busy {
                taken.push(false);
                continue;
            }
            let driver = super::driver_index(&delivery.driver_id);
            if let Some((mark, stamp)) = delivery.mark {
                self.apply_fast_mark(driver, mark, stamp, net);
            }
            let busy = self.index().get(&delivery.driver_id).is_some_and(|d| d.busy);
            let targets = self.sockets_of(driver);
            for socket_id in &targets {
                self.send(driver, socket_id, &delivery.frame, busy, net);
            }
            taken.push(!targets.is_empty());
        }
        taken
    }

    /// A ride's mark on the driver's sockets here (a free mark clears only that ride's), then the index.
    fn apply_fast_mark(&mut self, driver: usize, mark: FastMark, stamp: u64, net: &mut Net) {
        let busy_ride = match &mark {
            FastMark::Busy(ride_id) => Some(ride_id.clone()),
            FastMark::FreeOf(_) => None,
        };
        let mut changed = false;
        for sock in self.sockets.values_mut().filter(|s| s.driver == driver) {
            let applies = match &mark {
                FastMark::Busy(_) => sock.busy_ride != busy_ride,
                FastMark::FreeOf(ride_id) => sock.busy_ride.as_ref() == Some(ride_id),
            };
            if applies {
                sock.busy_ride.clone_from(&busy_ride);
                changed = true;
            }
        }
        if changed {
            self.note_mark(driver, stamp, None, net);
            self.index().set_busy(&super::driver_id(driver), busy_ride.is_some());
        }
    }

    /// A Driver DO's frames: its busy mark on each of the driver's sockets here, then the frames.
    fn driver_frames(
        &mut self,
        driver_id: &str,
        frames: &[String],
        busy_ride: Option<String>,
        stamp: u64,
        net: &mut Net,
    ) -> Vec<String> {
        let driver = super::driver_index(driver_id);
        let targets = self.sockets_of(driver);
        let busy = busy_ride.is_some();
        if !targets.is_empty() {
            self.note_mark(driver, stamp, None, net);
        }
        for socket_id in &targets {
            if let Some(sock) = self.sockets.get_mut(socket_id) {
                sock.busy_ride.clone_from(&busy_ride);
            }
            for frame in frames {
                self.send(driver, socket_id, frame, busy, net);
            }
        }
        let changed = !targets.is_empty() && self.index().get(driver_id).is_some_and(|d| d.busy != busy);
        if changed {
            self.index().set_busy(driver_id, busy);
        }
        targets
    }

    /// Bookkeeping of a busy mark applied here: whether it was older than one already applied
    /// (or else `cause`, a known way to leave a wrong mark) is what last touched the driver's mark.
    fn note_mark(&mut self, driver: usize, stamp: u64, cause: Option<Finding>, net: &mut Net) {
        let newest = self.newest_mark.entry(driver).or_default();
        let cause = if stamp < *newest { Some(Finding::UnorderedBusyMarks) } else { cause };
        *newest = stamp.max(*newest);
        match cause {
            Some(finding) => net.obs.mark_causes.insert((self.index, driver), finding),
            None => net.obs.mark_causes.remove(&(self.index, driver)),
        };
    }

    /// Puts a frame on a socket; an offer sent while this region marks the driver busy is noted.
    fn send(&mut self, driver: usize, socket_id: &str, frame: &str, busy: bool, net: &mut Net) {
        if busy && super::clients::frame_type(frame) == "ride_offer" {
            let ride = super::clients::frame_ride(frame).unwrap_or(usize::MAX);
            net.obs.offers_to_busy.push((driver, ride, self.index));
        }
        net.clients.driver_frame(driver, socket_id, frame);
    }
}
