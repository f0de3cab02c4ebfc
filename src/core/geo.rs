//! Positions on the WGS84 globe and the checks the protocol puts on them.

use serde::{Deserialize, Serialize};

use super::invalid::{optional_text, Invalid};

/// Longest street address accepted, in characters.
pub const MAX_ADDRESS_CHARS: usize = 512;

/// A WGS84 position in degrees, always finite and in range once constructed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LatLng {
    /// Latitude in [-90, 90].
    pub lat: f64,
    /// Longitude in [-180, 180].
    pub lng: f64,
}

impl LatLng {
    /// Validates a position; `path` names the field in the error.
    pub fn new(path: &str, lat: f64, lng: f64) -> Result<Self, Invalid> {
        if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
            return Err(Invalid::field(&format!("{path}.lat"), "must be a number in [-90, 90]"));
        }
        if !lng.is_finite() || !(-180.0..=180.0).contains(&lng) {
            return Err(Invalid::field(&format!("{path}.lng"), "must be a number in [-180, 180]"));
        }
        Ok(LatLng { lat, lng })
    }
}

/// A pickup or drop-off point as a client sends it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
    /// Optional human-readable address.
    #[serde(default)]
    pub address: Option<String>,
}

/// A validated pickup or drop-off point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lng: f64,
    /// Human-readable address, when the client gave one.
    pub address: Option<String>,
}

impl PlaceInput {
    /// Validates the point and its address.
    pub fn validate(self, path: &str) -> Result<Place, Invalid> {
        let at = LatLng::new(path, self.lat, self.lng)?;
        let address = optional_text(&format!("{path}.address"), self.address.as_deref(), MAX_ADDRESS_CHARS)?;
        Ok(Place { lat: at.lat, lng: at.lng, address })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinates_at_the_limits_are_valid() {
        assert!(LatLng::new("p", 90.0, 180.0).is_ok());
        assert!(LatLng::new("p", -90.0, -180.0).is_ok());
    }

    #[test]
    fn coordinates_out_of_range_are_invalid() {
        assert_eq!(LatLng::new("pickup", 90.5, 0.0).unwrap_err().0, "pickup.lat must be a number in [-90, 90]");
        assert_eq!(LatLng::new("pickup", 0.0, -180.1).unwrap_err().0, "pickup.lng must be a number in [-180, 180]");
    }

    #[test]
    fn non_finite_coordinates_are_invalid() {
        assert!(LatLng::new("p", f64::NAN, 0.0).is_err());
        assert!(LatLng::new("p", 0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn empty_address_is_invalid() {
        let place = PlaceInput { lat: 1.0, lng: 2.0, address: Some("  ".into()) };
        assert_eq!(place.validate("dropoff").unwrap_err().0, "dropoff.address must not be empty");
    }
}
