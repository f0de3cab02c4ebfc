//! The typed calls to a Region Durable Object (`region/{h3 cell}`): from the
//! Worker (driver and dispatch sockets, nearby queries) and from Ride DOs
//! (candidates for a round, frames to deliver to drivers).

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Response};

pub use crate::core::region::{
    DeliverBatch, Delivered, Delivery, DriverDelivery, DriverLookup, DriverSockets, NearbyDriver, NearbyQuery, RideFeed,
};

use crate::core::commitments::AttachAnswer;
use crate::core::dispatch::CandidateQuery;
use crate::core::driver_index::{Candidate, IndexedDriver};
use crate::core::geo::LatLng;
use crate::core::late_driver::SearchWatch;
use crate::core::notifications::{PlaceNotification, Reached};
use crate::do_call::{DoCall, Done};
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

crate::do_calls! {
    /// A call a Region DO answers.
    pub enum RegionCall {
        /// Accept a driver's WebSocket (an upgrade, not JSON).
        ConnectDriver = "/connect/driver", DriverConnect => Done;
        /// The nearest offerable drivers for an offer round.
        Candidates = "/candidates", CandidateQuery => Vec<Candidate>;
        /// The nearest drivers, for `GET /v1/drivers/nearby`.
        Nearby = "/nearby", NearbyQuery => Vec<NearbyDriver>;
        /// A ride's frames for its drivers here (the fast path), and the dispatch feed.
        Deliver = "/deliver", DeliverBatch => Delivered;
        /// One driver's live state, if it is online here.
        Driver = "/driver", DriverLookup => Option<IndexedDriver>;
        /// Accept a dispatcher's WebSocket (an upgrade, not JSON).
        ConnectDispatcher = "/connect/dispatcher", DispatcherConnect => Done;
        /// Frames and the busy mark from a driver's Driver DO, for its sockets here.
        DriverFrames = "/driver-frames", DriverDelivery => DriverSockets;
        /// The Driver DO's answer to a new socket's attach, handed back by
        /// the region's own call once its socket was accepted.
        Attached = "/attached", AttachedBody => Done;
        /// A notification for some of the region's sockets (`POST /v1/notifications`).
        Notify = "/notify", PlaceNotification => Reached;
        /// A searching ride near the region: what to watch for late drivers (or stop).
        Watch = "/watch-search", SearchWatch => Done;
    }
}

/// A Driver DO's answer to the attach of `socket_id` (None: it did not answer).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachedBody {
    /// The socket that asked.
    pub socket_id: String,
    /// What the driver is owed and its busy mark.
    pub answer: Option<AttachAnswer>,
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

/// Sends call `C` to region `cell` and reads its answer.
pub async fn ask<C: DoCall>(env: &Env, cell: &str, request: &C::Request) -> Result<C::Answer, AppError> {
    crate::do_call::send::<C>(&stub(env, cell)?, request).await
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
    ask::<calls::Candidates>(env, cell, query).await
}

fn stub(env: &Env, cell: &str) -> Result<worker::Stub, AppError> {
    do_http::stub(env, BINDING, &object_name(cell))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_call_is_found_by_its_path_and_paths_are_distinct() {
        for call in RegionCall::ALL {
            assert_eq!(RegionCall::from_path(call.path()), Some(*call));
        }
        let mut paths: Vec<_> = RegionCall::ALL.iter().map(|c| c.path()).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), RegionCall::ALL.len());
        assert_eq!(<calls::Deliver as DoCall>::PATH, RegionCall::Deliver.path());
        assert_eq!(RegionCall::from_path("/nope"), None);
    }
}
