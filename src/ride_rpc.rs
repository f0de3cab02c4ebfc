//! The typed calls from the Worker to a Ride Durable Object: the binding,
//! the object's deterministic name, the routes and their bodies. Both sides
//! use these types, so the two ends cannot drift apart.

use serde::{Deserialize, Serialize};
use worker::{Env, Response};

use crate::core::dispatch::RoundCandidate;
use crate::core::geo::LatLng;
use crate::core::identity::Caller;
use crate::core::notifications::{PlaceNotification, Reached};
use crate::core::proof::ProofObject;
use crate::core::protocol::{AcceptFailure, RideStep};
use crate::core::ride::Ride;
use crate::core::ride_request::NewRide;
use crate::core::watchers::WatchLink;
use crate::core::webhooks::DeliveryLog;
use crate::do_call::{self, DoCall, Done};
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

crate::do_calls! {
    /// A call a Ride DO answers.
    pub enum RideCall {
        /// Create the ride, or return it if it already exists.
        Create = "/create", CreateRide => CreatedRide;
        /// Return the ride if the caller may see it.
        View = "/view", ViewRide => Ride;
        /// A driver accepts the ride.
        Accept = "/accept", DriverRideCommand => AcceptAnswer;
        /// A driver asks for the accept lock.
        Lock = "/lock", DriverRideCommand => LockAnswer;
        /// Accept a passenger's, partner's or dispatcher's WebSocket (an upgrade, not JSON).
        ConnectRider = "/connect/rider", RiderConnect => Done;
        /// A driver gives an offer back.
        Decline = "/decline", DriverRideCommand => Done;
        /// Someone cancels the ride.
        Cancel = "/cancel", CancelRide => Ride;
        /// The assigned driver reports progress.
        Step = "/step", StepRide => Ride;
        /// The assigned driver's position, for the ride socket (from its Driver DO).
        Location = "/location", DriverPosition => Done;
        /// An offered driver starts or stops viewing the ride.
        Viewing = "/viewing", SetViewing => Done;
        /// A Driver DO asks whether the ride recorded its driver (a claim to reconcile).
        Holder = "/holder", HolderQuery => HolderAnswer;
        /// The ride's webhook delivery log, for its partner or a dispatcher.
        Webhooks = "/webhooks", ViewRide => DeliveryLog;
        /// Sends the ride's given-up webhook deliveries again.
        Redeliver = "/webhooks/redeliver", ViewRide => DeliveryLog;
        /// May this driver upload proof image `name` now?
        ProofCheck = "/proof/check", ProofUpload => Done;
        /// An uploaded proof image, to record under its name.
        ProofRecord = "/proof/record", ProofUpload => Done;
        /// Where proof image `name` is, if the caller may read it.
        ProofFetch = "/proof/fetch", ProofRead => ProofObject;
        /// A new watch link for the caller.
        AddWatcher = "/watchers/add", NewWatcher => WatchLink;
        /// Revoke one watch link, or all of them.
        RevokeWatchers = "/watchers/revoke", WatcherRevocation => Done;
        /// Accept a watcher's WebSocket (an upgrade, not JSON).
        ConnectWatcher = "/connect/watcher", WatcherConnect => Done;
        /// A notification for some of the ride's sockets (`POST /v1/notifications`).
        Notify = "/notify", PlaceNotification => Reached;
        /// A region found a driver offerable near the pickup while the ride searches.
        LateDriver = "/late-driver", LateDriverBody => Done;
    }
}

/// Body of [`RideCall::ProofCheck`] and [`RideCall::ProofRecord`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofUpload {
    /// The driver uploading.
    pub driver_id: String,
    /// The image's name.
    pub name: String,
    /// The stored image (for `ProofRecord`).
    pub object: Option<ProofObject>,
}

/// Body of [`RideCall::ProofFetch`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProofRead {
    /// Who asks.
    pub caller: Caller,
    /// The image's name.
    pub name: String,
}

/// Body of [`RideCall::AddWatcher`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewWatcher {
    /// Who shares the ride.
    pub caller: Caller,
    /// The new link's id (the Worker's randomness).
    pub watch_id: String,
}

/// Body of [`RideCall::RevokeWatchers`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatcherRevocation {
    /// Who revokes.
    pub caller: Caller,
    /// One link, or all when absent.
    pub watch_id: Option<String>,
}

/// The identity of a watcher socket handed to the Ride DO.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WatcherConnect {
    /// The watch link.
    pub watch_id: String,
    /// The token's `exp`, in seconds.
    pub exp_s: i64,
    /// Replay the events after this seq first, when given.
    pub last_seq: Option<u64>,
}

/// Answer to [`RideCall::Accept`]: a refusal is a value, not an HTTP error to parse.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum AcceptAnswer {
    /// The driver won the ride.
    Accepted {
        /// The ride as it now is.
        ride: Box<Ride>,
    },
    /// Refused for a protocol reason.
    Refused {
        /// Why.
        reason: AcceptFailure,
    },
    /// There is no such ride.
    NoSuchRide,
}

/// Answer to [`RideCall::Lock`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LockAnswer {
    /// The lock is the driver's until `expires_at`.
    Locked {
        /// When it lapses.
        expires_at: i64,
    },
    /// Refused for a protocol reason.
    Refused {
        /// Why.
        reason: AcceptFailure,
    },
    /// There is no such ride.
    NoSuchRide,
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
    /// Its PIN or proof.
    #[serde(default)]
    pub evidence: crate::core::step_evidence::StepEvidence,
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
pub struct SetViewing {
    /// The driver.
    pub driver_id: String,
    /// True for `view_ride`, false for `stop_viewing`.
    pub viewing: bool,
}

/// Body of [`RideCall::LateDriver`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LateDriverBody {
    /// The driver, where it is, and the region that found it.
    pub candidate: RoundCandidate,
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

/// Sends call `C` to the DO of `ride_id` and decodes its answer; an error
/// the DO answered with is relayed unchanged.
pub async fn call<C: DoCall>(env: &Env, ride_id: &str, request: &C::Request) -> Result<C::Answer, AppError> {
    do_call::send::<C>(&stub(env, ride_id)?, request).await
}

/// Hands a rider's WebSocket upgrade over to the ride's DO, with its identity.
pub async fn connect_rider(env: &Env, ride_id: &str, connect: &RiderConnect) -> Result<Response, AppError> {
    do_http::upgrade(&stub(env, ride_id)?, RideCall::ConnectRider.path(), CONNECT_HEADER, connect).await
}

/// Hands a watcher's WebSocket upgrade over to the ride's DO.
pub async fn connect_watcher(env: &Env, ride_id: &str, connect: &WatcherConnect) -> Result<Response, AppError> {
    do_http::upgrade(&stub(env, ride_id)?, RideCall::ConnectWatcher.path(), CONNECT_HEADER, connect).await
}

fn stub(env: &Env, ride_id: &str) -> Result<worker::Stub, AppError> {
    do_http::stub(env, BINDING, &object_name(ride_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ride_call_is_found_by_its_path_and_paths_are_distinct() {
        for call in RideCall::ALL {
            assert_eq!(RideCall::from_path(call.path()), Some(*call));
        }
        let mut paths: Vec<_> = RideCall::ALL.iter().map(|c| c.path()).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), RideCall::ALL.len());
        assert_eq!(<calls::Accept as DoCall>::PATH, "/accept");
        assert_eq!(RideCall::from_path("/nope"), None);
    }

    #[test]
    fn a_refused_accept_travels_as_its_reason() {
        let json = serde_json::to_string(&AcceptAnswer::Refused { reason: AcceptFailure::DriverBusy }).unwrap();
        assert_eq!(json, r#"{"outcome":"refused","reason":"driver_busy"}"#);
        let back: AcceptAnswer = serde_json::from_str(&json).unwrap();
        assert!(matches!(back, AcceptAnswer::Refused { reason: AcceptFailure::DriverBusy }));
    }
}
