//! The `region_stats` and `ride_socket_stats` tables, and the sums of
//! `GET /v1/stats`.

use serde::Deserialize;
use worker::D1Database;

use super::int;
use crate::core::stats::{RegionFigures, RideSockets, Stats};
use crate::error::AppError;

/// Records what a region now has (the row of a region with nothing is removed).
pub async fn save_region(db: &D1Database, region: &str, f: &RegionFigures, now_ms: i64) -> Result<(), AppError> {
    if *f == RegionFigures::default() {
        db.prepare("DELETE FROM region_stats WHERE region = ?1").bind(&[region.into()])?.run().await?;
        return Ok(());
    }
    db.prepare(
        "INSERT INTO region_stats (region, driver_sockets, dispatcher_sockets, drivers_online, drivers_available, drivers_busy, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT(region) DO UPDATE SET driver_sockets = excluded.driver_sockets,
           dispatcher_sockets = excluded.dispatcher_sockets, drivers_online = excluded.drivers_online,
           drivers_available = excluded.drivers_available, drivers_busy = excluded.drivers_busy,
           updated_at = excluded.updated_at",
    )
    .bind(&[
        region.into(),
        f.driver_sockets.into(),
        f.dispatcher_sockets.into(),
        f.drivers_online.into(),
        f.drivers_available.into(),
        f.drivers_busy.into(),
        int(now_ms),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Records how many ride sockets a ride has open, of passengers and partners
/// (`riders`) and of dispatchers; none removes the row.
pub async fn save_ride_sockets(
    db: &D1Database,
    ride_id: &str,
    riders: u32,
    dispatchers: u32,
    now_ms: i64,
) -> Result<(), AppError> {
    if riders == 0 && dispatchers == 0 {
        db.prepare("DELETE FROM ride_socket_stats WHERE ride_id = ?1").bind(&[ride_id.into()])?.run().await?;
        return Ok(());
    }
    db.prepare(
        "INSERT INTO ride_socket_stats (ride_id, sockets, dispatcher_sockets, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(ride_id) DO UPDATE SET sockets = excluded.sockets,
           dispatcher_sockets = excluded.dispatcher_sockets, updated_at = excluded.updated_at",
    )
    .bind(&[ride_id.into(), riders.into(), dispatchers.into(), int(now_ms)])?
    .run()
    .await?;
    Ok(())
}

#[derive(Deserialize)]
struct StatusCount {
    status: String,
    n: f64,
}

#[derive(Deserialize)]
struct Sockets {
    riders: f64,
    dispatchers: f64,
}

/// The deployment's figures, summed over every region and ride.
pub async fn totals(db: &D1Database) -> Result<Stats, AppError> {
    let regions = db.prepare(
        "SELECT driver_sockets, dispatcher_sockets, drivers_online, drivers_available, drivers_busy FROM region_stats",
    );
    let sockets = db.prepare(
        "SELECT COALESCE(SUM(sockets), 0) AS riders, COALESCE(SUM(dispatcher_sockets), 0) AS dispatchers FROM ride_socket_stats",
    );
    let rides = db.prepare("SELECT status, COUNT(*) AS n FROM rides GROUP BY status");
    let results = db.batch(vec![regions, sockets, rides]).await?;
    let part = |i: usize| results.get(i).ok_or_else(|| AppError::Internal("stats batch answered short".into()));
    let regions: Vec<RegionFigures> = part(0)?.results()?;
    let sockets = part(1)?.results::<Sockets>()?;
    let (riders, dispatchers) = sockets.first().map_or((0, 0), |s| (s.riders as u64, s.dispatchers as u64));
    let rides: Vec<(String, u64)> =
        part(2)?.results::<StatusCount>()?.into_iter().map(|r| (r.status, r.n as u64)).collect();
    Ok(Stats::total(&regions, RideSockets { riders, dispatchers }, &rides))
}
