//! What every hibernatable socket carries in its attachment (as JSON text,
//! at most 2 KiB), and the steps every socket kind takes on a frame: the
//! rate limit, noting the frame was heard, reading the text, parsing the
//! message.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{web_sys, State, WebSocket, WebSocketIncomingMessage};

use super::socket_reply::{admit, frame_error, frame_text, FrameText};
use crate::core::protocol::{parse_frame, Inbound, Validate};
use crate::core::socket_rules::{sockets_to_evict, RateLimiter, CLOSE_REPLACED, MAX_SOCKETS_PER_SUB};
use crate::error::AppError;

/// A socket's attachment.
pub trait Attachment: Serialize + DeserializeOwned {
    /// The socket's rate limiter.
    fn limiter(&mut self) -> &mut RateLimiter;

    /// The socket's unique id.
    fn socket_id(&self) -> &str;

    /// When the socket opened.
    fn opened_at(&self) -> i64;

    /// Notes that the socket sent a frame at `now_ms`; only driver sockets,
    /// which the heartbeat rule watches, keep it.
    fn heard(&mut self, _now_ms: i64) {}

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

/// The open sockets tagged `tag` that carry an attachment of kind `A`.
pub fn tagged<A: Attachment>(state: &State, tag: &str) -> Vec<(WebSocket, A)> {
    state.get_websockets_with_tag(tag).into_iter().filter_map(|ws| A::of(&ws).map(|a| (ws, a))).collect()
}

/// Whether a socket is open: one the server has closed may still be listed
/// by the runtime until the client answers (a silent client never does).
pub fn is_open(ws: &WebSocket) -> bool {
    let raw: &web_sys::WebSocket = ws.as_ref();
    raw.ready_state() == web_sys::WebSocket::OPEN
}

/// Once a new socket of a `sub` is open, keeps at most five: the oldest of
/// its `others` are closed with 4002. The new socket is never the one closed.
pub fn evict_oldest<A: Attachment>(others: &[(WebSocket, A)]) {
    let open: Vec<(String, i64)> = others.iter().map(|(_, a)| (a.socket_id().to_string(), a.opened_at())).collect();
    for evicted in sockets_to_evict(&open, MAX_SOCKETS_PER_SUB - 1) {
        if let Some((ws, _)) = others.iter().find(|(_, a)| a.socket_id() == evicted) {
            let _ = ws.close(Some(CLOSE_REPLACED), Some("replaced by a newer connection"));
        }
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
    // Any frame is heard, even one dropped or refused below.
    socket.heard(now_ms);
    let admitted = admit(ws, socket.limiter(), now_ms);
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a socket's rate limit and heartbeat failed: {err}");
    }
    if admitted != Some(true) {
        return None;
    }
    let FrameText::Text(text) = frame_text(ws, message) else { return None };
    match parse_frame::<T>(&text) {
        Ok(inbound) => Some(inbound),
        Err(err) => {
            frame_error(ws, &err);
            None
        }
    }
}
