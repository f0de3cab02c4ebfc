//! Region hand-off: when a driver's reported position has left its
//! region's cell by more than a margin, it must move to the region of its
//! new position. The margin keeps a driver on a border from bouncing.

use super::geo::LatLng;
use super::invalid::Invalid;
use super::region_cells::{region_of, CellShape};

/// How far outside its cell a driver may go before it is handed off, in m.
pub const HANDOFF_MARGIN_M: f64 = 250.0;

/// The region a driver at `at` must move to, or None while it may stay in `cell`.
pub fn handoff_target(cell: &CellShape, at: LatLng, res: u8) -> Result<Option<String>, Invalid> {
    let outside = cell.outside_m(at).ok_or_else(|| Invalid::field("at", "must be a valid position"))?;
    if outside <= HANDOFF_MARGIN_M {
        return Ok(None);
    }
    let target = region_of(at, res)?;
    Ok((target != cell.name()).then_some(target))
}

/// The path a handed-off driver reconnects to (the token is its own to add).
pub fn reconnect_path(at: LatLng) -> String {
    format!("/v1/ws/driver?lat={}&lng={}", at.lat, at.lng)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::destination;
    use crate::core::region_cells::distance_outside_m;

    const RES: u8 = 5;
    const START: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };

    fn shape(cell: &str) -> CellShape {
        CellShape::of(cell).unwrap()
    }

    #[test]
    fn a_driver_inside_its_region_stays() {
        let cell = region_of(START, RES).unwrap();
        assert_eq!(handoff_target(&shape(&cell), START, RES).unwrap(), None);
    }

    #[test]
    fn a_driver_far_outside_its_region_moves_to_the_region_of_its_position() {
        let cell = region_of(START, RES).unwrap();
        let far = destination(START, 0.0, 30_000.0);
        assert_eq!(handoff_target(&shape(&cell), far, RES).unwrap(), Some(region_of(far, RES).unwrap()));
    }

    #[test]
    fn a_driver_just_across_the_border_stays_within_the_margin() {
        let cell = region_of(START, RES).unwrap();
        // Walk north until the position leaves the cell, then a few metres more.
        let mut step = 0.0;
        let mut at = START;
        while distance_outside_m(&cell, at).unwrap() == 0.0 {
            step += 50.0;
            at = destination(START, 0.0, step);
        }
        let just_out = destination(START, 0.0, step + 20.0);
        assert!(distance_outside_m(&cell, just_out).unwrap() < HANDOFF_MARGIN_M);
        assert_eq!(handoff_target(&shape(&cell), just_out, RES).unwrap(), None);
        let well_out = destination(START, 0.0, step + 2_000.0);
        assert!(handoff_target(&shape(&cell), well_out, RES).unwrap().is_some());
    }

    #[test]
    fn the_reconnect_path_names_the_new_position() {
        assert_eq!(reconnect_path(LatLng { lat: -26.5, lng: 28.25 }), "/v1/ws/driver?lat=-26.5&lng=28.25");
    }
}
