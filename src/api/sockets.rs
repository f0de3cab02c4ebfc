//! `GET /v1/ws/driver`, `/v1/ws/rides/{id}` and `/v1/ws/dispatch`: authenticate, check the
//! role and the query, then hand the socket to the Durable Object that owns it.

use worker::Response;

use super::request::RequestContext;
use crate::core::identity::Role;
use crate::core::ids::is_ride_id;
use crate::core::query_params;
use crate::core::region_cells::region_of;
use crate::db;
use crate::error::AppError;
use crate::region_rpc::{self, DispatcherConnect, DriverConnect};
use crate::ride_rpc::{self, RiderConnect};

/// A driver's socket, held by the region of its position.
pub async fn driver_socket(ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Driver])?;
    require_upgrade(&ctx)?;
    let pairs = ctx.query_pairs()?;
    let at = query_params::position(&borrowed(&pairs))?;
    let region = region_of(at, ctx.config.region_res)?;
    let name = db::drivers::name_of(&ctx.db()?, &ctx.caller.sub).await?.ok_or_else(|| {
        AppError::forbidden(format!(
            "driver {} is not registered; a dispatcher registers drivers with PUT /v1/drivers/{{id}}",
            ctx.caller.sub
        ))
    })?;
    let connect =
        DriverConnect { driver_id: ctx.caller.sub.clone(), name, exp_s: ctx.token_exp_s, location: at, region };
    region_rpc::connect_driver(&ctx.env, &connect).await
}

/// A passenger's, partner's or dispatcher's socket on one ride.
pub async fn ride_socket(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Passenger, Role::Partner, Role::Dispatcher])?;
    require_upgrade(&ctx)?;
    if !is_ride_id(id) {
        return Err(AppError::NotFound(format!("no ride {id}")));
    }
    let pairs = ctx.query_pairs()?;
    let last_seq = query_params::last_seq(&borrowed(&pairs))?;
    let connect = RiderConnect { caller: ctx.caller.clone(), exp_s: ctx.token_exp_s, last_seq };
    ride_rpc::connect_rider(&ctx.env, id, &connect).await
}

/// A dispatcher's console socket, held by the region of the position.
pub async fn dispatch_socket(ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher])?;
    require_upgrade(&ctx)?;
    let pairs = ctx.query_pairs()?;
    let at = query_params::position(&borrowed(&pairs))?;
    let region = region_of(at, ctx.config.region_res)?;
    let connect = DispatcherConnect { sub: ctx.caller.sub.clone(), exp_s: ctx.token_exp_s, region };
    region_rpc::connect_dispatcher(&ctx.env, &connect).await
}

fn require_upgrade(ctx: &RequestContext) -> Result<(), AppError> {
    let upgrade = ctx.header("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(AppError::InvalidRequest("this endpoint takes a WebSocket upgrade (Upgrade: websocket)".into()));
    }
    Ok(())
}

/// Query pairs as borrowed strings, as the core's parsers take them.
pub fn borrowed(pairs: &[(String, String)]) -> Vec<(&str, &str)> {
    pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}
