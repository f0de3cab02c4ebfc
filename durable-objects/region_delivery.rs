//! Frames reaching a region's driver sockets: a round's offers straight
//! from the ride (skipping drivers marked busy here), and everything a
//! Driver DO sends with its busy mark.

use worker::State;

use super::attachment::Attachment;
use super::region_sockets::{send, sockets_of};
use crate::error::AppError;
use crate::region_rpc::{DeliverBatch, DriverDelivery};

/// Sends each offer to every socket of its driver, unless `is_busy` says the
/// driver has an active ride. Returns the drivers reached.
pub fn deliver_offers(state: &State, batch: &DeliverBatch, is_busy: impl Fn(&str) -> bool) -> Vec<String> {
    let mut reached = Vec::new();
    for delivery in &batch.deliveries {
        if is_busy(&delivery.driver_id) {
            continue;
        }
        let targets = sockets_of(state, &delivery.driver_id);
        for (ws, _) in &targets {
            send(ws, &delivery.frame);
        }
        if !targets.is_empty() {
            reached.push(delivery.driver_id.clone());
        }
    }
    reached
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
