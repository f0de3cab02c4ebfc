//! The rules every WebSocket obeys, decided without IO or a clock: the
//! message rate limit, the cap on sockets per `sub`, token expiry and
//! refresh on a live socket, the close codes, what every socket's
//! attachment holds for them ([`SocketHeader`]) and the messages every kind
//! answers alike ([`SocketMessage`]). The heartbeat rule of driver sockets
//! is in `core::heartbeat`.

use serde::{Deserialize, Serialize};

use super::identity::{Caller, Role};
use super::protocol::{DispatcherInbound, DriverInbound, PassengerInbound};

/// Close code: the driver left its region; reconnect where `region_changed` says.
pub const CLOSE_REGION_CHANGED: u16 = 4000;
/// Close code: the token expired and was not refreshed.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;
/// Close code: a newer socket of the same `sub` replaced this one.
pub const CLOSE_REPLACED: u16 = 4002;
/// Close code: a driver socket sent nothing for 3 × `heartbeat_s` (see `core::heartbeat`).
pub const CLOSE_SILENT: u16 = 4003;
/// Close code: policy violation (the client kept flooding).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code: a frame over 64 KiB.
pub const CLOSE_TOO_LARGE: u16 = 1009;

/// At most this many open sockets per `sub` (per Durable Object).
pub const MAX_SOCKETS_PER_SUB: usize = 5;

/// Sustained messages a second a socket may send.
pub const RATE_PER_S: i64 = 20;
/// Messages a socket may send in a burst (the bucket's size).
pub const BURST: i64 = 40;
/// At most one `rate_limited` warning per this many ms.
pub const WARN_INTERVAL_MS: i64 = 1_000;
/// The window, opened by a dropped frame, in which drops are counted.
pub const CLOSE_WINDOW_MS: i64 = 10_000;
/// Dropped frames within one window that close the socket with 1008.
pub const CLOSE_AFTER_DROPS: u32 = 100;

/// One token in milli-tokens: the bucket counts in thousandths so the
/// refill (20 a second = 20 milli-tokens a ms) stays exact in integers.
const TOKEN: i64 = 1_000;

/// What to do with a frame that arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Handle it.
    Admit,
    /// Drop it unread; when `warn`, answer error `rate_limited` (at most once a second).
    Drop {
        /// Whether to send the `rate_limited` error now.
        warn: bool,
    },
    /// Drop it, send `rate_limited` and close the socket with 1008.
    Close,
}

/// A socket's message rate limiter: a token bucket of [`BURST`] tokens,
/// refilled at [`RATE_PER_S`] a second, starting full; each frame takes a
/// token, a frame finding none is dropped.
///
/// The close rule (ours; the protocol says only "a client that keeps it
/// up"): the first dropped frame opens a window of [`CLOSE_WINDOW_MS`]; if
/// [`CLOSE_AFTER_DROPS`] frames are dropped before the window ends, that
/// frame is answered [`Admission::Close`]. A drop after the window ended
/// opens a new window, counting from 1. In effect a client sending about
/// 30 frames a second or more for 10 s is closed, while one that slows to
/// 20 a second (or sends a little over it) is only throttled, never closed.
/// Once a limiter has said Close it says Close to every later frame.
///
/// A clock that goes backwards adds no tokens and does not rewind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimiter {
    /// Tokens left, in milli-tokens.
    tokens_milli: i64,
    /// When tokens were last added.
    refilled_at: i64,
    /// When the current drop window opened.
    window_start: i64,
    /// Frames dropped in the current window (0: no window open).
    window_drops: u32,
    /// When `rate_limited` was last sent.
    warned_at: Option<i64>,
    /// Whether the close rule has tripped.
    closed: bool,
}

impl RateLimiter {
    /// A full bucket for a socket opened at `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        RateLimiter {
            tokens_milli: BURST * TOKEN,
            refilled_at: now_ms,
            window_start: now_ms,
            window_drops: 0,
            warned_at: None,
            closed: false,
        }
    }

    /// Decides the fate of a frame arriving at `now_ms`.
    pub fn admit(&mut self, now_ms: i64) -> Admission {
        if self.closed {
            return Admission::Close;
        }
        self.refill(now_ms);
        if self.tokens_milli >= TOKEN {
            self.tokens_milli -= TOKEN;
            return Admission::Admit;
        }
        if self.window_drops == 0 || now_ms.saturating_sub(self.window_start) >= CLOSE_WINDOW_MS {
            self.window_start = now_ms;
            self.window_drops = 0;
        }
        self.window_drops += 1;
        if self.window_drops >= CLOSE_AFTER_DROPS {
            self.closed = true;
            return Admission::Close;
        }
        let warn = self.warned_at.is_none_or(|at| now_ms.saturating_sub(at) >= WARN_INTERVAL_MS);
        if warn {
            self.warned_at = Some(now_ms);
        }
        Admission::Drop { warn }
    }

    /// Whole tokens left at the last frame.
    pub fn tokens(&self) -> i64 {
        self.tokens_milli / TOKEN
    }

    fn refill(&mut self, now_ms: i64) {
        let elapsed = now_ms.saturating_sub(self.refilled_at).max(0);
        let added = elapsed.saturating_mul(RATE_PER_S);
        self.tokens_milli = self.tokens_milli.saturating_add(added).min(BURST * TOKEN);
        self.refilled_at = self.refilled_at.max(now_ms);
    }
}

/// What every socket's attachment holds for the socket rules, whatever its
/// kind (its kind's own facts sit beside it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketHeader {
    /// Unique per socket.
    pub socket_id: String,
    /// Whose socket: its token's `sub` (for a driver, its id).
    pub sub: String,
    /// Its token's role.
    pub role: Role,
    /// The token's `exp`, in seconds; refreshed by `refresh_token`.
    pub exp_s: i64,
    /// When the socket opened.
    pub opened_at: i64,
    /// The socket's message rate limiter.
    pub limiter: RateLimiter,
    /// When the socket last sent a frame (0: none yet), for the heartbeat rule.
    #[serde(default)]
    pub heard_at: i64,
    /// The server closed it: it is gone for its object already (a client
    /// that answers the close later does not make it go twice).
    #[serde(default)]
    pub closed: bool,
}

impl SocketHeader {
    /// The header of a socket opened at `now_ms` by `sub` in `role` with a token of `exp_s`.
    pub fn new(socket_id: String, sub: &str, role: Role, exp_s: i64, now_ms: i64) -> SocketHeader {
        SocketHeader {
            socket_id,
            sub: sub.to_string(),
            role,
            exp_s,
            opened_at: now_ms,
            limiter: RateLimiter::new(now_ms),
            heard_at: 0,
            closed: false,
        }
    }

    /// The socket's holder, as a `refresh_token` must name it again.
    pub fn holder(&self) -> Caller {
        Caller { sub: self.sub.clone(), role: self.role, name: None }
    }

    /// Notes that the socket sent a frame at `now_ms` (whatever became of it).
    pub fn heard(&mut self, now_ms: i64) {
        self.heard_at = self.heard_at.max(now_ms);
    }
}

/// A message every socket kind answers alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonMessage<'a> {
    /// Answered `pong` with the time.
    Ping,
    /// A new token for the socket.
    RefreshToken(&'a str),
}

/// The inbound messages of a socket kind, of which `ping` and
/// `refresh_token` are answered the same way on every kind.
pub trait SocketMessage {
    /// This message, if it is one every kind answers alike.
    fn common(&self) -> Option<CommonMessage<'_>>;
}

impl SocketMessage for DriverInbound {
    fn common(&self) -> Option<CommonMessage<'_>> {
        match self {
            DriverInbound::Ping => Some(CommonMessage::Ping),
            DriverInbound::RefreshToken { token } => Some(CommonMessage::RefreshToken(token)),
            _ => None,
        }
    }
}

impl SocketMessage for PassengerInbound {
    fn common(&self) -> Option<CommonMessage<'_>> {
        match self {
            PassengerInbound::Ping => Some(CommonMessage::Ping),
            PassengerInbound::RefreshToken { token } => Some(CommonMessage::RefreshToken(token)),
            PassengerInbound::CancelRide { .. } => None,
        }
    }
}

impl SocketMessage for DispatcherInbound {
    fn common(&self) -> Option<CommonMessage<'_>> {
        match self {
            DispatcherInbound::Ping => Some(CommonMessage::Ping),
            DispatcherInbound::RefreshToken { token } => Some(CommonMessage::RefreshToken(token)),
        }
    }
}

/// The sockets of one `sub` to close with [`CLOSE_REPLACED`] so that at
/// most `max` stay open. `open` lists every open socket as (key,
/// opened_at_ms), the new one included; the oldest go first (ties by key),
/// returned oldest first.
pub fn sockets_to_evict(open: &[(String, i64)], max: usize) -> Vec<String> {
    let excess = open.len().saturating_sub(max);
    let mut oldest_first: Vec<&(String, i64)> = open.iter().collect();
    oldest_first.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    oldest_first.into_iter().take(excess).map(|(key, _)| key.clone()).collect()
}

/// Whether a `refresh_token` may replace a socket's token: the new token
/// must be for the same `sub` and `role`.
pub fn refresh_allowed(current: &Caller, refreshed: &Caller) -> bool {
    current.sub == refreshed.sub && current.role == refreshed.role
}

/// The instant (ms) a socket whose token has `exp_s` must get `token_expired` and close.
pub fn token_deadline_ms(exp_s: i64) -> i64 {
    exp_s.saturating_mul(1000)
}

/// Whether a token of `exp_s` has expired at `now_ms` (no leeway: at the deadline it has).
pub fn token_expired(exp_s: i64, now_ms: i64) -> bool {
    now_ms >= token_deadline_ms(exp_s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::identity::Role;

    const T0: i64 = 1_800_000_000_000;

    /// Sends `n` frames at `at`, returning what became of each.
    fn burst(limiter: &mut RateLimiter, at: i64, n: usize) -> Vec<Admission> {
        (0..n).map(|_| limiter.admit(at)).collect()
    }

    fn admitted(outcomes: &[Admission]) -> usize {
        outcomes.iter().filter(|a| **a == Admission::Admit).count()
    }

    #[test]
    fn a_new_socket_may_send_a_burst_of_40_then_frames_are_dropped() {
        let mut limiter = RateLimiter::new(T0);
        let outcomes = burst(&mut limiter, T0, 42);
        assert!(outcomes[..40].iter().all(|a| *a == Admission::Admit));
        assert_eq!(outcomes[40], Admission::Drop { warn: true });
        assert_eq!(outcomes[41], Admission::Drop { warn: false });
    }

    #[test]
    fn the_bucket_refills_20_tokens_a_second() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 40);
        let outcomes = burst(&mut limiter, T0 + 1_000, 21);
        assert_eq!(admitted(&outcomes), 20);
        assert!(matches!(outcomes[20], Admission::Drop { .. }));
        assert_eq!(admitted(&burst(&mut limiter, T0 + 1_050, 2)), 1, "one token per 50 ms");
    }

    #[test]
    fn the_bucket_never_holds_more_than_40() {
        let mut limiter = RateLimiter::new(T0);
        assert_eq!(admitted(&burst(&mut limiter, T0 + 3_600_000, 100)), 40);
    }

    #[test]
    fn an_empty_bucket_sustains_20_frames_a_second() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 40);
        for i in 1..=1_200 {
            assert_eq!(limiter.admit(T0 + 50 * i), Admission::Admit, "frame {i}");
        }
    }

    #[test]
    fn a_client_at_20_a_second_for_60_seconds_is_never_dropped_or_closed() {
        let mut even = RateLimiter::new(T0);
        let mut bursty = RateLimiter::new(T0);
        for second in 0..60 {
            for i in 0..20 {
                assert_eq!(even.admit(T0 + second * 1_000 + i * 50), Admission::Admit);
                assert_eq!(bursty.admit(T0 + second * 1_000), Admission::Admit);
            }
        }
    }

    #[test]
    fn rate_limited_is_warned_at_most_once_a_second() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 40);
        assert_eq!(limiter.admit(T0), Admission::Drop { warn: true });
        let half = burst(&mut limiter, T0 + 500, 11);
        assert_eq!(admitted(&half), 10);
        assert_eq!(half[10], Admission::Drop { warn: false });
        let full = burst(&mut limiter, T0 + 1_000, 11);
        assert_eq!(full[10], Admission::Drop { warn: true });
    }

    #[test]
    fn a_client_that_keeps_flooding_is_closed_at_its_100th_drop_within_10_seconds() {
        let mut limiter = RateLimiter::new(T0);
        let outcomes = burst(&mut limiter, T0, 139);
        assert_eq!(admitted(&outcomes), 40);
        assert!(outcomes[40..].iter().all(|a| matches!(a, Admission::Drop { .. })));
        assert_eq!(limiter.admit(T0), Admission::Close);
    }

    #[test]
    fn once_closed_every_later_frame_is_close() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 140);
        assert_eq!(limiter.admit(T0 + 60_000), Admission::Close);
    }

    #[test]
    fn drops_spread_over_more_than_10_seconds_do_not_close() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 40);
        let first = burst(&mut limiter, T0, 99);
        assert!(first.iter().all(|a| matches!(a, Admission::Drop { .. })));
        let later = T0 + CLOSE_WINDOW_MS;
        assert_eq!(admitted(&burst(&mut limiter, later, 40)), 40);
        let second = burst(&mut limiter, later, 99);
        assert!(second.iter().all(|a| matches!(a, Admission::Drop { .. })), "a new window counts from 1");
    }

    #[test]
    fn a_client_at_25_a_second_is_throttled_but_never_closed() {
        let mut limiter = RateLimiter::new(T0);
        let outcomes: Vec<Admission> = (0..60 * 25).map(|i| limiter.admit(T0 + i * 40)).collect();
        assert!(outcomes.iter().any(|a| matches!(a, Admission::Drop { .. })));
        assert!(!outcomes.contains(&Admission::Close));
    }

    #[test]
    fn a_client_at_40_a_second_is_closed_within_about_10_seconds() {
        let mut limiter = RateLimiter::new(T0);
        let closed_at = (0..60 * 40).map(|i| T0 + i * 25).find(|at| limiter.admit(*at) == Admission::Close);
        let seconds = (closed_at.unwrap() - T0) as f64 / 1_000.0;
        assert!((5.0..=12.0).contains(&seconds), "closed after {seconds} s");
    }

    #[test]
    fn a_clock_going_backwards_adds_no_tokens() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 40);
        assert!(matches!(limiter.admit(T0 - 5_000), Admission::Drop { .. }));
        assert!(matches!(limiter.admit(T0), Admission::Drop { .. }));
        assert_eq!(limiter.admit(T0 + 50), Admission::Admit);
    }

    #[test]
    fn the_limiter_survives_hibernation_in_an_attachment() {
        let mut limiter = RateLimiter::new(T0);
        burst(&mut limiter, T0, 45);
        let json = serde_json::to_string(&limiter).unwrap();
        assert!(json.len() < 200, "{json}");
        let mut back: RateLimiter = serde_json::from_str(&json).unwrap();
        assert_eq!(back, limiter);
        assert_eq!(back.admit(T0), limiter.admit(T0));
        assert_eq!(back.tokens(), 0);
    }

    fn open(sockets: &[(&str, i64)]) -> Vec<(String, i64)> {
        sockets.iter().map(|(k, t)| (k.to_string(), *t)).collect()
    }

    #[test]
    fn a_sixth_socket_evicts_the_oldest() {
        let sockets = open(&[("c", 30), ("a", 10), ("e", 50), ("b", 20), ("d", 40), ("new", 60)]);
        assert_eq!(sockets_to_evict(&sockets, MAX_SOCKETS_PER_SUB), ["a"]);
    }

    #[test]
    fn up_to_five_sockets_evict_nothing() {
        let sockets = open(&[("a", 1), ("b", 2), ("c", 3), ("d", 4), ("e", 5)]);
        assert!(sockets_to_evict(&sockets, MAX_SOCKETS_PER_SUB).is_empty());
        assert!(sockets_to_evict(&[], MAX_SOCKETS_PER_SUB).is_empty());
    }

    #[test]
    fn eviction_takes_the_oldest_first_and_breaks_ties_by_key() {
        let sockets = open(&[("z", 5), ("y", 5), ("x", 9), ("w", 1), ("v", 7), ("u", 8), ("t", 9), ("s", 10)]);
        assert_eq!(sockets_to_evict(&sockets, 5), ["w", "y", "z"]);
        assert_eq!(sockets_to_evict(&sockets, 0).len(), 8);
    }

    fn caller(sub: &str, role: Role) -> Caller {
        Caller { sub: sub.into(), role, name: None }
    }

    #[test]
    fn a_token_may_be_refreshed_only_for_the_same_sub_and_role() {
        let current = caller("d1", Role::Driver);
        assert!(refresh_allowed(&current, &Caller { name: Some("New name".into()), ..caller("d1", Role::Driver) }));
        assert!(!refresh_allowed(&current, &caller("d2", Role::Driver)));
        assert!(!refresh_allowed(&current, &caller("d1", Role::Dispatcher)));
    }

    #[test]
    fn a_token_expires_at_exactly_its_exp_second() {
        assert_eq!(token_deadline_ms(1_800_000_000), 1_800_000_000_000);
        assert!(!token_expired(1_800_000_000, 1_799_999_999_999));
        assert!(token_expired(1_800_000_000, 1_800_000_000_000));
        assert_eq!(token_deadline_ms(i64::MAX), i64::MAX);
    }

    #[test]
    fn ping_and_refresh_token_are_common_to_every_socket_kind() {
        let token = "a.b.c".to_string();
        assert_eq!(DriverInbound::Ping.common(), Some(CommonMessage::Ping));
        assert_eq!(
            PassengerInbound::RefreshToken { token: token.clone() }.common(),
            Some(CommonMessage::RefreshToken("a.b.c"))
        );
        assert_eq!(DispatcherInbound::RefreshToken { token }.common(), Some(CommonMessage::RefreshToken("a.b.c")));
        assert_eq!(DriverInbound::SetAvailable { available: true }.common(), None);
        assert_eq!(PassengerInbound::CancelRide { reason: None }.common(), None);
    }

    #[test]
    fn a_socket_header_is_heard_at_its_latest_frame_and_small() {
        let mut header = SocketHeader::new("0123456789abcdef".into(), "d1", Role::Driver, 1_800_003_600, T0);
        assert_eq!(header.heard_at, 0);
        header.heard(T0 + 5_000);
        header.heard(T0 + 1_000);
        assert_eq!(header.heard_at, T0 + 5_000);
        assert_eq!(header.holder(), caller("d1", Role::Driver));
        assert!(serde_json::to_string(&header).unwrap().len() < 400);
    }

    #[test]
    fn close_codes_are_the_protocols() {
        assert_eq!(
            [CLOSE_REGION_CHANGED, CLOSE_TOKEN_EXPIRED, CLOSE_REPLACED, CLOSE_SILENT, CLOSE_POLICY, CLOSE_TOO_LARGE],
            [4000, 4001, 4002, 4003, 1008, 1009]
        );
    }
}
