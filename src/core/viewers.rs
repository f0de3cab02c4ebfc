//! Viewers of an offered ride: drivers holding the offer who have it open
//! (`view_ride` until `stop_viewing` or their socket closes). The drivers
//! holding the offer hear `viewer_count` whenever the number changes.

use super::dispatch::Effect;
use super::lifecycle::StepError;
use super::protocol::{AcceptFailure, DriverOutbound};
use super::ride::{RideRecord, RideStatus};

impl RideRecord {
    /// `view_ride` (`viewing`) or `stop_viewing` by `driver_id`.
    pub fn set_viewing(&mut self, driver_id: &str, viewing: bool, now_ms: i64) -> Result<Vec<Effect>, StepError> {
        if viewing {
            if let Some(refusal) = self.accept_refusal(driver_id, now_ms) {
                if refusal != AcceptFailure::RideLocked {
                    return Err(StepError::Refused(refusal));
                }
            }
        }
        let changed = if viewing { self.viewers.insert(driver_id.to_string()) } else { self.viewers.remove(driver_id) };
        if !changed || self.ride.status != RideStatus::Searching {
            return Ok(Vec::new());
        }
        let holders = self.open_offer_holders();
        if holders.is_empty() {
            return Ok(Vec::new());
        }
        let message = DriverOutbound::ViewerCount { ride_id: self.ride.id.clone(), count: self.viewers.len() as u32 };
        Ok(vec![Effect::ToDrivers { drivers: holders, message, req_id: None }])
    }
}
