//! `RideDo`: one per ride, named `ride/{id}`. The single writer of its ride:
//! the core decides (creation, rounds, lock, accept); this shell loads and
//! stores the record, answers, and carries out the effects.

use std::cell::RefCell;

use worker::{
    wasm_bindgen, Date, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
};

use super::ride_effects::EffectRunner;
use crate::config::Config;
use crate::core::commitments::ClaimAnswer;
use crate::core::dispatch::ClaimResult;
use crate::core::lifecycle::StepError;
use crate::core::protocol::{to_frame, AcceptFailure, RideOutbound};
use crate::core::ride::{AssignedDriver, Ride, RideRecord};
use crate::core::ride_access::can_view;
use crate::db;
use crate::driver_rpc::{self, calls, ClaimRequest};
use crate::error::AppError;
use crate::ride_rpc::{
    CancelRide, CreateRide, CreatedRide, DriverPosition, DriverRideCommand, HolderAnswer, HolderQuery, RideCall,
    StepRide, ViewRide, Viewing,
};

/// Storage key of the ride record.
pub const RIDE_KEY: &str = "ride";
/// Storage key of the latest `driver_location` frame.
pub const LOCATION_KEY: &str = "driver_location";

/// The Durable Object of one ride.
#[worker::durable_object]
pub struct RideDo {
    state: State,
    env: Env,
    /// The record, loaded once; every change is decided on it synchronously
    /// (no await between reading and changing it), which makes accepts exact.
    record: RefCell<Option<RideRecord>>,
}

impl DurableObject for RideDo {
    fn new(state: State, env: Env) -> Self {
        RideDo { state, env, record: RefCell::new(None) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        Ok(self.serve(req).await.unwrap_or_else(AppError::into_response))
    }

    async fn alarm(&self) -> Result<Response> {
        if let Err(err) = self.on_alarm().await {
            worker::console_error!("ride alarm failed: {err}");
        }
        Response::empty()
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        super::ride_sockets::on_message(self, &ws, message, now_ms()).await;
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _clean: bool) -> Result<()> {
        super::ride_sockets::on_gone(self, &ws, now_ms()).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        super::ride_sockets::on_gone(self, &ws, now_ms()).await;
        Ok(())
    }
}

impl RideDo {
    async fn serve(&self, mut req: Request) -> std::result::Result<Response, AppError> {
        let call = RideCall::from_path(&req.path()).ok_or_else(|| AppError::NotFound("no such ride call".into()))?;
        if call == RideCall::ConnectRider {
            return super::ride_sockets::connect(self, &req, now_ms()).await;
        }
        let body = req.bytes().await?;
        match call {
            RideCall::Create => self.create(serde_json::from_slice(&body)?).await,
            RideCall::View => self.view(serde_json::from_slice(&body)?).await,
            RideCall::Accept => self.accept(serde_json::from_slice(&body)?).await,
            RideCall::Lock => self.lock(serde_json::from_slice(&body)?).await,
            RideCall::Decline => self.decline(serde_json::from_slice(&body)?).await,
            RideCall::Cancel => {
                let ride = self.cancel(serde_json::from_slice(&body)?).await?;
                json(200, &ride)
            }
            RideCall::Step => self.step(serde_json::from_slice(&body)?).await,
            RideCall::Location => self.relay_location(serde_json::from_slice(&body)?).await,
            RideCall::Viewing => {
                let cmd: Viewing = serde_json::from_slice(&body)?;
                self.load().await?.ok_or_else(no_such_ride)?;
                let effects = self.change(|record| record.set_viewing(&cmd.driver_id, cmd.viewing, now_ms()))?;
                self.runner().run(effects.map_err(step_refused)?).await?;
                Ok(Response::empty()?.with_status(204))
            }
            RideCall::Holder => {
                let query: HolderQuery = serde_json::from_slice(&body)?;
                let assigned = self.load().await?.is_some_and(|record| record.holds_driver(&query.driver_id));
                json(200, &HolderAnswer { assigned })
            }
            RideCall::ConnectRider => Err(AppError::Internal("socket call reached the JSON path".into())),
        }
    }

    /// Creates the ride once, then starts its first offer round; a second
    /// create (an idempotent retry) gets the stored ride.
    async fn create(&self, cmd: CreateRide) -> std::result::Result<Response, AppError> {
        if let Some(record) = self.load().await? {
            return json(200, &CreatedRide { ride: record.ride, created: false });
        }
        let (record, effects) = RideRecord::create(cmd.id, cmd.request, &cmd.caller, now_ms());
        *self.record.borrow_mut() = Some(record);
        self.runner().run(effects).await?;
        super::ride_dispatch::run_round(self).await?;
        let ride = self.current()?.ride;
        json(201, &CreatedRide { ride, created: true })
    }

    /// The ride, if the caller may see it; otherwise it does not exist for them.
    async fn view(&self, cmd: ViewRide) -> std::result::Result<Response, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        if !can_view(&record.ride, &cmd.caller, &record.offered_driver_ids()) {
            return Err(no_such_ride());
        }
        json(200, &record.ride)
    }

    /// `request_lock`: the lock, or the reason it is refused.
    async fn lock(&self, cmd: DriverRideCommand) -> std::result::Result<Response, AppError> {
        self.load().await?.ok_or_else(no_such_ride)?;
        let settings = self.config()?.dispatch();
        let lock = self.change(|record| record.request_lock(&cmd.driver_id, &settings, now_ms()))?;
        let lock = lock.map_err(refused)?;
        self.runner().run(Vec::new()).await?;
        json(200, &lock)
    }

    /// `accept_ride` / `POST /accept`: the driver's Driver DO claims the
    /// driver first (one active ride each); its answer comes back into the
    /// core, which checks the ride again. The first valid accept wins.
    async fn accept(&self, cmd: DriverRideCommand) -> std::result::Result<Response, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        if let Some(refusal) = record.accept_refusal(&cmd.driver_id, now_ms()) {
            return Err(refused(refusal));
        }
        let claim = ClaimRequest { ride_id: record.ride.id.clone() };
        let (claim, profile) = futures::future::join(
            driver_rpc::call::<calls::Claim>(&self.env, &cmd.driver_id, claim),
            self.profile_of(&cmd.driver_id),
        )
        .await;
        let (claim, profile) = match (claim, profile) {
            (Ok(claim), Ok(profile)) => (claim, profile),
            (claim, profile) => {
                // The claim may have been made: the ride will not record it.
                let effects = self.change(|record| record.claim_lost(&cmd.driver_id))?;
                self.runner().run(effects).await?;
                return Err(claim.err().or(profile.err()).unwrap_or_else(|| AppError::Internal("claim".into())));
            }
        };
        let claim = match claim {
            ClaimAnswer::Claimed => ClaimResult::Claimed,
            ClaimAnswer::Busy { .. } => ClaimResult::Busy,
        };
        let (result, effects) =
            self.change(|record| record.accept_claimed(profile, claim, cmd.req_id.clone(), now_ms()))?;
        self.runner().run(effects).await?;
        result.map_err(refused)?;
        json(200, &self.current()?.ride)
    }

    /// `decline_ride` / `POST /decline`; a round everyone declined moves on at once.
    async fn decline(&self, cmd: DriverRideCommand) -> std::result::Result<Response, AppError> {
        self.load().await?.ok_or_else(no_such_ride)?;
        let effects = self.change(|record| record.decline(&cmd.driver_id, now_ms()))?.map_err(step_refused)?;
        if self.runner().run(effects).await? {
            super::ride_dispatch::run_round(self).await?;
        }
        Ok(Response::empty()?.with_status(204))
    }

    /// Cancels the ride for whoever may; strangers are told it does not exist.
    pub(crate) async fn cancel(&self, cmd: CancelRide) -> std::result::Result<Ride, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        if !can_view(&record.ride, &cmd.caller, &record.offered_driver_ids()) {
            return Err(no_such_ride());
        }
        let effects =
            self.change(|record| record.cancel(&cmd.caller, cmd.reason.clone(), cmd.req_id.clone(), now_ms()))?;
        self.runner().run(effects.map_err(step_refused)?).await?;
        Ok(self.current()?.ride)
    }

    /// `ride_status` / `POST /arrived|/start|/complete` by the assigned driver.
    async fn step(&self, cmd: StepRide) -> std::result::Result<Response, AppError> {
        self.load().await?.ok_or_else(no_such_ride)?;
        let effects = self.change(|record| record.step(&cmd.driver_id, cmd.step, cmd.req_id.clone(), now_ms()))?;
        self.runner().run(effects.map_err(step_refused)?).await?;
        json(200, &self.current()?.ride)
    }

    /// The assigned driver's position reaches the ride sockets (the region
    /// throttles it to once a second); the latest is kept for resumes.
    async fn relay_location(&self, position: DriverPosition) -> std::result::Result<Response, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        if !record.relays_location_of(&position.driver_id) {
            return Ok(Response::empty()?.with_status(204));
        }
        let frame = to_frame(
            &RideOutbound::DriverLocation {
                lat: position.location.lat,
                lng: position.location.lng,
                heading: position.heading,
            },
            None,
        );
        self.state.storage().put(LOCATION_KEY, frame.clone()).await?;
        super::ride_sockets::broadcast(&self.state, &frame);
        Ok(Response::empty()?.with_status(204))
    }

    async fn on_alarm(&self) -> std::result::Result<(), AppError> {
        let now = now_ms();
        let runner = self.runner();
        runner.flush_outbox(now).await;
        runner.flush_drivers().await;
        super::token_expiry::close_expired(&self.state, now).await;
        if self.load().await?.is_some_and(|r| r.round_timed_out(now)) {
            super::ride_dispatch::run_round(self).await?;
        }
        if let Some(deadline) = self.current().ok().and_then(|r| r.next_deadline()) {
            super::token_expiry::wake_by(&self.state, deadline).await?;
        }
        Ok(())
    }

    /// The driver's profile as the passenger will see it.
    async fn profile_of(&self, driver_id: &str) -> std::result::Result<AssignedDriver, AppError> {
        let driver = db::drivers::get(&self.env.d1(db::BINDING)?, driver_id).await?;
        let driver = driver.ok_or_else(|| AppError::Forbidden {
            code: "not_offered",
            message: format!("driver {driver_id} is not registered"),
        })?;
        Ok(AssignedDriver {
            id: driver.id,
            name: driver.profile.name,
            phone: driver.profile.phone,
            vehicle: driver.profile.vehicle,
            rating: driver.profile.rating,
        })
    }

    /// The record, from memory or storage.
    pub(crate) async fn load(&self) -> std::result::Result<Option<RideRecord>, AppError> {
        if let Some(record) = self.record.borrow().as_ref() {
            return Ok(Some(record.clone()));
        }
        let stored = match self.state.storage().get::<String>(RIDE_KEY).await? {
            Some(json) => Some(serde_json::from_str::<RideRecord>(&json)?),
            None => None,
        };
        let mut slot = self.record.borrow_mut();
        if slot.is_none() {
            slot.clone_from(&stored);
        }
        Ok(slot.clone())
    }

    /// The loaded record (after [`Self::load`]).
    pub(crate) fn current(&self) -> std::result::Result<RideRecord, AppError> {
        self.record.borrow().clone().ok_or_else(no_such_ride)
    }

    /// Applies `f` to the loaded record, synchronously.
    pub(crate) fn change<R>(&self, f: impl FnOnce(&mut RideRecord) -> R) -> std::result::Result<R, AppError> {
        let mut slot = self.record.borrow_mut();
        let record = slot.as_mut().ok_or_else(no_such_ride)?;
        Ok(f(record))
    }

    pub(crate) fn runner(&self) -> EffectRunner<'_> {
        EffectRunner::new(self)
    }

    pub(crate) fn config(&self) -> std::result::Result<Config, AppError> {
        crate::api::config(&self.env)
    }

    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    pub(crate) fn env(&self) -> &Env {
        &self.env
    }
}

/// The HTTP error of a refused lifecycle step.
fn step_refused(err: StepError) -> AppError {
    match err {
        StepError::Forbidden(message) => AppError::forbidden(message),
        StepError::InvalidTransition { .. } => {
            AppError::Conflict { code: "invalid_transition", message: err.to_string() }
        }
        StepError::Refused(failure) => refused(failure),
    }
}

/// The HTTP error of a refused accept or lock.
fn refused(failure: AcceptFailure) -> AppError {
    let message = match failure {
        AcceptFailure::RideTaken => "another driver took this ride",
        AcceptFailure::RideLocked => "another driver holds the accept lock",
        AcceptFailure::RideClosed => "the ride was cancelled or expired",
        AcceptFailure::NotOffered => "this ride was not offered to you",
        AcceptFailure::DriverBusy => "you have another active ride",
        AcceptFailure::LockLimit => "you held the accept lock as long as you may in a row",
    };
    match failure {
        AcceptFailure::RideTaken | AcceptFailure::RideLocked | AcceptFailure::DriverBusy | AcceptFailure::LockLimit => {
            AppError::Conflict { code: failure.as_str(), message: message.into() }
        }
        AcceptFailure::RideClosed => AppError::Gone { code: failure.as_str(), message: message.into() },
        AcceptFailure::NotOffered => AppError::Forbidden { code: failure.as_str(), message: message.into() },
    }
}

fn no_such_ride() -> AppError {
    AppError::NotFound("no such ride".into())
}

pub(crate) fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn json<T: serde::Serialize>(status: u16, value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?.with_status(status))
}
