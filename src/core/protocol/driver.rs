//! The driver socket's messages (`/v1/ws/driver`): what a driver app sends
//! ([`DriverInbound`]) and what the server sends it ([`DriverOutbound`]).

use serde::{Deserialize, Serialize};

use super::{check_reason, check_ride_id, check_token, Inbound, Validate};
use crate::core::geo::{LatLng, Place};
use crate::core::invalid::Invalid;
use crate::core::money::Money;
use crate::core::ride::{Ride, RideStatus};

/// A message from a driver app.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DriverInbound {
    /// The driver's position, with optional heading (degrees), speed (m/s) and accuracy (m).
    LocationUpdate {
        /// Latitude in [-90, 90].
        lat: f64,
        /// Longitude in [-180, 180].
        lng: f64,
        /// Compass heading in [0, 360).
        heading: Option<f64>,
        /// Speed, at least 0.
        speed: Option<f64>,
        /// Horizontal accuracy, at least 0.
        accuracy: Option<f64>,
    },
    /// Whether the driver takes offers.
    SetAvailable {
        /// True to take offers.
        available: bool,
    },
    /// The driver is looking at an offered ride.
    ViewRide {
        /// The ride viewed.
        ride_id: String,
    },
    /// The driver stopped looking at an offered ride.
    StopViewing {
        /// The ride no longer viewed.
        ride_id: String,
    },
    /// Asks for the accept lock of an offered ride.
    RequestLock {
        /// The ride to lock.
        ride_id: String,
    },
    /// Accepts an offered ride.
    AcceptRide {
        /// The ride to accept.
        ride_id: String,
    },
    /// Declines an offered ride.
    DeclineRide {
        /// The ride declined.
        ride_id: String,
    },
    /// Moves the driver's active ride one step on.
    RideStatus {
        /// The active ride.
        ride_id: String,
        /// The step reached.
        status: RideStep,
        /// The passenger's start PIN (`in_progress` of a PIN ride).
        #[serde(default)]
        pin: Option<String>,
        /// The proof of delivery (`completed`).
        #[serde(default)]
        proof: Option<crate::core::proof::Proof>,
    },
    /// Cancels the driver's active ride.
    CancelRide {
        /// The active ride.
        ride_id: String,
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

impl DriverInbound {
    /// The wire `type` of the message, e.g. `location_update`.
    pub fn kind(&self) -> &'static str {
        match self {
            DriverInbound::LocationUpdate { .. } => "location_update",
            DriverInbound::SetAvailable { .. } => "set_available",
            DriverInbound::ViewRide { .. } => "view_ride",
            DriverInbound::StopViewing { .. } => "stop_viewing",
            DriverInbound::RequestLock { .. } => "request_lock",
            DriverInbound::AcceptRide { .. } => "accept_ride",
            DriverInbound::DeclineRide { .. } => "decline_ride",
            DriverInbound::RideStatus { .. } => "ride_status",
            DriverInbound::CancelRide { .. } => "cancel_ride",
            DriverInbound::RefreshToken { .. } => "refresh_token",
            DriverInbound::Ping => "ping",
        }
    }
}

impl Validate for DriverInbound {
    const TYPES: &'static [&'static str] = &[
        "location_update",
        "set_available",
        "view_ride",
        "stop_viewing",
        "request_lock",
        "accept_ride",
        "decline_ride",
        "ride_status",
        "cancel_ride",
        "refresh_token",
        "ping",
    ];

    fn validate(&self) -> Result<(), Invalid> {
        let kind = self.kind();
        match self {
            DriverInbound::LocationUpdate { lat, lng, heading, speed, accuracy } => {
                LatLng::new(kind, *lat, *lng)?;
                if heading.is_some_and(|h| !(0.0..360.0).contains(&h)) {
                    return Err(Invalid::field("location_update.heading", "must be a number in [0, 360)"));
                }
                for (field, value) in [("speed", speed), ("accuracy", accuracy)] {
                    if value.is_some_and(|v| !v.is_finite() || v < 0.0) {
                        return Err(Invalid::field(&format!("{kind}.{field}"), "must be a finite number >= 0"));
                    }
                }
                Ok(())
            }
            DriverInbound::ViewRide { ride_id }
            | DriverInbound::StopViewing { ride_id }
            | DriverInbound::RequestLock { ride_id }
            | DriverInbound::AcceptRide { ride_id }
            | DriverInbound::DeclineRide { ride_id } => check_ride_id(kind, ride_id),
            DriverInbound::RideStatus { ride_id, status, pin, proof } => {
                check_ride_id(kind, ride_id)?;
                let evidence = crate::core::step_evidence::StepEvidence { pin: pin.clone(), proof: proof.clone() };
                evidence.validate(*status).map_err(|e| Invalid(format!("ride_status.{}", e.0)))
            }
            DriverInbound::CancelRide { ride_id, reason } => {
                check_ride_id(kind, ride_id)?;
                check_reason(kind, reason.as_deref())
            }
            DriverInbound::RefreshToken { token } => check_token(token),
            DriverInbound::SetAvailable { .. } | DriverInbound::Ping => Ok(()),
        }
    }

    fn read_fast(frame: &[u8]) -> Option<Inbound<Self>> {
        let fast: LocationFrame = serde_json::from_slice(frame).ok()?;
        if fast.kind != "location_update" {
            return None;
        }
        if fast.req_id.as_deref().is_some_and(|id| !super::is_req_id(id)) {
            return None;
        }
        let (lat, lng, heading, speed, accuracy) = (fast.lat, fast.lng, fast.heading, fast.speed, fast.accuracy);
        Some(Inbound {
            req_id: fast.req_id,
            message: DriverInbound::LocationUpdate { lat, lng, heading, speed, accuracy },
        })
    }
}

/// A status step a driver may report with `ride_status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RideStep {
    /// At the pickup.
    Arrived,
    /// The trip started.
    InProgress,
    /// The trip is done.
    Completed,
}

impl RideStep {
    /// The ride status the step leads to.
    pub fn status(self) -> RideStatus {
        match self {
            RideStep::Arrived => RideStatus::Arrived,
            RideStep::InProgress => RideStatus::InProgress,
            RideStep::Completed => RideStatus::Completed,
        }
    }
}

/// Why an `accept_ride` (or `request_lock`) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcceptFailure {
    /// Another driver got the ride.
    RideTaken,
    /// Another driver holds the accept lock.
    RideLocked,
    /// The ride was cancelled or expired.
    RideClosed,
    /// The ride was never offered to this driver.
    NotOffered,
    /// The driver has another active ride (`accept_failed` only).
    DriverBusy,
    /// The driver held the lock as long as it may in a row (`lock_failed` only).
    LockLimit,
}

impl AcceptFailure {
    /// The wire name, e.g. `ride_taken`; also the HTTP error code.
    pub fn as_str(self) -> &'static str {
        match self {
            AcceptFailure::RideTaken => "ride_taken",
            AcceptFailure::RideLocked => "ride_locked",
            AcceptFailure::RideClosed => "ride_closed",
            AcceptFailure::NotOffered => "not_offered",
            AcceptFailure::DriverBusy => "driver_busy",
            AcceptFailure::LockLimit => "lock_limit",
        }
    }
}

/// The part of a ride a driver sees in an offer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferedRide {
    /// The ride's id.
    pub id: String,
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
}

impl From<&Ride> for OfferedRide {
    fn from(ride: &Ride) -> Self {
        OfferedRide {
            id: ride.id.clone(),
            product: ride.product.clone(),
            pickup: ride.pickup.clone(),
            dropoff: ride.dropoff.clone(),
            fare: ride.fare.clone(),
            distance_km: ride.distance_km,
        }
    }
}

/// A message from the server to a driver app.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DriverOutbound {
    /// The socket is open; offers and the active ride follow.
    Connected {
        /// The driver's id (its token's `sub`).
        driver_id: String,
        /// The region (H3 cell) holding the socket.
        region: String,
        /// Seconds between the `ping`s the app should send.
        heartbeat_s: u32,
    },
    /// A ride is offered to this driver.
    RideOffer {
        /// The ride offered.
        ride: OfferedRide,
        /// Distance from the driver to the pickup, in m.
        distance_to_pickup_m: f64,
        /// When the offer lapses.
        expires_at: i64,
    },
    /// Another driver got a ride this driver was offered.
    RideTaken {
        /// The ride.
        ride_id: String,
    },
    /// An offered or assigned ride was cancelled or expired.
    RideCancelled {
        /// The ride.
        ride_id: String,
        /// Why, e.g. `expired`.
        reason: String,
    },
    /// The number of drivers viewing an offered ride changed.
    ViewerCount {
        /// The ride.
        ride_id: String,
        /// Drivers viewing it now.
        count: u32,
    },
    /// Answer to `request_lock`: only this driver may accept until `expires_at`.
    LockAcquired {
        /// The ride.
        ride_id: String,
        /// When the lock lapses.
        expires_at: i64,
    },
    /// Answer to `request_lock`: no lock.
    LockFailed {
        /// The ride.
        ride_id: String,
        /// Why, e.g. `ride_locked`.
        reason: String,
    },
    /// This driver won the ride.
    RideAssigned {
        /// The ride as it now is.
        ride: Ride,
    },
    /// Answer to `accept_ride`: refused.
    AcceptFailed {
        /// The ride.
        ride_id: String,
        /// Why.
        reason: AcceptFailure,
    },
    /// The active ride changed.
    RideUpdated {
        /// The ride as it now is.
        ride: Ride,
    },
    /// The driver left its region; the socket closes with 4000.
    RegionChanged {
        /// The new region.
        region: String,
        /// The path to reconnect to.
        reconnect: String,
    },
    /// Rides wait for drivers near here.
    HighDemand(super::DemandAlert),
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
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{value_of, RIDE};
    use super::super::{parse_frame, FrameError};
    use super::*;
    use crate::core::identity::{Caller, Role};
    use crate::core::ride::RideRecord;
    use crate::core::ride_request::tests::{new_ride, partner_ride};

    fn parse(text: &str) -> DriverInbound {
        parse_frame::<DriverInbound>(text).unwrap().message
    }

    fn refusal(text: &str) -> String {
        match parse_frame::<DriverInbound>(text).unwrap_err() {
            FrameError::BadMessage { message, .. } => message,
            other => panic!("expected bad_message, got {other:?}"),
        }
    }

    fn ride() -> Ride {
        let caller = Caller { sub: "pax-1".into(), role: Role::Passenger, name: None };
        RideRecord::create(RIDE.into(), new_ride(), &caller, 1_000).0.ride
    }

    #[test]
    fn every_driver_message_type_parses() {
        let r = RIDE;
        let cases = [
            (
                r#"{"type":"location_update","lat":-26.2,"lng":28.04,"heading":90,"speed":12.5,"accuracy":4}"#
                    .to_string(),
                DriverInbound::LocationUpdate {
                    lat: -26.2,
                    lng: 28.04,
                    heading: Some(90.0),
                    speed: Some(12.5),
                    accuracy: Some(4.0),
                },
            ),
            (r#"{"type":"set_available","available":false}"#.into(), DriverInbound::SetAvailable { available: false }),
            (format!(r#"{{"type":"view_ride","ride_id":"{r}"}}"#), DriverInbound::ViewRide { ride_id: r.into() }),
            (format!(r#"{{"type":"stop_viewing","ride_id":"{r}"}}"#), DriverInbound::StopViewing { ride_id: r.into() }),
            (format!(r#"{{"type":"request_lock","ride_id":"{r}"}}"#), DriverInbound::RequestLock { ride_id: r.into() }),
            (format!(r#"{{"type":"accept_ride","ride_id":"{r}"}}"#), DriverInbound::AcceptRide { ride_id: r.into() }),
            (format!(r#"{{"type":"decline_ride","ride_id":"{r}"}}"#), DriverInbound::DeclineRide { ride_id: r.into() }),
            (
                format!(r#"{{"type":"ride_status","ride_id":"{r}","status":"in_progress"}}"#),
                DriverInbound::RideStatus { ride_id: r.into(), status: RideStep::InProgress, pin: None, proof: None },
            ),
            (
                format!(r#"{{"type":"cancel_ride","ride_id":"{r}","reason":"flat tyre"}}"#),
                DriverInbound::CancelRide { ride_id: r.into(), reason: Some("flat tyre".into()) },
            ),
            (
                r#"{"type":"refresh_token","token":"a.b.c"}"#.into(),
                DriverInbound::RefreshToken { token: "a.b.c".into() },
            ),
            (r#"{"type":"ping"}"#.into(), DriverInbound::Ping),
        ];
        assert_eq!(cases.len(), DriverInbound::TYPES.len());
        for (text, expected) in cases {
            assert_eq!(parse(&text), expected, "{text}");
            assert!(DriverInbound::TYPES.contains(&expected.kind()));
            let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(frame["type"], expected.kind());
        }
    }

    #[test]
    fn optional_fields_may_be_absent_or_null() {
        let expected = DriverInbound::LocationUpdate { lat: 1.0, lng: 2.0, heading: None, speed: None, accuracy: None };
        assert_eq!(parse(r#"{"type":"location_update","lat":1,"lng":2}"#), expected);
        assert_eq!(parse(r#"{"type":"location_update","lat":1,"lng":2,"heading":null,"speed":null}"#), expected);
        let cancel = parse(&format!(r#"{{"type":"cancel_ride","ride_id":"{RIDE}"}}"#));
        assert_eq!(cancel, DriverInbound::CancelRide { ride_id: RIDE.into(), reason: None });
    }

    #[test]
    fn coordinates_out_of_range_are_bad_messages() {
        assert_eq!(
            refusal(r#"{"type":"location_update","lat":-90.5,"lng":0}"#),
            "location_update.lat must be a number in [-90, 90]"
        );
        assert_eq!(
            refusal(r#"{"type":"location_update","lat":0,"lng":180.01}"#),
            "location_update.lng must be a number in [-180, 180]"
        );
    }

    #[test]
    fn a_heading_outside_0_to_360_is_a_bad_message() {
        assert!(parse_frame::<DriverInbound>(r#"{"type":"location_update","lat":0,"lng":0,"heading":0}"#).is_ok());
        assert!(parse_frame::<DriverInbound>(r#"{"type":"location_update","lat":0,"lng":0,"heading":359.9}"#).is_ok());
        for heading in ["360", "-1", "720"] {
            let text = format!(r#"{{"type":"location_update","lat":0,"lng":0,"heading":{heading}}}"#);
            assert_eq!(refusal(&text), "location_update.heading must be a number in [0, 360)");
        }
    }

    #[test]
    fn a_negative_speed_or_accuracy_is_a_bad_message() {
        assert_eq!(
            refusal(r#"{"type":"location_update","lat":0,"lng":0,"speed":-0.1}"#),
            "location_update.speed must be a finite number >= 0"
        );
        assert_eq!(
            refusal(r#"{"type":"location_update","lat":0,"lng":0,"accuracy":-3}"#),
            "location_update.accuracy must be a finite number >= 0"
        );
        assert!(parse_frame::<DriverInbound>(r#"{"type":"location_update","lat":0,"lng":0,"speed":0}"#).is_ok());
    }

    #[test]
    fn non_finite_values_are_refused_by_validation() {
        let update =
            DriverInbound::LocationUpdate { lat: 0.0, lng: 0.0, heading: None, speed: Some(f64::NAN), accuracy: None };
        assert!(update.validate().is_err());
        let update = DriverInbound::LocationUpdate {
            lat: 0.0,
            lng: 0.0,
            heading: None,
            speed: None,
            accuracy: Some(f64::INFINITY),
        };
        assert!(update.validate().is_err());
        let update =
            DriverInbound::LocationUpdate { lat: 0.0, lng: 0.0, heading: Some(f64::NAN), speed: None, accuracy: None };
        assert!(update.validate().is_err());
    }

    #[test]
    fn a_malformed_ride_id_is_a_bad_message() {
        for kind in ["view_ride", "stop_viewing", "request_lock", "accept_ride", "decline_ride", "cancel_ride"] {
            let text = format!(r#"{{"type":"{kind}","ride_id":"ride_123"}}"#);
            assert_eq!(refusal(&text), format!("{kind}.ride_id must be a ride id: ride_ and 32 lower-case hex digits"));
        }
        let text = r#"{"type":"ride_status","ride_id":"../x","status":"arrived"}"#;
        assert!(refusal(text).starts_with("ride_status.ride_id must be a ride id"));
    }

    #[test]
    fn a_ride_status_other_than_the_three_steps_is_a_bad_message() {
        for status in ["accepted", "cancelled", "done"] {
            let text = format!(r#"{{"type":"ride_status","ride_id":"{RIDE}","status":"{status}"}}"#);
            let message = refusal(&text);
            assert!(message.starts_with(&format!("ride_status.status: unknown variant `{status}`")), "{message}");
        }
    }

    #[test]
    fn ride_steps_lead_to_their_statuses() {
        assert_eq!(RideStep::Arrived.status(), RideStatus::Arrived);
        assert_eq!(RideStep::InProgress.status(), RideStatus::InProgress);
        assert_eq!(RideStep::Completed.status(), RideStatus::Completed);
    }

    #[test]
    fn a_cancel_reason_over_500_characters_is_a_bad_message() {
        let ok = format!(r#"{{"type":"cancel_ride","ride_id":"{RIDE}","reason":"{}"}}"#, "é".repeat(500));
        assert!(parse_frame::<DriverInbound>(&ok).is_ok());
        let long = format!(r#"{{"type":"cancel_ride","ride_id":"{RIDE}","reason":"{}"}}"#, "x".repeat(501));
        assert_eq!(refusal(&long), "cancel_ride.reason must be at most 500 characters");
    }

    #[test]
    fn an_empty_refresh_token_is_a_bad_message() {
        assert_eq!(refusal(r#"{"type":"refresh_token","token":""}"#), "refresh_token.token must not be empty");
        assert_eq!(refusal(r#"{"type":"refresh_token","token":"  "}"#), "refresh_token.token must not be empty");
    }

    #[test]
    fn accept_failures_have_their_wire_names() {
        for failure in
            [AcceptFailure::RideTaken, AcceptFailure::RideLocked, AcceptFailure::RideClosed, AcceptFailure::NotOffered]
        {
            assert_eq!(serde_json::to_value(failure).unwrap(), json!(failure.as_str()));
        }
    }

    #[test]
    fn connected_has_driver_id_region_and_heartbeat() {
        let msg =
            DriverOutbound::Connected { driver_id: "d1".into(), region: "85bc5a2ffffffff".into(), heartbeat_s: 30 };
        assert_eq!(
            value_of(&msg, None),
            json!({"type": "connected", "driver_id": "d1", "region": "85bc5a2ffffffff", "heartbeat_s": 30})
        );
    }

    #[test]
    fn a_ride_offer_carries_the_offered_part_of_the_ride() {
        let caller = Caller { sub: "acme".into(), role: Role::Partner, name: None };
        let ride = RideRecord::create(RIDE.into(), partner_ride(), &caller, 1_000).0.ride;
        let msg = DriverOutbound::RideOffer {
            ride: OfferedRide::from(&ride),
            distance_to_pickup_m: 420.0,
            expires_at: 21_000,
        };
        assert_eq!(
            value_of(&msg, None),
            json!({
                "type": "ride_offer",
                "ride": {
                    "id": RIDE,
                    "product": "gas_delivery",
                    "pickup": {"lat": 1.0, "lng": 2.0, "address": null},
                    "dropoff": {"lat": 1.1, "lng": 2.1, "address": null},
                    "fare": {"amount": 85.5, "currency": "ZAR"},
                    "distance_km": 4.2,
                },
                "distance_to_pickup_m": 420.0,
                "expires_at": 21_000,
            })
        );
    }

    #[test]
    fn ride_id_frames_have_their_protocol_fields() {
        let id = || RIDE.to_string();
        let cases = [
            (DriverOutbound::RideTaken { ride_id: id() }, json!({"type": "ride_taken", "ride_id": RIDE})),
            (
                DriverOutbound::RideCancelled { ride_id: id(), reason: "expired".into() },
                json!({"type": "ride_cancelled", "ride_id": RIDE, "reason": "expired"}),
            ),
            (
                DriverOutbound::ViewerCount { ride_id: id(), count: 3 },
                json!({"type": "viewer_count", "ride_id": RIDE, "count": 3}),
            ),
            (
                DriverOutbound::LockAcquired { ride_id: id(), expires_at: 6_000 },
                json!({"type": "lock_acquired", "ride_id": RIDE, "expires_at": 6_000}),
            ),
            (
                DriverOutbound::LockFailed { ride_id: id(), reason: "ride_locked".into() },
                json!({"type": "lock_failed", "ride_id": RIDE, "reason": "ride_locked"}),
            ),
            (
                DriverOutbound::AcceptFailed { ride_id: id(), reason: AcceptFailure::NotOffered },
                json!({"type": "accept_failed", "ride_id": RIDE, "reason": "not_offered"}),
            ),
        ];
        for (msg, expected) in cases {
            assert_eq!(value_of(&msg, None), expected);
        }
    }

    #[test]
    fn ride_assigned_and_ride_updated_carry_the_whole_ride() {
        let ride = ride();
        let whole = serde_json::to_value(&ride).unwrap();
        assert_eq!(
            value_of(&DriverOutbound::RideAssigned { ride: ride.clone() }, Some("r1")),
            json!({"type": "ride_assigned", "ride": whole, "req_id": "r1"})
        );
        assert_eq!(
            value_of(&DriverOutbound::RideUpdated { ride }, None),
            json!({"type": "ride_updated", "ride": whole})
        );
    }

    #[test]
    fn region_changed_pong_error_and_token_expired_have_their_fields() {
        let msg =
            DriverOutbound::RegionChanged { region: "85bc".into(), reconnect: "/v1/ws/driver?lat=1&lng=2".into() };
        assert_eq!(
            value_of(&msg, None),
            json!({"type": "region_changed", "region": "85bc", "reconnect": "/v1/ws/driver?lat=1&lng=2"})
        );
        assert_eq!(value_of(&DriverOutbound::Pong { ts: 7 }, None), json!({"type": "pong", "ts": 7}));
        let msg = DriverOutbound::Error { code: "bad_message".into(), message: "m".into() };
        assert_eq!(value_of(&msg, None), json!({"type": "error", "code": "bad_message", "message": "m"}));
        assert_eq!(value_of(&DriverOutbound::TokenExpired, None), json!({"type": "token_expired"}));
    }
}

/// A `location_update` frame as one flat struct (see [`Validate::read_fast`]):
/// unknown fields are ignored as the general path ignores them; a repeated
/// key, an escaped `type` or any other surprise fails here and goes the general way.
#[derive(Deserialize)]
struct LocationFrame<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    lat: f64,
    lng: f64,
    #[serde(default)]
    heading: Option<f64>,
    #[serde(default)]
    speed: Option<f64>,
    #[serde(default)]
    accuracy: Option<f64>,
    #[serde(default)]
    req_id: Option<String>,
}
