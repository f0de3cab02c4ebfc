//! `RideDo`: one per ride, named `ride/{id}`. The single writer of its ride:
//! decode a call, hand it to the core's `handle` (src/core/ride_input.rs),
//! carry out the effects; the answers of regions and Driver DOs come back
//! into the core as new inputs.

use std::cell::RefCell;
use std::rc::{Rc, Weak};

use worker::{Env, Response, State, WebSocket, WebSocketIncomingMessage};

use super::classes::Shell;
use super::do_request::DoRequest;
use super::now_ms;
use super::ride_effects::EffectRunner;
use crate::config::Config;
use crate::core::identity::Caller;
use crate::core::protocol::{to_frame, RideOutbound};
use crate::core::ride::{Ride, RideRecord};
use crate::core::ride_access::can_view;
use crate::core::ride_input::{RideInput, RideRefusal, RideReply};
use crate::core::start_pin::PinGuard;
use crate::do_call::Done;
use crate::error::AppError;
use crate::ride_rpc::{CancelRide, CreateRide, CreatedRide, DriverPosition, ViewRide};

/// Storage key of the ride record.
pub const RIDE_KEY: &str = "ride";
/// Storage key of the latest `driver_location` frame.
pub const LOCATION_KEY: &str = "driver_location";

/// The Durable Object of one ride: the class the runtime knows, holding the
/// object's state where work that outlives a call (a round run after the
/// create was answered) can hold it too.
pub struct RideDo {
    object: Rc<RideObject>,
}

/// The state and methods of one ride's Durable Object.
pub struct RideObject {
    /// This object, for work that outlives the call that started it.
    pub(crate) me: Weak<RideObject>,
    state: State,
    env: Env,
    /// The record, loaded once; every change is decided on it synchronously
    /// (no await between reading and changing it), which makes accepts exact.
    record: RefCell<Option<RideRecord>>,
    /// Whether frames owed to drivers may be waiting in storage (unknown, so
    /// true, after a wake-up); lets a step without driver frames skip the outbox.
    pub(crate) drivers_owed: Rc<std::cell::Cell<bool>>,
    /// The record's JSON as last written or read, so that a step that
    /// changed nothing writes nothing.
    pub(crate) stored: RefCell<Option<String>>,
    /// Frames whose fast-path delivery is out (see `driver_outbox::InFlight`).
    pub(crate) fast_in_flight: super::driver_outbox::InFlight,
    /// Dispatch feed entries held for the next delivery to the pickup's region.
    pub(crate) held_feed: RefCell<Vec<crate::region_rpc::RideFeed>>,
    /// The one webhook sender of this object (see `ride_webhooks`).
    pub(crate) webhook_sender: super::ride_webhooks::Sender,
    /// Accepts take turns (see `accept_turns`).
    pub(crate) accept_turns: super::accept_turns::AcceptTurns,
}

impl Shell for RideDo {
    fn create(state: State, env: Env) -> Self {
        let object = Rc::new_cyclic(|me| RideObject {
            me: me.clone(),
            state,
            env,
            record: RefCell::new(None),
            drivers_owed: Rc::new(std::cell::Cell::new(true)),
            stored: RefCell::new(None),
            fast_in_flight: Default::default(),
            held_feed: RefCell::new(Vec::new()),
            webhook_sender: Default::default(),
            accept_turns: Default::default(),
        });
        RideDo { object }
    }

    async fn fetch(&self, req: DoRequest) -> Response {
        super::ride_calls::serve(&self.object, req).await.unwrap_or_else(AppError::into_response)
    }

    async fn alarm(&self) {
        if let Err(err) = self.object.on_alarm().await {
            worker::console_error!("ride alarm failed: {err}");
        }
    }

    async fn message(&self, ws: WebSocket, message: WebSocketIncomingMessage) {
        super::ride_sockets::on_message(&self.object, &ws, message, now_ms()).await;
    }

    async fn gone(&self, ws: WebSocket) {
        super::ride_sockets::on_gone(&self.object, &ws, now_ms()).await;
    }
}

impl RideObject {
    /// Hands `input` to the core and carries out its effects (even those of
    /// a refusal, a release say); a refusal becomes the protocol's error.
    pub(crate) async fn apply(&self, input: RideInput) -> std::result::Result<RideReply, AppError> {
        Ok(self.try_apply(input).await??)
    }

    /// Like [`Self::apply`], with the core's refusal as a value.
    pub(crate) async fn try_apply(
        &self,
        input: RideInput,
    ) -> std::result::Result<Result<RideReply, RideRefusal>, AppError> {
        self.load().await?.ok_or_else(no_such_ride)?;
        let settings = self.config()?.dispatch();
        let output = self.change(|record| record.handle(input, &settings, now_ms()))?;
        self.runner().run(output.effects).await?;
        Ok(output.reply)
    }

    /// Like [`Self::apply`], then follows a query to the regions through:
    /// their answer is the next input.
    pub(crate) async fn decide(&self, input: RideInput) -> std::result::Result<RideReply, AppError> {
        let reply = self.apply(input).await?;
        if let RideReply::Ask { round, query } = &reply {
            super::ride_dispatch::ask_regions(self, *round, query).await?;
        }
        Ok(reply)
    }

    /// Creates the ride once and answers as soon as it is stored; its first
    /// offer round goes on after the answer (the write that stored the ride
    /// stored the round's query and the alarm that recovers it). A second
    /// create (an idempotent retry) gets the stored ride, and starts its
    /// first round if that never ran.
    pub(crate) async fn create(&self, cmd: CreateRide) -> std::result::Result<Response, AppError> {
        if let Some(record) = self.load().await? {
            if record.first_round_pending(now_ms()) {
                self.decide(RideInput::NextRound).await?;
            }
            return json(200, &CreatedRide { ride: self.current()?.ride_for(&cmd.caller), created: false });
        }
        let now = now_ms();
        let (mut record, mut effects) = RideRecord::create(cmd.id, cmd.request, &cmd.caller, now);
        record.arm_start_pin(PinGuard::from_random(random_bytes()?));
        *self.record.borrow_mut() = Some(record);
        // The ride and its first round's query go out in one write; D1 and the
        // dispatch feed learn of it with the round's offers: nothing else on
        // the path to the first offer.
        let settings = self.config()?.dispatch();
        let first = self.change(|record| record.handle(RideInput::NextRound, &settings, now))?;
        effects.extend(first.effects);
        self.runner().without_d1().holding_feed().run(effects).await?;
        let answer = json(201, &CreatedRide { ride: self.current()?.ride_for(&cmd.caller), created: true });
        if let Ok(RideReply::Ask { round, query }) = first.reply {
            super::ride_dispatch::ask_later(self, round, query);
        }
        answer
    }

    /// The record, if `caller` may see the ride (a driver it was offered to
    /// too, when `offered_too`); otherwise the ride does not exist for them.
    pub(crate) async fn visible_to(
        &self,
        caller: &Caller,
        offered_too: bool,
    ) -> std::result::Result<RideRecord, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        let offered = if offered_too { record.offered_driver_ids() } else { Vec::new() };
        if !can_view(&record.ride, caller, &offered) {
            return Err(no_such_ride());
        }
        Ok(record)
    }

    /// The ride, if the caller may see it; otherwise it does not exist for them.
    pub(crate) async fn view(&self, cmd: ViewRide) -> std::result::Result<Response, AppError> {
        let record = self.visible_to(&cmd.caller, true).await?;
        json(200, &record.ride_for(&cmd.caller))
    }

    /// Cancels the ride for whoever may; strangers are told it does not exist.
    pub(crate) async fn cancel(&self, cmd: CancelRide) -> std::result::Result<Ride, AppError> {
        self.visible_to(&cmd.caller, true).await?;
        let caller = cmd.caller.clone();
        self.decide(RideInput::Cancel { caller: cmd.caller, reason: cmd.reason, req_id: cmd.req_id }).await?;
        Ok(self.current()?.ride_for(&caller))
    }

    /// The assigned driver's position (relayed by its Driver DO, once a
    /// second) reaches the ride sockets; the latest is kept for resumes.
    pub(crate) async fn relay_location(&self, position: DriverPosition) -> std::result::Result<Response, AppError> {
        let record = self.load().await?.ok_or_else(no_such_ride)?;
        if !record.relays_location_of(&position.driver_id) {
            return json(200, &Done {});
        }
        let (lat, lng, heading) = (position.location.lat, position.location.lng, position.heading);
        let frame = to_frame(&RideOutbound::DriverLocation { lat, lng, heading }, None);
        self.state.storage().put(LOCATION_KEY, frame.clone()).await?;
        super::ride_sockets::broadcast(&self.state, &frame);
        json(200, &Done {})
    }

    async fn on_alarm(&self) -> std::result::Result<(), AppError> {
        let now = now_ms();
        let runner = self.runner();
        runner.flush_outbox(now).await;
        runner.flush_drivers().await;
        super::token_expiry::close_expired(&self.state, now).await;
        super::ride_sockets::renew_stats(self, now).await;
        if self.load().await?.is_some() {
            super::ride_webhooks::on_alarm(self).await?;
            self.decide(RideInput::Tick).await?;
        }
        if let Some(deadline) = self.current().ok().and_then(|r| r.next_deadline()) {
            super::token_expiry::wake_by(&self.state, deadline).await?;
        }
        Ok(())
    }

    /// The record, from memory or storage.
    pub(crate) async fn load(&self) -> std::result::Result<Option<RideRecord>, AppError> {
        if let Some(record) = self.record.borrow().as_ref() {
            return Ok(Some(record.clone()));
        }
        let stored = match self.state.storage().get::<String>(RIDE_KEY).await? {
            Some(json) => Some(serde_json::from_slice::<RideRecord>(json.as_bytes())?),
            None => None,
        };
        let mut slot = self.record.borrow_mut();
        if slot.is_none() {
            slot.clone_from(&stored);
            *self.stored.borrow_mut() = stored.as_ref().and_then(|r| serde_json::to_string(r).ok());
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

/// Random bytes from the platform's cryptographic source.
pub(crate) fn random_bytes<const N: usize>() -> std::result::Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(bytes)
}

pub(crate) fn no_such_ride() -> AppError {
    AppError::NotFound("no such ride".into())
}

pub(crate) fn json<T: serde::Serialize>(status: u16, value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?.with_status(status))
}
