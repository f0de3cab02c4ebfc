//! Token expiry on live sockets: when a socket's token `exp` passes, the
//! server sends `token_expired` and closes with 4001, unless the client
//! refreshed it. Driven by the DO's one alarm.

use worker::js_sys::Date;
use worker::wasm_bindgen::JsValue;
use worker::{Env, ScheduledTime, State, WebSocket};

use crate::auth;
use crate::core::identity::Caller;
use crate::core::protocol::{to_frame, DriverOutbound};
use crate::core::socket_rules::{refresh_allowed, token_deadline_ms, token_expired, CLOSE_TOKEN_EXPIRED};
use crate::error::AppError;

/// Makes sure the alarm rings no later than `at_ms`.
pub async fn wake_by(state: &State, at_ms: i64) -> Result<(), AppError> {
    wake_by_storage(&state.storage(), at_ms).await
}

/// Makes sure the alarm of `storage` rings no later than `at_ms`.
pub async fn wake_by_storage(storage: &worker::Storage, at_ms: i64) -> Result<(), AppError> {
    match storage.get_alarm().await? {
        Some(current) if current <= at_ms => Ok(()),
        // An absolute time: `set_alarm(i64)` would take the number as an offset from now.
        _ => Ok(storage.set_alarm(ScheduledTime::new(Date::new(&JsValue::from_f64(at_ms as f64)))).await?),
    }
}

/// Makes sure the alarm rings when a token of `exp_s` expires.
pub async fn schedule(state: &State, exp_s: i64) -> Result<(), AppError> {
    wake_by(state, token_deadline_ms(exp_s)).await
}

/// `refresh_token` on a socket of `sub` and `role`: the new token's `exp`
/// (alarm rescheduled, `token_refreshed` sent), or an `unauthorized` error
/// frame, the socket keeping its old token.
pub async fn refresh(
    env: &Env,
    state: &State,
    ws: &WebSocket,
    holder: Caller,
    token: &str,
    now_ms: i64,
    req: Option<&str>,
) -> Option<i64> {
    let Some(secret) = crate::api::lookup(env, "JWT_SECRET") else {
        super::socket_reply::error(ws, "internal", "the server has no token secret", req);
        return None;
    };
    let verified = match auth::verify(token, secret.as_bytes(), now_ms.div_euclid(1000)) {
        Ok(verified) if refresh_allowed(&holder, &verified.caller) => verified,
        Ok(_) => {
            super::socket_reply::error(ws, "unauthorized", "the new token must be for the same sub and role", req);
            return None;
        }
        Err(err) => {
            super::socket_reply::error(ws, "unauthorized", &err.to_string(), req);
            return None;
        }
    };
    if let Err(err) = schedule(state, verified.expires_at_s).await {
        worker::console_error!("could not reschedule token expiry: {err}");
    }
    let frame =
        serde_json::json!({ "type": "token_refreshed", "expires_at": token_deadline_ms(verified.expires_at_s) });
    super::socket_reply::reply(ws, &frame, req);
    Some(verified.expires_at_s)
}

/// Closes every socket whose token has expired; returns the next expiry (ms).
pub async fn close_expired(state: &State, now_ms: i64) -> Option<i64> {
    close_expired_sockets(state, now_ms, None).await.1
}

/// Closes every socket whose token has expired; returns those sockets (a
/// client that never answers the close gets no close event, so the caller
/// may have to treat them as gone) and the next expiry (ms).
/// With a `memo`, a socket it remembers is read from it, not its attachment.
pub async fn close_expired_sockets(
    state: &State,
    now_ms: i64,
    memo: Option<&super::socket_memo::SocketMemo>,
) -> (Vec<WebSocket>, Option<i64>) {
    let mut next: Option<i64> = None;
    let mut closed = Vec::new();
    // A socket already closing is not closed again (nor reported twice).
    for ws in state.get_websockets().into_iter().filter(super::socket_pipeline::is_open) {
        let header = memo.and_then(|memo| memo.header(&ws)).or_else(|| super::socket_pipeline::header_of(&ws));
        let Some(exp) = header.filter(|h| !h.closed).map(|h| h.exp_s) else {
            continue;
        };
        let exp_ms = token_deadline_ms(exp);
        if token_expired(exp, now_ms) {
            let _ = ws.send_with_str(to_frame(&DriverOutbound::TokenExpired, None));
            super::socket_reply::close(&ws, CLOSE_TOKEN_EXPIRED, "token expired");
            closed.push(ws);
        } else {
            next = Some(next.map_or(exp_ms, |n| n.min(exp_ms)));
        }
    }
    if let Some(at) = next {
        if let Err(err) = wake_by(state, at).await {
            worker::console_error!("could not set the token expiry alarm: {err}");
        }
    }
    (closed, next)
}
