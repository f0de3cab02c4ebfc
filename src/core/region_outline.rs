//! The outline of a dispatch region, for maps (the dispatcher console draws
//! it): the region's hexagon and its demand cells, the H3 cells one
//! resolution finer that `high_demand` names, as polygons of positions.

use h3o::{CellIndex, Resolution};
use serde::Serialize;

use super::geo::LatLng;
use super::invalid::Invalid;
use super::region_cells::region_of;

/// One H3 cell and its boundary (5 or 6 vertices, counter-clockwise, not closed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellOutline {
    /// The cell, as h3o's lower-case hex string.
    pub cell: String,
    /// The cell's vertices.
    pub boundary: Vec<LatLng>,
}

/// The answer of `GET /v1/regions/outline`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionOutline {
    /// The region cell holding the position (the dispatch socket's region).
    pub region: String,
    /// The region resolution (`REGION_RES`).
    pub resolution: u8,
    /// The region's vertices.
    pub boundary: Vec<LatLng>,
    /// The region's children one resolution finer (none at resolution 15).
    pub cells: Vec<CellOutline>,
}

/// The outline of the region of `at` at resolution `res`.
pub fn region_outline(at: LatLng, res: u8) -> Result<RegionOutline, Invalid> {
    let region = region_of(at, res)?;
    let index: CellIndex = region.parse().map_err(|_| Invalid::field("region", "is not a cell"))?;
    let cells = match Resolution::try_from(res.saturating_add(1)) {
        Ok(finer) if res < 15 => index
            .children(finer)
            .map(|child| CellOutline { cell: child.to_string(), boundary: boundary(child) })
            .collect(),
        _ => Vec::new(),
    };
    Ok(RegionOutline { boundary: boundary(index), region, resolution: res, cells })
}

fn boundary(cell: CellIndex) -> Vec<LatLng> {
    cell.boundary().iter().map(|v| LatLng { lat: v.lat(), lng: v.lng() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::distance_m;

    const JOHANNESBURG: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };

    #[test]
    fn the_outline_is_the_region_of_the_position_with_its_seven_demand_cells() {
        let outline = region_outline(JOHANNESBURG, 5).unwrap();
        assert_eq!(outline.region, region_of(JOHANNESBURG, 5).unwrap());
        assert_eq!(outline.boundary.len(), 6);
        assert_eq!(outline.cells.len(), 7);
        for cell in &outline.cells {
            let parent: CellIndex = cell.cell.parse().unwrap();
            assert_eq!(parent.parent(Resolution::Five).unwrap().to_string(), outline.region);
            assert_eq!(cell.boundary.len(), 6);
        }
    }

    #[test]
    fn the_region_boundary_lies_around_the_position() {
        let outline = region_outline(JOHANNESBURG, 5).unwrap();
        for vertex in &outline.boundary {
            // A resolution-5 hexagon's vertices are about 8.5 km from its centre.
            assert!(distance_m(*vertex, JOHANNESBURG) < 20_000.0, "{vertex:?}");
        }
    }

    #[test]
    fn the_finest_resolution_has_no_demand_cells() {
        assert!(region_outline(JOHANNESBURG, 15).unwrap().cells.is_empty());
    }

    #[test]
    fn a_position_out_of_range_is_invalid() {
        assert!(region_outline(LatLng { lat: 91.0, lng: 0.0 }, 5).is_err());
    }
}
