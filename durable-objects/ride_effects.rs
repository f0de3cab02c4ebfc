//! Carrying out what the core decided for a ride, in the order that keeps
//! the protocol's promises: persist first (record, events, D1 outbox and
//! frames owed to drivers in one write), then announce (ride sockets, offers
//! through the regions of their round, every driver frame through its Driver
//! DO), then set the alarm and write D1.

use std::collections::HashMap;

use futures::future::join_all;

use super::d1_outbox::D1Outbox;
use super::driver_outbox::{self, OwedToDriver};
use super::ride::{RideDo, RIDE_KEY};
use crate::core::commitments::FrameKind;
use crate::core::dispatch::Effect;
use crate::core::geo::LatLng;
use crate::core::protocol::{to_frame, PassengerEvent};
use crate::core::region_cells::region_of;
use crate::core::ride::RideRecord;
use crate::error::AppError;
use crate::region_rpc::{self, DeliverBatch, Delivered, Delivery, RegionCall, RideFeed};

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

    /// Persists the record with `effects`' events, D1 changes and frames
    /// owed to drivers in one write, then announces: ride sockets, offers
    /// straight to the regions that found their drivers, every driver frame
    /// to its Driver DO. Returns whether the core asked for the next round now.
    pub async fn run(&self, effects: Vec<Effect>) -> Result<bool, AppError> {
        let owed = self.number_driver_frames(&effects)?;
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
        for (owed, _) in &owed {
            entries.push(driver_outbox::entry(owed)?);
        }
        let outbox = self.outbox();
        // The alarm that guards this state is set in the same write, before any call out.
        self.guard(&record).await?;
        outbox.commit(entries, changes).await?;
        let mut offers: HashMap<String, DeliverBatch> = HashMap::new();
        let mut wake = None;
        let mut next_round = false;
        for effect in effects {
            match effect {
                Effect::Publish(event) => {
                    super::ride_sockets::broadcast(self.ride.state(), &to_frame(&event, None));
                    if let Some(feed) = feed_of(&event.event, &record) {
                        self.pickup_batch(&mut offers, &record)?.feed.push(feed);
                    }
                }
                Effect::WakeAt(at) => wake = Some(wake.map_or(at, |w: i64| w.min(at))),
                Effect::StartNextRound => next_round = true,
                _ => {}
            }
        }
        for (owed, region) in &owed {
            if let (Some(region), Some(frame)) = (region, &owed.frame.frame) {
                let delivery = Delivery { driver_id: owed.driver_id.clone(), frame: frame.clone() };
                offers.entry(region.clone()).or_default().deliveries.push(delivery);
            }
        }
        let reached = self.deliver_offers(offers).await;
        self.mark_delivered(owed, &reached).await?;
        if let Some(at) = wake {
            super::token_expiry::wake_by(self.ride.state(), at).await?;
        }
        self.flush_drivers().await;
        outbox.flush_or_retry_at(super::ride::now_ms()).await;
        Ok(next_round)
    }

    /// Stores the record with the alarm that guards it (a query to the
    /// regions is recorded this way before it leaves).
    pub async fn persist(&self) -> Result<(), AppError> {
        let record = self.ride.current()?;
        self.guard(&record).await?;
        self.outbox().commit(vec![(RIDE_KEY.to_string(), serde_json::to_string(&record)?)], Vec::new()).await
    }

    /// Makes sure the alarm rings by the ride's next deadline. Only storage
    /// operations run before the write that follows, so both commit together.
    async fn guard(&self, record: &RideRecord) -> Result<(), AppError> {
        match record.next_deadline() {
            Some(at) => super::token_expiry::wake_by(self.ride.state(), at).await,
            None => Ok(()),
        }
    }

    /// Numbers every frame for a driver (the core's counter, stored with the record).
    fn number_driver_frames(&self, effects: &[Effect]) -> Result<Vec<(OwedToDriver, Option<String>)>, AppError> {
        let frames = self.ride.change(|record| record.frames_for_drivers(effects))?;
        Ok(frames
            .into_iter()
            .map(|f| (OwedToDriver { driver_id: f.driver_id, frame: f.frame }, f.offer_region))
            .collect())
    }

    /// The feed batch of the pickup's region.
    fn pickup_batch<'b>(
        &self,
        batches: &'b mut HashMap<String, DeliverBatch>,
        record: &RideRecord,
    ) -> Result<&'b mut DeliverBatch, AppError> {
        let at = LatLng { lat: record.ride.pickup.lat, lng: record.ride.pickup.lng };
        let cell = region_of(at, self.ride.config()?.region_res)?;
        Ok(batches.entry(cell).or_default())
    }

    /// Sends each region its offers and feed, concurrently; returns the
    /// drivers the offers reached (a failure is logged: the Driver DO delivers those).
    async fn deliver_offers(&self, batches: HashMap<String, DeliverBatch>) -> Vec<String> {
        let env = self.ride.env();
        let calls = batches.iter().map(|(cell, batch)| async move {
            let answer: Result<Delivered, AppError> = region_rpc::call(env, cell, RegionCall::Deliver, batch).await;
            (cell, answer)
        });
        let mut reached = Vec::new();
        for (cell, answer) in join_all(calls).await {
            match answer {
                Ok(delivered) => reached.extend(delivered.reached),
                Err(err) => worker::console_error!("delivery to region {cell} failed: {err}"),
            }
        }
        reached
    }

    /// Offers the regions put on their drivers' sockets are owed to the
    /// Driver DOs as records only (they deliver the rest themselves).
    async fn mark_delivered(
        &self,
        owed: Vec<(OwedToDriver, Option<String>)>,
        reached: &[String],
    ) -> Result<(), AppError> {
        let object = worker::js_sys::Object::new();
        let mut any = false;
        for (mut owed, _) in owed.into_iter().filter(|(o, _)| reached.contains(&o.driver_id)) {
            if let FrameKind::Offer { expires_at, .. } = owed.frame.kind {
                owed.frame.kind = FrameKind::Offer { expires_at, delivered: true };
                let (key, json) = driver_outbox::entry(&owed)?;
                worker::js_sys::Reflect::set(&object, &key.into(), &json.into()).map_err(worker::Error::from)?;
                any = true;
            }
        }
        if any {
            self.ride.state().storage().put_multiple_raw(object).await?;
        }
        Ok(())
    }

    /// Sends what drivers are owed; what is left is retried from the alarm.
    pub async fn flush_drivers(&self) {
        let storage = self.ride.state().storage();
        let ride_id = match self.ride.current() {
            Ok(record) => record.ride.id,
            Err(_) => return,
        };
        let flushed = driver_outbox::flush(&storage, self.ride.env(), &ride_id).await;
        if !flushed.unwrap_or(false) {
            let retry_at = super::ride::now_ms() + driver_outbox::RETRY_AFTER_MS;
            if let Err(err) = super::token_expiry::wake_by(self.ride.state(), retry_at).await {
                worker::console_error!("could not set the driver frame retry alarm: {err}");
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
