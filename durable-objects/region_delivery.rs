//! Delivering Ride DO frames to a region's drivers, and remembering what a
//! reconnecting driver must be sent again (open offers, the active ride).

use worker::State;

use super::attachment::Attachment;
use super::region_sockets::{load_memo, save_memo, send, sockets_of, DriverMemo, HeldOffer};
use crate::error::AppError;
use crate::region_rpc::{DeliverBatch, Delivery, DeliveryKind};

/// Applies busy marks, then sends each frame to every socket of its driver.
/// Returns how many drivers had a socket to receive their frame.
pub async fn deliver(
    state: &State,
    batch: DeliverBatch,
    mut set_busy: impl FnMut(&str, bool),
) -> Result<usize, AppError> {
    for (driver_id, ride) in &batch.busy {
        let mut memo = load_memo(state, driver_id).await?;
        memo.busy_ride = ride.clone();
        match ride {
            Some(_) => memo.offers.clear(),
            None => memo.active_frame = None,
        }
        save_memo(state, driver_id, &memo).await?;
        for (ws, mut socket) in sockets_of(state, driver_id) {
            socket.busy_ride = ride.clone();
            socket.save(&ws)?;
        }
        set_busy(driver_id, ride.is_some());
    }
    let mut reached = 0;
    for delivery in batch.deliveries {
        let targets = sockets_of(state, &delivery.driver_id);
        for (ws, _) in &targets {
            send(ws, &delivery.frame);
        }
        if !targets.is_empty() {
            reached += 1;
        }
        if delivery.kind != DeliveryKind::Transient {
            let mut memo = load_memo(state, &delivery.driver_id).await?;
            remember(&mut memo, &delivery);
            save_memo(state, &delivery.driver_id, &memo).await?;
        }
    }
    Ok(reached)
}

/// How a delivered frame changes what is re-sent on reconnect.
fn remember(memo: &mut DriverMemo, delivery: &Delivery) {
    memo.offers.retain(|offer| offer.ride_id != delivery.ride_id);
    match delivery.kind {
        DeliveryKind::Offer => memo.offers.push(HeldOffer {
            ride_id: delivery.ride_id.clone(),
            frame: delivery.frame.clone(),
            expires_at: delivery.expires_at.unwrap_or(0),
        }),
        DeliveryKind::ActiveRide => memo.active_frame = Some(delivery.frame.clone()),
        DeliveryKind::RideOver => memo.active_frame = None,
        DeliveryKind::OfferClosed | DeliveryKind::Transient => {}
    }
}
