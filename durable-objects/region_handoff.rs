//! Region hand-off: a driver that has left its region's cell (by more than
//! the core's margin) is told `region_changed` and closed with 4000. Its
//! open offers and active ride are its Driver DO's: they reach it again
//! when it connects in the new region.

use super::region::RegionDo;
use super::region_dispatch;
use super::region_sockets::sockets_of;
use super::socket_reply::reply;
use crate::core::geo::LatLng;
use crate::core::handoff::{handoff_target, reconnect_path};
use crate::core::protocol::{DispatchOutbound, DriverOutbound};
use crate::core::socket_rules::CLOSE_REGION_CHANGED;
use crate::error::AppError;

/// Hands `driver_id` at `at` off to the region of its position if it left this one.
pub async fn check(region: &RegionDo, driver_id: &str, at: LatLng) -> Result<(), AppError> {
    let Some(cell) = region.cell().await else { return Ok(()) };
    let res = region.config()?.region_res;
    let Some(target) = handoff_target(&cell, at, res)? else { return Ok(()) };
    let changed = DriverOutbound::RegionChanged { region: target, reconnect: reconnect_path(at) };
    for (ws, _) in sockets_of(region.state(), driver_id) {
        reply(&ws, &changed, None);
        let _ = ws.close(Some(CLOSE_REGION_CHANGED), Some("region changed; reconnect"));
    }
    if region.with_index(|index| index.remove(driver_id)).is_some() {
        region_dispatch::broadcast(
            region.state(),
            &DispatchOutbound::DriverOffline { driver_id: driver_id.to_string() },
        );
    }
    region.report_stats(None).await;
    Ok(())
}
