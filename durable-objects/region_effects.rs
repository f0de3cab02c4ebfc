//! Carrying out what the region core decided, in order: frames, closes and
//! attachments at once (synchronously), then storage and the alarm and the
//! calls to Driver DOs and rides, concurrently. The answers of those calls
//! are returned as the core's next inputs. Two things nobody waits for run
//! after the answer: the stats report, and a new socket's attach, whose
//! answer the region hands back to itself (`/attached`) so that a socket's
//! opening waits on no other object.

use futures::future::{join, join_all};
use worker::WebSocket;

use super::region::{RegionDo, CELL_KEY, DEMAND_KEY, RIDE_PREFIX, WATCH_PREFIX};
use super::region_sockets::{DispatcherKind, DriverKind};
use super::socket_pipeline::{self as pipeline, Attached, SocketKind};
use super::socket_reply::{close, send_text};
use super::token_expiry::wake_by;
use crate::core::identity::{Caller, Role};
use crate::core::region::{
    DriverCallOut, DriverFacts, RegionAnswer, RegionEffect, RegionInput, RideAnswer, RideCall, RideCommand,
};
use crate::do_call::DoCall;
use crate::driver_rpc::{self, AttachRequest, DetachRequest, DriverLocation};
use crate::error::AppError;
use crate::region_rpc::{self, AttachedBody};
use crate::ride_rpc::{self, calls, AcceptAnswer, CancelRide, DriverRideCommand, LockAnswer, SetViewing, StepRide};

impl RegionDo {
    /// Carries out `effects`; the answer to the call being handled goes to
    /// `answer`; returns the inputs the answers of other objects make.
    pub(crate) async fn carry_out(
        &self,
        effects: Vec<RegionEffect>,
        answer: &mut Option<RegionAnswer>,
    ) -> Vec<RegionInput> {
        let mut later = Vec::new();
        for effect in effects {
            match effect {
                RegionEffect::Send { sockets, frame } => {
                    for ws in sockets.iter().filter_map(|id| pipeline::socket_by_id(self.state(), id)) {
                        send_text(&ws, &frame);
                    }
                }
                RegionEffect::ToDispatchers { frame } => {
                    let desks = self.state().get_websockets_with_tag(DispatcherKind::TAG);
                    for ws in desks.iter().filter(|ws| pipeline::is_open(ws)) {
                        send_text(ws, &frame);
                    }
                }
                RegionEffect::Close { socket_id, code, reason } => {
                    if let Some(ws) = pipeline::socket_by_id(self.state(), &socket_id) {
                        close(&ws, code, reason);
                    }
                }
                RegionEffect::SaveFacts { socket_id, facts } => save_facts(self, &socket_id, facts),
                RegionEffect::Answer(value) => *answer = Some(value),
                other => later.push(other),
            }
        }
        let mut stored = Vec::new();
        let mut reports = Vec::new();
        let mut calls = Vec::new();
        for effect in later {
            match effect {
                RegionEffect::CallDriver { .. } | RegionEffect::CallRide(_) | RegionEffect::OfferLate { .. } => {
                    calls.push(effect)
                }
                RegionEffect::Report { .. } | RegionEffect::PurgeReports { .. } => reports.push(effect),
                _ => stored.push(effect),
            }
        }
        self.report_later(reports);
        let calls = join_all(calls.into_iter().map(|effect| self.call_out(effect)));
        let (_, inputs) = join(self.store(stored), calls).await;
        inputs.into_iter().flatten().collect()
    }

    /// Storage and the alarm, in order; a failure is logged.
    async fn store(&self, effects: Vec<RegionEffect>) {
        let storage = self.state().storage();
        for effect in effects {
            let done: Result<(), AppError> = match effect {
                RegionEffect::StoreCell(cell) => storage.put(CELL_KEY, cell).await.map_err(AppError::from),
                RegionEffect::StoreRide(ride) => match serde_json::to_string(&ride) {
                    Ok(json) => storage.put(&format!("{RIDE_PREFIX}{}", ride.id), json).await.map_err(AppError::from),
                    Err(err) => Err(err.into()),
                },
                RegionEffect::ForgetRide(ride_id) => {
                    storage.delete(&format!("{RIDE_PREFIX}{ride_id}")).await.map(|_| ()).map_err(AppError::from)
                }
                RegionEffect::StoreWatch(watch) => match serde_json::to_string(&watch) {
                    Ok(json) => {
                        storage.put(&format!("{WATCH_PREFIX}{}", watch.ride_id), json).await.map_err(AppError::from)
                    }
                    Err(err) => Err(err.into()),
                },
                RegionEffect::StoreDemand(demand) => match serde_json::to_string(&demand) {
                    Ok(json) => storage.put(DEMAND_KEY, json).await.map_err(AppError::from),
                    Err(err) => Err(err.into()),
                },
                RegionEffect::ForgetWatch(ride_id) => {
                    storage.delete(&format!("{WATCH_PREFIX}{ride_id}")).await.map(|_| ()).map_err(AppError::from)
                }
                RegionEffect::WakeAt(at) => wake_by(self.state(), at).await,
                _ => Ok(()),
            };
            if let Err(err) = done {
                worker::console_error!("region storage failed: {err}");
            }
        }
    }

    /// The region's stats row in D1, written after the answer; a failure
    /// is logged (the next report or renewal puts it right).
    fn report_later(&self, effects: Vec<RegionEffect>) {
        if effects.is_empty() {
            return;
        }
        let db = match self.env().d1(crate::db::BINDING) {
            Ok(db) => db,
            Err(err) => return worker::console_error!("no D1 for region stats: {err}"),
        };
        self.state().wait_until(async move {
            for effect in effects {
                let done = match effect {
                    RegionEffect::Report { cell, figures, lease } => {
                        crate::db::stats::save_region(&db, &cell, &figures, &lease).await
                    }
                    RegionEffect::PurgeReports { before } => crate::db::stats::purge_lapsed_regions(&db, before).await,
                    _ => Ok(()),
                };
                if let Err(err) = done {
                    worker::console_error!("could not record region stats: {err}");
                }
            }
        });
    }

    /// One call to another object; its answer as the core's next input.
    async fn call_out(&self, effect: RegionEffect) -> Option<RegionInput> {
        match effect {
            RegionEffect::CallDriver { driver_id, call } => self.call_driver(driver_id, call).await,
            RegionEffect::CallRide(call) => {
                let answer = self.call_ride(&call).await;
                Some(RegionInput::RideAnswered { call, answer })
            }
            RegionEffect::OfferLate { ride_id, candidate } => {
                let late = ride_rpc::LateDriverBody { candidate };
                if let Err(err) = ride_rpc::call::<calls::LateDriver>(self.env(), &ride_id, &late).await {
                    worker::console_error!("a late driver could not be reported to ride {ride_id}: {err}");
                }
                None
            }
            _ => None,
        }
    }

    async fn call_driver(&self, driver_id: String, call: DriverCallOut) -> Option<RegionInput> {
        let env = self.env();
        let failed = |err: AppError| worker::console_error!("a call to driver {driver_id} failed: {err}");
        match call {
            DriverCallOut::Attach { socket_id, region } => {
                let env = env.clone();
                self.state().wait_until(async move {
                    let request = AttachRequest { socket_id: socket_id.clone(), region: region.clone() };
                    let answer = driver_rpc::call::<driver_rpc::calls::Attach>(&env, &driver_id, request).await;
                    let answer =
                        answer.map_err(|err| worker::console_error!("attach of {driver_id} failed: {err}")).ok();
                    let body = AttachedBody { socket_id, answer };
                    // The region's own call; tried again once, as a socket left attaching is offered nothing.
                    for _ in 0..2 {
                        match region_rpc::ask::<region_rpc::calls::Attached>(&env, &region, &body).await {
                            Ok(_) => return,
                            Err(err) => worker::console_error!("the attach answer could not be handed back: {err}"),
                        }
                    }
                });
                None
            }
            DriverCallOut::Detach { socket_id } => {
                let request = DetachRequest { socket_id };
                let _ = driver_rpc::call::<driver_rpc::calls::Detach>(env, &driver_id, request).await.map_err(failed);
                None
            }
            DriverCallOut::Location { location, heading } => {
                let request = DriverLocation { location, heading };
                let _ = driver_rpc::call::<driver_rpc::calls::Location>(env, &driver_id, request).await.map_err(failed);
                None
            }
        }
    }

    /// A driver's command sent to its ride, and the ride's answer as a value.
    async fn call_ride(&self, call: &RideCall) -> RideAnswer {
        let env = self.env();
        let (ride_id, driver_id, req_id) = (&call.ride_id, call.driver_id.clone(), call.req_id.clone());
        let command = || DriverRideCommand { driver_id: driver_id.clone(), req_id: req_id.clone() };
        let answer = match &call.command {
            RideCommand::Lock => ride_rpc::call::<calls::Lock>(env, ride_id, &command()).await.map(|a| match a {
                LockAnswer::Locked { expires_at } => RideAnswer::Locked { expires_at },
                LockAnswer::Refused { reason } => RideAnswer::Refused(reason),
                LockAnswer::NoSuchRide => RideAnswer::NoSuchRide,
            }),
            RideCommand::Accept => ride_rpc::call::<calls::Accept>(env, ride_id, &command()).await.map(|a| match a {
                AcceptAnswer::Accepted { .. } => RideAnswer::Done,
                AcceptAnswer::Refused { reason } => RideAnswer::Refused(reason),
                AcceptAnswer::NoSuchRide => RideAnswer::NoSuchRide,
            }),
            RideCommand::Decline => done::<calls::Decline>(self, ride_id, &command()).await,
            RideCommand::Step(step, evidence) => {
                let step = StepRide { driver_id, step: *step, evidence: evidence.clone(), req_id };
                done::<calls::Step>(self, ride_id, &step).await
            }
            RideCommand::Cancel { reason } => {
                let caller = Caller { sub: driver_id, role: Role::Driver, name: None };
                done::<calls::Cancel>(self, ride_id, &CancelRide { caller, reason: reason.clone(), req_id }).await
            }
            RideCommand::View(viewing) => {
                done::<calls::Viewing>(self, ride_id, &SetViewing { driver_id, viewing: *viewing }).await
            }
        };
        answer.unwrap_or_else(|err| refusal(&err))
    }
}

/// Sends call `C` to a ride; any answer but an error is done.
async fn done<C: DoCall>(region: &RegionDo, ride_id: &str, body: &C::Request) -> Result<RideAnswer, AppError> {
    ride_rpc::call::<C>(region.env(), ride_id, body).await.map(|_| RideAnswer::Done)
}

/// A ride's error as the answer a driver gets: its protocol code, or, for a
/// failure on our side, `internal` without detail (logged here).
fn refusal(err: &AppError) -> RideAnswer {
    let status = err.status();
    if status.status >= 500 {
        worker::console_error!("a driver's ride command failed: {err}");
        let message = "something went wrong on our side; try again".to_string();
        return RideAnswer::Failed { code: "internal".into(), message };
    }
    RideAnswer::Failed { code: status.code, message: status.message }
}

/// Writes a driver socket's facts into its attachment, beside its header.
fn save_facts(region: &RegionDo, socket_id: &str, facts: DriverFacts) {
    let Some(ws): Option<WebSocket> = pipeline::socket_by_id(region.state(), socket_id) else { return };
    let Some(mut socket) = Attached::<<DriverKind as SocketKind>::Facts>::of(&ws) else { return };
    socket.facts = facts;
    if let Err(err) = socket.save(&ws) {
        worker::console_error!("saving a driver socket's facts failed: {err}");
    }
}
