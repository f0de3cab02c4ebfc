//! The searching rides a region watches for late drivers: each round of a
//! ride near the region's cell tells it the pickup, the radius, when the
//! round ends and who was already offered the ride. A driver here who
//! becomes offerable (its socket attached, `set_available` true, freed by
//! its busy mark) within the radius of a watched ride, or moves into that
//! radius while offerable, is reported to the ride at once, once per ride
//! and round; the ride decides (src/core/late_driver.rs). A driver that was
//! offerable inside the radius already is not reported for moving within it:
//! the round had it to choose from (else every driver near a searching ride
//! would be offered it, whatever `OFFER_BATCH` says). Watches live in storage, so a wake-up
//! keeps them; one lapses by itself when its round ends.

use std::collections::BTreeSet;

use super::{Region, RegionEffect};
use crate::core::dispatch::RoundCandidate;
use crate::core::driver_index::Candidate;
use crate::core::geo::{distance_m, LatLng};
use crate::core::late_driver::SearchWatch;

/// A watched ride and the drivers already reported to it (or offered it).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Watched {
    watch: SearchWatch,
    asked: BTreeSet<String>,
}

impl Watched {
    fn of(watch: SearchWatch) -> Watched {
        let asked = watch.exclude.iter().cloned().collect();
        Watched { watch, asked }
    }
}

impl Region {
    /// A ride's watch: kept (replacing its previous round's), or forgotten
    /// once the ride stopped searching or its round is over.
    pub(super) fn watch(&mut self, watch: SearchWatch, now: i64, fx: &mut Vec<RegionEffect>) {
        if watch.ended() || watch.until <= now {
            if self.watches.remove(&watch.ride_id).is_some() {
                fx.push(RegionEffect::ForgetWatch(watch.ride_id));
            }
            return;
        }
        fx.push(RegionEffect::StoreWatch(watch.clone()));
        self.watches.insert(watch.ride_id.clone(), Watched::of(watch));
    }

    /// The watches kept in storage, after a wake-up.
    pub fn restore_watches(&mut self, watches: Vec<SearchWatch>) {
        for watch in watches {
            self.watches.insert(watch.ride_id.clone(), Watched::of(watch));
        }
    }

    /// Forgets the watches whose round is over.
    pub(super) fn drop_lapsed_watches(&mut self, now: i64, fx: &mut Vec<RegionEffect>) {
        let lapsed: Vec<String> =
            self.watches.iter().filter(|(_, w)| w.watch.until <= now).map(|(id, _)| id.clone()).collect();
        for ride_id in lapsed {
            self.watches.remove(&ride_id);
            fx.push(RegionEffect::ForgetWatch(ride_id));
        }
    }

    /// Where `driver_id` is if it takes offers now (None otherwise): what
    /// [`Self::offer_late`] compares with after an input.
    pub(super) fn offerable_at(&self, driver_id: &str) -> Option<LatLng> {
        self.index.get(driver_id).filter(|d| d.available && !d.busy).map(|d| d.location)
    }

    /// Reports `driver_id` to every watched ride within whose radius it now
    /// is, if it takes offers now, was not offerable inside that radius
    /// `before` the input, and was not reported to that ride before.
    pub(super) fn offer_late(&mut self, driver_id: &str, before: Option<LatLng>, now: i64, fx: &mut Vec<RegionEffect>) {
        let Some(driver) = self.index.get(driver_id) else { return };
        if !driver.available || driver.busy {
            return;
        }
        let Some(region) = self.cell.clone() else { return };
        let location = driver.location;
        for watched in self.watches.values_mut() {
            let watch = &watched.watch;
            let radius_m = watch.radius_km * 1000.0;
            let distance = distance_m(location, watch.at);
            let inside_before = before.is_some_and(|at| distance_m(at, watch.at) <= radius_m);
            if watch.until <= now || distance > radius_m || inside_before || watched.asked.contains(driver_id) {
                continue;
            }
            watched.asked.insert(driver_id.to_string());
            let candidate =
                Candidate { driver_id: driver_id.to_string(), location, distance_m: distance, available: true };
            let late = RoundCandidate { region: region.clone(), candidate };
            fx.push(RegionEffect::OfferLate { ride_id: watch.ride_id.clone(), candidate: late });
        }
    }
}
