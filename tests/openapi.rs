//! The OpenAPI document served at /openapi.json describes exactly the
//! routes the Worker answers, no more and no fewer.

use ridewire::api::routes::{match_route, NoRoute};
use ridewire::api::OPENAPI_JSON;
use serde_json::Value;

const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn sample_path(template: &str) -> String {
    template
        .replace("{id}", "ride_0123456789abcdef0123456789abcdef")
        .replace("{name}", "door")
        .replace("{watch_id}", "w_0123456789abcdef01234567")
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
        "/v1/rides/{id}/proof/{name}",
        "/v1/rides/{id}/watchers",
        "/v1/rides/{id}/watchers/{watch_id}",
        "/v1/ws/driver",
        "/v1/ws/dispatch",
        "/v1/stats",
        "/v1/ws/rides/{id}",
        "/v1/rides/{id}/webhooks",
        "/v1/rides/{id}/webhooks/redeliver",
        "/v1/regions/outline",
        "/v1/notifications",
    ] {
        assert!(METHODS.iter().any(|m| match_route(&m.to_uppercase(), &sample_path(path)).is_ok()));
        assert!(paths.contains_key(path), "{path} is routed but not documented");
    }
}

#[test]
fn the_webhook_payload_and_delivery_log_are_described_as_the_code_writes_them() {
    use ridewire::core::ride::{RideEvent, RideStatus};
    use ridewire::core::webhooks::{log, WebhookDelivery};

    let doc: Value = serde_json::from_str(OPENAPI_JSON).unwrap();
    let schemas = &doc["components"]["schemas"];
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    let required = |name: &str| {
        schemas[name]["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let hook = &doc["webhooks"]["rideEvent"]["post"];
    assert_eq!(
        hook["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/WebhookEvent"
    );
    let event = RideEvent { seq: 1, kind: "ride_created".into(), status: RideStatus::Searching, at: 5 };
    let delivery = WebhookDelivery::of_event("ride_0123456789abcdef0123456789abcdef", &event);
    let body: Value = serde_json::from_str(&delivery.body()).unwrap();
    assert_eq!(keys(&body), {
        let mut r = required("WebhookEvent");
        r.sort();
        r
    });
    let entry = serde_json::to_value(log(&[delivery]).deliveries[0].clone()).unwrap();
    let mut documented = required("WebhookDelivery");
    documented.sort();
    assert_eq!(keys(&entry), documented);
}
