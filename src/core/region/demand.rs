//! Demand alerts: the region counts its searching rides (by pickup) per H3
//! cell one resolution finer than the region, against its available drivers
//! within the dispatch radius of the cell's centre. Where more rides search
//! than drivers are available for a whole demand window (a minute by
//! default), the region's available drivers within twice the radius of the
//! cell and its dispatch sockets get `high_demand`, at most once a window
//! per cell. Decided on every input with the time given; the alarm wakes
//! the region when an alert may fall due. The clocks per cell are stored,
//! so a wake-up does not restart them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Region, RegionEffect};
use crate::core::driver_index::Eligibility;
use crate::core::geo::LatLng;
use crate::core::protocol::{to_frame, DemandAlert, DispatchOutbound, DriverOutbound};
use crate::core::region_cells::{region_center, region_of};
use crate::core::ride::RideStatus;

/// The demand window when none is configured: a minute, in ms.
pub const DEFAULT_DEMAND_WINDOW_MS: i64 = 60_000;

/// While neither the region's rides nor the set of its drivers taking offers
/// change, demand is counted at most this often (a fleet's location updates
/// would otherwise each count it); an alert falling due in between is
/// counted at its time (the alarm wakes for it).
pub const DEMAND_SAMPLE_MS: i64 = 1_000;

/// Searching rides per finer cell: the cell's centre and how many.
pub(super) type SearchingCells = BTreeMap<String, (LatLng, u32)>;

/// One cell's demand clocks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellDemand {
    /// Since when more rides search in the cell than drivers are available (None: not now).
    pub over_since: Option<i64>,
    /// When the cell was last alerted.
    pub alerted_at: Option<i64>,
}

impl Region {
    /// The demand clocks kept in storage, after a wake-up.
    pub fn restore_demand(&mut self, demand: BTreeMap<String, CellDemand>) {
        self.demand = demand;
    }

    /// Counts the cells again at `now`: starts and stops their clocks,
    /// alerts the cells due, wakes for the next that may fall due, and
    /// stores the clocks when they changed. Sampled (see [`DEMAND_SAMPLE_MS`])
    /// unless `alarm`.
    pub(super) fn check_demand(&mut self, now: i64, alarm: bool, fx: &mut Vec<RegionEffect>) {
        let sampled_out = self.searching_cells.is_some() && !self.offerable_changed && now < self.demand_next_check;
        if sampled_out && !alarm {
            return;
        }
        self.demand_next_check = now + DEMAND_SAMPLE_MS;
        self.offerable_changed = false;
        let searching = match self.searching_cells.take() {
            Some(cells) => cells,
            None => self.searching_by_cell(),
        };
        if self.demand.is_empty() && searching.is_empty() {
            self.searching_cells = Some(searching);
            return;
        }
        let window = self.settings.demand_window_ms;
        let mut changed = false;
        let mut wake: Option<i64> = None;
        for (cell, (center, rides)) in &searching {
            let available = self.available_near(*center, self.settings.radius_km, *rides as usize) as u32;
            let state = self.demand.entry(cell.clone()).or_default();
            if available >= *rides {
                changed |= state.over_since.take().is_some();
                continue;
            }
            changed |= state.over_since.is_none();
            let since = *state.over_since.get_or_insert(now);
            let due = (since + window).max(state.alerted_at.map_or(i64::MIN, |at| at + window));
            if now < due {
                wake = Some(wake.map_or(due, |w| w.min(due)));
                continue;
            }
            state.alerted_at = Some(now);
            changed = true;
            // While the pile-up lasts, the next window alerts again.
            wake = Some(wake.map_or(now + window, |w| w.min(now + window)));
            let alert = DemandAlert { cell: cell.clone(), center: *center, searching: *rides, available };
            self.alert(alert, fx);
        }
        // Cells without searching rides stop their clock; a recent alert is kept (once a window).
        let cells_before = self.demand.len();
        self.demand.retain(|cell, state| {
            if !searching.contains_key(cell) && state.over_since.take().is_some() {
                changed = true;
            }
            state.over_since.is_some() || state.alerted_at.is_some_and(|at| at + window > now)
        });
        changed |= self.demand.len() != cells_before;
        self.searching_cells = Some(searching);
        if let Some(at) = wake {
            self.demand_next_check = self.demand_next_check.min(at);
            fx.push(RegionEffect::WakeAt(at));
        }
        if changed {
            fx.push(RegionEffect::StoreDemand(self.demand.clone()));
        }
    }

    /// The searching rides of the region, counted per finer cell, with the
    /// cell's centre (kept until the region's rides change).
    pub(super) fn searching_by_cell(&self) -> SearchingCells {
        let res = (self.settings.region_res + 1).min(15);
        let mut cells: BTreeMap<String, (LatLng, u32)> = BTreeMap::new();
        for ride in self.rides.values().filter(|r| r.status == RideStatus::Searching) {
            let at = LatLng { lat: ride.pickup.lat, lng: ride.pickup.lng };
            let Ok(cell) = region_of(at, res) else { continue };
            let Some(center) = region_center(&cell) else { continue };
            cells.entry(cell).or_insert((center, 0)).1 += 1;
        }
        cells
    }

    /// How many of the region's drivers taking offers are within `radius_km` of `at`, counted up to `limit`.
    fn available_near(&self, at: LatLng, radius_km: f64, limit: usize) -> usize {
        self.index.nearest(at, radius_km * 1000.0, limit, Eligibility::OfferableOnly, &[]).len()
    }

    /// `high_demand` to the available drivers within twice the radius of the cell, and the dispatch sockets.
    fn alert(&self, alert: DemandAlert, fx: &mut Vec<RegionEffect>) {
        let reach_m = 2.0 * self.settings.radius_km * 1000.0;
        let near = self.index.nearest(alert.center, reach_m, usize::MAX, Eligibility::OfferableOnly, &[]);
        let sockets: Vec<String> = near.iter().flat_map(|c| self.sockets_of(&c.driver_id)).collect();
        if !sockets.is_empty() {
            let frame = to_frame(&DriverOutbound::HighDemand(alert.clone()), None);
            fx.push(RegionEffect::Send { sockets, frame });
        }
        fx.push(RegionEffect::ToDispatchers { frame: to_frame(&DispatchOutbound::HighDemand(alert), None) });
    }
}
