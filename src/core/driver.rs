//! A driver's profile: what dispatchers register with `PUT /v1/drivers/{id}`
//! and what passengers see once the driver is assigned.

use serde::{Deserialize, Serialize};

use super::invalid::{parse_json, phone, text, Invalid};

/// Longest name, vehicle type or registration accepted.
pub const MAX_PROFILE_TEXT_CHARS: usize = 100;

/// A driver's vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vehicle {
    /// Kind of vehicle, e.g. `sedan`, `bakkie`, `wheelchair_van`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Number plate.
    pub registration: String,
}

/// The profile body as a dispatcher sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverProfileBody {
    name: String,
    phone: String,
    vehicle: Vehicle,
    #[serde(default)]
    rating: Option<f64>,
}

/// A validated driver profile, without bookkeeping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriverProfile {
    /// Display name.
    pub name: String,
    /// Phone number.
    pub phone: String,
    /// The vehicle.
    pub vehicle: Vehicle,
    /// Average rating in [0, 5], when rated.
    pub rating: Option<f64>,
}

impl DriverProfile {
    /// Parses and validates a profile body.
    pub fn from_json(body: &[u8]) -> Result<DriverProfile, Invalid> {
        let body: DriverProfileBody = parse_json(body)?;
        if let Some(rating) = body.rating {
            if !rating.is_finite() || !(0.0..=5.0).contains(&rating) {
                return Err(Invalid::field("rating", "must be a number from 0 to 5"));
            }
        }
        Ok(DriverProfile {
            name: text("name", &body.name, MAX_PROFILE_TEXT_CHARS)?,
            phone: phone("phone", &body.phone)?,
            vehicle: Vehicle {
                kind: text("vehicle.type", &body.vehicle.kind, MAX_PROFILE_TEXT_CHARS)?,
                registration: text("vehicle.registration", &body.vehicle.registration, MAX_PROFILE_TEXT_CHARS)?,
            },
            rating: body.rating,
        })
    }
}

/// A stored driver: the profile with its id and bookkeeping times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    /// The driver's id: the `sub` of its tokens.
    pub id: String,
    /// The profile fields, flattened into the object.
    #[serde(flatten)]
    pub profile: DriverProfile,
    /// When the profile was first stored.
    pub created_at: i64,
    /// When the profile was last changed.
    pub updated_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = r#"{"name":"Thabo","phone":"+27825550100","vehicle":{"type":"sedan","registration":"CA 123-456"},"rating":4.8}"#;

    #[test]
    fn a_full_profile_is_valid() {
        let p = DriverProfile::from_json(VALID.as_bytes()).unwrap();
        assert_eq!(p.vehicle.kind, "sedan");
        assert_eq!(p.rating, Some(4.8));
    }

    #[test]
    fn rating_is_optional() {
        let body = r#"{"name":"T","phone":"+27825550100","vehicle":{"type":"van","registration":"X1"}}"#;
        assert_eq!(DriverProfile::from_json(body.as_bytes()).unwrap().rating, None);
    }

    #[test]
    fn rating_above_five_is_invalid() {
        let body = VALID.replace("4.8", "5.5");
        assert_eq!(DriverProfile::from_json(body.as_bytes()).unwrap_err().0, "rating must be a number from 0 to 5");
    }

    #[test]
    fn missing_vehicle_registration_is_invalid_and_named() {
        let body = r#"{"name":"T","phone":"+27825550100","vehicle":{"type":"van"}}"#;
        let msg = DriverProfile::from_json(body.as_bytes()).unwrap_err().0;
        assert!(msg.starts_with("vehicle: missing field `registration`"), "{msg}");
    }

    #[test]
    fn a_name_of_the_wrong_type_is_invalid() {
        let body = VALID.replace("\"Thabo\"", "42");
        assert!(DriverProfile::from_json(body.as_bytes()).unwrap_err().0.starts_with("name: invalid type"));
    }

    #[test]
    fn the_driver_object_flattens_the_profile_and_names_the_vehicle_type() {
        let driver = Driver {
            id: "d1".into(),
            profile: DriverProfile::from_json(VALID.as_bytes()).unwrap(),
            created_at: 1,
            updated_at: 2,
        };
        let json = serde_json::to_value(&driver).unwrap();
        assert_eq!(json["name"], "Thabo");
        assert_eq!(json["vehicle"]["type"], "sedan");
        assert_eq!(json["id"], "d1");
    }
}
