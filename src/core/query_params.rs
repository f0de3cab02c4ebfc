//! Query parameters of the socket and nearby endpoints: positions, radii
//! and `last_seq`, checked like any other input.

use super::geo::LatLng;
use super::invalid::Invalid;

/// Largest radius of `GET /v1/drivers/nearby`, in km.
pub const MAX_NEARBY_RADIUS_KM: f64 = 50.0;

fn value<'a>(pairs: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn number(pairs: &[(&str, &str)], key: &str) -> Result<Option<f64>, Invalid> {
    value(pairs, key)
        .map(|raw| raw.trim().parse::<f64>().map_err(|_| Invalid::field(key, "must be a number")))
        .transpose()
}

/// The required `lat` and `lng` parameters as a valid position.
pub fn position(pairs: &[(&str, &str)]) -> Result<LatLng, Invalid> {
    let lat = number(pairs, "lat")?.ok_or_else(|| Invalid::field("lat", "is required"))?;
    let lng = number(pairs, "lng")?.ok_or_else(|| Invalid::field("lng", "is required"))?;
    let at = LatLng::new("position", lat, lng)?;
    Ok(at)
}

/// `lat`, `lng` and the optional `radius_km` (default `default_km`, at most 50).
pub fn nearby(pairs: &[(&str, &str)], default_km: f64) -> Result<(LatLng, f64), Invalid> {
    let at = position(pairs)?;
    let radius_km = number(pairs, "radius_km")?.unwrap_or(default_km);
    if !radius_km.is_finite() || radius_km <= 0.0 || radius_km > MAX_NEARBY_RADIUS_KM {
        return Err(Invalid::field("radius_km", "must be a number above 0 and at most 50"));
    }
    Ok((at, radius_km))
}

/// The optional `last_seq` of a ride socket.
pub fn last_seq(pairs: &[(&str, &str)]) -> Result<Option<u64>, Invalid> {
    value(pairs, "last_seq")
        .map(|raw| raw.trim().parse::<u64>().map_err(|_| Invalid::field("last_seq", "must be a whole number ≥ 0")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_needs_both_coordinates_in_range() {
        assert_eq!(position(&[("lat", "-26.2"), ("lng", "28.04")]).unwrap(), LatLng { lat: -26.2, lng: 28.04 });
        assert!(position(&[("lat", "-26.2")]).is_err());
        assert!(position(&[("lat", "91"), ("lng", "0")]).is_err());
        assert!(position(&[("lat", "north"), ("lng", "0")]).is_err());
        assert!(position(&[("lat", "NaN"), ("lng", "0")]).is_err());
    }

    #[test]
    fn the_nearby_radius_defaults_and_is_bounded() {
        let pairs = [("lat", "0"), ("lng", "0")];
        assert_eq!(nearby(&pairs, 10.0).unwrap().1, 10.0);
        assert_eq!(nearby(&[("lat", "0"), ("lng", "0"), ("radius_km", "2.5")], 10.0).unwrap().1, 2.5);
        for bad in ["0", "-1", "50.1", "far"] {
            assert!(nearby(&[("lat", "0"), ("lng", "0"), ("radius_km", bad)], 10.0).is_err(), "{bad}");
        }
    }

    #[test]
    fn last_seq_is_optional_and_a_whole_number() {
        assert_eq!(last_seq(&[]).unwrap(), None);
        assert_eq!(last_seq(&[("last_seq", "7")]).unwrap(), Some(7));
        assert!(last_seq(&[("last_seq", "-1")]).is_err());
        assert!(last_seq(&[("last_seq", "x")]).is_err());
    }
}
