//! Merging the answers of several regions for one offer round (or one map of
//! nearby drivers): one list, each driver once, nearest first.

use std::collections::HashMap;

use super::driver_index::Candidate;

/// Whether the nearest `limit` drivers are known from the regions asked so
/// far: `found` (nearest first, at most `limit`) is full and none of it is
/// farther than the nearest driver a region not asked could hold
/// (`unasked_floor_m`: the nearest such region's distance less the hand-off
/// margin). Then the other regions need not be asked at all.
pub fn nearest_are_settled(found: &[Candidate], limit: usize, unasked_floor_m: Option<f64>) -> bool {
    let Some(floor) = unasked_floor_m else { return true };
    found.len() >= limit && found.last().is_some_and(|farthest| farthest.distance_m <= floor)
}

/// The `limit` nearest of all `lists`, each driver once (at its smaller
/// distance), nearest first, ties broken by driver id.
pub fn merge_nearest(lists: Vec<Vec<Candidate>>, limit: usize) -> Vec<Candidate> {
    let mut best: HashMap<String, Candidate> = HashMap::new();
    for candidate in lists.into_iter().flatten() {
        match best.get(&candidate.driver_id) {
            Some(known) if known.distance_m <= candidate.distance_m => {}
            _ => {
                best.insert(candidate.driver_id.clone(), candidate);
            }
        }
    }
    let mut merged: Vec<Candidate> = best.into_values().collect();
    merged.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m).then_with(|| a.driver_id.cmp(&b.driver_id)));
    merged.truncate(limit);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::LatLng;

    fn candidate(id: &str, distance_m: f64) -> Candidate {
        Candidate { driver_id: id.to_string(), location: LatLng { lat: -26.2, lng: 28.0 }, distance_m, available: true }
    }

    fn ids(merged: &[Candidate]) -> Vec<&str> {
        merged.iter().map(|c| c.driver_id.as_str()).collect()
    }

    #[test]
    fn the_pickups_region_alone_settles_the_round_when_its_nearest_are_nearer_than_any_other_region() {
        let found = vec![candidate("a", 100.0), candidate("b", 900.0)];
        assert!(nearest_are_settled(&found, 2, Some(1_000.0)));
        assert!(!nearest_are_settled(&found, 2, Some(800.0)), "another region may hold a nearer driver");
        assert!(!nearest_are_settled(&found, 3, Some(5_000.0)), "fewer than the limit: others may add some");
        assert!(nearest_are_settled(&[], 5, None), "no other region to ask");
    }

    #[test]
    fn two_regions_lists_interleave_by_distance() {
        let east = vec![candidate("e1", 100.0), candidate("e2", 900.0), candidate("e3", 2_000.0)];
        let west = vec![candidate("w1", 400.0), candidate("w2", 1_500.0)];
        let merged = merge_nearest(vec![east, west], 10);
        assert_eq!(ids(&merged), ["e1", "w1", "e2", "w2", "e3"]);
    }

    #[test]
    fn a_driver_reported_by_two_regions_appears_once_at_its_smaller_distance() {
        let old_region = vec![candidate("d1", 700.0), candidate("d2", 800.0)];
        let new_region = vec![candidate("d1", 650.0)];
        let merged = merge_nearest(vec![old_region, new_region], 10);
        assert_eq!(ids(&merged), ["d1", "d2"]);
        assert_eq!(merged[0].distance_m, 650.0);
    }

    #[test]
    fn no_more_than_limit_come_out() {
        let lists =
            vec![(0..4).map(|i| candidate(&format!("a{i}"), f64::from(i))).collect(), vec![candidate("b", 0.5)]];
        let merged = merge_nearest(lists, 3);
        assert_eq!(ids(&merged), ["a0", "b", "a1"]);
        assert!(merge_nearest(vec![vec![candidate("x", 1.0)]], 0).is_empty());
    }

    #[test]
    fn equal_distances_are_ordered_by_driver_id() {
        let merged = merge_nearest(vec![vec![candidate("z", 5.0)], vec![candidate("m", 5.0), candidate("a", 5.0)]], 3);
        assert_eq!(ids(&merged), ["a", "m", "z"]);
    }

    #[test]
    fn no_lists_or_empty_lists_merge_to_nothing() {
        assert!(merge_nearest(Vec::new(), 5).is_empty());
        assert!(merge_nearest(vec![Vec::new(), Vec::new()], 5).is_empty());
    }
}
