//! `RideDo`: one per ride, named `ride/{id}`. The single writer of its ride:
//! it decides nothing itself (the core does), it stores, answers and
//! records the ride in D1 through its outbox.

use worker::{wasm_bindgen, Date, DurableObject, Env, Request, Response, Result, State};

use super::d1_outbox::D1Outbox;
use crate::core::ride::RideRecord;
use crate::core::ride_access::can_view;
use crate::error::AppError;
use crate::ride_rpc::{CreateRide, CreatedRide, RideCall, ViewRide};

/// Storage key of the ride record.
const RIDE_KEY: &str = "ride";

/// The Durable Object of one ride.
#[worker::durable_object]
pub struct RideDo {
    state: State,
    env: Env,
}

impl DurableObject for RideDo {
    fn new(state: State, env: Env) -> Self {
        RideDo { state, env }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        Ok(self.serve(req).await.unwrap_or_else(AppError::into_response))
    }

    async fn alarm(&self) -> Result<Response> {
        self.outbox().flush_or_retry_at(now_ms()).await;
        Response::empty()
    }
}

impl RideDo {
    async fn serve(&self, mut req: Request) -> std::result::Result<Response, AppError> {
        let call = RideCall::from_path(&req.path()).ok_or_else(|| AppError::NotFound("no such ride call".into()))?;
        let body = req.bytes().await?;
        match call {
            RideCall::Create => self.create(serde_json::from_slice(&body)?).await,
            RideCall::View => self.view(serde_json::from_slice(&body)?).await,
        }
    }

    /// Creates the ride once; a second create (an idempotent retry) gets the stored ride.
    async fn create(&self, cmd: CreateRide) -> std::result::Result<Response, AppError> {
        if let Some(record) = self.load().await? {
            return json(200, &CreatedRide { ride: record.ride, created: false });
        }
        let now = now_ms();
        let (record, change) = RideRecord::create(cmd.id, cmd.request, &cmd.caller, now);
        let outbox = self.outbox();
        outbox.commit(RIDE_KEY, serde_json::to_string(&record)?, change).await?;
        outbox.flush_or_retry_at(now).await;
        json(201, &CreatedRide { ride: record.ride, created: true })
    }

    /// The ride, if the caller may see it; otherwise it does not exist for them.
    async fn view(&self, cmd: ViewRide) -> std::result::Result<Response, AppError> {
        let not_found = || AppError::NotFound("no such ride".into());
        let record = self.load().await?.ok_or_else(not_found)?;
        if !can_view(&record.ride, &cmd.caller, &[]) {
            return Err(not_found());
        }
        json(200, &record.ride)
    }

    async fn load(&self) -> std::result::Result<Option<RideRecord>, AppError> {
        match self.state.storage().get::<String>(RIDE_KEY).await? {
            Some(json) => Ok(Some(serde_json::from_str(&json)?)),
            None => Ok(None),
        }
    }

    fn outbox(&self) -> D1Outbox<'_> {
        D1Outbox::new(self.state.storage(), &self.env)
    }
}

fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn json<T: serde::Serialize>(status: u16, value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?.with_status(status))
}
