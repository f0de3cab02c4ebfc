//! Carrying out what the core decided for a ride, in the order that keeps
//! the protocol's promises: persist first (record, events, D1 outbox,
//! frames owed to drivers and webhook deliveries in one write), then announce (ride sockets, offers
//! through the regions of their round, every driver frame through its Driver
//! DO), then set the alarm and write D1.

use std::collections::HashMap;

use futures::future::join_all;

use super::d1_outbox::D1Outbox;
use super::driver_outbox::{self, InFlightMark, OwedToDriver};
use super::ride::{RideObject, RIDE_KEY};
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
    ride: &'a RideObject,
    /// Whether `run` ends by writing the D1 outbox (a later step may do it instead).
    write_d1: bool,
    /// Whether the dispatch feed waits for the next step's delivery to the pickup's region.
    hold_feed: bool,
}

impl<'a> EffectRunner<'a> {
    /// A runner for `ride`.
    pub fn new(ride: &'a RideObject) -> Self {
        EffectRunner { ride, write_d1: true, hold_feed: false }
    }

    /// This runner leaves the D1 outbox to the next step (it stays stored, and the alarm retries it).
    pub fn without_d1(self) -> Self {
        EffectRunner { write_d1: false, ..self }
    }

    /// This runner leaves the dispatch feed to the next step's delivery (one call, not two).
    pub fn holding_feed(self) -> Self {
        EffectRunner { hold_feed: true, ..self }
    }

    fn outbox(&self) -> D1Outbox<'a> {
        D1Outbox::new(self.ride.state().storage(), self.ride.env())
    }

    /// Persists the record with `effects`' events, D1 changes and frames
    /// owed to drivers in one write, then announces: ride sockets, offers
    /// straight to the regions that found their drivers, every driver frame
    /// to its Driver DO.
    pub async fn run(&self, effects: Vec<Effect>) -> Result<(), AppError> {
        let owed = self.number_driver_frames(&effects)?;
        // Frames for the fast path are in flight from before their write: no flush (an
        // alarm's, another event's) hands them over before their marks are stored.
        let fast =
            owed.iter().filter(|(o, region)| region.is_some() && o.frame.frame.is_some()).map(|(o, _)| o.frame.id);
        let in_flight = InFlightMark::new(&self.ride.fast_in_flight, fast.collect());
        let watches = super::search_watch::watches_of(&effects);
        let owed_nothing = owed.is_empty();
        let record = self.ride.current()?;
        let record_json = serde_json::to_string(&record)?;
        if effects.is_empty() && self.ride.stored.borrow().as_deref() == Some(record_json.as_str()) {
            // Nothing changed (a refused or answered query): no write on the path.
            return Ok(());
        }
        let mut entries = vec![(RIDE_KEY.to_string(), record_json.clone())];
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
        let hooks = super::ride_webhooks::entries(&record, &effects)?;
        let hooked = !hooks.is_empty();
        entries.extend(hooks);
        let outbox = self.outbox();
        // The alarm that guards this state is set in the same write, before any call out;
        // frames owed to drivers are guarded too (a restart during their send must not strand them).
        self.guard(&record).await?;
        if hooked {
            super::ride_webhooks::guard(self.ride).await?;
        }
        if !owed_nothing {
            let retry_at = super::now_ms() + driver_outbox::RETRY_AFTER_MS;
            super::token_expiry::wake_by(self.ride.state(), retry_at).await?;
        }
        outbox.commit(entries, changes).await?;
        *self.ride.stored.borrow_mut() = Some(record_json);
        let mut offers: HashMap<String, DeliverBatch> = HashMap::new();
        let mut wake = None;
        for effect in effects {
            match effect {
                Effect::Publish(event) => {
                    super::ride_sockets::broadcast(self.ride.state(), &to_frame(&event, None));
                    if let Some(feed) = feed_of(&event.event, &record) {
                        self.ride.held_feed.borrow_mut().push(feed);
                    }
                }
                Effect::WakeAt(at) => wake = Some(wake.map_or(at, |w: i64| w.min(at))),
                _ => {}
            }
        }
        super::ride_watchers::bound_to_end(self.ride.state(), &record).await;
        let held: Vec<RideFeed> = if self.hold_feed { Vec::new() } else { self.ride.held_feed.take() };
        if !held.is_empty() {
            self.pickup_batch(&mut offers, &record)?.1.feed.extend(held);
        }
        // The pickup's region keeps the round's watch before its offers go out, in the same call.
        let mut pickup = None;
        if !watches.is_empty() {
            let (cell, batch) = self.pickup_batch(&mut offers, &record)?;
            batch.watches.extend(watches.iter().cloned());
            pickup = Some(cell);
        }
        // Where each fast-path frame sits in its region's batch, to read the answer back.
        let mut slots = Vec::with_capacity(owed.len());
        for (owed, region) in &owed {
            let slot = match (region, &owed.frame.frame) {
                (Some(region), Some(frame)) => {
                    let offer = matches!(owed.frame.kind, FrameKind::Offer { .. });
                    let mark = record.fast_mark(&owed.frame.kind);
                    let delivery = Delivery { driver_id: owed.driver_id.clone(), frame: frame.clone(), offer, mark };
                    let batch = offers.entry(region.clone()).or_default();
                    batch.deliveries.push(delivery);
                    Some((region.clone(), batch.deliveries.len() - 1))
                }
                _ => None,
            };
            slots.push(slot);
        }
        let taken = self.deliver_fast(offers).await;
        self.mark_delivered(owed, slots, &taken).await?;
        drop(in_flight);
        if let Some(at) = wake {
            super::token_expiry::wake_by(self.ride.state(), at).await?;
        }
        self.hand_over_later(!owed_nothing || self.ride.drivers_owed.get(), self.write_d1);
        if hooked {
            super::ride_webhooks::send_later(self.ride);
        }
        super::search_watch::watch_later(self.ride, watches, pickup);
        Ok(())
    }

    /// Hands the frames owed to drivers (to their Driver DOs) and the D1
    /// outbox over once the caller has its answer: both are stored already,
    /// in the write that decided them, and guarded by the alarm, so nobody
    /// waits on them (the fast path already put the frames on the drivers'
    /// sockets). A failure leaves them stored for the alarm.
    fn hand_over_later(&self, drivers: bool, d1: bool) {
        if !drivers && !d1 {
            return;
        }
        let Ok(record) = self.ride.current() else { return };
        let ride_id = record.ride.id;
        let storage = self.ride.state().storage();
        let env = self.ride.env().clone();
        let owed = self.ride.drivers_owed.clone();
        let in_flight = self.ride.fast_in_flight.clone();
        self.ride.state().wait_until(async move {
            if drivers {
                driver_outbox::flush_owed(&storage, &env, &ride_id, &owed, &in_flight).await;
            }
            if d1 {
                D1Outbox::new(storage, &env).flush_or_retry_at(super::now_ms()).await;
            }
        });
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
        Ok(frames.into_iter().map(|f| (OwedToDriver { driver_id: f.driver_id, frame: f.frame }, f.region)).collect())
    }

    /// The pickup's region and its batch.
    fn pickup_batch<'b>(
        &self,
        batches: &'b mut HashMap<String, DeliverBatch>,
        record: &RideRecord,
    ) -> Result<(String, &'b mut DeliverBatch), AppError> {
        let at = LatLng { lat: record.ride.pickup.lat, lng: record.ride.pickup.lng };
        let cell = region_of(at, self.ride.config()?.region_res)?;
        Ok((cell.clone(), batches.entry(cell).or_default()))
    }

    /// Sends each region its frames and feed, concurrently; returns, per
    /// region, which of its deliveries a socket took (a failure is logged:
    /// the Driver DOs deliver those).
    async fn deliver_fast(&self, batches: HashMap<String, DeliverBatch>) -> HashMap<String, Vec<Vec<String>>> {
        let env = self.ride.env();
        let calls = batches.iter().map(|(cell, batch)| async move {
            let answer: Result<Delivered, AppError> = region_rpc::call(env, cell, RegionCall::Deliver, batch).await;
            (cell, answer)
        });
        let mut taken = HashMap::new();
        for (cell, answer) in join_all(calls).await {
            match answer {
                Ok(delivered) => {
                    taken.insert(cell.clone(), delivered.taken);
                }
                Err(err) => worker::console_error!("delivery to region {cell} failed: {err}"),
            }
        }
        taken
    }

    /// Frames a region put on their driver's sockets reach the Driver DOs
    /// marked so, with the sockets that took them (they deliver only to the
    /// driver's other sockets: elsewhere, or opened since in that region).
    async fn mark_delivered(
        &self,
        owed: Vec<(OwedToDriver, Option<String>)>,
        slots: Vec<Option<(String, usize)>>,
        taken: &HashMap<String, Vec<Vec<String>>>,
    ) -> Result<(), AppError> {
        let mut delivered = Vec::new();
        for ((mut owed, _), slot) in owed.into_iter().zip(slots) {
            let Some((region, index)) = slot else { continue };
            let Some(sockets) = taken.get(&region).and_then(|t| t.get(index)).filter(|s| !s.is_empty()) else {
                continue;
            };
            owed.frame.delivered_to = sockets.clone();
            owed.frame.delivered_in = Some(region);
            delivered.push(driver_outbox::entry(&owed)?);
        }
        if delivered.is_empty() {
            return Ok(());
        }
        // Still owed, all of them: no flush hands over a frame in flight (see `run`).
        let object = worker::js_sys::Object::new();
        for (key, json) in delivered {
            worker::js_sys::Reflect::set(&object, &key.into(), &json.into()).map_err(worker::Error::from)?;
        }
        self.ride.state().storage().put_multiple_raw(object).await?;
        Ok(())
    }

    /// Sends what drivers are owed; what is left is retried from the alarm.
    pub async fn flush_drivers(&self) {
        let Ok(record) = self.ride.current() else { return };
        let storage = self.ride.state().storage();
        let in_flight = &self.ride.fast_in_flight;
        driver_outbox::flush_owed(&storage, self.ride.env(), &record.ride.id, &self.ride.drivers_owed, in_flight).await;
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
