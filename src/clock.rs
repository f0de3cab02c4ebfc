//! The one clock of the Worker and the Durable Objects (cores get the time
//! passed in): `Date.now()`, a static call. `worker::Date::now()` builds a
//! `Date` object for each reading (about 3% of a Region DO's thread under a
//! flood of location updates, in a CPU profile).

/// The current time in ms since the epoch.
pub fn now_ms() -> i64 {
    worker::js_sys::Date::now() as i64
}
