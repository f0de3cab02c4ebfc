//! What a driver brings to a step besides the step itself: the start PIN
//! (`in_progress`) and the proof of delivery (`completed`), checked before
//! the step is taken (src/core/lifecycle.rs takes it).

use serde::{Deserialize, Serialize};

use super::dispatch::Effect;
use super::invalid::{parse_json, Invalid};
use super::lifecycle::StepError;
use super::proof::Proof;
use super::protocol::RideStep;
use super::ride::{RideRecord, RideStatus};

/// The PIN and proof sent with a step (HTTP body or `ride_status` fields).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepEvidence {
    /// The passenger's start PIN (`in_progress`).
    #[serde(default)]
    pub pin: Option<String>,
    /// The proof of delivery (`completed`).
    #[serde(default)]
    pub proof: Option<Proof>,
}

/// `POST /start` body: none, or `{"pin"?}`.
#[derive(Debug, Deserialize)]
struct StartBody {
    #[serde(default)]
    pin: Option<String>,
}

/// `POST /complete` body: none, or `{"proof"?}`.
#[derive(Debug, Deserialize)]
struct CompleteBody {
    #[serde(default)]
    proof: Option<Proof>,
}

/// Longest `pin` read (a longer one is a client error, not a guess).
const MAX_PIN_CHARS: usize = 16;

impl StepEvidence {
    /// Reads the HTTP body of a step: `/start` takes `{"pin"?}`,
    /// `/complete` `{"proof"?}`, `/arrived` nothing (an empty object at most).
    pub fn from_body(step: RideStep, body: &[u8]) -> Result<StepEvidence, Invalid> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(StepEvidence::default());
        }
        let evidence = match step {
            RideStep::InProgress => StepEvidence { pin: parse_json::<StartBody>(body)?.pin, proof: None },
            RideStep::Completed => StepEvidence { pin: None, proof: parse_json::<CompleteBody>(body)?.proof },
            RideStep::Arrived => {
                parse_json::<serde::de::IgnoredAny>(body)?;
                if body.iter().filter(|b| !b.is_ascii_whitespace()).ne(b"{}".iter()) {
                    return Err(Invalid("body: /arrived takes no fields".into()));
                }
                StepEvidence::default()
            }
        };
        evidence.validate(step)?;
        Ok(evidence)
    }

    /// Shape rules: a PIN only with `in_progress`, a proof only with `completed`.
    pub fn validate(&self, step: RideStep) -> Result<(), Invalid> {
        if self.pin.is_some() && step != RideStep::InProgress {
            return Err(Invalid::field("pin", "goes with the in_progress step only"));
        }
        if self.pin.as_ref().is_some_and(|p| p.chars().count() > MAX_PIN_CHARS) {
            return Err(Invalid::field("pin", "must be at most 16 characters"));
        }
        if let Some(proof) = &self.proof {
            if step != RideStep::Completed {
                return Err(Invalid::field("proof", "goes with the completed step only"));
            }
            proof.validate()?;
        }
        Ok(())
    }
}

impl RideRecord {
    /// A step with its evidence: the PIN (counted only for the assigned
    /// driver starting a ride that is `arrived`) and the proof are checked,
    /// then the step is taken; the proof becomes part of the ride.
    pub fn step_with(
        &mut self,
        driver_id: &str,
        step: RideStep,
        evidence: StepEvidence,
        req_id: Option<String>,
        now_ms: i64,
    ) -> Result<Vec<Effect>, StepError> {
        evidence.validate(step).map_err(|e| StepError::Invalid(e.0))?;
        let assigned = self.ride.driver.as_ref().is_some_and(|d| d.id == driver_id);
        let ready = |from: RideStatus| assigned && self.ride.status == from;
        match step {
            RideStep::InProgress if ready(RideStatus::Arrived) => {
                if let Some(guard) = self.start_pin.as_mut() {
                    guard.check(evidence.pin.as_deref(), now_ms)?;
                }
            }
            RideStep::Completed if ready(RideStatus::InProgress) => {
                self.check_proof(evidence.proof.as_ref())?;
                self.ride.proof = evidence.proof;
            }
            _ => {}
        }
        self.step(driver_id, step, req_id, now_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_bodies_take_only_their_own_fields() {
        let start = StepEvidence::from_body(RideStep::InProgress, br#"{"pin":"1234"}"#).unwrap();
        assert_eq!(start.pin.as_deref(), Some("1234"));
        assert_eq!(StepEvidence::from_body(RideStep::Arrived, b"").unwrap(), StepEvidence::default());
        assert_eq!(StepEvidence::from_body(RideStep::Arrived, b" {} ").unwrap(), StepEvidence::default());
        assert!(StepEvidence::from_body(RideStep::Arrived, br#"{"pin":"1"}"#).is_err());
        assert!(StepEvidence::from_body(RideStep::Completed, br#"{"pin":"1234"}"#).is_err());
        assert!(StepEvidence::from_body(RideStep::InProgress, br#"{"proof":{"type":"code","value":"1"}}"#).is_err());
        let done = StepEvidence::from_body(RideStep::Completed, br#"{"proof":{"type":"code","value":"77"}}"#).unwrap();
        assert_eq!(done.proof.unwrap().value.as_deref(), Some("77"));
        assert!(StepEvidence::from_body(RideStep::Completed, br#"{"proof":{"type":"photo"}}"#).is_err());
    }

    #[test]
    fn a_pin_or_proof_with_the_wrong_step_is_refused() {
        let pin = StepEvidence { pin: Some("1".into()), proof: None };
        assert!(pin.validate(RideStep::Completed).is_err());
        assert!(pin.validate(RideStep::InProgress).is_ok());
    }
}
