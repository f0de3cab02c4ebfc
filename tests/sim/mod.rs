//! A deterministic simulation of ridewire's three objects: the ride,
//! driver and region cores inside models of their Durable Object shells,
//! exchanging calls through a seeded scheduler that
//! delays, reorders and drops them, while random apps create rides,
//! connect, move, accept, decline, lock, cancel and step, and objects
//! restart. Each seed ends with every promise of PROTOCOL.md checked.

pub mod actions;
pub mod clients;
pub mod driver_do;
pub mod invariants;
pub mod notifications;
pub mod observations;
pub mod region_do;
pub mod ride_do;
pub mod ride_run;
pub mod ride_steps;
pub mod rng;
pub mod scheduler;
pub mod trace;
pub mod world;

use ridewire::core::dispatch::DispatchSettings;
use ridewire::core::driver::Vehicle;
use ridewire::core::ride::AssignedDriver;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use world::run_seed;

/// The clock at the start of every seed (ms).
pub const T0: i64 = 1_800_000_000_000;

/// The dispatch rules' defaults (PROTOCOL.md "Dispatch rules").
pub fn settings() -> DispatchSettings {
    DispatchSettings { radius_km: 10.0, offer_batch: 5, offer_timeout_ms: 20_000, max_rounds: 3, lock_ttl_ms: 5_000 }
}

pub fn ride_id(index: usize) -> String {
    format!("ride-{index:04}")
}

pub fn ride_index(id: &str) -> usize {
    id["ride-".len()..].parse().expect("a ride of the city")
}

pub fn driver_id(index: usize) -> String {
    format!("d{index:02}")
}

pub fn driver_index(id: &str) -> usize {
    id[1..].parse().expect("a driver of the city")
}

pub fn region_name(index: usize) -> String {
    format!("r{}", index + 1)
}

pub fn region_index(name: &str) -> usize {
    name[1..].parse::<usize>().expect("a region of the city") - 1
}

pub fn passenger_id(ride: usize) -> String {
    format!("pax-{ride}")
}

/// A driver's profile as the passenger sees it (the real shell reads it from D1).
pub fn profile(driver_id: &str) -> AssignedDriver {
    AssignedDriver {
        id: driver_id.to_string(),
        name: format!("Driver {driver_id}"),
        phone: "+27825550100".into(),
        vehicle: Vehicle { kind: "sedan".into(), registration: "CA 1".into() },
        rating: Some(4.5),
    }
}

/// What a restarted object reads back: the stored value through JSON.
pub fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let json = serde_json::to_string(value).expect("stored state serializes");
    serde_json::from_str(&json).expect("stored state reads back")
}
