//! Frames a Ride DO owes to drivers' Driver DOs: stored in the same write as
//! the ride state they come from, sent to each driver in order, deleted
//! once its Driver DO took them; a failed send stays and is retried from the
//! alarm, never dropped.

use std::cell::Cell;
use std::collections::BTreeMap;

use futures::future::join_all;
use serde::{Deserialize, Serialize};
use worker::{console_error, Env, ListOptions, Storage};

use crate::core::commitments::RideFrame;
use crate::driver_rpc::{self, calls, RideFrames};
use crate::error::AppError;

/// Storage key prefix of an owed frame; the zero-padded id keeps them in order.
const PREFIX: &str = "to_driver:";
/// How long after a failed send the alarm retries it, in ms.
pub const RETRY_AFTER_MS: i64 = 1_000;

/// One frame owed to one driver.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OwedToDriver {
    /// The driver.
    pub driver_id: String,
    /// The numbered frame.
    pub frame: RideFrame,
}

/// The storage entry (key, JSON text) of an owed frame.
pub fn entry(owed: &OwedToDriver) -> Result<(String, String), AppError> {
    Ok((format!("{PREFIX}{:012}", owed.frame.id), serde_json::to_string(owed)?))
}

/// Frame ids whose fast-path delivery is still out (memory only): their
/// driver's frames wait for the step that sent them, which marks where
/// they landed and then hands them over itself (else the Driver DO would
/// deliver them a second time).
pub type InFlight = std::rc::Rc<std::cell::RefCell<std::collections::BTreeSet<u64>>>;

/// Frame ids marked in flight for as long as this lives (every way out of
/// the step that sends them, errors too, unmarks them).
pub struct InFlightMark<'a> {
    set: &'a InFlight,
    ids: Vec<u64>,
}

impl<'a> InFlightMark<'a> {
    /// Marks `ids` in flight in `set`.
    pub fn new(set: &'a InFlight, ids: Vec<u64>) -> Self {
        set.borrow_mut().extend(ids.iter().copied());
        InFlightMark { set, ids }
    }
}

impl Drop for InFlightMark<'_> {
    fn drop(&mut self) {
        self.set.borrow_mut().retain(|id| !self.ids.contains(id));
    }
}

/// Sends every owed frame, each driver's in one call in order, but those of
/// a driver with a frame in `in_flight`; deletes what was taken. Returns
/// false when something is left for the alarm.
pub async fn flush(storage: &Storage, env: &Env, ride_id: &str, in_flight: &InFlight) -> Result<bool, AppError> {
    let listed = storage.list_with_options(ListOptions::new().prefix(PREFIX)).await?;
    let mut by_driver: BTreeMap<String, Vec<(String, RideFrame)>> = BTreeMap::new();
    for value in listed.values() {
        let Some(json) = value.map_err(worker::Error::from)?.as_string() else { continue };
        let owed: OwedToDriver = serde_json::from_slice(json.as_bytes())?;
        let (key, _) = entry(&owed)?;
        by_driver.entry(owed.driver_id).or_default().push((key, owed.frame));
    }
    let busy: Vec<String> = by_driver
        .iter()
        .filter(|(_, owed)| owed.iter().any(|(_, frame)| in_flight.borrow().contains(&frame.id)))
        .map(|(driver, _)| driver.clone())
        .collect();
    for driver in busy {
        by_driver.remove(&driver);
    }
    if by_driver.is_empty() {
        return Ok(true);
    }
    let sends = by_driver.into_iter().map(|(driver_id, owed)| async move {
        let (keys, frames): (Vec<String>, Vec<RideFrame>) = owed.into_iter().unzip();
        let request = RideFrames { ride_id: ride_id.to_string(), frames };
        match driver_rpc::call::<calls::Frames>(env, &driver_id, request).await {
            Ok(_) => keys,
            Err(err) => {
                console_error!("frames for driver {driver_id} not taken yet: {err}");
                Vec::new()
            }
        }
    });
    let results = join_all(sends).await;
    let all_taken = results.iter().all(|keys| !keys.is_empty());
    let taken: Vec<String> = results.into_iter().flatten().collect();
    if !taken.is_empty() {
        storage.delete_multiple(taken).await?;
    }
    Ok(all_taken)
}

/// Sends every frame a ride owes to drivers, `owed` saying whether any may
/// still be waiting; what is not taken stays, with the alarm set to retry it.
pub async fn flush_owed(storage: &Storage, env: &Env, ride_id: &str, owed: &Cell<bool>, in_flight: &InFlight) {
    owed.set(true);
    let flushed = flush(storage, env, ride_id, in_flight).await.unwrap_or(false);
    // Frames committed by an event that ran during the flush are sent by that event itself.
    owed.set(!flushed);
    if !flushed {
        let retry_at = super::now_ms() + RETRY_AFTER_MS;
        if let Err(err) = super::token_expiry::wake_by_storage(storage, retry_at).await {
            worker::console_error!("could not set the driver frame retry alarm: {err}");
        }
    }
}
