//! Dispatch of one ride, decided without IO: offer rounds to the nearest
//! drivers, the accept lock, and the accept itself (first valid accept wins,
//! exactly once). Each step mutates the [`RideRecord`] and returns the
//! [`Effect`]s the Ride Durable Object must carry out, in order.

use serde::{Deserialize, Serialize};

use super::driver_index::Candidate;
use super::geo::LatLng;
use super::protocol::{AcceptFailure, DriverOutbound, OfferedRide, PassengerEvent, SequencedEvent};
use super::ride::{AssignedDriver, RideChange, RideEvent, RideRecord, RideStatus};

/// The dispatch rules' settings (PROTOCOL.md "Dispatch rules").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DispatchSettings {
    /// How far from the pickup drivers are asked, in km.
    pub radius_km: f64,
    /// Drivers per round.
    pub offer_batch: u32,
    /// How long a round waits, in ms.
    pub offer_timeout_ms: i64,
    /// Rounds before the ride expires.
    pub max_rounds: u32,
    /// How long a `request_lock` holds, in ms.
    pub lock_ttl_ms: i64,
}

/// Where a driver's socket lives: its id and its region's H3 cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DriverAddress {
    /// The driver's id.
    pub driver_id: String,
    /// The region Durable Object holding its socket.
    pub region: String,
}

/// A driver a ride was offered to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    /// Where the driver is reached.
    pub driver: DriverAddress,
    /// The round that offered it.
    pub round: u32,
    /// Distance from the driver to the pickup when offered, in m.
    pub distance_m: f64,
    /// The driver's position when offered.
    pub location: LatLng,
    /// When the offer lapses.
    pub expires_at: i64,
    /// Whether the driver declined it.
    #[serde(default)]
    pub declined: bool,
}

/// The accept lock: for a while only its holder may accept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptLock {
    /// The driver holding it.
    pub driver_id: String,
    /// When it lapses by itself.
    pub expires_at: i64,
    /// When this driver's unbroken hold began (renewals keep it): a hold
    /// lasts at most [`LOCK_HOLD_FACTOR`] × the lock's time to live.
    #[serde(default)]
    pub held_since: i64,
}

/// A driver holds the accept lock at most this many times `LOCK_TTL_S` in a row.
pub const LOCK_HOLD_FACTOR: i64 = 2;

/// What the driver's Driver DO answered to a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimResult {
    /// The driver is committed to this ride, its busy mark at `mark_version`.
    Claimed { mark_version: u64 },
    /// The driver has another active ride.
    Busy,
}

/// A candidate for a round, with the region that reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundCandidate {
    /// The region holding the driver's socket.
    pub region: String,
    /// The driver, its position and distance to the pickup.
    pub candidate: Candidate,
}

/// What the regions are asked for before a round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateQuery {
    /// The pickup.
    pub at: LatLng,
    /// The dispatch radius, in km.
    pub radius_km: f64,
    /// How many drivers at most.
    pub limit: u32,
    /// Drivers already offered this ride.
    pub exclude: Vec<String>,
}

/// Something the Ride DO must do after a step, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Append to the event log and send to the ride's sockets.
    Publish(SequencedEvent),
    /// Send a frame to drivers through their regions.
    ToDrivers { drivers: Vec<DriverAddress>, message: DriverOutbound, req_id: Option<String> },
    /// Free a driver whose claim `token` this ride did not record (it lost
    /// a race, or the ride closed meanwhile).
    ReleaseDriver { driver_id: String, token: u64 },
    /// Tell a driver's Driver DO that its offer is over without a frame (it declined).
    CloseOffer { driver_id: String },
    /// Record the ride and the event in D1.
    Record(RideChange),
    /// Wake the DO at this time (the next deadline).
    WakeAt(i64),
    /// Start the next round now (every driver of this one declined).
    StartNextRound,
    /// Tell the regions around the pickup what to watch for (a round
    /// started), or that the ride stopped searching (`until` 0).
    Watch(super::late_driver::SearchWatch),
}

impl RideRecord {
    /// Appends an event to the log, returning its Publish and Record effects.
    pub(crate) fn publish(&mut self, event: PassengerEvent, now_ms: i64) -> [Effect; 2] {
        self.last_seq += 1;
        self.note_end_for_watchers(now_ms);
        let sequenced = SequencedEvent { seq: self.last_seq, at: now_ms, event };
        let change = RideChange {
            ride: self.ride.clone(),
            event: RideEvent {
                seq: sequenced.seq,
                kind: sequenced.event.kind().to_string(),
                status: self.ride.status,
                at: now_ms,
            },
        };
        [Effect::Publish(sequenced), Effect::Record(change)]
    }

    /// The drivers offered this ride, in the order they were offered.
    pub fn offered_driver_ids(&self) -> Vec<String> {
        self.offers.iter().map(|o| o.driver.driver_id.clone()).collect()
    }

    pub(crate) fn offer_of(&self, driver_id: &str) -> Option<&Offer> {
        self.offers.iter().find(|o| o.driver.driver_id == driver_id)
    }

    /// The query for the next round, or None when the ride takes no more rounds.
    pub fn candidate_query(&self, settings: &DispatchSettings) -> Option<CandidateQuery> {
        if self.ride.status != RideStatus::Searching || self.ride.offer_round >= settings.max_rounds {
            return None;
        }
        Some(CandidateQuery {
            at: LatLng { lat: self.ride.pickup.lat, lng: self.ride.pickup.lng },
            radius_km: settings.radius_km,
            limit: settings.offer_batch,
            exclude: self.offered_driver_ids(),
        })
    }

    /// Starts the next round with the merged, nearest-first candidates (the
    /// regions' answers to [`Self::candidate_query`]). A round that finds
    /// nobody still counts: the ride keeps searching (`drivers_notified: 0`)
    /// and looks again when it times out. Past the last round the ride
    /// expires: when `candidate_query` is None the shell calls this with no
    /// candidates, so a timed-out last round expires the ride.
    pub fn start_round(
        &mut self,
        candidates: Vec<RoundCandidate>,
        settings: &DispatchSettings,
        now_ms: i64,
    ) -> Vec<Effect> {
        if self.ride.status != RideStatus::Searching {
            return Vec::new();
        }
        let fresh: Vec<RoundCandidate> = candidates
            .into_iter()
            .filter(|c| self.offer_of(&c.candidate.driver_id).is_none())
            .take(settings.offer_batch as usize)
            .collect();
        if self.ride.offer_round >= settings.max_rounds {
            return self.expire(now_ms);
        }
        self.ride.offer_round += 1;
        let round = self.ride.offer_round;
        let expires_at = now_ms + settings.offer_timeout_ms;
        self.round_expires_at = Some(expires_at);
        let offered_ride = OfferedRide::from(&self.ride);
        let mut effects = Vec::with_capacity(fresh.len() + 3);
        for c in &fresh {
            let driver = DriverAddress { driver_id: c.candidate.driver_id.clone(), region: c.region.clone() };
            self.offers.push(Offer {
                driver: driver.clone(),
                round,
                distance_m: c.candidate.distance_m,
                location: c.candidate.location,
                expires_at,
                declined: false,
            });
            let message = DriverOutbound::RideOffer {
                ride: offered_ride.clone(),
                distance_to_pickup_m: c.candidate.distance_m.round(),
                expires_at,
            };
            effects.push(Effect::ToDrivers { drivers: vec![driver], message, req_id: None });
        }
        let notified = fresh.len() as u32;
        effects.extend(self.publish(PassengerEvent::Searching { round, drivers_notified: notified }, now_ms));
        effects.push(Effect::WakeAt(expires_at));
        effects
    }

    /// Nobody accepted: the ride expires; the passenger hears `no_drivers`,
    /// drivers still holding an offer hear `ride_cancelled` (`expired`).
    fn expire(&mut self, now_ms: i64) -> Vec<Effect> {
        self.ride.status = RideStatus::Expired;
        self.round_expires_at = None;
        self.lock = None;
        let mut effects = Vec::new();
        let holders = self.open_offer_holders();
        if !holders.is_empty() {
            let message = DriverOutbound::RideCancelled { ride_id: self.ride.id.clone(), reason: "expired".into() };
            effects.push(Effect::ToDrivers { drivers: holders, message, req_id: None });
        }
        effects.extend(self.publish(PassengerEvent::NoDrivers { rounds: self.ride.offer_round }, now_ms));
        effects
    }

    /// Drivers of any round who still hold the offer (not declined): an
    /// earlier round's offer may still be accepted, so they hear its end too.
    pub(crate) fn open_offer_holders(&self) -> Vec<DriverAddress> {
        self.offers.iter().filter(|o| !o.declined).map(|o| o.driver.clone()).collect()
    }

    /// The lock in force at `now_ms`, if any (a lapsed lock is no lock).
    pub fn live_lock(&self, now_ms: i64) -> Option<&AcceptLock> {
        self.lock.as_ref().filter(|lock| lock.expires_at > now_ms)
    }

    /// Why `driver_id` may not take the ride now, if it may not.
    pub fn accept_refusal(&self, driver_id: &str, now_ms: i64) -> Option<AcceptFailure> {
        if self.offer_of(driver_id).is_none_or(|offer| offer.declined) {
            return Some(AcceptFailure::NotOffered);
        }
        match self.ride.status {
            RideStatus::Searching => {}
            RideStatus::Cancelled | RideStatus::Expired => return Some(AcceptFailure::RideClosed),
            _ => return Some(AcceptFailure::RideTaken),
        }
        match self.live_lock(now_ms) {
            Some(lock) if lock.driver_id != driver_id => Some(AcceptFailure::RideLocked),
            _ => None,
        }
    }

    /// `request_lock`: gives an offered driver `lock_ttl` in which only it may accept.
    pub fn request_lock(
        &mut self,
        driver_id: &str,
        settings: &DispatchSettings,
        now_ms: i64,
    ) -> Result<AcceptLock, AcceptFailure> {
        if let Some(refusal) = self.accept_refusal(driver_id, now_ms) {
            return Err(refusal);
        }
        // A renewal, or a new request right as the last lapsed, continues the hold.
        let held_since = match &self.lock {
            Some(lock) if lock.driver_id == driver_id && lock.expires_at + settings.lock_ttl_ms > now_ms => {
                lock.held_since
            }
            _ => now_ms,
        };
        let limit = held_since + LOCK_HOLD_FACTOR * settings.lock_ttl_ms;
        if now_ms >= limit {
            return Err(AcceptFailure::LockLimit);
        }
        let expires_at = (now_ms + settings.lock_ttl_ms).min(limit);
        let lock = AcceptLock { driver_id: driver_id.to_string(), expires_at, held_since };
        self.lock = Some(lock.clone());
        Ok(lock)
    }

    /// `accept_ride`, once the driver's Driver DO answered the claim: the
    /// first valid accept wins. The ride is checked again (other events ran
    /// while the claim was out); a claim the ride does not record is released.
    /// The winner's profile is given by the shell; `req_id` goes back on its `ride_assigned`.
    pub fn accept_claimed(
        &mut self,
        driver: AssignedDriver,
        claim: ClaimResult,
        token: u64,
        req_id: Option<String>,
        now_ms: i64,
    ) -> (Result<(), AcceptFailure>, Vec<Effect>) {
        self.claim_answered(&driver.id, token);
        let ClaimResult::Claimed { mark_version } = claim else {
            return (Err(AcceptFailure::DriverBusy), Vec::new());
        };
        match self.accept(driver.clone(), req_id, now_ms) {
            Ok(effects) => {
                self.driver_mark = mark_version;
                (Ok(()), effects)
            }
            Err(refusal) => (Err(refusal), self.claim_lost(&driver.id, token)),
        }
    }

    /// Sends a claim of `driver_id`: its token, remembered until the answer
    /// (a Driver DO asking meanwhile hears that the ride may still hold it).
    pub fn claim_sent(&mut self, driver_id: &str, now_ms: i64) -> u64 {
        // Unique across restarts without a write: the time, and a count within it.
        self.claims_sent += 1;
        let token = (now_ms.max(0) as u64) * 1024 + self.claims_sent % 1024;
        self.claims_out.insert(driver_id.to_string(), token);
        token
    }

    /// The answer to the claim `token` of `driver_id` came (or its call failed).
    fn claim_answered(&mut self, driver_id: &str, token: u64) {
        if self.claims_out.get(driver_id) == Some(&token) {
            self.claims_out.remove(driver_id);
        }
    }

    /// A claim of `driver_id` (made with `token`) this ride will not record:
    /// release that claim, unless the driver is this ride's own (a repeated
    /// accept of the winner). Another claim of the same driver stays.
    pub fn claim_lost(&mut self, driver_id: &str, token: u64) -> Vec<Effect> {
        self.claim_answered(driver_id, token);
        if self.ride.driver.as_ref().is_some_and(|d| d.id == driver_id) {
            return Vec::new();
        }
        vec![Effect::ReleaseDriver { driver_id: driver_id.to_string(), token }]
    }

    /// Whether the ride recorded `driver_id` as its driver and is still
    /// under way, or may yet record it (a claim of it is out).
    pub fn holds_driver(&self, driver_id: &str) -> bool {
        self.relays_location_of(driver_id) || self.claims_out.contains_key(driver_id)
    }

    /// The accept itself, once the driver's claim holds (see [`Self::accept_claimed`]).
    pub fn accept(
        &mut self,
        driver: AssignedDriver,
        req_id: Option<String>,
        now_ms: i64,
    ) -> Result<Vec<Effect>, AcceptFailure> {
        if let Some(refusal) = self.accept_refusal(&driver.id, now_ms) {
            return Err(refusal);
        }
        let offer = self.offer_of(&driver.id).cloned().ok_or(AcceptFailure::NotOffered)?;
        self.ride.status = RideStatus::Accepted;
        self.ride.accepted_at = Some(now_ms);
        self.ride.driver = Some(driver.clone());
        self.lock = None;
        self.round_expires_at = None;
        let losers: Vec<DriverAddress> = self
            .offers
            .iter()
            .filter(|o| o.driver.driver_id != driver.id && !o.declined)
            .map(|o| o.driver.clone())
            .collect();
        let mut effects: Vec<Effect> =
            self.publish(PassengerEvent::DriverAssigned { driver, location: Some(offer.location) }, now_ms).into();
        effects.push(Effect::ToDrivers {
            drivers: vec![offer.driver],
            message: DriverOutbound::RideAssigned { ride: self.ride.clone() },
            req_id,
        });
        if !losers.is_empty() {
            let message = DriverOutbound::RideTaken { ride_id: self.ride.id.clone() };
            effects.push(Effect::ToDrivers { drivers: losers, message, req_id: None });
        }
        Ok(effects)
    }

    /// The time the DO must next wake up for this ride, if any: the round's
    /// timeout, a retry of its query, or the time its query is taken as lost.
    pub fn next_deadline(&self) -> Option<i64> {
        if self.ride.status != RideStatus::Searching {
            return None;
        }
        // While a query is out, the round's timeout (already past) is not a deadline: its answer is.
        if let Some(query) = self.round_query {
            return Some(query.asked_at + super::rounds::ROUND_QUERY_TIMEOUT_MS);
        }
        [self.round_expires_at, self.round_retry_at].into_iter().flatten().min()
    }

    /// Whether the current round's time is up at `now_ms`.
    pub fn round_timed_out(&self, now_ms: i64) -> bool {
        self.next_deadline().is_some_and(|deadline| deadline <= now_ms)
    }
}
