//! The HTTP API: authenticate, check the role, validate, and hand the work
//! to the owner of the thing (D1 for profiles and lists, a Ride DO for a ride).

mod drivers;
mod health;
mod nearby;
mod notifications;
mod rate_limits;
pub use health::OPENAPI_JSON;
mod request;
mod ride_steps;
mod rides;
pub mod routes;
mod sockets;

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
    let route = match match_route(req.method().as_ref(), url.path()) {
        Ok(route) => route,
        Err(NoRoute::NotFound) => return Err(AppError::NotFound(format!("no such endpoint: {}", url.path()))),
        Err(NoRoute::MethodNotAllowed(allowed)) => {
            return Err(AppError::MethodNotAllowed(format!("{} is not allowed here; use {allowed}", req.method())))
        }
    };
    match route {
        Route::Health => health::health(),
        Route::OpenApi => health::openapi(),
        route => {
            let config = config(&env)?;
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
        Route::NearbyDrivers => nearby::nearby_drivers(ctx).await,
        Route::DriverSocket => sockets::driver_socket(ctx).await,
        Route::RideSocket(id) => sockets::ride_socket(ctx, &id).await,
        Route::DispatchSocket => sockets::dispatch_socket(ctx).await,
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

/// The deployment's config from the Worker's vars and secrets.
pub fn config(env: &Env) -> Result<Config, AppError> {
    Config::from_lookup(|name| lookup(env, name)).map_err(|e| AppError::Internal(e.0))
}

/// A var or secret by name, as a string.
pub fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name).ok().map(|s| s.to_string()).or_else(|| env.var(name).ok().map(|v| v.to_string()))
}
