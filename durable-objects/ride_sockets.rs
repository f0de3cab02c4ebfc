//! The ride socket (passenger, partner, dispatcher) held by a Ride DO:
//! `connected`, the replay of missed events, live events, and the messages
//! a rider may send.

use worker::{Env, ListOptions, Request, Response, State, WebSocket, WebSocketIncomingMessage};

use super::ride::{RideObject, LOCATION_KEY};
use super::ride_effects::event_key;
use super::socket_pipeline::{self as pipeline, Frame, NoFacts, SocketKind};
use super::socket_reply::{error, reply, send_text};
use super::token_expiry;
use crate::core::heartbeat::DEFAULT_HEARTBEAT_S;
use crate::core::identity::Role;
use crate::core::protocol::{PassengerInbound, RideOutbound};
use crate::core::ride::RideRecord;
use crate::core::socket_rules::SocketHeader;
use crate::core::stats::ReportLease;
use crate::error::AppError;
use crate::ride_rpc::{CancelRide, RiderConnect, CONNECT_HEADER};

/// The ride socket kind: a passenger's, partner's or dispatcher's socket on
/// one ride; its attachment is the header alone (the role tells them apart).
pub struct RiderKind;

impl SocketKind for RiderKind {
    type Facts = NoFacts;
    type Inbound = PassengerInbound;
    const TAG: &'static str = "rider";
    const SUB_TAG: &'static str = "sub:";
}

/// Accepts a rider's socket: `connected`, then every event after `last_seq`.
pub async fn connect(ride: &RideObject, req: &Request, now: i64) -> Result<Response, AppError> {
    let connect: RiderConnect = pipeline::identity(req, CONNECT_HEADER)?;
    let record = ride.visible_to(&connect.caller, false).await?;
    let state = ride.state();
    let holder = (connect.caller.sub.as_str(), connect.caller.role);
    let opened = pipeline::open::<RiderKind>(state, None, holder, connect.exp_s, now, NoFacts {}).await?;
    greet(state, &opened.server, &record, connect.last_seq, false).await?;
    let kept = super::kept_notifications::send_kept(ride.env(), &opened.server, &connect.caller.sub, now);
    futures::future::join(kept, report_stats(ride, &record.ride.id, now)).await;
    Ok(Response::from_websocket(opened.client)?)
}

/// A new ride socket's opening: `connected`, every event after `last_seq`
/// (for a `watcher`, as watchers see them), then the driver's latest
/// position while the ride is under way.
pub async fn greet(
    state: &State,
    ws: &WebSocket,
    record: &RideRecord,
    last_seq: Option<u64>,
    watcher: bool,
) -> Result<(), AppError> {
    let hello = RideOutbound::Connected {
        ride_id: record.ride.id.clone(),
        status: record.ride.status,
        last_seq: record.last_seq,
    };
    reply(ws, &hello, None);
    if let Some(after) = last_seq {
        replay(state, ws, after, watcher).await?;
    }
    if record.ride.driver.is_some() && !record.ride.status.is_final() {
        if let Some(latest) = state.storage().get::<String>(LOCATION_KEY).await? {
            send_text(ws, &latest);
        }
    }
    Ok(())
}

/// Sends, in order, every stored event with seq > `after` (for a
/// `watcher`, without the driver's phone).
pub async fn replay(state: &State, ws: &WebSocket, after: u64, watcher: bool) -> Result<(), AppError> {
    let start = event_key(after.saturating_add(1));
    let events = state.storage().list_with_options(ListOptions::new().prefix("event:").start(&start)).await?;
    for value in events.values() {
        let value = value.map_err(worker::Error::from)?;
        if let Some(frame) = value.as_string() {
            let event: serde_json::Value = serde_json::from_slice(frame.as_bytes())?;
            let text = event.to_string();
            send_text(ws, &if watcher { crate::core::watchers::redact_for_watcher(&text) } else { text });
        }
    }
    Ok(())
}

/// Storage key of when the ride's socket report is next renewed (only while
/// it holds sockets): an alarm that finds it due renews the report.
const STATS_RENEW_KEY: &str = "stats_renew_at";

/// Writes how many ride sockets are open for `GET /v1/stats`, leased (see
/// `core::stats`); while the ride holds sockets its alarm renews the report.
/// A failure is logged.
pub async fn report_stats(ride: &RideObject, ride_id: &str, now: i64) {
    let open: Vec<SocketHeader> =
        pipeline::open_sockets::<RiderKind>(ride.state(), None).into_iter().map(|(_, s)| s.header).collect();
    let dispatchers = open.iter().filter(|s| s.role == Role::Dispatcher).count() as u32;
    let riders = open.len() as u32 - dispatchers;
    let lease = ReportLease::new(now, heartbeat_s(ride.env()));
    let written = match ride.env().d1(crate::db::BINDING) {
        Ok(db) => crate::db::stats::save_ride_sockets(&db, ride_id, riders, dispatchers, &lease).await,
        Err(err) => Err(err.into()),
    };
    if let Err(err) = written {
        worker::console_error!("could not record ride socket stats: {err}");
    }
    let storage = ride.state().storage();
    let renewal = if open.is_empty() {
        storage.delete(STATS_RENEW_KEY).await.map(|_| ()).map_err(AppError::from)
    } else {
        match storage.put(STATS_RENEW_KEY, lease.renew_at).await {
            Ok(()) => token_expiry::wake_by(ride.state(), lease.renew_at).await,
            Err(err) => Err(err.into()),
        }
    };
    if let Err(err) = renewal {
        worker::console_error!("could not set the ride stats renewal: {err}");
    }
}

/// The alarm's renewal of the ride's socket report, once due (an earlier
/// alarm sets it again): reports afresh (a ride left with no socket, after a
/// restart say, removes its row) and deletes rows of rides whose lease lapsed
/// long ago, which no ride will report again.
pub async fn renew_stats(ride: &RideObject, now: i64) {
    let Ok(Some(renew_at)) = ride.state().storage().get::<i64>(STATS_RENEW_KEY).await else { return };
    if now < renew_at {
        if let Err(err) = token_expiry::wake_by(ride.state(), renew_at).await {
            worker::console_error!("could not set the ride stats renewal: {err}");
        }
        return;
    }
    let Ok(Some(record)) = ride.load().await else { return };
    report_stats(ride, &record.ride.id, now).await;
    let lease = ReportLease::new(now, heartbeat_s(ride.env()));
    let purged = match ride.env().d1(crate::db::BINDING) {
        Ok(db) => crate::db::stats::purge_lapsed_rides(&db, lease.purge_before()).await,
        Err(err) => Err(err.into()),
    };
    if let Err(err) = purged {
        worker::console_error!("could not purge lapsed ride socket stats: {err}");
    }
}

/// A rider socket closed: it no longer counts.
pub async fn on_gone(ride: &RideObject, ws: &WebSocket, now: i64) {
    if pipeline::closed(ws).is_none() {
        return;
    }
    if let Ok(Some(record)) = ride.load().await {
        report_stats(ride, &record.ride.id, now).await;
    }
}

/// Sends a frame to every rider socket of the ride.
pub fn broadcast(state: &State, frame: &str) {
    for ws in state.get_websockets_with_tag(RiderKind::TAG) {
        send_text(&ws, frame);
    }
    super::ride_watchers::broadcast(state, frame);
}

/// Handles one frame from a rider: the pipeline answers all but `cancel_ride`.
pub async fn on_message(ride: &RideObject, ws: &WebSocket, message: WebSocketIncomingMessage, now: i64) {
    if pipeline::is_kind::<super::ride_watchers::WatcherKind>(ride.state(), None, ws) {
        return super::ride_watchers::on_message(ride, ws, message, now).await;
    }
    match pipeline::on_frame::<RiderKind>(ride.env(), ride.state(), None, ws, message, now).await {
        Frame::Message { header, req_id, message: PassengerInbound::CancelRide { reason } } => {
            let cancel = CancelRide { caller: header.holder(), reason, req_id: req_id.clone() };
            if let Err(err) = ride.cancel(cancel).await {
                let status = err.status();
                error(ws, &status.code, &status.message, req_id.as_deref());
            }
        }
        Frame::Closed(Some(_)) => {
            if let Ok(Some(record)) = ride.load().await {
                report_stats(ride, &record.ride.id, now).await;
            }
        }
        Frame::Message { .. } | Frame::Done | Frame::Closed(None) => {}
    }
}

/// Seconds between a driver app's heartbeats (`HEARTBEAT_S`), which also
/// pace the stats leases; the default when the config cannot be read.
fn heartbeat_s(env: &Env) -> u32 {
    crate::api::config(env).map_or_else(
        |err| {
            worker::console_error!("config unreadable, heartbeat at its default: {err}");
            DEFAULT_HEARTBEAT_S
        },
        |config| config.heartbeat_s,
    )
}
