//! An offer round's IO: ask every region within the dispatch radius of the
//! pickup for candidates (concurrently), merge them nearest first, and let
//! the core start the round.

use std::collections::HashMap;

use futures::future::join_all;

use super::ride::{now_ms, RideDo};
use crate::core::dispatch::{CandidateQuery, RoundCandidate};
use crate::core::matching::merge_nearest;
use crate::core::region_cells::regions_within;
use crate::error::AppError;
use crate::region_rpc;

/// Runs the next round of `ride`; a ride that takes no more rounds expires.
pub async fn run_round(ride: &RideDo) -> Result<(), AppError> {
    let config = ride.config()?;
    let settings = config.dispatch();
    let round = match ride.current()?.candidate_query(&settings) {
        Some(query) => candidates(ride, &query, config.region_res).await?,
        None => Vec::new(),
    };
    let effects = ride.change(|record| record.start_round(round, &settings, now_ms()))?;
    ride.runner().run(effects).await?;
    Ok(())
}

/// The merged, nearest-first answers of every region within the radius.
async fn candidates(ride: &RideDo, query: &CandidateQuery, region_res: u8) -> Result<Vec<RoundCandidate>, AppError> {
    let regions = regions_within(query.at, query.radius_km, region_res)?;
    let answers = join_all(regions.iter().map(|cell| region_rpc::candidates(ride.env(), cell, query))).await;
    let mut region_of: HashMap<String, String> = HashMap::new();
    let mut lists = Vec::with_capacity(answers.len());
    for (cell, answer) in regions.iter().zip(answers) {
        match answer {
            Ok(list) => {
                for candidate in &list {
                    region_of.entry(candidate.driver_id.clone()).or_insert_with(|| cell.clone());
                }
                lists.push(list);
            }
            Err(err) => worker::console_error!("region {cell} did not answer for candidates: {err}"),
        }
    }
    Ok(merge_nearest(lists, query.limit as usize)
        .into_iter()
        .filter_map(|candidate| {
            let region = region_of.get(&candidate.driver_id)?.clone();
            Some(RoundCandidate { region, candidate })
        })
        .collect())
}
