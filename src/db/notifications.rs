//! Where `POST /v1/notifications` finds the sockets open now: the regions
//! and rides whose stats report is live (its lease not yet ended, the rule
//! of `core::stats::report_is_live`), at most `MAX_PLACES` of each; and the
//! `kept_notifications` of users who are not drivers, for their next connect.

use serde::Deserialize;
use worker::D1Database;

use super::int;
use crate::core::notifications::{KeptNotification, LivePlaces, KEEP_MS, MAX_KEPT, MAX_PLACES};
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

/// Keeps `kept` for `user`'s next connect: at most `MAX_KEPT` per user (the
/// oldest go), and every user's lapsed ones are purged.
pub async fn keep(db: &D1Database, user: &str, kept: &KeptNotification) -> Result<(), AppError> {
    let insert = db
        .prepare("INSERT OR IGNORE INTO kept_notifications (user_id, id, frame, sent_at) VALUES (?1, ?2, ?3, ?4)")
        .bind(&[user.into(), kept.id.as_str().into(), kept.frame.as_str().into(), int(kept.sent_at)])?;
    let cap = db
        .prepare(format!(
            "DELETE FROM kept_notifications WHERE user_id = ?1 AND id NOT IN
             (SELECT id FROM kept_notifications WHERE user_id = ?1 ORDER BY sent_at DESC, id DESC LIMIT {MAX_KEPT})"
        ))
        .bind(&[user.into()])?;
    let purge =
        db.prepare("DELETE FROM kept_notifications WHERE sent_at <= ?1").bind(&[int(kept.sent_at - KEEP_MS)])?;
    db.batch(vec![insert, cap, purge]).await?;
    Ok(())
}

/// Takes (reads and deletes, at once) every notification kept for `user`.
pub async fn take(db: &D1Database, user: &str) -> Result<Vec<KeptNotification>, AppError> {
    #[derive(Deserialize)]
    struct Row {
        id: String,
        frame: String,
        /// A float: D1 hands integers to wasm as JS numbers.
        sent_at: f64,
    }
    let rows = db
        .prepare("DELETE FROM kept_notifications WHERE user_id = ?1 RETURNING id, frame, sent_at")
        .bind(&[user.into()])?
        .all()
        .await?
        .results::<Row>()?;
    Ok(rows.into_iter().map(|r| KeptNotification { id: r.id, frame: r.frame, sent_at: r.sent_at as i64 }).collect())
}
