//! What reaches a region from other objects and what it reports: a ride's
//! frames for drivers here (an offer skips a driver marked busy; a frame's
//! busy mark is applied before it is sent) and the rides of the region for
//! the dispatch feed; a Driver DO's frames with its busy mark; candidate,
//! nearby and driver queries; the dispatch sockets' snapshot; and the
//! region's figures for `GET /v1/stats`, reported when they change and
//! renewed under a lease while they count anything.

use super::{
    DeliverBatch, Delivered, Delivery, DriverDelivery, DriverSockets, NearbyDriver, NearbyQuery, Region, RegionAnswer,
    RegionEffect, RideFeed,
};
use crate::core::busy_mark::BusyMark;
use crate::core::dispatch::CandidateQuery;
use crate::core::driver_index::Eligibility;
use crate::core::protocol::{is_offer_frame, to_frame, DispatchOutbound, SnapshotDriver, SnapshotRide};
use crate::core::stats::{RegionFigures, ReportLease};

/// The least time between two stats reports of a region that changed, in ms.
pub const REPORT_MIN_MS: i64 = 1_000;

impl Region {
    /// A ride's batch: its watches kept, each frame to every socket of its driver (its busy
    /// mark applied first; an offer to a driver marked busy skipped), then
    /// the feed. Answers, per delivery, the sockets that took it.
    pub(super) fn deliver(&mut self, batch: DeliverBatch, now: i64, fx: &mut Vec<RegionEffect>) {
        for watch in batch.watches {
            self.watch(watch, now, fx);
        }
        let taken = batch.deliveries.into_iter().map(|delivery| self.deliver_one(delivery, fx)).collect();
        for feed in batch.feed {
            self.ride_feed(feed, fx);
        }
        fx.push(RegionEffect::Answer(RegionAnswer::Delivered(Delivered { taken })));
    }

    fn deliver_one(&mut self, delivery: Delivery, fx: &mut Vec<RegionEffect>) -> Vec<String> {
        let driver_id = &delivery.driver_id;
        if delivery.offer && self.index.get(driver_id).is_some_and(|d| d.busy) {
            return Vec::new();
        }
        if let Some(mark) = delivery.mark {
            self.take_mark(driver_id, mark, fx);
        }
        let sockets = self.sockets_of(driver_id);
        if !sockets.is_empty() {
            fx.push(RegionEffect::Send { sockets: sockets.clone(), frame: delivery.frame });
        }
        sockets
    }

    /// A busy mark for a driver here, from a ride or its Driver DO: kept
    /// unless the driver holds a newer one (marks travel by several paths
    /// and may land out of order).
    fn take_mark(&mut self, driver_id: &str, mark: BusyMark, fx: &mut Vec<RegionEffect>) {
        let Some(driver) = self.drivers.get_mut(driver_id) else { return };
        if driver.mark != mark && mark.replaces(&driver.mark) {
            driver.mark = mark;
            self.sync_index(driver_id);
            self.save_driver(driver_id, fx);
        }
    }

    /// A Driver DO's delivery: its busy mark is the driver's (unless the
    /// region holds a newer one), its frames go to every socket of the
    /// driver here, in order; but an offer to a driver the region marks
    /// busy (a delivery decided before the driver took a ride, landing
    /// after) is dropped. Answers those sockets.
    pub(super) fn driver_frames(&mut self, delivery: DriverDelivery, fx: &mut Vec<RegionEffect>) {
        let sockets = self.sockets_of(&delivery.driver_id);
        self.take_mark(&delivery.driver_id, delivery.mark, fx);
        let busy = self.drivers.get(&delivery.driver_id).is_some_and(|d| d.mark.is_busy());
        if !sockets.is_empty() {
            for frame in delivery.frames.into_iter().filter(|f| !(busy && is_offer_frame(f))) {
                fx.push(RegionEffect::Send { sockets: sockets.clone(), frame });
            }
        }
        fx.push(RegionEffect::Answer(RegionAnswer::Sockets(DriverSockets { sockets })));
    }

    /// A ride of the region was created or changed status: kept (until it
    /// is over) for the snapshot, and the dispatch sockets are told.
    fn ride_feed(&mut self, feed: RideFeed, fx: &mut Vec<RegionEffect>) {
        self.searching_cells = None;
        if feed.status.is_final() {
            self.rides.remove(&feed.ride_id);
            fx.push(RegionEffect::ForgetRide(feed.ride_id.clone()));
        } else {
            let ride = SnapshotRide { id: feed.ride_id.clone(), status: feed.status, pickup: feed.pickup.clone() };
            self.rides.insert(ride.id.clone(), ride.clone());
            fx.push(RegionEffect::StoreRide(ride));
        }
        let message = if feed.created {
            DispatchOutbound::RideCreated { ride_id: feed.ride_id, pickup: feed.pickup }
        } else {
            DispatchOutbound::RideStatus { ride_id: feed.ride_id, status: feed.status }
        };
        fx.push(RegionEffect::ToDispatchers { frame: to_frame(&message, None) });
    }

    /// A dispatch socket opened: the region's snapshot (online drivers,
    /// `available` meaning taking offers, and the rides not over yet).
    pub(super) fn dispatcher_opened(&mut self, socket_id: String, fx: &mut Vec<RegionEffect>) {
        let drivers = self
            .index
            .drivers()
            .map(|d| SnapshotDriver { id: d.id.clone(), location: d.location, available: d.available && !d.busy })
            .collect();
        let snapshot = DispatchOutbound::Snapshot { drivers, rides: self.rides.values().cloned().collect() };
        fx.push(RegionEffect::Send { sockets: vec![socket_id.clone()], frame: to_frame(&snapshot, None) });
        self.dispatchers.insert(socket_id);
    }

    /// The nearest offerable drivers within the query's radius, not excluded.
    pub(super) fn candidates(&self, query: &CandidateQuery) -> RegionAnswer {
        let radius_m = query.radius_km * 1000.0;
        let limit = query.limit as usize;
        RegionAnswer::Candidates(self.index.nearest(
            query.at,
            radius_m,
            limit,
            Eligibility::OfferableOnly,
            &query.exclude,
        ))
    }

    /// The nearest drivers, offerable or not, with their names.
    pub(super) fn nearby(&self, query: &NearbyQuery) -> RegionAnswer {
        let found = self.index.nearest(query.at, query.radius_m, query.limit as usize, Eligibility::Any, &[]);
        let named = found
            .into_iter()
            .map(|candidate| {
                let name = self.drivers.get(&candidate.driver_id).map(|d| d.name.clone());
                NearbyDriver { name: name.unwrap_or_else(|| candidate.driver_id.clone()), candidate }
            })
            .collect();
        RegionAnswer::Nearby(named)
    }

    /// The region's figures now.
    pub fn figures(&self) -> RegionFigures {
        RegionFigures::of(&self.index, self.owners.len() as u32, self.dispatchers.len() as u32)
    }

    /// Reports the figures when they changed since the last report, at
    /// most once per [`REPORT_MIN_MS`]: a change sooner wakes the region for
    /// it (a fleet connecting costs one stats write a second, not one each).
    pub(super) fn report_if_changed(&mut self, now: i64, fx: &mut Vec<RegionEffect>) {
        if self.reported == Some(self.figures()) {
            return;
        }
        match self.reported_at.map(|at| at + REPORT_MIN_MS) {
            Some(due) if now < due => {
                if self.report_due != Some(due) {
                    self.report_due = Some(due);
                    fx.push(RegionEffect::WakeAt(due));
                }
            }
            _ => drop(self.report(now, fx)),
        }
    }

    /// The alarm's renewal of the report, once due (an earlier alarm wakes
    /// again for it); also purges rows whose lease lapsed long ago, which no
    /// region will report again.
    pub(super) fn renew_report(&mut self, now: i64, fx: &mut Vec<RegionEffect>) {
        match self.renew_at {
            Some(at) if now < at => fx.push(RegionEffect::WakeAt(at)),
            _ => {
                if self.report(now, fx) {
                    let before = ReportLease::new(now, self.settings.heartbeat_s).purge_before();
                    fx.push(RegionEffect::PurgeReports { before });
                }
            }
        }
    }

    /// Reports the figures under a fresh lease, renewed while they count
    /// anything; false before a socket told the region its cell.
    fn report(&mut self, now: i64, fx: &mut Vec<RegionEffect>) -> bool {
        let Some(cell) = self.cell.clone() else { return false };
        let figures = self.figures();
        let lease = ReportLease::new(now, self.settings.heartbeat_s);
        fx.push(RegionEffect::Report { cell, figures, lease });
        self.reported = Some(figures);
        self.reported_at = Some(now);
        self.report_due = None;
        self.renew_at = (figures != RegionFigures::default()).then_some(lease.renew_at);
        if let Some(at) = self.renew_at {
            fx.push(RegionEffect::WakeAt(at));
        }
        true
    }
}
