//! The Durable Object classes: thin shells that feed requests to the core
//! and carry out what it decides (store, answer, write D1, set the alarm).

mod accept_turns;
mod classes;
mod d1_outbox;
mod do_request;
mod driver;
mod driver_outbox;
mod kept_notifications;
mod notify_sockets;
mod region;
mod region_effects;
mod region_sockets;
mod ride;
mod ride_accept;
mod ride_calls;
mod ride_dispatch;
mod ride_effects;
mod ride_proofs;
mod ride_sockets;
mod ride_watchers;
mod ride_webhooks;
mod search_watch;
mod socket_frames;
mod socket_memo;
mod socket_pipeline;
mod socket_reply;
mod timer;
mod token_expiry;

/// The one clock of the shells (cores get the time passed in).
pub(crate) use crate::clock::now_ms;

/// A call's request decoded from its JSON body, as its declaration types it.
pub(crate) fn decode<C: crate::do_call::DoCall>(body: &[u8]) -> Result<C::Request, crate::error::AppError> {
    Ok(serde_json::from_slice(body)?)
}

pub use driver::DriverDo;
pub use region::RegionDo;
pub use ride::RideDo;
