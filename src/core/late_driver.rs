//! Late drivers: a driver who comes online, becomes available (or is freed)
//! or moves within the dispatch radius of a searching ride is offered it at
//! once, within the current round, not at the next. The ride tells the
//! regions around its pickup what to watch for ([`SearchWatch`], sent with
//! every round and again, ended, when the ride stops searching); a region
//! whose driver becomes offerable near a watched ride asks the ride
//! ([`RideRecord::offer_late`]), which checks it against the round and
//! offers it the normal way (through the region, then the Driver DO).

use serde::{Deserialize, Serialize};

use super::dispatch::{DispatchSettings, DriverAddress, Effect, Offer, RoundCandidate};
use super::geo::LatLng;
use super::protocol::{DriverOutbound, OfferedRide, PassengerEvent};
use super::ride::{RideRecord, RideStatus};

/// What a region watches for a searching ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchWatch {
    /// The ride.
    pub ride_id: String,
    /// Its pickup.
    pub at: LatLng,
    /// The dispatch radius, in km.
    pub radius_km: f64,
    /// When the current round ends; 0: the ride stopped searching (forget it).
    pub until: i64,
    /// Drivers already offered the ride (never asked about again).
    pub exclude: Vec<String>,
}

impl SearchWatch {
    /// Whether this watch ends the ride's watch rather than renews it.
    pub fn ended(&self) -> bool {
        self.until == 0
    }
}

impl RideRecord {
    /// The watch of the current round (`until` its end), or the end of the
    /// watch once the ride left `searching`.
    pub fn watch(&self, settings: &DispatchSettings) -> SearchWatch {
        let searching = self.ride.status == RideStatus::Searching;
        SearchWatch {
            ride_id: self.ride.id.clone(),
            at: LatLng { lat: self.ride.pickup.lat, lng: self.ride.pickup.lng },
            radius_km: settings.radius_km,
            until: if searching { self.round_expires_at.unwrap_or(0) } else { 0 },
            exclude: if searching { self.offered_driver_ids() } else { Vec::new() },
        }
    }

    /// A driver a region found offerable near the pickup: offered the ride
    /// at once, in the current round (its `expires_at`), when the ride is
    /// searching in a live round (no query out), the driver was never
    /// offered it, and it is within the radius. The passenger hears
    /// `searching` again with the round's count of drivers notified.
    pub fn offer_late(&mut self, late: RoundCandidate, settings: &DispatchSettings, now_ms: i64) -> Vec<Effect> {
        let Some(expires_at) = self.live_round_end(now_ms) else { return Vec::new() };
        let candidate = late.candidate;
        if self.offer_of(&candidate.driver_id).is_some() || candidate.distance_m > settings.radius_km * 1000.0 {
            return Vec::new();
        }
        let round = self.ride.offer_round;
        let driver = DriverAddress { driver_id: candidate.driver_id.clone(), region: late.region };
        self.offers.push(Offer {
            driver: driver.clone(),
            round,
            distance_m: candidate.distance_m,
            location: candidate.location,
            expires_at,
            declined: false,
        });
        let message = DriverOutbound::RideOffer {
            ride: OfferedRide::from(&self.ride),
            distance_to_pickup_m: candidate.distance_m.round(),
            expires_at,
        };
        let notified = self.offers.iter().filter(|o| o.round == round).count() as u32;
        let mut effects = vec![Effect::ToDrivers { drivers: vec![driver], message, req_id: None }];
        effects.extend(self.publish(PassengerEvent::Searching { round, drivers_notified: notified }, now_ms));
        effects
    }

    /// When the current round ends, while one is live at `now_ms`.
    fn live_round_end(&self, now_ms: i64) -> Option<i64> {
        let live = self.ride.status == RideStatus::Searching && self.ride.offer_round > 0 && self.round_query.is_none();
        self.round_expires_at.filter(|at| live && *at > now_ms)
    }
}
