//! The region core's inputs and effects: what the Region DO hands it (a
//! socket event, a call from another object, an answer, the alarm) and
//! what it must do in return.

use std::collections::BTreeMap;

use super::{
    CellDemand, DeliverBatch, Delivered, DriverDelivery, DriverFacts, DriverLookup, DriverSockets, NearbyDriver,
    NearbyQuery, RideAnswer, RideCall,
};
use crate::core::commitments::AttachAnswer;
use crate::core::dispatch::{CandidateQuery, RoundCandidate};
use crate::core::driver_index::{Candidate, IndexedDriver};
use crate::core::geo::LatLng;
use crate::core::late_driver::SearchWatch;
use crate::core::protocol::{DriverInbound, SnapshotRide};
use crate::core::stats::{RegionFigures, ReportLease};

/// When a driver socket was last heard, as the Region DO knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    /// The socket.
    pub socket_id: String,
    /// Its last frame (0: none yet).
    pub frame_at: i64,
    /// The runtime's last answer to its keepalive, if any.
    pub keepalive_at: Option<i64>,
}

/// An input to the region core.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionInput {
    /// A driver's socket opened in `cell`; `evicted`: the driver's sockets
    /// closed (4002) to keep five.
    DriverOpened {
        /// The new socket.
        socket_id: String,
        /// Its driver.
        driver_id: String,
        /// The driver's display name.
        name: String,
        /// Where it connected from.
        location: LatLng,
        /// The region's cell.
        cell: String,
        /// Sockets closed to keep five.
        evicted: Vec<String>,
    },
    /// The Driver DO's answer to a socket's attach (None: no answer).
    Attached {
        /// The socket that asked.
        socket_id: String,
        /// What the driver is owed and whether it is busy.
        answer: Option<AttachAnswer>,
    },
    /// A driver socket is gone: closed by its client, failed, or closed by
    /// the socket pipeline (a flood, a frame too large, its token expired).
    DriverGone {
        /// The socket.
        socket_id: String,
    },
    /// A dispatch socket opened in `cell`.
    DispatcherOpened {
        /// The socket.
        socket_id: String,
        /// The region's cell.
        cell: String,
    },
    /// A dispatch socket is gone.
    DispatcherGone {
        /// The socket.
        socket_id: String,
    },
    /// A driver's message (the socket pipeline answers `ping` and `refresh_token`).
    DriverMessage {
        /// The socket it came on.
        socket_id: String,
        /// Its `req_id`.
        req_id: Option<String>,
        /// The message.
        message: DriverInbound,
    },
    /// A ride answered a driver's command.
    RideAnswered {
        /// The call, as the core made it.
        call: RideCall,
        /// The ride's answer.
        answer: RideAnswer,
    },
    /// Frames and the busy mark from a driver's Driver DO.
    DriverFrames(DriverDelivery),
    /// A ride's frames for drivers here and its feed.
    Deliver(DeliverBatch),
    /// The nearest offerable drivers for an offer round.
    Candidates(CandidateQuery),
    /// The nearest drivers, for `GET /v1/drivers/nearby`.
    Nearby(NearbyQuery),
    /// One driver's live state.
    Driver(DriverLookup),
    /// A searching ride near the cell: what to watch for (or stop watching).
    Watch(SearchWatch),
    /// The alarm rang: when each driver socket was last heard.
    Tick {
        /// Per driver socket.
        heard: Vec<Heard>,
    },
}

/// A call to a driver's Driver DO.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverCallOut {
    /// A socket of the driver opened here: what is it owed? (answered by [`RegionInput::Attached`])
    Attach {
        /// The socket.
        socket_id: String,
        /// This region.
        region: String,
    },
    /// A socket of the driver is gone.
    Detach {
        /// The socket.
        socket_id: String,
    },
    /// The driver's position, for its active ride.
    Location {
        /// Where.
        location: LatLng,
        /// Its heading, when known.
        heading: Option<f64>,
    },
}

/// The answer to the call being handled.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionAnswer {
    /// To [`RegionInput::Candidates`].
    Candidates(Vec<Candidate>),
    /// To [`RegionInput::Nearby`].
    Nearby(Vec<NearbyDriver>),
    /// To [`RegionInput::Driver`].
    Driver(Option<IndexedDriver>),
    /// To [`RegionInput::Deliver`].
    Delivered(Delivered),
    /// To [`RegionInput::DriverFrames`].
    Sockets(DriverSockets),
}

/// Something the Region DO must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionEffect {
    /// Send a frame to each of these sockets.
    Send {
        /// The sockets.
        sockets: Vec<String>,
        /// The JSON text.
        frame: String,
    },
    /// Send a frame to every dispatch socket.
    ToDispatchers {
        /// The JSON text.
        frame: String,
    },
    /// Close a socket (the region already counts it gone).
    Close {
        /// The socket.
        socket_id: String,
        /// The close code.
        code: u16,
        /// The close reason.
        reason: &'static str,
    },
    /// Save a driver socket's facts in its attachment.
    SaveFacts {
        /// The socket.
        socket_id: String,
        /// Its facts now.
        facts: DriverFacts,
    },
    /// Store the region's cell.
    StoreCell(String),
    /// Store a ride of the region (for the snapshot).
    StoreRide(SnapshotRide),
    /// Forget a ride of the region (it is over).
    ForgetRide(String),
    /// Call a driver's Driver DO.
    CallDriver {
        /// The driver.
        driver_id: String,
        /// The call.
        call: DriverCallOut,
    },
    /// Call a ride for a driver; the answer comes back as [`RegionInput::RideAnswered`].
    CallRide(RideCall),
    /// Write the region's figures for `GET /v1/stats` under a lease (all
    /// zero: remove the region's row).
    Report {
        /// The region's cell (the row).
        cell: String,
        /// The figures.
        figures: RegionFigures,
        /// Until when they count.
        lease: ReportLease,
    },
    /// Delete the stats rows whose lease ended before this instant.
    PurgeReports {
        /// The instant.
        before: i64,
    },
    /// Keep the demand clocks in storage.
    StoreDemand(BTreeMap<String, CellDemand>),
    /// Keep a ride's watch in storage.
    StoreWatch(SearchWatch),
    /// Forget a ride's watch.
    ForgetWatch(String),
    /// Tell a watched ride of a driver that became offerable near its
    /// pickup (the ride decides whether to offer it the ride).
    OfferLate {
        /// The ride.
        ride_id: String,
        /// The driver, where it is, and this region.
        candidate: RoundCandidate,
    },
    /// Make sure the alarm rings by then.
    WakeAt(i64),
    /// The answer to the call being handled.
    Answer(RegionAnswer),
}
