//! ridewire: real-time ride and delivery dispatch on Cloudflare Workers.
//!
//! The Worker (this crate's `fetch`) authenticates and routes; one Durable
//! Object per ride owns that ride; D1 is the queryable record. The domain
//! rules live in [`core`], free of the `worker` crate, IO and clocks.

pub mod api;
pub mod auth;
pub mod config;
pub mod core;
pub mod db;
pub mod do_http;
pub mod error;
pub mod region_rpc;
pub mod ride_rpc;

#[path = "../durable-objects/mod.rs"]
mod durable_objects;

pub use durable_objects::{RegionDo, RideDo};

use worker::{event, Context, Env, Request, Response, Result};

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(api::handle(req, env).await)
}
