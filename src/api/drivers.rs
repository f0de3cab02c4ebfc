//! `PUT /v1/drivers/{id}` and `GET /v1/drivers/{id}`: driver profiles.

use serde::Serialize;
use worker::Response;

use super::request::{json, RequestContext};
use crate::core::driver::{Driver, DriverProfile};
use crate::core::driver_index::IndexedDriver;
use crate::core::geo::LatLng;
use crate::core::identity::Role;
use crate::core::ids;
use crate::db;
use crate::do_call::Done;
use crate::driver_rpc;
use crate::error::AppError;
use crate::region_rpc::{self, DriverLookup, RegionCall};

/// A driver as the API shows it: the profile and its live state.
#[derive(Serialize)]
struct DriverView {
    #[serde(flatten)]
    driver: Driver,
    /// Whether the driver has a socket open.
    online: bool,
    /// Whether the driver takes offers; false while offline.
    available: bool,
    /// Last known position while online; null while offline.
    location: Option<LatLng>,
}

impl DriverView {
    /// The view of a driver with no socket open.
    fn offline(driver: Driver) -> DriverView {
        DriverView { driver, online: false, available: false, location: None }
    }

    /// The view with the live state its region reports, if it is online.
    fn live(driver: Driver, live: Option<IndexedDriver>) -> DriverView {
        match live {
            Some(live) => DriverView {
                driver,
                online: true,
                available: live.available && !live.busy,
                location: Some(live.location),
            },
            None => DriverView::offline(driver),
        }
    }
}

/// Creates or updates a driver's profile (dispatchers only).
pub async fn put_driver(mut ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher])?;
    let id = ids::driver_id(id)?;
    let body = ctx.body().await?;
    let profile = DriverProfile::from_json(&body)?;
    let driver = db::drivers::upsert(&ctx.db()?, &id, &profile, ctx.now_ms).await?;
    json(200, &DriverView::offline(driver))
}

/// A driver's profile, for dispatchers and for that driver.
pub async fn get_driver(ctx: RequestContext, id: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher, Role::Driver])?;
    if ctx.caller.role == Role::Driver && ctx.caller.sub != id {
        return Err(AppError::forbidden("a driver may read only its own profile"));
    }
    let id = ids::driver_id(id)?;
    let db = ctx.db()?;
    let driver = db::drivers::get(&db, &id).await?.ok_or_else(|| AppError::NotFound(format!("no driver {id}")))?;
    let live = live_state(&ctx, &id).await?;
    json(200, &DriverView::live(driver, live))
}

/// The driver's live state, from the first region its Driver DO says holds
/// a socket of it that knows the driver.
async fn live_state(ctx: &RequestContext, id: &str) -> Result<Option<IndexedDriver>, AppError> {
    let held = driver_rpc::call::<driver_rpc::calls::Regions>(&ctx.env, id, Done {}).await?;
    for region in held.regions {
        let lookup = DriverLookup { driver_id: id.to_string() };
        let live = region_rpc::call::<_, Option<IndexedDriver>>(&ctx.env, &region, RegionCall::Driver, &lookup).await?;
        if live.is_some() {
            return Ok(live);
        }
    }
    Ok(None)
}
