//! A Ride DO's watch links: making and revoking them (the core decides),
//! and the watchers' sockets: read-only, the same sequenced events as the
//! passenger with the driver's phone removed, closed with 4004 when their
//! link is revoked and one hour after the ride ends.

use worker::{Request, Response, State, WebSocket, WebSocketIncomingMessage};

use super::ride::{no_such_ride, RideObject};
use super::socket_pipeline::{self as pipeline, Frame, NoFacts, SocketKind};
use super::socket_reply::{close, error, send_text};
use super::{decode, token_expiry};
use crate::auth::AuthError;
use crate::core::identity::Role;
use crate::core::protocol::PassengerInbound;
use crate::core::ride::RideRecord;
use crate::core::watchers::redact_for_watcher;
use crate::error::AppError;
use crate::ride_rpc::{calls, RideCall, WatcherConnect, CONNECT_HEADER};

/// Close code: the socket's watch link was revoked.
pub const CLOSE_WATCH_REVOKED: u16 = 4004;

/// A watcher's socket on one ride; its `sub` is the watch id.
pub struct WatcherKind;

impl SocketKind for WatcherKind {
    type Facts = NoFacts;
    type Inbound = PassengerInbound;
    const TAG: &'static str = "watcher";
    const SUB_TAG: &'static str = "watch:";
}

/// Answers `AddWatcher` and `RevokeWatchers` (strangers: 404).
pub async fn serve(ride: &RideObject, call: RideCall, body: &[u8]) -> Result<Response, AppError> {
    let now = super::now_ms();
    match call {
        RideCall::AddWatcher => {
            let add = decode::<calls::AddWatcher>(body)?;
            ride.visible_to(&add.caller, false).await?;
            let link = ride.change(|r| r.add_watcher(&add.caller, add.watch_id, now))??;
            ride.runner().run(Vec::new()).await?;
            Ok(Response::from_json(&link)?.with_status(201))
        }
        RideCall::RevokeWatchers => {
            let revoke = decode::<calls::RevokeWatchers>(body)?;
            ride.visible_to(&revoke.caller, false).await?;
            let revoked = ride.change(|r| r.revoke_watchers(&revoke.caller, revoke.watch_id.as_deref()))??;
            ride.runner().run(Vec::new()).await?;
            for watch_id in &revoked {
                for (ws, _) in pipeline::open_sockets::<WatcherKind>(ride.state(), Some(watch_id)) {
                    close(&ws, CLOSE_WATCH_REVOKED, "watch link revoked");
                }
            }
            Ok(Response::from_json(&crate::do_call::Done {})?)
        }
        _ => Err(AppError::Internal("not a watcher call".into())),
    }
}

/// Accepts a watcher's socket while its link is live: `connected`, the
/// replay after `last_seq`, the driver's latest position while the ride is on.
pub async fn connect(ride: &RideObject, req: &Request, now: i64) -> Result<Response, AppError> {
    let connect: WatcherConnect = pipeline::identity(req, CONNECT_HEADER)?;
    let record = ride.load().await?.ok_or_else(no_such_ride)?;
    if !record.watchers.admits(&connect.watch_id, now) {
        return Err(AppError::Unauthorized(AuthError::WatchEnded));
    }
    let end_s = record.watchers.deadline().map(|d| d.div_euclid(1000));
    let exp_s = end_s.map_or(connect.exp_s, |end| end.min(connect.exp_s));
    let state = ride.state();
    // A watcher has no role of its own in the socket rules: its header says
    // passenger (read-only is enforced here, by kind), its sub is the watch id.
    let holder = (connect.watch_id.as_str(), Role::Passenger);
    let opened = pipeline::open::<WatcherKind>(state, None, holder, exp_s, now, NoFacts {}).await?;
    super::ride_sockets::greet(state, &opened.server, &record, connect.last_seq, true).await?;
    Ok(Response::from_websocket(opened.client)?)
}

/// Sends a ride socket frame to every watcher, the driver's phone removed.
pub fn broadcast(state: &State, frame: &str) {
    let watchers = state.get_websockets_with_tag(WatcherKind::TAG);
    if watchers.is_empty() {
        return;
    }
    let redacted = redact_for_watcher(frame);
    for ws in watchers {
        send_text(&ws, &redacted);
    }
}

/// Once the ride has ended, no watcher socket outlives the end plus an
/// hour: their expiry is brought forward and the alarm set for it.
pub async fn bound_to_end(state: &State, record: &RideRecord) {
    let Some(deadline) = record.watchers.deadline() else { return };
    let end_s = deadline.div_euclid(1000);
    let mut bounded = false;
    for (ws, mut socket) in pipeline::open_sockets::<WatcherKind>(state, None) {
        if socket.header.exp_s > end_s {
            socket.header.exp_s = end_s;
            bounded = true;
            if let Err(err) = socket.save(&ws) {
                worker::console_error!("bounding a watcher socket failed: {err}");
            }
        }
    }
    if bounded {
        if let Err(err) = token_expiry::schedule(state, end_s).await {
            worker::console_error!("could not set the watcher expiry alarm: {err}");
        }
    }
}

/// A watcher's frame: `ping` is answered (by the pipeline); anything that
/// would change the ride is refused, `forbidden`.
pub async fn on_message(ride: &RideObject, ws: &WebSocket, message: WebSocketIncomingMessage, now: i64) {
    if let Frame::Message { req_id, .. } =
        pipeline::on_frame::<WatcherKind>(ride.env(), ride.state(), None, ws, message, now).await
    {
        error(ws, "forbidden", "a watch link is read-only", req_id.as_deref());
    }
}
