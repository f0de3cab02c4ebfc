//! `GET /v1/stats`: the figures of a deployment, added up from what every
//! region and ride reports, in the protocol's shape.
//!
//! A report, a region's or a ride's, is leased: a server restart drops
//! sockets without a close event, so a report counts only while its object
//! keeps renewing it (every 2 heartbeats while it holds sockets; the lease
//! is 6 heartbeats, so three renewals must be missed before a live object's
//! figures lapse).

use serde::{Deserialize, Serialize};

use super::driver_index::DriverIndex;
use super::ride::RideStatus;

/// What one region reports of itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionFigures {
    /// Open driver sockets.
    pub driver_sockets: u32,
    /// Open dispatch sockets.
    pub dispatcher_sockets: u32,
    /// Drivers with at least one socket open.
    pub drivers_online: u32,
    /// Online drivers taking offers (available and without an active ride).
    pub drivers_available: u32,
    /// Online drivers with an active ride.
    pub drivers_busy: u32,
}

impl RegionFigures {
    /// The driver figures of an index, with the socket counts given.
    pub fn of(index: &DriverIndex, driver_sockets: u32, dispatcher_sockets: u32) -> RegionFigures {
        let counts = index.counts();
        RegionFigures {
            driver_sockets,
            dispatcher_sockets,
            drivers_online: counts.online,
            drivers_available: counts.available,
            drivers_busy: counts.busy,
        }
    }
}

/// Heartbeats between two renewals of the report of a region holding sockets.
pub const RENEW_EVERY_HEARTBEATS: i64 = 2;
/// Heartbeats a region's report counts for without being renewed.
pub const LEASE_HEARTBEATS: i64 = 6;

/// The lease a region's or a ride's report carries when written at `reported_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLease {
    /// When the report was written.
    pub reported_at: i64,
    /// When it stops counting unless renewed.
    pub expires_at: i64,
    /// When the object, still holding sockets, renews it.
    pub renew_at: i64,
}

impl ReportLease {
    /// The lease of a report written at `now_ms` under a heartbeat of `heartbeat_s`.
    pub fn new(now_ms: i64, heartbeat_s: u32) -> ReportLease {
        let heartbeat_ms = i64::from(heartbeat_s) * 1000;
        ReportLease {
            reported_at: now_ms,
            expires_at: now_ms.saturating_add(LEASE_HEARTBEATS * heartbeat_ms),
            renew_at: now_ms.saturating_add(RENEW_EVERY_HEARTBEATS * heartbeat_ms),
        }
    }

    /// Lapsed reports whose lease ended before this instant may be deleted:
    /// they no longer count, and a lease later no write of them is in flight.
    pub fn purge_before(&self) -> i64 {
        self.reported_at.saturating_sub(self.expires_at.saturating_sub(self.reported_at))
    }
}

/// Whether a report whose lease ends at `expires_at` counts at `now_ms`
/// (at the end itself it no longer does).
pub fn report_is_live(expires_at: i64, now_ms: i64) -> bool {
    now_ms < expires_at
}

/// A region's report as read back: its figures and the end of its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionReport {
    /// What the region reported.
    pub figures: RegionFigures,
    /// When the report stops counting.
    pub expires_at: i64,
}

/// The figures of the reports that still count at `now_ms`.
pub fn live_figures(reports: &[RegionReport], now_ms: i64) -> Vec<RegionFigures> {
    reports.iter().filter(|r| report_is_live(r.expires_at, now_ms)).map(|r| r.figures).collect()
}

/// Ride sockets open across every ride.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RideSockets {
    /// Of passengers and partners.
    pub riders: u64,
    /// Of dispatchers following a ride.
    pub dispatchers: u64,
}

/// The answer of `GET /v1/stats`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// Open sockets by kind.
    pub connections: Connections,
    /// Online drivers by state.
    pub drivers: DriverCounts,
    /// Rides by status, every status present.
    pub rides: serde_json::Map<String, serde_json::Value>,
}

/// Open sockets by kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Connections {
    /// Driver sockets.
    pub drivers: u64,
    /// Ride sockets of passengers and partners.
    pub passengers: u64,
    /// Dispatch sockets, and ride sockets of dispatchers.
    pub dispatchers: u64,
    /// All of them.
    pub total: u64,
}

/// Online drivers by state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriverCounts {
    /// Online.
    pub online: u64,
    /// Online and taking offers.
    pub available: u64,
    /// Online with an active ride.
    pub busy: u64,
}

impl Stats {
    /// Adds up the regions' figures, the ride sockets and the rides per status.
    pub fn total(regions: &[RegionFigures], ride_sockets: RideSockets, rides: &[(String, u64)]) -> Stats {
        let sum = |f: fn(&RegionFigures) -> u32| regions.iter().map(|r| u64::from(f(r))).sum::<u64>();
        let drivers = sum(|r| r.driver_sockets);
        let dispatchers = sum(|r| r.dispatcher_sockets) + ride_sockets.dispatchers;
        let passengers = ride_sockets.riders;
        let mut by_status = serde_json::Map::new();
        for status in RideStatus::ALL {
            let count = rides.iter().filter(|(s, _)| s == status.as_str()).map(|(_, n)| n).sum::<u64>();
            by_status.insert(status.as_str().to_string(), count.into());
        }
        Stats {
            connections: Connections { drivers, passengers, dispatchers, total: drivers + passengers + dispatchers },
            drivers: DriverCounts {
                online: sum(|r| r.drivers_online),
                available: sum(|r| r.drivers_available),
                busy: sum(|r| r.drivers_busy),
            },
            rides: by_status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::LatLng;

    #[test]
    fn a_regions_figures_count_busy_drivers_apart_from_available_ones() {
        let mut index = DriverIndex::new();
        let at = LatLng { lat: 1.0, lng: 1.0 };
        index.upsert("a", at, true);
        index.upsert("b", at, false);
        index.upsert("c", at, true);
        index.set_busy("c", true);
        let figures = RegionFigures::of(&index, 4, 1);
        assert_eq!(
            figures,
            RegionFigures {
                driver_sockets: 4,
                dispatcher_sockets: 1,
                drivers_online: 3,
                drivers_available: 1,
                drivers_busy: 1
            }
        );
    }

    #[test]
    fn a_report_counts_until_its_lease_ends() {
        let t0 = 1_800_000_000_000;
        let lease = ReportLease::new(t0, 30);
        assert_eq!((lease.renew_at, lease.expires_at), (t0 + 60_000, t0 + 180_000));
        assert!(report_is_live(lease.expires_at, t0));
        assert!(report_is_live(lease.expires_at, t0 + 179_999));
        assert!(!report_is_live(lease.expires_at, t0 + 180_000));
    }

    #[test]
    fn a_region_misses_three_renewals_before_its_figures_lapse() {
        let t0 = 1_800_000_000_000;
        let lease = ReportLease::new(t0, 1);
        let renewals_missed = (lease.expires_at - lease.reported_at) / (lease.renew_at - lease.reported_at);
        assert_eq!(renewals_missed, 3);
    }

    #[test]
    fn stats_sum_only_the_reports_still_live() {
        let t0 = 1_800_000_000_000;
        let one = RegionFigures { driver_sockets: 1, drivers_online: 1, ..RegionFigures::default() };
        let live = RegionReport { figures: one, expires_at: ReportLease::new(t0, 30).expires_at };
        let before_restart = RegionReport { figures: one, expires_at: ReportLease::new(t0 - 200_000, 30).expires_at };
        let migrated = RegionReport { figures: one, expires_at: 0 };
        let figures = live_figures(&[live, before_restart, migrated], t0);
        assert_eq!(figures, [one]);
        assert_eq!(Stats::total(&figures, RideSockets::default(), &[]).connections.drivers, 1);
    }

    #[test]
    fn only_reports_lapsed_for_a_whole_lease_are_purged() {
        let t0 = 1_800_000_000_000;
        let lease = ReportLease::new(t0, 30);
        assert_eq!(lease.purge_before(), t0 - 180_000);
        assert!(!report_is_live(lease.purge_before(), t0));
    }

    #[test]
    fn totals_add_up_every_region_and_list_every_status() {
        let a = RegionFigures {
            driver_sockets: 2,
            dispatcher_sockets: 1,
            drivers_online: 2,
            drivers_available: 1,
            drivers_busy: 1,
        };
        let b = RegionFigures {
            driver_sockets: 3,
            dispatcher_sockets: 0,
            drivers_online: 2,
            drivers_available: 2,
            drivers_busy: 0,
        };
        let ride_sockets = RideSockets { riders: 4, dispatchers: 2 };
        let stats = Stats::total(&[a, b], ride_sockets, &[("searching".into(), 2), ("completed".into(), 5)]);
        let json = serde_json::to_value(&stats).unwrap();
        assert_eq!(
            json["connections"],
            serde_json::json!({"drivers": 5, "passengers": 4, "dispatchers": 3, "total": 12})
        );
        assert_eq!(json["drivers"], serde_json::json!({"online": 4, "available": 3, "busy": 1}));
        assert_eq!(
            json["rides"],
            serde_json::json!({"searching": 2, "accepted": 0, "arrived": 0, "in_progress": 0, "completed": 5, "cancelled": 0, "expired": 0})
        );
    }
}
