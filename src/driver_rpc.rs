//! The calls a Driver Durable Object (`driver/{id}`) answers: from Ride DOs
//! (claims, frames for the driver) and from Region DOs (its sockets opening
//! and closing, its position). Declared once with [`crate::do_calls!`].

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use worker::Env;

use crate::core::commitments::{AttachAnswer, ClaimAnswer, RideFrame};
use crate::core::geo::LatLng;
use crate::core::notifications::Reached;
use crate::do_call::{DoCall, Done};
use crate::error::AppError;

/// The binding name of the Driver DO namespace in wrangler.toml.
pub const BINDING: &str = "DRIVERS";

/// The query parameter naming the driver a call is for (an object does not know its own name).
pub const DRIVER_PARAM: &str = "driver";

/// The name of the one DO that owns `driver_id`'s commitments.
pub fn object_name(driver_id: &str) -> String {
    format!("driver/{driver_id}")
}

crate::do_calls! {
    /// A call a Driver DO answers.
    pub enum DriverCall {
        /// A ride commits the driver to it (an accept in progress).
        Claim = "/claim", ClaimRequest => ClaimAnswer;
        /// Frames from a ride for the driver, numbered per ride.
        Frames = "/frames", RideFrames => Done;
        /// A socket of the driver opened in a region: its commitments to send.
        Attach = "/attach", AttachRequest => AttachAnswer;
        /// A socket of the driver closed.
        Detach = "/detach", DetachRequest => Done;
        /// The driver's position, for its active ride.
        Location = "/location", DriverLocation => Done;
        /// A notification for the driver: its sockets now, or its next connect.
        Notify = "/notify", NotifyDriver => Reached;
        /// The regions holding the driver's open sockets (where its live state is).
        Regions = "/regions", Done => DriverRegions;
    }
}

/// Body of [`DriverCall::Claim`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClaimRequest {
    /// The ride the driver accepted.
    pub ride_id: String,
    /// This claim's token: a release names the claim it gives up.
    pub token: u64,
}

/// Body of [`DriverCall::Frames`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RideFrames {
    /// The ride sending them.
    pub ride_id: String,
    /// In the ride's order.
    pub frames: Vec<RideFrame>,
}

/// Body of [`DriverCall::Attach`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachRequest {
    /// The new socket.
    pub socket_id: String,
    /// The region holding it.
    pub region: String,
}

/// Body of [`DriverCall::Detach`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DetachRequest {
    /// The closed socket.
    pub socket_id: String,
}

/// Body of [`DriverCall::Location`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverLocation {
    /// Where the driver is.
    pub location: LatLng,
    /// Its heading, when known.
    pub heading: Option<f64>,
}

/// Body of [`DriverCall::Notify`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotifyDriver {
    /// The notification's id.
    pub id: String,
    /// The `notification` frame's JSON text.
    pub frame: String,
}

/// Answer of [`DriverCall::Regions`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DriverRegions {
    /// Each region once.
    pub regions: Vec<String>,
}

/// Sends call `C` to `driver_id`'s Driver DO.
pub async fn call<C: DoCall>(env: &Env, driver_id: &str, request: C::Request) -> Result<C::Answer, AppError> {
    let stub = crate::do_http::stub(env, BINDING, &object_name(driver_id))?;
    let path = format!("{}?{DRIVER_PARAM}={}", C::PATH, utf8_percent_encode(driver_id, NON_ALPHANUMERIC));
    crate::do_http::post_json(&stub, &path, &request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_driver_call_is_found_by_its_path_and_paths_are_distinct() {
        for call in DriverCall::ALL {
            assert_eq!(DriverCall::from_path(call.path()), Some(*call));
        }
        let mut paths: Vec<_> = DriverCall::ALL.iter().map(|c| c.path()).collect();
        paths.dedup();
        assert_eq!(paths.len(), DriverCall::ALL.len());
        assert_eq!(<calls::Claim as DoCall>::PATH, DriverCall::Claim.path());
        assert_eq!(DriverCall::from_path("/nope"), None);
    }
}
