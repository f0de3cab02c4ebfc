//! The dispatch sockets of a Region DO (dispatcher consoles): a snapshot of
//! the region on open, then the live feed of its drivers and rides. Also
//! the rides of the region, as their Ride DOs report them.

use serde::{Deserialize, Serialize};
use worker::{ListOptions, Request, Response, State, WebSocket, WebSocketIncomingMessage, WebSocketPair};

use super::attachment::{evict_oldest, read_frame, tagged, Attachment};
use super::region::RegionDo;
use super::region_sockets::send;
use super::socket_reply::{reply, socket_id};
use super::token_expiry;
use crate::core::identity::Role;
use crate::core::protocol::{to_frame, DispatchOutbound, DispatcherInbound, SnapshotDriver, SnapshotRide};
use crate::core::socket_rules::RateLimiter;
use crate::error::AppError;
use crate::region_rpc::{DispatcherConnect, RideFeed, CONNECT_HEADER};

/// Tag of every dispatch socket.
pub const DISPATCHER_TAG: &str = "dispatcher";

fn sub_tag(sub: &str) -> String {
    format!("dispatcher:{sub}")
}

fn ride_key(ride_id: &str) -> String {
    format!("ride:{ride_id}")
}

/// What a dispatch socket carries across hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DispatcherSocket {
    socket_id: String,
    sub: String,
    exp_s: i64,
    opened_at: i64,
    limiter: RateLimiter,
}

impl Attachment for DispatcherSocket {
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

impl DispatcherSocket {
    /// This socket's id.
    pub fn id(&self) -> &str {
        &self.socket_id
    }
}

/// Accepts a dispatcher's socket and sends the region's snapshot.
pub async fn connect(region: &RegionDo, req: &Request, now: i64) -> Result<Response, AppError> {
    let header = req.headers().get(CONNECT_HEADER)?.ok_or_else(|| AppError::InvalidRequest("no identity".into()))?;
    let connect: DispatcherConnect = serde_json::from_str(&header)?;
    region.remember_cell(&connect.region).await?;
    let state = region.state();
    let tag = sub_tag(&connect.sub);
    let others: Vec<(WebSocket, DispatcherSocket)> = tagged(state, &tag);
    let pair = WebSocketPair::new()?;
    state.accept_websocket_with_tags(&pair.server, &[DISPATCHER_TAG, tag.as_str()]);
    let socket = DispatcherSocket {
        socket_id: socket_id()?,
        sub: connect.sub.clone(),
        exp_s: connect.exp_s,
        opened_at: now,
        limiter: RateLimiter::new(now),
    };
    socket.save(&pair.server)?;
    evict_oldest(&others);
    let drivers = region.with_index(|index| {
        index
            .drivers()
            .map(|d| SnapshotDriver { id: d.id.clone(), location: d.location, available: d.available && !d.busy })
            .collect()
    });
    let snapshot = DispatchOutbound::Snapshot { drivers, rides: rides_of(state).await? };
    reply(&pair.server, &snapshot, None);
    token_expiry::schedule(state, connect.exp_s).await?;
    region.report_stats(None).await;
    Ok(Response::from_websocket(pair.client)?)
}

/// The region's rides that are not over yet.
async fn rides_of(state: &State) -> Result<Vec<SnapshotRide>, AppError> {
    let stored = state.storage().list_with_options(ListOptions::new().prefix("ride:")).await?;
    let mut rides = Vec::new();
    for value in stored.values() {
        if let Some(json) = value.map_err(worker::Error::from)?.as_string() {
            rides.push(serde_json::from_str::<SnapshotRide>(&json)?);
        }
    }
    Ok(rides)
}

/// Sends a feed frame to every dispatch socket of the region.
pub fn broadcast(state: &State, message: &DispatchOutbound) {
    let sockets = state.get_websockets_with_tag(DISPATCHER_TAG);
    if sockets.is_empty() {
        return;
    }
    let frame = to_frame(message, None);
    for ws in sockets {
        send(&ws, &frame);
    }
}

/// A ride of the region was created or changed status: remember it (until
/// it is over) and tell the dispatch sockets.
pub async fn ride_feed(state: &State, feed: &RideFeed) -> Result<(), AppError> {
    let key = ride_key(&feed.ride_id);
    if feed.status.is_final() {
        state.storage().delete(&key).await?;
    } else {
        let ride = SnapshotRide { id: feed.ride_id.clone(), status: feed.status, pickup: feed.pickup.clone() };
        state.storage().put(&key, serde_json::to_string(&ride)?).await?;
    }
    let message = if feed.created {
        DispatchOutbound::RideCreated { ride_id: feed.ride_id.clone(), pickup: feed.pickup.clone() }
    } else {
        DispatchOutbound::RideStatus { ride_id: feed.ride_id.clone(), status: feed.status }
    };
    broadcast(state, &message);
    Ok(())
}

/// Handles one frame from a dispatcher.
pub async fn on_message(region: &RegionDo, ws: &WebSocket, message: WebSocketIncomingMessage, now: i64) {
    let Some(mut socket) = DispatcherSocket::of(ws) else { return };
    let Some(inbound) = read_frame::<_, DispatcherInbound>(ws, &mut socket, message, now) else { return };
    let req = inbound.req_id.as_deref();
    match inbound.message {
        DispatcherInbound::Ping => reply(ws, &DispatchOutbound::Pong { ts: now }, req),
        DispatcherInbound::RefreshToken { token } => {
            let holder = token_expiry::holder(&socket.sub, Role::Dispatcher);
            if let Some(exp_s) = token_expiry::refresh(region.env(), region.state(), ws, holder, &token, now, req).await
            {
                socket.exp_s = exp_s;
                if let Err(err) = socket.save(ws) {
                    worker::console_error!("saving a refreshed dispatcher token failed: {err}");
                }
            }
        }
    }
}
