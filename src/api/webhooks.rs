//! `GET /v1/rides/{id}/webhooks` and `POST /v1/rides/{id}/webhooks/redeliver`:
//! a ride's partner webhooks, for its partner and dispatchers. The ride's
//! own DO keeps the deliveries and checks that the partner is the ride's.

use worker::Response;

use super::request::{json, RequestContext};
use crate::core::identity::Role;
use crate::core::ids::is_ride_id;
use crate::error::AppError;
use crate::ride_rpc::{self, calls, ViewRide};

fn ride_id(ctx: &RequestContext, id: &str) -> Result<ViewRide, AppError> {
    ctx.require_role(&[Role::Partner, Role::Dispatcher])?;
    if !is_ride_id(id) {
        return Err(AppError::NotFound(format!("no ride {id}")));
    }
    Ok(ViewRide { caller: ctx.caller.clone() })
}

/// The delivery log: 200 `{"deliveries":[...]}`, in seq order.
pub async fn delivery_log(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    let view = ride_id(&ctx, id)?;
    json(200, &ride_rpc::call::<calls::Webhooks>(&ctx.env, id, &view).await?)
}

/// Sends the given-up deliveries again, in order: 202 with the log as it
/// now is. The request has no body (an empty JSON object is tolerated).
pub async fn redeliver(mut ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    let view = ride_id(&ctx, id)?;
    let body = ctx.body().await?;
    if !crate::core::webhooks::is_empty_body(&body) {
        return Err(AppError::InvalidRequest("redeliver takes no body".into()));
    }
    json(202, &ride_rpc::call::<calls::Redeliver>(&ctx.env, id, &view).await?)
}
