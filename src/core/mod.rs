//! The pure domain of ridewire: rides, drivers, identities and the rules
//! about them. Nothing here touches the `worker` crate, IO or a clock; time
//! and randomness are passed in, so every rule is tested natively.

pub mod body_limit;
pub mod busy_mark;
pub mod callback_url;
pub mod cancel_request;
pub mod commitments;
pub mod cursor;
pub mod dispatch;
pub mod driver;
pub mod driver_frames;
pub mod driver_index;
pub mod geo;
pub mod handoff;
pub mod heartbeat;
pub mod identity;
pub mod ids;
pub mod invalid;
pub mod late_driver;
pub mod lifecycle;
pub mod matching;
pub mod money;
pub mod notifications;
pub mod proof;
pub mod protocol;
pub mod query_params;
pub mod rate_limit;
pub mod region;
pub mod region_cells;
pub mod region_outline;
pub mod ride;
pub mod ride_access;
pub mod ride_input;
pub mod ride_query;
pub mod ride_request;
pub mod rounds;
pub mod socket_rules;
pub mod start_pin;
pub mod stats;
pub mod step_evidence;
pub mod strict_json;
pub mod viewers;
pub mod watchers;
pub mod webhooks;

pub use invalid::Invalid;
