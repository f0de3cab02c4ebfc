//! The driver sockets of a Region DO: what each hibernatable socket carries
//! in its attachment, sending frames, a socket's attach and its going (the
//! driver offline with its last one), and the index rebuilt from them. What
//! a driver is owed across its sockets and reconnects is kept by its Driver
//! DO, not here.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use worker::{console_error, State, WebSocket};

use super::attachment::{is_open, tagged, Attachment};
use super::region::RegionDo;
use super::region_dispatch;
use crate::core::commitments::AttachAnswer;
use crate::core::driver_index::DriverIndex;
use crate::core::geo::LatLng;
use crate::core::protocol::DispatchOutbound;
use crate::core::socket_rules::RateLimiter;
use crate::driver_rpc::{self, calls, DetachRequest};
use crate::error::AppError;

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
    /// When the socket last sent a frame (0: none yet), for the heartbeat
    /// rule; written with the rate limiter, which saves on every frame anyway.
    #[serde(default)]
    pub heard_at: i64,
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

    fn heard(&mut self, now_ms: i64) {
        self.heard_at = self.heard_at.max(now_ms);
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

/// The open sockets of one driver with their attachments (not those the
/// server is closing).
pub fn sockets_of(state: &State, driver_id: &str) -> Vec<(WebSocket, DriverSocket)> {
    tagged(state, &driver_tag(driver_id)).into_iter().filter(|(ws, _)| is_open(ws)).collect()
}

/// Every driver socket of the region that is open (not closing) with its attachment.
pub fn open_driver_sockets(state: &State) -> Vec<(WebSocket, DriverSocket)> {
    tagged(state, DRIVER_TAG).into_iter().filter(|(ws, _)| is_open(ws)).collect()
}

/// The Driver DO's answer to a new socket: the busy mark and the frames
/// it is owed. Without an answer the socket is closed (1011): the app
/// reconnects rather than run without its commitments.
pub fn attached(region: &RegionDo, ws: &WebSocket, mut socket: DriverSocket, answer: Result<AttachAnswer, AppError>) {
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            console_error!("driver {} could not attach: {err}", socket.driver_id);
            close(ws, 1011, "commitments unavailable; reconnect");
            return;
        }
    };
    socket.busy_ride.clone_from(&answer.busy_ride);
    if let Err(err) = socket.save(ws) {
        console_error!("saving a driver's busy mark failed: {err}");
    }
    region.with_index(|index| index.set_busy(&socket.driver_id, answer.busy_ride.is_some()));
    for frame in &answer.frames {
        send(ws, frame);
    }
}

/// A driver socket is gone (its client closed it, it failed, or the server
/// closed it): its Driver DO is told, its viewing ends, and the driver goes
/// offline (index, `driver_offline` to dispatch sockets) once it has no
/// other open socket here. `closing`: sockets being closed along with it.
/// The caller reports the region's stats.
pub async fn gone(region: &RegionDo, gone: &DriverSocket, closing: &[String]) {
    let detach = DetachRequest { socket_id: gone.socket_id.clone() };
    if let Err(err) = driver_rpc::call::<calls::Detach>(region.env(), &gone.driver_id, detach).await {
        console_error!("telling driver {} its socket closed failed: {err}", gone.driver_id);
    }
    // Read after the call: a socket may have opened meanwhile.
    let others: Vec<DriverSocket> = sockets_of(region.state(), &gone.driver_id)
        .into_iter()
        .filter(|(_, s)| s.socket_id != gone.socket_id && !closing.contains(&s.socket_id))
        .map(|(_, s)| s)
        .collect();
    for ride_id in gone.viewing.iter().filter(|r| !others.iter().any(|s| s.viewing.contains(r))) {
        super::region_driver_messages::stop_viewing(region, &gone.driver_id, ride_id).await;
    }
    if others.is_empty() && region.with_index(|index| index.remove(&gone.driver_id)).is_some() {
        let offline = DispatchOutbound::DriverOffline { driver_id: gone.driver_id.clone() };
        region_dispatch::broadcast(region.state(), &offline);
    }
}

/// The spatial index from the attachments of every open driver socket: the
/// latest reported position of each driver wins.
pub fn rebuild_index(state: &State) -> DriverIndex {
    let mut latest: HashMap<String, DriverSocket> = HashMap::new();
    for (_, socket) in open_driver_sockets(state) {
        match latest.get(&socket.driver_id) {
            Some(known) if known.location_at >= socket.location_at => {}
            _ => {
                latest.insert(socket.driver_id.clone(), socket);
            }
        }
    }
    let mut index = DriverIndex::new();
    for socket in latest.values() {
        index.upsert(&socket.driver_id, socket.location, socket.available);
        index.set_busy(&socket.driver_id, socket.busy_ride.is_some());
    }
    index
}
