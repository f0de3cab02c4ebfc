//! Watch links: read-only followers of one ride (a caregiver, family).
//! The ride keeps the list of live watch ids (so a link can be revoked),
//! and when it ended; a link works until the ride ends plus one hour.

use serde::{Deserialize, Serialize};

use super::identity::{Caller, Role};
use super::lifecycle::StepError;
use super::ride::RideRecord;

/// How long a watch link outlives the end of its ride, in ms.
pub const WATCH_AFTER_END_MS: i64 = 60 * 60 * 1000;
/// The longest a watch token is issued for, in ms (a ride that has not
/// ended by then needs a new link).
pub const WATCH_TOKEN_MAX_MS: i64 = 24 * 60 * 60 * 1000;
/// Most live watch links per ride.
pub const MAX_WATCHERS: usize = 20;
/// Random bytes in a watch id.
pub const WATCH_ID_RANDOM_BYTES: usize = 12;

/// One live watch link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchLink {
    /// Its id (`w_` and 24 hex digits).
    pub id: String,
    /// When it was made.
    pub created_at: i64,
    /// The latest its token works (ms; a whole second).
    pub expires_at: i64,
}

/// The ride's watch links and when the ride ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watchers {
    /// The live links, oldest first.
    #[serde(default)]
    pub links: Vec<WatchLink>,
    /// When the ride became completed, cancelled or expired.
    #[serde(default)]
    pub ended_at: Option<i64>,
}

/// A watch id from random bytes.
pub fn watch_id_from_random(bytes: &[u8; WATCH_ID_RANDOM_BYTES]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("w_{hex}")
}

/// Whether `id` looks like a watch id.
pub fn is_watch_id(id: &str) -> bool {
    id.len() == 2 + 2 * WATCH_ID_RANDOM_BYTES
        && id.starts_with("w_")
        && id[2..].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Watchers {
    /// When links stop working, once the ride has ended.
    pub fn deadline(&self) -> Option<i64> {
        self.ended_at.map(|at| at + WATCH_AFTER_END_MS)
    }

    /// Whether link `id` works at `now_ms`.
    pub fn admits(&self, id: &str, now_ms: i64) -> bool {
        let live = self.links.iter().any(|l| l.id == id && now_ms < l.expires_at);
        live && self.deadline().is_none_or(|deadline| now_ms < deadline)
    }
}

impl RideRecord {
    /// Whether `caller` may make links: the ride's passenger or partner.
    fn may_watch(&self, caller: &Caller) -> bool {
        match caller.role {
            Role::Passenger => self.ride.passenger.id.as_deref() == Some(caller.sub.as_str()),
            Role::Partner => self.ride.partner_id.as_deref() == Some(caller.sub.as_str()),
            Role::Driver | Role::Dispatcher => false,
        }
    }

    /// `POST /watchers`: a new link `id` at `now_ms`, until the ride's end
    /// plus an hour, at most [`WATCH_TOKEN_MAX_MS`] (a whole second).
    pub fn add_watcher(&mut self, caller: &Caller, id: String, now_ms: i64) -> Result<WatchLink, StepError> {
        if !self.may_watch(caller) {
            return Err(StepError::Forbidden("only the ride's passenger or partner may share it"));
        }
        if self.watchers.deadline().is_some_and(|deadline| now_ms >= deadline) {
            return Err(StepError::Closed("the ride ended more than an hour ago"));
        }
        self.watchers.links.retain(|l| now_ms < l.expires_at);
        if self.watchers.links.len() >= MAX_WATCHERS {
            return Err(StepError::Invalid(format!("a ride has at most {MAX_WATCHERS} live watch links")));
        }
        let limit = self.watchers.deadline().unwrap_or(i64::MAX).min(now_ms + WATCH_TOKEN_MAX_MS);
        let link = WatchLink { id, created_at: now_ms, expires_at: limit.div_euclid(1000) * 1000 };
        self.watchers.links.push(link.clone());
        Ok(link)
    }

    /// `DELETE /watchers/{id}` (one) or `DELETE /watchers` (all, `None`):
    /// the ids revoked, whose sockets must close. Its passenger, partner or
    /// a dispatcher; an unknown id is `not_found`.
    pub fn revoke_watchers(&mut self, caller: &Caller, id: Option<&str>) -> Result<Vec<String>, StepError> {
        if !self.may_watch(caller) && caller.role != Role::Dispatcher {
            return Err(StepError::Forbidden("only the ride's passenger, partner or a dispatcher may revoke watchers"));
        }
        let (revoked, kept): (Vec<WatchLink>, Vec<WatchLink>) =
            self.watchers.links.drain(..).partition(|l| id.is_none_or(|id| l.id == id));
        self.watchers.links = kept;
        if id.is_some() && revoked.is_empty() {
            return Err(StepError::NoSuchWatcher);
        }
        Ok(revoked.into_iter().map(|l| l.id).collect())
    }

    /// Notes the end of the ride (the first final status) for its links.
    pub(crate) fn note_end_for_watchers(&mut self, now_ms: i64) {
        if self.ride.status.is_final() && self.watchers.ended_at.is_none() {
            self.watchers.ended_at = Some(now_ms);
        }
    }
}

/// A ride socket frame as a watcher gets it: the driver's phone removed.
pub fn redact_for_watcher(frame: &str) -> String {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(frame) else { return frame.to_string() };
    let changed = match value.get_mut("driver").and_then(|d| d.as_object_mut()) {
        Some(driver) => driver.remove("phone").is_some(),
        None => false,
    };
    if changed {
        value.to_string()
    } else {
        frame.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_ids_round_trip() {
        let id = watch_id_from_random(&[0xab; WATCH_ID_RANDOM_BYTES]);
        assert!(is_watch_id(&id), "{id}");
        assert!(!is_watch_id("w_xyz"));
        assert!(!is_watch_id(&id.to_uppercase()));
    }

    #[test]
    fn a_watcher_never_sees_the_drivers_phone() {
        let frame = r#"{"type":"driver_assigned","seq":3,"driver":{"id":"d1","name":"Sipho","phone":"+27"}}"#;
        let redacted = redact_for_watcher(frame);
        assert!(!redacted.contains("phone"), "{redacted}");
        assert!(redacted.contains("Sipho"));
        let other = r#"{"type":"searching","seq":2}"#;
        assert_eq!(redact_for_watcher(other), other);
    }

    #[test]
    fn a_link_works_until_an_hour_after_the_end() {
        let mut w = Watchers::default();
        w.links.push(WatchLink { id: "w_1".into(), created_at: 0, expires_at: 10 * WATCH_AFTER_END_MS });
        assert!(w.admits("w_1", 5));
        assert!(!w.admits("w_2", 5), "an unknown id");
        w.ended_at = Some(1_000);
        assert!(w.admits("w_1", 1_000 + WATCH_AFTER_END_MS - 1));
        assert!(!w.admits("w_1", 1_000 + WATCH_AFTER_END_MS));
    }
}
