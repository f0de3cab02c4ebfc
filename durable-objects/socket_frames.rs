//! One client frame through the socket pipeline: heard, rate limited,
//! read, parsed; `ping` and `refresh_token` answered here, anything else
//! handed to the socket's kind. With a [`SocketMemo`] the header stays in
//! memory between frames and goes into the attachment only now and then.

use serde::de::DeserializeOwned;
use serde::Serialize;
use worker::{Env, State, WebSocket, WebSocketIncomingMessage};

use super::socket_memo::SocketMemo;
use super::socket_pipeline::{is_open, recall, Attached, SocketKind};
use super::socket_reply::{admit, close, frame_error, frame_text, reply, FrameText};
use super::token_expiry;
use crate::core::protocol::parse_frame;
use crate::core::socket_rules::{Admission, CommonMessage, SocketHeader, SocketMessage};

/// What became of one client frame.
pub enum Frame<M> {
    /// A message for the kind to handle, with the socket's header.
    Message {
        /// The socket's header.
        header: SocketHeader,
        /// The frame's `req_id`, to echo on direct replies.
        req_id: Option<String>,
        /// The message.
        message: M,
    },
    /// Nothing left to do: answered here (`ping`, `refresh_token`), dropped or refused.
    Done,
    /// The pipeline closed the socket (a flood, a frame too large, its
    /// attachment lost); its header, when it could be read.
    Closed(Option<SocketHeader>),
}

/// Takes one frame of a socket of kind `K` through the pipeline.
pub async fn on_frame<K: SocketKind>(
    env: &Env,
    state: &State,
    memo: Option<&SocketMemo>,
    ws: &WebSocket,
    message: WebSocketIncomingMessage,
    now_ms: i64,
) -> Frame<K::Inbound> {
    let Some((mut header, mut attached)) = recall::<K>(ws, memo) else {
        close(ws, 1011, "socket state lost; reconnect");
        return Frame::Closed(None);
    };
    if header.closed || !is_open(ws) {
        return Frame::Done; // a client still sending after the server closed it
    }
    // Any frame is heard, even one dropped or refused below; written into
    // the attachment before a close marks it, and now and then otherwise.
    header.heard(now_ms);
    let admission = header.limiter.admit(now_ms);
    let remembered = memo.is_some_and(|memo| !memo.update(&header));
    if !remembered || admission != Admission::Admit {
        save_header::<K::Facts>(ws, attached.take(), &header);
        if let Some(memo) = memo {
            memo.saved(&header);
        }
    }
    let text = match admit(ws, admission) {
        Some(true) => frame_text(ws, message),
        Some(false) => return Frame::Done,
        None => return Frame::Closed(Some(header)),
    };
    let text = match text {
        FrameText::Text(text) => text,
        FrameText::Refused => return Frame::Done,
        FrameText::Closed => return Frame::Closed(Some(header)),
    };
    let inbound = match parse_frame::<K::Inbound>(&text) {
        Ok(inbound) => inbound,
        Err(err) => {
            frame_error(ws, &err);
            return if err.close_code().is_some() { Frame::Closed(Some(header)) } else { Frame::Done };
        }
    };
    let req = inbound.req_id.as_deref();
    match inbound.message.common() {
        Some(CommonMessage::Ping) => reply(ws, &Pong { ts: now_ms }, req),
        Some(CommonMessage::RefreshToken(token)) => {
            if let Some(exp_s) = refresh::<K::Facts>(env, state, ws, &header, token, now_ms, req).await {
                if let Some(memo) = memo {
                    memo.set_exp(&header.socket_id, exp_s);
                }
            }
        }
        None => return Frame::Message { header, req_id: inbound.req_id, message: inbound.message },
    }
    Frame::Done
}

/// Writes a frame's rate limiter and heard time into the socket's
/// attachment (`attached`, when just read; otherwise read now: other events
/// may have changed its facts).
fn save_header<F: Serialize + DeserializeOwned>(ws: &WebSocket, attached: Option<Attached<F>>, header: &SocketHeader) {
    let Some(mut socket) = attached.or_else(|| Attached::<F>::of(ws)) else { return };
    socket.header.limiter = header.limiter.clone();
    socket.header.heard_at = socket.header.heard_at.max(header.heard_at);
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a socket's rate limit and heartbeat failed: {err}");
    }
}

/// `pong`, the answer to `ping` on every socket.
#[derive(Serialize)]
#[serde(tag = "type", rename = "pong")]
struct Pong {
    /// The server's time.
    ts: i64,
}

/// `refresh_token`: a valid token for the same `sub` and role extends the
/// socket's life; the attachment is read again after the check (other
/// events may have changed it meanwhile). The new expiry, once saved.
async fn refresh<F: Serialize + DeserializeOwned>(
    env: &Env,
    state: &State,
    ws: &WebSocket,
    header: &SocketHeader,
    token: &str,
    now_ms: i64,
    req: Option<&str>,
) -> Option<i64> {
    let exp_s = token_expiry::refresh(env, state, ws, header.holder(), token, now_ms, req).await?;
    let mut socket = Attached::<F>::of(ws)?;
    socket.header.exp_s = exp_s;
    if let Err(err) = socket.save(ws) {
        worker::console_error!("saving a refreshed token failed: {err}");
        return None;
    }
    Some(exp_s)
}
