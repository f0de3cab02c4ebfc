//! A seeded simulation of one ride's webhook sender as its Durable Object
//! runs it (durable-objects/ride_webhooks.rs), driving the real core
//! (src/core/webhooks.rs): events arrive, a receiver answers 2xx, fails,
//! or never answers, answers get lost, the object restarts mid-try (memory
//! lost, storage and the alarm kept), partners ask for redelivery. Every
//! seed is checked against the webhook promises:
//! - a delivery goes out only when every earlier one is delivered or given up;
//! - a delivery acknowledged with a 2xx is never sent again (redelivery included);
//! - given up only after a first try and six retries, the last at least 12 h
//!   (scaled) after the run's first try;
//! - every try of a delivery carries the same id and body;
//! - once the receiver is healthy again and nothing restarts, everything settles.
//!
//! A failing seed replays exactly: `WEBHOOK_SIM_SEED=<n> cargo test --test webhook_sim`;
//! `WEBHOOK_SIM_SEEDS=<count>` runs more seeds (500 by default).

#[allow(dead_code)]
#[path = "sim/rng.rs"]
mod rng;

use std::collections::BTreeMap;

use ridewire::core::ride::{RideEvent, RideStatus};
use ridewire::core::webhooks::{
    next_step, redeliver, DeliveryState, NextStep, Schedule, WebhookDelivery, RETRY_AFTER_FIRST_TRY_MS, TRIES_PER_RUN,
};
use rng::Rng;

const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";
const SCALE: f64 = 0.01;

/// A try on its way: the delivery, its try number, when its answer comes back and what it says.
struct InFlight {
    seq: u64,
    attempt: u32,
    back_at: i64,
    answer: Option<u16>,
}

struct Ride {
    rng: Rng,
    now: i64,
    schedule: Schedule,
    /// Storage: the deliveries and the alarm.
    stored: BTreeMap<u64, WebhookDelivery>,
    alarm: Option<i64>,
    /// Memory: the one sender's try, if out.
    in_flight: Option<InFlight>,
    /// What the receiver took with a 2xx whose answer reached the sender (seq → id).
    acknowledged: BTreeMap<u64, String>,
    /// Every request the receiver saw: (seq, id, body).
    seen: Vec<(u64, String, String)>,
    healthy: bool,
    events: u64,
}

impl Ride {
    fn fail(&self, seed: u64, why: String) -> ! {
        panic!("WEBHOOK_SIM_SEED={seed} at {}: {why}", self.now)
    }

    fn add_event(&mut self) {
        self.events += 1;
        let event = RideEvent {
            seq: self.events,
            kind: format!("e{}", self.events),
            status: RideStatus::Searching,
            at: self.now,
        };
        self.stored.insert(self.events, WebhookDelivery::of_event(RIDE, &event));
        self.wake_by(self.now + 15_000);
    }

    fn wake_by(&mut self, at: i64) {
        if self.alarm.is_none_or(|a| a > at) {
            self.alarm = Some(at);
        }
    }

    /// The sender, when idle: what the core says is next.
    fn pump(&mut self, seed: u64) {
        while self.in_flight.is_none() {
            let queue: Vec<WebhookDelivery> = self.stored.values().cloned().collect();
            match next_step(&queue, self.now) {
                NextStep::Send(seq) => {
                    if let Some(earlier) = queue.iter().find(|d| d.seq < seq && d.state == DeliveryState::Pending) {
                        self.fail(seed, format!("seq {seq} sent while seq {} is pending", earlier.seq));
                    }
                    if self.acknowledged.contains_key(&seq) {
                        self.fail(seed, format!("seq {seq} sent again after a 2xx"));
                    }
                    let delivery = self.stored.get_mut(&seq).unwrap_or_else(|| unreachable!());
                    let attempt = delivery.begin_try(&self.schedule, self.now);
                    let (id, body, next) = (delivery.id.clone(), delivery.body(), delivery.next_try_at);
                    if let Some(at) = next {
                        self.wake_by(at);
                    }
                    let roll = if self.healthy { 0 } else { self.rng.below(4) };
                    let (answer, took) = match roll {
                        0 => (Some(200), self.rng.range(1, 500)),
                        1 => (Some(500), self.rng.range(1, 500)),
                        2 => (Some(404), self.rng.range(1, 500)),
                        _ => (None, self.schedule.answer_timeout_ms),
                    };
                    self.seen.push((seq, id, body));
                    self.in_flight = Some(InFlight { seq, attempt, back_at: self.now + took, answer });
                }
                NextStep::GiveUp(seq) => {
                    let delivery = self.stored.get_mut(&seq).unwrap_or_else(|| unreachable!());
                    let attempts = delivery.attempts;
                    delivery.answered(attempts, None);
                    self.check_given_up(seed, seq);
                }
                NextStep::WaitUntil(at) => {
                    self.wake_by(at);
                    return;
                }
                NextStep::Idle => return,
            }
        }
    }

    fn answer_back(&mut self, seed: u64) {
        let Some(flight) = self.in_flight.take() else { return };
        let lost = !self.healthy && self.rng.chance(100);
        let answer = if lost { None } else { flight.answer };
        let Some(delivery) = self.stored.get_mut(&flight.seq) else { return };
        if delivery.answered(flight.attempt, answer) {
            if delivery.state == DeliveryState::Delivered {
                self.acknowledged.insert(flight.seq, delivery.id.clone());
            }
            if delivery.state == DeliveryState::GivenUp {
                self.check_given_up(seed, flight.seq);
            }
        }
    }

    fn check_given_up(&self, seed: u64, seq: u64) {
        let d = &self.stored[&seq];
        let last_retry = (*RETRY_AFTER_FIRST_TRY_MS.last().unwrap_or(&0) as f64 * SCALE).round() as i64;
        let started = d.run_started_at.unwrap_or(i64::MAX);
        if d.run_tries != TRIES_PER_RUN || self.now < started + last_retry {
            self.fail(
                seed,
                format!("seq {seq} given up after {} tries, {} ms into its run", d.run_tries, self.now - started),
            );
        }
    }

    fn redeliver(&mut self, seed: u64) {
        let mut queue: Vec<WebhookDelivery> = self.stored.values().cloned().collect();
        for seq in redeliver(&mut queue, self.now) {
            if self.acknowledged.contains_key(&seq) {
                self.fail(seed, format!("redelivery re-opened seq {seq}, which was delivered"));
            }
            let d = queue.iter().find(|d| d.seq == seq).cloned().unwrap_or_else(|| unreachable!());
            self.stored.insert(seq, d);
        }
    }

    fn restart(&mut self) {
        // Memory is gone; the receiver may still have taken the try, its answer is lost.
        self.in_flight = None;
    }
}

fn run(seed: u64) -> (usize, usize) {
    let mut ride = Ride {
        rng: Rng::new(seed),
        now: 1_800_000_000_000,
        schedule: Schedule { scale: SCALE, answer_timeout_ms: 10_000 },
        stored: BTreeMap::new(),
        alarm: None,
        in_flight: None,
        acknowledged: BTreeMap::new(),
        seen: Vec::new(),
        healthy: false,
        events: 0,
    };
    let chaos_ends = ride.now + 2_000_000;
    for step in 0..20_000 {
        if ride.now >= chaos_ends {
            ride.healthy = true;
        }
        let given_up = ride.stored.values().any(|d| d.state == DeliveryState::GivenUp);
        if ride.healthy && ride.in_flight.is_none() && given_up {
            // A partner that fixed its receiver redelivers what was given up.
            ride.redeliver(seed);
            ride.wake_by(ride.now);
        }
        // The next thing to happen: an answer, the alarm, or (while chaos lasts) an event, a restart, a redelivery.
        let mut next = [ride.in_flight.as_ref().map(|f| f.back_at), ride.alarm].into_iter().flatten().min();
        if !ride.healthy {
            let t = ride.now + ride.rng.range(1, 120_000);
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        let Some(at) = next else { break };
        ride.now = at.max(ride.now);
        if ride.in_flight.as_ref().is_some_and(|f| f.back_at <= ride.now) {
            ride.answer_back(seed);
            ride.pump(seed);
        } else if ride.alarm.is_some_and(|a| a <= ride.now) {
            ride.alarm = None;
            if ride.in_flight.is_some() {
                // The sender is busy: the alarm comes back in case it never finishes (ride_webhooks::on_alarm).
                ride.wake_by(ride.now + 15_000);
            }
            ride.pump(seed);
        } else {
            match ride.rng.below(10) {
                0..=5 if ride.events < 12 => {
                    ride.add_event();
                    ride.pump(seed);
                }
                6 => ride.restart(),
                7 => {
                    ride.redeliver(seed);
                    ride.pump(seed);
                }
                _ => {}
            }
        }
        if step == 19_999 {
            ride.fail(seed, "the simulation did not settle".into());
        }
    }
    if let Some(d) = ride.stored.values().find(|d| d.state != DeliveryState::Delivered) {
        ride.fail(seed, format!("seq {} ended {:?} with a healthy receiver", d.seq, d.state));
    }
    for (seq, id, body) in &ride.seen {
        let d = &ride.stored[seq];
        if *id != d.id || *body != d.body() {
            ride.fail(seed, format!("seq {seq} was sent with another id or body"));
        }
    }
    (ride.stored.len(), ride.seen.len())
}

#[test]
fn every_seed_keeps_the_webhook_promises() {
    let seeds: Vec<u64> = match std::env::var("WEBHOOK_SIM_SEED") {
        Ok(seed) => vec![seed.trim().parse().unwrap_or_else(|_| panic!("WEBHOOK_SIM_SEED must be a number"))],
        Err(_) => (1..=std::env::var("WEBHOOK_SIM_SEEDS").ok().and_then(|n| n.parse().ok()).unwrap_or(500)).collect(),
    };
    let (mut deliveries, mut tries) = (0, 0);
    for seed in seeds {
        let (d, t) = run(seed);
        deliveries += d;
        tries += t;
    }
    // The chaos really happened: far more tries than deliveries.
    assert!(tries > deliveries * 2, "{tries} tries for {deliveries} deliveries");
}
