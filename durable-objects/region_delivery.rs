//! Frames reaching a region's driver sockets: a round's offers straight
//! from the ride (skipping drivers marked busy here), and everything a
//! Driver DO sends with its busy mark.

use worker::State;

use super::attachment::Attachment;
use super::region_sockets::{send, sockets_of};
use crate::error::AppError;
use crate::region_rpc::{DeliverBatch, DriverDelivery, FastMark};

/// Sends each frame to every socket of its driver, except an offer to a
/// driver `is_busy` says has an active ride; a frame's busy mark is applied
/// first (to the sockets, and through `set_busy` to the index). Returns,
/// per delivery, whether a socket took it.
pub fn deliver_offers(
    state: &State,
    batch: &DeliverBatch,
    is_busy: impl Fn(&str) -> bool,
    mut set_busy: impl FnMut(&str, bool),
) -> Vec<bool> {
    let mut taken = Vec::with_capacity(batch.deliveries.len());
    for delivery in &batch.deliveries {
        if delivery.offer && is_busy(&delivery.driver_id) {
            taken.push(false);
            continue;
        }
        if let Some(mark) = &delivery.mark {
            apply_mark(state, &delivery.driver_id, mark, &mut set_busy);
        }
        let targets = sockets_of(state, &delivery.driver_id);
        for (ws, _) in &targets {
            send(ws, &delivery.frame);
        }
        taken.push(!targets.is_empty());
    }
    taken
}

/// Applies a ride's mark to the driver's sockets here (a free mark only
/// clears the mark of that same ride).
fn apply_mark(state: &State, driver_id: &str, mark: &FastMark, set_busy: &mut impl FnMut(&str, bool)) {
    let busy_ride = match mark {
        FastMark::Busy(ride_id) => Some(ride_id.clone()),
        FastMark::FreeOf(_) => None,
    };
    let mut changed = false;
    for (ws, mut socket) in sockets_of(state, driver_id) {
        let applies = match mark {
            FastMark::Busy(_) => socket.busy_ride != busy_ride,
            FastMark::FreeOf(ride_id) => socket.busy_ride.as_deref() == Some(ride_id.as_str()),
        };
        if applies {
            socket.busy_ride.clone_from(&busy_ride);
            if let Err(err) = socket.save(&ws) {
                worker::console_error!("saving a busy mark failed: {err}");
            }
            changed = true;
        }
    }
    if changed {
        set_busy(driver_id, busy_ride.is_some());
    }
}

/// Applies a Driver DO's busy mark to the driver's sockets here and sends
/// its frames to each of them, in order. Returns the ids of those sockets.
pub fn deliver_driver_frames(state: &State, delivery: &DriverDelivery) -> Result<Vec<String>, AppError> {
    let mut ids = Vec::new();
    for (ws, mut socket) in sockets_of(state, &delivery.driver_id) {
        if socket.busy_ride != delivery.busy_ride {
            socket.busy_ride.clone_from(&delivery.busy_ride);
            socket.save(&ws)?;
        }
        for frame in &delivery.frames {
            send(&ws, frame);
        }
        ids.push(socket.socket_id);
    }
    Ok(ids)
}
