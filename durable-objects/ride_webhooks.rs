//! A ride's partner webhooks, carried out: each delivery is stored under
//! `webhook:{seq}` in the same write as the event it comes from, then sent
//! off the request path (`wait_until`, and the ride's one alarm for retries)
//! by one sender at a time, in the order the core (src/core/webhooks.rs)
//! decides. A try is recorded before it leaves; its answer comes back into
//! the core, which checks it is still current.

use std::cell::Cell;
use std::pin::pin;
use std::rc::Rc;
use std::time::Duration;

use futures::future::{select, Either};
use worker::wasm_bindgen::JsValue;
use worker::{AbortController, Fetch, Headers, ListOptions, Method, Request, RequestInit, RequestRedirect, Storage};

use super::ride::RideObject;
use crate::core::dispatch::Effect;
use crate::core::ride::RideRecord;
use crate::core::webhooks::{self, Answer, DeliveryLog, NextStep, Schedule, WebhookDelivery};
use crate::error::AppError;
use crate::ride_rpc::ViewRide;

/// Storage key prefix of a delivery; the zero-padded seq keeps them in order.
const PREFIX: &str = "webhook:";
/// How long after an event the alarm looks at its delivery if the send that
/// follows the event never finished (the object restarted).
const GUARD_AFTER_MS: i64 = 15_000;

/// Whether a sender runs in this object, and whether something was queued
/// while it ran (memory only: a restart ends the sender with the object).
#[derive(Clone, Default)]
pub struct Sender(Rc<Cell<(bool, bool)>>);

fn key(seq: u64) -> String {
    format!("{PREFIX}{seq:012}")
}

/// The storage entries (key, JSON) of the deliveries a step owes, for the
/// step's one write.
pub fn entries(record: &RideRecord, effects: &[Effect]) -> Result<Vec<(String, String)>, AppError> {
    let mut entries = Vec::new();
    for delivery in webhooks::deliveries_for(record, effects) {
        entries.push((key(delivery.seq), serde_json::to_string(&delivery)?));
    }
    Ok(entries)
}

/// The alarm that finds deliveries stranded by a restart, set before the write that stores them.
pub async fn guard(ride: &RideObject) -> Result<(), AppError> {
    super::token_expiry::wake_by(ride.state(), super::now_ms() + GUARD_AFTER_MS).await
}

/// Sends what is due once the caller has its answer: nobody waits on a webhook.
pub fn send_later(ride: &RideObject) {
    let sender = ride.webhook_sender.clone();
    let (running, _) = sender.0.get();
    if running {
        // The running sender looks again before it stops.
        sender.0.set((true, true));
        return;
    }
    let Ok(record) = ride.current() else { return };
    let Some(url) = record.callback_url else { return };
    let Ok(config) = ride.config() else { return };
    let storage = ride.state().storage();
    sender.0.set((true, false));
    ride.state().wait_until(async move {
        let result = send_due(&storage, &url, config.webhook_secret.as_deref(), &config.webhooks, &sender).await;
        sender.0.set((false, false));
        if let Err(err) = result {
            worker::console_error!("webhook sender stopped: {err}");
            let retry = super::now_ms() + GUARD_AFTER_MS;
            if let Err(err) = super::token_expiry::wake_by_storage(&storage, retry).await {
                worker::console_error!("could not set the webhook alarm: {err}");
            }
        }
    });
}

/// Sends due deliveries one at a time, in the core's order, until none is
/// due; then sets the alarm for the next.
async fn send_due(
    storage: &Storage,
    url: &str,
    secret: Option<&str>,
    schedule: &Schedule,
    sender: &Sender,
) -> Result<(), AppError> {
    loop {
        sender.0.set((true, false));
        let queue = load(storage).await?;
        let now = super::now_ms();
        let seq = match webhooks::next_step(&queue, now) {
            NextStep::Send(seq) => seq,
            NextStep::GiveUp(seq) => {
                settle_overdue(storage, &queue, seq).await?;
                continue;
            }
            NextStep::WaitUntil(at) => {
                super::token_expiry::wake_by_storage(storage, at).await?;
                if sender.0.get().1 {
                    continue;
                }
                return Ok(());
            }
            NextStep::Idle if sender.0.get().1 => continue,
            NextStep::Idle => return Ok(()),
        };
        let Some(mut delivery) = queue.into_iter().find(|d| d.seq == seq) else { continue };
        let attempt = delivery.begin_try(schedule, now);
        // The try is stored, with the alarm that comes back for it, before it leaves.
        if let Some(at) = delivery.next_try_at {
            super::token_expiry::wake_by_storage(storage, at).await?;
        }
        storage.put(&key(seq), serde_json::to_string(&delivery)?).await?;
        let answer = match secret {
            Some(secret) => send(url, &delivery, secret, schedule.answer_timeout_ms).await,
            None => {
                worker::console_error!("WEBHOOK_SECRET is not set: webhook {} not sent", delivery.id);
                None
            }
        };
        // Read again: the answer applies to the delivery as it is now, if still current.
        let Some(mut current) = load_one(storage, seq).await? else { continue };
        if current.answered(attempt, answer) {
            storage.put(&key(seq), serde_json::to_string(&current)?).await?;
        }
    }
}

/// Gives up a delivery whose last try never came back.
async fn settle_overdue(storage: &Storage, queue: &[WebhookDelivery], seq: u64) -> Result<(), AppError> {
    let Some(mut delivery) = queue.iter().find(|d| d.seq == seq).cloned() else { return Ok(()) };
    delivery.answered(delivery.attempts, None);
    storage.put(&key(seq), serde_json::to_string(&delivery)?).await?;
    Ok(())
}

/// One try: POST the body, signed now; the receiver's status, or None when
/// it did not answer within `timeout_ms` (redirects are not followed).
async fn send(url: &str, delivery: &WebhookDelivery, secret: &str, timeout_ms: i64) -> Answer {
    let body = delivery.body();
    let signature = webhooks::signature(secret.as_bytes(), super::now_ms(), &body);
    let headers = Headers::new();
    for (name, value) in [
        ("Content-Type", "application/json"),
        ("X-Ridewire-Delivery", delivery.id.as_str()),
        ("X-Ridewire-Signature", signature.as_str()),
    ] {
        headers.set(name, value).ok()?;
    }
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual)
        .with_body(Some(JsValue::from_str(&body)));
    let request = Request::new_with_init(url, &init).ok()?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let fetch = Fetch::Request(request);
    let timer = super::timer::sleep(Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(10_000)));
    let sending = pin!(fetch.send_with_signal(&signal));
    let finished = match select(sending, pin!(timer)).await {
        Either::Left((result, _)) => Some(result),
        Either::Right(_) => None,
    };
    match finished {
        Some(Ok(response)) => Some(response.status_code()),
        Some(Err(err)) => {
            worker::console_log!("webhook {} to the partner failed: {err}", delivery.id);
            None
        }
        None => {
            controller.abort();
            None
        }
    }
}

/// Every delivery of the ride, in seq order.
async fn load(storage: &Storage) -> Result<Vec<WebhookDelivery>, AppError> {
    let listed = storage.list_with_options(ListOptions::new().prefix(PREFIX)).await?;
    let mut queue = Vec::new();
    for value in listed.values() {
        let Some(json) = value.map_err(worker::Error::from)?.as_string() else { continue };
        queue.push(serde_json::from_slice::<WebhookDelivery>(json.as_bytes())?);
    }
    queue.sort_by_key(|d| d.seq);
    Ok(queue)
}

async fn load_one(storage: &Storage, seq: u64) -> Result<Option<WebhookDelivery>, AppError> {
    match storage.get::<String>(&key(seq)).await? {
        Some(json) => Ok(Some(serde_json::from_slice(json.as_bytes())?)),
        None => Ok(None),
    }
}

/// Whether the caller may see the ride's webhooks (the Worker lets only
/// partners and dispatchers ask): anyone else is told it does not exist.
async fn check_access(ride: &RideObject, view: &ViewRide) -> Result<(), AppError> {
    ride.visible_to(&view.caller, false).await.map(drop)
}

/// The ride's delivery log.
pub async fn log(ride: &RideObject, view: ViewRide) -> Result<DeliveryLog, AppError> {
    check_access(ride, &view).await?;
    Ok(webhooks::log(&load(&ride.state().storage()).await?))
}

/// Makes every given-up delivery pending again (in one write, with the alarm
/// that guards it) and starts sending; returns the log as it now is.
pub async fn redeliver(ride: &RideObject, view: ViewRide, now: i64) -> Result<DeliveryLog, AppError> {
    check_access(ride, &view).await?;
    let storage = ride.state().storage();
    let mut queue = load(&storage).await?;
    let changed = webhooks::redeliver(&mut queue, now);
    if !changed.is_empty() {
        let object = worker::js_sys::Object::new();
        for delivery in queue.iter().filter(|d| changed.contains(&d.seq)) {
            let json = serde_json::to_string(delivery)?;
            worker::js_sys::Reflect::set(&object, &key(delivery.seq).into(), &json.into())
                .map_err(worker::Error::from)?;
        }
        guard(ride).await?;
        storage.put_multiple_raw(object).await?;
        send_later(ride);
    }
    Ok(webhooks::log(&queue))
}

/// The alarm rang: send what is due (off the alarm's path too). A sender
/// already running will look again; the alarm comes back in case its
/// object restarts before it finishes (the ring that woke it is spent).
pub async fn on_alarm(ride: &RideObject) -> Result<(), AppError> {
    if ride.webhook_sender.0.get().0 {
        guard(ride).await?;
    }
    send_later(ride);
    Ok(())
}
