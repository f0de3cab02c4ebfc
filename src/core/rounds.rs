//! One offer round at a time, decided without IO. A round starts with a
//! query to the regions around the pickup; the query is recorded (with its
//! ticket) before it leaves, and its answer comes back as a new input that
//! must still be current: a decline, a timeout or an alarm arriving while a
//! query is out starts no second one. A region that does not answer is
//! asked again shortly; it is never read as "no drivers".

use serde::{Deserialize, Serialize};

use super::dispatch::{CandidateQuery, DispatchSettings, Effect, RoundCandidate};
use super::ride::{RideRecord, RideStatus};

/// How long a query to the regions may be out before it is taken as lost
/// (the object restarted meanwhile, say) and asked again, in ms.
pub const ROUND_QUERY_TIMEOUT_MS: i64 = 10_000;
/// How soon a round whose regions did not all answer (and found no one) is asked again, in ms.
pub const ROUND_RETRY_MS: i64 = 1_000;

/// A query to the regions that is out: the round it would start, and when it left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundQuery {
    /// The round the answer starts (the ticket the answer must carry).
    pub round: u32,
    /// When the query left.
    pub asked_at: i64,
}

/// What the shell must do to move the ride's dispatch on.
#[derive(Debug, Clone, PartialEq)]
pub enum RoundStep {
    /// Nothing now: not searching, or a query is already out.
    Wait,
    /// Ask the regions; hand their answer to [`RideRecord::round_answered`] with `round`.
    Ask { round: u32, query: CandidateQuery },
    /// No more rounds: carry these out (the ride expired).
    Effects(Vec<Effect>),
}

impl RideRecord {
    /// The next round's query, unless one is out or the ride is past its
    /// last round (then it expires). Records the query: persist before asking.
    pub fn begin_round(&mut self, settings: &DispatchSettings, now_ms: i64) -> RoundStep {
        if self.ride.status != RideStatus::Searching || self.query_out(now_ms) {
            return RoundStep::Wait;
        }
        let Some(query) = self.candidate_query(settings) else {
            return RoundStep::Effects(self.start_round(Vec::new(), settings, now_ms));
        };
        let round = self.ride.offer_round + 1;
        self.round_query = Some(RoundQuery { round, asked_at: now_ms });
        self.round_retry_at = None;
        RoundStep::Ask { round, query }
    }

    /// The regions' answer for `round`: `complete` when every region
    /// answered. A stale answer changes nothing; an incomplete answer with
    /// nobody found is asked again after [`ROUND_RETRY_MS`].
    pub fn round_answered(
        &mut self,
        round: u32,
        candidates: Vec<RoundCandidate>,
        complete: bool,
        settings: &DispatchSettings,
        now_ms: i64,
    ) -> Vec<Effect> {
        if self.round_query.map(|q| q.round) != Some(round) {
            return Vec::new();
        }
        self.round_query = None;
        if self.ride.status != RideStatus::Searching {
            return Vec::new();
        }
        let fresh = candidates.iter().any(|c| self.offer_of(&c.candidate.driver_id).is_none());
        if !fresh && !complete {
            let at = now_ms + ROUND_RETRY_MS;
            self.round_retry_at = Some(at);
            // A round that timed out is no deadline any more: the retry is (else the alarm rings at once).
            self.round_expires_at = self.round_expires_at.filter(|end| *end > now_ms);
            return vec![Effect::WakeAt(at)];
        }
        self.start_round(candidates, settings, now_ms)
    }

    /// Whether dispatch must move on at `now_ms`: the round timed out, a
    /// retry is due, or a query was lost.
    pub fn round_due(&self, now_ms: i64) -> bool {
        self.ride.status == RideStatus::Searching
            && (self.round_timed_out(now_ms)
                || self.round_retry_at.is_some_and(|at| at <= now_ms)
                || self.round_query.is_some_and(|q| q.asked_at + ROUND_QUERY_TIMEOUT_MS <= now_ms))
    }

    /// Whether an `Idempotency-Key` retry must start dispatch: the first
    /// round never ran (the object failed before it asked, or its query was lost).
    pub fn first_round_pending(&self, now_ms: i64) -> bool {
        self.ride.status == RideStatus::Searching && self.ride.offer_round == 0 && !self.query_out(now_ms)
    }

    /// Whether a query is out and not yet taken as lost.
    fn query_out(&self, now_ms: i64) -> bool {
        self.round_query.is_some_and(|q| q.asked_at + ROUND_QUERY_TIMEOUT_MS > now_ms)
    }
}
