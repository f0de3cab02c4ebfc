//! The Region DO as the simulation runs it (durable-objects/region.rs,
//! region_effects.rs, region_sockets.rs): the real region core
//! (`ridewire::core::region`) behind a model of its shell. Storage is each
//! driver socket's attachment (its header and the facts the core saved)
//! and the rides; memory is the core, rebuilt from them after a restart,
//! and the attaches still out. Every effect is carried out as the shell
//! does: frames onto the apps' sockets, calls to Driver DOs through the
//! network, the answer to the caller. The region's alarm (heartbeats,
//! stats) is not modelled: the apps send no heartbeats and stats are not
//! a promise the simulation checks.

use std::collections::BTreeMap;

use ridewire::core::geo::LatLng;
use ridewire::core::identity::Role;
use ridewire::core::late_driver::SearchWatch;
use ridewire::core::protocol::{DriverInbound, SnapshotRide};
use ridewire::core::region::{
    DeliverBatch, DriverCallOut, DriverFacts, DriverLookup, Region, RegionAnswer, RegionEffect, RegionInput,
    RegionSettings,
};
use ridewire::core::ride_input::RideInput;
use ridewire::core::socket_rules::SocketHeader;

use super::scheduler::{Addr, Answer, Call, CallId, Request, Response};
use super::world::Net;

/// A token's expiry far past any seed (s).
const TOKEN_EXP_S: i64 = 4_000_000_000;

/// One region's Durable Object.
pub struct RegionDo {
    pub index: usize,
    pub name: String,
    /// Hibernatable driver sockets with their attachments, by socket id.
    pub sockets: BTreeMap<String, (SocketHeader, DriverFacts)>,
    /// Storage: the region's rides (for the dispatch snapshot).
    rides: BTreeMap<String, SnapshotRide>,
    /// Storage: the searching rides watched for late drivers.
    watches: BTreeMap<String, SearchWatch>,
    /// Memory: the core.
    core: Option<Region>,
    /// Memory: attaches out to Driver DOs, by call.
    attaching: BTreeMap<CallId, String>,
}

fn settings() -> RegionSettings {
    RegionSettings { region_res: 5, heartbeat_s: 30, radius_km: 10.0, demand_window_ms: 60_000 }
}

impl RegionDo {
    /// A region with no sockets.
    pub fn new(index: usize) -> Self {
        RegionDo {
            index,
            name: super::region_name(index),
            sockets: BTreeMap::new(),
            rides: BTreeMap::new(),
            watches: BTreeMap::new(),
            core: None,
            attaching: BTreeMap::new(),
        }
    }

    /// The core decides `input`; its effects are carried out; the answer to the caller is returned.
    fn handle(&mut self, input: RegionInput, net: &mut Net) -> Option<RegionAnswer> {
        let core = self.core.get_or_insert_with(|| {
            let sockets = self.sockets.values().cloned().collect();
            let rides = self.rides.values().cloned().collect();
            let mut region = Region::rebuild(settings(), Some(self.name.clone()), rides, sockets, Vec::new());
            region.restore_watches(self.watches.values().cloned().collect());
            region
        });
        let effects = core.handle(input, net.sched.now);
        let mut answer = None;
        for effect in effects {
            match effect {
                RegionEffect::Send { sockets, frame } => {
                    for socket_id in sockets {
                        self.send(&socket_id, &frame, net);
                    }
                }
                RegionEffect::Close { socket_id, .. } => {
                    if let Some((header, _)) = self.sockets.remove(&socket_id) {
                        net.clients.socket_closed(super::driver_index(&header.sub), &socket_id);
                    }
                }
                RegionEffect::SaveFacts { socket_id, facts } => {
                    if let Some(entry) = self.sockets.get_mut(&socket_id) {
                        entry.1 = facts;
                    }
                }
                RegionEffect::StoreRide(ride) => drop(self.rides.insert(ride.id.clone(), ride)),
                RegionEffect::ForgetRide(id) => drop(self.rides.remove(&id)),
                RegionEffect::StoreWatch(watch) => drop(self.watches.insert(watch.ride_id.clone(), watch)),
                RegionEffect::ForgetWatch(id) => drop(self.watches.remove(&id)),
                // A late driver: the ride decides (nobody awaits the answer).
                RegionEffect::OfferLate { ride_id, candidate } => {
                    net.obs.stats.late_reports += 1;
                    let ride = Addr::Ride(super::ride_index(&ride_id));
                    let request = Request::Command(RideInput::LateDriver { candidate });
                    net.sched.call(Addr::Region(self.index), ride, request);
                }
                RegionEffect::CallDriver { driver_id, call } => self.call_driver(&driver_id, call, net),
                RegionEffect::Answer(a) => answer = Some(a),
                // Commands from drivers go straight to rides here; no dispatch sockets, alarm or stats.
                RegionEffect::CallRide(_)
                | RegionEffect::ToDispatchers { .. }
                | RegionEffect::StoreCell(_)
                | RegionEffect::Report { .. }
                | RegionEffect::PurgeReports { .. }
                | RegionEffect::StoreDemand(_)
                | RegionEffect::WakeAt(_) => {}
            }
        }
        answer
    }

    fn call_driver(&mut self, driver_id: &str, call: DriverCallOut, net: &mut Net) {
        let request = match call {
            DriverCallOut::Attach { socket_id, region } => {
                let request = Request::Attach { socket_id: socket_id.clone(), region };
                let id =
                    net.sched.call(Addr::Region(self.index), Addr::Driver(super::driver_index(driver_id)), request);
                self.attaching.insert(id, socket_id);
                return;
            }
            DriverCallOut::Detach { socket_id } => Request::Detach { socket_id },
            DriverCallOut::Location { .. } => return,
        };
        net.sched.call(Addr::Region(self.index), Addr::Driver(super::driver_index(driver_id)), request);
    }

    /// A driver's socket opens here: `connected`, then the attach goes to its Driver DO.
    pub fn connect(&mut self, driver: usize, socket_id: String, location: LatLng, net: &mut Net) {
        let driver_id = super::driver_id(driver);
        let header = SocketHeader::new(socket_id.clone(), &driver_id, Role::Driver, TOKEN_EXP_S, net.sched.now);
        let facts = DriverFacts::new(&driver_id, location, net.sched.now);
        self.sockets.insert(socket_id.clone(), (header, facts));
        net.clients.socket_opened(driver, &socket_id, self.index);
        let opened = RegionInput::DriverOpened {
            socket_id,
            driver_id: driver_id.clone(),
            name: driver_id,
            location,
            cell: self.name.clone(),
            evicted: Vec::new(),
        };
        self.handle(opened, net);
    }

    /// The Driver DO's answer to an attach (a failed call is no answer).
    pub fn on_answer(&mut self, call: CallId, answer: Answer, net: &mut Net) {
        let Some(socket_id) = self.attaching.remove(&call) else { return };
        let answer = match answer {
            Ok(Response::Attach(answer)) => Some(answer),
            _ => None,
        };
        self.handle(RegionInput::Attached { socket_id, answer }, net);
    }

    /// The app closes a socket.
    pub fn close(&mut self, socket_id: &str, net: &mut Net) {
        let Some((header, _)) = self.sockets.remove(socket_id) else { return };
        net.clients.socket_closed(super::driver_index(&header.sub), socket_id);
        self.handle(RegionInput::DriverGone { socket_id: socket_id.to_string() }, net);
    }

    /// `set_available` on one of the driver's sockets here.
    pub fn set_available(&mut self, driver: usize, available: bool, net: &mut Net) {
        let driver_id = super::driver_id(driver);
        let Some(socket_id) = self.sockets.iter().find(|(_, (h, _))| h.sub == driver_id).map(|(id, _)| id.clone())
        else {
            return;
        };
        let message = DriverInbound::SetAvailable { available };
        self.handle(RegionInput::DriverMessage { socket_id, req_id: None, message }, net);
    }

    /// The object restarts: memory is lost (the core is rebuilt from the attachments); sockets
    /// whose attach had not been answered are gone, as their open never finished.
    pub fn restart(&mut self, net: &mut Net) {
        self.core = None;
        for (_, socket_id) in std::mem::take(&mut self.attaching) {
            if let Some((header, _)) = self.sockets.remove(&socket_id) {
                net.clients.socket_closed(super::driver_index(&header.sub), &socket_id);
            }
        }
    }

    /// A call reaches the region; every one is answered at once.
    pub fn on_request(&mut self, call: Call, request: Request, net: &mut Net) {
        let input = match request {
            Request::Watch(watch) => {
                self.handle(RegionInput::Watch(watch), net);
                return net.sched.answer(call, Ok(Response::Done));
            }
            Request::Candidates(query) => RegionInput::Candidates(query),
            Request::Deliver { deliveries } => {
                RegionInput::Deliver(DeliverBatch { deliveries, ..DeliverBatch::default() })
            }
            Request::DriverFrames(delivery) => RegionInput::DriverFrames(delivery),
            other => return net.sched.answer(call, Err(format!("a region does not serve {other:?}"))),
        };
        let response = match self.handle(input, net) {
            Some(RegionAnswer::Candidates(list)) => Ok(Response::Candidates(list)),
            Some(RegionAnswer::Delivered(delivered)) => Ok(Response::Taken(delivered.taken)),
            Some(RegionAnswer::Sockets(sockets)) => Ok(Response::Sockets(sockets.sockets)),
            other => Err(format!("the region core answered {other:?}")),
        };
        net.sched.answer(call, response);
    }

    /// Memory is lost without a restart's other losses (nothing is out once the city is quiet).
    pub fn forget_memory(&mut self) {
        self.core = None;
    }

    /// Whether the core's index counts `driver` busy (or not offerable while attaching).
    pub fn indexed_busy(&mut self, driver: usize, net: &mut Net) -> Option<bool> {
        let lookup = DriverLookup { driver_id: super::driver_id(driver) };
        match self.handle(RegionInput::Driver(lookup), net) {
            Some(RegionAnswer::Driver(found)) => found.map(|d| d.busy),
            _ => None,
        }
    }

    /// Puts a frame on a socket; an offer to a socket whose facts mark its driver busy is noted.
    fn send(&mut self, socket_id: &str, frame: &str, net: &mut Net) {
        let Some((header, facts)) = self.sockets.get(socket_id) else { return };
        let driver = super::driver_index(&header.sub);
        if facts.mark.is_busy() && super::clients::frame_type(frame) == "ride_offer" {
            let ride = super::clients::frame_ride(frame).unwrap_or(usize::MAX);
            net.obs.offers_to_busy.push((driver, ride, self.index));
        }
        net.clients.driver_frame(driver, socket_id, frame);
    }
}
