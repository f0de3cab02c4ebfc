//! What the objects did that the checks need to know (assignments as they
//! happen, offers put on sockets of drivers marked busy, the claims given
//! up) and the figures of a run.

use std::collections::{BTreeMap, BTreeSet};

/// Seen during one seed.
#[derive(Default)]
pub struct Observations {
    /// (ride, driver) of every `ride_assigned` a ride sent, not yet checked.
    pub fresh_assignments: Vec<(usize, String)>,
    /// The first driver each ride was assigned to.
    pub first_driver: BTreeMap<usize, String>,
    /// Offers (driver, ride, region) a Driver DO sent with a busy mark.
    pub offers_to_busy: Vec<(usize, usize, usize)>,
    /// (ride, driver) claims given up: a ride's release, or a Driver DO's check the ride denied.
    pub released: BTreeSet<(usize, String)>,
    /// (driver, id) of every notification its Driver DO took.
    pub notified: Vec<(usize, String)>,
    pub stats: Stats,
}

/// Figures of one or many seeds.
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    pub seeds: u64,
    pub rides: u64,
    pub completed: u64,
    pub cancelled: u64,
    pub expired: u64,
    pub assigned: u64,
    pub restarts: u64,
    /// Driver DO events whose fifth round of effects was decided but never carried out.
    pub dropped_rounds: u64,
    pub calls: u64,
    pub lost: u64,
    pub events: u64,
    /// Ride alarms set for a time already past (each rings at once).
    pub past_ride_alarms: u64,
    /// Driver alarms set for a time already past.
    pub past_driver_alarms: u64,
    /// Effects of a Driver DO's fifth round that were Deliver (decided, marked in flight, never sent).
    pub dropped_deliveries: u64,
    /// Late drivers a region reported to a searching ride.
    pub late_reports: u64,
}

impl Stats {
    /// Adds another seed's figures.
    pub fn add(&mut self, other: &Stats) {
        self.seeds += other.seeds;
        self.rides += other.rides;
        self.completed += other.completed;
        self.cancelled += other.cancelled;
        self.expired += other.expired;
        self.assigned += other.assigned;
        self.restarts += other.restarts;
        self.dropped_rounds += other.dropped_rounds;
        self.calls += other.calls;
        self.lost += other.lost;
        self.events += other.events;
        self.past_ride_alarms += other.past_ride_alarms;
        self.past_driver_alarms += other.past_driver_alarms;
        self.dropped_deliveries += other.dropped_deliveries;
        self.late_reports += other.late_reports;
    }
}
