//! Positions on the WGS84 globe and the checks the protocol puts on them.

use std::f64::consts::PI;

use geo::{Destination, Distance, Haversine, Point};
use serde::{Deserialize, Serialize};

use super::invalid::{optional_text, Invalid};

/// Longest street address accepted, in characters.
pub const MAX_ADDRESS_CHARS: usize = 512;

/// The Earth's mean radius in metres (IUGG, 6 371 008.8), the sphere all
/// distances use; taken from geo so chords and haversine agree.
pub const EARTH_RADIUS_M: f64 = Haversine.radius();

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

/// Great-circle distance between two positions in metres (haversine formula).
pub fn distance_m(a: LatLng, b: LatLng) -> f64 {
    // Near antipodes rounding can push geo's haversine term past 1 and yield
    // NaN; `f64::min` drops a NaN, and no great circle is longer than half.
    Haversine.distance(point(a), point(b)).min(PI * EARTH_RADIUS_M)
}

/// The position `distance_m` metres from `from` along the initial compass
/// bearing `bearing_deg` (great circle); the longitude is kept in [-180, 180].
pub fn destination(from: LatLng, bearing_deg: f64, distance_m: f64) -> LatLng {
    let to = Haversine.destination(point(from), bearing_deg, distance_m);
    LatLng { lat: to.y(), lng: to.x() }
}

/// The position as a geo `Point`, whose x is the longitude.
fn point(at: LatLng) -> Point {
    Point::new(at.lng, at.lat)
}

/// The position as a point on the unit sphere (x towards 0°N 0°E, z towards
/// the north pole): straight-line (chord) order there is great-circle order.
pub fn unit_vector(at: LatLng) -> [f64; 3] {
    let (lat, lng) = (at.lat.to_radians(), at.lng.to_radians());
    [lat.cos() * lng.cos(), lat.cos() * lng.sin(), lat.sin()]
}

/// The great-circle distance in metres spanned by a chord of the unit sphere.
pub fn chord_to_m(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (chord / 2.0).clamp(0.0, 1.0).asin()
}

/// The chord of the unit sphere spanning `distance_m` of great circle (the
/// inverse of [`chord_to_m`]; at most a diameter).
pub fn m_to_chord(distance_m: f64) -> f64 {
    2.0 * (distance_m / (2.0 * EARTH_RADIUS_M)).min(std::f64::consts::FRAC_PI_2).sin()
}

/// The squared chord between two points of the unit sphere (no square root:
/// it orders points as the chord does).
pub fn squared_chord(u: [f64; 3], v: [f64; 3]) -> f64 {
    let (x, y, z) = (u[0] - v[0], u[1] - v[1], u[2] - v[2]);
    x * x + y * y + z * z
}

/// Great-circle distance in metres from `at` to the shorter great-circle
/// arc between `a` and `b` (to its nearer end if `at` lies beyond one).
pub fn distance_to_arc_m(at: LatLng, a: LatLng, b: LatLng) -> f64 {
    let (p, a, b) = (unit_vector(at), unit_vector(a), unit_vector(b));
    let to_ends = angle(p, a).min(angle(p, b));
    let normal = cross(a, b);
    let length = dot(normal, normal).sqrt();
    if length < 1e-15 {
        return to_ends * EARTH_RADIUS_M;
    }
    let n = normal.map(|x| x / length);
    let height = dot(p, n);
    let foot = [p[0] - height * n[0], p[1] - height * n[1], p[2] - height * n[2]];
    let on_arc = dot(foot, foot) > 1e-30 && dot(cross(a, foot), n) >= 0.0 && dot(cross(foot, b), n) >= 0.0;
    let angle = if on_arc { height.abs().min(1.0).asin() } else { to_ends };
    angle * EARTH_RADIUS_M
}

fn angle(u: [f64; 3], v: [f64; 3]) -> f64 {
    let c = cross(u, v);
    dot(c, c).sqrt().atan2(dot(u, v))
}

fn cross(u: [f64; 3], v: [f64; 3]) -> [f64; 3] {
    [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]]
}

fn dot(u: [f64; 3], v: [f64; 3]) -> f64 {
    u[0] * v[0] + u[1] * v[1] + u[2] * v[2]
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

    fn at(lat: f64, lng: f64) -> LatLng {
        LatLng::new("p", lat, lng).unwrap()
    }

    #[test]
    fn park_station_to_sandton_is_about_9_8_km() {
        let d = distance_m(at(-26.1952, 28.0410), at(-26.1076, 28.0567));
        assert!((d - 9_800.0).abs() < 98.0, "{d}");
    }

    #[test]
    fn distance_from_a_point_to_itself_is_zero() {
        assert_eq!(distance_m(at(-26.2041, 28.0473), at(-26.2041, 28.0473)), 0.0);
    }

    #[test]
    fn antipodes_are_half_the_circumference_apart() {
        let d = distance_m(at(-26.2041, 28.0473), at(26.2041, -151.9527));
        assert!((d - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1.0, "{d}");
        assert!((d / 1000.0 - 20_015.0).abs() < 1.0, "{d}");
    }

    #[test]
    fn near_antipodes_are_half_the_circumference_apart_not_nan() {
        let d = distance_m(at(57.47908799383325, 152.37855131859305), at(-57.479088027139504, -27.621449060453028));
        assert_eq!(d, std::f64::consts::PI * EARTH_RADIUS_M);
    }

    #[test]
    fn the_sphere_is_the_iugg_mean_radius() {
        assert_eq!(EARTH_RADIUS_M, 6_371_008.8);
    }

    #[test]
    fn distance_across_the_antimeridian_takes_the_short_way() {
        let d = distance_m(at(0.0, 179.95), at(0.0, -179.95));
        let expected = 0.1_f64.to_radians() * EARTH_RADIUS_M;
        assert!((d - expected).abs() < 0.01, "{d} vs {expected}");
    }

    #[test]
    fn distance_is_symmetric() {
        let (a, b) = (at(51.5, -0.12), at(40.7, -74.0));
        assert!((distance_m(a, b) - distance_m(b, a)).abs() < 1e-6);
    }

    #[test]
    fn a_destination_lies_at_the_given_distance() {
        let from = at(-26.2041, 28.0473);
        for bearing in [0.0, 45.0, 90.0, 180.0, 270.0, 333.0] {
            let to = destination(from, bearing, 7_500.0);
            assert!((distance_m(from, to) - 7_500.0).abs() < 1e-6, "bearing {bearing}");
        }
        let north = destination(from, 0.0, 1_000.0);
        assert!(north.lat > from.lat && (north.lng - from.lng).abs() < 1e-9);
    }

    #[test]
    fn a_destination_across_the_antimeridian_wraps_its_longitude() {
        let to = destination(at(0.0, 179.99), 90.0, 5_000.0);
        assert!(to.lng < -179.9 && to.lng >= -180.0, "{to:?}");
    }

    #[test]
    fn a_chord_of_the_unit_sphere_converts_to_the_great_circle_distance() {
        let (a, b) = (at(-26.1952, 28.0410), at(-26.1076, 28.0567));
        let (u, v) = (unit_vector(a), unit_vector(b));
        let chord = ((u[0] - v[0]).powi(2) + (u[1] - v[1]).powi(2) + (u[2] - v[2]).powi(2)).sqrt();
        assert!((chord_to_m(chord) - distance_m(a, b)).abs() < 1e-6);
    }

    #[test]
    fn a_distance_converts_to_its_chord_and_back() {
        let (a, b) = (at(-26.1952, 28.0410), at(-26.1076, 28.0567));
        let chord = squared_chord(unit_vector(a), unit_vector(b)).sqrt();
        assert!((m_to_chord(distance_m(a, b)) - chord).abs() < 1e-12);
        for d in [0.0, 1.0, 10_000.0, 5_000_000.0] {
            assert!((chord_to_m(m_to_chord(d)) - d).abs() < 1e-6, "{d}");
        }
        assert_eq!(m_to_chord(f64::INFINITY), 2.0);
    }

    #[test]
    fn the_distance_to_an_arc_is_to_its_nearest_point() {
        let (a, b) = (at(0.0, 0.0), at(0.0, 1.0));
        let beside = destination(at(0.0, 0.5), 0.0, 2_000.0);
        assert!((distance_to_arc_m(beside, a, b) - 2_000.0).abs() < 1e-3);
        let beyond_b = destination(b, 90.0, 3_000.0);
        assert!((distance_to_arc_m(beyond_b, a, b) - 3_000.0).abs() < 1e-3);
        let on_it = at(0.0, 0.25);
        assert!(distance_to_arc_m(on_it, a, b) < 1e-6);
        assert!((distance_to_arc_m(beside, a, a) - distance_m(beside, a)).abs() < 1e-6);
    }

    #[test]
    fn empty_address_is_invalid() {
        let place = PlaceInput { lat: 1.0, lng: 2.0, address: Some("  ".into()) };
        assert_eq!(place.validate("dropoff").unwrap_err().0, "dropoff.address must not be empty");
    }
}

#[cfg(test)]
mod round_trip_tests {
    use super::LatLng;

    #[test]
    fn coordinates_survive_json_exactly() {
        // Without serde_json's float_roundtrip this reads back one ulp off.
        let text = r#"{"lat":-29.713007557528567,"lng":24.816369890863886}"#;
        let at: LatLng = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&at).unwrap(), text);
    }
}
