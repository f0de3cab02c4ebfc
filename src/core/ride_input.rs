//! The ride core's one entry point: every event a Ride DO receives is a
//! [`RideInput`], and [`RideRecord::handle`] decides it at `now` and returns
//! a [`RideOutput`]: the answer for whoever asked and the effects to carry
//! out, in order (quinn-proto's habit). Answers of other objects (the
//! regions' candidates, a Driver DO's claim) come back as inputs of their
//! own, checked against the ride as it is by then.

use super::dispatch::{AcceptLock, CandidateQuery, ClaimResult, DispatchSettings, Effect, RoundCandidate};
use super::identity::Caller;
use super::lifecycle::StepError;
use super::protocol::{AcceptFailure, RideStep};
use super::ride::{AssignedDriver, RideRecord, RideStatus};
use super::rounds::RoundStep;
use super::step_evidence::StepEvidence;

/// An event for one ride.
#[derive(Debug, Clone, PartialEq)]
pub enum RideInput {
    /// Move dispatch on now (the ride was created, every driver of the round declined).
    NextRound,
    /// The regions' answer to the query of `round`; `complete` when all answered.
    RoundAnswered { round: u32, candidates: Vec<RoundCandidate>, complete: bool },
    /// A driver accepts: checked now, then the driver must be claimed.
    Accept { driver_id: String },
    /// The driver's Driver DO answered the claim `token` (with the profile the passenger will see).
    Claimed { driver: AssignedDriver, claim: ClaimResult, token: u64, req_id: Option<String> },
    /// The claim `token` or the profile could not be had: a claim possibly made is released.
    ClaimFailed { driver_id: String, token: u64 },
    /// `request_lock`.
    Lock { driver_id: String },
    /// `decline_ride`.
    Decline { driver_id: String },
    /// Someone cancels.
    Cancel { caller: Caller, reason: Option<String>, req_id: Option<String> },
    /// The assigned driver's step, with its PIN or proof.
    Step { driver_id: String, step: RideStep, evidence: StepEvidence, req_id: Option<String> },
    /// An offered driver starts or stops viewing.
    Viewing { driver_id: String, viewing: bool },
    /// A driver a region found offerable near the pickup while the ride searches.
    LateDriver { candidate: RoundCandidate },
    /// The alarm rang.
    Tick,
}

/// The answer for whoever sent the input.
#[derive(Debug, Clone, PartialEq)]
pub enum RideReply {
    /// Done; the ride as it now is answers HTTP callers.
    Done,
    /// Ask the regions this query, then send [`RideInput::RoundAnswered`] with `round`.
    Ask { round: u32, query: CandidateQuery },
    /// Claim the driver at its Driver DO with this token, then send [`RideInput::Claimed`].
    Claim { token: u64 },
    /// The lock granted.
    Locked(AcceptLock),
}

/// Why an input was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RideRefusal {
    /// An accept, lock or decline refused for a protocol reason.
    Accept(AcceptFailure),
    /// A lifecycle step refused.
    Step(StepError),
}

/// What [`RideRecord::handle`] decided.
#[derive(Debug, Clone, PartialEq)]
pub struct RideOutput {
    /// The answer for whoever asked.
    pub reply: Result<RideReply, RideRefusal>,
    /// What the shell must carry out, in order (even when refused: a release, say).
    pub effects: Vec<Effect>,
}

impl RideOutput {
    fn done(effects: Vec<Effect>) -> Self {
        RideOutput { reply: Ok(RideReply::Done), effects }
    }

    fn of(result: Result<Vec<Effect>, StepError>) -> Self {
        match result {
            Ok(effects) => RideOutput::done(effects),
            Err(StepError::Refused(failure)) => RideOutput::refused(RideRefusal::Accept(failure)),
            Err(err) => RideOutput::refused(RideRefusal::Step(err)),
        }
    }

    fn refused(refusal: RideRefusal) -> Self {
        RideOutput { reply: Err(refusal), effects: Vec::new() }
    }
}

impl RideRecord {
    /// Decides one input at `now_ms`. A round that started tells the
    /// regions what to watch for; a ride that stopped searching, to stop.
    pub fn handle(&mut self, input: RideInput, settings: &DispatchSettings, now_ms: i64) -> RideOutput {
        let (was_searching, round_end) = (self.ride.status == RideStatus::Searching, self.round_expires_at);
        let mut output = self.decide(input, settings, now_ms);
        let searching = self.ride.status == RideStatus::Searching;
        if (was_searching && !searching) || (searching && self.round_expires_at != round_end) {
            output.effects.push(Effect::Watch(self.watch(settings)));
        }
        output
    }

    fn decide(&mut self, input: RideInput, settings: &DispatchSettings, now_ms: i64) -> RideOutput {
        match input {
            RideInput::LateDriver { candidate } => RideOutput::done(self.offer_late(candidate, settings, now_ms)),
            RideInput::NextRound => self.round_step(settings, now_ms),
            RideInput::Tick if self.round_due(now_ms) => self.round_step(settings, now_ms),
            RideInput::Tick => RideOutput::done(Vec::new()),
            RideInput::RoundAnswered { round, candidates, complete } => {
                RideOutput::done(self.round_answered(round, candidates, complete, settings, now_ms))
            }
            RideInput::Accept { driver_id } => match self.accept_refusal(&driver_id, now_ms) {
                Some(refusal) => RideOutput::refused(RideRefusal::Accept(refusal)),
                None => {
                    let token = self.claim_sent(&driver_id, now_ms);
                    RideOutput { reply: Ok(RideReply::Claim { token }), effects: Vec::new() }
                }
            },
            RideInput::Claimed { driver, claim, token, req_id } => {
                let (result, effects) = self.accept_claimed(driver, claim, token, req_id, now_ms);
                let reply = result.map(|()| RideReply::Done).map_err(RideRefusal::Accept);
                RideOutput { reply, effects }
            }
            RideInput::ClaimFailed { driver_id, token } => RideOutput::done(self.claim_lost(&driver_id, token)),
            RideInput::Lock { driver_id } => match self.request_lock(&driver_id, settings, now_ms) {
                Ok(lock) => RideOutput { reply: Ok(RideReply::Locked(lock)), effects: Vec::new() },
                Err(failure) => RideOutput::refused(RideRefusal::Accept(failure)),
            },
            RideInput::Decline { driver_id } => {
                let mut output = RideOutput::of(self.decline(&driver_id, now_ms));
                if output.effects.contains(&Effect::StartNextRound) {
                    output.effects.retain(|e| *e != Effect::StartNextRound);
                    let next = self.round_step(settings, now_ms);
                    output.effects.extend(next.effects);
                    if let Ok(ask @ RideReply::Ask { .. }) = next.reply {
                        output.reply = Ok(ask);
                    }
                }
                output
            }
            RideInput::Cancel { caller, reason, req_id } => {
                RideOutput::of(self.cancel(&caller, reason, req_id, now_ms))
            }
            RideInput::Step { driver_id, step, evidence, req_id } => {
                RideOutput::of(self.step_with(&driver_id, step, evidence, req_id, now_ms))
            }
            RideInput::Viewing { driver_id, viewing } => RideOutput::of(self.set_viewing(&driver_id, viewing, now_ms)),
        }
    }

    fn round_step(&mut self, settings: &DispatchSettings, now_ms: i64) -> RideOutput {
        match self.begin_round(settings, now_ms) {
            RoundStep::Wait => RideOutput::done(Vec::new()),
            RoundStep::Effects(effects) => RideOutput::done(effects),
            RoundStep::Ask { round, query } => {
                RideOutput { reply: Ok(RideReply::Ask { round, query }), effects: Vec::new() }
            }
        }
    }
}
