//! The Durable Object classes: thin shells that feed requests to the core
//! and carry out what it decides (store, answer, write D1, set the alarm).

mod d1_outbox;
mod driver;
mod driver_outbox;
mod region;
mod region_effects;
mod region_sockets;
mod ride;
mod ride_accept;
mod ride_dispatch;
mod ride_effects;
mod ride_sockets;
mod socket_pipeline;
mod socket_reply;
mod token_expiry;

pub use driver::DriverDo;
pub use region::RegionDo;
pub use ride::RideDo;
