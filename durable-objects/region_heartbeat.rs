//! The heartbeat of a Region DO's driver sockets: the runtime answers the
//! keepalive frame without waking the object, and the alarm closes driver
//! sockets silent for 3 × `heartbeat_s` with 4003, their drivers going
//! offline as if they had closed. The rule itself is `core::heartbeat`.

use worker::js_sys::{Date, Function, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::{DurableObjectState, WebSocketRequestResponsePair};
use worker::{State, WebSocket};

use super::region::RegionDo;
use super::region_sockets::{self as sockets, open_driver_sockets, DriverSocket};
use super::token_expiry::wake_by;
use crate::core::heartbeat::{self, last_heard, silent_at, KEEPALIVE_REQUEST, KEEPALIVE_RESPONSE};
use crate::core::socket_rules::CLOSE_SILENT;

/// The runtime's keepalive answering: `{"type":"heartbeat"}` is answered
/// `{"type":"heartbeat_ack"}` by the runtime itself, and the time of its
/// last answer on each socket counts as heard.
pub struct Keepalive {
    /// The object's `DurableObjectState`, as JavaScript sees it.
    runtime: JsValue,
    /// Its `getWebSocketAutoResponseTimestamp`, which worker 0.8.7 does not bind.
    answered_at: Option<Function>,
}

impl Keepalive {
    /// Installs the auto-response on a new object's state (it holds for the
    /// object's life, hibernation included). A failure is logged: `ping`
    /// still keeps sockets open.
    pub fn install(runtime: &DurableObjectState) -> Keepalive {
        match WebSocketRequestResponsePair::new(KEEPALIVE_REQUEST, KEEPALIVE_RESPONSE) {
            Ok(pair) => {
                if let Err(err) = runtime.set_websocket_auto_response(&pair) {
                    worker::console_error!("could not install the keepalive auto-response: {err:?}");
                }
            }
            Err(err) => worker::console_error!("could not make the keepalive auto-response: {err:?}"),
        }
        let runtime: JsValue = AsRef::<JsValue>::as_ref(runtime).clone();
        let answered_at = Reflect::get(&runtime, &JsValue::from_str("getWebSocketAutoResponseTimestamp"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok());
        if answered_at.is_none() {
            worker::console_error!("this runtime has no getWebSocketAutoResponseTimestamp: keepalives will not count");
        }
        Keepalive { runtime, answered_at }
    }

    /// When the runtime last answered a keepalive on `ws` (ms), if ever.
    pub fn answered_at(&self, ws: &WebSocket) -> Option<i64> {
        let socket: &JsValue = ws.as_ref();
        let at = self.answered_at.as_ref()?.call1(&self.runtime, socket).ok()?;
        let ms = at.dyn_into::<Date>().ok()?.get_time();
        ms.is_finite().then_some(ms as i64)
    }
}

/// Makes sure the alarm rings when a driver socket opened at `now_ms` may
/// fall silent; the alarm then follows the sockets' own deadlines.
pub async fn watch(state: &State, now_ms: i64, heartbeat_s: u32) {
    if let Err(err) = wake_by(state, silent_at(now_ms, heartbeat_s)).await {
        worker::console_error!("could not set the heartbeat alarm: {err}");
    }
}

/// The alarm's heartbeat check: closes every silent driver socket with
/// 4003, takes their drivers offline (their clients may never answer the
/// close) and sets the alarm for the next check. Returns the closed ids.
pub async fn close_silent(region: &RegionDo, now_ms: i64) -> Vec<String> {
    let heartbeat_s = region.heartbeat_s();
    let open = open_driver_sockets(region.state());
    let heard: Vec<(usize, i64)> = open
        .iter()
        .enumerate()
        .map(|(i, (ws, s))| (i, last_heard(s.opened_at, s.heard_at, region.keepalive().answered_at(ws))))
        .collect();
    let found = heartbeat::check(&heard, heartbeat_s, now_ms);
    let silent: Vec<&(WebSocket, DriverSocket)> = found.silent.iter().filter_map(|i| open.get(*i)).collect();
    let closing: Vec<String> = silent.iter().map(|(_, s)| s.socket_id.clone()).collect();
    for (ws, socket) in &silent {
        worker::console_log!("driver {} sent nothing for 3 heartbeats: closing its socket", socket.driver_id);
        sockets::close(ws, CLOSE_SILENT, "no heartbeat");
    }
    for (_, socket) in &silent {
        sockets::gone(region, socket, &closing).await;
    }
    if let Some(at) = found.next_check_at {
        if let Err(err) = wake_by(region.state(), at).await {
            worker::console_error!("could not set the heartbeat alarm: {err}");
        }
    }
    closing
}
