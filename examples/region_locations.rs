//! The region core's cost per `location_update`, natively: a region of 5,000
//! drivers (attached, free) handles 200,000 location frames (parsed as the
//! socket reads them), spread over every driver, then answers 2,000 offer
//! rounds' candidate queries (nearest 5 within 10 km). Prints the time per
//! frame and per query.
//!
//!     cargo run --release --example region_locations
//!
//! The wasm in workerd runs the same code a few times slower; what one Region
//! DO absorbs end to end is `scripts/bench`'s location figure.
// A benchmark reads the clock: the rule against it is for the cores and the Worker.
#![allow(clippy::disallowed_methods)]

use ridewire::core::busy_mark::BusyMark;
use ridewire::core::commitments::AttachAnswer;
use ridewire::core::dispatch::CandidateQuery;
use ridewire::core::geo::{destination, LatLng};
use ridewire::core::region::{Region, RegionInput, RegionSettings};
use ridewire::core::region_cells::region_of;
use std::time::Instant;

fn main() {
    let here = LatLng { lat: -26.2041, lng: 28.0473 };
    let settings = RegionSettings { region_res: 5, heartbeat_s: 30, radius_km: 10.0, demand_window_ms: 60_000 };
    let mut region = Region::new(settings);
    let cell = region_of(here, 5).expect("a cell");
    let n = 5000;
    let mut now = 1_800_000_000_000i64;
    for i in 0..n {
        let at = destination(here, (i * 37 % 360) as f64, ((i * 13) % 4000) as f64);
        region.handle(
            RegionInput::DriverOpened {
                socket_id: format!("s{i}"),
                driver_id: format!("d{i}"),
                name: format!("D{i}"),
                location: at,
                cell: cell.clone(),
                evicted: vec![],
            },
            now,
        );
        let answer = AttachAnswer { mark: BusyMark::new(None, 1), frames: vec![] };
        region.handle(RegionInput::Attached { socket_id: format!("s{i}"), answer: Some(answer) }, now);
    }
    let m = 200_000;
    let frames: Vec<String> = (0..1000)
        .map(|k| {
            let at = destination(here, (k * 7 % 360) as f64, ((k * 29) % 4000) as f64);
            format!(r#"{{"type":"location_update","lat":{},"lng":{},"heading":90}}"#, at.lat, at.lng)
        })
        .collect();
    let t = Instant::now();
    let mut parse_ns = 0u128;
    let mut effects = 0usize;
    for k in 0..m {
        now += 1;
        let i = k % n;
        let t0 = Instant::now();
        let inbound = ridewire::core::protocol::parse_frame(&frames[k % 1000]).expect("a valid frame");
        parse_ns += t0.elapsed().as_nanos();
        let fx = region.handle(
            RegionInput::DriverMessage { socket_id: format!("s{i}"), req_id: inbound.req_id, message: inbound.message },
            now,
        );
        effects += fx.len();
    }
    let el = t.elapsed();
    println!(
        "{} updates in {:?}: {:.2} us each (parse {:.2} us), {} effects",
        m,
        el,
        el.as_nanos() as f64 / m as f64 / 1000.0,
        parse_ns as f64 / m as f64 / 1000.0,
        effects
    );
    let q = 2000;
    let mut answers = 0usize;
    let t = Instant::now();
    for k in 0..q {
        let at = destination(here, (k * 11 % 360) as f64, ((k * 17) % 3000) as f64);
        let query = CandidateQuery { at, radius_km: 10.0, limit: 5, exclude: vec![] };
        answers += region.handle(RegionInput::Candidates(query), now).len();
    }
    let el = t.elapsed();
    let each = el.as_nanos() as f64 / q as f64 / 1000.0;
    println!("{q} candidate queries over {n} drivers in {el:?}: {each:.1} us each, {answers} answers");
}
