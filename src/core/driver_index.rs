//! The index of one Region Durable Object's online drivers: updated on
//! every location update, it answers nearest-driver queries by scanning the
//! region's drivers. Each position is kept as a point on the unit sphere,
//! where straight-line (chord) order is great-circle order, so a query
//! costs a few multiplications per driver.
//!
//! A scan, not a spatial tree: a region's drivers report every few seconds
//! and are queried once per offer round, so the update must be cheap. An
//! R*-tree (rstar) made each location update remove and reinsert a point,
//! about a fifth of a location flood's CPU in wasm; a scan of 5,000 drivers
//! per round costs less than that tree did in a second of their updates.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::geo::{chord_to_m, m_to_chord, squared_chord, unit_vector, LatLng};

/// One online driver as the region knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexedDriver {
    /// The driver's id.
    pub id: String,
    /// The last reported position.
    pub location: LatLng,
    /// Whether the driver said it takes offers.
    pub available: bool,
    /// Whether the driver has an active ride.
    pub busy: bool,
}

/// A driver found by a nearest query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The driver's id.
    pub driver_id: String,
    /// The driver's last reported position.
    pub location: LatLng,
    /// Great-circle distance from the query point, in metres.
    pub distance_m: f64,
    /// Whether the driver may be offered a ride now (available and not busy).
    pub available: bool,
}

/// Which drivers a nearest query lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eligibility {
    /// Every online driver (a map of nearby drivers).
    Any,
    /// Only drivers that are available and not busy (an offer round).
    OfferableOnly,
}

/// A driver and its position on the unit sphere.
struct Entry {
    driver: IndexedDriver,
    unit: [f64; 3],
}

/// The online drivers of one region, by id, with their positions.
#[derive(Default)]
pub struct DriverIndex {
    drivers: BTreeMap<String, Entry>,
    /// How many drivers are busy, and how many available and not busy
    /// (kept with every change: the region reads them after every event).
    busy: u32,
    offerable: u32,
}

/// How many of the index's drivers are in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexCounts {
    /// Every indexed driver.
    pub online: u32,
    /// Available and not busy.
    pub available: u32,
    /// With an active ride.
    pub busy: u32,
}

impl DriverIndex {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a driver's position and availability, keeping whether it is
    /// busy if known (else not busy). A non-finite position is ignored.
    pub fn upsert(&mut self, id: &str, location: LatLng, available: bool) {
        if !location.lat.is_finite() || !location.lng.is_finite() {
            return;
        }
        let unit = unit_vector(location);
        if let Some(known) = self.drivers.get_mut(id) {
            let (busy, was_available) = (known.driver.busy, known.driver.available);
            known.driver.location = location;
            known.driver.available = available;
            known.unit = unit;
            self.count(busy, was_available, false);
            self.count(busy, available, true);
            return;
        }
        let driver = IndexedDriver { id: id.to_string(), location, available, busy: false };
        self.count(false, available, true);
        self.drivers.insert(driver.id.clone(), Entry { driver, unit });
    }

    /// Sets whether a driver takes offers; `false` if the id is unknown.
    pub fn set_available(&mut self, id: &str, available: bool) -> bool {
        self.change(id, |driver| driver.available = available)
    }

    /// Sets whether a driver has an active ride; `false` if the id is unknown.
    pub fn set_busy(&mut self, id: &str, busy: bool) -> bool {
        self.change(id, |driver| driver.busy = busy)
    }

    /// Forgets a driver, returning what was known of it.
    pub fn remove(&mut self, id: &str) -> Option<IndexedDriver> {
        let driver = self.drivers.remove(id)?.driver;
        self.count(driver.busy, driver.available, false);
        Some(driver)
    }

    /// How many drivers are online, available (and not busy), and busy.
    pub fn counts(&self) -> IndexCounts {
        IndexCounts { online: self.drivers.len() as u32, available: self.offerable, busy: self.busy }
    }

    /// Changes a known driver's flags, keeping the counts.
    fn change(&mut self, id: &str, set: impl FnOnce(&mut IndexedDriver)) -> bool {
        let Some(driver) = self.drivers.get_mut(id).map(|e| &mut e.driver) else { return false };
        let before = (driver.busy, driver.available);
        set(driver);
        let after = (driver.busy, driver.available);
        self.count(before.0, before.1, false);
        self.count(after.0, after.1, true);
        true
    }

    /// Counts a driver in (`add`) or out of the state it has.
    fn count(&mut self, busy: bool, available: bool, add: bool) {
        let counter = match (busy, available) {
            (true, _) => &mut self.busy,
            (false, true) => &mut self.offerable,
            (false, false) => return,
        };
        *counter = if add { *counter + 1 } else { counter.saturating_sub(1) };
    }

    /// What is known of a driver.
    pub fn get(&self, id: &str) -> Option<&IndexedDriver> {
        self.drivers.get(id).map(|e| &e.driver)
    }

    /// How many drivers are indexed.
    pub fn len(&self) -> usize {
        self.drivers.len()
    }

    /// Whether no driver is indexed.
    pub fn is_empty(&self) -> bool {
        self.drivers.is_empty()
    }

    /// Every indexed driver, in id order.
    pub fn drivers(&self) -> impl Iterator<Item = &IndexedDriver> {
        self.drivers.values().map(|e| &e.driver)
    }

    /// At most `limit` drivers within `radius_m` (inclusive) of `at` that
    /// pass `eligibility` and are not in `exclude`: nearest first, ties by id.
    pub fn nearest(
        &self,
        at: LatLng,
        radius_m: f64,
        limit: usize,
        eligibility: Eligibility,
        exclude: &[String],
    ) -> Vec<Candidate> {
        if limit == 0 || radius_m.is_nan() || radius_m < 0.0 || !at.lat.is_finite() || !at.lng.is_finite() {
            return Vec::new();
        }
        let excluded: HashSet<&str> = exclude.iter().map(String::as_str).collect();
        let target = unit_vector(at);
        // Chords a little longer than the radius's pass here; the comparison
        // in metres at the end decides the edge.
        let max_chord_2 = m_to_chord(radius_m).powi(2) * (1.0 + 1e-9);
        let mut hits: Vec<(f64, &IndexedDriver)> = Vec::new();
        for Entry { driver, unit } in self.drivers.values() {
            if (driver.busy || !driver.available) && eligibility == Eligibility::OfferableOnly {
                continue;
            }
            let chord_2 = squared_chord(*unit, target);
            if chord_2 <= max_chord_2 && !excluded.contains(driver.id.as_str()) {
                hits.push((chord_2, driver));
            }
        }
        // Chord order is distance order, so the nearest `limit` by chord are
        // the nearest by distance, but for drivers whose distances round to
        // the same metres as the last one's: those are kept too, for the
        // tie-break by id below.
        if hits.len() > limit {
            let by_chord = |a: &(f64, &IndexedDriver), b: &(f64, &IndexedDriver)| {
                a.0.total_cmp(&b.0).then_with(|| a.1.id.cmp(&b.1.id))
            };
            hits.select_nth_unstable_by(limit - 1, by_chord);
            let last = hits[limit - 1].0 * (1.0 + 1e-12);
            let (nearest, rest) = hits.split_at_mut(limit);
            let mut kept: Vec<(f64, &IndexedDriver)> = nearest.to_vec();
            kept.extend(rest.iter().filter(|(chord_2, _)| *chord_2 <= last));
            hits = kept;
        }
        let mut found: Vec<Candidate> = hits
            .into_iter()
            .map(|(chord_2, driver)| Candidate {
                driver_id: driver.id.clone(),
                location: driver.location,
                distance_m: chord_to_m(chord_2.sqrt()),
                available: driver.available && !driver.busy,
            })
            .filter(|candidate| candidate.distance_m <= radius_m)
            .collect();
        found.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then_with(|| a.driver_id.cmp(&b.driver_id)));
        found.truncate(limit);
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::{destination, distance_m};

    const PICKUP: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };

    fn ids(found: &[Candidate]) -> Vec<&str> {
        found.iter().map(|c| c.driver_id.as_str()).collect()
    }

    /// Drivers `d1`..`dn` due east of the pickup, `d{i}` at `i` km.
    fn in_a_row(n: u32) -> DriverIndex {
        let mut index = DriverIndex::new();
        for i in 1..=n {
            index.upsert(&format!("d{i}"), destination(PICKUP, 90.0, f64::from(i) * 1000.0), true);
        }
        index
    }

    #[test]
    fn the_nearest_drivers_come_first_and_at_most_limit() {
        let index = in_a_row(8);
        let found = index.nearest(PICKUP, 10_000.0, 3, Eligibility::OfferableOnly, &[]);
        assert_eq!(ids(&found), ["d1", "d2", "d3"]);
        assert!((found[0].distance_m - 1000.0).abs() < 1e-6);
        assert!(found.iter().all(|c| c.available));
        assert!(index.nearest(PICKUP, 10_000.0, 0, Eligibility::Any, &[]).is_empty());
    }

    #[test]
    fn drivers_at_the_same_distance_are_ordered_by_id() {
        let mut index = in_a_row(1);
        let rank = destination(PICKUP, 180.0, 2_000.0);
        for id in ["c", "a", "e", "d", "b"] {
            index.upsert(id, rank, true);
        }
        let found = index.nearest(PICKUP, 10_000.0, 3, Eligibility::Any, &[]);
        assert_eq!(ids(&found), ["d1", "a", "b"]);
    }

    #[test]
    fn a_driver_beyond_the_radius_is_not_a_candidate() {
        let mut index = DriverIndex::new();
        index.upsert("in", destination(PICKUP, 45.0, 9_900.0), true);
        index.upsert("out", destination(PICKUP, 45.0, 10_100.0), true);
        let found = index.nearest(PICKUP, 10_000.0, 5, Eligibility::Any, &[]);
        assert_eq!(ids(&found), ["in"]);
    }

    #[test]
    fn a_driver_exactly_at_the_radius_is_a_candidate() {
        let mut index = DriverIndex::new();
        index.upsert("edge", destination(PICKUP, 0.0, 5_000.0), true);
        let radius_m = index.nearest(PICKUP, 1e9, 1, Eligibility::Any, &[])[0].distance_m;
        assert_eq!(ids(&index.nearest(PICKUP, radius_m, 1, Eligibility::Any, &[])), ["edge"]);
    }

    #[test]
    fn excluded_drivers_are_skipped_and_the_next_nearest_fills_in() {
        let index = in_a_row(6);
        let exclude = vec!["d1".to_string(), "d3".to_string()];
        let found = index.nearest(PICKUP, 10_000.0, 3, Eligibility::OfferableOnly, &exclude);
        assert_eq!(ids(&found), ["d2", "d4", "d5"]);
    }

    #[test]
    fn busy_and_unavailable_drivers_are_offered_nothing_but_are_listed() {
        let mut index = in_a_row(4);
        assert!(index.set_busy("d1", true));
        assert!(index.set_available("d2", false));
        let offerable = index.nearest(PICKUP, 10_000.0, 5, Eligibility::OfferableOnly, &[]);
        assert_eq!(ids(&offerable), ["d3", "d4"]);
        let all = index.nearest(PICKUP, 10_000.0, 5, Eligibility::Any, &[]);
        assert_eq!(ids(&all), ["d1", "d2", "d3", "d4"]);
        assert_eq!(all.iter().map(|c| c.available).collect::<Vec<_>>(), [false, false, true, true]);
    }

    #[test]
    fn a_location_update_keeps_a_busy_driver_busy() {
        let mut index = in_a_row(1);
        index.set_busy("d1", true);
        index.upsert("d1", destination(PICKUP, 0.0, 500.0), true);
        assert!(index.get("d1").unwrap().busy);
        assert!(index.nearest(PICKUP, 10_000.0, 5, Eligibility::OfferableOnly, &[]).is_empty());
    }

    #[test]
    fn updating_an_unknown_driver_reports_false() {
        let mut index = DriverIndex::new();
        assert!(!index.set_busy("ghost", true));
        assert!(!index.set_available("ghost", true));
        assert!(index.is_empty());
    }

    #[test]
    fn a_moved_driver_is_found_at_its_new_position_not_its_old() {
        let mut index = in_a_row(3);
        index.upsert("d1", destination(PICKUP, 270.0, 50_000.0), true);
        assert_eq!(index.len(), 3);
        assert_eq!(ids(&index.nearest(PICKUP, 10_000.0, 5, Eligibility::Any, &[])), ["d2", "d3"]);
        let far = destination(PICKUP, 270.0, 50_000.0);
        assert_eq!(ids(&index.nearest(far, 100.0, 5, Eligibility::Any, &[])), ["d1"]);
    }

    #[test]
    fn a_removed_driver_is_no_longer_found() {
        let mut index = in_a_row(3);
        let removed = index.remove("d2").unwrap();
        assert_eq!(removed.id, "d2");
        assert_eq!(index.remove("d2"), None);
        assert_eq!(index.len(), 2);
        assert_eq!(ids(&index.nearest(PICKUP, 10_000.0, 5, Eligibility::Any, &[])), ["d1", "d3"]);
        assert_eq!(index.drivers().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["d1", "d3"]);
    }

    #[test]
    fn a_non_finite_position_is_ignored() {
        let mut index = DriverIndex::new();
        index.upsert("d1", LatLng { lat: f64::NAN, lng: 0.0 }, true);
        assert!(index.is_empty());
        assert!(index.nearest(LatLng { lat: f64::NAN, lng: 0.0 }, 1e9, 5, Eligibility::Any, &[]).is_empty());
    }

    /// A 64-bit linear congruential generator (Knuth's MMIX constants).
    struct Lcg(u64);

    impl Lcg {
        fn unit(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
    }

    #[test]
    fn the_index_answers_as_a_full_scan_would_over_10_000_drivers() {
        let mut rng = Lcg(42);
        let mut index = DriverIndex::new();
        for i in 0..10_000 {
            let at = LatLng { lat: -26.5 + rng.unit() * 0.6, lng: 27.7 + rng.unit() * 0.7 };
            index.upsert(&format!("driver-{i:05}"), at, rng.unit() < 0.8);
            if rng.unit() < 0.1 {
                index.set_busy(&format!("driver-{i:05}"), true);
            }
        }
        let exclude: Vec<String> = (0..10_000).step_by(7).map(|i| format!("driver-{i:05}")).collect();
        let excluded: HashSet<&String> = exclude.iter().collect();
        for query in 0..20 {
            let at = LatLng { lat: -26.5 + rng.unit() * 0.6, lng: 27.7 + rng.unit() * 0.7 };
            let eligibility = if query % 2 == 0 { Eligibility::OfferableOnly } else { Eligibility::Any };
            let found = index.nearest(at, 10_000.0, 25, eligibility, &exclude);
            let mut scan: Vec<(f64, &str)> = index
                .drivers()
                .filter(|d| eligibility == Eligibility::Any || (d.available && !d.busy))
                .filter(|d| !excluded.contains(&d.id))
                .map(|d| (distance_m(at, d.location), d.id.as_str()))
                .filter(|(d, _)| *d <= 10_000.0)
                .collect();
            scan.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            scan.truncate(25);
            assert_eq!(ids(&found), scan.iter().map(|(_, id)| *id).collect::<Vec<_>>(), "query {query}");
            for (c, (d, _)) in found.iter().zip(&scan) {
                assert!((c.distance_m - d).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn the_counts_kept_with_every_change_equal_a_count_by_scan() {
        let mut rng = Lcg(7);
        let mut index = DriverIndex::new();
        for step in 0..20_000 {
            let id = format!("driver-{:03}", (rng.unit() * 300.0) as u32);
            let at = LatLng { lat: -26.2 + rng.unit() * 0.1, lng: 28.0 + rng.unit() * 0.1 };
            match (rng.unit() * 5.0) as u32 {
                0 => index.upsert(&id, at, rng.unit() < 0.7),
                1 => drop(index.set_available(&id, rng.unit() < 0.5)),
                2 => drop(index.set_busy(&id, rng.unit() < 0.5)),
                3 => drop(index.remove(&id)),
                _ => index.upsert(&id, at, index.get(&id).is_none_or(|d| d.available)),
            }
            let scan = IndexCounts {
                online: index.drivers().count() as u32,
                available: index.drivers().filter(|d| d.available && !d.busy).count() as u32,
                busy: index.drivers().filter(|d| d.busy).count() as u32,
            };
            assert_eq!(index.counts(), scan, "after step {step}");
        }
    }
}
