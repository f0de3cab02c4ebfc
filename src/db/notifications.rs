//! Where `POST /v1/notifications` finds the sockets open now: the regions
//! and rides whose stats report is live (its lease not yet ended, the rule
//! of `core::stats::report_is_live`), at most `MAX_PLACES` of each.

use serde::Deserialize;
use worker::D1Database;

use super::int;
use crate::core::notifications::{LivePlaces, MAX_PLACES};
use crate::error::AppError;

#[derive(Deserialize)]
struct RegionRow {
    region: String,
}

#[derive(Deserialize)]
struct RideRow {
    ride_id: String,
}

/// Every live region and every ride with a live socket report, at `now_ms`.
pub async fn live_places(db: &D1Database, now_ms: i64) -> Result<LivePlaces, AppError> {
    let regions = db
        .prepare(format!("SELECT region FROM region_stats WHERE expires_at > ?1 ORDER BY region LIMIT {MAX_PLACES}"))
        .bind(&[int(now_ms)])?;
    let rides = db
        .prepare(format!(
            "SELECT ride_id FROM ride_socket_stats WHERE expires_at > ?1 ORDER BY updated_at DESC LIMIT {MAX_PLACES}"
        ))
        .bind(&[int(now_ms)])?;
    read(db, regions, rides).await
}

/// The live places where `user` (not a driver) may hold sockets: regions
/// with dispatch sockets, and rides with a live socket report that are its
/// own (as passenger or partner) or have dispatchers' sockets.
pub async fn live_places_of(db: &D1Database, now_ms: i64, user: &str) -> Result<LivePlaces, AppError> {
    let regions = db
        .prepare(format!(
            "SELECT region FROM region_stats WHERE expires_at > ?1 AND dispatcher_sockets > 0
             ORDER BY region LIMIT {MAX_PLACES}"
        ))
        .bind(&[int(now_ms)])?;
    let rides = db
        .prepare(format!(
            "SELECT s.ride_id AS ride_id FROM ride_socket_stats s LEFT JOIN rides r ON r.id = s.ride_id
             WHERE s.expires_at > ?1 AND (s.dispatcher_sockets > 0 OR r.passenger_id = ?2 OR r.partner_id = ?2)
             ORDER BY s.updated_at DESC LIMIT {MAX_PLACES}"
        ))
        .bind(&[int(now_ms), user.into()])?;
    read(db, regions, rides).await
}

async fn read(
    db: &D1Database,
    regions: worker::D1PreparedStatement,
    rides: worker::D1PreparedStatement,
) -> Result<LivePlaces, AppError> {
    let results = db.batch(vec![regions, rides]).await?;
    let part = |i: usize| results.get(i).ok_or_else(|| AppError::Internal("live places batch answered short".into()));
    let regions = part(0)?.results::<RegionRow>()?.into_iter().map(|r| r.region).collect();
    let rides = part(1)?.results::<RideRow>()?.into_iter().map(|r| r.ride_id).collect();
    Ok(LivePlaces { regions, rides })
}
