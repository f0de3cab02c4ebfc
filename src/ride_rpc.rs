//! The typed calls from the Worker to a Ride Durable Object: the binding,
//! the object's deterministic name, the routes and their bodies. Both sides
//! use these types, so the two ends cannot drift apart.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Response};

use crate::core::geo::LatLng;
use crate::core::identity::Caller;
use crate::core::protocol::RideStep;
use crate::core::ride::Ride;
use crate::core::ride_request::NewRide;
use crate::do_http;
use crate::error::AppError;

/// The binding name of the Ride DO namespace in wrangler.toml.
pub const BINDING: &str = "RIDES";

/// Header carrying the verified identity of a socket being handed over.
pub const CONNECT_HEADER: &str = "X-Ridewire-Connect";

/// The name of the one DO that owns `ride_id`.
pub fn object_name(ride_id: &str) -> String {
    format!("ride/{ride_id}")
}

/// A call a Ride DO answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RideCall {
    /// Create the ride, or return it if it already exists.
    Create,
    /// Return the ride if the caller may see it.
    View,
    /// A driver accepts the ride.
    Accept,
    /// A driver asks for the accept lock.
    Lock,
    /// Accept a passenger's, partner's or dispatcher's WebSocket.
    ConnectRider,
    /// A driver gives an offer back.
    Decline,
    /// Someone cancels the ride.
    Cancel,
    /// The assigned driver reports progress.
    Step,
    /// The assigned driver's position, for the ride socket.
    Location,
    /// An offered driver starts or stops viewing the ride.
    Viewing,
    /// A Driver DO asks whether the ride recorded its driver (a claim to reconcile).
    Holder,
}

impl RideCall {
    const ALL: [RideCall; 11] = [
        RideCall::Create,
        RideCall::View,
        RideCall::Accept,
        RideCall::Lock,
        RideCall::ConnectRider,
        RideCall::Decline,
        RideCall::Cancel,
        RideCall::Step,
        RideCall::Location,
        RideCall::Viewing,
        RideCall::Holder,
    ];

    /// The internal path of the call.
    pub fn path(self) -> &'static str {
        match self {
            RideCall::Create => "/create",
            RideCall::View => "/view",
            RideCall::Accept => "/accept",
            RideCall::Lock => "/lock",
            RideCall::ConnectRider => "/connect/rider",
            RideCall::Decline => "/decline",
            RideCall::Cancel => "/cancel",
            RideCall::Step => "/step",
            RideCall::Location => "/location",
            RideCall::Viewing => "/viewing",
            RideCall::Holder => "/holder",
        }
    }

    /// The call an internal path names.
    pub fn from_path(path: &str) -> Option<RideCall> {
        RideCall::ALL.into_iter().find(|call| call.path() == path)
    }
}

/// Body of [`RideCall::Accept`] and [`RideCall::Lock`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverRideCommand {
    /// The driver acting.
    pub driver_id: String,
    /// The socket request this answers, to echo on the direct reply.
    pub req_id: Option<String>,
}

/// Body of [`RideCall::Cancel`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CancelRide {
    /// Who cancels.
    pub caller: Caller,
    /// Why, if they said.
    pub reason: Option<String>,
    /// The socket request this answers.
    pub req_id: Option<String>,
}

/// Body of [`RideCall::Step`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepRide {
    /// The driver reporting.
    pub driver_id: String,
    /// The step.
    pub step: RideStep,
    /// The socket request this answers.
    pub req_id: Option<String>,
}

/// Body of [`RideCall::Location`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverPosition {
    /// The driver.
    pub driver_id: String,
    /// Where it is.
    pub location: LatLng,
    /// Its heading, when known.
    pub heading: Option<f64>,
}

/// Body of [`RideCall::Viewing`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Viewing {
    /// The driver.
    pub driver_id: String,
    /// True for `view_ride`, false for `stop_viewing`.
    pub viewing: bool,
}

/// Body of [`RideCall::Holder`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HolderQuery {
    /// The driver whose claim is checked.
    pub driver_id: String,
}

/// Answer to [`RideCall::Holder`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HolderAnswer {
    /// Whether the ride recorded this driver as its (still active) driver.
    pub assigned: bool,
}

/// The identity of a rider socket handed to the Ride DO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RiderConnect {
    /// Who connects.
    pub caller: Caller,
    /// The token's `exp`, in seconds.
    pub exp_s: i64,
    /// Replay the events after this seq first, when given.
    pub last_seq: Option<u64>,
}

/// Body of [`RideCall::Create`].
#[derive(Debug, Serialize, Deserialize)]
pub struct CreateRide {
    /// The id the Worker chose (or an idempotency key bound).
    pub id: String,
    /// The validated request.
    pub request: NewRide,
    /// Who creates it.
    pub caller: Caller,
}

/// Answer to [`RideCall::Create`].
#[derive(Debug, Serialize, Deserialize)]
pub struct CreatedRide {
    /// The ride as stored.
    pub ride: Ride,
    /// False when the ride already existed (an idempotent retry).
    pub created: bool,
}

/// Body of [`RideCall::View`].
#[derive(Debug, Serialize, Deserialize)]
pub struct ViewRide {
    /// Who asks.
    pub caller: Caller,
}

/// Sends `call` with `body` to the DO of `ride_id` and reads its answer;
/// an error the DO answered with is relayed unchanged.
pub async fn call<B: Serialize, R: DeserializeOwned>(
    env: &Env,
    ride_id: &str,
    call: RideCall,
    body: &B,
) -> Result<R, AppError> {
    do_http::post_json(&stub(env, ride_id)?, call.path(), body).await
}

/// Like [`call`], for calls that may answer 204 without a body (read as null).
pub async fn call_empty<B: Serialize>(
    env: &Env,
    ride_id: &str,
    call: RideCall,
    body: &B,
) -> Result<serde_json::Value, AppError> {
    do_http::post_json_or_empty(&stub(env, ride_id)?, call.path(), body).await
}

/// Hands a rider's WebSocket upgrade over to the ride's DO, with its identity.
pub async fn connect_rider(env: &Env, ride_id: &str, connect: &RiderConnect) -> Result<Response, AppError> {
    do_http::upgrade(&stub(env, ride_id)?, RideCall::ConnectRider.path(), CONNECT_HEADER, connect).await
}

fn stub(env: &Env, ride_id: &str) -> Result<worker::Stub, AppError> {
    do_http::stub(env, BINDING, &object_name(ride_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ride_call_is_found_by_its_path() {
        for call in RideCall::ALL {
            // The match makes adding a variant without listing it in ALL a compile error here.
            match call {
                RideCall::Create
                | RideCall::View
                | RideCall::Accept
                | RideCall::Lock
                | RideCall::ConnectRider
                | RideCall::Decline
                | RideCall::Cancel
                | RideCall::Step
                | RideCall::Location
                | RideCall::Viewing
                | RideCall::Holder => {}
            }
            assert_eq!(RideCall::from_path(call.path()), Some(call));
        }
        assert_eq!(RideCall::ALL.len(), 11);
        assert_eq!(RideCall::from_path("/nope"), None);
    }
}
