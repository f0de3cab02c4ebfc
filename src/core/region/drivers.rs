//! A region's drivers and their sockets: a driver is online here from its
//! first socket to its last; a new socket is offered nothing until its
//! Driver DO answered what it is owed; availability and the busy mark are
//! the driver's, kept on each of its sockets; a driver far outside the
//! cell is handed off; a socket silent for 3 heartbeats is closed.
//!
//! A socket the region closes is gone at once (its Driver DO told, its
//! viewing ended, the driver offline with its last socket): a client that
//! never answers the close must not keep it online.

use std::collections::BTreeMap;

use super::{Driver, DriverCallOut, DriverFacts, Heard, Region, RegionEffect, RideCall, RideCommand, Socket};
use crate::core::busy_mark::BusyMark;
use crate::core::commitments::AttachAnswer;
use crate::core::geo::LatLng;
use crate::core::handoff::{handoff_target, reconnect_path};
use crate::core::heartbeat::{self, last_heard, silent_at};
use crate::core::lifecycle::location_relay_due;
use crate::core::protocol::{is_offer_frame, to_frame, DispatchOutbound, DriverOutbound};
use crate::core::socket_rules::{SocketHeader, CLOSE_REGION_CHANGED, CLOSE_SILENT};

/// How often a driver's position is saved in its sockets' attachments, at most (ms).
pub const LOCATION_SAVE_MS: i64 = 10_000;

/// A driver socket just opened.
pub(super) struct Opened {
    pub socket_id: String,
    pub driver_id: String,
    pub name: String,
    pub location: LatLng,
}

impl Region {
    /// A new socket: as available and as busy as the driver's other sockets
    /// here (a first one available and free), offered nothing until its
    /// Driver DO answers; `connected` goes out and the Driver DO is asked.
    pub(super) fn driver_opened(&mut self, opened: Opened, now: i64, fx: &mut Vec<RegionEffect>) {
        let Opened { socket_id, driver_id, name, location } = opened;
        let driver = self.drivers.entry(driver_id.clone()).or_insert_with(|| Driver {
            name: name.clone(),
            location,
            location_at: now,
            available: true,
            mark: BusyMark::default(),
            saved_at: now,
            sockets: BTreeMap::new(),
        });
        let first = driver.sockets.keys().all(|id| *id == socket_id);
        driver.name = name;
        driver.location = location;
        driver.location_at = now;
        let socket = Socket { opened_at: now, attaching: true, relayed_at: 0, viewing: Vec::new() };
        driver.sockets.insert(socket_id.clone(), socket);
        self.owners.insert(socket_id.clone(), driver_id.clone());
        self.sync_index(&driver_id);
        self.save_driver(&driver_id, fx);
        let cell = self.cell.clone().unwrap_or_default();
        let hello = DriverOutbound::Connected {
            driver_id: driver_id.clone(),
            region: cell.clone(),
            heartbeat_s: self.settings.heartbeat_s,
        };
        fx.push(RegionEffect::Send { sockets: vec![socket_id.clone()], frame: to_frame(&hello, None) });
        let attach = DriverCallOut::Attach { socket_id, region: cell };
        fx.push(RegionEffect::CallDriver { driver_id: driver_id.clone(), call: attach });
        if first {
            let online = DispatchOutbound::DriverOnline { driver_id, location };
            fx.push(RegionEffect::ToDispatchers { frame: to_frame(&online, None) });
        }
        fx.push(RegionEffect::WakeAt(silent_at(now, self.settings.heartbeat_s)));
    }

    /// The Driver DO answered a socket's attach: the busy mark it gives is
    /// the driver's (unless the region holds a newer one), and the frames it
    /// owes go to that socket, but offers while the driver is marked busy
    /// (an answer decided before the driver took a ride). Without an
    /// answer the socket is closed (1011): the app reconnects rather than
    /// run without its commitments. A socket gone meanwhile changes nothing.
    pub(super) fn attached(&mut self, socket_id: &str, answer: Option<AttachAnswer>, fx: &mut Vec<RegionEffect>) {
        let Some(driver_id) = self.owners.get(socket_id).cloned() else { return };
        let Some(answer) = answer else {
            fx.push(close(socket_id, 1011, "commitments unavailable; reconnect"));
            return self.socket_gone(socket_id, fx);
        };
        let Some(driver) = self.drivers.get_mut(&driver_id) else { return };
        if let Some(socket) = driver.sockets.get_mut(socket_id) {
            socket.attaching = false;
        }
        if answer.mark.replaces(&driver.mark) {
            driver.mark = answer.mark;
        }
        let busy = driver.mark.is_busy();
        self.sync_index(&driver_id);
        self.save_driver(&driver_id, fx);
        for frame in answer.frames.into_iter().filter(|f| !(busy && is_offer_frame(f))) {
            fx.push(RegionEffect::Send { sockets: vec![socket_id.to_string()], frame });
        }
    }

    /// A driver socket is gone: its Driver DO is told, the rides it viewed
    /// (and no other socket of the driver does) stop counting it, and the
    /// driver goes offline with its last socket.
    pub(super) fn socket_gone(&mut self, socket_id: &str, fx: &mut Vec<RegionEffect>) {
        let Some(driver_id) = self.owners.remove(socket_id) else { return };
        let Some(driver) = self.drivers.get_mut(&driver_id) else { return };
        let Some(socket) = driver.sockets.remove(socket_id) else { return };
        let detach = DriverCallOut::Detach { socket_id: socket_id.to_string() };
        fx.push(RegionEffect::CallDriver { driver_id: driver_id.clone(), call: detach });
        for ride_id in socket.viewing {
            if !driver.sockets.values().any(|s| s.viewing.contains(&ride_id)) {
                let stop = RideCall {
                    ride_id,
                    driver_id: driver_id.clone(),
                    socket_id: socket_id.to_string(),
                    req_id: None,
                    command: RideCommand::View(false),
                };
                fx.push(RegionEffect::CallRide(stop));
            }
        }
        if driver.sockets.is_empty() {
            self.go_offline(&driver_id, fx);
        } else {
            self.sync_index(&driver_id);
        }
    }

    /// The driver's position: the index and the feed follow; while it has
    /// an active ride the position goes to its Driver DO (at most once a
    /// second per socket), which relays it; a driver far outside the cell
    /// is handed off. The attachments keep the position at most every
    /// [`LOCATION_SAVE_MS`] (a wake-up may start from one that old; the
    /// next update corrects it): a fleet's updates cost no write each.
    pub(super) fn location_update(
        &mut self,
        socket_id: &str,
        driver_id: &str,
        at: LatLng,
        heading: Option<f64>,
        now: i64,
        fx: &mut Vec<RegionEffect>,
    ) {
        let Some(driver) = self.drivers.get_mut(driver_id) else { return };
        driver.location = at;
        driver.location_at = now;
        let save = now - driver.saved_at >= LOCATION_SAVE_MS;
        if save {
            driver.saved_at = now;
        }
        let busy = driver.mark.is_busy();
        let relay = match driver.sockets.get_mut(socket_id) {
            Some(socket) if busy && location_relay_due(socket.relayed_at, now) => {
                socket.relayed_at = now;
                true
            }
            _ => false,
        };
        self.sync_index(driver_id);
        if save {
            self.save_driver(driver_id, fx);
        }
        self.feed_driver(driver_id, fx);
        self.hand_off_if_left(driver_id, at, fx);
        if relay {
            let call = DriverCallOut::Location { location: at, heading };
            fx.push(RegionEffect::CallDriver { driver_id: driver_id.to_string(), call });
        }
    }

    /// `set_available`: the driver's, on every socket; the feed hears it.
    pub(super) fn set_available(&mut self, driver_id: &str, available: bool, fx: &mut Vec<RegionEffect>) {
        let Some(driver) = self.drivers.get_mut(driver_id) else { return };
        driver.available = available;
        self.sync_index(driver_id);
        self.save_driver(driver_id, fx);
        self.feed_driver(driver_id, fx);
    }

    /// A driver more than the margin outside the cell is told
    /// `region_changed` on every socket, which close with 4000.
    fn hand_off_if_left(&mut self, driver_id: &str, at: LatLng, fx: &mut Vec<RegionEffect>) {
        let res = self.settings.region_res;
        let Some(cell) = self.cell_shape() else { return };
        let Ok(Some(target)) = handoff_target(cell, at, res) else { return };
        let sockets = self.sockets_of(driver_id);
        let changed = DriverOutbound::RegionChanged { region: target, reconnect: reconnect_path(at) };
        fx.push(RegionEffect::Send { sockets: sockets.clone(), frame: to_frame(&changed, None) });
        for socket_id in sockets {
            fx.push(close(&socket_id, CLOSE_REGION_CHANGED, "region changed; reconnect"));
            self.socket_gone(&socket_id, fx);
        }
    }

    /// Closes (4003) every driver socket silent for 3 heartbeats, and wakes
    /// when the next may fall silent.
    pub(super) fn check_heartbeats(&mut self, heard: &[Heard], now: i64, fx: &mut Vec<RegionEffect>) {
        let sockets: Vec<(String, i64)> = self
            .drivers
            .values()
            .flat_map(|d| d.sockets.iter())
            .map(|(id, socket)| {
                let seen = heard.iter().find(|h| h.socket_id == *id);
                let frame_at = seen.map_or(0, |h| h.frame_at);
                (id.clone(), last_heard(socket.opened_at, frame_at, seen.and_then(|h| h.keepalive_at)))
            })
            .collect();
        let found = heartbeat::check(&sockets, self.settings.heartbeat_s, now);
        for socket_id in found.silent {
            fx.push(close(&socket_id, CLOSE_SILENT, "no heartbeat"));
            self.socket_gone(&socket_id, fx);
        }
        if let Some(at) = found.next_check_at {
            fx.push(RegionEffect::WakeAt(at));
        }
    }

    /// A socket from an attachment read after a wake-up.
    pub(super) fn restore_socket(&mut self, header: SocketHeader, facts: DriverFacts) {
        let driver = self.drivers.entry(header.sub.clone()).or_insert_with(|| Driver {
            name: facts.name.clone(),
            location: facts.location,
            location_at: facts.location_at,
            available: facts.available,
            mark: facts.mark.clone(),
            saved_at: facts.location_at,
            sockets: BTreeMap::new(),
        });
        if facts.location_at > driver.location_at {
            driver.location = facts.location;
            driver.location_at = facts.location_at;
            driver.available = facts.available;
        }
        // The newest mark any of its sockets kept is the driver's.
        if facts.mark.version > driver.mark.version {
            driver.mark = facts.mark;
        }
        let socket = Socket {
            opened_at: header.opened_at,
            attaching: false,
            relayed_at: facts.relayed_at,
            viewing: facts.viewing,
        };
        driver.sockets.insert(header.socket_id.clone(), socket);
        self.owners.insert(header.socket_id, header.sub);
    }

    /// The index as the driver now is: offerable when available, without an
    /// active ride, and with every socket attached.
    pub(super) fn sync_index(&mut self, driver_id: &str) {
        let Some(driver) = self.drivers.get(driver_id) else { return };
        let busy = driver.mark.is_busy() || driver.sockets.values().any(|s| s.attaching);
        let was_offerable = self.offerable_at(driver_id).is_some();
        self.index.upsert(driver_id, driver.location, driver.available);
        self.index.set_busy(driver_id, busy);
        if was_offerable != (driver.available && !busy) {
            self.offerable_changed = true;
        }
    }

    /// Saves the driver's facts on each of its sockets.
    pub(super) fn save_driver(&self, driver_id: &str, fx: &mut Vec<RegionEffect>) {
        let Some(driver) = self.drivers.get(driver_id) else { return };
        for (socket_id, socket) in &driver.sockets {
            let facts = DriverFacts {
                name: driver.name.clone(),
                location: driver.location,
                location_at: driver.location_at,
                available: driver.available,
                mark: driver.mark.clone(),
                relayed_at: socket.relayed_at,
                viewing: socket.viewing.clone(),
            };
            fx.push(RegionEffect::SaveFacts { socket_id: socket_id.clone(), facts });
        }
    }

    /// The driver's sockets here.
    pub(super) fn sockets_of(&self, driver_id: &str) -> Vec<String> {
        self.drivers.get(driver_id).map(|d| d.sockets.keys().cloned().collect()).unwrap_or_default()
    }

    /// `driver_location` on the dispatch sockets, with whether it takes offers.
    fn feed_driver(&self, driver_id: &str, fx: &mut Vec<RegionEffect>) {
        if self.dispatchers.is_empty() {
            return;
        }
        let Some(indexed) = self.index.get(driver_id) else { return };
        let moved = DispatchOutbound::DriverLocation {
            driver_id: driver_id.to_string(),
            lat: indexed.location.lat,
            lng: indexed.location.lng,
            available: indexed.available && !indexed.busy,
        };
        fx.push(RegionEffect::ToDispatchers { frame: to_frame(&moved, None) });
    }

    fn go_offline(&mut self, driver_id: &str, fx: &mut Vec<RegionEffect>) {
        self.drivers.remove(driver_id);
        if self.index.remove(driver_id).is_some() {
            self.offerable_changed = true;
            let offline = DispatchOutbound::DriverOffline { driver_id: driver_id.to_string() };
            fx.push(RegionEffect::ToDispatchers { frame: to_frame(&offline, None) });
        }
    }
}

fn close(socket_id: &str, code: u16, reason: &'static str) -> RegionEffect {
    RegionEffect::Close { socket_id: socket_id.to_string(), code, reason }
}
