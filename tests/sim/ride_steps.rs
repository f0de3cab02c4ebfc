//! A Ride DO task's steps and their joins: what each step does (its calls
//! go out at once, the task then awaits them together, like `join_all`) and
//! how the task goes on with their answers (durable-objects/ride.rs
//! `accept`, ride_dispatch.rs, ride_effects.rs `mark_delivered` and
//! `flush_drivers`). The steps' own work is in ride_run.rs.

use std::collections::{BTreeMap, VecDeque};

use ridewire::core::commitments::{ClaimAnswer, RideFrame};
use ridewire::core::dispatch::{CandidateQuery, ClaimResult, RoundCandidate};
use ridewire::core::matching::merge_nearest;
use ridewire::core::region::Delivery;
use ridewire::core::ride::RideRecord;
use ridewire::core::ride_input::RideInput;

use super::ride_do::RideDo;
use super::scheduler::{Addr, Answer, Call, CallId, Request, Response};
use super::world::Net;

/// How long after a failed send of driver frames the alarm retries (driver_outbox.rs).
pub(super) const OUTBOX_RETRY_MS: i64 = 1_000;

/// One call the Ride DO serves, with the steps still to run.
pub struct Task {
    pub caller: Option<Call>,
    pub from_alarm: bool,
    pub steps: VecDeque<Step>,
    pub join: Option<Join>,
    pub outcome: Result<(), String>,
}

/// Calls a task awaits together (`join_all`), and what follows their answers.
pub struct Join {
    pub resume: Resume,
    pub pending: usize,
    pub answers: Vec<(CallId, Answer)>,
}

/// What follows an input once its effects are carried out.
pub enum Then {
    Nothing,
    /// `decide`: a query to the regions follows.
    Ask,
    /// `accept`: the driver's claim follows.
    Claim(String),
}

/// One step of a task.
pub enum Step {
    Create,
    Apply {
        input: RideInput,
        then: Then,
    },
    Deliver {
        batches: BTreeMap<usize, Vec<Delivery>>,
        fast: Vec<FastFrame>,
    },
    Wake(i64),
    /// `flush_drivers`; `only_if_owed`: only if this step owes drivers frames or earlier ones may be left.
    Flush {
        only_if_owed: bool,
    },
    Ask {
        round: u32,
        query: CandidateQuery,
    },
    Claim(String, u64),
    AlarmTail,
}

/// A frame sent by the fast path: where it sits in its region's batch.
pub struct FastFrame {
    pub driver_id: String,
    pub frame: RideFrame,
    pub region: usize,
    pub slot: usize,
}

/// What a task does with the answers it awaited.
pub enum Resume {
    Delivered { fast: Vec<FastFrame>, regions: BTreeMap<CallId, usize> },
    Flushed { keys: BTreeMap<CallId, Vec<u64>> },
    Claimed(String, u64),
    Candidates { round: u32, limit: u32, regions: Vec<(CallId, String)> },
}

impl RideDo {
    pub(super) fn exec(&mut self, tid: u64, step: Step, net: &mut Net) {
        let next = match step {
            Step::Create => self.create(net),
            Step::Apply { input, then } => self.apply(tid, input, then, net),
            Step::Deliver { batches, fast } => {
                let regions: BTreeMap<CallId, usize> = batches
                    .into_iter()
                    .map(|(region, deliveries)| {
                        let request = Request::Deliver { deliveries };
                        (net.sched.call(self.addr(), Addr::Region(region), request), region)
                    })
                    .collect();
                let calls = regions.keys().copied().collect();
                self.suspend(tid, Resume::Delivered { fast, regions }, calls, net);
                Vec::new()
            }
            Step::Wake(at) => {
                self.wake_by(at, net);
                Vec::new()
            }
            Step::Flush { only_if_owed } => {
                if !only_if_owed || self.drivers_owed {
                    self.flush(tid, net);
                }
                Vec::new()
            }
            Step::Ask { round, query } => {
                self.ask(tid, round, query, net);
                Vec::new()
            }
            Step::Claim(driver_id, token) => {
                let to = Addr::Driver(super::driver_index(&driver_id));
                let call = net.sched.call(self.addr(), to, Request::Claim { ride_id: self.id.clone(), token });
                self.suspend(tid, Resume::Claimed(driver_id, token), vec![call], net);
                Vec::new()
            }
            Step::AlarmTail => {
                if let Some(at) = self.record.as_ref().and_then(RideRecord::next_deadline) {
                    self.wake_by(at, net);
                }
                Vec::new()
            }
        };
        self.push_front(tid, next);
    }

    /// The awaited answers are in: carry on where the task left off.
    pub(super) fn resume(&mut self, tid: u64, join: Join, net: &mut Net) {
        let answers = join.answers;
        match join.resume {
            Resume::Delivered { fast, regions } => {
                let taken: BTreeMap<usize, Vec<Vec<String>>> = answers
                    .into_iter()
                    .filter_map(|(call, a)| match a {
                        Ok(Response::Taken(list)) => Some((regions[&call], list)),
                        _ => None,
                    })
                    .collect();
                self.mark_delivered(fast, &taken);
            }
            Resume::Flushed { keys } => {
                let mut all_taken = true;
                for (call, answer) in answers {
                    match answer {
                        Ok(_) => keys[&call].iter().for_each(|id| drop(self.outbox.remove(id))),
                        Err(_) => all_taken = false,
                    }
                }
                // Frames committed by an event that ran during the flush are sent by that event itself.
                self.drivers_owed = !all_taken;
                if !all_taken {
                    self.wake_by(net.sched.now + OUTBOX_RETRY_MS, net);
                }
            }
            Resume::Claimed(driver_id, token) => {
                let claim = match answers.into_iter().next().map(|(_, a)| a) {
                    Some(Ok(Response::Claim(ClaimAnswer::Claimed { version }))) => {
                        Some(ClaimResult::Claimed { mark_version: version })
                    }
                    Some(Ok(Response::Claim(ClaimAnswer::Busy { .. }))) => Some(ClaimResult::Busy),
                    _ => None,
                };
                let input = match claim {
                    Some(claim) => {
                        RideInput::Claimed { driver: super::profile(&driver_id), claim, token, req_id: None }
                    }
                    None => RideInput::ClaimFailed { driver_id, token },
                };
                self.push_front(tid, vec![Step::Apply { input, then: Then::Nothing }]);
            }
            Resume::Candidates { round, limit, regions } => {
                let (candidates, complete) = merge(&regions, answers, limit);
                let input = RideInput::RoundAnswered { round, candidates, complete };
                self.push_front(tid, vec![Step::Apply { input, then: Then::Nothing }]);
            }
        }
    }
}

/// The regions' answers merged nearest first, and whether every region answered.
fn merge(regions: &[(CallId, String)], answers: Vec<(CallId, Answer)>, limit: u32) -> (Vec<RoundCandidate>, bool) {
    let mut by_call: BTreeMap<CallId, Answer> = answers.into_iter().collect();
    let mut region_of: BTreeMap<String, String> = BTreeMap::new();
    let mut lists = Vec::new();
    let mut complete = true;
    for (call, name) in regions {
        match by_call.remove(call) {
            Some(Ok(Response::Candidates(list))) => {
                for c in &list {
                    region_of.entry(c.driver_id.clone()).or_insert_with(|| name.clone());
                }
                lists.push(list);
            }
            _ => complete = false,
        }
    }
    let merged = merge_nearest(lists, limit as usize)
        .into_iter()
        .filter_map(|candidate| {
            Some(RoundCandidate { region: region_of.get(&candidate.driver_id)?.clone(), candidate })
        })
        .collect();
    (merged, complete)
}
