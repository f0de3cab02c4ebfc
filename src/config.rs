//! Configuration read once per request from the Worker's vars and secrets
//! into a typed struct. Secrets are never logged.

use crate::core::callback_url::CallbackPolicy;
use crate::core::dispatch::DispatchSettings;
use crate::core::heartbeat::DEFAULT_HEARTBEAT_S;
use crate::core::region::RegionSettings;
use crate::core::webhooks::Schedule;
use crate::core::Invalid;

/// The settings of a ridewire deployment.
#[derive(Clone)]
pub struct Config {
    /// HS256 secret for client tokens.
    pub jwt_secret: String,
    /// How far from a pickup drivers are offered a ride, in km.
    pub dispatch_radius_km: f64,
    /// How many drivers one offer round reaches.
    pub offer_batch: u32,
    /// How long an offer round waits for an accept, in seconds.
    pub offer_timeout_s: u32,
    /// How many rounds before a ride expires.
    pub max_rounds: u32,
    /// How long a `request_lock` holds, in seconds.
    pub lock_ttl_s: u32,
    /// The H3 resolution of a dispatch region.
    pub region_res: u8,
    /// Seconds between a driver app's heartbeats; a driver socket silent for
    /// three of them is closed (4003). Also paces the regions' stats leases.
    pub heartbeat_s: u32,
    /// Which `callback_url`s partners may give (`ALLOW_HTTP_CALLBACKS`).
    pub callbacks: CallbackPolicy,
    /// HMAC-SHA256 secret for webhook signatures (`WEBHOOK_SECRET`); without
    /// it no webhook is sent (each try counts as unanswered).
    pub webhook_secret: Option<String>,
    /// The webhook retry schedule (`WEBHOOK_RETRY_SCALE`, `WEBHOOK_TIMEOUT_S`).
    pub webhooks: Schedule,
    /// How long searching rides must outnumber available drivers in a cell
    /// before `high_demand`, and the least time between two alerts of a cell, in seconds.
    pub demand_window_s: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("jwt_secret", &"<redacted>")
            .field("dispatch_radius_km", &self.dispatch_radius_km)
            .field("offer_batch", &self.offer_batch)
            .field("offer_timeout_s", &self.offer_timeout_s)
            .field("max_rounds", &self.max_rounds)
            .field("lock_ttl_s", &self.lock_ttl_s)
            .field("region_res", &self.region_res)
            .field("heartbeat_s", &self.heartbeat_s)
            .field("callbacks", &self.callbacks)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .field("webhooks", &self.webhooks)
            .field("demand_window_s", &self.demand_window_s)
            .finish()
    }
}

impl Config {
    /// Builds the config from a lookup of var and secret names; missing vars
    /// take the protocol's defaults, a missing `JWT_SECRET` is an error.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, Invalid> {
        let jwt_secret =
            lookup("JWT_SECRET").filter(|s| !s.is_empty()).ok_or_else(|| Invalid("JWT_SECRET is not set".into()))?;
        Ok(Config {
            jwt_secret,
            dispatch_radius_km: number(&lookup, "DISPATCH_RADIUS_KM", 10.0, 0.1, 500.0)?,
            offer_batch: number(&lookup, "OFFER_BATCH", 5.0, 1.0, 100.0)? as u32,
            offer_timeout_s: number(&lookup, "OFFER_TIMEOUT_S", 20.0, 1.0, 3600.0)? as u32,
            max_rounds: number(&lookup, "MAX_ROUNDS", 3.0, 1.0, 100.0)? as u32,
            lock_ttl_s: number(&lookup, "LOCK_TTL_S", 5.0, 1.0, 600.0)? as u32,
            region_res: number(&lookup, "REGION_RES", 5.0, 0.0, 15.0)? as u8,
            heartbeat_s: whole(&lookup, "HEARTBEAT_S", DEFAULT_HEARTBEAT_S, 1, 3600)?,
            callbacks: callback_policy(&lookup)?,
            webhook_secret: lookup("WEBHOOK_SECRET").filter(|s| !s.is_empty()),
            webhooks: Schedule {
                scale: number(&lookup, "WEBHOOK_RETRY_SCALE", 1.0, 0.00001, 1.0)?,
                answer_timeout_ms: i64::from(whole(&lookup, "WEBHOOK_TIMEOUT_S", 10, 1, 10)?) * 1000,
            },
            demand_window_s: whole(&lookup, "DEMAND_WINDOW_S", 60, 1, 3600)?,
        })
    }
}

impl Config {
    /// A region's settings, in the core's units.
    pub fn region(&self) -> RegionSettings {
        RegionSettings {
            region_res: self.region_res,
            heartbeat_s: self.heartbeat_s,
            radius_km: self.dispatch_radius_km,
            demand_window_ms: i64::from(self.demand_window_s) * 1000,
        }
    }

    /// The dispatch rules' settings, in the core's units.
    pub fn dispatch(&self) -> DispatchSettings {
        DispatchSettings {
            radius_km: self.dispatch_radius_km,
            offer_batch: self.offer_batch,
            offer_timeout_ms: i64::from(self.offer_timeout_s) * 1000,
            max_rounds: self.max_rounds,
            lock_ttl_ms: i64::from(self.lock_ttl_s) * 1000,
        }
    }
}

fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: f64,
    min: f64,
    max: f64,
) -> Result<f64, Invalid> {
    let Some(raw) = lookup(name) else { return Ok(default) };
    raw.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && (min..=max).contains(v))
        .ok_or_else(|| Invalid(format!("{name} must be a number from {min} to {max}, not {raw:?}")))
}

/// A whole number var: `heartbeat_s` is sent to apps as an integer, so a
/// fraction is refused rather than silently cut.
fn whole(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u32,
    min: u32,
    max: u32,
) -> Result<u32, Invalid> {
    let Some(raw) = lookup(name) else { return Ok(default) };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| (min..=max).contains(v))
        .ok_or_else(|| Invalid(format!("{name} must be a whole number from {min} to {max}, not {raw:?}")))
}

/// `ALLOW_HTTP_CALLBACKS`: `1` allows callbacks to localhost (local
/// development), `0` or unset does not; anything else is a config error.
fn callback_policy(lookup: &impl Fn(&str) -> Option<String>) -> Result<CallbackPolicy, Invalid> {
    match lookup("ALLOW_HTTP_CALLBACKS").as_deref().map(str::trim) {
        None | Some("" | "0") => Ok(CallbackPolicy::PublicHttpsOnly),
        Some("1") => Ok(CallbackPolicy::AllowLocalHttp),
        Some(other) => Err(Invalid(format!("ALLOW_HTTP_CALLBACKS must be 0 or 1, not {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The config of these vars, with a JWT secret unless they name one.
    fn config_with(vars: &[(&str, &str)]) -> Result<Config, Invalid> {
        Config::from_lookup(|name| {
            let given = vars.iter().find(|(var, _)| *var == name).map(|(_, value)| value.to_string());
            given.or_else(|| (name == "JWT_SECRET").then(|| "s".to_string()))
        })
    }

    #[test]
    fn http_callbacks_are_allowed_only_by_allow_http_callbacks_1() {
        let with = |value: &str| config_with(&[("ALLOW_HTTP_CALLBACKS", value)]);
        assert_eq!(config_with(&[]).unwrap().callbacks, CallbackPolicy::PublicHttpsOnly);
        assert_eq!(with("0").unwrap().callbacks, CallbackPolicy::PublicHttpsOnly);
        assert_eq!(with("1").unwrap().callbacks, CallbackPolicy::AllowLocalHttp);
        assert!(with("yes").is_err());
    }

    #[test]
    fn missing_vars_take_the_protocol_defaults() {
        let config = config_with(&[]).unwrap();
        assert_eq!(config.dispatch_radius_km, 10.0);
        assert_eq!((config.offer_batch, config.offer_timeout_s, config.max_rounds), (5, 20, 3));
        assert_eq!((config.lock_ttl_s, config.region_res), (5, 5));
        assert_eq!(config.heartbeat_s, 30);
        assert_eq!(config.demand_window_s, 60);
        assert_eq!(config.region().demand_window_ms, 60_000);
    }

    #[test]
    fn the_heartbeat_is_a_whole_number_of_seconds_from_1() {
        let with = |value: &str| config_with(&[("HEARTBEAT_S", value)]);
        assert_eq!(with("1").unwrap().heartbeat_s, 1);
        assert_eq!(with(" 45 ").unwrap().heartbeat_s, 45);
        for bad in ["0", "1.5", "-3", "x", "3601"] {
            assert!(with(bad).unwrap_err().0.starts_with("HEARTBEAT_S"), "{bad}");
        }
    }

    #[test]
    fn the_webhook_schedule_is_the_protocols_unless_scaled_down_for_tests() {
        let with = |scale: &str| config_with(&[("WEBHOOK_RETRY_SCALE", scale), ("WEBHOOK_TIMEOUT_S", "2")]);
        let default = config_with(&[]).unwrap().webhooks;
        assert_eq!((default.scale, default.answer_timeout_ms), (1.0, 10_000));
        let fast = with("0.001").unwrap().webhooks;
        assert_eq!((fast.scale, fast.answer_timeout_ms), (0.001, 2_000));
        assert!(with("2").unwrap_err().0.starts_with("WEBHOOK_RETRY_SCALE"));
        assert!(with("0").is_err());
    }

    #[test]
    fn a_missing_secret_is_an_error() {
        assert!(Config::from_lookup(|_| None).is_err());
    }

    #[test]
    fn a_var_out_of_range_is_an_error() {
        let err = config_with(&[("REGION_RES", "16")]).unwrap_err();
        assert!(err.0.starts_with("REGION_RES"));
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let config = config_with(&[("JWT_SECRET", "hunter2"), ("WEBHOOK_SECRET", "swordfish")]).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("swordfish"));
    }
}
