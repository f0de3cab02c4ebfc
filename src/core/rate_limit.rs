//! The per-client HTTP rate limits (PROTOCOL.md "Input and abuse"): which
//! limiter a request counts against, under which key, and how long a
//! refused client should wait. The counting itself is the platform's rate
//! limiting binding (one `[[ratelimits]]` entry in wrangler.toml per
//! [`Limiter`]), which counts in fixed windows of 10 or 60 seconds.

use super::identity::Role;

/// One of the Worker's rate limiting bindings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limiter {
    /// Every authenticated HTTP request (WebSocket upgrades included): 200
    /// per 10 s per `sub`, i.e. more than 20 a second held for the window
    /// is refused.
    Requests,
    /// `POST /v1/rides` by a passenger: 30 a minute per `sub`.
    RideCreation,
    /// `POST /v1/rides` by a partner: 600 a minute per `sub`.
    PartnerRideCreation,
}

impl Limiter {
    /// Every limiter, for checks against wrangler.toml.
    pub const ALL: [Limiter; 3] = [Limiter::Requests, Limiter::RideCreation, Limiter::PartnerRideCreation];

    /// The binding's name in wrangler.toml.
    pub fn binding(self) -> &'static str {
        match self {
            Limiter::Requests => "REQUEST_LIMITER",
            Limiter::RideCreation => "RIDE_CREATION_LIMITER",
            Limiter::PartnerRideCreation => "PARTNER_RIDE_CREATION_LIMITER",
        }
    }

    /// The binding's window in seconds (its `simple.period`).
    pub fn period_s(self) -> u32 {
        match self {
            Limiter::Requests => 10,
            Limiter::RideCreation | Limiter::PartnerRideCreation => 60,
        }
    }

    /// The binding's `simple.limit` in production (wrangler.toml's value).
    pub fn limit(self) -> u32 {
        match self {
            Limiter::Requests => 200,
            Limiter::RideCreation => 30,
            Limiter::PartnerRideCreation => 600,
        }
    }

    /// The limiter of ride creation for a caller of `role`, if it may create rides.
    pub fn ride_creation(role: Role) -> Option<Limiter> {
        match role {
            Role::Passenger => Some(Limiter::RideCreation),
            Role::Partner => Some(Limiter::PartnerRideCreation),
            Role::Driver | Role::Dispatcher => None,
        }
    }

    /// What a refused client is told.
    pub fn refusal(self) -> &'static str {
        match self {
            Limiter::Requests => "more than 20 requests a second from this client; slow down",
            Limiter::RideCreation => "at most 30 rides a minute may be created per client",
            Limiter::PartnerRideCreation => "at most 600 rides a minute may be created per partner",
        }
    }
}

/// The key a client is counted under: its token's `sub`, so every device
/// and token of one account shares the count, and one account's flood
/// never spends anybody else's.
pub fn limit_key(sub: &str) -> String {
    format!("sub:{sub}")
}

/// Seconds a refused client should wait (`Retry-After`): until the current
/// window of `period_s` ends, at least 1.
pub fn retry_after_s(period_s: u32, now_ms: i64) -> u32 {
    let period_ms = i64::from(period_s.max(1)) * 1000;
    let left_ms = period_ms - now_ms.rem_euclid(period_ms);
    u32::try_from((left_ms + 999) / 1000).unwrap_or(period_s).clamp(1, period_s.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_passengers_and_partners_count_against_ride_creation() {
        assert_eq!(Limiter::ride_creation(Role::Passenger), Some(Limiter::RideCreation));
        assert_eq!(Limiter::ride_creation(Role::Partner), Some(Limiter::PartnerRideCreation));
        assert_eq!(Limiter::ride_creation(Role::Driver), None);
        assert_eq!(Limiter::ride_creation(Role::Dispatcher), None);
    }

    #[test]
    fn the_protocols_figures_hold() {
        let per_second = Limiter::Requests.limit() as f64 / Limiter::Requests.period_s() as f64;
        assert_eq!(per_second, 20.0);
        assert_eq!((Limiter::RideCreation.limit(), Limiter::RideCreation.period_s()), (30, 60));
        assert_eq!((Limiter::PartnerRideCreation.limit(), Limiter::PartnerRideCreation.period_s()), (600, 60));
    }

    #[test]
    fn retry_after_runs_to_the_end_of_the_window_and_is_never_zero() {
        assert_eq!(retry_after_s(60, 0), 60);
        assert_eq!(retry_after_s(60, 59_001), 1);
        assert_eq!(retry_after_s(60, 59_999), 1);
        assert_eq!(retry_after_s(60, 30_500), 30);
        assert_eq!(retry_after_s(10, 1_700_000_003_200), 7);
    }

    #[test]
    fn clients_are_counted_by_sub() {
        assert_eq!(limit_key("pax-1"), "sub:pax-1");
        assert_ne!(limit_key("a"), limit_key("b"));
    }

    #[test]
    fn wrangler_toml_declares_every_limiter_with_the_figures_the_code_assumes() {
        let toml = include_str!("../../wrangler.toml");
        for limiter in Limiter::ALL {
            let entry = toml
                .split("[[ratelimits]]")
                .skip(1)
                .find(|entry| entry.contains(&format!("name = \"{}\"", limiter.binding())))
                .unwrap_or_else(|| panic!("wrangler.toml has no [[ratelimits]] {}", limiter.binding()));
            let simple = format!("simple = {{ limit = {}, period = {} }}", limiter.limit(), limiter.period_s());
            assert!(entry.contains(&simple), "{}: expected `{simple}`", limiter.binding());
        }
    }
}
