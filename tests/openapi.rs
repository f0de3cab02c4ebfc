//! The OpenAPI document served at /openapi.json describes exactly the
//! routes the Worker answers, no more and no fewer.

use ridewire::api::routes::{match_route, NoRoute};
use ridewire::api::OPENAPI_JSON;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn sample_path(template: &str) -> String {
    template.replace("{id}", "ride_0123456789abcdef0123456789abcdef")
}

#[test]
fn the_document_is_openapi_3_1() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[test]
fn every_documented_operation_is_routed_and_every_other_method_is_not() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    for (template, item) in paths {
        let path = sample_path(template);
        for method in METHODS {
            let routed = match_route(&method.to_uppercase(), &path);
            if item.get(method).is_some() {
                assert!(routed.is_ok(), "{method} {template} is documented but not routed");
            } else {
                assert!(
                    matches!(routed, Err(NoRoute::MethodNotAllowed(_))),
                    "{method} {template} is routed but not documented"
                );
            }
        }
    }
}

#[test]
fn every_routed_path_is_documented() {
    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/health",
        "/openapi.json",
        "/v1/drivers/{id}",
        "/v1/drivers/nearby",
        "/v1/rides",
        "/v1/rides/{id}",
        "/v1/rides/{id}/accept",
        "/v1/rides/{id}/decline",
        "/v1/rides/{id}/cancel",
        "/v1/rides/{id}/arrived",
        "/v1/rides/{id}/start",
        "/v1/rides/{id}/complete",
        "/v1/ws/driver",
        "/v1/ws/dispatch",
        "/v1/stats",
        "/v1/ws/rides/{id}",
        "/v1/notifications",
    ] {
        assert!(match_route("GET", &sample_path(path)).is_ok() || match_route("POST", &sample_path(path)).is_ok());
        assert!(paths.contains_key(path), "{path} is routed but not documented");
    }
}
