//! Carries out the per-client rate limits of `core::rate_limit` with the
//! platform's rate limiting bindings: a refused request is 429
//! `rate_limited` with `Retry-After`, before any work is done for it.

use worker::Env;

use crate::core::rate_limit::{limit_key, retry_after_s, Limiter};
use crate::error::AppError;

/// Counts one request of `sub` against `limiter`; 429 when it is over.
/// A binding that is missing or fails lets the request through (logged):
/// the limits protect the service, they must not take it down.
pub async fn admit(env: &Env, limiter: Limiter, sub: &str, now_ms: i64) -> Result<(), AppError> {
    let binding = match env.rate_limiter(limiter.binding()) {
        Ok(binding) => binding,
        Err(err) => {
            worker::console_error!("rate limiter {} unavailable: {err}", limiter.binding());
            return Ok(());
        }
    };
    match binding.limit(limit_key(sub)).await {
        Ok(outcome) if !outcome.success => Err(AppError::RateLimited {
            message: limiter.refusal().to_string(),
            retry_after_s: retry_after_s(limiter.period_s(), now_ms),
        }),
        Ok(_) => Ok(()),
        Err(err) => {
            worker::console_error!("rate limiter {} failed: {err}", limiter.binding());
            Ok(())
        }
    }
}
