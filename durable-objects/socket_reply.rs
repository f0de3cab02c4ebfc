//! Small helpers every socket kind uses: sending text, replies with
//! `req_id`, protocol error frames, the rate limit's answers, reading a
//! frame's text.

use serde::Serialize;
use worker::{WebSocket, WebSocketIncomingMessage};

use crate::core::protocol::{error_frame, to_frame, FrameError, MAX_FRAME_BYTES};
use crate::core::socket_rules::{Admission, CLOSE_POLICY, CLOSE_TOO_LARGE};
use crate::error::AppError;

/// Sends `message` with the `req_id` it answers, if any.
pub fn reply<T: Serialize>(ws: &WebSocket, message: &T, req_id: Option<&str>) {
    send_text(ws, &to_frame(message, req_id));
}

/// Sends a protocol `error` frame.
pub fn error(ws: &WebSocket, code: &str, message: &str, req_id: Option<&str>) {
    send_text(ws, &error_frame(code, message, req_id));
}

/// Carries out the rate limit's decision on a frame: `Some(true)` when it
/// may be handled, `Some(false)` when it is dropped (answered
/// `rate_limited` at most once a second), None when the client kept
/// flooding: told so and closed with 1008.
pub fn admit(ws: &WebSocket, admission: Admission) -> Option<bool> {
    match admission {
        Admission::Admit => Some(true),
        Admission::Drop { warn } => {
            if warn {
                rate_limited(ws);
            }
            Some(false)
        }
        Admission::Close => {
            rate_limited(ws);
            close(ws, CLOSE_POLICY, "message rate exceeded");
            None
        }
    }
}

/// Tells a client its frames are being dropped.
pub fn rate_limited(ws: &WebSocket) {
    error(ws, "rate_limited", "more than 20 messages a second; frames are being dropped", None);
}

/// Answers a frame that could not be read; a frame too large also closes the socket.
pub fn frame_error(ws: &WebSocket, err: &FrameError) {
    send_text(ws, &err.to_frame());
    if let Some(code) = err.close_code() {
        close(ws, code, "message too large");
    }
}

/// A frame's text, or what was done instead.
pub enum FrameText {
    /// The frame's text.
    Text(String),
    /// A binary frame, answered `bad_message`.
    Refused,
    /// A binary frame over the size limit: answered and the socket closed.
    Closed,
}

/// The text of a frame; binary frames are answered `bad_message` (or closed
/// when over the size limit).
pub fn frame_text(ws: &WebSocket, message: WebSocketIncomingMessage) -> FrameText {
    match message {
        WebSocketIncomingMessage::String(text) => FrameText::Text(text),
        WebSocketIncomingMessage::Binary(bytes) if bytes.len() > MAX_FRAME_BYTES => {
            error(ws, "message_too_large", "frames must be at most 64 KiB", None);
            close(ws, CLOSE_TOO_LARGE, "message too large");
            FrameText::Closed
        }
        WebSocketIncomingMessage::Binary(_) => {
            error(ws, "bad_message", "frames must be JSON text, not binary", None);
            FrameText::Refused
        }
    }
}

/// Closes a socket from the server's side, marked `closed` in its
/// attachment first: its object counts it gone at once, and the close event
/// of a client that answers later is not taken for a second going.
pub fn close(ws: &WebSocket, code: u16, reason: &str) {
    let attachment = ws.deserialize_attachment::<String>().ok().flatten();
    if let Some(mut value) =
        attachment.and_then(|json| serde_json::from_slice::<serde_json::Value>(json.as_bytes()).ok())
    {
        value["closed"] = serde_json::Value::Bool(true);
        if let Err(err) = ws.serialize_attachment(value.to_string()) {
            worker::console_error!("marking a socket closed failed: {err}");
        }
    }
    if let Err(err) = ws.close(Some(code), Some(reason)) {
        worker::console_error!("closing a socket failed: {err}");
    }
}

/// A random id for a socket (64 bits, hex).
pub fn socket_id() -> Result<String, AppError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Sends a text frame; a socket that cannot take it is closing anyway.
pub fn send_text(ws: &WebSocket, text: &str) {
    if let Err(err) = ws.send_with_str(text) {
        worker::console_error!("send on a socket failed: {err}");
    }
}
