//! Watch links: `POST /v1/rides/{id}/watchers` (its passenger or partner),
//! `DELETE /v1/rides/{id}/watchers[/{watch_id}]`, and a watcher's socket on
//! `/v1/ws/rides/{id}` opened with a watch token (see src/watch_token.rs).

use serde::{Deserialize, Serialize};
use worker::{Env, Request, Response};

use super::proofs::random_bytes;
use super::request::{json, RequestContext};
use crate::auth::{token_from, AuthError};
use crate::config::Config;
use crate::core::identity::Role;
use crate::core::ids::is_ride_id;
use crate::core::invalid::parse_json;
use crate::core::query_params;
use crate::core::rate_limit::Limiter;
use crate::core::watchers::{is_watch_id, watch_id_from_random, WATCH_ID_RANDOM_BYTES};
use crate::error::AppError;
use crate::ride_rpc::{self, calls, NewWatcher, WatcherConnect, WatcherRevocation};
use crate::watch_token::{self, WatchClaims};

/// The answer to `POST /watchers`.
#[derive(Serialize)]
struct WatchGrant {
    watch_id: String,
    watch_token: String,
    expires_at: i64,
    ws_path: String,
}

/// `POST /watchers` takes no fields (an empty body or `{}`).
#[derive(Deserialize)]
struct NoFields {}

fn ride_id(id: &str) -> Result<(), AppError> {
    if is_ride_id(id) {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("no ride {id}")))
    }
}

/// A new watch link for the ride's passenger or partner: 201.
pub async fn add_watcher(mut ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Passenger, Role::Partner])?;
    ride_id(id)?;
    let body = ctx.body().await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        parse_json::<NoFields>(&body)?;
    }
    let watch_id = watch_id_from_random(&random_bytes::<WATCH_ID_RANDOM_BYTES>()?);
    let add = NewWatcher { caller: ctx.caller.clone(), watch_id };
    let link = ride_rpc::call::<calls::AddWatcher>(&ctx.env, id, &add).await?;
    let claims = WatchClaims::new(id, &link.id, ctx.now_ms.div_euclid(1000), link.expires_at.div_euclid(1000));
    let watch_token = watch_token::sign(&claims, ctx.config.jwt_secret.as_bytes())?;
    let grant = WatchGrant {
        watch_id: link.id,
        watch_token,
        expires_at: link.expires_at,
        ws_path: format!("/v1/ws/rides/{id}"),
    };
    json(201, &grant)
}

/// Revokes one watch link (`watch_id`) or all: 204; their sockets close (4004).
pub async fn revoke_watchers(ctx: RequestContext, id: &str, watch_id: Option<&str>) -> Result<Response, AppError> {
    ride_id(id)?;
    if watch_id.is_some_and(|w| !is_watch_id(w)) {
        return Err(AppError::NotFound("no such watcher".into()));
    }
    let revoke = WatcherRevocation { caller: ctx.caller.clone(), watch_id: watch_id.map(str::to_string) };
    ride_rpc::call::<calls::RevokeWatchers>(&ctx.env, id, &revoke).await?;
    Ok(Response::empty()?.with_status(204))
}

/// The claims of a ride socket's token when it is a watch token (`None`:
/// an ordinary token, checked as usual); an expired watch token is 401.
pub fn watch_claims(req: &Request, config: &Config, now_ms: i64) -> Result<Option<WatchClaims>, AppError> {
    let authorization = req.headers().get("Authorization")?;
    let url = req.url()?;
    let query_token = url.query_pairs().find(|(key, _)| key == "token").map(|(_, value)| value.into_owned());
    let Ok(token) = token_from(authorization.as_deref(), query_token.as_deref()) else { return Ok(None) };
    match watch_token::verify(token, config.jwt_secret.as_bytes(), now_ms.div_euclid(1000)) {
        Ok(claims) => Ok(Some(claims)),
        Err(AuthError::Expired) => Err(AppError::Unauthorized(AuthError::Expired)),
        Err(_) => Ok(None),
    }
}

/// A watcher's socket: its own ride only (403 for any other), rate limited
/// like any client, handed to the ride, which checks the link is live.
pub async fn watcher_socket(
    req: Request,
    env: Env,
    claims: WatchClaims,
    id: &str,
    now_ms: i64,
) -> Result<Response, AppError> {
    super::rate_limits::admit(&env, Limiter::Requests, &claims.sub, now_ms).await?;
    if claims.ride != id {
        return Err(AppError::forbidden("this watch link follows another ride"));
    }
    let upgrade = req.headers().get("Upgrade")?.unwrap_or_default();
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(AppError::InvalidRequest("this endpoint takes a WebSocket upgrade (Upgrade: websocket)".into()));
    }
    ride_id(id)?;
    let pairs: Vec<(String, String)> =
        req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let last_seq = query_params::last_seq(&super::sockets::borrowed(&pairs))?;
    let connect = WatcherConnect { watch_id: claims.wid, exp_s: claims.exp, last_seq };
    ride_rpc::connect_watcher(&env, id, &connect).await
}
