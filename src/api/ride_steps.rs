//! `POST /v1/rides/{id}/decline`, `/cancel`, `/arrived`, `/start`,
//! `/complete`: the ride's own DO decides; these only check the caller.

use worker::Response;

use super::request::{json, RequestContext};
use crate::core::cancel_request::cancel_reason;
use crate::core::identity::Role;
use crate::core::ids::is_ride_id;
use crate::core::protocol::RideStep;
use crate::core::step_evidence::StepEvidence;
use crate::error::AppError;
use crate::ride_rpc::{self, calls, CancelRide, DriverRideCommand, StepRide};

fn ride_id(id: &str) -> Result<(), AppError> {
    if is_ride_id(id) {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no ride {id}")))
    }
}

/// A driver gives an offer back: 204.
pub async fn decline_ride(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Driver])?;
    ride_id(id)?;
    let command = DriverRideCommand { driver_id: ctx.caller.sub.clone(), req_id: None };
    ride_rpc::call::<calls::Decline>(&ctx.env, id, &command).await?;
    Ok(Response::empty()?.with_status(204))
}

/// Its passenger, its partner, a dispatcher or its assigned driver cancels: 200 the ride.
pub async fn cancel_ride(mut ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ride_id(id)?;
    let body = ctx.body().await?;
    let reason = cancel_reason(&body)?;
    let command = CancelRide { caller: ctx.caller.clone(), reason, req_id: None };
    let ride = ride_rpc::call::<calls::Cancel>(&ctx.env, id, &command).await?;
    json(200, &ride)
}

/// The assigned driver reports a step: 200 the ride.
pub async fn step_ride(mut ctx: RequestContext, id: &str, step: RideStep) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Driver])?;
    ride_id(id)?;
    let evidence = StepEvidence::from_body(step, &ctx.body().await?)?;
    let command = StepRide { driver_id: ctx.caller.sub.clone(), step, evidence, req_id: None };
    let ride = ride_rpc::call::<calls::Step>(&ctx.env, id, &command).await?;
    json(200, &ride)
}
