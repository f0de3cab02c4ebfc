//! The dispatch sockets of a Region DO (dispatcher consoles): a snapshot of
//! the region on open, then the live feed of its drivers and rides. Also
//! the rides of the region, as their Ride DOs report them.

use serde::{Deserialize, Serialize};
use worker::{ListOptions, Request, Response, State, WebSocket, WebSocketIncomingMessage};

use super::region::RegionDo;
use super::socket_pipeline::{self as pipeline, SocketKind};
use super::socket_reply::{reply, send_text, socket_id};
use crate::core::identity::Role;
use crate::core::protocol::{to_frame, DispatchOutbound, DispatcherInbound, SnapshotDriver, SnapshotRide};
use crate::core::socket_rules::SocketHeader;
use crate::error::AppError;
use crate::region_rpc::{DispatcherConnect, RideFeed, CONNECT_HEADER};

/// The dispatch socket kind: a dispatcher's console watching the region.
pub struct DispatcherKind;

/// A dispatch socket keeps nothing beside the header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DispatcherFacts {}

impl SocketKind for DispatcherKind {
    type Facts = DispatcherFacts;
    type Inbound = DispatcherInbound;
    const TAG: &'static str = "dispatcher";
    const SUB_TAG: &'static str = "dispatcher:";
}

/// Tag of every dispatch socket.
pub const DISPATCHER_TAG: &str = DispatcherKind::TAG;

fn ride_key(ride_id: &str) -> String {
    format!("ride:{ride_id}")
}

/// Accepts a dispatcher's socket and sends the region's snapshot.
pub async fn connect(region: &RegionDo, req: &Request, now: i64) -> Result<Response, AppError> {
    let header = req.headers().get(CONNECT_HEADER)?.ok_or_else(|| AppError::InvalidRequest("no identity".into()))?;
    let connect: DispatcherConnect = serde_json::from_str(&header)?;
    region.remember_cell(&connect.region).await?;
    let state = region.state();
    let header = SocketHeader::new(socket_id()?, &connect.sub, Role::Dispatcher, connect.exp_s, now);
    let (opened, _) = pipeline::open::<DispatcherKind>(state, header, DispatcherFacts {}).await?;
    let drivers = region.with_index(|index| {
        index
            .drivers()
            .map(|d| SnapshotDriver { id: d.id.clone(), location: d.location, available: d.available && !d.busy })
            .collect()
    });
    let snapshot = DispatchOutbound::Snapshot { drivers, rides: rides_of(state).await? };
    reply(&opened.server, &snapshot, None);
    region.report_stats(None).await;
    Ok(Response::from_websocket(opened.client)?)
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
        send_text(&ws, &frame);
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

/// Handles one frame from a dispatcher: the pipeline answers all it may send.
pub async fn on_message(region: &RegionDo, ws: &WebSocket, message: WebSocketIncomingMessage, now: i64) {
    pipeline::on_frame::<DispatcherKind>(region.env(), region.state(), ws, message, now).await;
}
