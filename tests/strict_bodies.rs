//! PROTOCOL.md "Input and abuse": every HTTP body is strict. Wherever the
//! contract shows an object, an array or any other JSON value is
//! `invalid_request` naming the field, and so is an unknown field; checked
//! here for every request type the API reads.

use ridewire::core::cancel_request::cancel_reason;
use ridewire::core::driver::DriverProfile;
use ridewire::core::identity::Role;
use ridewire::core::ride_request::NewRide;

const PICKUP: &str = r#"{"lat":-26.2041,"lng":28.0473}"#;
const DROPOFF: &str = r#"{"lat":-26.1076,"lng":28.0567}"#;

/// A full partner create body with one field replaced (or added) by `field: value`.
fn ride_with(field: &str, value: &str) -> String {
    let mut fields = vec![
        ("pickup", PICKUP.to_string()),
        ("dropoff", DROPOFF.to_string()),
        ("fare", r#"{"amount":85,"currency":"ZAR"}"#.to_string()),
        ("passenger", r#"{"name":"Bo","phone":"+27825550100"}"#.to_string()),
    ];
    match fields.iter_mut().find(|(name, _)| *name == field) {
        Some(entry) => entry.1 = value.to_string(),
        None => fields.push((Box::leak(field.to_string().into_boxed_str()), value.to_string())),
    }
    let inner: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", inner.join(","))
}

fn ride_error(body: &str) -> String {
    NewRide::from_json(body.as_bytes(), Role::Partner).expect_err(body).0
}

fn profile_with_vehicle(vehicle: &str) -> String {
    format!(r#"{{"name":"Thabo","phone":"+27825550100","vehicle":{vehicle}}}"#)
}

fn profile_error(body: &str) -> String {
    DriverProfile::from_json(body.as_bytes()).expect_err(body).0
}

/// Values that are JSON but not objects.
const NOT_OBJECTS: [&str; 6] = ["[28.0473,-26.2041]", "[]", "1", "\"here\"", "true", "[{\"lat\":1,\"lng\":2}]"];

#[test]
fn the_valid_bodies_pass() {
    assert!(NewRide::from_json(ride_with("pickup", PICKUP).as_bytes(), Role::Partner).is_ok());
    assert!(
        DriverProfile::from_json(profile_with_vehicle(r#"{"type":"sedan","registration":"CA 1"}"#).as_bytes()).is_ok()
    );
}

#[test]
fn a_create_body_refuses_anything_but_an_object_where_the_contract_shows_one() {
    for field in ["pickup", "dropoff", "fare", "passenger"] {
        for value in NOT_OBJECTS {
            let msg = ride_error(&ride_with(field, value));
            assert!(msg.starts_with(&format!("{field}: invalid type")), "{field}={value}: {msg}");
            assert!(msg.contains("expected an object"), "{field}={value}: {msg}");
        }
    }
}

#[test]
fn the_geojson_order_pickup_is_refused_not_read_by_position() {
    let msg = ride_error(&ride_with("pickup", "[28.0473,-26.2041]"));
    assert_eq!(msg, "pickup: invalid type: sequence, expected an object");
    let msg = ride_error(&ride_with("fare", r#"[85,"NAD"]"#));
    assert_eq!(msg, "fare: invalid type: sequence, expected an object");
}

#[test]
fn a_create_body_refuses_unknown_fields_at_every_level() {
    assert!(ride_error(&ride_with("pick_up", "{}")).contains("unknown field `pick_up`"));
    let msg = ride_error(&ride_with("pickup", r#"{"lat":1,"lng":2,"alt":3}"#));
    assert!(msg.starts_with("pickup: unknown field `alt`"), "{msg}");
    let msg = ride_error(&ride_with("fare", r#"{"amount":1,"currency":"ZAR","tip":2}"#));
    assert!(msg.starts_with("fare: unknown field `tip`"), "{msg}");
    let msg = ride_error(&ride_with("passenger", r#"{"name":"Bo","phone":"+27825550100","email":"x"}"#));
    assert!(msg.starts_with("passenger: unknown field `email`"), "{msg}");
}

#[test]
fn a_driver_profile_refuses_anything_but_an_object_for_the_vehicle_and_unknown_fields() {
    for value in NOT_OBJECTS {
        let msg = profile_error(&profile_with_vehicle(value));
        assert!(msg.starts_with("vehicle: invalid type"), "{value}: {msg}");
    }
    let msg = profile_error(&profile_with_vehicle(r#"{"type":"sedan","registration":"CA 1","colour":"red"}"#));
    assert!(msg.starts_with("vehicle: unknown field `colour`"), "{msg}");
    let msg = profile_error(r#"{"name":"T","phone":"+27825550100","vehicle":{"type":"s","registration":"r"},"x":1}"#);
    assert!(msg.contains("unknown field `x`"), "{msg}");
}

#[test]
fn every_body_must_itself_be_an_object() {
    for body in NOT_OBJECTS.iter().chain(&["null"]) {
        assert!(ride_error(body).starts_with("body: invalid type"), "{body}");
        assert!(profile_error(body).starts_with("body: invalid type"), "{body}");
        assert!(cancel_reason(body.as_bytes()).expect_err(body).0.starts_with("body: invalid type"), "{body}");
    }
}

#[test]
fn a_cancel_body_refuses_unknown_fields() {
    let msg = cancel_reason(br#"{"reason":"x","by":"me"}"#).unwrap_err().0;
    assert!(msg.contains("unknown field `by`"), "{msg}");
}

#[test]
fn a_repeated_key_is_refused_rather_than_settled_by_the_last_one() {
    let body = format!(r#"{{"pickup":{PICKUP},"pickup":{DROPOFF},"dropoff":{DROPOFF}}}"#);
    assert!(ride_error(&body).contains("duplicate field `pickup`"));
    let msg = ride_error(&ride_with("pickup", r#"{"lat":1,"lat":2,"lng":3}"#));
    assert!(msg.starts_with("pickup: duplicate field `lat`"), "{msg}");
}
