//! A ride after dispatch has started: declines, cancellation by any party,
//! and the assigned driver's steps `accepted → arrived → in_progress →
//! completed`. Each step checks who may take it and from which status,
//! changes the record, and returns the effects, like the dispatch steps.

use super::dispatch::{DriverAddress, Effect};
use super::identity::{Caller, Role};
use super::protocol::{AcceptFailure, DriverOutbound, PassengerEvent, RideStep};
use super::ride::{RideRecord, RideStatus};

/// The least time between two positions relayed to a ride socket, in ms.
pub const LOCATION_RELAY_INTERVAL_MS: i64 = 1_000;

/// Whether a driver's position may go to its ride socket now: at most once
/// a second, and updates inside the second are dropped, not delayed.
pub fn location_relay_due(last_relayed_at: i64, now_ms: i64) -> bool {
    now_ms - last_relayed_at >= LOCATION_RELAY_INTERVAL_MS
}

/// Why a lifecycle step is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StepError {
    /// The caller may not take this step on this ride (403 `forbidden`).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Not from the ride's current status (409 `invalid_transition`).
    #[error("a ride that is {from} cannot become {to}")]
    InvalidTransition { from: &'static str, to: &'static str },
    /// A decline refused for the same reasons as an accept.
    #[error("{}", .0.as_str())]
    Refused(AcceptFailure),
    /// Input the step needs is missing or wrong (400 `invalid_request`).
    #[error("{0}")]
    Invalid(String),
    /// The start PIN given is not the ride's (403 `wrong_pin`).
    #[error("that is not this ride's start PIN")]
    WrongPin,
    /// Too many wrong PINs in a row: starts are refused for a while (429 `rate_limited`).
    #[error("too many wrong PINs; try again in {retry_after_s} s")]
    PinLocked { retry_after_s: u32 },
    /// The ride is over for this request (410 `ride_closed`).
    #[error("{0}")]
    Closed(&'static str),
    /// No such watch link (404 `not_found`).
    #[error("no such watcher")]
    NoSuchWatcher,
}

impl RideRecord {
    /// `decline_ride`: the driver gives the offer back; once every driver of
    /// the round has declined, the next round starts at once.
    pub fn decline(&mut self, driver_id: &str, now_ms: i64) -> Result<Vec<Effect>, StepError> {
        if let Some(refusal) = self.accept_refusal(driver_id, now_ms) {
            if refusal != AcceptFailure::RideLocked {
                return Err(StepError::Refused(refusal));
            }
        }
        let round = self.ride.offer_round;
        let mut effects = Vec::new();
        for offer in self.offers.iter_mut().filter(|o| o.driver.driver_id == driver_id && !o.declined) {
            offer.declined = true;
            effects.push(Effect::CloseOffer { driver_id: driver_id.to_string() });
        }
        if self.lock.as_ref().is_some_and(|lock| lock.driver_id == driver_id) {
            self.lock = None;
        }
        let round_over = self.offers.iter().filter(|o| o.round == round).all(|o| o.declined);
        if round_over && self.ride.status == RideStatus::Searching {
            effects.push(Effect::StartNextRound);
        }
        Ok(effects)
    }

    /// The address of the assigned driver, if the ride has one.
    fn assigned_address(&self) -> Option<DriverAddress> {
        let driver = self.ride.driver.as_ref()?;
        self.offer_of(&driver.id).map(|o| o.driver.clone())
    }

    /// Whether `caller` may cancel: its passenger, its partner, a
    /// dispatcher, or its assigned driver.
    pub fn may_cancel(&self, caller: &Caller) -> bool {
        let ride = &self.ride;
        match caller.role {
            Role::Dispatcher => true,
            Role::Passenger => ride.passenger.id.as_deref() == Some(caller.sub.as_str()),
            Role::Partner => ride.partner_id.as_deref() == Some(caller.sub.as_str()),
            Role::Driver => ride.driver.as_ref().is_some_and(|d| d.id == caller.sub),
        }
    }

    /// Cancels the ride; everyone concerned is told. Cancelling a cancelled
    /// ride again changes nothing; a completed or expired ride stays as it is.
    pub fn cancel(
        &mut self,
        caller: &Caller,
        reason: Option<String>,
        req_id: Option<String>,
        now_ms: i64,
    ) -> Result<Vec<Effect>, StepError> {
        if !self.may_cancel(caller) {
            return Err(StepError::Forbidden(
                "only the ride's passenger, partner, assigned driver or a dispatcher may cancel it",
            ));
        }
        match self.ride.status {
            RideStatus::Cancelled => return Ok(Vec::new()),
            RideStatus::Completed | RideStatus::Expired => {
                return Err(StepError::InvalidTransition { from: self.ride.status.as_str(), to: "cancelled" })
            }
            _ => {}
        }
        let holders = if self.ride.status == RideStatus::Searching { self.open_offer_holders() } else { Vec::new() };
        let assigned = self.assigned_address();
        self.ride.status = RideStatus::Cancelled;
        self.ride.cancelled_at = Some(now_ms);
        self.ride.cancelled_by = Some(caller.role);
        self.ride.cancel_reason = reason.clone();
        self.lock = None;
        self.round_expires_at = None;
        let mut effects: Vec<Effect> =
            self.publish(PassengerEvent::RideCancelled { by: caller.role, reason: reason.clone() }, now_ms).into();
        if !holders.is_empty() {
            let message = DriverOutbound::RideCancelled {
                ride_id: self.ride.id.clone(),
                reason: reason.unwrap_or_else(|| "cancelled".into()),
            };
            effects.push(Effect::ToDrivers { drivers: holders, message, req_id: None });
        }
        if let Some(driver) = assigned {
            let reply_id = if caller.role == Role::Driver { req_id } else { None };
            effects.extend(self.release_driver(driver, reply_id));
        }
        Ok(effects)
    }

    /// The assigned driver hears the ride as it now is (final, so its
    /// Driver DO frees it: the frame is the release, delivered until it lands).
    fn release_driver(&self, driver: DriverAddress, req_id: Option<String>) -> [Effect; 1] {
        [Effect::ToDrivers {
            drivers: vec![driver],
            message: DriverOutbound::RideUpdated { ride: self.ride.clone() },
            req_id,
        }]
    }

    /// `ride_status` / `POST /arrived|/start|/complete` by the assigned driver.
    pub fn step(
        &mut self,
        driver_id: &str,
        step: RideStep,
        req_id: Option<String>,
        now_ms: i64,
    ) -> Result<Vec<Effect>, StepError> {
        if self.ride.driver.as_ref().is_none_or(|d| d.id != driver_id) {
            return Err(StepError::Forbidden("only the ride's assigned driver may report its progress"));
        }
        let (from, event) = match step {
            RideStep::Arrived => (RideStatus::Accepted, PassengerEvent::DriverArrived),
            RideStep::InProgress => (RideStatus::Arrived, PassengerEvent::TripStarted),
            RideStep::Completed => {
                let (fare, proof) = (self.ride.fare.clone(), self.ride.proof.clone());
                (RideStatus::InProgress, PassengerEvent::RideCompleted { fare, proof })
            }
        };
        let to = step.status();
        if self.ride.status != from {
            return Err(StepError::InvalidTransition { from: self.ride.status.as_str(), to: to.as_str() });
        }
        self.ride.status = to;
        match step {
            RideStep::Arrived => self.ride.arrived_at = Some(now_ms),
            RideStep::InProgress => self.ride.started_at = Some(now_ms),
            RideStep::Completed => self.ride.completed_at = Some(now_ms),
        }
        let mut effects: Vec<Effect> = self.publish(event, now_ms).into();
        let driver = self.assigned_address().ok_or(StepError::Forbidden("the assigned driver has no offer record"))?;
        if step == RideStep::Completed {
            effects.extend(self.release_driver(driver, req_id));
        } else {
            let message = DriverOutbound::RideUpdated { ride: self.ride.clone() };
            effects.push(Effect::ToDrivers { drivers: vec![driver], message, req_id });
        }
        Ok(effects)
    }

    /// Whether the assigned driver's position is relayed to the ride socket now.
    pub fn relays_location_of(&self, driver_id: &str) -> bool {
        matches!(self.ride.status, RideStatus::Accepted | RideStatus::Arrived | RideStatus::InProgress)
            && self.ride.driver.as_ref().is_some_and(|d| d.id == driver_id)
    }
}
