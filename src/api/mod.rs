//! The HTTP API: authenticate, check the role, validate, and hand the work
//! to the owner of the thing (D1 for profiles and lists, a Ride DO for a ride).

mod drivers;
mod health;
mod nearby;
mod notifications;
mod proofs;
mod rate_limits;
mod regions;
pub use health::OPENAPI_JSON;
pub use proofs::PROOFS_BINDING;
mod request;
mod ride_steps;
mod rides;
pub mod routes;
mod sockets;
mod watchers;
mod webhooks;

use worker::{Env, Request, Response};

use crate::config::Config;
use crate::core::rate_limit::Limiter;
use crate::error::AppError;
use routes::{match_route, NoRoute, Route};

pub use request::RequestContext;

/// Answers one HTTP request; every failure becomes the protocol's JSON error.
pub async fn handle(req: Request, env: Env) -> Response {
    let head = req.method() == worker::Method::Head;
    let response = match serve(req, env).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    };
    if head {
        // HEAD answers with the headers of GET and no body.
        return Response::empty()
            .map(|r| r.with_status(response.status_code()).with_headers(response.headers().clone()))
            .unwrap_or(response);
    }
    response
}

async fn serve(req: Request, env: Env) -> Result<Response, AppError> {
    let url = req.url()?;
    // The method as sent: `worker::Method` reads any method it does not know (QUERY, PROPFIND...) as GET.
    let method = req.inner().method();
    let route = match match_route(&method, url.path()) {
        Ok(route) => route,
        Err(NoRoute::NotFound) => return Err(AppError::NotFound(format!("no such endpoint: {}", url.path()))),
        Err(NoRoute::MethodNotAllowed(allowed)) => {
            let message = format!("{method} is not allowed here; use {allowed}");
            return Err(AppError::MethodNotAllowed { allowed, message });
        }
    };
    match route {
        Route::Health => health::health(),
        Route::OpenApi => health::openapi(),
        route => {
            let config = config(&env)?;
            if let Route::RideSocket(id) = &route {
                let now_ms = crate::clock::now_ms();
                if let Some(claims) = watchers::watch_claims(&req, &config, now_ms)? {
                    return watchers::watcher_socket(req, env, claims, id, now_ms).await;
                }
            }
            let ctx = RequestContext::new(req, env, config, is_socket(&route))?;
            rate_limits::admit(&ctx.env, Limiter::Requests, &ctx.caller.sub, ctx.now_ms).await?;
            dispatch(route, ctx).await
        }
    }
}

async fn dispatch(route: Route, ctx: RequestContext) -> Result<Response, AppError> {
    match route {
        Route::PutDriver(id) => drivers::put_driver(ctx, &id).await,
        Route::GetDriver(id) => drivers::get_driver(ctx, &id).await,
        Route::CreateRide => rides::create_ride(ctx).await,
        Route::ListRides => rides::list_rides(ctx).await,
        Route::GetRide(id) => rides::get_ride(ctx, &id).await,
        Route::AcceptRide(id) => rides::accept_ride(ctx, &id).await,
        Route::DeclineRide(id) => ride_steps::decline_ride(ctx, &id).await,
        Route::CancelRide(id) => ride_steps::cancel_ride(ctx, &id).await,
        Route::StepRide(id, step) => ride_steps::step_ride(ctx, &id, step).await,
        Route::RideWebhooks(id) => webhooks::delivery_log(ctx, &id).await,
        Route::RedeliverWebhooks(id) => webhooks::redeliver(ctx, &id).await,
        Route::PutProof(id, name) => proofs::put_proof(ctx, &id, &name).await,
        Route::GetProof(id, name) => proofs::get_proof(ctx, &id, &name).await,
        Route::AddWatcher(id) => watchers::add_watcher(ctx, &id).await,
        Route::RevokeWatchers(id, watch_id) => watchers::revoke_watchers(ctx, &id, watch_id.as_deref()).await,
        Route::NearbyDrivers => nearby::nearby_drivers(ctx).await,
        Route::DriverSocket => sockets::driver_socket(ctx).await,
        Route::RideSocket(id) => sockets::ride_socket(ctx, &id).await,
        Route::DispatchSocket => sockets::dispatch_socket(ctx).await,
        Route::RegionOutline => regions::region_outline(ctx),
        Route::SendNotification => notifications::send_notification(ctx).await,
        Route::Stats => {
            ctx.require_role(&[crate::core::identity::Role::Dispatcher])?;
            let stats = crate::db::stats::totals(&ctx.db()?).await?;
            request::json(200, &stats)
        }
        Route::Health | Route::OpenApi => Err(AppError::Internal("public route reached dispatch".into())),
    }
}

/// WebSocket routes also take the token from `?token=` (browsers cannot set headers).
fn is_socket(route: &Route) -> bool {
    matches!(route, Route::DriverSocket | Route::RideSocket(_) | Route::DispatchSocket)
}

thread_local! {
    /// The config as first read in this isolate: vars and secrets are fixed
    /// for an isolate's life (a new deployment or a changed secret starts new
    /// isolates), and reading them back costs about 28 calls into JavaScript.
    static CONFIG: std::cell::OnceCell<Config> = const { std::cell::OnceCell::new() };
}

/// The deployment's config from the Worker's vars and secrets, read once
/// per isolate (an invalid config is not kept: each call reports it).
pub fn config(env: &Env) -> Result<Config, AppError> {
    if let Some(config) = CONFIG.with(|cell| cell.get().cloned()) {
        return Ok(config);
    }
    let config = Config::from_lookup(|name| lookup(env, name)).map_err(|e| AppError::Internal(e.0))?;
    CONFIG.with(|cell| cell.set(config.clone()).ok());
    Ok(config)
}

/// A var or secret by name, as a string.
pub fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
}
