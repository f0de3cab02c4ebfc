//! What every hibernatable socket carries in its attachment (as JSON text,
//! at most 2 KiB), and the steps every socket kind takes on a frame: the
//! rate limit, reading the text, parsing the message.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{WebSocket, WebSocketIncomingMessage};

use super::socket_reply::{admit, frame_error, frame_text};
use crate::core::protocol::{parse_frame, Inbound, Validate};
use crate::core::socket_rules::RateLimiter;
use crate::error::AppError;

/// A socket's attachment.
pub trait Attachment: Serialize + DeserializeOwned {
    /// The socket's rate limiter.
    fn limiter(&mut self) -> &mut RateLimiter;

    /// Reads a socket's attachment, if it is of this kind.
    fn of(ws: &WebSocket) -> Option<Self> {
        let json = ws.deserialize_attachment::<String>().ok()??;
        serde_json::from_str(&json).ok()
    }

    /// Writes the attachment back.
    fn save(&self, ws: &WebSocket) -> Result<(), AppError> {
        ws.serialize_attachment(serde_json::to_string(self)?)?;
        Ok(())
    }
}

/// Rate-limits, reads and parses one frame of `socket`; None when it was
/// dropped or refused (the client has already been answered).
pub fn read_frame<A: Attachment, T: DeserializeOwned + Validate>(
    ws: &WebSocket,
    socket: &mut A,
    message: WebSocketIncomingMessage,
    now_ms: i64,
) -> Option<Inbound<T>> {
    let admitted = admit(ws, socket.limiter(), now_ms);
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a socket's rate limit failed: {err}");
    }
    if !admitted {
        return None;
    }
    let text = frame_text(ws, message)?;
    match parse_frame::<T>(&text) {
        Ok(inbound) => Some(inbound),
        Err(err) => {
            frame_error(ws, &err);
            None
        }
    }
}
