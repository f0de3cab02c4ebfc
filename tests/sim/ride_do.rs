//! The Ride DO as the simulation runs it (durable-objects/ride.rs). Storage
//! (the record, the event log, the frames owed to drivers, the alarm)
//! survives a restart; memory (the loaded record, the passenger's socket,
//! every task awaiting a call) does not. Each call it serves is a task: the
//! core decides synchronously, then the task awaits its calls out while
//! other events run, as a Durable Object lets them in.

use std::collections::{BTreeMap, VecDeque};

use ridewire::core::commitments::RideFrame;
use ridewire::core::protocol::SequencedEvent;
use ridewire::core::ride::RideRecord;
use ridewire::core::ride_input::RideInput;

use super::ride_steps::{Join, Resume, Step, Task, Then};
use super::scheduler::{Addr, Answer, Call, CallId, Request, Response};
use super::world::Net;

/// How long after an alarm that failed (its object restarted) the platform runs it again, in ms.
pub const ALARM_RETRY_MS: i64 = 2_000;

/// One ride's Durable Object.
pub struct RideDo {
    pub index: usize,
    pub id: String,
    /// The region of the pickup (it gets the ride's feed).
    pub pickup_region: usize,
    /// How many regions the city has (a round asks them all).
    pub regions: usize,
    /// The body of the create request.
    pub body: String,
    /// Storage: the record as last written.
    pub stored: Option<RideRecord>,
    /// Storage: the event log, written with the record.
    pub events: Vec<SequencedEvent>,
    /// Storage: frames owed to drivers' Driver DOs, by frame id.
    pub outbox: BTreeMap<u64, (String, RideFrame)>,
    /// Storage: the alarm.
    pub alarm: Option<i64>,
    /// Memory: the loaded record.
    pub record: Option<RideRecord>,
    /// Memory: the passenger's open ride socket.
    pub rider_socket: Option<u64>,
    /// Memory: whether frames owed to drivers may be left in storage (true after a wake-up).
    pub drivers_owed: bool,
    /// Memory: dispatch feed entries held for the next delivery to the pickup's region.
    pub held_feed: usize,
    pub(super) tasks: BTreeMap<u64, Task>,
    pub(super) waiting: BTreeMap<CallId, u64>,
    next_task: u64,
}

impl RideDo {
    /// A ride not created yet.
    pub fn new(index: usize, pickup_region: usize, regions: usize, body: String) -> Self {
        RideDo {
            index,
            id: super::ride_id(index),
            pickup_region,
            regions,
            body,
            stored: None,
            events: Vec::new(),
            outbox: BTreeMap::new(),
            alarm: None,
            record: None,
            rider_socket: None,
            drivers_owed: true,
            held_feed: 0,
            tasks: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_task: 0,
        }
    }

    /// The ride as it now is: in memory, else in storage.
    pub fn current(&self) -> Option<&RideRecord> {
        self.record.as_ref().or(self.stored.as_ref())
    }

    pub(super) fn addr(&self) -> Addr {
        Addr::Ride(self.index)
    }

    /// Loads the record from storage (through JSON, as the real object reads it).
    pub(super) fn load(&mut self) -> bool {
        if self.record.is_none() {
            self.record = self.stored.as_ref().map(super::round_trip);
        }
        self.record.is_some()
    }

    /// A call reaches the ride.
    pub fn on_request(&mut self, call: Call, request: Request, net: &mut Net) {
        let step = match request {
            Request::CreateRide => Step::Create,
            Request::Command(input) => {
                let then = match &input {
                    RideInput::Accept { driver_id } => Then::Claim(driver_id.clone()),
                    RideInput::Decline { .. } | RideInput::Cancel { .. } => Then::Ask,
                    _ => Then::Nothing,
                };
                Step::Apply { input, then }
            }
            Request::ConnectRider { last_seq, socket } => return self.connect_rider(call, last_seq, socket, net),
            Request::Holder { driver_id } => {
                let held = self.load() && self.current().is_some_and(|r| r.holds_driver(&driver_id));
                return net.sched.answer(call, Ok(Response::Holder(held)));
            }
            other => return net.sched.answer(call, Err(format!("a ride does not serve {other:?}"))),
        };
        self.start(Some(call), false, vec![step], net);
    }

    /// A passenger's socket opens: every stored event after `last_seq`, then live ones.
    fn connect_rider(&mut self, call: Call, last_seq: u64, socket: u64, net: &mut Net) {
        if !self.load() {
            return net.sched.answer(call, Err("no such ride".into()));
        }
        self.rider_socket = Some(socket);
        net.clients.rider_opened(self.index, socket);
        for event in self.events.iter().filter(|e| e.seq > last_seq) {
            net.clients.rider_event(self.index, socket, event);
        }
        net.sched.answer(call, Ok(Response::Done));
    }

    /// The answer of a call a task awaits (none when the task was lost in a restart).
    pub fn on_answer(&mut self, call: CallId, answer: Answer, net: &mut Net) {
        let Some(tid) = self.waiting.remove(&call) else { return };
        let task = self.tasks.get_mut(&tid).expect("a call awaited belongs to a live task");
        let join = task.join.as_mut().expect("a task with a call out awaits it");
        join.answers.push((call, answer));
        join.pending -= 1;
        if join.pending == 0 {
            let join = task.join.take().expect("just seen");
            self.resume(tid, join, net);
            self.advance(tid, net);
        }
    }

    /// The alarm rings: frames owed to drivers are sent again, then the core's `Tick`.
    pub fn on_alarm(&mut self, time: i64, net: &mut Net) {
        if self.alarm != Some(time) {
            return;
        }
        self.alarm = None;
        let steps = vec![
            Step::Flush { only_if_owed: false },
            Step::Apply { input: RideInput::Tick, then: Then::Ask },
            Step::AlarmTail,
        ];
        self.start(None, true, steps, net);
    }

    /// The object restarts: memory is lost, callers of its tasks see their call fail.
    pub fn restart(&mut self, net: &mut Net) {
        self.record = None;
        self.drivers_owed = true;
        self.held_feed = 0;
        self.waiting.clear();
        if self.rider_socket.take().is_some() {
            net.clients.rider_closed(self.index, &mut net.sched);
        }
        let mut alarm_lost = false;
        for (_, task) in std::mem::take(&mut self.tasks) {
            alarm_lost |= task.from_alarm;
            if let Some(caller) = task.caller {
                net.sched.answer(caller, Err("the ride's object restarted".into()));
            }
        }
        if alarm_lost && self.alarm.is_none() {
            self.wake_by(net.sched.now + ALARM_RETRY_MS, net);
        }
    }

    /// Makes sure the alarm rings by `at` (token_expiry::wake_by).
    pub(super) fn wake_by(&mut self, at: i64, net: &mut Net) {
        if self.alarm.is_some_and(|current| current <= at) {
            return;
        }
        self.alarm = Some(at);
        net.sched.alarm(self.addr(), at);
    }

    fn start(&mut self, caller: Option<Call>, from_alarm: bool, steps: Vec<Step>, net: &mut Net) {
        self.next_task += 1;
        let task = Task { caller, from_alarm, steps: VecDeque::from(steps), join: None, outcome: Ok(()) };
        self.tasks.insert(self.next_task, task);
        self.advance(self.next_task, net);
    }

    /// Runs a task's steps until it awaits a call or is done (then its caller is answered).
    pub(super) fn advance(&mut self, tid: u64, net: &mut Net) {
        loop {
            let Some(task) = self.tasks.get_mut(&tid) else { return };
            if task.join.is_some() {
                return;
            }
            match task.steps.pop_front() {
                Some(step) => self.exec(tid, step, net),
                None => {
                    let task = self.tasks.remove(&tid).expect("just seen");
                    if let Some(caller) = task.caller {
                        net.sched.answer(caller, task.outcome.map(|()| Response::Done));
                    }
                    return;
                }
            }
        }
    }

    /// The task awaits `calls`, then `resume` runs with their answers.
    pub(super) fn suspend(&mut self, tid: u64, resume: Resume, calls: Vec<CallId>, net: &mut Net) {
        if calls.is_empty() {
            return self.resume(tid, Join { resume, pending: 0, answers: Vec::new() }, net);
        }
        for call in &calls {
            self.waiting.insert(*call, tid);
        }
        let task = self.tasks.get_mut(&tid).expect("a running task");
        task.join = Some(Join { resume, pending: calls.len(), answers: Vec::new() });
    }

    /// Puts `steps` before the task's remaining ones.
    pub(super) fn push_front(&mut self, tid: u64, steps: Vec<Step>) {
        if let Some(task) = self.tasks.get_mut(&tid) {
            for step in steps.into_iter().rev() {
                task.steps.push_front(step);
            }
        }
    }

    pub(super) fn refuse(&mut self, tid: u64, why: String) {
        if let Some(task) = self.tasks.get_mut(&tid) {
            task.outcome = Err(why);
        }
    }
}
