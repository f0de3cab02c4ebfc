//! The dispatch socket's messages (`/v1/ws/dispatch`, a dispatcher's
//! console watching one region): what the console sends
//! ([`DispatcherInbound`]) and the region's picture and live changes the
//! server sends it ([`DispatchOutbound`]).

use serde::{Deserialize, Serialize};

use super::{check_token, Validate};
use crate::core::geo::{LatLng, Place};
use crate::core::invalid::Invalid;
use crate::core::ride::RideStatus;

/// A message from a dispatcher's console.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DispatcherInbound {
    /// Replaces the socket's token before it expires.
    RefreshToken {
        /// The new JWT.
        token: String,
    },
    /// Heartbeat; answered `pong`.
    Ping,
}

impl DispatcherInbound {
    /// The wire `type` of the message, e.g. `ping`.
    pub fn kind(&self) -> &'static str {
        match self {
            DispatcherInbound::RefreshToken { .. } => "refresh_token",
            DispatcherInbound::Ping => "ping",
        }
    }
}

impl Validate for DispatcherInbound {
    const TYPES: &'static [&'static str] = &["refresh_token", "ping"];

    fn validate(&self) -> Result<(), Invalid> {
        match self {
            DispatcherInbound::RefreshToken { token } => check_token(token),
            DispatcherInbound::Ping => Ok(()),
        }
    }
}

/// A driver of the region in a `snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotDriver {
    /// The driver's id.
    pub id: String,
    /// Its last reported position.
    pub location: LatLng,
    /// Whether it takes offers.
    pub available: bool,
}

/// A ride of the region in a `snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotRide {
    /// The ride's id.
    pub id: String,
    /// Its status.
    pub status: RideStatus,
    /// Where it starts.
    pub pickup: Place,
}

/// `high_demand`: more rides searching in `cell` than available drivers
/// within the dispatch radius of it, for a whole demand window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DemandAlert {
    /// The H3 cell (one resolution finer than the region).
    pub cell: String,
    /// Its centre.
    pub center: LatLng,
    /// Rides searching with their pickup in it.
    pub searching: u32,
    /// Available drivers of the region within the dispatch radius of its centre.
    pub available: u32,
}

/// A frame from the server on a dispatch socket.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DispatchOutbound {
    /// The region as it is, sent on open.
    Snapshot {
        /// The region's connected drivers.
        drivers: Vec<SnapshotDriver>,
        /// The region's rides.
        rides: Vec<SnapshotRide>,
    },
    /// A driver moved or changed availability.
    DriverLocation {
        /// The driver.
        driver_id: String,
        /// Latitude.
        lat: f64,
        /// Longitude.
        lng: f64,
        /// Whether it takes offers.
        available: bool,
    },
    /// A driver connected in the region.
    DriverOnline {
        /// The driver.
        driver_id: String,
        /// Where it is.
        location: LatLng,
    },
    /// A driver's last socket in the region closed.
    DriverOffline {
        /// The driver.
        driver_id: String,
    },
    /// A ride was created with its pickup in the region.
    RideCreated {
        /// The ride.
        ride_id: String,
        /// Where it starts.
        pickup: Place,
    },
    /// A ride of the region changed status.
    RideStatus {
        /// The ride.
        ride_id: String,
        /// Its new status.
        status: RideStatus,
    },
    /// Searching rides pile up in a cell of the region.
    HighDemand(DemandAlert),
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

    fn pickup() -> Place {
        Place { lat: -26.2041, lng: 28.0473, address: Some("Park Station".into()) }
    }

    #[test]
    fn every_dispatcher_message_type_parses() {
        let cases = [
            (r#"{"type":"refresh_token","token":"a.b.c"}"#, DispatcherInbound::RefreshToken { token: "a.b.c".into() }),
            (r#"{"type":"ping","req_id":"1"}"#, DispatcherInbound::Ping),
        ];
        assert_eq!(cases.len(), DispatcherInbound::TYPES.len());
        for (text, expected) in cases {
            assert!(DispatcherInbound::TYPES.contains(&expected.kind()));
            assert_eq!(parse_frame::<DispatcherInbound>(text).unwrap().message, expected);
        }
    }

    #[test]
    fn a_dispatcher_refresh_without_a_token_is_a_bad_message() {
        let err = parse_frame::<DispatcherInbound>(r#"{"type":"refresh_token","req_id":"x"}"#).unwrap_err();
        assert_eq!(
            err,
            FrameError::BadMessage { message: "refresh_token: missing field `token`".into(), req_id: Some("x".into()) }
        );
    }

    #[test]
    fn a_snapshot_lists_drivers_and_rides_of_the_region() {
        let snapshot = DispatchOutbound::Snapshot {
            drivers: vec![SnapshotDriver {
                id: "d1".into(),
                location: LatLng { lat: -26.2, lng: 28.0 },
                available: true,
            }],
            rides: vec![SnapshotRide { id: RIDE.into(), status: RideStatus::Searching, pickup: pickup() }],
        };
        assert_eq!(
            value_of(&snapshot, None),
            json!({
                "type": "snapshot",
                "drivers": [{"id": "d1", "location": {"lat": -26.2, "lng": 28.0}, "available": true}],
                "rides": [{
                    "id": RIDE,
                    "status": "searching",
                    "pickup": {"lat": -26.2041, "lng": 28.0473, "address": "Park Station"},
                }],
            })
        );
    }

    #[test]
    fn live_dispatch_frames_have_their_protocol_fields() {
        let cases = [
            (
                DispatchOutbound::DriverLocation { driver_id: "d1".into(), lat: 1.5, lng: 2.5, available: false },
                json!({"type": "driver_location", "driver_id": "d1", "lat": 1.5, "lng": 2.5, "available": false}),
            ),
            (
                DispatchOutbound::DriverOnline { driver_id: "d1".into(), location: LatLng { lat: 1.5, lng: 2.5 } },
                json!({"type": "driver_online", "driver_id": "d1", "location": {"lat": 1.5, "lng": 2.5}}),
            ),
            (
                DispatchOutbound::DriverOffline { driver_id: "d1".into() },
                json!({"type": "driver_offline", "driver_id": "d1"}),
            ),
            (
                DispatchOutbound::RideCreated { ride_id: RIDE.into(), pickup: pickup() },
                json!({
                    "type": "ride_created",
                    "ride_id": RIDE,
                    "pickup": {"lat": -26.2041, "lng": 28.0473, "address": "Park Station"},
                }),
            ),
            (
                DispatchOutbound::RideStatus { ride_id: RIDE.into(), status: RideStatus::Cancelled },
                json!({"type": "ride_status", "ride_id": RIDE, "status": "cancelled"}),
            ),
            (DispatchOutbound::Pong { ts: 11 }, json!({"type": "pong", "ts": 11})),
            (
                DispatchOutbound::Error { code: "rate_limited".into(), message: "m".into() },
                json!({"type": "error", "code": "rate_limited", "message": "m"}),
            ),
            (DispatchOutbound::TokenExpired, json!({"type": "token_expired"})),
        ];
        for (msg, expected) in cases {
            assert_eq!(value_of(&msg, None), expected);
        }
    }
}
