//! The public endpoints: liveness and the OpenAPI document.

use worker::Response;

use super::request::json;
use crate::error::AppError;

/// The OpenAPI 3.1 document of the HTTP API, kept beside the protocol docs.
pub const OPENAPI_JSON: &str = include_str!("../../docs/openapi.json");

/// `GET /health`.
pub fn health() -> Result<Response, AppError> {
    json(200, &serde_json::json!({"status": "ok"}))
}

/// `GET /openapi.json`.
pub fn openapi() -> Result<Response, AppError> {
    let mut response = Response::ok(OPENAPI_JSON)?;
    response.headers_mut().set("Content-Type", "application/json")?;
    Ok(response)
}
