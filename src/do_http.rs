//! The plumbing under the typed Durable Object calls: a JSON POST to a
//! stub, a WebSocket hand-over, and reading the answer (an error the DO
//! answered with is relayed unchanged).

use serde::{de::DeserializeOwned, Serialize};
use worker::js_sys::futures::JsFuture;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::JsValue;
use worker::web_sys;
use worker::{Env, Headers, Method, Request, RequestInit, Response, Stub};

use crate::error::{AppError, ErrorStatus};

/// The stub of the DO named `name` in namespace `binding`.
pub fn stub(env: &Env, binding: &str, name: &str) -> Result<Stub, AppError> {
    Ok(env.durable_object(binding)?.id_from_name(name)?.get_stub()?)
}

/// POSTs `body` as JSON to `path` of the DO and reads its JSON answer.
pub async fn post_json<B: Serialize, R: DeserializeOwned>(stub: &Stub, path: &str, body: &B) -> Result<R, AppError> {
    read_json(post(stub, path, body).await?).await
}

/// Hands a WebSocket upgrade to `path` of the DO, with `identity` in `header`.
/// The DO's answer (101 with the socket, or an error) is returned as is.
pub async fn upgrade<I: Serialize>(stub: &Stub, path: &str, header: &str, identity: &I) -> Result<Response, AppError> {
    let headers = Headers::new();
    headers.set("Upgrade", "websocket")?;
    headers.set(header, &serde_json::to_string(identity)?)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&format!("https://do.internal{path}"), &init)?;
    Ok(stub.fetch_with_request(request).await?)
}

/// POSTs `body` as JSON to `path` of the DO; an empty success answer reads as JSON null.
pub async fn post_json_or_empty<B: Serialize>(
    stub: &Stub,
    path: &str,
    body: &B,
) -> Result<serde_json::Value, AppError> {
    let response = post(stub, path, body).await?;
    if response.status_code() == 204 {
        return Ok(serde_json::Value::Null);
    }
    read_json(response).await
}

/// The whole body in one `arrayBuffer()` call: `worker`'s `Response::bytes` reads a streamed
/// body (every answer of another object) chunk by chunk through a stream reader, which cost
/// more of the isolate's thread than any other part of a call between objects (a CPU profile
/// of dispatch, accept and cancel in workerd).
async fn body_bytes(response: Response) -> Result<Vec<u8>, AppError> {
    buffer_bytes(web_sys::Response::from(response).array_buffer()).await
}

/// The bytes of an `arrayBuffer()` call's promise (a request's or an answer's body).
pub async fn buffer_bytes(buffer: Result<worker::js_sys::Promise, JsValue>) -> Result<Vec<u8>, AppError> {
    let buffer = JsFuture::from(buffer.map_err(worker::Error::from)?).await.map_err(worker::Error::from)?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

async fn post<B: Serialize>(stub: &Stub, path: &str, body: &B) -> Result<Response, AppError> {
    let mut init = RequestInit::new();
    init.with_method(Method::Post).with_body(Some(JsValue::from_str(&serde_json::to_string(body)?)));
    let request = Request::new_with_init(&format!("https://do.internal{path}"), &init)?;
    Ok(stub.fetch_with_request(request).await?)
}

/// Reads a DO's JSON answer; an error it answered with is relayed unchanged.
pub async fn read_json<R: DeserializeOwned>(response: Response) -> Result<R, AppError> {
    let status = response.status_code();
    let retry_after = response.headers().get("Retry-After")?.and_then(|v| v.parse::<u32>().ok());
    let bytes = body_bytes(response).await?;
    if (200..300).contains(&status) {
        return Ok(serde_json::from_slice(&bytes)?);
    }
    Err(ErrorStatus::from_body(status, &bytes)
        .map(|relayed| match retry_after {
            // A refusal for a while (a PIN lockout) keeps its Retry-After on the way out.
            Some(retry_after_s) if status == 429 => AppError::RateLimited { message: relayed.message, retry_after_s },
            _ => AppError::Relayed(relayed),
        })
        .unwrap_or_else(|| AppError::Internal(format!("durable object answered {status} without an error body"))))
}
