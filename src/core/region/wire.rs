//! What other objects send a region and what it answers: the bodies of the
//! calls a Region DO takes (declared in `region_rpc`), plain data the
//! region core reads and writes.

use serde::{Deserialize, Serialize};

use crate::core::busy_mark::BusyMark;
use crate::core::driver_index::Candidate;
use crate::core::geo::{LatLng, Place};
use crate::core::ride::RideStatus;

/// A ride of the region created or changed, for its dispatch feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RideFeed {
    /// The ride.
    pub ride_id: String,
    /// Its status now.
    pub status: RideStatus,
    /// Where it starts.
    pub pickup: Place,
    /// True for the ride's creation (`ride_created`), else a `ride_status`.
    pub created: bool,
}

/// A nearby query (`GET /v1/drivers/nearby`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearbyQuery {
    /// Around where.
    pub at: LatLng,
    /// How far, in m.
    pub radius_m: f64,
    /// How many at most.
    pub limit: u32,
}

/// A driver in a nearby answer: the candidate and its display name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearbyDriver {
    /// Position, distance and availability.
    pub candidate: Candidate,
    /// Display name.
    pub name: String,
}

/// One driver's live state, asked for by `GET /v1/drivers/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverLookup {
    /// Whom to look up.
    pub driver_id: String,
}

/// One frame for one driver, sent by a ride straight to the region where it
/// last found the driver (the fast path; the Driver DO gets it too and
/// delivers it wherever this did not).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// To whom.
    pub driver_id: String,
    /// The JSON text.
    pub frame: String,
    /// A `ride_offer`: skipped for a driver marked busy here.
    #[serde(default)]
    pub offer: bool,
    /// The busy mark the frame implies (`ride_assigned` marks busy, the
    /// final `ride_updated` frees), applied before the frame is sent unless
    /// the region holds a newer one; the Driver DO's own marks follow.
    #[serde(default)]
    pub mark: Option<BusyMark>,
}

/// A ride's frames for drivers of the region and its feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliverBatch {
    /// Frames to send; an offer to a driver marked busy here is skipped.
    pub deliveries: Vec<Delivery>,
    /// Rides of this region created or changed, for the dispatch feed.
    #[serde(default)]
    pub feed: Vec<RideFeed>,
    /// The ride's watches for late drivers (see `watches.rs`), kept before
    /// the frames go out: the pickup's region gets its round's watch with
    /// the round's offers, in one call (the other regions by their own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub watches: Vec<crate::core::late_driver::SearchWatch>,
}

/// The answer to a [`DeliverBatch`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivered {
    /// Per delivery, in order: the sockets of its driver here that took it
    /// (none when it was not delivered).
    pub taken: Vec<Vec<String>>,
}

/// Frames and the busy mark from a driver's Driver DO, for its sockets here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverDelivery {
    /// The driver.
    pub driver_id: String,
    /// JSON texts for every socket of the driver here, in order.
    pub frames: Vec<String>,
    /// The driver's busy mark, kept unless the region holds a newer one.
    pub mark: BusyMark,
}

/// The answer to a [`DriverDelivery`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriverSockets {
    /// The ids of the driver's sockets here (those that got the frames).
    pub sockets: Vec<String>,
}
