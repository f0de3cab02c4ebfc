//! Fixtures of the region core's scenario tests: a region at a fake time,
//! and readers of the effects it returns.
#![allow(dead_code)]

use ridewire::core::busy_mark::BusyMark;
use ridewire::core::commitments::AttachAnswer;
use ridewire::core::geo::{destination, LatLng};
use ridewire::core::region::{
    DriverCallOut, Region, RegionAnswer, RegionEffect, RegionInput, RegionSettings, RideCall,
};
use ridewire::core::region_cells::region_of;
use serde_json::Value;

pub const T0: i64 = 1_800_000_000_000;
pub const HERE: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };
pub const HEARTBEAT_S: u32 = 30;

pub fn settings() -> RegionSettings {
    RegionSettings { region_res: 5, heartbeat_s: HEARTBEAT_S, radius_km: 10.0, demand_window_ms: 60_000 }
}

pub fn cell() -> String {
    region_of(HERE, 5).unwrap()
}

/// `km` east of the centre.
pub fn east(km: f64) -> LatLng {
    destination(HERE, 90.0, km * 1000.0)
}

pub fn region() -> Region {
    Region::new(settings())
}

/// Opens socket `socket` of `driver` at `at`.
pub fn open_at(region: &mut Region, socket: &str, driver: &str, at: LatLng, now: i64) -> Vec<RegionEffect> {
    let input = RegionInput::DriverOpened {
        socket_id: socket.into(),
        driver_id: driver.into(),
        name: format!("Driver {driver}"),
        location: at,
        cell: cell(),
        evicted: vec![],
    };
    region.handle(input, now)
}

/// A busy mark: of `ride` (or free) at `version`.
pub fn mark(ride: Option<&str>, version: u64) -> BusyMark {
    BusyMark::new(ride.map(str::to_string), version)
}

/// Opens a socket and answers its attach (free, nothing owed).
pub fn online(region: &mut Region, socket: &str, driver: &str, at: LatLng, now: i64) -> Vec<RegionEffect> {
    let mut fx = open_at(region, socket, driver, at, now);
    fx.extend(attach(region, socket, None, &[], now));
    fx
}

/// The Driver DO's answer to `socket`'s attach.
pub fn attach(region: &mut Region, socket: &str, busy: Option<&str>, frames: &[&str], now: i64) -> Vec<RegionEffect> {
    let answer = AttachAnswer { mark: mark(busy, 1), frames: frames.iter().map(|f| f.to_string()).collect() };
    region.handle(RegionInput::Attached { socket_id: socket.into(), answer: Some(answer) }, now)
}

pub fn gone(region: &mut Region, socket: &str, now: i64) -> Vec<RegionEffect> {
    region.handle(RegionInput::DriverGone { socket_id: socket.into() }, now)
}

pub fn message(region: &mut Region, socket: &str, json: &str, now: i64) -> Vec<RegionEffect> {
    let inbound = ridewire::core::protocol::parse_frame(json).expect("a valid driver message");
    let input =
        RegionInput::DriverMessage { socket_id: socket.into(), req_id: inbound.req_id, message: inbound.message };
    region.handle(input, now)
}

/// The frames sent to `socket`, parsed.
pub fn sent_to(fx: &[RegionEffect], socket: &str) -> Vec<Value> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::Send { sockets, frame } if sockets.iter().any(|s| s == socket) => Some(parse(frame)),
            _ => None,
        })
        .collect()
}

/// The types of the frames sent to `socket`.
pub fn types_to(fx: &[RegionEffect], socket: &str) -> Vec<String> {
    sent_to(fx, socket).iter().map(|f| f["type"].as_str().unwrap_or_default().to_string()).collect()
}

/// The frames sent to the dispatch sockets, parsed.
pub fn feed(fx: &[RegionEffect]) -> Vec<Value> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::ToDispatchers { frame } => Some(parse(frame)),
            _ => None,
        })
        .collect()
}

pub fn feed_types(fx: &[RegionEffect]) -> Vec<String> {
    feed(fx).iter().map(|f| f["type"].as_str().unwrap_or_default().to_string()).collect()
}

/// The sockets closed, with their codes.
pub fn closed(fx: &[RegionEffect]) -> Vec<(String, u16)> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::Close { socket_id, code, .. } => Some((socket_id.clone(), *code)),
            _ => None,
        })
        .collect()
}

/// The calls to Driver DOs.
pub fn driver_calls(fx: &[RegionEffect]) -> Vec<(String, DriverCallOut)> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::CallDriver { driver_id, call } => Some((driver_id.clone(), call.clone())),
            _ => None,
        })
        .collect()
}

/// The calls to rides.
pub fn ride_calls(fx: &[RegionEffect]) -> Vec<RideCall> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::CallRide(call) => Some(call.clone()),
            _ => None,
        })
        .collect()
}

/// The answer to the call handled.
pub fn answer(fx: &[RegionEffect]) -> RegionAnswer {
    fx.iter()
        .find_map(|e| match e {
            RegionEffect::Answer(a) => Some(a.clone()),
            _ => None,
        })
        .expect("the call is answered")
}

/// The alarm times asked for.
pub fn wakes(fx: &[RegionEffect]) -> Vec<i64> {
    fx.iter()
        .filter_map(|e| match e {
            RegionEffect::WakeAt(at) => Some(*at),
            _ => None,
        })
        .collect()
}

fn parse(frame: &str) -> Value {
    serde_json::from_str(frame).expect("frames are JSON")
}
