//! The `rides` and `ride_events` tables: the queryable record that each
//! Ride DO keeps up to date, and the scoped, paginated list.

use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

use super::{int, number_placeholders, text_or_null};
use crate::core::cursor::Cursor;
use crate::core::ride::{Ride, RideChange};
use crate::core::ride_access::ListScope;
use crate::core::ride_query::RideQuery;
use crate::error::AppError;

/// The statements that record one change: the ride row (only moving
/// forward in seq, so a retried old change never overwrites a newer one)
/// and its event (written once, however often retried).
pub fn change_statements(db: &D1Database, change: &RideChange) -> Result<Vec<D1PreparedStatement>, AppError> {
    let ride = &change.ride;
    let event = &change.event;
    let upsert = db
        .prepare(
            "INSERT INTO rides (id, status, passenger_id, partner_id, driver_id, product, created_at, updated_at, last_seq, data)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT(id) DO UPDATE SET status = excluded.status, driver_id = excluded.driver_id,
               updated_at = excluded.updated_at, last_seq = excluded.last_seq, data = excluded.data
             WHERE excluded.last_seq > rides.last_seq",
        )
        .bind(&[
            ride.id.as_str().into(),
            ride.status.as_str().into(),
            text_or_null(ride.passenger.id.as_deref()),
            text_or_null(ride.partner_id.as_deref()),
            text_or_null(ride.driver.as_ref().map(|d| d.id.as_str())),
            ride.product.as_str().into(),
            int(ride.created_at),
            int(event.at),
            int(event.seq as i64),
            serde_json::to_string(ride)?.into(),
        ])?;
    let record_event = db
        .prepare("INSERT OR IGNORE INTO ride_events (ride_id, seq, type, status, at) VALUES (?1, ?2, ?3, ?4, ?5)")
        .bind(&[
            ride.id.as_str().into(),
            int(event.seq as i64),
            event.kind.as_str().into(),
            event.status.as_str().into(),
            int(event.at),
        ])?;
    Ok(vec![upsert, record_event])
}

/// One page of a list, newest first.
#[derive(Debug, Serialize)]
pub struct RidePage {
    /// The rides of this page.
    pub rides: Vec<Ride>,
    /// Pass back as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize)]
struct DataRow {
    data: String,
}

/// The rides in `scope` matching `query`, newest first.
pub async fn list(db: &D1Database, scope: &ListScope, query: &RideQuery) -> Result<RidePage, AppError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut params: Vec<JsValue> = Vec::new();
    let mut condition = |sql: &str, values: Vec<JsValue>| {
        conditions.push(number_placeholders(sql, params.len()));
        params.extend(values);
    };
    match scope {
        ListScope::All => {}
        ListScope::Passenger(sub) => condition("passenger_id = ?", vec![sub.as_str().into()]),
        ListScope::Partner(sub) => condition("partner_id = ?", vec![sub.as_str().into()]),
    }
    if let Some(status) = query.status {
        condition("status = ?", vec![status.as_str().into()]);
    }
    if let Some(cursor) = &query.cursor {
        condition("(created_at, id) < (?, ?)", vec![int(cursor.created_at), cursor.id.as_str().into()]);
    }
    let filter = if conditions.is_empty() { String::new() } else { format!("WHERE {}", conditions.join(" AND ")) };
    let sql = format!("SELECT data FROM rides {filter} ORDER BY created_at DESC, id DESC LIMIT {}", query.limit + 1);
    let rows = db.prepare(sql).bind(&params)?.all().await?.results::<DataRow>()?;
    let mut rides =
        rows.iter().map(|row| serde_json::from_slice::<Ride>(row.data.as_bytes())).collect::<Result<Vec<_>, _>>()?;
    let more = rides.len() > query.limit as usize;
    rides.truncate(query.limit as usize);
    let next_cursor =
        rides.last().filter(|_| more).map(|last| Cursor { created_at: last.created_at, id: last.id.clone() }.encode());
    Ok(RidePage { rides, next_cursor })
}
