//! The promises checked: after every event (one driver per ride, one active
//! ride per driver, a ride records only a claimed driver, no offer reaches
//! a driver its region marks busy), and once the city is quiet (every ride
//! ended, no driver left busy, nothing owed left unsent, every region's busy
//! mark agrees, every passenger saw the stored log, gap-free, and memory
//! matches storage).
//! A broken promise stops the seed.

use std::collections::BTreeMap;

use ridewire::core::commitments::Commitments;
use ridewire::core::ride::RideStatus;

use super::world::World;

/// A broken promise.
#[derive(Debug, Clone)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl Violation {
    pub fn new(invariant: &'static str, detail: String) -> Self {
        Violation { invariant, detail }
    }
}

fn under_way(status: RideStatus) -> bool {
    matches!(status, RideStatus::Accepted | RideStatus::Arrived | RideStatus::InProgress)
}

/// The promises that hold at every moment.
pub fn after_event(w: &mut World) -> Result<(), Violation> {
    if let Some((driver, ride, region)) = std::mem::take(&mut w.net.obs.offers_to_busy).into_iter().next() {
        let active = w.drivers[driver].current().and_then(|c| c.active.as_ref());
        let detail = format!(
            "{} got ride_offer {} in {} marked busy; its Driver DO holds {:?}",
            super::driver_id(driver),
            super::ride_id(ride),
            super::region_name(region),
            active.map(|a| (&a.ride_id, a.confirmed))
        );
        // A region's own offers skip drivers it marks busy: only a Driver DO sends an offer with its busy mark.
        let invariant = "no ride_offer reaches a driver while its region marks it busy";
        return Err(Violation::new(invariant, detail));
    }
    for (ride, driver) in std::mem::take(&mut w.net.obs.fresh_assignments) {
        let first = w.net.obs.first_driver.entry(ride).or_insert_with(|| driver.clone());
        if *first != driver {
            let detail = format!("{} was assigned to {first} and then to {driver}", super::ride_id(ride));
            return Err(Violation::new("a ride has at most one driver", detail));
        }
        let held = w.drivers[super::driver_index(&driver)].current().and_then(|c| c.active_ride().map(String::from));
        if held.as_deref() != Some(super::ride_id(ride).as_str()) {
            let detail = format!("{} recorded {driver}, whose Driver DO holds {held:?}", super::ride_id(ride));
            return Err(Violation::new("a ride records only a driver whose claim its Driver DO holds", detail));
        }
    }
    let mut driving: BTreeMap<&str, &str> = BTreeMap::new();
    for record in w.rides.iter().filter_map(|r| r.current()) {
        let Some(driver) = record.ride.driver.as_ref().filter(|_| under_way(record.ride.status)) else { continue };
        if let Some(other) = driving.insert(&driver.id, &record.ride.id) {
            let detail = format!("{} drives {other} and {} at once", driver.id, record.ride.id);
            return Err(Violation::new("a driver has at most one active ride", detail));
        }
    }
    Ok(())
}

/// The promises that hold once inputs stopped and the city is quiet.
pub fn at_end(w: &mut World) -> Result<(), Violation> {
    rides_ended(w)?;
    drivers_free(w)?;
    nothing_owed_is_left(w)?;
    marks_agree(w)?;
    passengers_saw_the_log(w)?;
    memory_is_stored(w)
}

fn rides_ended(w: &World) -> Result<(), Violation> {
    for ride in &w.rides {
        let status = ride.current().map(|r| r.ride.status);
        if !status.is_some_and(RideStatus::is_final) {
            return Err(Violation::new("every ride ends once inputs stop", format!("{} is {status:?}", ride.id)));
        }
    }
    Ok(())
}

fn drivers_free(w: &mut World) -> Result<(), Violation> {
    for driver in &w.drivers {
        let Some(active) = driver.current().and_then(|c| c.active_ride()) else { continue };
        let owner = &w.rides[super::ride_index(active)];
        let ride = owner.current();
        let held =
            ride.is_some_and(|r| under_way(r.ride.status) && r.ride.driver.as_ref().is_some_and(|d| d.id == driver.id));
        if !held {
            let detail = format!("{} holds {active}, which is {:?}", driver.id, ride.map(|r| r.ride.status));
            return Err(Violation::new("no driver stays busy without an active ride", detail));
        }
    }
    Ok(())
}

/// Once the city is quiet, no ride's outbox and no Driver DO still owes anything.
fn nothing_owed_is_left(w: &mut World) -> Result<(), Violation> {
    let invariant = "nothing owed between objects is left unsent once the city is quiet";
    for ride in &w.rides {
        if let Some((id, (driver, _))) = ride.outbox.iter().next() {
            let detail = format!("{} still owes {driver} frame {id} (alarm {:?})", ride.id, ride.alarm);
            return Err(Violation::new(invariant, detail));
        }
    }
    for driver in &w.drivers {
        let Some(core) = driver.current() else { continue };
        let owed: Vec<&String> = core.owed.iter().flat_map(|o| &o.regions).chain(&core.marks_owed).collect();
        if !owed.is_empty() {
            let detail = format!("{} still owes regions {owed:?} (alarm {:?})", driver.id, driver.alarm);
            return Err(Violation::new(invariant, detail));
        }
    }
    Ok(())
}

/// Every socket's saved mark, and the core's index (as it is, and as rebuilt after a wake-up),
/// agree with the driver's Driver DO.
fn marks_agree(w: &mut World) -> Result<(), Violation> {
    for region in 0..w.regions.len() {
        let marks: Vec<(String, usize, Option<String>)> = w.regions[region]
            .sockets
            .iter()
            .map(|(id, (header, facts))| (id.clone(), super::driver_index(&header.sub), facts.mark.ride_id.clone()))
            .collect();
        for rebuilt in [false, true] {
            if rebuilt {
                w.regions[region].forget_memory();
            }
            for (socket_id, driver, mark) in &marks {
                let active = w.drivers[*driver].current().and_then(|c| c.active_ride().map(String::from));
                let indexed = w.regions[region].indexed_busy(*driver, &mut w.net);
                if *mark == active && indexed == Some(active.is_some()) {
                    continue;
                }
                let detail = format!(
                    "{} ({}) marks {} busy with {mark:?} on {socket_id} (index: {indexed:?}); its Driver DO holds {active:?}",
                    super::region_name(region),
                    if rebuilt { "rebuilt" } else { "in memory" },
                    super::driver_id(*driver)
                );
                return Err(Violation::new("every region's busy mark agrees with the Driver DO", detail));
            }
        }
    }
    Ok(())
}

fn passengers_saw_the_log(w: &World) -> Result<(), Violation> {
    for (ride, passenger) in w.rides.iter().zip(&w.net.clients.passengers) {
        let last_seq = ride.current().map_or(0, |r| r.last_seq);
        let seqs: Vec<u64> = passenger.received.iter().map(|e| e.seq).collect();
        let gap_free = seqs.iter().copied().eq(1..=last_seq);
        if !gap_free || passenger.received != ride.events {
            let stored: Vec<u64> = ride.events.iter().map(|e| e.seq).collect();
            let detail = format!("{}: passenger saw {seqs:?}, the log holds {stored:?}, last_seq {last_seq}", ride.id);
            return Err(Violation::new("every passenger sees a gap-free seq equal to the stored log", detail));
        }
    }
    Ok(())
}

fn memory_is_stored(w: &World) -> Result<(), Violation> {
    // Compared as stored, as JSON: memory-only fields (claims out) are not state.
    let as_stored = |r: &Option<ridewire::core::ride::RideRecord>| serde_json::to_string(r).expect("records serialize");
    for ride in w.rides.iter().filter(|r| r.record.is_some()) {
        if as_stored(&ride.record) != as_stored(&ride.stored) {
            return Err(Violation::new("what an object decided is stored", format!("{}'s record", ride.id)));
        }
    }
    for driver in &w.drivers {
        let Some(core) = &driver.core else { continue };
        // An object that never persisted reads back empty commitments with its id.
        let stored =
            driver.stored.clone().unwrap_or_else(|| Commitments { driver_id: driver.id.clone(), ..Default::default() });
        let json = |c: &Commitments| serde_json::to_value(c).expect("commitments serialize");
        if json(core) != json(&stored) {
            return Err(Violation::new("what an object decided is stored", format!("{}'s commitments", driver.id)));
        }
    }
    Ok(())
}
