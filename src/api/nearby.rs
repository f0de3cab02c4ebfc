//! `GET /v1/drivers/nearby`: the drivers around a point, nearest first,
//! from every region within the radius, asked concurrently.

use std::collections::HashMap;

use futures::future::join_all;
use serde::Serialize;
use worker::Response;

use super::request::{json, RequestContext};
use super::sockets::borrowed;
use crate::core::geo::LatLng;
use crate::core::identity::Role;
use crate::core::matching::merge_nearest;
use crate::core::query_params;
use crate::core::region_cells::regions_within;
use crate::error::AppError;
use crate::region_rpc::{self, NearbyDriver, NearbyQuery, RegionCall};

/// Most drivers one answer lists.
pub const MAX_NEARBY_DRIVERS: u32 = 50;

#[derive(Serialize)]
struct NearbyEntry {
    id: String,
    name: String,
    location: LatLng,
    distance_m: f64,
    available: bool,
}

/// The online drivers within `radius_km` (dispatchers and partners).
pub async fn nearby_drivers(ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher, Role::Partner])?;
    let pairs = ctx.query_pairs()?;
    let (at, radius_km) = query_params::nearby(&borrowed(&pairs), ctx.config.dispatch_radius_km)?;
    let regions = regions_within(at, radius_km, ctx.config.region_res)?;
    let query = NearbyQuery { at, radius_m: radius_km * 1000.0, limit: MAX_NEARBY_DRIVERS };
    let calls =
        regions.iter().map(|cell| region_rpc::call::<_, Vec<NearbyDriver>>(&ctx.env, cell, RegionCall::Nearby, &query));
    let mut names: HashMap<String, String> = HashMap::new();
    let mut lists = Vec::new();
    for answer in join_all(calls).await {
        let found = answer?;
        let mut list = Vec::with_capacity(found.len());
        for driver in found {
            names.insert(driver.candidate.driver_id.clone(), driver.name);
            list.push(driver.candidate);
        }
        lists.push(list);
    }
    let drivers: Vec<NearbyEntry> = merge_nearest(lists, MAX_NEARBY_DRIVERS as usize)
        .into_iter()
        .map(|c| NearbyEntry {
            name: names.get(&c.driver_id).cloned().unwrap_or_else(|| c.driver_id.clone()),
            id: c.driver_id,
            location: c.location,
            distance_m: c.distance_m.round(),
            available: c.available,
        })
        .collect();
    json(200, &serde_json::json!({ "drivers": drivers }))
}
