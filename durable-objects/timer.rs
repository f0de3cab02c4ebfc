//! A timer that wakes the waker of its latest poll, as a future should:
//! `worker::Delay` keeps the waker of its first poll only, which a handler
//! first polled outside the executor (see `classes::settle`) would lose.

use std::time::Duration;

use worker::js_sys::futures::JsFuture;
use worker::js_sys::{self, Function, Promise};
use worker::wasm_bindgen::JsCast;
use worker::web_sys;

/// Resolves after `duration` (a `setTimeout`).
pub async fn sleep(duration: Duration) {
    let ms = i32::try_from(duration.as_millis()).unwrap_or(i32::MAX);
    let promise = Promise::new(&mut |resolve: Function, _reject: Function| {
        let global: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
        if global.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).is_err() {
            // No timer: resolve now rather than never.
            let _ = resolve.call0(&worker::wasm_bindgen::JsValue::UNDEFINED);
        }
    });
    let _ = JsFuture::from(promise).await;
}
