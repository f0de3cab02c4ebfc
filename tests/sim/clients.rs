//! The apps: drivers' phones (their sockets, and the offers that reached
//! them, which is what they act on) and passengers' ride sockets
//! (every sequenced event, in the order seen, and reconnects that resume
//! after the last seq seen).

use std::collections::{BTreeMap, BTreeSet};

use ridewire::core::geo::LatLng;
use ridewire::core::protocol::SequencedEvent;

use super::scheduler::{ClientEvent, Event, Scheduler};

/// One driver's phone.
pub struct DriverApp {
    /// The region it is in, and where.
    pub region: usize,
    pub location: LatLng,
    /// Its open sockets: socket id → region.
    pub sockets: BTreeMap<String, usize>,
    /// Rides whose `ride_offer` reached it.
    pub offers: BTreeSet<usize>,
    pub available: bool,
    /// Ids of the notifications that reached it.
    pub notifications: BTreeSet<String>,
}

/// One ride's passenger.
#[derive(Default)]
pub struct Passenger {
    /// Whether the create went through.
    pub created: bool,
    /// The open ride socket, and the one being opened.
    pub socket: Option<u64>,
    pub connecting: Option<u64>,
    /// Every event seen, in order.
    pub received: Vec<SequencedEvent>,
}

/// What a call from an app was.
pub enum ClientCall {
    Create(usize),
    Connect(usize, u64),
    /// A dispatcher's notification (driver, id).
    Notify(usize, String),
}

/// Every app of the city.
#[derive(Default)]
pub struct Clients {
    pub drivers: Vec<DriverApp>,
    pub passengers: Vec<Passenger>,
    pub pending: BTreeMap<u64, ClientCall>,
    next_socket: u64,
}

impl Clients {
    /// A fresh socket id (or ride socket number).
    pub fn next_socket(&mut self) -> u64 {
        self.next_socket += 1;
        self.next_socket
    }

    pub fn socket_opened(&mut self, driver: usize, socket_id: &str, region: usize) {
        self.drivers[driver].sockets.insert(socket_id.to_string(), region);
    }

    pub fn socket_closed(&mut self, driver: usize, socket_id: &str) {
        self.drivers[driver].sockets.remove(socket_id);
    }

    /// A frame on one of a driver's sockets.
    pub fn driver_frame(&mut self, driver: usize, socket_id: &str, frame: &str) {
        let app = &mut self.drivers[driver];
        if !app.sockets.contains_key(socket_id) {
            return;
        }
        if frame_type(frame) == "notification" {
            if let Some(id) = frame.split("\"id\":\"").nth(1).and_then(|rest| rest.split('"').next()) {
                app.notifications.insert(id.to_string());
            }
            return;
        }
        let Some(ride) = frame_ride(frame) else { return };
        match frame_type(frame) {
            "ride_offer" => drop(app.offers.insert(ride)),
            "ride_taken" | "ride_cancelled" => drop(app.offers.remove(&ride)),
            _ => {}
        }
    }

    /// The ride accepted a passenger's socket.
    pub fn rider_opened(&mut self, ride: usize, socket: u64) {
        let passenger = &mut self.passengers[ride];
        passenger.socket = Some(socket);
        passenger.connecting = None;
    }

    /// An event on a passenger's ride socket.
    pub fn rider_event(&mut self, ride: usize, socket: u64, event: &SequencedEvent) {
        let passenger = &mut self.passengers[ride];
        if passenger.socket == Some(socket) {
            passenger.received.push(event.clone());
        }
    }

    /// The ride socket closed under the passenger: it opens another soon.
    pub fn rider_closed(&mut self, ride: usize, sched: &mut Scheduler) {
        self.passengers[ride].socket = None;
        let delay = sched.rng.range(200, 5_000);
        sched.at(sched.now + delay, Event::Client(ClientEvent::Reconnect(ride)));
    }
}

/// The `type` of a server frame (it leads every frame).
pub fn frame_type(frame: &str) -> &str {
    let rest = frame.strip_prefix("{\"type\":\"").unwrap_or("");
    rest.split('"').next().unwrap_or("")
}

/// The ride a driver frame is about (ride ids are `ride-NNNN`, unlike any `type`).
pub fn frame_ride(frame: &str) -> Option<usize> {
    let at = frame.find("\":\"ride-")? + 8;
    frame.get(at..at + 4)?.parse().ok()
}
