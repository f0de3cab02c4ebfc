//! The one error type at the edge, and the one place that turns an error
//! into the protocol's JSON error response. Internals are logged, never sent.

use serde::{Deserialize, Serialize};
use worker::{console_error, Response};

use crate::auth::AuthError;
use crate::core::lifecycle::StepError;
use crate::core::protocol::AcceptFailure;
use crate::core::ride_input::RideRefusal;
use crate::core::Invalid;

/// Every failure a request can end in, each with its protocol code.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 400 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// 401 `unauthorized`.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// 403 `forbidden`, or a more specific code such as `not_offered`.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 405 `method_not_allowed`, with the path's methods in the `Allow` header (RFC 9110).
    #[error("{message}")]
    MethodNotAllowed { allowed: &'static str, message: String },
    /// 409 `conflict`, or a more specific code such as `idempotency_key_reused`.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 410 `gone`, or a more specific code such as `ride_closed`.
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 413 `payload_too_large`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 429 `rate_limited`, with a `Retry-After` of `retry_after_s` seconds.
    #[error("{message}")]
    RateLimited { message: String, retry_after_s: u32 },
    /// An error a Durable Object already put in protocol form, passed through.
    #[error("{}", .0.message)]
    Relayed(ErrorStatus),
    /// 500 `internal`: the detail is logged, the client gets a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

/// An error in wire form with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorStatus {
    /// HTTP status.
    pub status: u16,
    /// The protocol's snake_case code.
    pub code: String,
    /// Text for a person.
    pub message: String,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}

impl AppError {
    /// A plain 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::Forbidden { code: "forbidden", message: message.into() }
    }

    /// The status, code and client-facing message of this error.
    pub fn status(&self) -> ErrorStatus {
        let (status, code) = match self {
            AppError::InvalidRequest(_) => (400, "invalid_request"),
            AppError::Unauthorized(_) => (401, "unauthorized"),
            AppError::Forbidden { code, .. } => (403, *code),
            AppError::NotFound(_) => (404, "not_found"),
            AppError::MethodNotAllowed { .. } => (405, "method_not_allowed"),
            AppError::Conflict { code, .. } => (409, *code),
            AppError::Gone { code, .. } => (410, *code),
            AppError::PayloadTooLarge(_) => (413, "payload_too_large"),
            AppError::RateLimited { .. } => (429, "rate_limited"),
            AppError::Relayed(relayed) => return relayed.clone(),
            AppError::Internal(_) => (500, "internal"),
        };
        let message = match self {
            AppError::Internal(_) => "something went wrong on our side; try again".to_string(),
            other => other.to_string(),
        };
        ErrorStatus { status, code: code.to_string(), message }
    }

    /// The protocol's error response; logs internal detail first.
    pub fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            console_error!("internal error: {detail}");
        }
        let mut response = self.status().into_response();
        let header = match &self {
            AppError::RateLimited { retry_after_s, .. } => Some(("Retry-After", retry_after_s.to_string())),
            AppError::MethodNotAllowed { allowed, .. } => Some(("Allow", allowed.to_string())),
            _ => None,
        };
        if let Some((name, value)) = header {
            if let Err(err) = response.headers_mut().set(name, &value) {
                console_error!("could not set {name}: {err}");
            }
        }
        response
    }
}

impl ErrorStatus {
    /// Reads an error a Durable Object answered with, if the body is one.
    pub fn from_body(status: u16, body: &[u8]) -> Option<ErrorStatus> {
        let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
        Some(ErrorStatus { status, code: parsed.error.code, message: parsed.error.message })
    }

    /// `{"error":{"code","message"}}` with the status.
    pub fn into_response(self) -> Response {
        let body = ErrorBody { error: ErrorDetail { code: self.code, message: self.message } };
        match Response::from_json(&body) {
            Ok(response) => response.with_status(self.status),
            Err(_) => Response::error("internal", 500)
                .unwrap_or_else(|_| Response::empty().expect("an empty response always builds")),
        }
    }
}

impl From<AcceptFailure> for AppError {
    /// A refused accept, lock or decline: 409 (taken, locked, busy, lock limit),
    /// 410 (closed) or 403 (not offered), with the protocol's reason as the code.
    fn from(failure: AcceptFailure) -> Self {
        let message = match failure {
            AcceptFailure::RideTaken => "another driver took this ride",
            AcceptFailure::RideLocked => "another driver holds the accept lock",
            AcceptFailure::RideClosed => "the ride was cancelled or expired",
            AcceptFailure::NotOffered => "this ride was not offered to you",
            AcceptFailure::DriverBusy => "you have another active ride",
            AcceptFailure::LockLimit => "you held the accept lock as long as you may in a row",
        };
        let (code, message) = (failure.as_str(), message.to_string());
        match failure {
            AcceptFailure::RideClosed => AppError::Gone { code, message },
            AcceptFailure::NotOffered => AppError::Forbidden { code, message },
            _ => AppError::Conflict { code, message },
        }
    }
}

impl From<StepError> for AppError {
    /// A refused lifecycle step: 403 `forbidden`, 409 `invalid_transition`, or an accept refusal.
    fn from(err: StepError) -> Self {
        match err {
            StepError::Forbidden(message) => AppError::forbidden(message),
            StepError::InvalidTransition { .. } => {
                AppError::Conflict { code: "invalid_transition", message: err.to_string() }
            }
            StepError::Refused(failure) => failure.into(),
            StepError::Invalid(message) => AppError::InvalidRequest(message),
            StepError::WrongPin => AppError::Forbidden { code: "wrong_pin", message: err.to_string() },
            StepError::PinLocked { retry_after_s } => AppError::RateLimited { message: err.to_string(), retry_after_s },
            StepError::Closed(message) => AppError::Gone { code: "ride_closed", message: message.into() },
            StepError::NoSuchWatcher => AppError::NotFound(err.to_string()),
        }
    }
}

impl From<RideRefusal> for AppError {
    fn from(refusal: RideRefusal) -> Self {
        match refusal {
            RideRefusal::Accept(failure) => failure.into(),
            RideRefusal::Step(err) => err.into(),
        }
    }
}

impl From<Invalid> for AppError {
    fn from(err: Invalid) -> Self {
        AppError::InvalidRequest(err.0)
    }
}

impl From<worker::Error> for AppError {
    fn from(err: worker::Error) -> Self {
        AppError::Internal(err.to_string())
    }
}

impl From<serde_json::Error> for AppError {
    fn from(err: serde_json::Error) -> Self {
        AppError::Internal(format!("json: {err}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_protocol_status_and_code() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::InvalidRequest("x".into()), 400, "invalid_request"),
            (AppError::Unauthorized(AuthError::Expired), 401, "unauthorized"),
            (AppError::forbidden("x"), 403, "forbidden"),
            (AppError::NotFound("x".into()), 404, "not_found"),
            (AppError::Conflict { code: "idempotency_key_reused", message: "x".into() }, 409, "idempotency_key_reused"),
            (AppError::PayloadTooLarge("x".into()), 413, "payload_too_large"),
            (AppError::Internal("db down".into()), 500, "internal"),
        ];
        for (err, status, code) in cases {
            let s = err.status();
            assert_eq!((s.status, s.code.as_str()), (status, code));
        }
    }

    #[test]
    fn internal_errors_do_not_leak_their_detail() {
        let status = AppError::Internal("D1_ERROR: no such table: rides".into()).status();
        assert!(!status.message.contains("D1"));
        assert!(!status.message.contains("rides"));
    }

    #[test]
    fn an_error_body_from_a_durable_object_is_relayed_as_is() {
        let body = br#"{"error":{"code":"ride_taken","message":"another driver took it"}}"#;
        let relayed = ErrorStatus::from_body(409, body).unwrap();
        assert_eq!(AppError::Relayed(relayed.clone()).status(), relayed);
        assert_eq!(ErrorStatus::from_body(500, b"oops"), None);
    }
}
