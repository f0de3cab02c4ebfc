//! Small helpers both Durable Objects use on their sockets: replies with
//! `req_id`, protocol error frames, and reading a frame's text.

use serde::Serialize;
use worker::{WebSocket, WebSocketIncomingMessage};

use crate::core::protocol::{error_frame, to_frame, FrameError, MAX_FRAME_BYTES};
use crate::core::socket_rules::{Admission, RateLimiter, CLOSE_POLICY, CLOSE_TOO_LARGE};
use crate::error::AppError;

/// Sends `message` with the `req_id` it answers, if any.
pub fn reply<T: Serialize>(ws: &WebSocket, message: &T, req_id: Option<&str>) {
    send_text(ws, &to_frame(message, req_id));
}

/// Sends a protocol `error` frame.
pub fn error(ws: &WebSocket, code: &str, message: &str, req_id: Option<&str>) {
    send_text(ws, &error_frame(code, message, req_id));
}

/// Applies the rate limit to a frame: true when it may be handled. A dropped
/// frame is answered `rate_limited` (at most once a second); a client that
/// keeps flooding is told so and closed with 1008.
pub fn admit(ws: &WebSocket, limiter: &mut RateLimiter, now_ms: i64) -> bool {
    match limiter.admit(now_ms) {
        Admission::Admit => true,
        Admission::Drop { warn } => {
            if warn {
                rate_limited(ws);
            }
            false
        }
        Admission::Close => {
            rate_limited(ws);
            let _ = ws.close(Some(CLOSE_POLICY), Some("message rate exceeded"));
            false
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
        let _ = ws.close(Some(code), Some("message too large"));
    }
}

/// The text of a frame; binary frames are answered `bad_message` (or closed
/// when over the size limit) and yield None.
pub fn frame_text(ws: &WebSocket, message: WebSocketIncomingMessage) -> Option<String> {
    match message {
        WebSocketIncomingMessage::String(text) => Some(text),
        WebSocketIncomingMessage::Binary(bytes) if bytes.len() > MAX_FRAME_BYTES => {
            error(ws, "message_too_large", "frames must be at most 64 KiB", None);
            let _ = ws.close(Some(CLOSE_TOO_LARGE), Some("message too large"));
            None
        }
        WebSocketIncomingMessage::Binary(_) => {
            error(ws, "bad_message", "frames must be JSON text, not binary", None);
            None
        }
    }
}

/// A random id for a socket (64 bits, hex).
pub fn socket_id() -> Result<String, AppError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn send_text(ws: &WebSocket, text: &str) {
    if let Err(err) = ws.send_with_str(text) {
        worker::console_error!("send on a socket failed: {err}");
    }
}
