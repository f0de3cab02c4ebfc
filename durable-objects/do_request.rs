//! A call as a Durable Object receives it, read lazily: its path, a query
//! parameter, the body. `worker`'s own `Request` conversion reads the
//! method and the `cf` object of every request up front (calls into
//! JavaScript that were about 5% of the isolate's busy time in a CPU
//! profile of rides); the calls between ridewire's objects need neither.

use worker::web_sys;

use crate::error::AppError;

/// One incoming call.
pub struct DoRequest {
    raw: web_sys::Request,
    url: String,
}

impl DoRequest {
    /// The call the runtime handed over.
    pub fn new(raw: web_sys::Request) -> Self {
        let url = raw.url();
        DoRequest { raw, url }
    }

    /// The URL's path (`/deliver`), without its query.
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        query_of(&self.url, name)
    }

    /// The whole body, in one `arrayBuffer()` call.
    pub async fn bytes(&self) -> Result<Vec<u8>, AppError> {
        crate::do_http::buffer_bytes(self.raw.array_buffer()).await
    }

    /// As `worker`'s `Request`, for the few calls that need more (a WebSocket upgrade's headers).
    pub fn into_worker(self) -> worker::Request {
        worker::Request::from(self.raw)
    }
}

/// The path of an absolute URL as the runtime serializes it (`scheme://host/path?query#fragment`).
fn path_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    rest.find('/').map_or("/", |at| &rest[at..])
}

/// The first value of query parameter `name` in `url`, percent-decoded.
fn query_of(url: &str, name: &str) -> Option<String> {
    let query = url.split('#').next().unwrap_or_default().split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_url_gives_its_path_without_query_or_fragment() {
        assert_eq!(path_of("https://do.internal/deliver"), "/deliver");
        assert_eq!(path_of("https://do.internal/frames?driver=d1"), "/frames");
        assert_eq!(path_of("https://do.internal/a/b#x"), "/a/b");
        assert_eq!(path_of("https://do.internal"), "/");
        assert_eq!(path_of("https://do.internal?next=/b"), "/");
    }

    #[test]
    fn a_query_parameter_is_read_percent_decoded_and_absent_when_missing() {
        let url = "https://do.internal/frames?x=1&driver=d%201&driver=d2#driver=d3";
        assert_eq!(query_of(url, "driver").as_deref(), Some("d 1"));
        assert_eq!(query_of(url, "x").as_deref(), Some("1"));
        assert_eq!(query_of(url, "ride"), None);
        assert_eq!(query_of("https://do.internal/frames#driver=d3", "driver"), None);
    }
}
