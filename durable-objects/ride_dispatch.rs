//! An offer round's IO: the core records the query (persisted, with the
//! alarm that recovers it, before anything leaves), the pickup's region is
//! asked, then (concurrently) every other region within the dispatch radius
//! unless the first answer settles the round, and the merged, nearest-first
//! answer goes back into the core, which checks it is still current.

use std::collections::HashMap;

use futures::future::join_all;

use super::ride::RideObject;
use crate::core::dispatch::{CandidateQuery, RoundCandidate};
use crate::core::driver_index::Candidate;
use crate::core::handoff::HANDOFF_MARGIN_M;
use crate::core::matching::{merge_nearest, nearest_are_settled};
use crate::core::region_cells::regions_within_by_distance;
use crate::core::ride_input::RideInput;
use crate::error::AppError;
use crate::region_rpc;

/// Asks the regions the query of `round` (recorded by the core, and already
/// stored with its alarm by the step that decided it) and hands their answer back.
pub async fn ask_regions(ride: &RideObject, round: u32, query: &CandidateQuery) -> Result<(), AppError> {
    let (candidates, complete) = candidates(ride, query, ride.config()?.region_res).await?;
    ride.apply(RideInput::RoundAnswered { round, candidates, complete }).await?;
    Ok(())
}

/// Asks the regions the query of `round` after the caller has its answer
/// (a create's first round); a failure is the alarm's to retry (the round's
/// query is stored with it).
pub fn ask_later(object: &RideObject, round: u32, query: CandidateQuery) {
    let Some(ride) = object.me.upgrade() else { return };
    object.state().wait_until(async move {
        if let Err(err) = ask_regions(&ride, round, &query).await {
            worker::console_error!(
                "round {round} of ride {} was not asked: {err}",
                ride.current().map(|r| r.ride.id).unwrap_or_default()
            );
        }
    });
}

/// The merged, nearest-first answers of the regions within the radius, and
/// whether every region asked answered. The pickup's region is asked first;
/// the others only if it cannot settle the round alone (fewer than the
/// limit, or another region may hold a nearer driver: `nearest_are_settled`).
async fn candidates(
    ride: &RideObject,
    query: &CandidateQuery,
    region_res: u8,
) -> Result<(Vec<RoundCandidate>, bool), AppError> {
    let mut regions = regions_within_by_distance(query.at, query.radius_km, region_res)?.into_iter();
    let mut answers: Vec<(String, Result<Vec<Candidate>, AppError>)> = Vec::new();
    if let Some((own, _)) = regions.next() {
        let answer = region_rpc::candidates(ride.env(), &own, query).await;
        answers.push((own, answer));
    }
    let others: Vec<(String, f64)> = regions.collect();
    let floor = others.first().map(|(_, outside)| outside - HANDOFF_MARGIN_M);
    let settled = match answers.first() {
        Some((_, Ok(found))) => nearest_are_settled(found, query.limit as usize, floor),
        _ => others.is_empty(),
    };
    if !settled {
        let calls = others.iter().map(|(cell, _)| region_rpc::candidates(ride.env(), cell, query));
        answers.extend(others.iter().map(|(cell, _)| cell.clone()).zip(join_all(calls).await));
    }
    let mut region_of: HashMap<String, String> = HashMap::new();
    let mut lists = Vec::with_capacity(answers.len());
    let mut complete = true;
    for (cell, answer) in answers {
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
