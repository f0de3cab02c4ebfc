//! Token expiry on live sockets: when a socket's token `exp` passes, the
//! server sends `token_expired` and closes with 4001, unless the client
//! refreshed it. Driven by the DO's one alarm.

use worker::State;

use crate::core::protocol::to_frame;
use crate::core::socket_rules::CLOSE_TOKEN_EXPIRED;
use crate::error::AppError;

/// The `exp_s` of a socket's attachment, whatever kind of socket it is.
fn exp_s(ws: &worker::WebSocket) -> Option<i64> {
    let json = ws.deserialize_attachment::<String>().ok()??;
    serde_json::from_str::<serde_json::Value>(&json).ok()?.get("exp_s")?.as_i64()
}

/// Makes sure the alarm rings no later than `at_ms`.
pub async fn wake_by(state: &State, at_ms: i64) -> Result<(), AppError> {
    wake_by_storage(&state.storage(), at_ms).await
}

/// Makes sure the alarm of `storage` rings no later than `at_ms`.
pub async fn wake_by_storage(storage: &worker::Storage, at_ms: i64) -> Result<(), AppError> {
    match storage.get_alarm().await? {
        Some(current) if current <= at_ms => Ok(()),
        _ => Ok(storage.set_alarm(at_ms).await?),
    }
}

/// Makes sure the alarm rings when a token of `exp_s` expires.
pub async fn schedule(state: &State, exp_s: i64) -> Result<(), AppError> {
    wake_by(state, exp_s.saturating_mul(1000)).await
}

/// Closes every socket whose token has expired; returns the next expiry (ms).
pub async fn close_expired(state: &State, now_ms: i64) -> Option<i64> {
    let mut next: Option<i64> = None;
    for ws in state.get_websockets() {
        let Some(exp) = exp_s(&ws) else { continue };
        let exp_ms = exp.saturating_mul(1000);
        if exp_ms <= now_ms {
            let _ = ws.send_with_str(to_frame(&serde_json::json!({ "type": "token_expired" }), None));
            let _ = ws.close(Some(CLOSE_TOKEN_EXPIRED), Some("token expired"));
        } else {
            next = Some(next.map_or(exp_ms, |n| n.min(exp_ms)));
        }
    }
    if let Some(at) = next {
        if let Err(err) = wake_by(state, at).await {
            worker::console_error!("could not set the token expiry alarm: {err}");
        }
    }
    next
}
