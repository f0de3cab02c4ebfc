//! All D1 SQL lives here: drivers, rides, ride events, idempotency keys.
//! D1 is the queryable record; a Ride DO is the single writer of its ride.

pub mod drivers;
pub mod idempotency;
pub mod rides;

use worker::wasm_bindgen::JsValue;

/// The binding name of the D1 database in wrangler.toml.
pub const BINDING: &str = "DB";

/// A text parameter that may be SQL NULL.
fn text_or_null(value: Option<&str>) -> JsValue {
    value.map_or(JsValue::NULL, JsValue::from_str)
}

/// An integer parameter (milliseconds, seq numbers): exact below 2^53.
fn int(value: i64) -> JsValue {
    JsValue::from_f64(value as f64)
}
