//! The typed calls to a Region Durable Object (`region/{h3 cell}`): from the
//! Worker (driver and dispatch sockets, nearby queries) and from Ride DOs
//! (candidates for a round, frames to deliver to drivers).

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Response};

use crate::core::dispatch::CandidateQuery;
use crate::core::driver_index::Candidate;
use crate::core::geo::{LatLng, Place};
use crate::core::ride::RideStatus;
use crate::do_http;
use crate::error::AppError;

/// The binding name of the Region DO namespace in wrangler.toml.
pub const BINDING: &str = "REGIONS";
/// Header carrying the verified identity of a socket being handed over.
pub const CONNECT_HEADER: &str = "X-Ridewire-Connect";

/// The name of the DO that owns region `cell`.
pub fn object_name(cell: &str) -> String {
    format!("region/{cell}")
}

/// A call a Region DO answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionCall {
    /// Accept a driver's WebSocket (GET with `Upgrade: websocket`).
    ConnectDriver,
    /// The nearest offerable drivers for an offer round.
    Candidates,
    /// The nearest drivers, for `GET /v1/drivers/nearby`.
    Nearby,
    /// Offers of a round to send to its drivers (the fast path), and the dispatch feed.
    Deliver,
    /// One driver's live state, if it is online here.
    Driver,
    /// Accept a dispatcher's WebSocket (GET with `Upgrade: websocket`).
    ConnectDispatcher,
    /// Frames and the busy mark from a driver's Driver DO, for its sockets here.
    DriverFrames,
}

impl RegionCall {
    const ALL: [RegionCall; 7] = [
        RegionCall::ConnectDriver,
        RegionCall::Candidates,
        RegionCall::Nearby,
        RegionCall::Deliver,
        RegionCall::Driver,
        RegionCall::ConnectDispatcher,
        RegionCall::DriverFrames,
    ];

    /// The internal path of the call.
    pub fn path(self) -> &'static str {
        match self {
            RegionCall::ConnectDriver => "/connect/driver",
            RegionCall::Candidates => "/candidates",
            RegionCall::Nearby => "/nearby",
            RegionCall::Deliver => "/deliver",
            RegionCall::Driver => "/driver",
            RegionCall::ConnectDispatcher => "/connect/dispatcher",
            RegionCall::DriverFrames => "/driver-frames",
        }
    }

    /// The call an internal path names.
    pub fn from_path(path: &str) -> Option<RegionCall> {
        RegionCall::ALL.into_iter().find(|call| call.path() == path)
    }
}

/// A driver's identity handed to the region with its socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverConnect {
    /// The driver's id (its token's `sub`).
    pub driver_id: String,
    /// Display name from the driver's profile.
    pub name: String,
    /// The token's `exp`, in seconds.
    pub exp_s: i64,
    /// The position the driver connected from.
    pub location: LatLng,
    /// The region's cell.
    pub region: String,
}

/// A dispatcher's identity handed to the region with its socket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DispatcherConnect {
    /// The dispatcher's `sub`.
    pub sub: String,
    /// The token's `exp`, in seconds.
    pub exp_s: i64,
    /// The region's cell.
    pub region: String,
}

/// A ride of the region created or changed, for its dispatch feed.
#[derive(Debug, Clone, Serialize, Deserialize)]
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

/// Body of [`RegionCall::Nearby`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearbyQuery {
    /// Around where.
    pub at: LatLng,
    /// How far, in m.
    pub radius_m: f64,
    /// How many at most.
    pub limit: u32,
}

/// A driver in a nearby answer: the candidate and its display name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NearbyDriver {
    /// Position, distance and availability.
    pub candidate: Candidate,
    /// Display name.
    pub name: String,
}

/// Body of [`RegionCall::Driver`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverLookup {
    /// Whom to look up.
    pub driver_id: String,
}

/// One frame for one driver, sent by a ride straight to the region where it
/// last found the driver (the fast path; the Driver DO gets it too and
/// delivers it wherever this did not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Delivery {
    /// To whom.
    pub driver_id: String,
    /// The JSON text.
    pub frame: String,
    /// A `ride_offer`: skipped for a driver marked busy here.
    #[serde(default)]
    pub offer: bool,
    /// The busy mark the frame implies (`ride_assigned` marks busy, the
    /// final `ride_updated` frees), applied before the frame is sent; the
    /// Driver DO's own marks follow and stay the authority.
    #[serde(default)]
    pub mark: Option<FastMark>,
}

/// A busy mark carried by a ride's frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mark", content = "ride_id", rename_all = "snake_case")]
pub enum FastMark {
    /// The driver is now busy with this ride.
    Busy(String),
    /// The driver is free, if it was busy with this ride.
    FreeOf(String),
}

/// Body of [`RegionCall::Deliver`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DeliverBatch {
    /// Offers to send; a driver marked busy here is skipped.
    pub deliveries: Vec<Delivery>,
    /// Rides of this region created or changed, for the dispatch feed.
    #[serde(default)]
    pub feed: Vec<RideFeed>,
}

/// Answer to [`RegionCall::Deliver`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delivered {
    /// Per delivery, in order: whether a socket of its driver here took it.
    pub taken: Vec<bool>,
}

/// Body of [`RegionCall::DriverFrames`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverDelivery {
    /// The driver.
    pub driver_id: String,
    /// JSON texts for every socket of the driver here, in order.
    pub frames: Vec<String>,
    /// The driver's active ride (busy), or none (free): the region's mark.
    pub busy_ride: Option<String>,
}

/// Answer to [`RegionCall::DriverFrames`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DriverSockets {
    /// The ids of the driver's sockets here (those that got the frames).
    pub sockets: Vec<String>,
}

/// Sends `call` with a JSON `body` to region `cell` and reads the JSON answer.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    env: &Env,
    cell: &str,
    call: RegionCall,
    body: &B,
) -> Result<R, AppError> {
    do_http::post_json(&stub(env, cell)?, call.path(), body).await
}

/// Like [`call`], for calls that answer 204 without a body (read as null).
pub async fn call_empty<B: Serialize>(
    env: &Env,
    cell: &str,
    call: RegionCall,
    body: &B,
) -> Result<serde_json::Value, AppError> {
    do_http::post_json_or_empty(&stub(env, cell)?, call.path(), body).await
}

/// Hands a driver's WebSocket upgrade over to its region, with its identity.
pub async fn connect_driver(env: &Env, connect: &DriverConnect) -> Result<Response, AppError> {
    do_http::upgrade(&stub(env, &connect.region)?, RegionCall::ConnectDriver.path(), CONNECT_HEADER, connect).await
}

/// Hands a dispatcher's WebSocket upgrade over to its region, with its identity.
pub async fn connect_dispatcher(env: &Env, connect: &DispatcherConnect) -> Result<Response, AppError> {
    do_http::upgrade(&stub(env, &connect.region)?, RegionCall::ConnectDispatcher.path(), CONNECT_HEADER, connect).await
}

/// Asks region `cell` for candidates of an offer round.
pub async fn candidates(env: &Env, cell: &str, query: &CandidateQuery) -> Result<Vec<Candidate>, AppError> {
    call(env, cell, RegionCall::Candidates, query).await
}

fn stub(env: &Env, cell: &str) -> Result<worker::Stub, AppError> {
    do_http::stub(env, BINDING, &object_name(cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_call_is_found_by_its_path() {
        for call in RegionCall::ALL {
            // The match makes a new variant a compile error until it is listed here.
            match call {
                RegionCall::ConnectDriver
                | RegionCall::Candidates
                | RegionCall::Nearby
                | RegionCall::Deliver
                | RegionCall::Driver
                | RegionCall::ConnectDispatcher
                | RegionCall::DriverFrames => {}
            }
            assert_eq!(RegionCall::from_path(call.path()), Some(call));
        }
    }
}
