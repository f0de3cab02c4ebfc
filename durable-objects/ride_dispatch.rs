//! An offer round's IO: the core records the query (persisted, with the
//! alarm that recovers it, before anything leaves), every region within the
//! dispatch radius of the pickup is asked (concurrently), and the merged,
//! nearest-first answer goes back into the core, which checks it is still current.

use std::collections::HashMap;

use futures::future::join_all;

use super::ride::RideDo;
use crate::core::dispatch::{CandidateQuery, RoundCandidate};
use crate::core::matching::merge_nearest;
use crate::core::region_cells::regions_within;
use crate::core::ride_input::RideInput;
use crate::error::AppError;
use crate::region_rpc;

/// Asks the regions the query of `round` (recorded by the core, and already
/// stored with its alarm by the step that decided it) and hands their answer back.
pub async fn ask_regions(ride: &RideDo, round: u32, query: &CandidateQuery) -> Result<(), AppError> {
    let (candidates, complete) = candidates(ride, query, ride.config()?.region_res).await?;
    ride.apply(RideInput::RoundAnswered { round, candidates, complete }).await?;
    Ok(())
}

/// The merged, nearest-first answers of every region within the radius,
/// and whether every region answered.
async fn candidates(
    ride: &RideDo,
    query: &CandidateQuery,
    region_res: u8,
) -> Result<(Vec<RoundCandidate>, bool), AppError> {
    let regions = regions_within(query.at, query.radius_km, region_res)?;
    let answers = join_all(regions.iter().map(|cell| region_rpc::candidates(ride.env(), cell, query))).await;
    let mut region_of: HashMap<String, String> = HashMap::new();
    let mut lists = Vec::with_capacity(answers.len());
    let mut complete = true;
    for (cell, answer) in regions.iter().zip(answers) {
        match answer {
            Ok(list) => {
                for candidate in &list {
                    region_of.entry(candidate.driver_id.clone()).or_insert_with(|| cell.clone());
                }
                lists.push(list);
            }
            Err(err) => {
                complete = false;
                worker::console_error!("region {cell} did not answer for candidates: {err}");
            }
        }
    }
    let merged = merge_nearest(lists, query.limit as usize)
        .into_iter()
        .filter_map(|candidate| {
            let region = region_of.get(&candidate.driver_id)?.clone();
            Some(RoundCandidate { region, candidate })
        })
        .collect();
    Ok((merged, complete))
}
