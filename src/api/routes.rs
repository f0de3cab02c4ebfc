//! The HTTP routes of the protocol, matched from method and path without
//! any IO, so the table is tested natively.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

use crate::core::protocol::RideStep;

/// A matched route with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`.
    Health,
    /// `GET /openapi.json`.
    OpenApi,
    /// `PUT /v1/drivers/{id}`.
    PutDriver(String),
    /// `GET /v1/drivers/{id}`.
    GetDriver(String),
    /// `POST /v1/rides`.
    CreateRide,
    /// `GET /v1/rides`.
    ListRides,
    /// `GET /v1/rides/{id}`.
    GetRide(String),
    /// `POST /v1/rides/{id}/accept`.
    AcceptRide(String),
    /// `POST /v1/rides/{id}/decline`.
    DeclineRide(String),
    /// `POST /v1/rides/{id}/cancel`.
    CancelRide(String),
    /// `POST /v1/rides/{id}/arrived`, `/start`, `/complete`.
    StepRide(String, RideStep),
    /// `GET /v1/rides/{id}/webhooks`.
    RideWebhooks(String),
    /// `POST /v1/rides/{id}/webhooks/redeliver`.
    RedeliverWebhooks(String),
    /// `PUT /v1/rides/{id}/proof/{name}`.
    PutProof(String, String),
    /// `GET /v1/rides/{id}/proof/{name}`.
    GetProof(String, String),
    /// `POST /v1/rides/{id}/watchers`.
    AddWatcher(String),
    /// `DELETE /v1/rides/{id}/watchers` (all) or `/watchers/{watch_id}` (one).
    RevokeWatchers(String, Option<String>),
    /// `GET /v1/drivers/nearby`.
    NearbyDrivers,
    /// `GET /v1/ws/driver` (WebSocket).
    DriverSocket,
    /// `GET /v1/ws/rides/{id}` (WebSocket).
    RideSocket(String),
    /// `GET /v1/ws/dispatch` (WebSocket).
    DispatchSocket,
    /// `GET /v1/stats`.
    Stats,
    /// `GET /v1/regions/outline`.
    RegionOutline,
    /// `POST /v1/notifications`.
    SendNotification,
}

/// Why no route matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRoute {
    /// No such path.
    NotFound,
    /// The path exists, with these methods only.
    MethodNotAllowed(&'static str),
}

/// Matches a request line to a route.
pub fn match_route(method: &str, path: &str) -> Result<Route, NoRoute> {
    // Segments as the client meant them: `/v1/drivers/ops%40acme` is the driver `ops@acme`.
    let decoded: Vec<Cow<str>> = path.trim_end_matches('/').split('/').skip(1).map(decode_segment).collect();
    let segments: Vec<&str> = decoded.iter().map(|s| s.as_ref()).collect();
    let (route, allowed) = match segments.as_slice() {
        ["health"] => (method_is(method, "GET").then_some(Route::Health), "GET"),
        ["openapi.json"] => (method_is(method, "GET").then_some(Route::OpenApi), "GET"),
        ["v1", "drivers", "nearby"] => (method_is(method, "GET").then_some(Route::NearbyDrivers), "GET"),
        ["v1", "drivers", id] if !id.is_empty() => match method {
            "PUT" => (Some(Route::PutDriver(id.to_string())), ""),
            "GET" | "HEAD" => (Some(Route::GetDriver(id.to_string())), ""),
            _ => (None, "GET, PUT"),
        },
        ["v1", "rides"] => match method {
            "POST" => (Some(Route::CreateRide), ""),
            "GET" | "HEAD" => (Some(Route::ListRides), ""),
            _ => (None, "GET, POST"),
        },
        ["v1", "rides", id] if !id.is_empty() => {
            (method_is(method, "GET").then(|| Route::GetRide(id.to_string())), "GET")
        }
        ["v1", "rides", id, "webhooks"] if !id.is_empty() => {
            (method_is(method, "GET").then(|| Route::RideWebhooks(id.to_string())), "GET")
        }
        ["v1", "rides", id, "webhooks", "redeliver"] if !id.is_empty() => {
            ((method == "POST").then(|| Route::RedeliverWebhooks(id.to_string())), "POST")
        }
        ["v1", "rides", id, "watchers"] if !id.is_empty() => match method {
            "POST" => (Some(Route::AddWatcher(id.to_string())), ""),
            "DELETE" => (Some(Route::RevokeWatchers(id.to_string(), None)), ""),
            _ => (None, "DELETE, POST"),
        },
        ["v1", "rides", id, "watchers", watch_id] if !id.is_empty() && !watch_id.is_empty() => {
            let route = Route::RevokeWatchers(id.to_string(), Some(watch_id.to_string()));
            ((method == "DELETE").then_some(route), "DELETE")
        }
        ["v1", "rides", id, "proof", name] if !id.is_empty() && !name.is_empty() => match method {
            "PUT" => (Some(Route::PutProof(id.to_string(), name.to_string())), ""),
            "GET" | "HEAD" => (Some(Route::GetProof(id.to_string(), name.to_string())), ""),
            _ => (None, "GET, PUT"),
        },
        ["v1", "rides", id, action] if !id.is_empty() => {
            let id = id.to_string();
            let route = match *action {
                "accept" => Route::AcceptRide(id),
                "decline" => Route::DeclineRide(id),
                "cancel" => Route::CancelRide(id),
                "arrived" => Route::StepRide(id, RideStep::Arrived),
                "start" => Route::StepRide(id, RideStep::InProgress),
                "complete" => Route::StepRide(id, RideStep::Completed),
                _ => return Err(NoRoute::NotFound),
            };
            ((method == "POST").then_some(route), "POST")
        }
        ["v1", "ws", "driver"] => ((method == "GET").then_some(Route::DriverSocket), "GET"),
        ["v1", "ws", "dispatch"] => ((method == "GET").then_some(Route::DispatchSocket), "GET"),
        ["v1", "notifications"] => ((method == "POST").then_some(Route::SendNotification), "POST"),
        ["v1", "stats"] => (method_is(method, "GET").then_some(Route::Stats), "GET"),
        ["v1", "regions", "outline"] => (method_is(method, "GET").then_some(Route::RegionOutline), "GET"),
        ["v1", "ws", "rides", id] if !id.is_empty() => {
            ((method == "GET").then(|| Route::RideSocket(id.to_string())), "GET")
        }
        _ => return Err(NoRoute::NotFound),
    };
    route.ok_or(NoRoute::MethodNotAllowed(allowed))
}

/// A percent-decoded path segment; one that does not decode to UTF-8 stays as sent (and fails the id checks).
fn decode_segment(segment: &str) -> Cow<'_, str> {
    percent_decode_str(segment).decode_utf8().unwrap_or(Cow::Borrowed(segment))
}

fn method_is(method: &str, expected: &str) -> bool {
    method == expected || (expected == "GET" && method == "HEAD")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_protocol_route_matches() {
        assert_eq!(match_route("GET", "/health"), Ok(Route::Health));
        assert_eq!(match_route("GET", "/openapi.json"), Ok(Route::OpenApi));
        assert_eq!(match_route("PUT", "/v1/drivers/d1"), Ok(Route::PutDriver("d1".into())));
        assert_eq!(match_route("GET", "/v1/drivers/d1"), Ok(Route::GetDriver("d1".into())));
        assert_eq!(match_route("POST", "/v1/rides"), Ok(Route::CreateRide));
        assert_eq!(match_route("GET", "/v1/rides"), Ok(Route::ListRides));
        assert_eq!(match_route("GET", "/v1/rides/ride_1"), Ok(Route::GetRide("ride_1".into())));
        assert_eq!(match_route("POST", "/v1/rides/ride_1/accept"), Ok(Route::AcceptRide("ride_1".into())));
        assert_eq!(match_route("GET", "/v1/drivers/nearby"), Ok(Route::NearbyDrivers));
        assert_eq!(match_route("POST", "/v1/rides/r/decline"), Ok(Route::DeclineRide("r".into())));
        assert_eq!(match_route("POST", "/v1/rides/r/cancel"), Ok(Route::CancelRide("r".into())));
        assert_eq!(match_route("POST", "/v1/rides/r/arrived"), Ok(Route::StepRide("r".into(), RideStep::Arrived)));
        assert_eq!(match_route("POST", "/v1/rides/r/start"), Ok(Route::StepRide("r".into(), RideStep::InProgress)));
        assert_eq!(match_route("POST", "/v1/rides/r/complete"), Ok(Route::StepRide("r".into(), RideStep::Completed)));
        assert_eq!(match_route("POST", "/v1/rides/r/teleport"), Err(NoRoute::NotFound));
        assert_eq!(match_route("GET", "/v1/ws/driver"), Ok(Route::DriverSocket));
        assert_eq!(match_route("GET", "/v1/ws/dispatch"), Ok(Route::DispatchSocket));
        assert_eq!(match_route("GET", "/v1/stats"), Ok(Route::Stats));
        assert_eq!(match_route("GET", "/v1/regions/outline"), Ok(Route::RegionOutline));
        assert_eq!(match_route("POST", "/v1/notifications"), Ok(Route::SendNotification));
        assert_eq!(match_route("GET", "/v1/ws/rides/ride_1"), Ok(Route::RideSocket("ride_1".into())));
        assert_eq!(match_route("GET", "/v1/rides/r/webhooks"), Ok(Route::RideWebhooks("r".into())));
        assert_eq!(match_route("POST", "/v1/rides/r/webhooks/redeliver"), Ok(Route::RedeliverWebhooks("r".into())));
        assert_eq!(match_route("POST", "/v1/rides/r/webhooks"), Err(NoRoute::MethodNotAllowed("GET")));
        assert_eq!(match_route("GET", "/v1/rides/r/webhooks/redeliver"), Err(NoRoute::MethodNotAllowed("POST")));
    }

    #[test]
    fn percent_encoded_ids_are_decoded() {
        assert_eq!(match_route("GET", "/v1/drivers/ops%40acme"), Ok(Route::GetDriver("ops@acme".into())));
        assert_eq!(match_route("PUT", "/v1/drivers/a%3Ab"), Ok(Route::PutDriver("a:b".into())));
        assert_eq!(match_route("GET", "/v1/drivers/%FF"), Ok(Route::GetDriver("%FF".into())));
    }

    #[test]
    fn proof_and_watcher_routes_match() {
        let (r, n) = ("r".to_string(), "door".to_string());
        assert_eq!(match_route("PUT", "/v1/rides/r/proof/door"), Ok(Route::PutProof(r.clone(), n.clone())));
        assert_eq!(match_route("GET", "/v1/rides/r/proof/door"), Ok(Route::GetProof(r.clone(), n)));
        assert_eq!(match_route("POST", "/v1/rides/r/proof/door"), Err(NoRoute::MethodNotAllowed("GET, PUT")));
        assert_eq!(match_route("POST", "/v1/rides/r/watchers"), Ok(Route::AddWatcher(r.clone())));
        assert_eq!(match_route("DELETE", "/v1/rides/r/watchers"), Ok(Route::RevokeWatchers(r.clone(), None)));
        assert_eq!(match_route("DELETE", "/v1/rides/r/watchers/w_1"), Ok(Route::RevokeWatchers(r, Some("w_1".into()))));
        assert_eq!(match_route("GET", "/v1/rides/r/watchers"), Err(NoRoute::MethodNotAllowed("DELETE, POST")));
        assert_eq!(match_route("GET", "/v1/rides/r/watchers/w_1"), Err(NoRoute::MethodNotAllowed("DELETE")));
    }

    #[test]
    fn a_trailing_slash_is_tolerated() {
        assert_eq!(match_route("GET", "/v1/rides/"), Ok(Route::ListRides));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        assert_eq!(match_route("GET", "/"), Err(NoRoute::NotFound));
        assert_eq!(match_route("GET", "/v2/rides"), Err(NoRoute::NotFound));
        assert_eq!(match_route("GET", "/v1/rides/a/b/c"), Err(NoRoute::NotFound));
        assert_eq!(match_route("GET", "/v1/ws/passenger"), Err(NoRoute::NotFound));
    }

    #[test]
    fn a_known_path_with_another_method_is_not_allowed() {
        assert_eq!(match_route("DELETE", "/v1/rides"), Err(NoRoute::MethodNotAllowed("GET, POST")));
        assert_eq!(match_route("POST", "/health"), Err(NoRoute::MethodNotAllowed("GET")));
        assert_eq!(match_route("GET", "/v1/notifications"), Err(NoRoute::MethodNotAllowed("POST")));
        assert_eq!(match_route("PATCH", "/v1/drivers/d1"), Err(NoRoute::MethodNotAllowed("GET, PUT")));
    }
}
