//! The two socket kinds a Region DO holds, through the one socket pipeline:
//! driver sockets (their attachment keeps the driver's facts, see
//! `core::region::DriverFacts`) and dispatch sockets (a dispatcher's
//! console). Opening one, and each frame, become inputs of the region core.
//! Also the runtime's keepalive answer for driver sockets.

use worker::js_sys::{Date, Function, Reflect};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::{DurableObjectState, WebSocketRequestResponsePair};
use worker::{Request, Response, WebSocket, WebSocketIncomingMessage};

use super::region::RegionDo;
use super::socket_pipeline::{self as pipeline, Frame, NoFacts, SocketKind};
use crate::core::heartbeat::{KEEPALIVE_REQUEST, KEEPALIVE_RESPONSE};
use crate::core::identity::Role;
use crate::core::protocol::{DispatcherInbound, DriverInbound};
use crate::core::region::{DriverFacts, RegionInput};
use crate::error::AppError;
use crate::region_rpc::{DispatcherConnect, DriverConnect, CONNECT_HEADER};

/// The driver socket kind.
pub struct DriverKind;

impl SocketKind for DriverKind {
    type Facts = DriverFacts;
    type Inbound = DriverInbound;
    const TAG: &'static str = "driver";
    const SUB_TAG: &'static str = "driver:";
}

/// The dispatch socket kind: a dispatcher's console watching the region.
pub struct DispatcherKind;

impl SocketKind for DispatcherKind {
    type Facts = NoFacts;
    type Inbound = DispatcherInbound;
    const TAG: &'static str = "dispatcher";
    const SUB_TAG: &'static str = "dispatcher:";
}

/// Accepts a driver's socket handed over by the Worker; the core sends
/// `connected` and asks its Driver DO what it is owed before offering it
/// anything (answered before the socket goes back to the Worker).
pub async fn connect_driver(region: &RegionDo, req: &Request, now: i64) -> Result<Response, AppError> {
    let connect: DriverConnect = pipeline::identity(req, CONNECT_HEADER)?;
    region.load().await?;
    let facts = DriverFacts::new(&connect.name, connect.location, now);
    let holder = (connect.driver_id.as_str(), Role::Driver);
    let opened =
        pipeline::open::<DriverKind>(region.state(), Some(region.memo()), holder, connect.exp_s, now, facts).await?;
    let (socket_id, evicted) = (opened.socket_id, opened.evicted);
    let DriverConnect { driver_id, name, location, region: cell, .. } = connect;
    region.run(RegionInput::DriverOpened { socket_id, driver_id, name, location, cell, evicted }).await?;
    Ok(Response::from_websocket(opened.client)?)
}

/// Accepts a dispatcher's socket; the core sends the region's snapshot.
pub async fn connect_dispatcher(region: &RegionDo, req: &Request, now: i64) -> Result<Response, AppError> {
    let connect: DispatcherConnect = pipeline::identity(req, CONNECT_HEADER)?;
    region.load().await?;
    let holder = (connect.sub.as_str(), Role::Dispatcher);
    let opened =
        pipeline::open::<DispatcherKind>(region.state(), Some(region.memo()), holder, connect.exp_s, now, NoFacts {})
            .await?;
    region.run(RegionInput::DispatcherOpened { socket_id: opened.socket_id, cell: connect.region }).await?;
    super::kept_notifications::send_kept(region.env(), &opened.server, &connect.sub, now).await;
    Ok(Response::from_websocket(opened.client)?)
}

/// One frame through the pipeline: the core's input it makes, if any (a
/// driver's message, or a socket the pipeline closed).
pub async fn on_frame(
    region: &RegionDo,
    ws: &WebSocket,
    message: WebSocketIncomingMessage,
    now: i64,
) -> Option<RegionInput> {
    let (env, state, memo) = (region.env(), region.state(), Some(region.memo()));
    if pipeline::is_kind::<DispatcherKind>(state, memo, ws) {
        return match pipeline::on_frame::<DispatcherKind>(env, state, memo, ws, message, now).await {
            Frame::Closed(Some(header)) => Some(RegionInput::DispatcherGone { socket_id: header.socket_id }),
            Frame::Message { .. } | Frame::Done | Frame::Closed(None) => None,
        };
    }
    match pipeline::on_frame::<DriverKind>(env, state, memo, ws, message, now).await {
        Frame::Message { header, req_id, message } => {
            Some(RegionInput::DriverMessage { socket_id: header.socket_id, req_id, message })
        }
        Frame::Closed(Some(header)) => Some(RegionInput::DriverGone { socket_id: header.socket_id }),
        Frame::Done | Frame::Closed(None) => None,
    }
}

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
