//! One driver's commitments, decided without IO: the driver core behind the
//! Driver Durable Object (`driver/{id}`). It owns the driver's one active
//! ride (claimed atomically at accept), its open offers, where its sockets
//! are, and the frames owed to it, retried until they land or are superseded.
//!
//! Every input goes through [`Commitments::handle`] with the current time and
//! returns the [`DriverEffect`]s the shell carries out, in order (sans-IO,
//! like quinn-proto). Answers of other objects come back as new inputs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::busy_mark::BusyMark;
use super::geo::LatLng;
use super::lifecycle::location_relay_due;

/// How long a claim may wait for its ride to record the accept before the
/// driver asks the ride whether it did (a crash in between), in ms.
pub const CLAIM_CONFIRM_MS: i64 = 15_000;
/// The retry delays of a delivery to a region that failed, in ms.
pub const RETRY_DELAYS_MS: [i64; 5] = [500, 1_000, 2_000, 5_000, 15_000];
/// How long a frame owed to an offline driver is kept, in ms (24 hours).
pub const OFFLINE_KEEP_MS: i64 = 24 * 60 * 60 * 1000;
/// Frames kept for an offline driver at most; the oldest go first.
pub const MAX_OWED: usize = 64;

/// The key a notification is owed under, where a ride frame has its ride's id
/// (no ride id looks like it, so no ride's frames supersede it).
pub fn notification_key(id: &str) -> String {
    format!("notification:{id}")
}

/// What a frame from a ride does to the driver's commitments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FrameKind {
    /// A new offer (`ride_offer`).
    Offer {
        /// When the offer lapses.
        expires_at: i64,
    },
    /// The offer is over (`ride_taken`, `ride_cancelled` of an offer).
    OfferClosed,
    /// The ride recorded this driver's accept (`ride_assigned`) or moved on (`ride_updated`).
    Active,
    /// The active ride is over (completed or cancelled): the driver is free.
    Over,
    /// The ride did not record this driver's claim `token` (it lost a race): free it.
    Release {
        /// The claim given up; another claim of the same ride stays.
        token: u64,
    },
    /// Nothing to remember (`viewer_count`, direct replies).
    Transient,
}

/// One frame from a ride to this driver, numbered per ride so that a
/// retried or reordered call is applied once, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RideFrame {
    /// Position in the ride's stream of frames to drivers.
    pub id: u64,
    /// What it does to the commitments.
    pub kind: FrameKind,
    /// The JSON text for the driver's sockets (none for a bare release).
    pub frame: Option<String>,
    /// The region that already put it on the driver's sockets there (the fast path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_in: Option<String>,
    /// The sockets there that took it: a socket of the driver opened in that
    /// region since (a reconnect) is still owed it. Empty: every socket there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delivered_to: Vec<String>,
}

impl RideFrame {
    /// Frame `id` of `kind`, not yet put on any socket.
    pub fn new(id: u64, kind: FrameKind, frame: Option<String>) -> RideFrame {
        RideFrame { id, kind, frame, delivered_in: None, delivered_to: Vec::new() }
    }
}

/// Where the fast path put a frame (see [`RideFrame::delivered_in`]).
#[derive(Debug, Clone, Copy)]
struct Landed<'a> {
    region: &'a str,
    sockets: &'a [String],
}

impl Landed<'_> {
    /// Whether the socket `socket_id` in `region` has the frame already.
    fn reached(&self, socket_id: &str, region: &str) -> bool {
        self.region == region && (self.sockets.is_empty() || self.sockets.iter().any(|s| s == socket_id))
    }
}

/// The answer to a claim: a typed value, never an HTTP error to parse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimAnswer {
    /// The driver is now committed to the ride.
    Claimed {
        /// The busy mark's version with this ride active: the ride's
        /// `ride_assigned` marks the driver busy at it (and its end frees
        /// the driver at the next).
        #[serde(default)]
        version: u64,
    },
    /// The driver has another active ride.
    Busy {
        /// The ride it is committed to.
        ride_id: String,
    },
}

/// What a newly opened socket must be sent right after `connected`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AttachAnswer {
    /// The driver's busy mark (its active ride, while it has one).
    pub mark: BusyMark,
    /// Open offers, the active ride, and frames kept while it was offline, in order.
    pub frames: Vec<String>,
}

/// An input to the driver core.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverInput {
    /// A ride asks to commit the driver to it (an accept in progress), with the claim's token.
    Claim { ride_id: String, token: u64 },
    /// Frames from a ride, in the ride's order.
    Frames { ride_id: String, frames: Vec<RideFrame> },
    /// A socket of the driver opened in `region`.
    Attach { socket_id: String, region: String },
    /// A socket of the driver closed.
    Detach { socket_id: String },
    /// A region's answer to [`DriverEffect::Deliver`]: the driver's sockets it holds (and reached).
    Delivered { region: String, ids: Vec<u64>, sockets: Vec<String> },
    /// A region did not answer a [`DriverEffect::Deliver`].
    DeliveryFailed { region: String },
    /// The driver's position, from the region of one of its sockets.
    Location { location: LatLng, heading: Option<f64> },
    /// A ride's answer to [`DriverEffect::CheckClaim`]: whether it recorded this driver.
    ClaimChecked { ride_id: String, assigned: bool },
    /// A dispatcher's notification for the driver (`id`, the frame's text):
    /// to every socket it has, or kept for its next connect (24 hours).
    Notify { id: String, frame: String },
    /// The alarm fired.
    Tick,
}

/// Something the Driver DO shell must do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum DriverEffect {
    /// Store the commitments and set the alarm to `wake_at`, in one write,
    /// before any call to another object.
    Persist { wake_at: Option<i64> },
    /// Send `frames` to the driver's sockets in `region` and give it the
    /// driver's busy mark; answer with [`DriverInput::Delivered`].
    Deliver { region: String, frames: Vec<(u64, String)>, mark: BusyMark },
    /// Relay the driver's position to its active ride.
    Relay { ride_id: String, location: LatLng, heading: Option<f64> },
    /// Give an offer back to its ride: a busy driver takes no offers.
    Decline { ride_id: String },
    /// Ask a ride whether it recorded this driver; answer with [`DriverInput::ClaimChecked`].
    CheckClaim { ride_id: String },
    /// Answer a claim.
    AnswerClaim(ClaimAnswer),
    /// Answer an attach.
    AnswerAttach(AttachAnswer),
    /// A notification is owed as frame `owed` (the deliveries that carry it count the sockets it reached).
    Notified { owed: u64 },
}

/// The driver's one active ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveRide {
    /// The ride.
    pub ride_id: String,
    /// When it was claimed.
    pub claimed_at: i64,
    /// Whether the ride recorded the accept.
    pub confirmed: bool,
    /// The latest `ride_assigned` / `ride_updated` frame, re-sent on connect.
    pub frame: Option<String>,
    /// When to ask the ride whether it recorded the claim, while unconfirmed.
    pub check_at: Option<i64>,
    /// The ride's claims not yet given up (a double tap claims twice).
    #[serde(default)]
    pub tokens: BTreeSet<u64>,
}

/// An offer the driver still holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenOffer {
    /// The ride offered.
    pub ride_id: String,
    /// The `ride_offer` frame as first sent (with its `expires_at`).
    pub frame: String,
    /// When it lapses.
    pub expires_at: i64,
}

/// A frame not yet on the driver's sockets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OwedFrame {
    /// The driver core's own number for it.
    pub id: u64,
    /// The ride it is about.
    pub ride_id: String,
    /// The JSON text.
    pub frame: String,
    /// Regions with a socket of the driver that have not taken it yet.
    pub regions: BTreeSet<String>,
    /// Kept for the next connect when no socket took it (an ended active ride).
    pub keep_offline: bool,
    /// When it was owed.
    pub owed_at: i64,
}

impl OwedFrame {
    /// Whether it is a dispatcher's notification (owed under [`notification_key`]).
    pub fn is_notification(&self) -> bool {
        self.ride_id.starts_with("notification:")
    }
}

/// A delivery on its way to a region: what its answer is judged against.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InFlight {
    /// The driver's sockets known there when it left.
    pub sockets: Vec<String>,
    /// The busy mark it carries: only the current one settles the region's mark.
    pub mark: BusyMark,
}

/// How far a ride's frames were applied, so that a retry is applied once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The highest frame id applied.
    pub through: u64,
    /// When a frame of the ride was last applied (old entries are pruned).
    pub at: i64,
}

/// Everything one driver is committed to; the Driver DO stores it whole.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Commitments {
    /// Whose commitments these are.
    #[serde(default)]
    pub driver_id: String,
    /// The driver's one active ride.
    pub active: Option<ActiveRide>,
    /// Offers it holds, in the order received.
    pub offers: Vec<OpenOffer>,
    /// Where its sockets are: socket id → region.
    pub sockets: BTreeMap<String, String>,
    /// Frames owed to its sockets.
    pub owed: Vec<OwedFrame>,
    /// Regions that must still learn the driver's busy state.
    pub marks_owed: BTreeSet<String>,
    /// The last frame id applied per ride.
    pub applied: BTreeMap<String, Applied>,
    /// Failed deliveries in a row, for the backoff.
    pub retries: u32,
    /// No delivery is tried before this time (after a failure).
    pub retry_at: Option<i64>,
    /// The next [`OwedFrame::id`].
    pub next_owed_id: u64,
    /// How many times the active ride has changed: the busy mark's version.
    #[serde(default)]
    pub mark_version: u64,
    /// Regions with a delivery in flight (memory only: nothing is in flight after a restart).
    #[serde(skip)]
    pub in_flight: BTreeMap<String, InFlight>,
    /// When the position was last relayed to the active ride (memory only).
    #[serde(skip)]
    pub relayed_at: i64,
}

impl Commitments {
    /// Applies one input at `now` and returns what the shell must do.
    pub fn handle(&mut self, input: DriverInput, now: i64) -> Vec<DriverEffect> {
        let mut out = Vec::new();
        // The alarm that rang is gone: a tick always sets the next one.
        let rang = input == DriverInput::Tick;
        let changed = match input {
            DriverInput::Claim { ride_id, token } => self.claim(ride_id, token, now, &mut out),
            DriverInput::Frames { ride_id, frames } => self.apply_frames(&ride_id, frames, now, &mut out),
            DriverInput::Attach { socket_id, region } => self.attach(socket_id, region, now, &mut out),
            DriverInput::Detach { socket_id } => self.detach(&socket_id),
            DriverInput::Delivered { region, ids, sockets } => self.delivered(&region, &ids, &sockets),
            DriverInput::DeliveryFailed { region } => self.delivery_failed(&region, now),
            DriverInput::Location { location, heading } => {
                self.location(location, heading, now, &mut out);
                false
            }
            DriverInput::ClaimChecked { ride_id, assigned } => self.claim_checked(&ride_id, assigned, now),
            DriverInput::Notify { id, frame } => {
                self.owe(&notification_key(&id), frame, true, None, now);
                out.push(DriverEffect::Notified { owed: self.next_owed_id });
                true
            }
            DriverInput::Tick => self.tick(now, &mut out),
        };
        let pruned = self.prune(now);
        if changed || pruned || rang {
            out.insert(0, DriverEffect::Persist { wake_at: self.next_wake(now) });
        }
        self.pump(now, &mut out);
        out
    }

    /// The regions holding the driver's sockets, each once.
    pub fn regions(&self) -> Vec<String> {
        let regions: BTreeSet<&String> = self.sockets.values().collect();
        regions.into_iter().cloned().collect()
    }

    /// The ride the driver is committed to, if any.
    pub fn active_ride(&self) -> Option<&str> {
        self.active.as_ref().map(|a| a.ride_id.as_str())
    }

    /// The driver's busy mark as it now is.
    pub fn mark(&self) -> BusyMark {
        BusyMark::new(self.active_ride().map(str::to_string), self.mark_version)
    }

    /// Commits the driver to `active` (or frees it); a change of ride is a new mark version.
    fn set_active(&mut self, active: Option<ActiveRide>) {
        let before = self.active_ride().map(str::to_string);
        self.active = active;
        if self.active_ride() != before.as_deref() {
            self.mark_version += 1;
        }
    }

    /// When the alarm must next fire: a claim to check, a delivery to retry
    /// (or, with something owed, soon: a restart may have lost the delivery
    /// that was out), an offer or a kept frame to drop.
    pub fn next_wake(&self, now: i64) -> Option<i64> {
        let check = self.active.as_ref().and_then(|a| a.check_at);
        let retry = self.has_pending().then(|| self.retry_at.unwrap_or(now + RETRY_DELAYS_MS[0]));
        let lapse = self.offers.iter().map(|o| o.expires_at).min();
        let kept = self.owed.iter().map(|o| o.owed_at + OFFLINE_KEEP_MS).min();
        [check, retry, lapse, kept].into_iter().flatten().min()
    }

    fn claim(&mut self, ride_id: String, token: u64, now: i64, out: &mut Vec<DriverEffect>) -> bool {
        let answer = match &mut self.active {
            Some(active) if active.ride_id == ride_id => {
                let added = !active.confirmed && active.tokens.insert(token);
                out.push(DriverEffect::AnswerClaim(ClaimAnswer::Claimed { version: self.mark_version }));
                return added;
            }
            Some(active) => ClaimAnswer::Busy { ride_id: active.ride_id.clone() },
            None => {
                self.set_active(Some(ActiveRide {
                    ride_id,
                    claimed_at: now,
                    confirmed: false,
                    frame: None,
                    check_at: Some(now + CLAIM_CONFIRM_MS),
                    tokens: BTreeSet::from([token]),
                }));
                // Offers owed but not yet sent wait: a committed driver is offered nothing.
                for offer in self.offers.clone() {
                    self.supersede(&offer.ride_id);
                }
                // No mark yet: the regions learn "busy" with `ride_assigned`
                // once the ride recorded the accept (and from here on confirm).
                out.push(DriverEffect::AnswerClaim(ClaimAnswer::Claimed { version: self.mark_version }));
                return true;
            }
        };
        out.push(DriverEffect::AnswerClaim(answer));
        false
    }

    fn apply_frames(&mut self, ride_id: &str, frames: Vec<RideFrame>, now: i64, out: &mut Vec<DriverEffect>) -> bool {
        let mut changed = false;
        for frame in frames {
            let through = self.applied.get(ride_id).map_or(0, |a| a.through);
            if frame.id <= through {
                continue;
            }
            self.applied.insert(ride_id.to_string(), Applied { through: frame.id, at: now });
            self.apply_frame(ride_id, frame, through > 0, now, out);
            changed = true;
        }
        changed
    }

    /// Applies one frame; `known` when the ride sent this driver frames before.
    fn apply_frame(&mut self, ride_id: &str, frame: RideFrame, known: bool, now: i64, out: &mut Vec<DriverEffect>) {
        let RideFrame { kind, frame: text, delivered_in, delivered_to, .. } = frame;
        let done = delivered_in.as_deref().map(|region| Landed { region, sockets: &delivered_to });
        match kind {
            FrameKind::Offer { expires_at } => {
                if self.active.is_some() {
                    out.push(DriverEffect::Decline { ride_id: ride_id.to_string() });
                    return;
                }
                let Some(text) = text else { return };
                self.offers.retain(|o| o.ride_id != ride_id);
                self.offers.push(OpenOffer { ride_id: ride_id.to_string(), frame: text.clone(), expires_at });
                // Owed to the driver's regions but the one that already delivered it.
                self.owe(ride_id, text, false, done, now);
            }
            FrameKind::OfferClosed => {
                // A lapsed offer may still be accepted: its driver hears the end too.
                let held = known || self.offers.iter().any(|o| o.ride_id == ride_id);
                self.offers.retain(|o| o.ride_id != ride_id);
                self.supersede(ride_id);
                if let Some(text) = text.filter(|_| held) {
                    self.owe(ride_id, text, false, done, now);
                }
            }
            FrameKind::Active => self.confirm(ride_id, text, done, now),
            FrameKind::Over => {
                self.offers.retain(|o| o.ride_id != ride_id);
                if self.active_ride() == Some(ride_id) {
                    self.set_active(None);
                    self.mark_everywhere();
                }
                self.supersede(ride_id);
                if let Some(text) = text {
                    self.owe(ride_id, text, true, done, now);
                }
            }
            FrameKind::Release { token } => {
                let Some(active) = self.active.as_mut().filter(|a| a.ride_id == ride_id && !a.confirmed) else {
                    return;
                };
                active.tokens.remove(&token);
                if active.tokens.is_empty() {
                    self.set_active(None);
                    self.mark_everywhere();
                }
            }
            FrameKind::Transient => {
                if let Some(text) = text.filter(|_| !self.sockets.is_empty()) {
                    self.owe(ride_id, text, false, done, now);
                }
            }
        }
    }

    /// The ride recorded the accept (or moved on): the claim holds.
    fn confirm(&mut self, ride_id: &str, text: Option<String>, done: Option<Landed>, now: i64) {
        match &mut self.active {
            Some(active) if active.ride_id == ride_id => {
                let newly = !active.confirmed;
                active.confirmed = true;
                active.check_at = None;
                if text.is_some() {
                    active.frame.clone_from(&text);
                }
                if newly {
                    self.mark_everywhere();
                }
            }
            Some(_) => {}
            None => {
                // The ride holds this driver though no claim is known here
                // (storage restored from before the claim): it is committed.
                self.set_active(Some(ActiveRide {
                    ride_id: ride_id.to_string(),
                    claimed_at: now,
                    confirmed: true,
                    frame: text.clone(),
                    check_at: None,
                    tokens: BTreeSet::new(),
                }));
                self.mark_everywhere();
            }
        }
        // A busy driver is offered nothing: its other offers are not sent
        // again (an accept of one is refused `driver_busy` by the claim).
        for offer in std::mem::take(&mut self.offers) {
            self.supersede(&offer.ride_id);
        }
        self.supersede(ride_id);
        if let Some(text) = text {
            self.owe(ride_id, text, false, done, now);
        }
    }

    fn attach(&mut self, socket_id: String, region: String, now: i64, out: &mut Vec<DriverEffect>) -> bool {
        self.sockets.insert(socket_id, region.clone());
        self.marks_owed.remove(&region);
        // A driver committed to a ride (even before the ride confirmed) is offered nothing.
        let mut frames: Vec<String> = if self.active.is_some() {
            Vec::new()
        } else {
            self.offers.iter().filter(|o| o.expires_at > now).map(|o| o.frame.clone()).collect()
        };
        frames.extend(self.active.as_ref().and_then(|a| a.frame.clone()));
        self.owed.retain(|owed| {
            let offline = owed.keep_offline && owed.regions.is_empty() && !owed.is_notification();
            if offline {
                frames.push(owed.frame.clone());
            }
            !offline
        });
        // Kept notifications go to the new socket's region like any owed frame, retried until a
        // socket takes them: an attach answer that is lost on its way cannot lose them.
        for owed in self.owed.iter_mut().filter(|o| o.keep_offline && o.regions.is_empty()) {
            owed.regions.insert(region.clone());
        }
        let answer = AttachAnswer { mark: self.mark(), frames };
        out.push(DriverEffect::AnswerAttach(answer));
        true
    }

    fn detach(&mut self, socket_id: &str) -> bool {
        let Some(region) = self.sockets.remove(socket_id) else { return false };
        if !self.sockets.values().any(|r| *r == region) {
            self.forget_region(&region);
        }
        true
    }

    fn delivered(&mut self, region: &str, ids: &[u64], present: &[String]) -> bool {
        let sent = self.in_flight.remove(region).unwrap_or_default();
        let known = sent.sockets;
        self.retries = 0;
        self.retry_at = None;
        // Sockets known when the delivery left that the region no longer holds are gone
        // (a close not yet reported); one attached since is not judged by this answer.
        for gone in known.iter().filter(|id| !present.contains(id)) {
            self.sockets.remove(gone);
        }
        if present.is_empty() {
            if !self.sockets.values().any(|r| r == region) {
                self.forget_region(region);
            }
            return true;
        }
        // A mark that changed while this delivery was out is still owed.
        if sent.mark == self.mark() {
            self.marks_owed.remove(region);
        }
        for owed in self.owed.iter_mut().filter(|o| ids.contains(&o.id)) {
            owed.regions.remove(region);
            owed.keep_offline = false;
        }
        self.owed.retain(|o| !o.regions.is_empty() || o.keep_offline);
        true
    }

    fn delivery_failed(&mut self, region: &str, now: i64) -> bool {
        self.in_flight.remove(region);
        let delay = RETRY_DELAYS_MS[(self.retries as usize).min(RETRY_DELAYS_MS.len() - 1)];
        self.retries += 1;
        self.retry_at = Some(now + delay);
        true
    }

    fn location(&mut self, location: LatLng, heading: Option<f64>, now: i64, out: &mut Vec<DriverEffect>) {
        let Some(active) = self.active.as_ref().filter(|a| a.confirmed) else { return };
        if !location_relay_due(self.relayed_at, now) {
            return;
        }
        self.relayed_at = now;
        out.push(DriverEffect::Relay { ride_id: active.ride_id.clone(), location, heading });
    }

    fn claim_checked(&mut self, ride_id: &str, assigned: bool, now: i64) -> bool {
        if !self.active.as_ref().is_some_and(|a| a.ride_id == ride_id && !a.confirmed) {
            return false;
        }
        if assigned {
            self.confirm(ride_id, None, None, now);
        } else {
            self.set_active(None);
            self.mark_everywhere();
        }
        true
    }

    fn tick(&mut self, now: i64, out: &mut Vec<DriverEffect>) -> bool {
        if let Some(active) = self.active.as_mut().filter(|a| a.check_at.is_some_and(|at| at <= now)) {
            active.check_at = Some(now + CLAIM_CONFIRM_MS);
            out.push(DriverEffect::CheckClaim { ride_id: active.ride_id.clone() });
            return true;
        }
        false
    }

    /// Drops lapsed offers, frames kept too long, and old per-ride counters.
    fn prune(&mut self, now: i64) -> bool {
        let before = (self.offers.len(), self.owed.len(), self.applied.len());
        self.offers.retain(|o| o.expires_at > now);
        self.owed.retain(|o| o.owed_at + OFFLINE_KEEP_MS > now);
        let active = self.active.as_ref().map(|a| a.ride_id.clone());
        let held: BTreeSet<String> = self.offers.iter().map(|o| o.ride_id.clone()).chain(active).collect();
        self.applied.retain(|ride, applied| held.contains(ride) || applied.at + OFFLINE_KEEP_MS > now);
        before != (self.offers.len(), self.owed.len(), self.applied.len())
    }

    /// Owes `text` to every region with a socket of the driver but `done`,
    /// the one that already delivered it (kept for the next connect when
    /// `keep_offline` and nobody took it).
    fn owe(&mut self, ride_id: &str, text: String, keep_offline: bool, done: Option<Landed>, now: i64) {
        let regions: BTreeSet<String> = self
            .sockets
            .iter()
            .filter(|(socket, region)| !done.is_some_and(|d| d.reached(socket, region)))
            .map(|(_, region)| region.clone())
            .collect();
        if regions.is_empty() && (!keep_offline || done.is_some()) {
            return;
        }
        self.next_owed_id += 1;
        self.owed.push(OwedFrame {
            id: self.next_owed_id,
            ride_id: ride_id.to_string(),
            frame: text,
            regions,
            keep_offline,
            owed_at: now,
        });
        if self.owed.len() > MAX_OWED {
            // Notifications give way to ride frames: the oldest notification goes first.
            let oldest = self.owed.iter().position(OwedFrame::is_notification).unwrap_or(0);
            self.owed.remove(oldest);
        }
    }

    /// A newer frame about `ride_id` makes the older undelivered ones moot.
    fn supersede(&mut self, ride_id: &str) {
        self.owed.retain(|o| o.ride_id != ride_id);
    }

    /// Every region with a socket must learn the busy state again.
    fn mark_everywhere(&mut self) {
        self.marks_owed = self.sockets.values().cloned().collect();
    }

    /// A region without sockets of the driver: nothing is owed there.
    fn forget_region(&mut self, region: &str) {
        self.marks_owed.remove(region);
        let elsewhere: BTreeSet<String> = self.sockets.values().filter(|r| *r != region).cloned().collect();
        for owed in &mut self.owed {
            owed.regions.remove(region);
            // A notification is for every socket: one that lost its last region goes to the
            // driver's sockets elsewhere (attached while it was out), else it is kept.
            if owed.regions.is_empty() && owed.keep_offline && owed.is_notification() {
                owed.regions.clone_from(&elsewhere);
            }
        }
        self.owed.retain(|o| !o.regions.is_empty() || o.keep_offline);
    }

    fn has_pending(&self) -> bool {
        !self.marks_owed.is_empty() || self.owed.iter().any(|o| !o.regions.is_empty())
    }

    /// One delivery per region with something owed, none in flight and no backoff running.
    fn pump(&mut self, now: i64, out: &mut Vec<DriverEffect>) {
        if self.retry_at.is_some_and(|at| at > now) {
            return;
        }
        let mut regions: BTreeSet<String> = self.marks_owed.clone();
        regions.extend(self.owed.iter().flat_map(|o| o.regions.iter().cloned()));
        for region in regions {
            if self.in_flight.contains_key(&region) {
                continue;
            }
            let sockets = self.sockets.iter().filter(|(_, r)| **r == region).map(|(id, _)| id.clone()).collect();
            let mark = self.mark();
            self.in_flight.insert(region.clone(), InFlight { sockets, mark: mark.clone() });
            let frames =
                self.owed.iter().filter(|o| o.regions.contains(&region)).map(|o| (o.id, o.frame.clone())).collect();
            out.push(DriverEffect::Deliver { region, frames, mark });
        }
    }
}
