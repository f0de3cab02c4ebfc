//! Frames a ride sends to drivers, as their Driver DOs take them: numbered
//! per ride (so a retried or reordered delivery is applied once, in order)
//! and tagged with what each does to the driver's commitments.

use super::busy_mark::BusyMark;
use super::commitments::{FrameKind, RideFrame};
use super::dispatch::Effect;
use super::protocol::{to_frame, DriverOutbound};
use super::ride::RideRecord;

/// One frame for one driver's Driver DO.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameForDriver {
    /// The driver.
    pub driver_id: String,
    /// The region where the ride last found the driver (its offer's round),
    /// which sends the frame at once (the fast path).
    pub region: Option<String>,
    /// The numbered frame.
    pub frame: RideFrame,
}

/// A driver and the region where the ride last found it.
type Target = (String, Option<String>);

/// What a driver frame does to the driver's commitments.
pub fn frame_kind(message: &DriverOutbound) -> FrameKind {
    match message {
        DriverOutbound::RideOffer { expires_at, .. } => FrameKind::Offer { expires_at: *expires_at },
        DriverOutbound::RideTaken { .. } | DriverOutbound::RideCancelled { .. } => FrameKind::OfferClosed,
        DriverOutbound::RideUpdated { ride } if ride.status.is_final() => FrameKind::Over,
        DriverOutbound::RideAssigned { .. } | DriverOutbound::RideUpdated { .. } => FrameKind::Active,
        _ => FrameKind::Transient,
    }
}

impl RideRecord {
    /// The busy mark a frame of `kind` to the assigned driver carries on the
    /// fast path, applied by its region before the frame: `ride_assigned`
    /// and `ride_updated` mark it busy at the claim's version, the final one
    /// frees it at the next (the Driver DO's release of the ride is that
    /// change). None when the claim's version is not known.
    pub fn fast_mark(&self, kind: &FrameKind) -> Option<BusyMark> {
        if self.driver_mark == 0 {
            return None;
        }
        match kind {
            FrameKind::Active => Some(BusyMark::new(Some(self.ride.id.clone()), self.driver_mark)),
            FrameKind::Over => Some(BusyMark::new(None, self.driver_mark + 1)),
            _ => None,
        }
    }

    /// The driver frames among `effects`, numbered with the ride's counter
    /// (which is stored with the record, in the same write as the frames).
    pub fn frames_for_drivers(&mut self, effects: &[Effect]) -> Vec<FrameForDriver> {
        let mut out = Vec::new();
        for effect in effects {
            let (targets, kind, text): (Vec<Target>, FrameKind, Option<String>) = match effect {
                Effect::ToDrivers { drivers, message, req_id } => {
                    let targets = drivers.iter().map(|d| (d.driver_id.clone(), Some(d.region.clone()))).collect();
                    (targets, frame_kind(message), Some(to_frame(message, req_id.as_deref())))
                }
                Effect::ReleaseDriver { driver_id, token } => {
                    (vec![(driver_id.clone(), None)], FrameKind::Release { token: *token }, None)
                }
                Effect::CloseOffer { driver_id } => (vec![(driver_id.clone(), None)], FrameKind::OfferClosed, None),
                _ => continue,
            };
            for (driver_id, region) in targets {
                self.driver_frames += 1;
                let frame = RideFrame::new(self.driver_frames, kind, text.clone());
                out.push(FrameForDriver { driver_id, region, frame });
            }
        }
        out
    }
}
