//! The body of `POST /v1/rides`, and the checks that turn it into a
//! [`NewRide`] or an `invalid_request` naming the field.

use serde::{Deserialize, Serialize};

use super::callback_url::{callback_url, CallbackPolicy};
use super::geo::{Place, PlaceInput};
use super::identity::Role;
use super::invalid::{parse_json, phone, text, Invalid};
use super::money::Money;

/// Product when the client names none.
pub const DEFAULT_PRODUCT: &str = "taxi";
/// Longest distance accepted, in km (half the Earth's circumference).
pub const MAX_DISTANCE_KM: f64 = 20_100.0;
/// Longest callback URL accepted.
pub use super::callback_url::MAX_CALLBACK_URL_CHARS;
/// Longest passenger name accepted.
pub const MAX_NAME_CHARS: usize = 100;

/// The create-ride body exactly as a client sends it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRideBody {
    pickup: PlaceInput,
    dropoff: PlaceInput,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    fare: Option<Money>,
    #[serde(default)]
    distance_km: Option<f64>,
    #[serde(default)]
    passenger: Option<CustomerInput>,
    #[serde(default)]
    callback_url: Option<String>,
    #[serde(default)]
    proof_required: Option<bool>,
    #[serde(default)]
    start_pin: Option<bool>,
}

/// A partner's customer as sent in the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerInput {
    name: String,
    phone: String,
}

/// A partner's customer, validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    /// The customer's name.
    pub name: String,
    /// The customer's phone.
    pub phone: String,
}

/// A validated ride request. Its JSON is canonical (fixed field order), so
/// it also serves to tell an idempotent retry from a reused key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRide {
    /// Where the ride starts.
    pub pickup: Place,
    /// Where the ride ends.
    pub dropoff: Place,
    /// What is ordered.
    pub product: String,
    /// The quoted fare.
    pub fare: Option<Money>,
    /// The quoted distance.
    pub distance_km: Option<f64>,
    /// A partner's customer.
    pub passenger: Option<Customer>,
    /// A partner's webhook address.
    pub callback_url: Option<String>,
    /// Whether completion needs a proof of delivery.
    pub proof_required: bool,
    /// Whether starting the trip needs the passenger's start PIN (left out
    /// of the JSON when false, so requests stored before it existed still
    /// match their retries).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_pin: bool,
}

impl NewRide {
    /// Parses and validates a create body sent by a caller of `role`, with
    /// production's callback rules (https to public hosts only).
    pub fn from_json(body: &[u8], role: Role) -> Result<NewRide, Invalid> {
        NewRide::parse(body, role, CallbackPolicy::PublicHttpsOnly)
    }

    /// Parses and validates a create body under the deployment's callback policy.
    pub fn parse(body: &[u8], role: Role, callbacks: CallbackPolicy) -> Result<NewRide, Invalid> {
        parse_json::<CreateRideBody>(body)?.validate(role, callbacks)
    }
}

impl CreateRideBody {
    fn validate(self, role: Role, callbacks: CallbackPolicy) -> Result<NewRide, Invalid> {
        let partner = role == Role::Partner;
        if !partner && self.passenger.is_some() {
            return Err(Invalid::field("passenger", "is for partners; a passenger's identity comes from its token"));
        }
        if !partner && self.callback_url.is_some() {
            return Err(Invalid::field("callback_url", "is for partners"));
        }
        Ok(NewRide {
            pickup: self.pickup.validate("pickup")?,
            dropoff: self.dropoff.validate("dropoff")?,
            product: product(self.product.as_deref())?,
            fare: self.fare.map(|f| f.validate("fare")).transpose()?,
            distance_km: self.distance_km.map(distance_km).transpose()?,
            passenger: self.passenger.map(customer).transpose()?,
            callback_url: self.callback_url.as_deref().map(|url| callback_url(url, callbacks)).transpose()?,
            proof_required: self.proof_required.unwrap_or(false),
            start_pin: self.start_pin.unwrap_or(false),
        })
    }
}

fn product(name: Option<&str>) -> Result<String, Invalid> {
    let Some(name) = name else { return Ok(DEFAULT_PRODUCT.to_string()) };
    let ok = (1..=32).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Invalid::field("product", "must be 1 to 32 characters: a-z first, then a-z, 0-9, '_' or '-'"));
    }
    Ok(name.to_string())
}

fn distance_km(km: f64) -> Result<f64, Invalid> {
    if !km.is_finite() || !(0.0..=MAX_DISTANCE_KM).contains(&km) {
        return Err(Invalid::field("distance_km", "must be a number from 0 to 20100"));
    }
    Ok(km)
}

fn customer(input: CustomerInput) -> Result<Customer, Invalid> {
    Ok(Customer {
        name: text("passenger.name", &input.name, MAX_NAME_CHARS)?,
        phone: phone("passenger.phone", &input.phone)?,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid passenger request.
    pub(crate) fn new_ride() -> NewRide {
        NewRide::from_json(
            br#"{"pickup":{"lat":-26.2041,"lng":28.0473,"address":"Park Station"},"dropoff":{"lat":-26.1076,"lng":28.0567}}"#,
            Role::Passenger,
        )
        .unwrap()
    }

    /// A valid partner request with a customer and a webhook.
    pub(crate) fn partner_ride() -> NewRide {
        NewRide::from_json(
            br#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1.1,"lng":2.1},"product":"gas_delivery",
                "fare":{"amount":85.5,"currency":"ZAR"},"distance_km":4.2,
                "passenger":{"name":"Bo","phone":"+27825550100"},"callback_url":"https://partner.example/hooks",
                "proof_required":true}"#,
            Role::Partner,
        )
        .unwrap()
    }

    fn err(body: &str, role: Role) -> String {
        NewRide::from_json(body.as_bytes(), role).unwrap_err().0
    }

    #[test]
    fn start_pin_is_read_and_left_out_of_the_canonical_json_when_false() {
        let plain = NewRide::from_json(br#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger);
        let plain = plain.unwrap();
        assert!(!plain.start_pin);
        assert!(!serde_json::to_string(&plain).unwrap().contains("start_pin"));
        let body = br#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"start_pin":true}"#;
        let pin = NewRide::from_json(body, Role::Passenger).unwrap();
        assert!(pin.start_pin);
        assert!(serde_json::to_string(&pin).unwrap().contains(r#""start_pin":true"#));
        let bad = br#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"start_pin":"yes"}"#;
        assert!(NewRide::from_json(bad, Role::Passenger).is_err());
    }

    #[test]
    fn a_minimal_body_gets_the_default_product() {
        let ride = new_ride();
        assert_eq!(ride.product, "taxi");
        assert_eq!(ride.pickup.address.as_deref(), Some("Park Station"));
        assert!(!ride.proof_required);
    }

    #[test]
    fn a_full_partner_body_is_kept_whole() {
        let ride = partner_ride();
        assert_eq!(ride.product, "gas_delivery");
        assert_eq!(ride.fare, Some(Money { amount: 85.5, currency: "ZAR".into() }));
        assert_eq!(ride.distance_km, Some(4.2));
        assert_eq!(ride.passenger, Some(Customer { name: "Bo".into(), phone: "+27825550100".into() }));
        assert!(ride.proof_required);
    }

    #[test]
    fn missing_pickup_is_invalid() {
        assert!(err(r#"{"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger).contains("missing field `pickup`"));
    }

    #[test]
    fn missing_coordinate_is_invalid_and_named() {
        let msg = err(r#"{"pickup":{"lat":1},"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger);
        assert!(msg.starts_with("pickup: missing field `lng`"), "{msg}");
    }

    #[test]
    fn a_coordinate_of_the_wrong_type_is_invalid_and_named() {
        let msg = err(r#"{"pickup":{"lat":"north","lng":2},"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger);
        assert!(msg.starts_with("pickup.lat: invalid type"), "{msg}");
    }

    #[test]
    fn out_of_range_coordinates_are_invalid() {
        let msg = err(r#"{"pickup":{"lat":91,"lng":2},"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger);
        assert_eq!(msg, "pickup.lat must be a number in [-90, 90]");
        let msg = err(r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":181}}"#, Role::Passenger);
        assert_eq!(msg, "dropoff.lng must be a number in [-180, 180]");
    }

    #[test]
    fn huge_numbers_are_invalid() {
        let msg = err(r#"{"pickup":{"lat":1e400,"lng":2},"dropoff":{"lat":1,"lng":2}}"#, Role::Passenger);
        assert!(msg.starts_with("pickup.lat"), "{msg}");
    }

    #[test]
    fn unknown_fields_are_invalid() {
        let msg = err(r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"pick_up":{}}"#, Role::Passenger);
        assert!(msg.contains("unknown field `pick_up`"), "{msg}");
    }

    #[test]
    fn a_body_that_is_not_an_object_is_invalid() {
        assert!(err("[]", Role::Passenger).starts_with("body: "));
        assert!(err("", Role::Passenger).starts_with("body: "));
    }

    #[test]
    fn passengers_may_not_name_a_customer_or_a_callback() {
        let body =
            r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"passenger":{"name":"X","phone":"+2782555"}}"#;
        assert!(err(body, Role::Passenger).starts_with("passenger is for partners"));
        let body = r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"callback_url":"https://x.example"}"#;
        assert!(err(body, Role::Passenger).starts_with("callback_url is for partners"));
    }

    #[test]
    fn bad_products_fares_distances_and_urls_are_invalid() {
        let base = r#""pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2}"#;
        for (extra, field) in [
            (r#""product":"Taxi""#, "product"),
            (r#""product":"""#, "product"),
            (r#""fare":{"amount":-5,"currency":"ZAR"}"#, "fare.amount"),
            (r#""fare":{"amount":5,"currency":"rand"}"#, "fare.currency"),
            (r#""fare":{"amount":5}"#, "fare"),
            (r#""distance_km":-1"#, "distance_km"),
            (r#""callback_url":"ftp://x.example/h""#, "callback_url"),
            (r#""callback_url":"not a url""#, "callback_url"),
            (r#""passenger":{"name":"","phone":"+27825550100"}"#, "passenger.name"),
            (r#""passenger":{"name":"Bo","phone":"abc"}"#, "passenger.phone"),
            (r#""proof_required":"yes""#, "proof_required"),
        ] {
            let msg = err(&format!("{{{base},{extra}}}"), Role::Partner);
            assert!(msg.starts_with(field), "{extra}: {msg}");
        }
    }

    #[test]
    fn null_optional_fields_count_as_absent() {
        let body = r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":1,"lng":2},"fare":null,"product":null}"#;
        let ride = NewRide::from_json(body.as_bytes(), Role::Passenger).unwrap();
        assert_eq!(ride.fare, None);
        assert_eq!(ride.product, "taxi");
    }

    #[test]
    fn the_same_request_in_another_field_order_is_canonically_equal() {
        let a = r#"{"pickup":{"lat":1,"lng":2},"dropoff":{"lat":3,"lng":4}}"#;
        let b = r#"{ "dropoff":{"lng":4,"lat":3}, "pickup":{"lng":2,"lat":1} }"#;
        let a = serde_json::to_string(&NewRide::from_json(a.as_bytes(), Role::Passenger).unwrap()).unwrap();
        let b = serde_json::to_string(&NewRide::from_json(b.as_bytes(), Role::Passenger).unwrap()).unwrap();
        assert_eq!(a, b);
    }
}
