//! The start PIN: a ride created with `"start_pin": true` carries a 4-digit
//! PIN that only its passenger side sees; the driver must give it to start
//! the trip. Wrong PINs are counted, and five in a row lock starts for 60 s.

use serde::{Deserialize, Serialize};

use super::identity::{Caller, Role};
use super::lifecycle::StepError;
use super::ride::Ride;

/// Wrong PINs in a row that lock starts.
pub const MAX_WRONG_PINS: u32 = 5;
/// How long starts stay locked after [`MAX_WRONG_PINS`] wrong PINs, in ms.
pub const PIN_LOCKOUT_MS: i64 = 60_000;
/// Random bytes a PIN is made from.
pub const PIN_RANDOM_BYTES: usize = 4;

/// A ride's PIN and the count of wrong tries against it (server only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinGuard {
    /// The four digits.
    pub pin: String,
    /// Wrong PINs since the last right one or the last lockout.
    #[serde(default)]
    pub wrong_in_a_row: u32,
    /// Starts are refused until then.
    #[serde(default)]
    pub locked_until: Option<i64>,
}

impl PinGuard {
    /// A guard for a PIN made from random bytes: four digits, `0000`–`9999`.
    pub fn from_random(bytes: [u8; PIN_RANDOM_BYTES]) -> PinGuard {
        PinGuard { pin: format!("{:04}", u32::from_le_bytes(bytes) % 10_000), wrong_in_a_row: 0, locked_until: None }
    }

    /// Checks the PIN a driver gave at `now_ms`: no PIN is `invalid_request`
    /// (not counted); while locked every try is refused (`rate_limited`);
    /// a wrong one is counted, and the fifth in a row starts the lockout.
    pub fn check(&mut self, given: Option<&str>, now_ms: i64) -> Result<(), StepError> {
        let Some(given) = given else {
            return Err(StepError::Invalid("pin: this ride needs the passenger's 4-digit start PIN".into()));
        };
        if let Some(until) = self.locked_until {
            if now_ms < until {
                let retry_after_s = ((until - now_ms + 999) / 1000).max(1) as u32;
                return Err(StepError::PinLocked { retry_after_s });
            }
            self.locked_until = None;
        }
        if same(given, &self.pin) {
            self.wrong_in_a_row = 0;
            return Ok(());
        }
        self.wrong_in_a_row += 1;
        if self.wrong_in_a_row >= MAX_WRONG_PINS {
            self.wrong_in_a_row = 0;
            self.locked_until = Some(now_ms + PIN_LOCKOUT_MS);
        }
        Err(StepError::WrongPin)
    }
}

/// Compares without stopping at the first difference.
fn same(given: &str, pin: &str) -> bool {
    given.len() == pin.len() && given.bytes().zip(pin.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

/// Whether `caller` may see a ride's PIN: its passenger, its partner, dispatchers.
pub fn sees_pin(ride: &Ride, caller: &Caller) -> bool {
    match caller.role {
        Role::Dispatcher => true,
        Role::Passenger => ride.passenger.id.as_deref() == Some(caller.sub.as_str()),
        Role::Partner => ride.partner_id.as_deref() == Some(caller.sub.as_str()),
        Role::Driver => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> PinGuard {
        PinGuard { pin: "4821".into(), wrong_in_a_row: 0, locked_until: None }
    }

    #[test]
    fn a_pin_is_four_digits_from_the_random_bytes() {
        assert_eq!(PinGuard::from_random([0, 0, 0, 0]).pin, "0000");
        assert_eq!(PinGuard::from_random(7u32.to_le_bytes()).pin, "0007");
        assert_eq!(PinGuard::from_random(u32::MAX.to_le_bytes()).pin, "7295");
    }

    #[test]
    fn the_right_pin_passes_and_clears_the_count() {
        let mut g = guard();
        assert_eq!(g.check(Some("0000"), 0), Err(StepError::WrongPin));
        assert_eq!(g.check(Some("4821"), 1), Ok(()));
        assert_eq!(g.wrong_in_a_row, 0);
    }

    #[test]
    fn a_missing_pin_is_invalid_and_not_counted() {
        let mut g = guard();
        assert!(matches!(g.check(None, 0), Err(StepError::Invalid(_))));
        assert_eq!(g.wrong_in_a_row, 0);
    }

    #[test]
    fn five_wrong_pins_in_a_row_lock_starts_for_sixty_seconds_even_with_the_right_pin() {
        let mut g = guard();
        for i in 0..5 {
            assert_eq!(g.check(Some("1111"), i), Err(StepError::WrongPin), "try {i}");
        }
        assert_eq!(g.check(Some("4821"), 10_000), Err(StepError::PinLocked { retry_after_s: 51 }));
        assert_eq!(g.check(Some("4821"), 4 + PIN_LOCKOUT_MS - 1), Err(StepError::PinLocked { retry_after_s: 1 }));
        assert_eq!(g.check(Some("4821"), 4 + PIN_LOCKOUT_MS), Ok(()));
    }

    #[test]
    fn after_a_lockout_the_count_starts_again() {
        let mut g = guard();
        for _ in 0..5 {
            let _ = g.check(Some("1111"), 0);
        }
        assert_eq!(g.check(Some("1111"), PIN_LOCKOUT_MS), Err(StepError::WrongPin));
        assert_eq!(g.locked_until, None, "one wrong PIN after the lockout does not lock again");
        assert_eq!(g.wrong_in_a_row, 1);
    }

    #[test]
    fn four_wrong_then_right_never_locks() {
        let mut g = guard();
        for _ in 0..4 {
            let _ = g.check(Some("1111"), 0);
        }
        assert_eq!(g.check(Some("4821"), 0), Ok(()));
        for _ in 0..4 {
            let _ = g.check(Some("1111"), 0);
        }
        assert_eq!(g.locked_until, None);
    }
}
