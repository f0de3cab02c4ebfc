//! The Durable Object classes: thin shells that feed requests to the core
//! and carry out what it decides (store, answer, write D1, set the alarm).

mod d1_outbox;
mod ride;

pub use ride::RideDo;
