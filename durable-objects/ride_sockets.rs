//! The ride socket (passenger, partner, dispatcher) held by a Ride DO:
//! `connected`, the replay of missed events, live events, and the messages
//! a rider may send.

use serde::{Deserialize, Serialize};
use worker::{ListOptions, Request, Response, State, WebSocket, WebSocketIncomingMessage, WebSocketPair};

use super::attachment::{evict_oldest, heartbeat_s, is_open, read_frame, tagged, Attachment};
use super::ride::{RideDo, LOCATION_KEY};
use super::ride_effects::event_key;
use super::socket_reply::{error, reply, socket_id};
use super::token_expiry;
use crate::core::identity::{Caller, Role};
use crate::core::protocol::{PassengerInbound, RideOutbound};
use crate::core::ride_access::can_view;
use crate::core::socket_rules::RateLimiter;
use crate::core::stats::ReportLease;
use crate::error::AppError;
use crate::ride_rpc::{CancelRide, RiderConnect, CONNECT_HEADER};

/// Tag of every rider socket of the ride.
const RIDER_TAG: &str = "rider";

fn sub_tag(sub: &str) -> String {
    format!("sub:{sub}")
}

/// What a rider socket carries across hibernation.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct RiderSocket {
    socket_id: String,
    sub: String,
    role: Role,
    exp_s: i64,
    opened_at: i64,
    limiter: RateLimiter,
}

impl Attachment for RiderSocket {
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

/// Accepts a rider's socket: `connected`, then every event after `last_seq`.
pub async fn connect(ride: &RideDo, req: &Request, now: i64) -> Result<Response, AppError> {
    let header = req.headers().get(CONNECT_HEADER)?.ok_or_else(|| AppError::InvalidRequest("no identity".into()))?;
    let connect: RiderConnect = serde_json::from_str(&header)?;
    let record = ride.load().await?.ok_or_else(|| AppError::NotFound("no such ride".into()))?;
    if !can_view(&record.ride, &connect.caller, &[]) {
        return Err(AppError::NotFound("no such ride".into()));
    }
    let state = ride.state();
    let pair = WebSocketPair::new()?;
    let tag = sub_tag(&connect.caller.sub);
    let others: Vec<(WebSocket, RiderSocket)> = tagged(state, &tag);
    state.accept_websocket_with_tags(&pair.server, &[RIDER_TAG, tag.as_str()]);
    let socket = RiderSocket {
        socket_id: socket_id()?,
        sub: connect.caller.sub.clone(),
        role: connect.caller.role,
        exp_s: connect.exp_s,
        opened_at: now,
        limiter: RateLimiter::new(now),
    };
    socket.save(&pair.server)?;
    evict_oldest(&others);
    let hello = RideOutbound::Connected {
        ride_id: record.ride.id.clone(),
        status: record.ride.status,
        last_seq: record.last_seq,
    };
    reply(&pair.server, &hello, None);
    if let Some(after) = connect.last_seq {
        replay(state, &pair.server, after).await?;
    }
    if record.ride.driver.is_some() && !record.ride.status.is_final() {
        if let Some(latest) = state.storage().get::<String>(LOCATION_KEY).await? {
            super::region_sockets::send(&pair.server, &latest);
        }
    }
    super::token_expiry::schedule(state, connect.exp_s).await?;
    report_stats(ride, &record.ride.id, None, now).await;
    Ok(Response::from_websocket(pair.client)?)
}

/// Sends, in order, every stored event with seq > `after`.
async fn replay(state: &State, ws: &WebSocket, after: u64) -> Result<(), AppError> {
    let start = event_key(after.saturating_add(1));
    let events = state.storage().list_with_options(ListOptions::new().prefix("event:").start(&start)).await?;
    for value in events.values() {
        let value = value.map_err(worker::Error::from)?;
        if let Some(frame) = value.as_string() {
            let event: serde_json::Value = serde_json::from_str(&frame)?;
            super::region_sockets::send(ws, &event.to_string());
        }
    }
    Ok(())
}

/// Storage key of when the ride's socket report is next renewed (only while
/// it holds sockets): an alarm that finds it due renews the report.
const STATS_RENEW_KEY: &str = "stats_renew_at";

/// Writes how many ride sockets are open for `GET /v1/stats`, leased (see
/// `core::stats`); `closing` is a socket id no longer to count. While the
/// ride holds sockets its alarm renews the report. A failure is logged.
pub async fn report_stats(ride: &RideDo, ride_id: &str, closing: Option<&str>, now: i64) {
    let open: Vec<RiderSocket> = tagged::<RiderSocket>(ride.state(), RIDER_TAG)
        .into_iter()
        .filter(|(ws, s)| is_open(ws) && closing.is_none_or(|id| s.socket_id != id))
        .map(|(_, s)| s)
        .collect();
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
pub async fn renew_stats(ride: &RideDo, now: i64) {
    let Ok(Some(renew_at)) = ride.state().storage().get::<i64>(STATS_RENEW_KEY).await else { return };
    if now < renew_at {
        if let Err(err) = token_expiry::wake_by(ride.state(), renew_at).await {
            worker::console_error!("could not set the ride stats renewal: {err}");
        }
        return;
    }
    let Ok(Some(record)) = ride.load().await else { return };
    report_stats(ride, &record.ride.id, None, now).await;
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
pub async fn on_gone(ride: &RideDo, ws: &WebSocket, now: i64) {
    let _ = ws.close(Some(1000), Some("closed"));
    let Some(gone) = RiderSocket::of(ws) else { return };
    if let Ok(Some(record)) = ride.load().await {
        report_stats(ride, &record.ride.id, Some(&gone.socket_id), now).await;
    }
}

/// Sends a frame to every rider socket of the ride.
pub fn broadcast(state: &State, frame: &str) {
    for ws in state.get_websockets_with_tag(RIDER_TAG) {
        super::region_sockets::send(&ws, frame);
    }
}

/// Handles one frame from a rider.
pub async fn on_message(ride: &RideDo, ws: &WebSocket, message: WebSocketIncomingMessage, now: i64) {
    let Some(mut socket) = RiderSocket::of(ws) else {
        let _ = ws.close(Some(1011), Some("socket state lost; reconnect"));
        return;
    };
    let Some(inbound) = read_frame::<_, PassengerInbound>(ws, &mut socket, message, now) else { return };
    let req = inbound.req_id.as_deref();
    match inbound.message {
        PassengerInbound::Ping => reply(ws, &RideOutbound::Pong { ts: now }, req),
        PassengerInbound::RefreshToken { token } => refresh(ride, ws, socket, &token, req, now).await,
        PassengerInbound::CancelRide { reason } => {
            let caller = Caller { sub: socket.sub.clone(), role: socket.role, name: None };
            let cancel = CancelRide { caller, reason, req_id: inbound.req_id.clone() };
            if let Err(err) = ride.cancel(cancel).await {
                let status = err.status();
                error(ws, &status.code, &status.message, req);
            }
        }
    }
}

async fn refresh(ride: &RideDo, ws: &WebSocket, mut socket: RiderSocket, token: &str, req: Option<&str>, now: i64) {
    let holder = token_expiry::holder(&socket.sub, socket.role);
    if let Some(exp_s) = token_expiry::refresh(ride.env(), ride.state(), ws, holder, token, now, req).await {
        socket.exp_s = exp_s;
        if let Err(err) = socket.save(ws) {
            worker::console_error!("saving a refreshed rider token failed: {err}");
        }
    }
}
