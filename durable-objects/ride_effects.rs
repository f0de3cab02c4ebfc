//! Carrying out what the core decided for a ride, in the order that keeps
//! the protocol's promises: persist first (record, events, D1 outbox in one
//! write), then announce (ride sockets, drivers through their regions),
//! then set the alarm and write D1.

use std::collections::HashMap;

use futures::future::join_all;

use super::d1_outbox::D1Outbox;
use super::ride::{RideDo, RIDE_KEY};
use crate::core::dispatch::Effect;
use crate::core::geo::LatLng;
use crate::core::protocol::{to_frame, DriverOutbound, PassengerEvent};
use crate::core::region_cells::region_of;
use crate::core::ride::RideRecord;
use crate::error::AppError;
use crate::region_rpc::{self, DeliverBatch, Delivery, DeliveryKind, RegionCall, RideFeed};

/// Storage key of event `seq` (zero-padded so keys sort in seq order).
pub fn event_key(seq: u64) -> String {
    format!("event:{seq:012}")
}

/// Runs effects for one Ride DO.
pub struct EffectRunner<'a> {
    ride: &'a RideDo,
}

impl<'a> EffectRunner<'a> {
    /// A runner for `ride`.
    pub fn new(ride: &'a RideDo) -> Self {
        EffectRunner { ride }
    }

    fn outbox(&self) -> D1Outbox<'a> {
        D1Outbox::new(self.ride.state().storage(), self.ride.env())
    }

    /// Persists the record with `effects`' events and D1 changes, then
    /// announces. Returns whether the core asked for the next round now.
    pub async fn run(&self, effects: Vec<Effect>) -> Result<bool, AppError> {
        let record = self.ride.current()?;
        let mut entries = vec![(RIDE_KEY.to_string(), serde_json::to_string(&record)?)];
        let mut changes = Vec::new();
        for effect in &effects {
            match effect {
                Effect::Publish(event) => entries.push((event_key(event.seq), serde_json::to_string(event)?)),
                Effect::Record(change) => changes.push(change.clone()),
                _ => {}
            }
        }
        let outbox = self.outbox();
        outbox.commit(entries, changes).await?;
        let mut batches: HashMap<String, DeliverBatch> = HashMap::new();
        let mut wake = None;
        let mut next_round = false;
        let mut feeds = Vec::new();
        for effect in effects {
            match effect {
                Effect::Publish(event) => {
                    super::ride_sockets::broadcast(self.ride.state(), &to_frame(&event, None));
                    if let Some(feed) = feed_of(&event.event, &record) {
                        feeds.push(feed);
                    }
                }
                Effect::ToDrivers { drivers, message, req_id } => {
                    let frame = to_frame(&message, req_id.as_deref());
                    let (kind, expires_at) = delivery_kind(&message);
                    for driver in drivers {
                        batches.entry(driver.region).or_default().deliveries.push(Delivery {
                            driver_id: driver.driver_id,
                            ride_id: record.ride.id.clone(),
                            frame: frame.clone(),
                            kind,
                            expires_at,
                        });
                    }
                }
                Effect::SetBusy { driver, ride_id, busy } => {
                    batches.entry(driver.region).or_default().busy.push((driver.driver_id, busy.then_some(ride_id)));
                }
                Effect::Record(_) => {}
                Effect::WakeAt(at) => wake = Some(wake.map_or(at, |w: i64| w.min(at))),
                Effect::StartNextRound => next_round = true,
            }
        }
        if !feeds.is_empty() {
            let config = self.ride.config()?;
            let at = LatLng { lat: record.ride.pickup.lat, lng: record.ride.pickup.lng };
            let pickup_region = region_of(at, config.region_res)?;
            batches.entry(pickup_region).or_default().feed.extend(feeds);
        }
        self.deliver(batches).await;
        if let Some(at) = wake {
            super::token_expiry::wake_by(self.ride.state(), at).await?;
        }
        outbox.flush_or_retry_at(super::ride::now_ms()).await;
        Ok(next_round)
    }

    /// Sends each region its batch, concurrently; a failure is logged.
    async fn deliver(&self, batches: HashMap<String, DeliverBatch>) {
        let env = self.ride.env();
        let calls = batches.iter().map(|(cell, batch)| async move {
            let answer: Result<serde_json::Value, AppError> =
                region_rpc::call(env, cell, RegionCall::Deliver, batch).await;
            (cell, answer)
        });
        for (cell, answer) in join_all(calls).await {
            if let Err(err) = answer {
                worker::console_error!("delivery to region {cell} failed: {err}");
            }
        }
    }

    /// Writes pending D1 changes, retrying from the alarm on failure.
    pub async fn flush_outbox(&self, now_ms: i64) {
        self.outbox().flush_or_retry_at(now_ms).await;
    }
}

/// The dispatch feed entry of an event: its creation, or a change of status
/// (`searching` rounds change nothing a dispatcher sees).
fn feed_of(event: &PassengerEvent, record: &RideRecord) -> Option<RideFeed> {
    let created = match event {
        PassengerEvent::RideCreated => true,
        PassengerEvent::Searching { .. } => return None,
        _ => false,
    };
    Some(RideFeed {
        ride_id: record.ride.id.clone(),
        status: record.ride.status,
        pickup: record.ride.pickup.clone(),
        created,
    })
}

/// How a driver frame changes what its region re-sends on reconnect.
fn delivery_kind(message: &DriverOutbound) -> (DeliveryKind, Option<i64>) {
    match message {
        DriverOutbound::RideOffer { expires_at, .. } => (DeliveryKind::Offer, Some(*expires_at)),
        DriverOutbound::RideTaken { .. } | DriverOutbound::RideCancelled { .. } => (DeliveryKind::OfferClosed, None),
        DriverOutbound::RideUpdated { ride } if ride.status.is_final() => (DeliveryKind::RideOver, None),
        DriverOutbound::RideAssigned { .. } | DriverOutbound::RideUpdated { .. } => (DeliveryKind::ActiveRide, None),
        _ => (DeliveryKind::Transient, None),
    }
}
