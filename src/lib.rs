//! ridewire: real-time ride and delivery dispatch on Cloudflare Workers.
//!
//! The Worker (this crate's `fetch`) authenticates and routes; one Durable
//! Object per ride owns that ride; D1 is the queryable record. The domain
//! rules live in [`core`], free of the `worker` crate, IO and clocks.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod core;
pub mod db;
pub mod do_call;
pub mod do_http;
pub mod driver_rpc;
pub mod error;
pub mod region_rpc;
pub mod ride_rpc;
pub mod watch_token;

#[path = "../durable-objects/mod.rs"]
mod durable_objects;

pub use durable_objects::{DriverDo, RegionDo, RideDo};

use worker::{event, Context, Env, Request, Response, Result};

/// Installs the panic hook when the Wasm module is instantiated.
#[event(start)]
fn start() {
    // `worker` installs its own panic hook at start-up too (it flags the
    // isolate for re-initialisation): chain to it, whichever runs first.
    // `Once` because wasm-bindgen also exports `start` to JS as a function.
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let worker_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |panic| {
            console_error_panic_hook::hook(panic);
            worker_hook(panic);
        }));
    });
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    Ok(api::handle(req, env).await)
}
