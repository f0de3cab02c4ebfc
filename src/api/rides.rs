//! `POST /v1/rides`, `GET /v1/rides/{id}` and `GET /v1/rides`.

use worker::Response;

use super::request::{json, RequestContext};
use crate::core::identity::Role;
use crate::core::ids::{is_ride_id, ride_id_from_random, RIDE_ID_RANDOM_BYTES};
use crate::core::rate_limit::Limiter;
use crate::core::ride_access::ListScope;
use crate::core::ride_query::RideQuery;
use crate::core::ride_request::NewRide;
use crate::db;
use crate::error::AppError;
use crate::ride_rpc::{self, calls, AcceptAnswer, CreateRide, DriverRideCommand, ViewRide};

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

/// Creates a ride through its own Ride DO (passengers and partners).
pub async fn create_ride(mut ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Passenger, Role::Partner])?;
    if let Some(limiter) = Limiter::ride_creation(ctx.caller.role) {
        super::rate_limits::admit(&ctx.env, limiter, &ctx.caller.sub, ctx.now_ms).await?;
    }
    let key = idempotency_key(ctx.header("Idempotency-Key")?)?;
    let body = ctx.body().await?;
    let request = NewRide::parse(&body, ctx.caller.role, ctx.config.callbacks)?;
    let fresh_id = new_ride_id()?;
    let id = match &key {
        None => fresh_id,
        Some(key) => {
            let canonical = serde_json::to_string(&request)?;
            let binding =
                db::idempotency::bind(&ctx.db()?, &ctx.caller.sub, key, &canonical, &fresh_id, ctx.now_ms).await?;
            if binding.request != canonical {
                return Err(AppError::Conflict {
                    code: "idempotency_key_reused",
                    message: "this Idempotency-Key was used with a different request".into(),
                });
            }
            binding.ride_id
        }
    };
    let create = CreateRide { id: id.clone(), request, caller: ctx.caller.clone() };
    let created = ride_rpc::call::<calls::Create>(&ctx.env, &id, &create).await?;
    let mut response = json(201, &created.ride)?;
    response.headers_mut().set("Location", &format!("/v1/rides/{id}"))?;
    if !created.created {
        response.headers_mut().set("Idempotent-Replayed", "true")?;
    }
    Ok(response)
}

/// One ride, for whoever may see it; anyone else is told it does not exist.
pub async fn get_ride(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    if !is_ride_id(id) {
        return Err(AppError::NotFound(format!("no ride {id}")));
    }
    let view = ViewRide { caller: ctx.caller.clone() };
    let ride = ride_rpc::call::<calls::View>(&ctx.env, id, &view).await?;
    json(200, &ride)
}

/// `POST /v1/rides/{id}/accept`: a driver takes a ride offered to it.
pub async fn accept_ride(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Driver])?;
    if !is_ride_id(id) {
        return Err(AppError::NotFound(format!("no ride {id}")));
    }
    let command = DriverRideCommand { driver_id: ctx.caller.sub.clone(), req_id: None };
    match ride_rpc::call::<calls::Accept>(&ctx.env, id, &command).await? {
        AcceptAnswer::Accepted { ride } => json(200, &ride),
        AcceptAnswer::Refused { reason } => Err(reason.into()),
        AcceptAnswer::NoSuchRide => Err(AppError::NotFound(format!("no ride {id}"))),
    }
}

/// The caller's rides, newest first, one page at a time.
pub async fn list_rides(ctx: RequestContext) -> Result<Response, AppError> {
    let scope = ListScope::of(&ctx.caller)
        .ok_or_else(|| AppError::forbidden(format!("a {} may not list rides", ctx.caller.role.as_str())))?;
    let pairs = ctx.query_pairs()?;
    let query = RideQuery::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
    let page = db::rides::list(&ctx.db()?, &scope, &query).await?;
    json(200, &page)
}

/// The `Idempotency-Key` header, checked: 1 to 255 visible ASCII characters.
fn idempotency_key(header: Option<String>) -> Result<Option<String>, AppError> {
    let Some(key) = header else { return Ok(None) };
    let ok = (1..=MAX_IDEMPOTENCY_KEY_CHARS).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic());
    if !ok {
        return Err(AppError::InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()));
    }
    Ok(Some(key))
}

/// A fresh ride id from the platform's cryptographic randomness.
fn new_ride_id() -> Result<String, AppError> {
    let mut bytes = [0u8; RIDE_ID_RANDOM_BYTES];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(ride_id_from_random(&bytes))
}
