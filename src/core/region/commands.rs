//! A driver's messages: its position and availability are the region's;
//! its commands for a ride (lock, accept, decline, steps, cancel, view) go
//! to the ride's DO, whose answer comes back here: a won accept or a step
//! is announced by the ride itself, a refusal is answered on the socket
//! that asked, and a view changes what that socket views.

use super::{Region, RegionEffect};
use crate::core::geo::LatLng;
use crate::core::protocol::{error_frame, to_frame, AcceptFailure, DriverInbound, DriverOutbound, RideStep};

/// A driver's command for a ride.
#[derive(Debug, Clone, PartialEq)]
pub enum RideCommand {
    /// `request_lock`.
    Lock,
    /// `accept_ride`.
    Accept,
    /// `decline_ride`.
    Decline,
    /// `ride_status`, with its PIN or proof.
    Step(RideStep, crate::core::step_evidence::StepEvidence),
    /// `cancel_ride`.
    Cancel {
        /// Why, if the driver said.
        reason: Option<String>,
    },
    /// `view_ride` (true) or `stop_viewing` (false).
    View(bool),
}

/// A call to a ride for a driver's socket.
#[derive(Debug, Clone, PartialEq)]
pub struct RideCall {
    /// The ride.
    pub ride_id: String,
    /// The driver acting.
    pub driver_id: String,
    /// The socket that asked (its answer goes there).
    pub socket_id: String,
    /// The `req_id` to echo.
    pub req_id: Option<String>,
    /// What the driver asks.
    pub command: RideCommand,
}

/// A ride's answer to a driver's command.
#[derive(Debug, Clone, PartialEq)]
pub enum RideAnswer {
    /// Done; anything to announce the ride announced itself.
    Done,
    /// `request_lock` granted until `expires_at`.
    Locked {
        /// When the lock lapses.
        expires_at: i64,
    },
    /// A lock or an accept refused for a protocol reason.
    Refused(AcceptFailure),
    /// There is no such ride.
    NoSuchRide,
    /// Refused or failed otherwise: answered as an `error` frame.
    Failed {
        /// The error's code (`internal` for a failure on our side).
        code: String,
        /// Its text for a person.
        message: String,
    },
}

impl Region {
    /// One message from a driver socket the region knows.
    pub(super) fn driver_message(
        &mut self,
        socket_id: &str,
        req_id: Option<String>,
        message: DriverInbound,
        now: i64,
        fx: &mut Vec<RegionEffect>,
    ) {
        let Some(driver_id) = self.owners.get(socket_id).cloned() else { return };
        let (ride_id, command) = match message {
            DriverInbound::LocationUpdate { lat, lng, heading, .. } => {
                return self.location_update(socket_id, &driver_id, LatLng { lat, lng }, heading, now, fx);
            }
            DriverInbound::SetAvailable { available } => return self.set_available(&driver_id, available, fx),
            // The socket pipeline answers these.
            DriverInbound::Ping | DriverInbound::RefreshToken { .. } => return,
            DriverInbound::RequestLock { ride_id } => (ride_id, RideCommand::Lock),
            DriverInbound::AcceptRide { ride_id } => (ride_id, RideCommand::Accept),
            DriverInbound::DeclineRide { ride_id } => (ride_id, RideCommand::Decline),
            DriverInbound::RideStatus { ride_id, status, pin, proof } => {
                (ride_id, RideCommand::Step(status, crate::core::step_evidence::StepEvidence { pin, proof }))
            }
            DriverInbound::CancelRide { ride_id, reason } => (ride_id, RideCommand::Cancel { reason }),
            DriverInbound::ViewRide { ride_id } => (ride_id, RideCommand::View(true)),
            DriverInbound::StopViewing { ride_id } => (ride_id, RideCommand::View(false)),
        };
        let call = RideCall { ride_id, driver_id, socket_id: socket_id.to_string(), req_id, command };
        fx.push(RegionEffect::CallRide(call));
    }

    /// A ride answered a driver's command: refusals are answered on the
    /// socket that asked; a view is recorded on it if it is still open, and
    /// given back if it closed meanwhile.
    pub(super) fn ride_answered(&mut self, call: RideCall, answer: RideAnswer, fx: &mut Vec<RegionEffect>) {
        let req = call.req_id.as_deref();
        let ride_id = call.ride_id.clone();
        let frame = match (&call.command, answer) {
            (_, RideAnswer::Failed { code, message }) => Some(error_frame(&code, &message, req)),
            (RideCommand::Lock, RideAnswer::Locked { expires_at }) => {
                Some(to_frame(&DriverOutbound::LockAcquired { ride_id, expires_at }, req))
            }
            (RideCommand::Lock, RideAnswer::Refused(reason)) => Some(lock_failed(ride_id, reason, req)),
            (RideCommand::Lock, RideAnswer::NoSuchRide) => Some(lock_failed(ride_id, AcceptFailure::NotOffered, req)),
            (RideCommand::Accept, RideAnswer::Refused(reason)) => {
                Some(to_frame(&DriverOutbound::AcceptFailed { ride_id, reason }, req))
            }
            (RideCommand::Accept, RideAnswer::NoSuchRide) => {
                Some(to_frame(&DriverOutbound::AcceptFailed { ride_id, reason: AcceptFailure::NotOffered }, req))
            }
            (RideCommand::View(viewing), RideAnswer::Done) => {
                self.viewed(&call, *viewing, fx);
                None
            }
            _ => None,
        };
        if let Some(frame) = frame.filter(|_| self.owners.contains_key(&call.socket_id)) {
            fx.push(RegionEffect::Send { sockets: vec![call.socket_id], frame });
        }
    }

    /// The ride counted a view (or its end): the socket remembers it, so
    /// that its closing ends it. A view that lands after its socket closed
    /// is ended again, unless another socket of the driver views the ride.
    fn viewed(&mut self, call: &RideCall, viewing: bool, fx: &mut Vec<RegionEffect>) {
        let ride_id = &call.ride_id;
        let socket = self.drivers.get_mut(&call.driver_id).and_then(|d| d.sockets.get_mut(&call.socket_id));
        let Some(socket) = socket else {
            let still_viewed = self
                .drivers
                .get(&call.driver_id)
                .is_some_and(|d| d.sockets.values().any(|s| s.viewing.contains(ride_id)));
            if viewing && !still_viewed {
                fx.push(RegionEffect::CallRide(RideCall {
                    req_id: None,
                    command: RideCommand::View(false),
                    ..call.clone()
                }));
            }
            return;
        };
        socket.viewing.retain(|r| r != ride_id);
        if viewing {
            socket.viewing.push(ride_id.clone());
        }
        // The list lives in the socket's attachment, which is small: past
        // the limit the oldest view ends (unless another socket views it).
        let dropped: Vec<String> = match socket.viewing.len().checked_sub(MAX_VIEWED) {
            Some(excess) if excess > 0 => socket.viewing.drain(..excess).collect(),
            _ => Vec::new(),
        };
        for ride_id in dropped {
            let still_viewed = self
                .drivers
                .get(&call.driver_id)
                .is_some_and(|d| d.sockets.values().any(|s| s.viewing.contains(&ride_id)));
            if !still_viewed {
                let stop = RideCall { ride_id, req_id: None, command: RideCommand::View(false), ..call.clone() };
                fx.push(RegionEffect::CallRide(stop));
            }
        }
        self.save_driver(&call.driver_id, fx);
    }
}

/// Rides one socket views at once, at most: a view past it ends the oldest.
pub const MAX_VIEWED: usize = 8;

fn lock_failed(ride_id: String, reason: AcceptFailure, req: Option<&str>) -> String {
    to_frame(&DriverOutbound::LockFailed { ride_id, reason: reason.as_str().into() }, req)
}
