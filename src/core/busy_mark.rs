//! The busy mark: whether a driver has an active ride, as the regions
//! holding its sockets know it. Its Driver DO numbers every change of the
//! driver's active ride; a mark carries the number it was decided at, and a
//! region keeps the newest it has seen. Marks travel by several paths (an
//! attach answer, a Driver DO's delivery, a ride's `ride_assigned` and final
//! `ride_updated` on the fast path), so one decided earlier may land later:
//! its number tells the region to leave the newer one in place.

use serde::{Deserialize, Serialize};

/// A driver's busy mark.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BusyMark {
    /// The driver's active ride; none while it is free.
    #[serde(default)]
    pub ride_id: Option<String>,
    /// How many times the driver's active ride had changed when the mark
    /// was decided (0: not known, e.g. before the first change).
    #[serde(default)]
    pub version: u64,
}

impl BusyMark {
    /// A mark of `ride_id` (or free) at `version`.
    pub fn new(ride_id: Option<String>, version: u64) -> BusyMark {
        BusyMark { ride_id, version }
    }

    /// Whether the driver is busy with a ride.
    pub fn is_busy(&self) -> bool {
        self.ride_id.is_some()
    }

    /// Whether this mark may replace `held`: it was not decided before it.
    pub fn replaces(&self, held: &BusyMark) -> bool {
        self.version >= held.version
    }
}
