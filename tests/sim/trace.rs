//! The trace of one seed: a line per event, kept only when asked for
//! (`SIM_SEED`, the replay test), so thousands of seeds run without it.

use super::scheduler::{Answer, Request, Response};
use super::T0;

/// The lines of a seed's run, when kept.
pub struct Trace {
    on: bool,
    pub lines: Vec<String>,
}

impl Trace {
    /// A trace that keeps its lines when `on`.
    pub fn new(on: bool) -> Self {
        Trace { on, lines: Vec::new() }
    }

    /// Whether lines are kept.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Adds a line at `now` (built only when kept).
    pub fn note(&mut self, now: i64, line: impl FnOnce() -> String) {
        if self.on {
            self.lines.push(format!("{:>9.3}s {}", (now - T0) as f64 / 1000.0, line()));
        }
    }
}

/// A request in a few words.
pub fn request(request: &Request) -> String {
    match request {
        Request::Frames { ride_id, frames } => {
            let list: Vec<String> = frames.iter().map(|f| format!("{}:{:?}", f.id, f.kind)).collect();
            format!("Frames {ride_id} [{}]", list.join(", "))
        }
        Request::Candidates(query) => format!("Candidates excluding {:?}", query.exclude),
        Request::Deliver { deliveries } => {
            let list: Vec<String> = deliveries
                .iter()
                .map(|d| format!("{}:{}", d.driver_id, super::clients::frame_type(&d.frame)))
                .collect();
            format!("Deliver [{}]", list.join(", "))
        }
        Request::DriverFrames(d) => {
            let kinds: Vec<&str> = d.frames.iter().map(|f| super::clients::frame_type(f)).collect();
            format!("DriverFrames {} busy={:?}@{} {kinds:?}", d.driver_id, d.mark.ride_id, d.mark.version)
        }
        other => format!("{other:?}"),
    }
}

/// An answer in a few words.
pub fn answer(answer: &Answer) -> String {
    match answer {
        Ok(Response::Attach(a)) => {
            let kinds: Vec<&str> = a.frames.iter().map(|f| super::clients::frame_type(f)).collect();
            format!("Attach busy={:?}@{} {kinds:?}", a.mark.ride_id, a.mark.version)
        }
        Ok(Response::Candidates(list)) => {
            let ids: Vec<&str> = list.iter().map(|c| c.driver_id.as_str()).collect();
            format!("Candidates {ids:?}")
        }
        Ok(other) => format!("{other:?}"),
        Err(why) => format!("failed: {why}"),
    }
}
