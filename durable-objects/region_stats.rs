//! What a Region DO reports to D1 for `GET /v1/stats`: its open sockets and
//! its drivers' figures, under a lease it renews from its alarm while it
//! holds sockets, so a region whose sockets vanished without close events (a
//! server restart) stops counting by itself. The lease rule is `core::stats`.

use worker::WebSocket;

use super::attachment::is_open;
use super::region::{now_ms, RegionDo};
use super::region_dispatch::DISPATCHER_TAG;
use super::region_sockets::DRIVER_TAG;
use super::token_expiry::wake_by;
use crate::core::stats::{RegionFigures, ReportLease};

impl RegionDo {
    /// Writes the region's socket and driver figures; `closing` is a socket
    /// id no longer to count. A failure is logged.
    pub(crate) async fn report_stats(&self, closing: Option<&str>) {
        let closing: Vec<String> = closing.map(str::to_string).into_iter().collect();
        self.report_stats_without(&closing).await;
    }

    /// Writes the region's figures, not counting the `closing` sockets, with
    /// a fresh lease; while the region holds sockets its alarm renews it. A
    /// failure is logged (the next report or renewal puts it right).
    pub(crate) async fn report_stats_without(&self, closing: &[String]) {
        let Some(cell) = self.cell().await else { return };
        let state = self.state();
        let open = |tag: &str| {
            state
                .get_websockets_with_tag(tag)
                .iter()
                .filter(|ws| is_open(ws) && socket_id_of(ws).is_none_or(|id| !closing.contains(&id)))
                .count() as u32
        };
        let (drivers, dispatchers) = (open(DRIVER_TAG), open(DISPATCHER_TAG));
        let figures = self.with_index(|index| RegionFigures::of(index, drivers, dispatchers));
        let lease = ReportLease::new(now_ms(), self.heartbeat_s());
        let written = match self.env().d1(crate::db::BINDING) {
            Ok(db) => crate::db::stats::save_region(&db, &cell, &figures, &lease).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = written {
            worker::console_error!("could not record region stats: {err}");
        }
        if figures != RegionFigures::default() {
            if let Err(err) = wake_by(state, lease.renew_at).await {
                worker::console_error!("could not set the stats renewal alarm: {err}");
            }
        }
    }

    /// The alarm's renewal: reports afresh (a region left with nothing
    /// removes its row) and deletes rows of regions whose lease lapsed long
    /// ago, which no region will report again.
    pub(crate) async fn renew_stats(&self, closing: &[String]) {
        self.report_stats_without(closing).await;
        let lease = ReportLease::new(now_ms(), self.heartbeat_s());
        let purged = match self.env().d1(crate::db::BINDING) {
            Ok(db) => crate::db::stats::purge_lapsed_regions(&db, lease.purge_before()).await,
            Err(err) => Err(err.into()),
        };
        if let Err(err) = purged {
            worker::console_error!("could not purge lapsed region stats: {err}");
        }
    }
}

/// The `socket_id` of any socket's attachment.
fn socket_id_of(ws: &WebSocket) -> Option<String> {
    let json = ws.deserialize_attachment::<String>().ok()??;
    serde_json::from_str::<serde_json::Value>(&json).ok()?.get("socket_id")?.as_str().map(str::to_string)
}
