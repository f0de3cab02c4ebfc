//! `RegionDo`: one per dispatch region (`region/{h3 cell}`), a thin shell
//! around the region core (src/core/region): decode a call or a socket
//! event, hand it to `Region::handle`, carry out the effects
//! (region_effects.rs), feeding the answers of other objects back in. Its
//! sockets are hibernatable: what must survive lives in their attachments
//! and in storage, and the core is rebuilt from them after a wake-up.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::collections::HashSet;

use worker::{Env, ListOptions, Response, State, WebSocket, WebSocketIncomingMessage};

use super::classes::Shell;
use super::do_request::DoRequest;
use super::notify_sockets::notify;
use super::now_ms;
use super::region_sockets::{DispatcherKind, DriverKind, Keepalive};
use super::socket_memo::{heard_save_ms, SocketMemo};
use super::socket_pipeline as pipeline;
use crate::core::heartbeat::DEFAULT_HEARTBEAT_S;
use crate::core::late_driver::SearchWatch;
use crate::core::notifications::{Reached, SocketClass};
use crate::core::protocol::SnapshotRide;
use crate::core::region::{
    CellDemand, Heard, Region, RegionAnswer, RegionInput, RegionSettings, DEFAULT_DEMAND_WINDOW_MS,
};
use crate::do_call::DoCall;
use crate::error::AppError;
use crate::region_rpc::{calls, RegionCall};

/// Storage key of the region's cell.
pub const CELL_KEY: &str = "cell";
/// Storage key prefix of the region's rides.
pub const RIDE_PREFIX: &str = "ride:";
/// Storage key of the demand clocks per cell.
pub const DEMAND_KEY: &str = "demand";
/// Storage key prefix of the searching rides the region watches for late drivers.
pub const WATCH_PREFIX: &str = "search-watch:";
/// `REGION_RES` when the config cannot be read (its default).
const DEFAULT_REGION_RES: u8 = 5;
/// `DISPATCH_RADIUS_KM` when the config cannot be read (its default).
const DEFAULT_RADIUS_KM: f64 = 10.0;
/// Rounds of answers fed back into the core per event, at most.
const MAX_ROUNDS: usize = 4;

/// The Durable Object of one dispatch region.
pub struct RegionDo {
    state: State,
    env: Env,
    /// The core, rebuilt from the sockets and storage after a wake-up.
    core: RefCell<Option<Region>>,
    /// The keepalive the runtime answers for the driver sockets.
    keepalive: Keepalive,
    /// The sockets' headers between frames.
    memo: SocketMemo,
}

impl Shell for RegionDo {
    fn create(state: State, env: Env) -> Self {
        // worker 0.8.7 binds neither a fallible auto-response setter nor its
        // timestamp: the keepalive works on the runtime's own state object.
        let runtime = state._inner();
        let keepalive = Keepalive::install(&runtime);
        let state = State::from(runtime);
        let heartbeat_s = crate::api::config(&env).map_or(DEFAULT_HEARTBEAT_S, |config| config.heartbeat_s);
        let memo = SocketMemo::new(heard_save_ms(heartbeat_s));
        RegionDo { state, env, core: RefCell::new(None), keepalive, memo }
    }

    async fn fetch(&self, req: DoRequest) -> Response {
        self.serve(req).await.unwrap_or_else(AppError::into_response)
    }

    async fn message(&self, ws: WebSocket, message: WebSocketIncomingMessage) {
        // The core first: a socket the pipeline closes must be one it knows.
        self.load_logged().await;
        let now = now_ms();
        if let Some(input) = super::region_sockets::on_frame(self, &ws, message, now).await {
            self.run_logged(input, now).await;
        }
    }

    async fn gone(&self, ws: WebSocket) {
        self.on_gone(&ws).await;
    }

    /// Token expiry (the socket pipeline's), then the core's tick: the
    /// heartbeat and the stats renewal.
    async fn alarm(&self) {
        self.load_logged().await;
        let now = now_ms();
        let (expired, _) = super::token_expiry::close_expired_sockets(&self.state, now, Some(&self.memo)).await;
        for ws in &expired {
            if let Some(input) = self.gone_input(ws) {
                self.run_logged(input, now_ms()).await;
            }
        }
        let heard: Vec<Heard> = pipeline::open_headers::<DriverKind>(&self.state, &self.memo)
            .into_iter()
            .map(|(ws, header)| Heard {
                frame_at: header.heard_at,
                socket_id: header.socket_id,
                keepalive_at: self.keepalive.answered_at(&ws),
            })
            .collect();
        let mut open: HashSet<String> = heard.iter().map(|h| h.socket_id.clone()).collect();
        open.extend(
            pipeline::open_sockets::<DispatcherKind>(&self.state, None).into_iter().map(|(_, s)| s.header.socket_id),
        );
        self.memo.keep_only(&open);
        self.run_logged(RegionInput::Tick { heard }, now_ms()).await;
    }
}

impl RegionDo {
    async fn serve(&self, req: DoRequest) -> std::result::Result<Response, AppError> {
        let call = RegionCall::from_path(req.path()).ok_or_else(|| AppError::NotFound("no such region call".into()))?;
        let input = match call {
            RegionCall::ConnectDriver => {
                return super::region_sockets::connect_driver(self, &req.into_worker(), now_ms()).await
            }
            RegionCall::ConnectDispatcher => {
                return super::region_sockets::connect_dispatcher(self, &req.into_worker(), now_ms()).await
            }
            RegionCall::DriverFrames => RegionInput::DriverFrames(decode::<calls::DriverFrames>(&req).await?),
            RegionCall::Candidates => RegionInput::Candidates(decode::<calls::Candidates>(&req).await?),
            RegionCall::Nearby => RegionInput::Nearby(decode::<calls::Nearby>(&req).await?),
            RegionCall::Driver => RegionInput::Driver(decode::<calls::Driver>(&req).await?),
            RegionCall::Deliver => RegionInput::Deliver(decode::<calls::Deliver>(&req).await?),
            RegionCall::Notify => {
                let notification = decode::<calls::Notify>(&req).await?;
                let state = &self.state;
                let sockets = notify::<DriverKind>(state, SocketClass::Driver, &notification)
                    + notify::<DispatcherKind>(state, SocketClass::Dispatcher, &notification);
                return json(&Reached { sockets });
            }
            RegionCall::Watch => {
                self.run(RegionInput::Watch(decode::<calls::Watch>(&req).await?)).await?;
                return json(&crate::do_call::Done {});
            }
            RegionCall::Attached => {
                let body = decode::<calls::Attached>(&req).await?;
                self.run(RegionInput::Attached { socket_id: body.socket_id, answer: body.answer }).await?;
                return json(&crate::do_call::Done {});
            }
        };
        match self.run(input).await? {
            Some(RegionAnswer::Sockets(answer)) => json(&answer),
            Some(RegionAnswer::Candidates(answer)) => json(&answer),
            Some(RegionAnswer::Nearby(answer)) => json(&answer),
            Some(RegionAnswer::Driver(answer)) => json(&answer),
            Some(RegionAnswer::Delivered(answer)) => json(&answer),
            None => Err(AppError::Internal("the region answered nothing".into())),
        }
    }

    /// A socket closed or failed: the core hears it is gone, unless the
    /// server had closed it (it went then).
    async fn on_gone(&self, ws: &WebSocket) {
        // The core first, made while the socket still counts.
        self.load_logged().await;
        if pipeline::closed(ws).is_some_and(|header| !header.closed) {
            if let Some(input) = self.gone_input(ws) {
                self.run_logged(input, now_ms()).await;
            }
        }
        self.memo.forget(ws);
    }

    /// The input saying `ws` is gone, by its kind.
    fn gone_input(&self, ws: &WebSocket) -> Option<RegionInput> {
        let socket_id = pipeline::header_of(ws)?.socket_id;
        if pipeline::is_kind::<DispatcherKind>(&self.state, Some(&self.memo), ws) {
            Some(RegionInput::DispatcherGone { socket_id })
        } else {
            Some(RegionInput::DriverGone { socket_id })
        }
    }

    /// Hands `input` to the core and carries out the effects, feeding the
    /// answers of other objects back in; returns the answer to the caller.
    pub(crate) async fn run(&self, input: RegionInput) -> std::result::Result<Option<RegionAnswer>, AppError> {
        self.run_at(input, now_ms()).await
    }

    /// [`Self::run`] with the time of the event (read once by the caller);
    /// the answers of other objects are handled at the time they came.
    async fn run_at(&self, input: RegionInput, now: i64) -> std::result::Result<Option<RegionAnswer>, AppError> {
        self.load().await?;
        let mut answer = None;
        let mut inputs = vec![input];
        for round in 0..MAX_ROUNDS {
            let now = if round == 0 { now } else { now_ms() };
            let mut effects = Vec::new();
            for input in inputs.drain(..) {
                let mut slot = self.core.borrow_mut();
                let core = slot.as_mut().ok_or_else(|| AppError::Internal("region core not loaded".into()))?;
                effects.extend(core.handle(input, now));
            }
            inputs = self.carry_out(effects, &mut answer).await;
            if inputs.is_empty() {
                break;
            }
        }
        Ok(answer)
    }

    /// Like [`Self::run`], for events nobody waits on: a failure is logged.
    pub(crate) async fn run_logged(&self, input: RegionInput, now: i64) {
        if let Err(err) = self.run_at(input, now).await {
            worker::console_error!("region event failed: {err}");
        }
    }

    async fn load_logged(&self) {
        if let Err(err) = self.load().await {
            worker::console_error!("region state could not be loaded: {err}");
        }
    }

    /// Makes the core once: after a wake-up, from storage (the cell, the
    /// rides) and the open sockets' attachments.
    pub(crate) async fn load(&self) -> std::result::Result<(), AppError> {
        if self.core.borrow().is_some() {
            return Ok(());
        }
        let storage = self.state.storage();
        let cell = storage.get::<String>(CELL_KEY).await?;
        let mut rides = Vec::new();
        for value in storage.list_with_options(ListOptions::new().prefix(RIDE_PREFIX)).await?.values() {
            if let Some(json) = value.map_err(worker::Error::from)?.as_string() {
                rides.push(serde_json::from_slice::<SnapshotRide>(json.as_bytes())?);
            }
        }
        let drivers = pipeline::open_sockets::<DriverKind>(&self.state, None)
            .into_iter()
            .map(|(_, socket)| (socket.header, socket.facts))
            .collect();
        let dispatchers = pipeline::open_sockets::<DispatcherKind>(&self.state, None)
            .into_iter()
            .map(|(_, socket)| socket.header.socket_id)
            .collect();
        let mut watches = Vec::new();
        for value in storage.list_with_options(ListOptions::new().prefix(WATCH_PREFIX)).await?.values() {
            if let Some(json) = value.map_err(worker::Error::from)?.as_string() {
                watches.push(serde_json::from_slice::<SearchWatch>(json.as_bytes())?);
            }
        }
        let mut region = Region::rebuild(self.settings(), cell, rides, drivers, dispatchers);
        region.restore_watches(watches);
        let demand = storage.get::<String>(DEMAND_KEY).await?;
        if let Some(json) = demand {
            region.restore_demand(serde_json::from_slice::<BTreeMap<String, CellDemand>>(json.as_bytes())?);
        }
        self.core.borrow_mut().get_or_insert(region);
        Ok(())
    }

    fn settings(&self) -> RegionSettings {
        match crate::api::config(&self.env) {
            Ok(config) => config.region(),
            Err(err) => {
                worker::console_error!("config unreadable, region rules at their defaults: {err}");
                RegionSettings {
                    region_res: DEFAULT_REGION_RES,
                    heartbeat_s: DEFAULT_HEARTBEAT_S,
                    radius_km: DEFAULT_RADIUS_KM,
                    demand_window_ms: DEFAULT_DEMAND_WINDOW_MS,
                }
            }
        }
    }

    /// The DO's state.
    pub(crate) fn state(&self) -> &State {
        &self.state
    }

    /// What the DO remembers of its sockets between frames.
    pub(crate) fn memo(&self) -> &SocketMemo {
        &self.memo
    }

    /// The DO's bindings.
    pub(crate) fn env(&self) -> &Env {
        &self.env
    }
}

async fn decode<C: DoCall>(req: &DoRequest) -> std::result::Result<C::Request, AppError> {
    super::decode::<C>(&req.bytes().await?)
}

fn json<T: serde::Serialize>(value: &T) -> std::result::Result<Response, AppError> {
    Ok(Response::from_json(value)?)
}
