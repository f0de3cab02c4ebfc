//! `RegionDo`: one per dispatch region (`region/{h3 cell}`). Holds its
//! drivers' hibernatable sockets and a spatial index of their positions;
//! answers candidate and nearby queries; delivers frames from Ride DOs.

use std::cell::RefCell;

use worker::{
    wasm_bindgen, Date, DurableObject, Env, Request, Response, Result, State, WebSocket, WebSocketIncomingMessage,
    WebSocketPair,
};

use super::attachment::{evict_oldest, read_frame, Attachment};
use super::region_dispatch::{self, DispatcherKind};
use super::region_heartbeat::Keepalive;
use super::region_sockets::{self as sockets, driver_tag, DriverSocket, DRIVER_TAG};
use super::socket_pipeline as pipeline;
use super::socket_reply::{reply, socket_id};
use crate::core::dispatch::CandidateQuery;
use crate::core::driver_index::{DriverIndex, Eligibility};
use crate::core::heartbeat::DEFAULT_HEARTBEAT_S;
use crate::core::protocol::{DispatchOutbound, DriverInbound, DriverOutbound};
use crate::core::socket_rules::RateLimiter;
use crate::driver_rpc::{self, calls, AttachRequest};
use crate::error::AppError;
use crate::region_rpc::{
    DeliverBatch, Delivered, DriverConnect, DriverDelivery, DriverLookup, DriverSockets, NearbyDriver, NearbyQuery,
    RegionCall, CONNECT_HEADER,
};

/// The Durable Object of one dispatch region.
#[worker::durable_object]
pub struct RegionDo {
    state: State,
    env: Env,
    /// The spatial index, rebuilt from socket attachments after hibernation.
    index: RefCell<Option<DriverIndex>>,
    /// The region's H3 cell, once known (it names the stats row).
    cell: RefCell<Option<String>>,
    /// The keepalive the runtime answers for the driver sockets.
    keepalive: Keepalive,
}

impl DurableObject for RegionDo {
    fn new(state: State, env: Env) -> Self {
        // worker 0.8.7 binds neither a fallible auto-response setter nor its
        // timestamp: the keepalive works on the runtime's own state object.
        let runtime = state._inner();
        let keepalive = Keepalive::install(&runtime);
        let state = State::from(runtime);
        RegionDo { state, env, index: RefCell::new(None), cell: RefCell::new(None), keepalive }
    }

    async fn fetch(&self, req: Request) -> Result<Response> {
        Ok(self.serve(req).await.unwrap_or_else(AppError::into_response))
    }

    async fn websocket_message(&self, ws: WebSocket, message: WebSocketIncomingMessage) -> Result<()> {
        if pipeline::is_kind::<DispatcherKind>(&self.state, &ws) {
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
        let now = now_ms();
        // Driver sockets closed here go offline now: a dead client never answers the close.
        let (expired, _) = super::token_expiry::close_expired_sockets(&self.state, now).await;
        let expired: Vec<DriverSocket> = expired.iter().filter_map(DriverSocket::of).collect();
        let mut closed: Vec<String> = expired.iter().map(|s| s.socket_id.clone()).collect();
        for gone in &expired {
            sockets::gone(self, gone, &closed).await;
        }
        closed.extend(super::region_heartbeat::close_silent(self, now).await);
        self.renew_stats(&closed).await;
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
                // Frames first: the feed's storage writes stay off the path to the drivers.
                let mut marked = false;
                let taken = super::region_delivery::deliver_offers(
                    &self.state,
                    &batch,
                    |driver_id| self.with_index(|index| index.get(driver_id).is_some_and(|d| d.busy)),
                    |driver_id, busy| {
                        self.with_index(|index| index.set_busy(driver_id, busy));
                        marked = true;
                    },
                );
                for feed in &batch.feed {
                    region_dispatch::ride_feed(&self.state, feed).await?;
                }
                if marked {
                    self.report_stats(None).await;
                }
                json(&Delivered { taken })
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
        let heartbeat_s = self.heartbeat_s();
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
            heard_at: now,
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
            heartbeat_s,
        };
        reply(&pair.server, &hello, None);
        let attach = AttachRequest { socket_id: socket.socket_id.clone(), region: connect.region.clone() };
        let answer = driver_rpc::call::<calls::Attach>(&self.env, &connect.driver_id, attach).await;
        sockets::attached(self, &pair.server, socket, answer);
        if others.is_empty() {
            let online =
                DispatchOutbound::DriverOnline { driver_id: connect.driver_id.clone(), location: connect.location };
            region_dispatch::broadcast(&self.state, &online);
        }
        super::token_expiry::schedule(&self.state, connect.exp_s).await?;
        super::region_heartbeat::watch(&self.state, now, heartbeat_s).await;
        self.report_stats(None).await;
        Ok(Response::from_websocket(pair.client)?)
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
        if pipeline::is_kind::<DispatcherKind>(&self.state, ws) {
            return self.report_stats(pipeline::header_of(ws).map(|h| h.socket_id).as_deref()).await;
        }
        let Some(gone) = DriverSocket::of(ws) else { return };
        sockets::gone(self, &gone, &[]).await;
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

    /// Runs `f` on the index, rebuilding it from the sockets after a wake-up.
    pub(crate) fn with_index<R>(&self, f: impl FnOnce(&mut DriverIndex) -> R) -> R {
        let mut slot = self.index.borrow_mut();
        let index = slot.get_or_insert_with(|| sockets::rebuild_index(&self.state));
        f(index)
    }

    /// The deployment's config.
    pub(crate) fn config(&self) -> std::result::Result<crate::config::Config, AppError> {
        crate::api::config(&self.env)
    }

    /// Seconds between a driver app's heartbeats (`HEARTBEAT_S`).
    pub(crate) fn heartbeat_s(&self) -> u32 {
        self.config().map_or_else(
            |err| {
                worker::console_error!("config unreadable, heartbeat at its default: {err}");
                DEFAULT_HEARTBEAT_S
            },
            |config| config.heartbeat_s,
        )
    }

    /// The runtime's keepalive answers.
    pub(crate) fn keepalive(&self) -> &Keepalive {
        &self.keepalive
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

/// Storage key of the region's cell.
const CELL_KEY: &str = "cell";

/// The time now (ms).
pub(crate) fn now_ms() -> i64 {
    Date::now().as_millis() as i64
}

fn json<T: serde::Serialize>(value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?)
}
