//! What every authenticated handler starts from: the verified caller, the
//! clock reading of this request, and helpers to read bodies and queries.

use futures::StreamExt;
use worker::{Env, Request};

use crate::auth::{token_from, verify};
use crate::config::Config;
use crate::core::body_limit::{BodyCollector, MAX_BODY_BYTES};
use crate::core::identity::{Caller, Role};
use crate::error::AppError;

/// An authenticated request on its way through a handler.
pub struct RequestContext {
    /// The request itself.
    pub req: Request,
    /// Bindings: D1, Durable Objects, vars.
    pub env: Env,
    /// Typed settings.
    pub config: Config,
    /// The verified caller.
    pub caller: Caller,
    /// The token's `exp`, in seconds.
    pub token_exp_s: i64,
    /// Milliseconds since the epoch when the request arrived.
    pub now_ms: i64,
}

impl RequestContext {
    /// Verifies the bearer token before anything else is done (401 otherwise);
    /// on WebSocket routes (`socket`) also from the `token` query parameter.
    pub fn new(req: Request, env: Env, config: Config, socket: bool) -> Result<RequestContext, AppError> {
        let now_ms = crate::clock::now_ms();
        let authorization = req.headers().get("Authorization")?;
        let query_token = if socket {
            req.url()?.query_pairs().find(|(key, _)| key == "token").map(|(_, value)| value.into_owned())
        } else {
            None
        };
        let token = token_from(authorization.as_deref(), query_token.as_deref())?;
        let verified = verify(token, config.jwt_secret.as_bytes(), now_ms.div_euclid(1000))?;
        Ok(RequestContext { req, env, config, caller: verified.caller, token_exp_s: verified.expires_at_s, now_ms })
    }

    /// 403 unless the caller's role is one of `roles`.
    pub fn require_role(&self, roles: &[Role]) -> Result<(), AppError> {
        if self.caller.is_one_of(roles) {
            return Ok(());
        }
        Err(AppError::forbidden(format!("a {} may not use this endpoint", self.caller.role.as_str())))
    }

    /// The body, read as it streams in and refused with 413 as soon as it
    /// passes [`MAX_BODY_BYTES`] (declared or not); the rest is never read.
    pub async fn body(&mut self) -> Result<Vec<u8>, AppError> {
        self.body_up_to(MAX_BODY_BYTES).await
    }

    /// The body, up to `limit` bytes, refused (413) as soon as it passes them.
    pub async fn body_up_to(&mut self, limit: usize) -> Result<Vec<u8>, AppError> {
        let too_large = || AppError::PayloadTooLarge(format!("the body must be at most {limit} bytes"));
        let declared = self.req.headers().get("Content-Length")?;
        let collector = BodyCollector::with_limit(declared.as_deref(), limit);
        if self.req.inner().body().is_none() {
            return collector.map(|_| Vec::new()).map_err(|_| too_large());
        }
        let mut stream = self.req.stream()?;
        let Ok(mut collector) = collector else {
            drain(&mut stream).await;
            return Err(too_large());
        };
        while let Some(chunk) = stream.next().await {
            if collector.push(&chunk?).is_err() {
                drain(&mut stream).await;
                return Err(too_large());
            }
        }
        Ok(collector.finish())
    }

    /// The decoded query pairs.
    pub fn query_pairs(&self) -> Result<Vec<(String, String)>, AppError> {
        Ok(self.req.url()?.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
    }

    /// A request header, if present.
    pub fn header(&self, name: &str) -> Result<Option<String>, AppError> {
        Ok(self.req.headers().get(name)?)
    }

    /// The D1 database.
    pub fn db(&self) -> Result<worker::D1Database, AppError> {
        Ok(self.env.d1(crate::db::BINDING)?)
    }
}

/// How much of a refused body is still read (and dropped) before the 413:
/// a client that writes its whole body before it reads the answer (most
/// HTTP clients) then sees the 413, not a reset (a lingering close).
const MAX_DRAIN_BYTES: usize = 2 * 1024 * 1024;

/// Reads and drops the rest of a refused body, up to [`MAX_DRAIN_BYTES`].
async fn drain(stream: &mut worker::ByteStream) {
    let mut drained = 0;
    while drained < MAX_DRAIN_BYTES {
        match stream.next().await {
            Some(Ok(chunk)) => drained += chunk.len(),
            _ => return,
        }
    }
}

/// 200 with a JSON body.
pub fn json<T: serde::Serialize>(status: u16, value: &T) -> Result<worker::Response, AppError> {
    Ok(worker::Response::from_json(value)?.with_status(status))
}
