//! The `drivers` table: profiles that dispatchers register.

use serde::Deserialize;
use worker::wasm_bindgen::JsValue;
use worker::D1Database;

use super::int;
use crate::core::driver::{Driver, DriverProfile, Vehicle};
use crate::error::AppError;

const COLUMNS: &str = "id, name, phone, vehicle_type, vehicle_registration, rating, created_at, updated_at";

#[derive(Deserialize)]
struct DriverRow {
    id: String,
    name: String,
    phone: String,
    vehicle_type: String,
    vehicle_registration: String,
    rating: Option<f64>,
    created_at: f64,
    updated_at: f64,
}

impl From<DriverRow> for Driver {
    fn from(row: DriverRow) -> Driver {
        Driver {
            id: row.id,
            profile: DriverProfile {
                name: row.name,
                phone: row.phone,
                vehicle: Vehicle { kind: row.vehicle_type, registration: row.vehicle_registration },
                rating: row.rating,
            },
            created_at: row.created_at as i64,
            updated_at: row.updated_at as i64,
        }
    }
}

/// Creates or replaces a driver's profile, keeping its first `created_at`.
pub async fn upsert(db: &D1Database, id: &str, profile: &DriverProfile, now_ms: i64) -> Result<Driver, AppError> {
    let sql = format!(
        "INSERT INTO drivers ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
           vehicle_type = excluded.vehicle_type, vehicle_registration = excluded.vehicle_registration,
           rating = excluded.rating, updated_at = excluded.updated_at
         RETURNING {COLUMNS}"
    );
    let rating = profile.rating.map_or(JsValue::NULL, JsValue::from_f64);
    let row = db
        .prepare(sql)
        .bind(&[
            id.into(),
            profile.name.as_str().into(),
            profile.phone.as_str().into(),
            profile.vehicle.kind.as_str().into(),
            profile.vehicle.registration.as_str().into(),
            rating,
            int(now_ms),
        ])?
        .first::<DriverRow>(None)
        .await?;
    row.map(Driver::from).ok_or_else(|| AppError::Internal("driver upsert returned no row".into()))
}

/// A registered driver's name (None for a driver that is not registered):
/// all the connect path reads, and it writes nothing (where the driver's
/// sockets are is its Driver DO's to know).
pub async fn name_of(db: &D1Database, id: &str) -> Result<Option<String>, AppError> {
    #[derive(Deserialize)]
    struct Row {
        name: String,
    }
    let row = db.prepare("SELECT name FROM drivers WHERE id = ?1").bind(&[id.into()])?.first::<Row>(None).await?;
    Ok(row.map(|r| r.name))
}

/// A driver's profile, if registered.
pub async fn get(db: &D1Database, id: &str) -> Result<Option<Driver>, AppError> {
    let row = db
        .prepare(format!("SELECT {COLUMNS} FROM drivers WHERE id = ?1"))
        .bind(&[id.into()])?
        .first::<DriverRow>(None)
        .await?;
    Ok(row.map(Driver::from))
}
