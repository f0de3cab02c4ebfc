//! Fixtures shared by the native scenario tests of rides.
#![allow(dead_code)]

use ridewire::core::dispatch::{DispatchSettings, Effect, RoundCandidate};
use ridewire::core::driver::Vehicle;
use ridewire::core::driver_index::Candidate;
use ridewire::core::geo::LatLng;
use ridewire::core::identity::{Caller, Role};
use ridewire::core::protocol::{DriverOutbound, PassengerEvent};
use ridewire::core::ride::{AssignedDriver, RideRecord};
use ridewire::core::ride_request::NewRide;

pub const T0: i64 = 1_800_000_000_000;

pub fn settings() -> DispatchSettings {
    DispatchSettings { radius_km: 10.0, offer_batch: 5, offer_timeout_ms: 20_000, max_rounds: 3, lock_ttl_ms: 5_000 }
}

pub fn new_ride() -> RideRecord {
    let body = br#"{"pickup":{"lat":-26.2041,"lng":28.0473},"dropoff":{"lat":-26.1076,"lng":28.0567}}"#;
    let request = NewRide::from_json(body, Role::Passenger).unwrap();
    let caller = Caller { sub: "pax-1".into(), role: Role::Passenger, name: Some("Ann".into()) };
    RideRecord::create("ride_0123456789abcdef0123456789abcdef".into(), request, &caller, T0).0
}

pub fn candidates(ids: &[&str]) -> Vec<RoundCandidate> {
    ids.iter()
        .enumerate()
        .map(|(i, id)| RoundCandidate {
            region: "85bc5a2ffffffff".into(),
            candidate: Candidate {
                driver_id: id.to_string(),
                location: LatLng { lat: -26.2041 + 0.001 * i as f64, lng: 28.0473 },
                distance_m: 100.0 * (i as f64 + 1.0),
                available: true,
            },
        })
        .collect()
}

pub fn profile(id: &str) -> AssignedDriver {
    AssignedDriver {
        id: id.into(),
        name: format!("Driver {id}"),
        phone: "+27825550100".into(),
        vehicle: Vehicle { kind: "sedan".into(), registration: "CA 1".into() },
        rating: Some(4.5),
    }
}

pub fn offered_ids(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToDrivers { drivers, message: DriverOutbound::RideOffer { .. }, .. } => Some(drivers.clone()),
            _ => None,
        })
        .flatten()
        .map(|d| d.driver_id)
        .collect()
}

pub fn passenger_events(effects: &[Effect]) -> Vec<PassengerEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Publish(sequenced) => Some(sequenced.event.clone()),
            _ => None,
        })
        .collect()
}

/// A ride whose first round offered it to `ids`.
pub fn with_round_one(ids: &[&str]) -> RideRecord {
    let mut record = new_ride();
    record.start_round(candidates(ids), &settings(), T0);
    record
}

/// A ride `driver` has accepted after round one offered it to `ids`.
pub fn accepted_by(driver: &str, ids: &[&str]) -> RideRecord {
    let mut record = with_round_one(ids);
    record.accept(profile(driver), None, T0 + 1_000).expect("offered drivers may accept");
    record
}

/// The frames sent to drivers, as (driver id, frame type) pairs.
pub fn driver_frames(effects: &[Effect]) -> Vec<(String, String)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::ToDrivers { drivers, message, .. } => Some((drivers, message)),
            _ => None,
        })
        .flat_map(|(drivers, message)| {
            let kind =
                serde_json::to_value(message).expect("frames serialize")["type"].as_str().unwrap_or("").to_string();
            drivers.iter().map(move |d| (d.driver_id.clone(), kind.clone()))
        })
        .collect()
}
