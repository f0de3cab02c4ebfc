//! The network between the objects: one queue of events ordered by delivery
//! time (ties in send order). Every call gets a random delay, some a long
//! one (so calls overtake each other); while faults are on, some requests
//! are lost, and some answers are lost after the callee acted: the caller
//! sees a failed call either way, as a `fetch` to another object would.

use std::collections::BTreeMap;

use ridewire::core::commitments::{AttachAnswer, ClaimAnswer, RideFrame};
use ridewire::core::dispatch::CandidateQuery;
use ridewire::core::driver_index::Candidate;
use ridewire::core::late_driver::SearchWatch;
use ridewire::core::region::{Delivery, DriverDelivery};
use ridewire::core::ride_input::RideInput;

use super::rng::Rng;

/// A call's number, unique within a seed.
pub type CallId = u64;

/// Who sends or receives: one Durable Object, or the apps and the Worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Addr {
    Ride(usize),
    Driver(usize),
    Region(usize),
    Client,
}

/// A call as its callee sees it: whom to answer, and whether that answer will be lost.
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub id: CallId,
    pub from: Addr,
    lose_answer: bool,
}

/// What one object asks another (each is a real shell's call).
#[derive(Debug, Clone)]
pub enum Request {
    /// Worker → ride: create (an idempotent retry is the same call).
    CreateRide,
    /// Passenger app → ride: open the ride socket, replaying after `last_seq`.
    ConnectRider {
        last_seq: u64,
        socket: u64,
    },
    /// A ride command (apps, or a Driver DO's decline).
    Command(RideInput),
    /// Driver DO → ride: does it hold this driver?
    Holder {
        driver_id: String,
    },
    /// Ride → Driver DO.
    Claim {
        ride_id: String,
        token: u64,
    },
    Frames {
        ride_id: String,
        frames: Vec<RideFrame>,
    },
    /// Region → Driver DO.
    Attach {
        socket_id: String,
        region: String,
    },
    Detach {
        socket_id: String,
    },
    /// Ride → region.
    Candidates(CandidateQuery),
    /// The fast path: frames a ride sends straight to the region where it last found their drivers.
    Deliver {
        deliveries: Vec<Delivery>,
    },
    /// Driver DO → region.
    DriverFrames(DriverDelivery),
    /// Worker → Driver DO: a dispatcher's notification for the driver.
    Notify {
        id: String,
        frame: String,
    },
    /// Ride → region: what to watch for late drivers (nobody awaits the answer).
    Watch(SearchWatch),
}

/// A successful answer.
#[derive(Debug, Clone)]
pub enum Response {
    Done,
    Claim(ClaimAnswer),
    Attach(AttachAnswer),
    Holder(bool),
    Candidates(Vec<Candidate>),
    /// Per delivery of a [`Request::Deliver`]: the sockets that took it.
    Taken(Vec<Vec<String>>),
    Sockets(Vec<String>),
}

/// An answer, or why the call failed (lost, refused, the callee restarted).
pub type Answer = Result<Response, String>;

/// Something apps do later on their own.
#[derive(Debug, Clone, Copy)]
pub enum ClientEvent {
    /// A passenger whose ride socket closed opens a new one.
    Reconnect(usize),
    /// The Worker retries a create that failed.
    RetryCreate(usize),
}

/// One entry of the queue.
pub enum Event {
    Request { call: Call, to: Addr, request: Request },
    Answer { call: CallId, to: Addr, answer: Answer },
    Alarm { at: Addr, time: i64 },
    Client(ClientEvent),
}

/// Counts of what the network did.
#[derive(Debug, Default, Clone, Copy)]
pub struct NetStats {
    pub calls: u64,
    pub lost: u64,
    pub events: u64,
    /// Ride alarms, and driver alarms, set for a time already past.
    pub past_ride_alarms: u64,
    pub past_driver_alarms: u64,
}

/// Lost per mille of requests, and of answers, while faults are on.
const LOSS_PER_MILLE: u32 = 30;
/// Calls per mille that take long (and so reorder).
const SLOW_PER_MILLE: u32 = 100;

/// The clock, the queue and the chance of a seed.
pub struct Scheduler {
    pub now: i64,
    pub rng: Rng,
    pub faults: bool,
    pub stats: NetStats,
    queue: BTreeMap<(i64, u64), Event>,
    sent: u64,
    next_call: CallId,
}

impl Scheduler {
    /// An empty network at `now`.
    pub fn new(seed: u64, now: i64) -> Self {
        Scheduler {
            now,
            rng: Rng::new(seed),
            faults: true,
            stats: NetStats::default(),
            queue: BTreeMap::new(),
            sent: 0,
            next_call: 0,
        }
    }

    /// Queues `event` for `time` (never in the past).
    pub fn at(&mut self, time: i64, event: Event) {
        self.sent += 1;
        self.queue.insert((time.max(self.now), self.sent), event);
    }

    /// The next event due by `until`, moving the clock to it; else the clock moves to `until`.
    pub fn pop_until(&mut self, until: i64) -> Option<Event> {
        match self.queue.first_key_value() {
            Some((&(time, _), _)) if time <= until => {
                self.now = time;
                self.stats.events += 1;
                self.queue.pop_first().map(|(_, event)| event)
            }
            _ => {
                self.now = self.now.max(until);
                None
            }
        }
    }

    /// Sets `at`'s alarm for `time`: the platform runs an alarm set in the
    /// past at once, which still takes a moment (so a loop of them ends).
    pub fn alarm(&mut self, at: Addr, time: i64) {
        match at {
            Addr::Ride(_) if time <= self.now => self.stats.past_ride_alarms += 1,
            Addr::Driver(_) if time <= self.now => self.stats.past_driver_alarms += 1,
            _ => {}
        }
        let ring = time.max(self.now + self.rng.range(5, 30));
        self.at(ring, Event::Alarm { at, time });
    }

    /// Whether nothing is queued.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    fn latency(&mut self) -> i64 {
        if self.rng.chance(SLOW_PER_MILLE) {
            self.rng.range(200, 4_000)
        } else {
            self.rng.range(1, 60)
        }
    }

    fn lost(&mut self) -> bool {
        let lost = self.faults && self.rng.chance(LOSS_PER_MILLE);
        self.stats.lost += u64::from(lost);
        lost
    }

    /// Sends a call; its answer comes back to `from` as [`Event::Answer`].
    pub fn call(&mut self, from: Addr, to: Addr, request: Request) -> CallId {
        self.next_call += 1;
        self.stats.calls += 1;
        let id = self.next_call;
        if self.lost() {
            let timeout = self.rng.range(1_000, 5_000);
            self.at(
                self.now + timeout,
                Event::Answer {
                    call: id,
                    to: from,
                    answer: Err(format!("request lost: {}", super::trace::request(&request))),
                },
            );
        } else {
            let call = Call { id, from, lose_answer: self.lost() };
            let delay = self.latency();
            self.at(self.now + delay, Event::Request { call, to, request });
        }
        id
    }

    /// Answers `call` (a lost answer reaches the caller as a failure).
    pub fn answer(&mut self, call: Call, answer: Answer) {
        let (answer, delay) = match call.lose_answer {
            true => (Err("answer lost".into()), self.rng.range(1_000, 5_000)),
            false => (answer, self.latency()),
        };
        self.at(self.now + delay, Event::Answer { call: call.id, to: call.from, answer });
    }
}
