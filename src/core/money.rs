//! Money as the protocol carries it: an amount and an ISO 4217 code.

use serde::{Deserialize, Serialize};

use super::invalid::Invalid;

/// Largest fare amount accepted; anything above is a client bug.
pub const MAX_AMOUNT: f64 = 1_000_000_000.0;

/// An amount of money in a currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// Non-negative, finite amount in the currency's major unit.
    pub amount: f64,
    /// Three upper-case letters (ISO 4217), e.g. `ZAR`.
    pub currency: String,
}

impl Money {
    /// Checks the amount and the currency code.
    pub fn validate(self, path: &str) -> Result<Money, Invalid> {
        if !self.amount.is_finite() || self.amount < 0.0 || self.amount > MAX_AMOUNT {
            return Err(Invalid::field(&format!("{path}.amount"), "must be a number from 0 to 1000000000"));
        }
        let code_ok = self.currency.len() == 3 && self.currency.chars().all(|c| c.is_ascii_uppercase());
        if !code_ok {
            return Err(Invalid::field(
                &format!("{path}.currency"),
                "must be an ISO 4217 code of three upper-case letters",
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: f64, currency: &str) -> Money {
        Money { amount, currency: currency.into() }
    }

    #[test]
    fn a_fare_in_rand_is_valid() {
        assert!(money(85.5, "ZAR").validate("fare").is_ok());
    }

    #[test]
    fn negative_amounts_are_invalid() {
        assert_eq!(
            money(-1.0, "ZAR").validate("fare").unwrap_err().0,
            "fare.amount must be a number from 0 to 1000000000"
        );
    }

    #[test]
    fn currency_must_be_three_upper_case_letters() {
        assert!(money(1.0, "zar").validate("fare").is_err());
        assert!(money(1.0, "RAND").validate("fare").is_err());
        assert!(money(1.0, "Z1R").validate("fare").is_err());
    }
}
