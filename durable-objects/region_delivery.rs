//! Frames reaching a region's driver sockets: a round's offers straight
//! from the ride (skipping drivers marked busy here), and everything a
//! Driver DO sends with its busy mark.

use worker::State;

use super::attachment::Attachment;
use super::region_sockets::{send, sockets_of};
use crate::error::AppError;
use crate::region_rpc::{DeliverBatch, DriverDelivery};

/// Sends each frame to every socket of its driver, except an offer to a
/// driver `is_busy` says has an active ride. Returns, per delivery, whether
/// a socket took it.
pub fn deliver_offers(state: &State, batch: &DeliverBatch, is_busy: impl Fn(&str) -> bool) -> Vec<bool> {
    let mut taken = Vec::with_capacity(batch.deliveries.len());
    for delivery in &batch.deliveries {
        if delivery.offer && is_busy(&delivery.driver_id) {
            taken.push(false);
            continue;
        }
        let targets = sockets_of(state, &delivery.driver_id);
        for (ws, _) in &targets {
            send(ws, &delivery.frame);
        }
        taken.push(!targets.is_empty());
    }
    taken
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
