//! What a Region DO does with each message on a driver socket: one small
//! handler per message type. Ride decisions go to the ride's own DO.

use worker::WebSocket;

use super::attachment::Attachment;
use super::region::RegionDo;
use super::region_dispatch;
use super::region_sockets::{sockets_of, DriverSocket};
use super::socket_reply::{error, reply};
use super::token_expiry;
use crate::core::geo::LatLng;
use crate::core::identity::{Caller, Role};
use crate::core::lifecycle::location_relay_due;
use crate::core::protocol::{AcceptFailure, DispatchOutbound, DriverInbound, DriverOutbound};
use crate::do_call::DoCall;
use crate::driver_rpc::{self, DriverLocation};
use crate::error::AppError;
use crate::ride_rpc::{self, calls, AcceptAnswer, CancelRide, DriverRideCommand, LockAnswer, SetViewing, StepRide};

/// Handles one parsed message from a driver.
pub async fn handle(
    region: &RegionDo,
    ws: &WebSocket,
    socket: DriverSocket,
    message: DriverInbound,
    req_id: Option<String>,
    now: i64,
) {
    let req = req_id.as_deref();
    match message {
        DriverInbound::Ping => reply(ws, &DriverOutbound::Pong { ts: now }, req),
        DriverInbound::LocationUpdate { lat, lng, heading, .. } => {
            location_update(region, ws, socket, LatLng { lat, lng }, heading, now).await
        }
        DriverInbound::SetAvailable { available } => set_available(region, &socket.driver_id, available).await,
        DriverInbound::RequestLock { ride_id } => request_lock(region, ws, &socket.driver_id, ride_id, req_id).await,
        DriverInbound::AcceptRide { ride_id } => accept_ride(region, ws, &socket.driver_id, ride_id, req_id).await,
        DriverInbound::RefreshToken { token } => refresh_token(region, ws, socket, &token, req, now).await,
        DriverInbound::DeclineRide { ride_id } => {
            let command = DriverRideCommand { driver_id: socket.driver_id.clone(), req_id: req_id.clone() };
            forward::<calls::Decline>(region, ws, &ride_id, &command, req).await;
        }
        DriverInbound::RideStatus { ride_id, status } => {
            let command = StepRide { driver_id: socket.driver_id.clone(), step: status, req_id: req_id.clone() };
            forward::<calls::Step>(region, ws, &ride_id, &command, req).await;
        }
        DriverInbound::CancelRide { ride_id, reason } => {
            let caller = Caller { sub: socket.driver_id.clone(), role: Role::Driver, name: None };
            let command = CancelRide { caller, reason, req_id: req_id.clone() };
            forward::<calls::Cancel>(region, ws, &ride_id, &command, req).await;
        }
        DriverInbound::ViewRide { ride_id } => view(region, ws, socket, ride_id, true, req).await,
        DriverInbound::StopViewing { ride_id } => view(region, ws, socket, ride_id, false, req).await,
    }
}

/// Moves the driver in the index; while it has an active ride, hands the
/// position to its Driver DO (at most once a second per socket), which relays it.
async fn location_update(
    region: &RegionDo,
    ws: &WebSocket,
    mut socket: DriverSocket,
    at: LatLng,
    heading: Option<f64>,
    now: i64,
) {
    socket.location = at;
    socket.location_at = now;
    let relay = socket.busy_ride.clone().filter(|_| location_relay_due(socket.relayed_at, now));
    if relay.is_some() {
        socket.relayed_at = now;
    }
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a driver location failed: {err}");
    }
    let available = region.with_index(|index| {
        index.upsert(&socket.driver_id, at, socket.available);
        index.get(&socket.driver_id).is_some_and(|d| d.available && !d.busy)
    });
    let moved =
        DispatchOutbound::DriverLocation { driver_id: socket.driver_id.clone(), lat: at.lat, lng: at.lng, available };
    region_dispatch::broadcast(region.state(), &moved);
    if let Err(err) = super::region_handoff::check(region, &socket.driver_id, at).await {
        worker::console_error!("region hand-off check failed: {err}");
    }
    if relay.is_some() {
        // The Driver DO relays it to the active ride, once a second per driver.
        let position = DriverLocation { location: at, heading };
        if let Err(err) =
            driver_rpc::call::<driver_rpc::calls::Location>(region.env(), &socket.driver_id, position).await
        {
            worker::console_error!("relaying {}'s location failed: {err}", socket.driver_id);
        }
    }
}

/// `view_ride` / `stop_viewing`: the ride's DO counts viewers; this socket
/// remembers what it views, so that closing it stops the viewing.
async fn view(
    region: &RegionDo,
    ws: &WebSocket,
    socket: DriverSocket,
    ride_id: String,
    viewing: bool,
    req: Option<&str>,
) {
    let command = SetViewing { driver_id: socket.driver_id.clone(), viewing };
    if let Err(err) = ride_rpc::call::<calls::Viewing>(region.env(), &ride_id, &command).await {
        return refused(ws, &err, req);
    }
    // Other events ran during the call (a busy mark, say): change the attachment as it is now.
    let Some(mut socket) = DriverSocket::of(ws) else { return };
    socket.viewing.retain(|r| *r != ride_id);
    if viewing {
        socket.viewing.push(ride_id);
    }
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a driver's viewing failed: {err}");
    }
}

/// A closed socket's viewing ends; a failure is logged.
pub async fn stop_viewing(region: &RegionDo, driver_id: &str, ride_id: &str) {
    let command = SetViewing { driver_id: driver_id.to_string(), viewing: false };
    if let Err(err) = ride_rpc::call::<calls::Viewing>(region.env(), ride_id, &command).await {
        worker::console_error!("ending {driver_id}'s viewing of {ride_id} failed: {err}");
    }
}

/// Sends a driver's ride command (call `C`) to the ride's DO; success is
/// announced by the ride's DO itself, a refusal is answered here as an `error` frame.
async fn forward<C: DoCall>(region: &RegionDo, ws: &WebSocket, ride_id: &str, body: &C::Request, req: Option<&str>) {
    if let Err(err) = ride_rpc::call::<C>(region.env(), ride_id, body).await {
        refused(ws, &err, req);
    }
}

/// A ride's refusal of a step or a view as an `error` frame with its code.
fn refused(ws: &WebSocket, err: &AppError, req: Option<&str>) {
    let status = err.status();
    if status.status >= 500 {
        return internal(ws, err, req);
    }
    error(ws, &status.code, &status.message, req);
}

async fn set_available(region: &RegionDo, driver_id: &str, available: bool) {
    for (ws, mut socket) in sockets_of(region.state(), driver_id) {
        socket.available = available;
        if let Err(err) = socket.save(&ws) {
            worker::console_error!("saving a driver's availability failed: {err}");
        }
    }
    let state = region.with_index(|index| {
        index.set_available(driver_id, available);
        index.get(driver_id).map(|d| (d.location, d.available && !d.busy))
    });
    if let Some((at, offerable)) = state {
        let changed = DispatchOutbound::DriverLocation {
            driver_id: driver_id.to_string(),
            lat: at.lat,
            lng: at.lng,
            available: offerable,
        };
        region_dispatch::broadcast(region.state(), &changed);
    }
    region.report_stats(None).await;
}

async fn request_lock(region: &RegionDo, ws: &WebSocket, driver_id: &str, ride_id: String, req_id: Option<String>) {
    let command = DriverRideCommand { driver_id: driver_id.to_string(), req_id: req_id.clone() };
    let req = req_id.as_deref();
    let reason = match ride_rpc::call::<calls::Lock>(region.env(), &ride_id, &command).await {
        Ok(LockAnswer::Locked { expires_at }) => {
            return reply(ws, &DriverOutbound::LockAcquired { ride_id, expires_at }, req);
        }
        Ok(LockAnswer::Refused { reason }) => reason,
        Ok(LockAnswer::NoSuchRide) => AcceptFailure::NotOffered,
        Err(err) => return refused(ws, &err, req),
    };
    reply(ws, &DriverOutbound::LockFailed { ride_id, reason: reason.as_str().into() }, req)
}

/// A won accept is answered by the ride's DO (`ride_assigned`, with the
/// req_id); only a refusal is answered here.
async fn accept_ride(region: &RegionDo, ws: &WebSocket, driver_id: &str, ride_id: String, req_id: Option<String>) {
    let command = DriverRideCommand { driver_id: driver_id.to_string(), req_id: req_id.clone() };
    let req = req_id.as_deref();
    let reason = match ride_rpc::call::<calls::Accept>(region.env(), &ride_id, &command).await {
        Ok(AcceptAnswer::Accepted { .. }) => return,
        Ok(AcceptAnswer::Refused { reason }) => reason,
        Ok(AcceptAnswer::NoSuchRide) => AcceptFailure::NotOffered,
        Err(err) => return refused(ws, &err, req),
    };
    reply(ws, &DriverOutbound::AcceptFailed { ride_id, reason }, req)
}

fn internal(ws: &WebSocket, err: &AppError, req: Option<&str>) {
    worker::console_error!("driver request failed: {err}");
    error(ws, "internal", "something went wrong on our side; try again", req);
}

/// `refresh_token`: a valid token for the same driver extends this socket's life.
async fn refresh_token(
    region: &RegionDo,
    ws: &WebSocket,
    socket: DriverSocket,
    token: &str,
    req: Option<&str>,
    now: i64,
) {
    let holder = Caller { sub: socket.driver_id.clone(), role: Role::Driver, name: None };
    if let Some(exp_s) = token_expiry::refresh(region.env(), region.state(), ws, holder, token, now, req).await {
        // Re-read: other events may have changed the attachment during the check.
        let Some(mut socket) = DriverSocket::of(ws) else { return };
        socket.exp_s = exp_s;
        if let Err(err) = socket.save(ws) {
            worker::console_error!("saving a refreshed driver token failed: {err}");
        }
    }
}
