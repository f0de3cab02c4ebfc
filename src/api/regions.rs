//! `GET /v1/regions/outline`: the dispatch region of a position with its
//! demand cells, as polygons, for maps such as the dispatcher console.

use worker::Response;

use super::request::{json, RequestContext};
use super::sockets::borrowed;
use crate::core::identity::Role;
use crate::core::query_params;
use crate::core::region_outline;
use crate::error::AppError;

/// The outline of the region of `lat`, `lng` (dispatchers).
pub fn region_outline(ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher])?;
    let pairs = ctx.query_pairs()?;
    let at = query_params::position(&borrowed(&pairs))?;
    json(200, &region_outline::region_outline(at, ctx.config.region_res)?)
}
