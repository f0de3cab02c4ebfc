//! The `region_stats` and `ride_socket_stats` tables, and the sums of
//! `GET /v1/stats`.

use serde::Deserialize;
use worker::D1Database;

use super::int;
use crate::core::stats::{live_figures, RegionFigures, RegionReport, ReportLease, RideSockets, Stats};
use crate::error::AppError;

/// Records what a region now has, leased until `lease.expires_at` (the row
/// of a region with nothing is removed). A write older than the row's is
/// ignored, so reports that cross on the way keep the newest.
pub async fn save_region(
    db: &D1Database,
    region: &str,
    f: &RegionFigures,
    lease: &ReportLease,
) -> Result<(), AppError> {
    if *f == RegionFigures::default() {
        db.prepare("DELETE FROM region_stats WHERE region = ?1").bind(&[region.into()])?.run().await?;
        return Ok(());
    }
    db.prepare(
        "INSERT INTO region_stats (region, driver_sockets, dispatcher_sockets, drivers_online, drivers_available, drivers_busy, updated_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(region) DO UPDATE SET driver_sockets = excluded.driver_sockets,
           dispatcher_sockets = excluded.dispatcher_sockets, drivers_online = excluded.drivers_online,
           drivers_available = excluded.drivers_available, drivers_busy = excluded.drivers_busy,
           updated_at = excluded.updated_at, expires_at = excluded.expires_at
         WHERE excluded.updated_at >= region_stats.updated_at",
    )
    .bind(&[
        region.into(),
        f.driver_sockets.into(),
        f.dispatcher_sockets.into(),
        f.drivers_online.into(),
        f.drivers_available.into(),
        f.drivers_busy.into(),
        int(lease.reported_at),
        int(lease.expires_at),
    ])?
    .run()
    .await?;
    Ok(())
}

/// Deletes the rows of regions whose lease ended before `before` (regions
/// that stopped without reporting their sockets gone, e.g. at a restart).
pub async fn purge_lapsed_regions(db: &D1Database, before: i64) -> Result<(), AppError> {
    db.prepare("DELETE FROM region_stats WHERE expires_at < ?1").bind(&[int(before)])?.run().await?;
    Ok(())
}

/// Records how many ride sockets a ride has open, of passengers and partners
/// (`riders`) and of dispatchers, leased until `lease.expires_at`; none
/// removes the row. A write older than the row's is ignored.
pub async fn save_ride_sockets(
    db: &D1Database,
    ride_id: &str,
    riders: u32,
    dispatchers: u32,
    lease: &ReportLease,
) -> Result<(), AppError> {
    if riders == 0 && dispatchers == 0 {
        db.prepare("DELETE FROM ride_socket_stats WHERE ride_id = ?1").bind(&[ride_id.into()])?.run().await?;
        return Ok(());
    }
    db.prepare(
        "INSERT INTO ride_socket_stats (ride_id, sockets, dispatcher_sockets, updated_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(ride_id) DO UPDATE SET sockets = excluded.sockets,
           dispatcher_sockets = excluded.dispatcher_sockets, updated_at = excluded.updated_at,
           expires_at = excluded.expires_at
         WHERE excluded.updated_at >= ride_socket_stats.updated_at",
    )
    .bind(&[ride_id.into(), riders.into(), dispatchers.into(), int(lease.reported_at), int(lease.expires_at)])?
    .run()
    .await?;
    Ok(())
}

/// Deletes the rows of rides whose lease ended before `before` (rides whose
/// sockets vanished without close events and that never reported again).
pub async fn purge_lapsed_rides(db: &D1Database, before: i64) -> Result<(), AppError> {
    db.prepare("DELETE FROM ride_socket_stats WHERE expires_at < ?1").bind(&[int(before)])?.run().await?;
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

/// A `region_stats` row.
#[derive(Deserialize)]
struct RegionRow {
    driver_sockets: u32,
    dispatcher_sockets: u32,
    drivers_online: u32,
    drivers_available: u32,
    drivers_busy: u32,
    /// A float: D1 hands integers to wasm as JS numbers.
    expires_at: f64,
}

impl RegionRow {
    fn report(self) -> RegionReport {
        let figures = RegionFigures {
            driver_sockets: self.driver_sockets,
            dispatcher_sockets: self.dispatcher_sockets,
            drivers_online: self.drivers_online,
            drivers_available: self.drivers_available,
            drivers_busy: self.drivers_busy,
        };
        RegionReport { figures, expires_at: self.expires_at as i64 }
    }
}

/// The deployment's figures now, summed over every live region report and every ride.
pub async fn totals(db: &D1Database) -> Result<Stats, AppError> {
    totals_at(db, crate::clock::now_ms()).await
}

/// The deployment's figures at `now_ms`: regions and rides count while their
/// report's lease is live (the rule is `core::stats::report_is_live`).
pub async fn totals_at(db: &D1Database, now_ms: i64) -> Result<Stats, AppError> {
    // Every row is read and the lease rule applied here, not in SQL, so the
    // rule has one home; lapsed rows are few (regions purge them).
    let regions = db.prepare(
        "SELECT driver_sockets, dispatcher_sockets, drivers_online, drivers_available, drivers_busy, expires_at FROM region_stats",
    );
    // Ride rows are many (one per ride with a socket open): summed in SQL, with
    // the same rule (`report_is_live`: live while now < expires_at).
    let sockets = db
        .prepare(
            "SELECT COALESCE(SUM(sockets), 0) AS riders, COALESCE(SUM(dispatcher_sockets), 0) AS dispatchers
             FROM ride_socket_stats WHERE expires_at > ?1",
        )
        .bind(&[int(now_ms)])?;
    let rides = db.prepare("SELECT status, COUNT(*) AS n FROM rides GROUP BY status");
    let results = db.batch(vec![regions, sockets, rides]).await?;
    let part = |i: usize| results.get(i).ok_or_else(|| AppError::Internal("stats batch answered short".into()));
    let reports: Vec<RegionReport> = part(0)?.results::<RegionRow>()?.into_iter().map(RegionRow::report).collect();
    let regions = live_figures(&reports, now_ms);
    let sockets = part(1)?.results::<Sockets>()?;
    let (riders, dispatchers) = sockets.first().map_or((0, 0), |s| (s.riders as u64, s.dispatchers as u64));
    let rides: Vec<(String, u64)> =
        part(2)?.results::<StatusCount>()?.into_iter().map(|r| (r.status, r.n as u64)).collect();
    Ok(Stats::total(&regions, RideSockets { riders, dispatchers }, &rides))
}
