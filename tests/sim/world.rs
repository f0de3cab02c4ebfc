//! One city for one seed: the objects, the apps and the network; the loop
//! that plays random app actions while delivering events, then stops the
//! inputs (no new actions, no more losses or restarts) and lets the
//! assigned drivers finish their rides until everything is quiet.

use ridewire::core::geo::LatLng;
use ridewire::core::protocol::RideStep;
use ridewire::core::ride::RideStatus;
use ridewire::core::ride_input::RideInput;

use super::clients::{Clients, DriverApp};
use super::driver_do::DriverDo;
use super::invariants::{self, Violation};
use super::observations::{Observations, Stats};
use super::region_do::RegionDo;
use super::ride_do::RideDo;
use super::scheduler::{Addr, Event, Request, Scheduler};
use super::trace::{self, Trace};
use super::T0;

/// How long the rides may take to end once inputs stop (simulated ms).
const DRAIN_LIMIT_MS: i64 = 60 * 60 * 1000;
/// How far past the last ride's end the objects may still have work (a day of kept frames, and more).
const QUIET_LIMIT_MS: i64 = 3 * 24 * 60 * 60 * 1000;
/// Events per seed, at most.
const MAX_EVENTS: u64 = 400_000;
/// The middle of the city.
const CENTER: LatLng = LatLng { lat: -26.2041, lng: 28.0473 };

/// Everything between the objects: the network, the apps, what was seen, the trace.
pub struct Net {
    pub sched: Scheduler,
    pub clients: Clients,
    pub obs: Observations,
    pub trace: Trace,
}

/// One seed's city.
pub struct World {
    pub net: Net,
    pub rides: Vec<RideDo>,
    pub drivers: Vec<DriverDo>,
    pub regions: Vec<RegionDo>,
    pub max_rides: usize,
    /// What the trace last said of each ride and driver.
    seen: Vec<String>,
}

/// What one seed did: its figures, its trace, and the violation that stopped it, if one did.
pub struct Outcome {
    pub stats: Stats,
    pub trace: Vec<String>,
    pub broken: Option<Violation>,
}

/// Plays `seed`.
pub fn run_seed(seed: u64, keep_trace: bool) -> Outcome {
    let mut world = World::new(seed, keep_trace);
    let broken = world.play().err();
    let now = world.net.sched.now;
    if let Some(v) = &broken {
        world.net.trace.note(now, || format!("BROKEN: {}: {}", v.invariant, v.detail));
    }
    Outcome { stats: world.stats(), trace: std::mem::take(&mut world.net.trace.lines), broken }
}

impl World {
    fn new(seed: u64, keep_trace: bool) -> Self {
        let mut sched = Scheduler::new(seed, T0);
        let regions = sched.rng.range(2, 5) as usize;
        let drivers = sched.rng.range(3, 9) as usize;
        let max_rides = sched.rng.range(3, 11) as usize;
        let mut clients = Clients::default();
        for _ in 0..drivers {
            let region = sched.rng.below(regions);
            let location = near_center(&mut sched);
            clients.drivers.push(DriverApp {
                region,
                location,
                sockets: Default::default(),
                offers: Default::default(),
                available: true,
                notifications: Default::default(),
            });
        }
        let net = Net { sched, clients, obs: Observations::default(), trace: Trace::new(keep_trace) };
        World {
            net,
            rides: Vec::new(),
            drivers: (0..drivers).map(DriverDo::new).collect(),
            regions: (0..regions).map(RegionDo::new).collect(),
            max_rides,
            seen: Vec::new(),
        }
    }

    fn play(&mut self) -> Result<(), Violation> {
        let (regions, drivers, rides) = (self.regions.len(), self.drivers.len(), self.max_rides);
        self.net.trace.note(T0, || format!("city: {regions} regions, {drivers} drivers, up to {rides} rides"));
        let actions = self.net.sched.rng.range(120, 260);
        for _ in 0..actions {
            let pause = self.net.sched.rng.range(0, 2_500);
            self.run_until(self.net.sched.now + pause)?;
            super::actions::random(self);
            self.check()?;
        }
        self.drain()?;
        invariants::at_end(self)
    }

    /// Inputs stop: no losses, no restarts, no new actions; assigned drivers step their rides to the end.
    fn drain(&mut self) -> Result<(), Violation> {
        self.net.sched.faults = false;
        let start = self.net.sched.now;
        self.net.trace.note(start, || "inputs stop".into());
        loop {
            self.run_until(self.net.sched.now + 1_500)?;
            for ride in 0..self.rides.len() {
                super::actions::reconnect_passenger(self, ride);
            }
            let open = (0..self.rides.len()).filter(|r| self.status(*r).is_none_or(|s| !s.is_final())).count();
            if open == 0 {
                // Every driver connects once more: what its Driver DO kept reaches it (tried within a
                // minute). Twice: a socket opened before inputs stopped may still fail its attach (a
                // call lost before then) and be closed after the first round of connects; its app
                // reconnects, as a real one does after 1011.
                for _ in 0..2 {
                    super::notifications::connect_offline_drivers(self);
                    self.run_until(self.net.sched.now + 30_000)?;
                }
                super::notifications::every_notification_arrived(self)?;
                break;
            }
            if self.net.sched.now - start > DRAIN_LIMIT_MS {
                let detail = format!("{open} rides still open an hour after inputs stopped");
                return Err(Violation::new("every ride ends once inputs stop", detail));
            }
            for ride in 0..self.rides.len() {
                self.step_to_the_end(ride);
            }
        }
        self.run_until(self.net.sched.now + QUIET_LIMIT_MS)?;
        if !self.net.sched.is_idle() {
            return Err(Violation::new(
                "the objects come to rest",
                "events still queued days after the last ride".into(),
            ));
        }
        Ok(())
    }

    /// The assigned driver of a ride under way reports its next step.
    fn step_to_the_end(&mut self, ride: usize) {
        let Some(record) = self.rides[ride].current() else { return };
        let step = match record.ride.status {
            RideStatus::Accepted => RideStep::Arrived,
            RideStatus::Arrived => RideStep::InProgress,
            RideStatus::InProgress => RideStep::Completed,
            _ => return,
        };
        let Some(driver_id) = record.ride.driver.as_ref().map(|d| d.id.clone()) else { return };
        super::actions::command(
            self,
            ride,
            RideInput::Step { driver_id, step, evidence: Default::default(), req_id: None },
        );
    }

    /// Delivers every event due by `until`, checking the promises after each.
    pub fn run_until(&mut self, until: i64) -> Result<(), Violation> {
        while let Some(event) = self.net.sched.pop_until(until) {
            self.dispatch(event);
            self.trace_changes();
            self.check()?;
            if self.net.sched.stats.events > MAX_EVENTS {
                return Err(Violation::new("the objects come to rest", format!("more than {MAX_EVENTS} events")));
            }
        }
        Ok(())
    }

    fn dispatch(&mut self, event: Event) {
        let net = &mut self.net;
        match event {
            Event::Request { call, to, request } => {
                net.trace.note(net.sched.now, || {
                    format!("{:?} -> {to:?} #{} {}", call.from, call.id, trace::request(&request))
                });
                match to {
                    Addr::Ride(i) => self.rides[i].on_request(call, request, net),
                    Addr::Driver(i) => self.drivers[i].on_request(call, request, net),
                    Addr::Region(i) => self.regions[i].on_request(call, request, net),
                    Addr::Client => {}
                }
            }
            Event::Answer { call, to, answer } => {
                net.trace.note(net.sched.now, || format!("{to:?} <- #{call} {}", trace::answer(&answer)));
                match to {
                    Addr::Ride(i) => self.rides[i].on_answer(call, answer, net),
                    Addr::Driver(i) => self.drivers[i].on_answer(call, answer, net),
                    Addr::Region(i) => self.regions[i].on_answer(call, answer, net),
                    Addr::Client => super::actions::on_answer(self, call, answer),
                }
            }
            Event::Alarm { at, time } => {
                net.trace.note(net.sched.now, || format!("alarm {at:?}"));
                match at {
                    Addr::Ride(i) => self.rides[i].on_alarm(time, net),
                    Addr::Driver(i) => self.drivers[i].on_alarm(time, net),
                    Addr::Region(_) | Addr::Client => {}
                }
            }
            Event::Client(event) => super::actions::on_client_event(self, event),
        }
    }

    /// The promises of every moment.
    fn check(&mut self) -> Result<(), Violation> {
        invariants::after_event(self)
    }

    /// Notes every ride status and driver commitment that changed (when tracing).
    fn trace_changes(&mut self) {
        if !self.net.trace.is_on() {
            return;
        }
        let rides = self.rides.iter().map(|r| {
            let record = r.current();
            let driver = record.and_then(|r| r.ride.driver.as_ref()).map(|d| d.id.as_str());
            format!("{} {:?} driver {driver:?}", r.id, record.map(|r| r.ride.status))
        });
        let drivers = self.drivers.iter().map(|d| {
            let active = d.current().and_then(|c| c.active.as_ref());
            format!("{} active {:?}", d.id, active.map(|a| (&a.ride_id, a.confirmed)))
        });
        // Drivers first: rides are added at the end, so every line keeps its place.
        let now: Vec<String> = drivers.chain(rides).collect();
        for (i, line) in now.iter().enumerate() {
            if self.seen.get(i) != Some(line) {
                self.net.trace.note(self.net.sched.now, || format!("  = {line}"));
            }
        }
        self.seen = now;
    }

    /// A ride's status as it now is (None before its create went through).
    pub fn status(&self, ride: usize) -> Option<RideStatus> {
        self.rides[ride].current().map(|r| r.ride.status)
    }

    /// Sends a call from the apps (or the Worker) to a ride.
    pub fn call_ride(&mut self, ride: usize, request: Request) -> u64 {
        self.net.sched.call(Addr::Client, Addr::Ride(ride), request)
    }

    fn stats(&self) -> Stats {
        let mut stats = self.net.obs.stats;
        stats.seeds = 1;
        stats.rides = self.rides.len() as u64;
        for ride in 0..self.rides.len() {
            match self.status(ride) {
                Some(RideStatus::Completed) => stats.completed += 1,
                Some(RideStatus::Cancelled) => stats.cancelled += 1,
                Some(RideStatus::Expired) => stats.expired += 1,
                _ => {}
            }
        }
        stats.assigned = self.net.obs.first_driver.len() as u64;
        stats.calls = self.net.sched.stats.calls;
        stats.lost = self.net.sched.stats.lost;
        stats.events = self.net.sched.stats.events;
        stats.past_ride_alarms = self.net.sched.stats.past_ride_alarms;
        stats.past_driver_alarms = self.net.sched.stats.past_driver_alarms;
        stats
    }
}

/// A random place within about 9 km of the middle of the city.
pub fn near_center(sched: &mut Scheduler) -> LatLng {
    let lat = CENTER.lat + (sched.rng.unit() - 0.5) * 0.16;
    let lng = CENTER.lng + (sched.rng.unit() - 0.5) * 0.16;
    LatLng { lat, lng }
}
