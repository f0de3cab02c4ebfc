//! Partner webhooks (PROTOCOL.md "Webhooks (partners)"): which delivery of
//! a ride goes out next, when a failed one is tried again, when it is given
//! up, and what redelivery may touch. Pure: the time comes in as `now`, the
//! receiver's answer comes back as an input ([`WebhookDelivery::answered`]).
//!
//! One delivery per sequenced event of a ride with a `callback_url`, kept in
//! `seq` order. Only the earliest delivery not yet settled (delivered or given
//! up) may be sent: a later event waits for it. A try that gets no 2xx is
//! tried again 10 s, 1 min, 5 min, 30 min, 2 h and 12 h after the first try
//! of its run (scaled by [`Schedule::scale`] for tests), then given up.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::dispatch::Effect;
use super::ride::{RideEvent, RideRecord, RideStatus};

/// When the retries of a run are due, after its first try, in ms.
pub const RETRY_AFTER_FIRST_TRY_MS: [i64; 6] = [10_000, 60_000, 300_000, 1_800_000, 7_200_000, 43_200_000];
/// Tries in one run: the first and its retries.
pub const TRIES_PER_RUN: u32 = RETRY_AFTER_FIRST_TRY_MS.len() as u32 + 1;
/// How long a receiver has to answer a try, by default.
pub const DEFAULT_ANSWER_TIMEOUT_MS: i64 = 10_000;

/// The retry schedule of a deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Multiplies every retry delay (`WEBHOOK_RETRY_SCALE`; 1 in production).
    pub scale: f64,
    /// How long a receiver has to answer (`WEBHOOK_TIMEOUT_S`).
    pub answer_timeout_ms: i64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { scale: 1.0, answer_timeout_ms: DEFAULT_ANSWER_TIMEOUT_MS }
    }
}

impl Schedule {
    /// When the try after `tries` tries of a run that began at `run_started_at`
    /// is due; None once the run has had all its tries.
    pub fn retry_at(&self, run_started_at: i64, tries: u32) -> Option<i64> {
        let index = usize::try_from(tries.checked_sub(1)?).ok()?;
        let after = RETRY_AFTER_FIRST_TRY_MS.get(index)?;
        Some(run_started_at + (*after as f64 * self.scale).round() as i64)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet answered with a 2xx, still being tried (or waiting its turn).
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Every try of its run failed.
    GivenUp,
}

/// One webhook delivery: an event of the ride and how sending it went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// The delivery's own id, the same on every try (and on redelivery).
    pub id: String,
    /// The ride.
    pub ride_id: String,
    /// The event's seq on the ride socket.
    pub seq: u64,
    /// The event's wire type, e.g. `driver_assigned`.
    pub event: String,
    /// The ride's status after the event.
    pub status: RideStatus,
    /// When the event happened.
    pub at: i64,
    /// Where the delivery stands.
    pub state: DeliveryState,
    /// Tries so far, every run counted.
    pub attempts: u32,
    /// The receiver's HTTP status at the last try; None when it did not answer (or no try yet).
    pub last_status: Option<u16>,
    /// When it may be tried next (pending only).
    pub next_try_at: Option<i64>,
    /// When the current run's first try was made (the schedule counts from it).
    pub run_started_at: Option<i64>,
    /// Tries in the current run.
    pub run_tries: u32,
}

/// The body a receiver gets, fields in the protocol's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookBody<'a> {
    /// The delivery id.
    pub id: &'a str,
    /// The ride.
    pub ride_id: &'a str,
    /// The ride's status after the event.
    pub status: RideStatus,
    /// The event's type.
    pub event: &'a str,
    /// The event's seq.
    pub seq: u64,
    /// When the event happened.
    pub at: i64,
}

/// One row of `GET /v1/rides/{id}/webhooks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryView {
    /// The delivery id.
    pub id: String,
    /// The event's seq.
    pub seq: u64,
    /// The event's type.
    pub event: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Tries so far.
    pub attempts: u32,
    /// The receiver's status at the last try, or None.
    pub last_status: Option<u16>,
    /// When it may be tried next (None once settled).
    pub next_try_at: Option<i64>,
}

/// The delivery log of a ride.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DeliveryLog {
    /// Every delivery, in seq order.
    pub deliveries: Vec<DeliveryView>,
}

/// What the sender must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Try the delivery of this seq now.
    Send(u64),
    /// The delivery of this seq had every try of its run (its last was cut
    /// short, by a restart say): give it up without sending.
    GiveUp(u64),
    /// Nothing is due before this time.
    WaitUntil(i64),
    /// Every delivery is settled.
    Idle,
}

/// A finished try: the receiver's HTTP status, or None when it did not answer in time.
pub type Answer = Option<u16>;

impl WebhookDelivery {
    /// The delivery of one event of `ride_id`, due at once.
    pub fn of_event(ride_id: &str, event: &RideEvent) -> WebhookDelivery {
        WebhookDelivery {
            id: delivery_id(ride_id, event.seq),
            ride_id: ride_id.to_string(),
            seq: event.seq,
            event: event.kind.clone(),
            status: event.status,
            at: event.at,
            state: DeliveryState::Pending,
            attempts: 0,
            last_status: None,
            next_try_at: Some(event.at),
            run_started_at: None,
            run_tries: 0,
        }
    }

    /// The JSON body, the same on every try.
    pub fn body(&self) -> String {
        let body = WebhookBody {
            id: &self.id,
            ride_id: &self.ride_id,
            status: self.status,
            event: &self.event,
            seq: self.seq,
            at: self.at,
        };
        // Plain strings and numbers: serializing cannot fail.
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// Records that a try starts at `now`, before it is sent (so a restart
    /// during it counts it, and the alarm comes back for it): the try's
    /// number, to match its answer against.
    pub fn begin_try(&mut self, schedule: &Schedule, now: i64) -> u32 {
        let started = *self.run_started_at.get_or_insert(now);
        self.attempts += 1;
        self.run_tries += 1;
        // After the last try of a run, the alarm comes back once its answer is overdue.
        self.next_try_at =
            Some(schedule.retry_at(started, self.run_tries).unwrap_or(now + schedule.answer_timeout_ms).max(now));
        self.attempts
    }

    /// The answer to try number `attempt`; ignored unless it is still the
    /// current try of a pending delivery.
    pub fn answered(&mut self, attempt: u32, answer: Answer) -> bool {
        if self.state != DeliveryState::Pending || self.attempts != attempt {
            return false;
        }
        self.last_status = answer;
        if answer.is_some_and(|status| (200..300).contains(&status)) {
            self.settle(DeliveryState::Delivered);
        } else if self.run_tries >= TRIES_PER_RUN {
            self.settle(DeliveryState::GivenUp);
        }
        true
    }

    fn settle(&mut self, state: DeliveryState) {
        self.state = state;
        self.next_try_at = None;
    }

    /// The delivery as the log shows it.
    pub fn view(&self) -> DeliveryView {
        DeliveryView {
            id: self.id.clone(),
            seq: self.seq,
            event: self.event.clone(),
            state: self.state,
            attempts: self.attempts,
            last_status: self.last_status,
            next_try_at: self.next_try_at,
        }
    }
}

/// The id of the delivery of event `seq` of `ride_id`: stable, so a
/// receiver can drop a delivery it already took.
pub fn delivery_id(ride_id: &str, seq: u64) -> String {
    format!("whd_{}_{seq}", ride_id.strip_prefix(super::ids::RIDE_ID_PREFIX).unwrap_or(ride_id))
}

/// The deliveries a step of a ride owes its partner: one per event the
/// step records (every sequenced event, `ride_created` included), when the
/// ride has a `callback_url`; stored in the same write as the events.
pub fn deliveries_for(record: &RideRecord, effects: &[Effect]) -> Vec<WebhookDelivery> {
    if record.callback_url.is_none() {
        return Vec::new();
    }
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Record(change) => Some(WebhookDelivery::of_event(&record.ride.id, &change.event)),
            _ => None,
        })
        .collect()
}

/// What to do next with a ride's deliveries (in seq order) at `now`: only
/// the earliest unsettled one may go out.
pub fn next_step(queue: &[WebhookDelivery], now: i64) -> NextStep {
    let Some(head) = queue.iter().filter(|d| d.state == DeliveryState::Pending).min_by_key(|d| d.seq) else {
        return NextStep::Idle;
    };
    let due = head.next_try_at.unwrap_or(now);
    if due > now {
        NextStep::WaitUntil(due)
    } else if head.run_tries >= TRIES_PER_RUN {
        NextStep::GiveUp(head.seq)
    } else {
        NextStep::Send(head.seq)
    }
}

/// Redelivery: every given-up delivery is pending again with a fresh run
/// starting at `now`; delivered and pending ones are untouched. Returns the
/// seqs changed.
pub fn redeliver(queue: &mut [WebhookDelivery], now: i64) -> Vec<u64> {
    let mut changed = Vec::new();
    for delivery in queue.iter_mut().filter(|d| d.state == DeliveryState::GivenUp) {
        delivery.state = DeliveryState::Pending;
        delivery.next_try_at = Some(now);
        delivery.run_started_at = None;
        delivery.run_tries = 0;
        changed.push(delivery.seq);
    }
    changed
}

/// The log of a ride's deliveries, in seq order.
pub fn log(queue: &[WebhookDelivery]) -> DeliveryLog {
    let mut deliveries: Vec<DeliveryView> = queue.iter().map(WebhookDelivery::view).collect();
    deliveries.sort_by_key(|d| d.seq);
    DeliveryLog { deliveries }
}

/// Whether the body of a redeliver request is empty: nothing, whitespace,
/// or an empty JSON object (what some HTTP clients send for "no body").
pub fn is_empty_body(body: &[u8]) -> bool {
    body.iter().all(u8::is_ascii_whitespace)
        || serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).is_ok_and(|m| m.is_empty())
}

/// `X-Ridewire-Signature` of `body` sent at `t_ms`: `t=<ms>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub fn signature(secret: &[u8], t_ms: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(t_ms.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 0xf)]));
    }
    format!("t={t_ms},v1={hex}")
}
