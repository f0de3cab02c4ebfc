//! `RegionDo`: one per dispatch region (`region/{h3 cell}`). Holds its
//! drivers' hibernatable sockets and a spatial index of their positions;
//! answers candidate and nearby queries; delivers frames from Ride DOs.

use std::cell::RefCell;

use worker::{
    wasm_bindgen, Date, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

use super::attachment::{evict_oldest, read_frame, Attachment};
use super::region_dispatch::{self, DISPATCHER_TAG};
use super::region_sockets::{self as sockets, driver_tag, DriverSocket, DRIVER_TAG};
use super::socket_reply::{reply, socket_id};
use crate::core::commitments::AttachAnswer;
use crate::core::dispatch::CandidateQuery;
use crate::core::driver_index::{DriverIndex, Eligibility};
use crate::core::protocol::{DispatchOutbound, DriverInbound, DriverOutbound};
use crate::core::socket_rules::RateLimiter;
use crate::core::stats::RegionFigures;
use crate::driver_rpc::{self, calls, AttachRequest, DetachRequest};
use crate::error::AppError;
use crate::region_rpc::{
    DeliverBatch, Delivered, DriverConnect, DriverDelivery, DriverLookup, DriverSockets, NearbyDriver, NearbyQuery,
    RegionCall, CONNECT_HEADER,
};

/// Seconds between the heartbeats a driver app should send (`ping`).
pub const HEARTBEAT_S: u32 = 30;

/// The Durable Object of one dispatch region.
#[worker::durable_object]
pub struct RegionDo {
    state: State,
    env: Env,
    /// The spatial index, rebuilt from socket attachments after hibernation.
    index: RefCell<Option<DriverIndex>>,
    /// The region's H3 cell, once known (it names the stats row).
    cell: RefCell<Option<String>>,
}

impl DurableObject for RegionDo {
    fn new(state: State, env: Env) -> Self {
        RegionDo { state, env, index: RefCell::new(None), cell: RefCell::new(None) }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        Ok(self.serve(req).await.unwrap_or_else(AppError::into_response))
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        if self.state.get_tags(&ws).iter().any(|tag| tag == DISPATCHER_TAG) {
            region_dispatch::on_message(self, &ws, message, now_ms()).await;
        } else {
            self.on_message(ws, message).await;
        }
        Ok(())
    }

    async fn websocket_close(&self, ws: WebSocket, _code: usize, _reason: String, _clean: bool) -> Result<()> {
        self.on_gone(&ws).await;
        Ok(())
    }

    async fn websocket_error(&self, ws: WebSocket, _error: worker::Error) -> Result<()> {
        self.on_gone(&ws).await;
        Ok(())
    }

    async fn alarm(&self) -> Result<Response> {
        super::token_expiry::close_expired(&self.state, now_ms()).await;
        Response::empty()
    }
}

impl RegionDo {
    async fn serve(&self, mut req: Request) -> std::result::Result<Response, AppError> {
        let call =
            RegionCall::from_path(&req.path()).ok_or_else(|| AppError::NotFound("no such region call".into()))?;
        match call {
            RegionCall::ConnectDriver => self.connect_driver(&req).await,
            RegionCall::ConnectDispatcher => region_dispatch::connect(self, &req, now_ms()).await,
            RegionCall::DriverFrames => {
                let delivery: DriverDelivery = serde_json::from_slice(&req.bytes().await?)?;
                let sockets = super::region_delivery::deliver_driver_frames(&self.state, &delivery)?;
                let busy = delivery.busy_ride.is_some();
                let changed = !sockets.is_empty()
                    && self.with_index(|index| index.get(&delivery.driver_id).is_some_and(|d| d.busy != busy));
                if changed {
                    self.with_index(|index| index.set_busy(&delivery.driver_id, busy));
                    self.report_stats(None).await;
                }
                json(&DriverSockets { sockets })
            }
            RegionCall::Candidates => {
                let query: CandidateQuery = serde_json::from_slice(&req.bytes().await?)?;
                let radius_m = query.radius_km * 1000.0;
                let found = self.with_index(|index| {
                    index.nearest(query.at, radius_m, query.limit as usize, Eligibility::OfferableOnly, &query.exclude)
                });
                json(&found)
            }
            RegionCall::Nearby => {
                let query: NearbyQuery = serde_json::from_slice(&req.bytes().await?)?;
                let found = self.with_index(|index| {
                    index.nearest(query.at, query.radius_m, query.limit as usize, Eligibility::Any, &[])
                });
                let named: Vec<NearbyDriver> = found
                    .into_iter()
                    .map(|candidate| {
                        let name = sockets::sockets_of(&self.state, &candidate.driver_id)
                            .into_iter()
                            .next()
                            .map_or_else(|| candidate.driver_id.clone(), |(_, s)| s.name);
                        NearbyDriver { candidate, name }
                    })
                    .collect();
                json(&named)
            }
            RegionCall::Driver => {
                let lookup: DriverLookup = serde_json::from_slice(&req.bytes().await?)?;
                json(&self.with_index(|index| index.get(&lookup.driver_id).cloned()))
            }
            RegionCall::Deliver => {
                let batch: DeliverBatch = serde_json::from_slice(&req.bytes().await?)?;
                for feed in &batch.feed {
                    region_dispatch::ride_feed(&self.state, feed).await?;
                }
                let reached = super::region_delivery::deliver_offers(&self.state, &batch, |driver_id| {
                    self.with_index(|index| index.get(driver_id).is_some_and(|d| d.busy))
                });
                json(&Delivered { reached })
            }
        }
    }

    /// Accepts a driver's socket handed over by the Worker, then asks its
    /// Driver DO what it is owed (open offers, the active ride) and whether
    /// it is busy. Until that answer the driver is not offered rides here.
    async fn connect_driver(&self, req: &Request) -> std::result::Result<Response, AppError> {
        let header =
            req.headers().get(CONNECT_HEADER)?.ok_or_else(|| AppError::InvalidRequest("no identity".into()))?;
        let connect: DriverConnect = serde_json::from_str(&header)?;
        self.remember_cell(&connect.region).await?;
        let now = now_ms();
        let others = sockets::sockets_of(&self.state, &connect.driver_id);
        let available = others.first().is_none_or(|(_, s)| s.available);
        let busy_ride = others.first().and_then(|(_, s)| s.busy_ride.clone());
        let pair = WebSocketPair::new()?;
        let tag = driver_tag(&connect.driver_id);
        self.state.accept_websocket_with_tags(&pair.server, &[DRIVER_TAG, tag.as_str()]);
        let socket = DriverSocket {
            socket_id: socket_id()?,
            driver_id: connect.driver_id.clone(),
            name: connect.name.clone(),
            exp_s: connect.exp_s,
            opened_at: now,
            location: connect.location,
            location_at: now,
            available,
            busy_ride: busy_ride.clone(),
            limiter: RateLimiter::new(now),
            relayed_at: 0,
            viewing: Vec::new(),
        };
        socket.save(&pair.server)?;
        evict_oldest(&others);
        self.with_index(|index| {
            index.upsert(&connect.driver_id, connect.location, available);
            // Not offerable until the Driver DO says whether it is busy.
            index.set_busy(&connect.driver_id, true);
        });
        let hello = DriverOutbound::Connected {
            driver_id: connect.driver_id.clone(),
            region: connect.region.clone(),
            heartbeat_s: HEARTBEAT_S,
        };
        reply(&pair.server, &hello, None);
        let attach = AttachRequest { socket_id: socket.socket_id.clone(), region: connect.region.clone() };
        let answer = driver_rpc::call::<calls::Attach>(&self.env, &connect.driver_id, attach).await;
        self.attached(&pair.server, socket, answer);
        if others.is_empty() {
            let online =
                DispatchOutbound::DriverOnline { driver_id: connect.driver_id.clone(), location: connect.location };
            region_dispatch::broadcast(&self.state, &online);
        }
        super::token_expiry::schedule(&self.state, connect.exp_s).await?;
        self.report_stats(None).await;
        Ok(Response::from_websocket(pair.client)?)
    }

    /// The Driver DO's answer to a new socket: the busy mark and the frames
    /// it is owed. Without an answer the socket is closed (1011): the app
    /// reconnects rather than run without its commitments.
    fn attached(&self, ws: &WebSocket, mut socket: DriverSocket, answer: std::result::Result<AttachAnswer, AppError>) {
        let answer = match answer {
            Ok(answer) => answer,
            Err(err) => {
                worker::console_error!("driver {} could not attach: {err}", socket.driver_id);
                sockets::close(ws, 1011, "commitments unavailable; reconnect");
                return;
            }
        };
        socket.busy_ride.clone_from(&answer.busy_ride);
        if let Err(err) = socket.save(ws) {
            worker::console_error!("saving a driver's busy mark failed: {err}");
        }
        self.with_index(|index| index.set_busy(&socket.driver_id, answer.busy_ride.is_some()));
        for frame in &answer.frames {
            sockets::send(ws, frame);
        }
    }

    async fn on_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) {
        let Some(mut socket) = DriverSocket::of(&ws) else {
            sockets::close(&ws, 1011, "socket state lost; reconnect");
            return;
        };
        let now = now_ms();
        let Some(inbound) = read_frame::<_, DriverInbound>(&ws, &mut socket, message, now) else { return };
        super::region_driver_messages::handle(self, &ws, socket, inbound.message, inbound.req_id, now).await
    }

    /// A socket closed or failed: the driver goes offline once its last socket is gone.
    async fn on_gone(&self, ws: &WebSocket) {
        let _ = ws.close(Some(1000), Some("closed"));
        if let Some(gone) = region_dispatch::DispatcherSocket::of(ws).filter(|_| DriverSocket::of(ws).is_none()) {
            return self.report_stats(Some(gone.id())).await;
        }
        let Some(gone) = DriverSocket::of(ws) else { return };
        let detach = DetachRequest { socket_id: gone.socket_id.clone() };
        if let Err(err) = driver_rpc::call::<calls::Detach>(&self.env, &gone.driver_id, detach).await {
            worker::console_error!("telling driver {} its socket closed failed: {err}", gone.driver_id);
        }
        let others: Vec<DriverSocket> = sockets::sockets_of(&self.state, &gone.driver_id)
            .into_iter()
            .map(|(_, s)| s)
            .filter(|s| s.socket_id != gone.socket_id)
            .collect();
        for ride_id in gone.viewing.iter().filter(|r| !others.iter().any(|s| s.viewing.contains(r))) {
            super::region_driver_messages::stop_viewing(self, &gone.driver_id, ride_id).await;
        }
        if others.is_empty() && self.with_index(|index| index.remove(&gone.driver_id)).is_some() {
            let offline = DispatchOutbound::DriverOffline { driver_id: gone.driver_id.clone() };
            region_dispatch::broadcast(&self.state, &offline);
        }
        self.report_stats(Some(&gone.socket_id)).await;
    }

    /// Remembers the region's cell (the first connect tells it).
    pub(crate) async fn remember_cell(&self, cell: &str) -> std::result::Result<(), AppError> {
        if self.cell.borrow().is_some() {
            return Ok(());
        }
        if self.state.storage().get::<String>(CELL_KEY).await?.is_none() {
            self.state.storage().put(CELL_KEY, cell).await?;
        }
        *self.cell.borrow_mut() = Some(cell.to_string());
        Ok(())
    }

    /// The region's H3 cell, once a socket told it.
    pub(crate) async fn cell(&self) -> Option<String> {
        if let Some(cell) = self.cell.borrow().clone() {
            return Some(cell);
        }
        let stored = self.state.storage().get::<String>(CELL_KEY).await.ok().flatten();
        self.cell.borrow_mut().clone_from(&stored);
        stored
    }

    /// Writes the region's socket and driver figures for `GET /v1/stats`;
    /// `closing` is a socket id no longer to count. A failure is logged.
    pub(crate) async fn report_stats(&self, closing: Option<&str>) {
        let Some(cell) = self.cell().await else { return };
        let open = |tag: &str| {
            self.state
                .get_websockets_with_tag(tag)
                .iter()
                .filter(|ws| closing.is_none_or(|id| socket_id_of(ws).as_deref() != Some(id)))
                .count() as u32
        };
        let (drivers, dispatchers) = (open(DRIVER_TAG), open(DISPATCHER_TAG));
        let figures = self.with_index(|index| RegionFigures::of(index, drivers, dispatchers));
        let written = match self.env.d1(crate::db::BINDING) {
            Ok(db) => crate::db::stats::save_region(&db, &cell, &figures, now_ms()).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = written {
            worker::console_error!("could not record region stats: {err}");
        }
    }

    /// Runs `f` on the index, rebuilding it from the sockets after a wake-up.
    pub(crate) fn with_index<R>(&self, f: impl FnOnce(&mut DriverIndex) -> R) -> R {
        let mut slot = self.index.borrow_mut();
        let index = slot.get_or_insert_with(|| rebuild_index(&self.state));
        f(index)
    }

    /// The deployment's config.
    pub(crate) fn config(&self) -> std::result::Result<crate::config::Config, AppError> {
        crate::api::config(&self.env)
    }

    /// The DO's state.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// The DO's bindings.
    pub(crate) fn env(&self) -> &Env {
        &self.env
    }
}

/// The index from the attachments of every open driver socket: the latest
/// reported position of each driver wins.
fn rebuild_index(state: &State) -> DriverIndex {
    let mut latest: std::collections::HashMap<String, DriverSocket> = std::collections::HashMap::new();
    for ws in state.get_websockets_with_tag(DRIVER_TAG) {
        if let Some(socket) = DriverSocket::of(&ws) {
            match latest.get(&socket.driver_id) {
                Some(known) if known.location_at >= socket.location_at => {}
                _ => {
                    latest.insert(socket.driver_id.clone(), socket);
                }
            }
        }
    }
    let mut index = DriverIndex::new();
    for socket in latest.values() {
        index.upsert(&socket.driver_id, socket.location, socket.available);
        index.set_busy(&socket.driver_id, socket.busy_ride.is_some());
    }
    index
}

/// Storage key of the region's cell.
const CELL_KEY: &str = "cell";

/// The `socket_id` of any socket's attachment.
fn socket_id_of(ws: &WebSocket) -> Option<String> {
    let json = ws.deserialize_attachment::<String>().ok()??;
    serde_json::from_str::<serde_json::Value>(&json).ok()?.get("socket_id")?.as_str().map(str::to_string)
}

fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn json<T: serde::Serialize>(value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?)
}
