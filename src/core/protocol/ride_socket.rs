//! The ride socket's messages (`/v1/ws/rides/{id}`, for the ride's
//! passenger, partner and dispatchers): what they send
//! ([`PassengerInbound`]), the numbered events of a ride
//! ([`PassengerEvent`] in a [`SequencedEvent`]), and the other frames the
//! server sends ([`RideOutbound`]).

use serde::{Deserialize, Serialize};

use super::{check_reason, check_token, Validate};
use crate::core::geo::LatLng;
use crate::core::identity::Role;
use crate::core::invalid::Invalid;
use crate::core::money::Money;
use crate::core::ride::{AssignedDriver, RideStatus};

/// A message from a ride socket's client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PassengerInbound {
    /// Cancels the ride.
    CancelRide {
        /// Why, at most 500 characters.
        reason: Option<String>,
    },
    /// Replaces the socket's token before it expires.
    RefreshToken {
        /// The new JWT.
        token: String,
    },
    /// Heartbeat; answered `pong`.
    Ping,
}

impl PassengerInbound {
    /// The wire `type` of the message, e.g. `cancel_ride`.
    pub fn kind(&self) -> &'static str {
        match self {
            PassengerInbound::CancelRide { .. } => "cancel_ride",
            PassengerInbound::RefreshToken { .. } => "refresh_token",
            PassengerInbound::Ping => "ping",
        }
    }
}

impl Validate for PassengerInbound {
    const TYPES: &'static [&'static str] = &["cancel_ride", "refresh_token", "ping"];

    fn validate(&self) -> Result<(), Invalid> {
        match self {
            PassengerInbound::CancelRide { reason } => check_reason(self.kind(), reason.as_deref()),
            PassengerInbound::RefreshToken { token } => check_token(token),
            PassengerInbound::Ping => Ok(()),
        }
    }
}

/// Something that happened to a ride, as its ride sockets hear it. Stored
/// in the ride's log, so it reads back as well as it writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PassengerEvent {
    /// The ride was created (event 1 of every ride).
    RideCreated,
    /// An offer round started.
    Searching {
        /// The round, from 1.
        round: u32,
        /// Drivers offered the ride in this round.
        drivers_notified: u32,
    },
    /// A driver accepted the ride.
    DriverAssigned {
        /// The driver.
        driver: AssignedDriver,
        /// Where the driver was, when known.
        location: Option<LatLng>,
    },
    /// The driver is at the pickup.
    DriverArrived,
    /// The trip started.
    TripStarted,
    /// The trip is done.
    RideCompleted {
        /// The fare, when known.
        fare: Option<Money>,
        /// The proof of delivery, when one was given.
        #[serde(default)]
        proof: Option<crate::core::proof::Proof>,
    },
    /// Someone called the ride off.
    RideCancelled {
        /// Which kind of party cancelled.
        by: Role,
        /// The reason given.
        reason: Option<String>,
    },
    /// Nobody accepted; the ride expired.
    NoDrivers {
        /// Rounds tried.
        rounds: u32,
    },
}

impl PassengerEvent {
    /// The wire `type` of the event, e.g. `driver_assigned`.
    pub fn kind(&self) -> &'static str {
        match self {
            PassengerEvent::RideCreated => "ride_created",
            PassengerEvent::Searching { .. } => "searching",
            PassengerEvent::DriverAssigned { .. } => "driver_assigned",
            PassengerEvent::DriverArrived => "driver_arrived",
            PassengerEvent::TripStarted => "trip_started",
            PassengerEvent::RideCompleted { .. } => "ride_completed",
            PassengerEvent::RideCancelled { .. } => "ride_cancelled",
            PassengerEvent::NoDrivers { .. } => "no_drivers",
        }
    }
}

/// An event with its place in the ride's log, written flat:
/// `{"type":"searching","round":1,"drivers_notified":5,"seq":2,"at":...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SequencedEvent {
    /// The event; declared first so `type` leads the frame.
    #[serde(flatten)]
    pub event: PassengerEvent,
    /// 1, 2, 3… per ride, without gaps.
    pub seq: u64,
    /// When it happened.
    pub at: i64,
}

/// A frame from the server on a ride socket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RideOutbound {
    /// The socket is open; missed events follow.
    Connected {
        /// The ride.
        ride_id: String,
        /// Its status now.
        status: RideStatus,
        /// The seq of its latest event.
        last_seq: u64,
    },
    /// The assigned driver's latest position (not numbered, not replayed).
    DriverLocation {
        /// Latitude.
        lat: f64,
        /// Longitude.
        lng: f64,
        /// Compass heading, when the driver app sends one.
        heading: Option<f64>,
    },
    /// Answer to `ping`.
    Pong {
        /// The server's time.
        ts: i64,
    },
    /// A refused message or a failure.
    Error {
        /// A snake_case code.
        code: String,
        /// Text for a person.
        message: String,
    },
    /// The token's `exp` passed; the socket closes with 4001.
    TokenExpired,
    /// A numbered event, sent exactly as stored.
    #[serde(untagged)]
    Event(SequencedEvent),
}

impl From<SequencedEvent> for RideOutbound {
    fn from(event: SequencedEvent) -> Self {
        RideOutbound::Event(event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::tests::{value_of, RIDE};
    use super::super::{parse_frame, FrameError};
    use super::*;
    use crate::core::driver::Vehicle;

    fn driver() -> AssignedDriver {
        AssignedDriver {
            id: "d1".into(),
            name: "Thabo".into(),
            phone: "+27825550100".into(),
            vehicle: Vehicle { kind: "sedan".into(), registration: "CA 123".into() },
            rating: Some(4.8),
        }
    }

    fn every_event() -> Vec<(PassengerEvent, Value)> {
        vec![
            (PassengerEvent::RideCreated, json!({"type": "ride_created"})),
            (
                PassengerEvent::Searching { round: 1, drivers_notified: 5 },
                json!({"type": "searching", "round": 1, "drivers_notified": 5}),
            ),
            (
                PassengerEvent::DriverAssigned { driver: driver(), location: Some(LatLng { lat: -26.2, lng: 28.0 }) },
                json!({
                    "type": "driver_assigned",
                    "driver": {
                        "id": "d1",
                        "name": "Thabo",
                        "phone": "+27825550100",
                        "vehicle": {"type": "sedan", "registration": "CA 123"},
                        "rating": 4.8,
                    },
                    "location": {"lat": -26.2, "lng": 28.0},
                }),
            ),
            (PassengerEvent::DriverArrived, json!({"type": "driver_arrived"})),
            (PassengerEvent::TripStarted, json!({"type": "trip_started"})),
            (
                PassengerEvent::RideCompleted {
                    fare: Some(Money { amount: 85.5, currency: "ZAR".into() }),
                    proof: None,
                },
                json!({"type": "ride_completed", "fare": {"amount": 85.5, "currency": "ZAR"}, "proof": null}),
            ),
            (
                PassengerEvent::RideCancelled { by: Role::Passenger, reason: Some("changed plans".into()) },
                json!({"type": "ride_cancelled", "by": "passenger", "reason": "changed plans"}),
            ),
            (PassengerEvent::NoDrivers { rounds: 3 }, json!({"type": "no_drivers", "rounds": 3})),
        ]
    }

    #[test]
    fn every_passenger_message_type_parses() {
        let cases = [
            (r#"{"type":"cancel_ride","reason":"late"}"#, PassengerInbound::CancelRide { reason: Some("late".into()) }),
            (r#"{"type":"cancel_ride"}"#, PassengerInbound::CancelRide { reason: None }),
            (r#"{"type":"refresh_token","token":"a.b.c"}"#, PassengerInbound::RefreshToken { token: "a.b.c".into() }),
            (r#"{"type":"ping"}"#, PassengerInbound::Ping),
        ];
        let kinds: std::collections::BTreeSet<&str> = cases.iter().map(|(_, m)| m.kind()).collect();
        assert_eq!(kinds, PassengerInbound::TYPES.iter().copied().collect());
        for (text, expected) in cases {
            assert_eq!(parse_frame::<PassengerInbound>(text).unwrap().message, expected, "{text}");
        }
    }

    #[test]
    fn a_passenger_cannot_send_driver_messages() {
        let err = parse_frame::<PassengerInbound>(&format!(r#"{{"type":"accept_ride","ride_id":"{RIDE}"}}"#));
        assert!(matches!(err, Err(FrameError::BadMessage { .. })));
    }

    #[test]
    fn a_passenger_cancel_reason_over_500_characters_is_a_bad_message() {
        let long = format!(r#"{{"type":"cancel_ride","reason":"{}"}}"#, "x".repeat(501));
        let err = parse_frame::<PassengerInbound>(&long).unwrap_err();
        assert_eq!(err.to_string(), "cancel_ride.reason must be at most 500 characters");
    }

    #[test]
    fn every_event_has_its_protocol_fields() {
        for (event, expected) in every_event() {
            assert_eq!(event.kind(), expected["type"]);
            assert_eq!(serde_json::to_value(&event).unwrap(), expected);
        }
    }

    #[test]
    fn absent_event_values_are_null() {
        let assigned = PassengerEvent::DriverAssigned { driver: driver(), location: None };
        assert_eq!(serde_json::to_value(&assigned).unwrap()["location"], Value::Null);
        let cancelled = PassengerEvent::RideCancelled { by: Role::Dispatcher, reason: None };
        assert_eq!(
            serde_json::to_value(&cancelled).unwrap(),
            json!({"type": "ride_cancelled", "by": "dispatcher", "reason": null})
        );
        let completed = PassengerEvent::RideCompleted { fare: None, proof: None };
        assert_eq!(
            serde_json::to_value(&completed).unwrap(),
            json!({"type": "ride_completed", "fare": null, "proof": null})
        );
    }

    #[test]
    fn a_sequenced_event_is_written_flat_with_seq_and_at() {
        let event =
            SequencedEvent { seq: 2, at: 1_000, event: PassengerEvent::Searching { round: 1, drivers_notified: 5 } };
        assert_eq!(
            value_of(&event, None),
            json!({"type": "searching", "round": 1, "drivers_notified": 5, "seq": 2, "at": 1_000})
        );
        assert!(to_frame_text(&event).starts_with(r#"{"type":"searching""#));
    }

    fn to_frame_text(event: &SequencedEvent) -> String {
        super::super::to_frame(event, None)
    }

    #[test]
    fn every_sequenced_event_reads_back_as_written() {
        for (seq, (event, _)) in (1..).zip(every_event()) {
            let sequenced = SequencedEvent { seq, at: 1_700_000_000_000 + seq as i64, event };
            let text = serde_json::to_string(&sequenced).unwrap();
            let back: SequencedEvent = serde_json::from_str(&text).unwrap();
            assert_eq!(back, sequenced, "{text}");
        }
    }

    #[test]
    fn a_stored_event_is_sent_as_is_on_the_ride_socket() {
        let event = SequencedEvent { seq: 4, at: 9, event: PassengerEvent::DriverArrived };
        let stored = serde_json::to_value(&event).unwrap();
        assert_eq!(value_of(&RideOutbound::from(event), None), stored);
        assert_eq!(stored, json!({"type": "driver_arrived", "seq": 4, "at": 9}));
    }

    #[test]
    fn ride_socket_frames_have_their_protocol_fields() {
        let connected = RideOutbound::Connected { ride_id: RIDE.into(), status: RideStatus::InProgress, last_seq: 6 };
        assert_eq!(
            value_of(&connected, None),
            json!({"type": "connected", "ride_id": RIDE, "status": "in_progress", "last_seq": 6})
        );
        let location = RideOutbound::DriverLocation { lat: -26.2, lng: 28.0, heading: Some(90.0) };
        assert_eq!(
            value_of(&location, None),
            json!({"type": "driver_location", "lat": -26.2, "lng": 28.0, "heading": 90.0})
        );
        let location = RideOutbound::DriverLocation { lat: -26.2, lng: 28.0, heading: None };
        assert_eq!(
            value_of(&location, None),
            json!({"type": "driver_location", "lat": -26.2, "lng": 28.0, "heading": null})
        );
        assert_eq!(value_of(&RideOutbound::Pong { ts: 3 }, Some("p")), json!({"type": "pong", "ts": 3, "req_id": "p"}));
        let error = RideOutbound::Error { code: "forbidden".into(), message: "m".into() };
        assert_eq!(value_of(&error, None), json!({"type": "error", "code": "forbidden", "message": "m"}));
        assert_eq!(value_of(&RideOutbound::TokenExpired, None), json!({"type": "token_expired"}));
    }
}
