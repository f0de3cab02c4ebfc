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
        let rest = self.url.split_once("://").map_or(self.url.as_str(), |(_, rest)| rest);
        let path = rest.find('/').map_or("/", |at| &rest[at..]);
        path.split(['?', '#']).next().unwrap_or("/")
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let query = self.url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or_default();
        url::form_urlencoded::parse(query.as_bytes()).find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
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
