//! The driver sockets of a Region DO: what each hibernatable socket carries
//! in its attachment, and sending frames. What a driver is owed across its
//! sockets and reconnects is kept by its Driver DO, not here.

use serde::{Deserialize, Serialize};
use worker::{console_error, State, WebSocket};

use super::attachment::{tagged, Attachment};
use crate::core::geo::LatLng;
use crate::core::socket_rules::RateLimiter;

/// Tag of every driver socket.
pub const DRIVER_TAG: &str = "driver";

/// Tag of the sockets of one driver.
pub fn driver_tag(driver_id: &str) -> String {
    format!("driver:{driver_id}")
}

/// What a driver socket carries across hibernation (kept small: 2 KiB max).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriverSocket {
    /// Unique per socket, to tell a driver's sockets apart.
    pub socket_id: String,
    /// The driver's id.
    pub driver_id: String,
    /// Display name.
    pub name: String,
    /// The token's `exp`, in seconds; refreshed by `refresh_token`.
    pub exp_s: i64,
    /// When the socket opened.
    pub opened_at: i64,
    /// Last reported position.
    pub location: LatLng,
    /// When it was reported.
    pub location_at: i64,
    /// Whether the driver takes offers.
    pub available: bool,
    /// The driver's active ride, while it has one.
    pub busy_ride: Option<String>,
    /// The socket's message rate limiter.
    pub limiter: RateLimiter,
    /// When this socket's position was last relayed to its active ride.
    #[serde(default)]
    pub relayed_at: i64,
    /// The offered rides this socket is viewing.
    #[serde(default)]
    pub viewing: Vec<String>,
}

impl Attachment for DriverSocket {
    fn limiter(&mut self) -> &mut RateLimiter {
        &mut self.limiter
    }

    fn socket_id(&self) -> &str {
        &self.socket_id
    }

    fn opened_at(&self) -> i64 {
        self.opened_at
    }
}

/// Sends a text frame; a socket that cannot take it is closing anyway.
pub fn send(ws: &WebSocket, frame: &str) {
    if let Err(err) = ws.send_with_str(frame) {
        console_error!("send to a driver socket failed: {err}");
    }
}

/// Closes a socket with a code and reason, ignoring a socket already gone.
pub fn close(ws: &WebSocket, code: u16, reason: &str) {
    if let Err(err) = ws.close(Some(code), Some(reason)) {
        console_error!("closing a socket failed: {err}");
    }
}

/// The open sockets of one driver with their attachments.
pub fn sockets_of(state: &State, driver_id: &str) -> Vec<(WebSocket, DriverSocket)> {
    tagged(state, &driver_tag(driver_id))
}
