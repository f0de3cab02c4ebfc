//! The three classes the runtime instantiates (wrangler.toml's class
//! names), exported by hand rather than by `worker`'s `#[durable_object]`:
//! a call reaches its object as a [`DoRequest`] (read lazily), and each
//! event is polled once at once, so one that needs no IO (a driver's
//! `location_update`, a ping) returns without a promise or a turn of the
//! futures executor; one that waits goes on as a promise.

use std::future::Future;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use worker::js_sys::futures::future_to_promise;
use worker::js_sys::Uint8Array;
use worker::wasm_bindgen::prelude::wasm_bindgen;
use worker::wasm_bindgen::{self, JsValue};
use worker::worker_sys::DurableObjectState;
use worker::{web_sys, Env, Response, State, WebSocket, WebSocketIncomingMessage};

use super::do_request::DoRequest;
use super::{DriverDo, RegionDo, RideDo};

/// What a Durable Object class does with each event the runtime delivers.
pub(crate) trait Shell: 'static {
    /// The object, made when the runtime first needs it (after each wake-up too).
    fn create(state: State, env: Env) -> Self;
    /// A call (from the Worker or another object); errors are answers too.
    async fn fetch(&self, req: DoRequest) -> Response;
    /// The object's alarm rang.
    async fn alarm(&self);
    /// A message on one of the object's hibernatable sockets.
    async fn message(&self, _ws: WebSocket, _message: WebSocketIncomingMessage) {}
    /// One of its sockets closed or failed.
    async fn gone(&self, _ws: WebSocket) {}
}

/// Runs `event` until it first waits: done by then, its value; else a
/// promise of it, driven on by the executor. Sound because every future
/// in these handlers takes the waker of its latest poll (JavaScript
/// promises, channels, `timer::sleep`; not `worker::Delay`).
fn settle(event: impl Future<Output = JsValue> + 'static) -> JsValue {
    let mut event = Box::pin(event);
    match event.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(value) => value,
        Poll::Pending => future_to_promise(async move { Ok(event.await) }).into(),
    }
}

/// A socket message as the runtime hands it over: text, or bytes.
fn incoming(message: JsValue) -> WebSocketIncomingMessage {
    match message.as_string() {
        Some(text) => WebSocketIncomingMessage::String(text),
        None => WebSocketIncomingMessage::Binary(Uint8Array::new(&message).to_vec()),
    }
}

macro_rules! class {
    ($class:ident, $js:ident, $shell:ty) => {
        #[doc = concat!("The runtime's `", stringify!($js), "` class.")]
        #[wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen, js_name = $js)]
        pub struct $class {
            inner: Rc<$shell>,
        }

        #[wasm_bindgen(wasm_bindgen = ::worker::wasm_bindgen, js_class = $js)]
        impl $class {
            #[wasm_bindgen(constructor)]
            pub fn new(state: DurableObjectState, env: Env) -> $class {
                $class { inner: Rc::new(<$shell as Shell>::create(State::from(state), env)) }
            }

            pub fn fetch(&self, req: web_sys::Request) -> JsValue {
                let inner = self.inner.clone();
                settle(async move { web_sys::Response::from(inner.fetch(DoRequest::new(req)).await).into() })
            }

            pub fn alarm(&self) -> JsValue {
                let inner = self.inner.clone();
                settle(async move {
                    inner.alarm().await;
                    JsValue::UNDEFINED
                })
            }

            #[wasm_bindgen(js_name = webSocketMessage)]
            pub fn web_socket_message(&self, ws: web_sys::WebSocket, message: JsValue) -> JsValue {
                let (inner, message) = (self.inner.clone(), incoming(message));
                settle(async move {
                    inner.message(WebSocket::from(ws), message).await;
                    JsValue::UNDEFINED
                })
            }

            #[wasm_bindgen(js_name = webSocketClose)]
            pub fn web_socket_close(&self, ws: web_sys::WebSocket) -> JsValue {
                let inner = self.inner.clone();
                settle(async move {
                    inner.gone(WebSocket::from(ws)).await;
                    JsValue::UNDEFINED
                })
            }

            #[wasm_bindgen(js_name = webSocketError)]
            pub fn web_socket_error(&self, ws: web_sys::WebSocket) -> JsValue {
                self.web_socket_close(ws)
            }
        }
    };
}

class!(RideClass, RideDo, RideDo);
class!(RegionClass, RegionDo, RegionDo);
class!(DriverClass, DriverDo, DriverDo);
