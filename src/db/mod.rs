//! All D1 SQL lives here: drivers, rides, ride events, idempotency keys.
//! D1 is the queryable record; a Ride DO is the single writer of its ride.

pub mod drivers;
pub mod idempotency;
pub mod notifications;
pub mod rides;
pub mod stats;

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

/// Numbers the `?` placeholders of `sql` as `?{after + 1}`, `?{after + 2}`…,
/// so conditions written separately can share one parameter list.
fn number_placeholders(sql: &str, after: usize) -> String {
    let mut numbered = String::with_capacity(sql.len() + 8);
    let mut next = after;
    for c in sql.chars() {
        if c == '?' {
            next += 1;
            numbered.push_str(&format!("?{next}"));
        } else {
            numbered.push(c);
        }
    }
    numbered
}

#[cfg(test)]
mod tests {
    use super::number_placeholders;

    #[test]
    fn placeholders_are_numbered_after_the_ones_already_bound() {
        assert_eq!(number_placeholders("(created_at, id) < (?, ?)", 2), "(created_at, id) < (?3, ?4)");
        assert_eq!(number_placeholders("status = ?", 0), "status = ?1");
        assert_eq!(number_placeholders("x = 1", 5), "x = 1");
    }
}
