//! Late drivers' IO on the ride's side: each watch the core decided (a
//! round started) goes to every region within the dispatch radius of the
//! pickup: the pickup's own with the step's delivery (before its offers),
//! the others after the answer (nobody waits on them). A lost watch costs
//! only speed: the next round's query still finds the driver, and a watch
//! lapses by itself when its round ends.
//!
//! The end of the watch (the ride stopped searching) goes to the pickup's
//! region alone, with the step's delivery: the others let it lapse at the
//! round's end. Until then a driver turning up there is reported to the
//! ride, which refuses it (it no longer searches): one call for each such
//! driver, where telling every region would cost one call to each of them
//! for every ride (a resolution-5 radius touches about six).

use futures::future::join_all;

use super::ride::RideObject;
use crate::core::dispatch::Effect;
use crate::core::late_driver::SearchWatch;
use crate::core::region_cells::regions_within;
use crate::region_rpc;

/// The watches among `effects`.
pub fn watches_of(effects: &[Effect]) -> Vec<SearchWatch> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Watch(watch) => Some(watch.clone()),
            _ => None,
        })
        .collect()
}

/// Sends `watches` to the regions around the pickup once the caller has its
/// answer, but `sent` (the pickup's region, which had them with the step's
/// delivery); an ended watch goes nowhere else (it lapses there).
pub fn watch_later(ride: &RideObject, watches: Vec<SearchWatch>, sent: Option<String>) {
    let watches: Vec<SearchWatch> = watches.into_iter().filter(|watch| !watch.ended()).collect();
    if watches.is_empty() {
        return;
    }
    let region_res = match ride.config() {
        Ok(config) => config.region_res,
        Err(err) => return worker::console_error!("no config to send a ride's watch: {err}"),
    };
    let env = ride.env().clone();
    ride.state().wait_until(async move {
        for watch in watches {
            let cells = match regions_within(watch.at, watch.radius_km, region_res) {
                Ok(cells) => cells.into_iter().filter(|cell| Some(cell) != sent.as_ref()).collect::<Vec<_>>(),
                Err(err) => return worker::console_error!("no regions for a ride's watch: {err}"),
            };
            let calls = cells.iter().map(|cell| region_rpc::ask::<region_rpc::calls::Watch>(&env, cell, &watch));
            for (cell, answer) in cells.iter().zip(join_all(calls).await) {
                if let Err(err) = answer {
                    worker::console_error!("region {cell} did not take ride {}'s watch: {err}", watch.ride_id);
                }
            }
        }
    });
}
