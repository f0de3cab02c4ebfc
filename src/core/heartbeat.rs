//! The heartbeat rule of driver sockets, decided without a clock: a driver
//! socket that sends nothing for 3 × `heartbeat_s` is silent, is closed with
//! [`CLOSE_SILENT`](super::socket_rules::CLOSE_SILENT) and the driver goes
//! offline. Dispatch and ride sockets are not subject to it.
//!
//! "Heard" means any frame the socket sent (whatever became of it: handled,
//! refused as `bad_message`, dropped by the rate limit) and any keepalive
//! the runtime answered for it without waking the Durable Object.

/// The keepalive frame the runtime answers by itself, byte for byte (no
/// `req_id`, no spaces): cheaper than `ping`, which wakes the object.
pub const KEEPALIVE_REQUEST: &str = r#"{"type":"heartbeat"}"#;
/// The runtime's fixed answer to [`KEEPALIVE_REQUEST`].
pub const KEEPALIVE_RESPONSE: &str = r#"{"type":"heartbeat_ack"}"#;

/// The heartbeat (seconds) when the deployment does not set `HEARTBEAT_S`.
pub const DEFAULT_HEARTBEAT_S: u32 = 30;
/// Heartbeats without a frame after which a driver socket is silent.
pub const SILENT_AFTER_HEARTBEATS: i64 = 3;

/// When a driver socket was last heard from: the latest of its opening, its
/// last frame (0: none yet) and the last keepalive the runtime answered.
pub fn last_heard(opened_at: i64, frame_at: i64, keepalive_at: Option<i64>) -> i64 {
    opened_at.max(frame_at).max(keepalive_at.unwrap_or(i64::MIN))
}

/// The instant a socket last heard at `last_heard` becomes silent.
pub fn silent_at(last_heard: i64, heartbeat_s: u32) -> i64 {
    last_heard.saturating_add(SILENT_AFTER_HEARTBEATS * i64::from(heartbeat_s) * 1000)
}

/// Whether a socket last heard at `last_heard` is silent at `now_ms` (at the
/// deadline itself it is).
pub fn is_silent(last_heard: i64, heartbeat_s: u32, now_ms: i64) -> bool {
    now_ms >= silent_at(last_heard, heartbeat_s)
}

/// What a heartbeat check over a region's driver sockets found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeartbeatCheck<K> {
    /// The sockets to close, in the order given.
    pub silent: Vec<K>,
    /// When the next socket may become silent (None: no socket left to watch).
    pub next_check_at: Option<i64>,
}

/// Checks every socket, given as (key, last heard), at `now_ms`.
pub fn check<K: Clone>(sockets: &[(K, i64)], heartbeat_s: u32, now_ms: i64) -> HeartbeatCheck<K> {
    let mut silent = Vec::new();
    let mut next_check_at: Option<i64> = None;
    for (key, heard) in sockets {
        if is_silent(*heard, heartbeat_s, now_ms) {
            silent.push(key.clone());
        } else {
            let at = silent_at(*heard, heartbeat_s);
            next_check_at = Some(next_check_at.map_or(at, |n| n.min(at)));
        }
    }
    HeartbeatCheck { silent, next_check_at }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_800_000_000_000;

    #[test]
    fn a_socket_is_silent_after_three_heartbeats_without_a_frame() {
        assert!(!is_silent(T0, 30, T0 + 89_999));
        assert!(is_silent(T0, 30, T0 + 90_000));
        assert!(!is_silent(T0, 1, T0 + 2_999));
        assert!(is_silent(T0, 1, T0 + 3_000));
    }

    #[test]
    fn any_frame_restarts_the_count() {
        let heard = last_heard(T0, T0 + 80_000, None);
        assert!(!is_silent(heard, 30, T0 + 100_000));
        assert!(is_silent(heard, 30, T0 + 170_000));
    }

    #[test]
    fn a_keepalive_answered_by_the_runtime_counts_as_heard() {
        let heard = last_heard(T0, T0 + 10_000, Some(T0 + 85_000));
        assert_eq!(heard, T0 + 85_000);
        assert!(!is_silent(heard, 30, T0 + 120_000));
    }

    #[test]
    fn a_socket_that_never_sent_a_frame_is_counted_from_its_opening() {
        assert_eq!(last_heard(T0, 0, None), T0);
        assert!(is_silent(last_heard(T0, 0, None), 30, T0 + 90_000));
    }

    #[test]
    fn a_check_closes_the_silent_sockets_and_wakes_when_the_next_may_fall_silent() {
        let sockets = [("quiet", T0), ("chatty", T0 + 60_000), ("recent", T0 + 30_000)];
        let found = check(&sockets, 30, T0 + 95_000);
        assert_eq!(found.silent, ["quiet"]);
        assert_eq!(found.next_check_at, Some(T0 + 120_000));
    }

    #[test]
    fn a_check_with_nothing_left_to_watch_sets_no_wake_up() {
        assert_eq!(check::<&str>(&[], 30, T0), HeartbeatCheck { silent: vec![], next_check_at: None });
        let found = check(&[("a", T0)], 30, T0 + 90_000);
        assert_eq!((found.silent, found.next_check_at), (vec!["a"], None));
    }

    #[test]
    fn a_clock_behind_the_last_frame_never_closes() {
        assert!(!is_silent(T0, 30, T0 - 1_000_000));
        assert_eq!(silent_at(i64::MAX, 30), i64::MAX);
    }

    #[test]
    fn the_keepalive_is_a_protocol_frame_with_a_type() {
        for frame in [KEEPALIVE_REQUEST, KEEPALIVE_RESPONSE] {
            let value: serde_json::Value = serde_json::from_str(frame).expect("valid JSON");
            assert!(value["type"].is_string(), "{frame}");
        }
    }
}
