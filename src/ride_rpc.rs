//! The typed calls from the Worker to a Ride Durable Object: the binding,
//! the object's deterministic name, the routes and their bodies. Both sides
//! use these types, so the two ends cannot drift apart.

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{Env, Method, Request, RequestInit};

use crate::core::identity::Caller;
use crate::core::ride::Ride;
use crate::core::ride_request::NewRide;
use crate::error::{AppError, ErrorStatus};

/// The binding name of the Ride DO namespace in wrangler.toml.
pub const BINDING: &str = "RIDES";

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
}

impl RideCall {
    /// The internal path of the call.
    pub fn path(self) -> &'static str {
        match self {
            RideCall::Create => "/create",
            RideCall::View => "/view",
        }
    }

    /// The call an internal path names.
    pub fn from_path(path: &str) -> Option<RideCall> {
        [RideCall::Create, RideCall::View].into_iter().find(|call| call.path() == path)
    }
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
    let stub = env.durable_object(BINDING)?.id_from_name(&object_name(ride_id))?.get_stub()?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&serde_json::to_string(body)?)));
    let request = Request::new_with_init(&format!("https://ride.internal{}", call.path()), &init)?;
    let mut response = stub.fetch_with_request(request).await?;
    let status = response.status_code();
    let bytes = response.bytes().await?;
    if (200..300).contains(&status) {
        return Ok(serde_json::from_slice(&bytes)?);
    }
    Err(ErrorStatus::from_body(status, &bytes)
        .map(AppError::Relayed)
        .unwrap_or_else(|| AppError::Internal(format!("ride DO answered {status} without an error body"))))
}
