//! A ride as clients see it, its statuses, and how one comes into being.
//! Later status changes (accept, arrive, start, complete, cancel, expire)
//! are added here as transitions that return a typed error when illegal.

use serde::{Deserialize, Serialize};

use super::dispatch::{AcceptLock, Effect, Offer};
use super::driver::Vehicle;
use super::geo::Place;
use super::identity::{Caller, Role};
use super::money::Money;
use super::protocol::PassengerEvent;
use super::ride_request::NewRide;

/// Where a ride is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RideStatus {
    /// Looking for a driver.
    Searching,
    /// A driver took it and is on the way.
    Accepted,
    /// The driver is at the pickup.
    Arrived,
    /// The passenger or goods are on board.
    InProgress,
    /// Delivered; final.
    Completed,
    /// Called off by someone; final.
    Cancelled,
    /// Nobody accepted it; final.
    Expired,
}

impl RideStatus {
    /// Every status, in life-cycle order.
    pub const ALL: [RideStatus; 7] = [
        RideStatus::Searching,
        RideStatus::Accepted,
        RideStatus::Arrived,
        RideStatus::InProgress,
        RideStatus::Completed,
        RideStatus::Cancelled,
        RideStatus::Expired,
    ];

    /// The wire name, e.g. `in_progress`.
    pub fn as_str(self) -> &'static str {
        match self {
            RideStatus::Searching => "searching",
            RideStatus::Accepted => "accepted",
            RideStatus::Arrived => "arrived",
            RideStatus::InProgress => "in_progress",
            RideStatus::Completed => "completed",
            RideStatus::Cancelled => "cancelled",
            RideStatus::Expired => "expired",
        }
    }

    /// Whether the ride's life is over (completed, cancelled, expired).
    pub fn is_final(self) -> bool {
        matches!(self, RideStatus::Completed | RideStatus::Cancelled | RideStatus::Expired)
    }

    /// Parses a wire name.
    pub fn parse(name: &str) -> Option<RideStatus> {
        RideStatus::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// The passenger of a ride as shown to everyone allowed to see the ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassengerRef {
    /// The passenger's `sub`; null for a partner's customer without an account.
    pub id: Option<String>,
    /// Display name, when known.
    pub name: Option<String>,
}

/// The driver assigned to a ride, as the passenger sees them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignedDriver {
    /// The driver's id (their token's `sub`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Phone number to reach the driver.
    pub phone: String,
    /// The vehicle they drive.
    pub vehicle: Vehicle,
    /// Average rating, when rated.
    pub rating: Option<f64>,
}

/// The ride object of the protocol.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ride {
    /// Server-generated, unguessable id.
    pub id: String,
    /// Current status.
    pub status: RideStatus,
    /// What is ordered, e.g. `taxi`.
    pub product: String,
    /// Where the ride starts.
    pub pickup: Place,
    /// Where the ride ends.
    pub dropoff: Place,
    /// The quoted fare, when given.
    pub fare: Option<Money>,
    /// The quoted distance, when given.
    pub distance_km: Option<f64>,
    /// Who rides (or receives).
    pub passenger: PassengerRef,
    /// The partner that created the ride, if a partner did.
    pub partner_id: Option<String>,
    /// The assigned driver, once a driver accepted.
    pub driver: Option<AssignedDriver>,
    /// How many offer rounds have started (0 before dispatch).
    pub offer_round: u32,
    /// Whether completion needs a proof of delivery.
    pub proof_required: bool,
    /// The proof of delivery given at completion.
    #[serde(default)]
    pub proof: Option<crate::core::proof::Proof>,
    /// Whether starting the trip needs the passenger's start PIN.
    #[serde(default)]
    pub start_pin_required: bool,
    /// The start PIN, only in copies for its passenger, partner and
    /// dispatchers (never stored here: see [`RideRecord::ride_for`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_pin: Option<String>,
    /// When the ride was created.
    pub created_at: i64,
    /// When a driver accepted.
    pub accepted_at: Option<i64>,
    /// When the driver arrived at the pickup.
    pub arrived_at: Option<i64>,
    /// When the trip started.
    pub started_at: Option<i64>,
    /// When the trip completed.
    pub completed_at: Option<i64>,
    /// When the ride was cancelled.
    pub cancelled_at: Option<i64>,
    /// Which kind of party cancelled.
    pub cancelled_by: Option<Role>,
    /// The reason given for cancelling.
    pub cancel_reason: Option<String>,
}

/// What a Ride Durable Object keeps: the public ride and what only the
/// server needs (never sent to clients as part of the ride).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RideRecord {
    /// The ride as clients see it.
    pub ride: Ride,
    /// The partner's customer's phone, for the assigned driver.
    pub passenger_phone: Option<String>,
    /// Where partner webhooks go.
    pub callback_url: Option<String>,
    /// The seq of the latest event of this ride.
    pub last_seq: u64,
    /// Every driver offered the ride, in the order offered.
    #[serde(default)]
    pub offers: Vec<Offer>,
    /// When the current offer round times out.
    #[serde(default)]
    pub round_expires_at: Option<i64>,
    /// The accept lock, while one is held.
    #[serde(default)]
    pub lock: Option<AcceptLock>,
    /// Offered drivers now viewing the ride.
    #[serde(default)]
    pub viewers: std::collections::BTreeSet<String>,
    /// How many frames the ride has sent to drivers' Driver DOs (numbers them).
    #[serde(default)]
    pub driver_frames: u64,
    /// The assigned driver's busy mark version at its claim (0: not known):
    /// the ride's `ride_assigned` marks it busy at it, its end frees it at the next.
    #[serde(default)]
    pub driver_mark: u64,
    /// The query to the regions that is out, if one is.
    #[serde(default)]
    pub round_query: Option<super::rounds::RoundQuery>,
    /// When a round whose regions did not all answer is asked again.
    #[serde(default)]
    pub round_retry_at: Option<i64>,
    /// The start PIN and its count of wrong tries, for a PIN ride.
    #[serde(default)]
    pub start_pin: Option<super::start_pin::PinGuard>,
    /// Proof images uploaded by the driver, by name.
    #[serde(default)]
    pub proof_objects: super::proof::ProofObjects,
    /// Watch links and when the ride ended.
    #[serde(default)]
    pub watchers: super::watchers::Watchers,
    /// Claims sent to Driver DOs and not yet answered: driver → token
    /// (memory only: an answer never outlives the object waiting for it).
    #[serde(skip)]
    pub claims_out: std::collections::BTreeMap<String, u64>,
    /// Claims sent since the object started (numbers their tokens).
    #[serde(skip)]
    pub claims_sent: u64,
}

/// One entry of a ride's event log, numbered 1, 2, 3… per ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RideEvent {
    /// Position in the ride's log.
    pub seq: u64,
    /// The event's wire type, e.g. `ride_created`.
    pub kind: String,
    /// The ride's status after the event.
    pub status: RideStatus,
    /// When it happened.
    pub at: i64,
}

/// A change that the durable record (D1) must learn of: the ride as it now
/// is, and the event that made it so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RideChange {
    /// The ride after the change.
    pub ride: Ride,
    /// The event that changed it.
    pub event: RideEvent,
}

impl RideRecord {
    /// Creates a ride for `caller` from a validated request: `searching`,
    /// with `ride_created` as event 1. Only passengers and partners create rides.
    pub fn create(id: String, request: NewRide, caller: &Caller, now_ms: i64) -> (RideRecord, Vec<Effect>) {
        let (passenger, partner_id, passenger_phone) = match (caller.role, request.passenger) {
            (Role::Partner, customer) => (
                PassengerRef { id: None, name: customer.as_ref().map(|c| c.name.clone()) },
                Some(caller.sub.clone()),
                customer.map(|c| c.phone),
            ),
            _ => (PassengerRef { id: Some(caller.sub.clone()), name: caller.name.clone() }, None, None),
        };
        let ride = Ride {
            id,
            status: RideStatus::Searching,
            product: request.product,
            pickup: request.pickup,
            dropoff: request.dropoff,
            fare: request.fare,
            distance_km: request.distance_km,
            passenger,
            partner_id,
            driver: None,
            offer_round: 0,
            proof_required: request.proof_required,
            proof: None,
            start_pin_required: request.start_pin,
            start_pin: None,
            created_at: now_ms,
            accepted_at: None,
            arrived_at: None,
            started_at: None,
            completed_at: None,
            cancelled_at: None,
            cancelled_by: None,
            cancel_reason: None,
        };
        let mut record = RideRecord {
            ride,
            passenger_phone,
            callback_url: request.callback_url,
            last_seq: 0,
            offers: Vec::new(),
            round_expires_at: None,
            lock: None,
            viewers: Default::default(),
            driver_frames: 0,
            driver_mark: 0,
            round_query: None,
            round_retry_at: None,
            start_pin: None,
            proof_objects: Default::default(),
            watchers: Default::default(),
            claims_out: Default::default(),
            claims_sent: 0,
        };
        let effects = record.publish(PassengerEvent::RideCreated, now_ms).to_vec();
        (record, effects)
    }
}

impl RideRecord {
    /// Arms the start PIN of a ride created with `start_pin: true` (once;
    /// the Worker's randomness comes in as `guard`).
    pub fn arm_start_pin(&mut self, guard: super::start_pin::PinGuard) {
        if self.ride.start_pin_required && self.start_pin.is_none() {
            self.start_pin = Some(guard);
        }
    }

    /// The ride as `caller` sees it: with the start PIN for its passenger,
    /// partner and dispatchers.
    pub fn ride_for(&self, caller: &Caller) -> Ride {
        let mut ride = self.ride.clone();
        if super::start_pin::sees_pin(&ride, caller) {
            ride.start_pin = self.start_pin.as_ref().map(|g| g.pin.clone());
        }
        ride
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ride_request::tests::{new_ride, partner_ride};

    fn caller(role: Role, sub: &str, name: Option<&str>) -> Caller {
        Caller { sub: sub.into(), role, name: name.map(Into::into) }
    }

    #[test]
    fn status_names_round_trip() {
        for status in RideStatus::ALL {
            assert_eq!(RideStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(RideStatus::parse("done"), None);
    }

    #[test]
    fn a_passengers_ride_starts_searching_with_its_identity_from_the_token() {
        let (record, effects) =
            RideRecord::create("ride_1".into(), new_ride(), &caller(Role::Passenger, "p-1", Some("Ann")), 1_000);
        let ride = &record.ride;
        assert_eq!(ride.status, RideStatus::Searching);
        assert_eq!(ride.passenger, PassengerRef { id: Some("p-1".into()), name: Some("Ann".into()) });
        assert_eq!(ride.partner_id, None);
        assert_eq!(ride.created_at, 1_000);
        assert_eq!(ride.offer_round, 0);
        let recorded = effects.iter().find_map(|e| match e {
            Effect::Record(change) => Some(change.event.clone()),
            _ => None,
        });
        assert_eq!(
            recorded,
            Some(RideEvent { seq: 1, kind: "ride_created".into(), status: RideStatus::Searching, at: 1_000 })
        );
        assert_eq!(record.last_seq, 1);
    }

    #[test]
    fn a_partners_ride_names_the_partner_and_its_customer() {
        let (record, _) = RideRecord::create("ride_2".into(), partner_ride(), &caller(Role::Partner, "acme", None), 5);
        assert_eq!(record.ride.partner_id.as_deref(), Some("acme"));
        assert_eq!(record.ride.passenger, PassengerRef { id: None, name: Some("Bo".into()) });
        assert_eq!(record.passenger_phone.as_deref(), Some("+27825550100"));
        assert_eq!(record.callback_url.as_deref(), Some("https://partner.example/hooks"));
    }

    #[test]
    fn the_ride_object_has_every_protocol_field_with_null_timestamps() {
        let (record, _) = RideRecord::create("ride_3".into(), new_ride(), &caller(Role::Passenger, "p", None), 7);
        let json = serde_json::to_value(&record.ride).unwrap();
        for field in [
            "id",
            "status",
            "product",
            "pickup",
            "dropoff",
            "fare",
            "distance_km",
            "passenger",
            "partner_id",
            "driver",
            "offer_round",
            "created_at",
            "accepted_at",
            "arrived_at",
            "started_at",
            "completed_at",
            "cancelled_at",
            "cancelled_by",
            "cancel_reason",
        ] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert!(json["accepted_at"].is_null());
        assert!(json["driver"].is_null());
        assert!(json.get("callback_url").is_none(), "callback_url is private to the server");
    }
}
