//! `DriverDo`: one per driver, named `driver/{id}`. The single writer of the
//! driver's commitments (src/core/commitments.rs decides): decode a call,
//! hand it to the core's `handle`, carry out the effects, feeding the
//! answers of other objects back in as new inputs.

use std::cell::RefCell;

use futures::future::join_all;
use worker::{Env, Response, State};

use super::classes::Shell;
use super::do_request::DoRequest;
use super::{decode, now_ms};
use crate::core::commitments::{AttachAnswer, ClaimAnswer, Commitments, DriverEffect, DriverInput};
use crate::core::notifications::Reached;
use crate::do_call::Done;
use crate::driver_rpc::{calls as own, DriverCall, DriverRegions, DRIVER_PARAM};
use crate::error::AppError;
use crate::region_rpc::{self, DriverDelivery, DriverSockets, RegionCall};
use crate::ride_rpc::{self, calls, DriverPosition, DriverRideCommand, HolderQuery};

/// Storage key of the commitments.
const KEY: &str = "commitments";
/// Rounds of region answers fed back per event, at most (each round sends what the last one left).
const MAX_ROUNDS: usize = 4;

/// The Durable Object of one driver.
pub struct DriverDo {
    state: State,
    env: Env,
    /// The commitments, loaded once.
    core: RefCell<Option<Commitments>>,
}

impl Shell for DriverDo {
    fn create(state: State, env: Env) -> Self {
        DriverDo { state, env, core: RefCell::new(None) }
    }

    async fn fetch(&self, req: DoRequest) -> Response {
        self.serve(req).await.unwrap_or_else(AppError::into_response)
    }

    async fn alarm(&self) {
        if let Err(err) = self.run(DriverInput::Tick).await {
            worker::console_error!("driver alarm failed: {err}");
        }
    }
}

impl DriverDo {
    async fn serve(&self, req: DoRequest) -> std::result::Result<Response, AppError> {
        let call = DriverCall::from_path(req.path()).ok_or_else(|| AppError::NotFound("no such driver call".into()))?;
        let driver_id = req.query(DRIVER_PARAM);
        self.load(&driver_id.ok_or_else(|| AppError::InvalidRequest("a driver call names its driver".into()))?).await?;
        let body = req.bytes().await?;
        match call {
            DriverCall::Claim => {
                let request = decode::<own::Claim>(&body)?;
                let answer = self.run(DriverInput::Claim { ride_id: request.ride_id, token: request.token }).await?;
                json(
                    &answer
                        .claim
                        .ok_or_else(|| AppError::Internal("the driver core left a claim unanswered".into()))?,
                )
            }
            DriverCall::Frames => {
                let request = decode::<own::Frames>(&body)?;
                self.run(DriverInput::Frames { ride_id: request.ride_id, frames: request.frames }).await?;
                json(&Done {})
            }
            DriverCall::Attach => {
                let request = decode::<own::Attach>(&body)?;
                let input = DriverInput::Attach { socket_id: request.socket_id, region: request.region };
                json(
                    &self
                        .run(input)
                        .await?
                        .attach
                        .ok_or_else(|| AppError::Internal("the driver core left an attach unanswered".into()))?,
                )
            }
            DriverCall::Detach => {
                let request = decode::<own::Detach>(&body)?;
                self.run(DriverInput::Detach { socket_id: request.socket_id }).await?;
                json(&Done {})
            }
            DriverCall::Notify => {
                let request = decode::<own::Notify>(&body)?;
                let answer = self.run(DriverInput::Notify { id: request.id, frame: request.frame }).await?;
                json(&Reached { sockets: answer.reached })
            }
            DriverCall::Location => {
                let request = decode::<own::Location>(&body)?;
                let input = DriverInput::Location { location: request.location, heading: request.heading };
                self.run(input).await?;
                json(&Done {})
            }
            DriverCall::Regions => {
                decode::<own::Regions>(&body)?;
                let regions = self.core.borrow().as_ref().map(Commitments::regions).unwrap_or_default();
                json(&DriverRegions { regions })
            }
        }
    }

    /// Hands `input` to the core and carries out what it returns, feeding
    /// region answers back in; returns the answers the caller waits for.
    async fn run(&self, input: DriverInput) -> std::result::Result<Answers, AppError> {
        let mut answers = Answers::default();
        let mut effects = self.handle(input).await?;
        for _ in 0..MAX_ROUNDS {
            let inputs = self.carry_out(effects, &mut answers).await?;
            answers.count_reached(&inputs);
            if inputs.is_empty() {
                break;
            }
            effects = Vec::new();
            for input in inputs {
                effects.extend(self.handle(input).await?);
            }
        }
        Ok(answers)
    }

    /// The core's effects for `input`, decided synchronously on the loaded commitments.
    async fn handle(&self, input: DriverInput) -> std::result::Result<Vec<DriverEffect>, AppError> {
        self.load("").await?;
        let mut slot = self.core.borrow_mut();
        let core = slot.get_or_insert_with(Commitments::default);
        Ok(core.handle(input, now_ms()))
    }

    /// Persists first, then calls out; returns the inputs the answers make.
    async fn carry_out(
        &self,
        effects: Vec<DriverEffect>,
        answers: &mut Answers,
    ) -> std::result::Result<Vec<DriverInput>, AppError> {
        let mut deliveries = Vec::new();
        let mut others = Vec::new();
        for effect in effects {
            match effect {
                DriverEffect::Persist { wake_at } => self.persist(wake_at).await?,
                DriverEffect::AnswerClaim(answer) => answers.claim = Some(answer),
                DriverEffect::AnswerAttach(answer) => answers.attach = Some(answer),
                DriverEffect::Notified { owed } => answers.notified = Some(owed),
                DriverEffect::Deliver { region, frames, mark } => deliveries.push((region, frames, mark)),
                other => others.push(other),
            }
        }
        let driver_id = self.core.borrow().as_ref().map(|c| c.driver_id.clone()).unwrap_or_default();
        let delivered = join_all(deliveries.into_iter().map(|(region, frames, mark)| {
            let driver_id = driver_id.clone();
            async move {
                let ids: Vec<u64> = frames.iter().map(|(id, _)| *id).collect();
                let delivery = DriverDelivery { driver_id, frames: frames.into_iter().map(|(_, f)| f).collect(), mark };
                let answer: std::result::Result<DriverSockets, AppError> =
                    region_rpc::call(&self.env, &region, RegionCall::DriverFrames, &delivery).await;
                match answer {
                    Ok(sockets) => DriverInput::Delivered { region, ids, sockets: sockets.sockets },
                    Err(err) => {
                        worker::console_error!("delivery to region {region} failed: {err}");
                        DriverInput::DeliveryFailed { region }
                    }
                }
            }
        }));
        let (mut inputs, calls) = futures::future::join(delivered, self.call_rides(&driver_id, others)).await;
        inputs.extend(calls);
        Ok(inputs)
    }

    /// Relays, declines and claim checks to rides; a claim check's answer is a new input.
    async fn call_rides(&self, driver_id: &str, effects: Vec<DriverEffect>) -> Vec<DriverInput> {
        let env = &self.env;
        let calls = effects.into_iter().map(|effect| async move {
            let result: std::result::Result<Option<DriverInput>, AppError> = match effect {
                DriverEffect::Relay { ride_id, location, heading } => {
                    let position = DriverPosition { driver_id: driver_id.to_string(), location, heading };
                    ride_rpc::call::<calls::Location>(env, &ride_id, &position).await.map(|_| None)
                }
                DriverEffect::Decline { ride_id } => {
                    let command = DriverRideCommand { driver_id: driver_id.to_string(), req_id: None };
                    ride_rpc::call::<calls::Decline>(env, &ride_id, &command).await.map(|_| None)
                }
                DriverEffect::CheckClaim { ride_id } => {
                    let query = HolderQuery { driver_id: driver_id.to_string() };
                    let answer = ride_rpc::call::<calls::Holder>(env, &ride_id, &query).await;
                    answer.map(|a| Some(DriverInput::ClaimChecked { ride_id, assigned: a.assigned }))
                }
                _ => Ok(None),
            };
            result.unwrap_or_else(|err| {
                worker::console_error!("a call from driver {driver_id} to a ride failed: {err}");
                None
            })
        });
        join_all(calls).await.into_iter().flatten().collect()
    }

    /// Stores the commitments and sets the alarm in one write (no await between the two).
    async fn persist(&self, wake_at: Option<i64>) -> std::result::Result<(), AppError> {
        let json = match self.core.borrow().as_ref() {
            Some(core) => serde_json::to_string(core)?,
            None => return Ok(()),
        };
        let storage = self.state.storage();
        let put = storage.put(KEY, json);
        match wake_at {
            Some(at) => {
                let time = worker::ScheduledTime::new(worker::js_sys::Date::new(&(at as f64).into()));
                let (put, alarm) = futures::future::join(put, storage.set_alarm(time)).await;
                put?;
                alarm?;
            }
            None => put.await?,
        }
        Ok(())
    }

    /// Loads the commitments from storage once; `driver_id` names them
    /// when they are new (empty when the alarm wakes a stored object).
    async fn load(&self, driver_id: &str) -> std::result::Result<(), AppError> {
        if self.core.borrow().is_none() {
            let stored = self.state.storage().get::<String>(KEY).await?;
            let core = match stored {
                Some(json) => serde_json::from_slice(json.as_bytes())?,
                None => Commitments::default(),
            };
            self.core.borrow_mut().get_or_insert(core);
        }
        if let Some(core) = self.core.borrow_mut().as_mut().filter(|c| c.driver_id.is_empty()) {
            core.driver_id = driver_id.to_string();
        }
        Ok(())
    }
}

/// What the caller of an event waits for.
#[derive(Default)]
struct Answers {
    claim: Option<ClaimAnswer>,
    attach: Option<AttachAnswer>,
    /// The owed frame of a notification being sent.
    notified: Option<u64>,
    /// The sockets it reached.
    reached: u32,
}

impl Answers {
    /// Counts the sockets of the regions that took the notification being sent.
    fn count_reached(&mut self, inputs: &[DriverInput]) {
        let Some(owed) = self.notified else { return };
        for input in inputs {
            if let DriverInput::Delivered { ids, sockets, .. } = input {
                if ids.contains(&owed) {
                    self.reached += sockets.len() as u32;
                }
            }
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?)
}
