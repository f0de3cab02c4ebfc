//! The Driver DO as the simulation runs it (durable-objects/driver.rs).
//! Storage is the commitments as last persisted (a restart reads them back
//! through JSON, so memory-only fields are lost) and the alarm. Each call
//! it serves is a task: `handle`, carry out the effects (persist first,
//! then the calls to regions and rides, awaited together), feed their
//! answers back in, at most four rounds, then answer the caller.

use std::collections::BTreeMap;

use ridewire::core::commitments::{AttachAnswer, ClaimAnswer, Commitments, DriverEffect, DriverInput};
use ridewire::core::region::DriverDelivery;
use ridewire::core::ride_input::RideInput;

use super::ride_do::ALARM_RETRY_MS;
use super::scheduler::{Addr, Answer, Call, CallId, Request, Response};
use super::world::Net;

/// Rounds of answers fed back per event, at most (driver.rs `MAX_ROUNDS`).
const MAX_ROUNDS: usize = 4;

/// What the caller of a task waits for.
enum Reply {
    Claim,
    Attach,
    Done,
}

/// A call of the task that is out.
enum Pending {
    Deliver { region: String, ids: Vec<u64> },
    Decline,
    CheckClaim { ride_id: String },
}

struct Task {
    caller: Option<Call>,
    reply: Reply,
    from_alarm: bool,
    claim: Option<ClaimAnswer>,
    attach: Option<AttachAnswer>,
    rounds: usize,
    pending: usize,
    /// Inputs made of the answers.
    inputs: Vec<(CallId, DriverInput)>,
}

/// One driver's Durable Object.
pub struct DriverDo {
    pub index: usize,
    pub id: String,
    /// Storage: the commitments as last persisted.
    pub stored: Option<Commitments>,
    /// Storage: the alarm.
    pub alarm: Option<i64>,
    /// Memory: the loaded commitments.
    pub core: Option<Commitments>,
    tasks: BTreeMap<u64, Task>,
    waiting: BTreeMap<CallId, (u64, Pending)>,
    next_task: u64,
}

impl DriverDo {
    /// A driver whose object never ran.
    pub fn new(index: usize) -> Self {
        let id = super::driver_id(index);
        DriverDo {
            index,
            id,
            stored: None,
            alarm: None,
            core: None,
            tasks: BTreeMap::new(),
            waiting: BTreeMap::new(),
            next_task: 0,
        }
    }

    /// The commitments as they now are: in memory, else in storage.
    pub fn current(&self) -> Option<&Commitments> {
        self.core.as_ref().or(self.stored.as_ref())
    }

    /// A call reaches the driver.
    pub fn on_request(&mut self, call: Call, request: Request, net: &mut Net) {
        let (input, reply) = match request {
            Request::Claim { ride_id, token } => (DriverInput::Claim { ride_id, token }, Reply::Claim),
            Request::Frames { ride_id, frames } => (DriverInput::Frames { ride_id, frames }, Reply::Done),
            Request::Attach { socket_id, region } => (DriverInput::Attach { socket_id, region }, Reply::Attach),
            Request::Detach { socket_id } => (DriverInput::Detach { socket_id }, Reply::Done),
            Request::Notify { id, frame } => (DriverInput::Notify { id, frame }, Reply::Done),
            other => return net.sched.answer(call, Err(format!("a driver does not serve {other:?}"))),
        };
        self.start(Some(call), reply, false, input, net);
    }

    /// The alarm rings: `Tick`.
    pub fn on_alarm(&mut self, time: i64, net: &mut Net) {
        if self.alarm != Some(time) {
            return;
        }
        self.alarm = None;
        self.start(None, Reply::Done, true, DriverInput::Tick, net);
    }

    /// The object restarts: memory is lost, callers of its tasks see their call fail.
    pub fn restart(&mut self, net: &mut Net) {
        self.core = None;
        self.waiting.clear();
        let mut alarm_lost = false;
        for (_, task) in std::mem::take(&mut self.tasks) {
            alarm_lost |= task.from_alarm;
            if let Some(caller) = task.caller {
                net.sched.answer(caller, Err("the driver's object restarted".into()));
            }
        }
        if alarm_lost && self.alarm.is_none() {
            self.set_alarm(net.sched.now + ALARM_RETRY_MS, net);
        }
    }

    fn start(&mut self, caller: Option<Call>, reply: Reply, from_alarm: bool, input: DriverInput, net: &mut Net) {
        self.next_task += 1;
        let tid = self.next_task;
        let task =
            Task { caller, reply, from_alarm, claim: None, attach: None, rounds: 0, pending: 0, inputs: Vec::new() };
        self.tasks.insert(tid, task);
        let effects = self.handle(input, net.sched.now);
        self.carry_out(tid, effects, net);
    }

    /// The core decides on the loaded commitments (read from storage through JSON after a restart).
    fn handle(&mut self, input: DriverInput, now: i64) -> Vec<DriverEffect> {
        let stored = &self.stored;
        let core = self.core.get_or_insert_with(|| stored.as_ref().map(super::round_trip).unwrap_or_default());
        if core.driver_id.is_empty() {
            core.driver_id.clone_from(&self.id);
        }
        core.handle(input, now)
    }

    /// Persists first, then sends every call of the effects; awaits them all.
    fn carry_out(&mut self, tid: u64, effects: Vec<DriverEffect>, net: &mut Net) {
        let mut calls = Vec::new();
        for effect in effects {
            let task = self.tasks.get_mut(&tid).expect("a running task");
            match effect {
                DriverEffect::Persist { wake_at } => {
                    self.stored.clone_from(&self.core);
                    if let Some(at) = wake_at {
                        self.set_alarm(at, net);
                    }
                }
                DriverEffect::AnswerClaim(answer) => task.claim = Some(answer),
                DriverEffect::AnswerAttach(answer) => task.attach = Some(answer),
                DriverEffect::Deliver { region, frames, mark } => {
                    let (ids, frames): (Vec<u64>, Vec<String>) = frames.into_iter().unzip();
                    let to = Addr::Region(super::region_index(&region));
                    let pending = Pending::Deliver { region, ids };
                    let request = Request::DriverFrames(DriverDelivery { driver_id: self.id.clone(), frames, mark });
                    calls.push((net.sched.call(Addr::Driver(self.index), to, request), pending));
                }
                DriverEffect::Decline { ride_id } => {
                    let input = RideInput::Decline { driver_id: self.id.clone() };
                    let to = Addr::Ride(super::ride_index(&ride_id));
                    calls.push((
                        net.sched.call(Addr::Driver(self.index), to, Request::Command(input)),
                        Pending::Decline,
                    ));
                }
                DriverEffect::CheckClaim { ride_id } => {
                    let to = Addr::Ride(super::ride_index(&ride_id));
                    let request = Request::Holder { driver_id: self.id.clone() };
                    let call = net.sched.call(Addr::Driver(self.index), to, request);
                    calls.push((call, Pending::CheckClaim { ride_id }));
                }
                // What a notification reached is the Worker's count, not a promise checked here.
                DriverEffect::Relay { .. } | DriverEffect::Notified { .. } => {}
            }
        }
        let task = self.tasks.get_mut(&tid).expect("a running task");
        task.rounds += 1;
        task.pending = calls.len();
        if calls.is_empty() {
            return self.finish(tid, net);
        }
        for (call, pending) in calls {
            self.waiting.insert(call, (tid, pending));
        }
    }

    /// An answer to one of a task's calls; once all are in, they are the next inputs.
    pub fn on_answer(&mut self, call: CallId, answer: Answer, net: &mut Net) {
        let Some((tid, pending)) = self.waiting.remove(&call) else { return };
        let input = match (pending, answer) {
            (Pending::Deliver { region, ids }, Ok(Response::Sockets(sockets))) => {
                Some(DriverInput::Delivered { region, ids, sockets })
            }
            (Pending::Deliver { region, .. }, _) => Some(DriverInput::DeliveryFailed { region }),
            (Pending::CheckClaim { ride_id }, Ok(Response::Holder(assigned))) => {
                if !assigned {
                    net.obs.released.insert((super::ride_index(&ride_id), self.id.clone()));
                }
                Some(DriverInput::ClaimChecked { ride_id, assigned })
            }
            _ => None,
        };
        let task = self.tasks.get_mut(&tid).expect("a call awaited belongs to a live task");
        task.pending -= 1;
        task.inputs.extend(input.map(|i| (call, i)));
        if task.pending > 0 {
            return;
        }
        let mut inputs = std::mem::take(&mut task.inputs);
        let rounds = task.rounds;
        if inputs.is_empty() {
            return self.finish(tid, net);
        }
        inputs.sort_by_key(|(call, _)| *call);
        let mut effects = Vec::new();
        for (_, input) in inputs {
            effects.extend(self.handle(input, net.sched.now));
        }
        if rounds >= MAX_ROUNDS {
            // driver.rs stops here: these effects are decided but never carried out.
            net.obs.stats.dropped_rounds += 1;
            net.obs.stats.dropped_deliveries +=
                effects.iter().filter(|e| matches!(e, DriverEffect::Deliver { .. })).count() as u64;
            return self.finish(tid, net);
        }
        self.carry_out(tid, effects, net);
    }

    fn finish(&mut self, tid: u64, net: &mut Net) {
        let task = self.tasks.remove(&tid).expect("a running task");
        let Some(caller) = task.caller else { return };
        // driver.rs refuses a call the core left unanswered.
        let response = match task.reply {
            Reply::Claim => task.claim.map(Response::Claim),
            Reply::Attach => task.attach.map(Response::Attach),
            Reply::Done => Some(Response::Done),
        };
        net.sched.answer(caller, response.ok_or_else(|| "the driver core left the call unanswered".into()));
    }

    fn set_alarm(&mut self, at: i64, net: &mut Net) {
        self.alarm = Some(at);
        net.sched.alarm(Addr::Driver(self.index), at);
    }
}
