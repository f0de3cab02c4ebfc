//! The region core: the rules of one dispatch region (`region/{h3 cell}`),
//! decided without IO or a clock. It owns the region's drivers as their
//! sockets here report them (position, availability, the busy mark, what
//! each socket views), its spatial index, its dispatch sockets and its
//! rides for the dispatch feed.
//!
//! One input at a time: [`Region::handle`] takes a [`RegionInput`] and the
//! time and returns the [`RegionEffect`]s the Region DO carries out, in
//! order. The answers of other objects (a Driver DO's attach, a ride's
//! answer to a driver's command) come back as new inputs, which check they
//! are still current (the socket is still open, say).
//!
//! What must survive hibernation lives in each driver socket's attachment
//! ([`DriverFacts`], saved by [`RegionEffect::SaveFacts`]) and in storage
//! (the cell, the rides, the watches, the demand clocks); [`Region::rebuild`]
//! (with `restore_watches`, `restore_demand`) makes the core again from
//! them after a wake-up.
//!
//! - [`drivers`]: sockets opening and going, the attach answer, location,
//!   availability, hand-off, the heartbeat;
//! - [`commands`]: a driver's commands for a ride and the ride's answers;
//! - [`feed`]: deliveries, queries, dispatch sockets and rides, stats;
//! - [`watches`]: searching rides near the cell, and the late drivers reported to them;
//! - [`demand`]: searching rides against available drivers per finer cell, `high_demand`;
//! - [`messages`]: the inputs and effects; [`wire`]: the calls' bodies.

mod commands;
mod demand;
mod drivers;
mod feed;
mod messages;
mod watches;
mod wire;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

pub use commands::{RideAnswer, RideCall, RideCommand, MAX_VIEWED};
pub use demand::{CellDemand, DEFAULT_DEMAND_WINDOW_MS};
pub use drivers::LOCATION_SAVE_MS;
pub use feed::REPORT_MIN_MS;
pub use messages::{DriverCallOut, Heard, RegionAnswer, RegionEffect, RegionInput};
pub use wire::{
    DeliverBatch, Delivered, Delivery, DriverDelivery, DriverLookup, DriverSockets, NearbyDriver, NearbyQuery, RideFeed,
};

use super::busy_mark::BusyMark;
use super::driver_index::DriverIndex;
use super::geo::LatLng;
use super::protocol::{DriverInbound, SnapshotRide};
use super::region_cells::CellShape;
use super::socket_rules::SocketHeader;
use super::stats::RegionFigures;

/// The deployment's settings a region's rules use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionSettings {
    /// The H3 resolution of a region (`REGION_RES`).
    pub region_res: u8,
    /// Seconds between a driver app's heartbeats (`HEARTBEAT_S`).
    pub heartbeat_s: u32,
    /// The dispatch radius, in km (`DISPATCH_RADIUS_KM`).
    pub radius_km: f64,
    /// How long rides must outnumber drivers before `high_demand`, and the
    /// least time between two alerts of a cell, in ms (`DEMAND_WINDOW_S`).
    pub demand_window_ms: i64,
}

/// What a driver socket keeps in its attachment beside the socket header:
/// the driver as the region knows it, and what this socket views.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverFacts {
    /// Display name.
    pub name: String,
    /// Last reported position.
    pub location: LatLng,
    /// When it was reported.
    pub location_at: i64,
    /// Whether the driver takes offers.
    pub available: bool,
    /// The driver's busy mark (its active ride, while it has one).
    #[serde(default)]
    pub mark: BusyMark,
    /// When this socket's position was last relayed to the active ride.
    #[serde(default)]
    pub relayed_at: i64,
    /// The offered rides this socket is viewing.
    #[serde(default)]
    pub viewing: Vec<String>,
}

impl DriverFacts {
    /// A new socket's facts, before the region decides them.
    pub fn new(name: &str, location: LatLng, now_ms: i64) -> DriverFacts {
        DriverFacts {
            name: name.to_string(),
            location,
            location_at: now_ms,
            available: true,
            mark: BusyMark::default(),
            relayed_at: 0,
            viewing: Vec::new(),
        }
    }
}

/// One driver online here: what its sockets report.
#[derive(Debug, Clone, PartialEq)]
struct Driver {
    name: String,
    location: LatLng,
    location_at: i64,
    available: bool,
    mark: BusyMark,
    /// When its facts were last saved with a position (memory only).
    saved_at: i64,
    sockets: BTreeMap<String, Socket>,
}

/// One driver socket.
#[derive(Debug, Clone, PartialEq)]
struct Socket {
    opened_at: i64,
    /// Its Driver DO has not answered yet: the driver is offered nothing.
    attaching: bool,
    relayed_at: i64,
    viewing: Vec<String>,
}

/// The state of one region.
pub struct Region {
    settings: RegionSettings,
    cell: Option<String>,
    /// The cell's shape, made once it is known (see [`Self::cell_shape`]).
    shape: Option<CellShape>,
    index: DriverIndex,
    drivers: BTreeMap<String, Driver>,
    /// Every driver socket's driver.
    owners: BTreeMap<String, String>,
    dispatchers: BTreeSet<String>,
    rides: BTreeMap<String, SnapshotRide>,
    /// The figures last reported (None: none since the core was made).
    reported: Option<RegionFigures>,
    /// When they were reported.
    reported_at: Option<i64>,
    /// When a change not yet reported will be (the alarm is set for it).
    report_due: Option<i64>,
    /// When the report is renewed, while it counts anything.
    renew_at: Option<i64>,
    /// Searching rides near the cell, watched for late drivers.
    watches: BTreeMap<String, watches::Watched>,
    /// Demand clocks per finer cell with searching rides (or a recent alert).
    demand: BTreeMap<String, CellDemand>,
    /// The searching rides per finer cell (None: to count again, the rides changed).
    searching_cells: Option<demand::SearchingCells>,
    /// When demand is next counted if the region's rides do not change
    /// (it is sampled, not counted on every location update).
    demand_next_check: i64,
    /// A driver started or stopped taking offers since demand was last counted.
    offerable_changed: bool,
}

impl Region {
    /// An empty region.
    pub fn new(settings: RegionSettings) -> Region {
        Region {
            settings,
            cell: None,
            shape: None,
            index: DriverIndex::new(),
            drivers: BTreeMap::new(),
            owners: BTreeMap::new(),
            dispatchers: BTreeSet::new(),
            rides: BTreeMap::new(),
            reported: None,
            reported_at: None,
            report_due: None,
            renew_at: None,
            watches: BTreeMap::new(),
            demand: BTreeMap::new(),
            searching_cells: None,
            demand_next_check: i64::MIN,
            offerable_changed: false,
        }
    }

    /// The region again after a wake-up: its cell and rides from storage,
    /// its drivers from their open sockets' attachments (the latest
    /// reported position of each driver wins), its dispatch sockets.
    pub fn rebuild(
        settings: RegionSettings,
        cell: Option<String>,
        rides: Vec<SnapshotRide>,
        driver_sockets: Vec<(SocketHeader, DriverFacts)>,
        dispatchers: Vec<String>,
    ) -> Region {
        let mut region = Region::new(settings);
        region.cell = cell;
        region.rides = rides.into_iter().map(|ride| (ride.id.clone(), ride)).collect();
        region.dispatchers = dispatchers.into_iter().collect();
        for (header, facts) in driver_sockets {
            region.restore_socket(header, facts);
        }
        let ids: Vec<String> = region.drivers.keys().cloned().collect();
        for id in ids {
            region.sync_index(&id);
        }
        // What it had reported before it slept is what it has: its pending
        // alarm renews the report (and a restart's first tick corrects it),
        // so no call waits on a write after a wake-up.
        region.reported = Some(region.figures());
        region
    }

    /// Decides what `input` at `now_ms` does.
    pub fn handle(&mut self, input: RegionInput, now_ms: i64) -> Vec<RegionEffect> {
        let mut fx = Vec::new();
        // An alarm counts demand whatever the sampling says: it may be the
        // wake-up an alert waits for (and may ring a moment early).
        let alarm = matches!(input, RegionInput::Tick { .. });
        let touched: Vec<(String, Option<LatLng>)> = if self.watches.is_empty() {
            Vec::new()
        } else {
            let ids = self.touched_drivers(&input);
            ids.into_iter()
                .map(|id| {
                    let before = self.offerable_at(&id);
                    (id, before)
                })
                .collect()
        };
        match input {
            RegionInput::Watch(watch) => self.watch(watch, now_ms, &mut fx),
            RegionInput::DriverOpened { socket_id, driver_id, name, location, cell, evicted } => {
                self.remember_cell(cell, &mut fx);
                let opened = drivers::Opened { socket_id, driver_id, name, location };
                self.driver_opened(opened, now_ms, &mut fx);
                for gone in evicted {
                    self.socket_gone(&gone, &mut fx);
                }
            }
            RegionInput::Attached { socket_id, answer } => self.attached(&socket_id, answer, &mut fx),
            RegionInput::DriverGone { socket_id } => self.socket_gone(&socket_id, &mut fx),
            RegionInput::DispatcherOpened { socket_id, cell } => {
                self.remember_cell(cell, &mut fx);
                self.dispatcher_opened(socket_id, &mut fx);
            }
            RegionInput::DispatcherGone { socket_id } => {
                self.dispatchers.remove(&socket_id);
            }
            RegionInput::DriverMessage { socket_id, req_id, message } => {
                self.driver_message(&socket_id, req_id, message, now_ms, &mut fx)
            }
            RegionInput::RideAnswered { call, answer } => self.ride_answered(call, answer, &mut fx),
            RegionInput::DriverFrames(delivery) => self.driver_frames(delivery, &mut fx),
            RegionInput::Deliver(batch) => self.deliver(batch, now_ms, &mut fx),
            RegionInput::Candidates(query) => fx.push(RegionEffect::Answer(self.candidates(&query))),
            RegionInput::Nearby(query) => fx.push(RegionEffect::Answer(self.nearby(&query))),
            RegionInput::Driver(lookup) => {
                let driver = self.index.get(&lookup.driver_id).cloned();
                fx.push(RegionEffect::Answer(RegionAnswer::Driver(driver)));
            }
            RegionInput::Tick { heard } => {
                self.check_heartbeats(&heard, now_ms, &mut fx);
                self.renew_report(now_ms, &mut fx);
                self.drop_lapsed_watches(now_ms, &mut fx);
            }
        }
        for (driver_id, before) in touched {
            self.offer_late(&driver_id, before, now_ms, &mut fx);
        }
        self.check_demand(now_ms, alarm, &mut fx);
        self.report_if_changed(now_ms, &mut fx);
        fx
    }

    /// Whether `socket_id` is a driver socket the region counts.
    pub fn has_driver_socket(&self, socket_id: &str) -> bool {
        self.owners.contains_key(socket_id)
    }

    /// The drivers `input` may make offerable or move (a late driver for a
    /// watched ride): an attach answer, a position or availability, a busy mark.
    fn touched_drivers(&self, input: &RegionInput) -> Vec<String> {
        let owner = |socket_id: &str| self.owners.get(socket_id).cloned().into_iter().collect();
        match input {
            RegionInput::Attached { socket_id, .. } => owner(socket_id),
            RegionInput::DriverMessage {
                socket_id,
                message: DriverInbound::LocationUpdate { .. } | DriverInbound::SetAvailable { .. },
                ..
            } => owner(socket_id),
            RegionInput::DriverFrames(delivery) => vec![delivery.driver_id.clone()],
            RegionInput::Deliver(batch) => {
                batch.deliveries.iter().filter(|d| d.mark.is_some()).map(|d| d.driver_id.clone()).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The shape of the region's cell, once its cell is known.
    fn cell_shape(&mut self) -> Option<&CellShape> {
        if self.shape.is_none() {
            self.shape = CellShape::of(self.cell.as_deref()?);
        }
        self.shape.as_ref()
    }

    fn remember_cell(&mut self, cell: String, fx: &mut Vec<RegionEffect>) {
        if self.cell.is_none() {
            self.cell = Some(cell.clone());
            fx.push(RegionEffect::StoreCell(cell));
        }
    }
}
