//! Notifications from dispatchers (`POST /v1/notifications`), decided
//! without IO: the body's rules, the `notification` frame every addressee's
//! socket gets, who is addressed (one user, a region's drivers, everyone
//! connected), which objects the Worker asks to deliver it (a bounded
//! fan-out), and which sockets of an object it reaches.
//!
//! A driver's notification goes through its Driver DO, which keeps it for
//! the next connect when no socket is open (24 hours, see
//! `commitments::OFFLINE_KEEP_MS`). Any other user's notification that
//! reached none of its sockets is kept in D1 for 24 hours ([`keep_for_user`],
//! [`KeptNotification`]) and sent on its next ride or dispatch socket.

use serde::{Deserialize, Serialize};

use super::geo::LatLng;
use super::ids::is_ride_id;
use super::invalid::{parse_json, text, Invalid};
use super::region_cells::region_of;

/// Longest `title`, in characters.
pub const MAX_TITLE_CHARS: usize = 100;
/// Longest `message`, in characters.
pub const MAX_MESSAGE_CHARS: usize = 1_000;
/// Longest `to.user` (a token's `sub`), in characters.
pub const MAX_USER_CHARS: usize = 128;
/// Longest `action.type`, in characters.
pub const MAX_ACTION_TYPE_CHARS: usize = 64;
/// Objects (regions and rides) one notification to everyone is sent to, at most.
pub const MAX_PLACES: usize = 500;
/// How long a notification that reached nobody is kept for its user's next connect, in ms (24 hours).
pub const KEEP_MS: i64 = 24 * 60 * 60 * 1000;
/// Notifications kept for one user at most; the oldest go first.
pub const MAX_KEPT: usize = 64;
/// Random bytes in a notification id (128 bits).
pub const NOTIFICATION_ID_RANDOM_BYTES: usize = 16;

/// How urgent a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Needs attention.
    Warning,
    /// Needs attention now.
    Critical,
}

/// What the app may offer to do with a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// What to do, e.g. `open_ride` (1 to 64 of `a-z 0-9 _ -`, `a-z` first).
    #[serde(rename = "type")]
    pub kind: String,
    /// The ride it is about, when any.
    #[serde(default)]
    pub ride_id: Option<String>,
}

/// `to` exactly as sent: one of its three keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ToInput {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    region: Option<LatLngInput>,
    #[serde(default)]
    all: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatLngInput {
    lat: f64,
    lng: f64,
}

/// The body of `POST /v1/notifications` exactly as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationBody {
    to: ToInput,
    title: String,
    message: String,
    severity: Severity,
    #[serde(default)]
    action: Option<Action>,
}

/// Who a notification is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Addressee {
    /// Every open socket of one user (a token's `sub`).
    User(String),
    /// The driver sockets of the region of this position.
    Region(LatLng),
    /// Every connected socket.
    All,
}

/// A validated notification request.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRequest {
    /// Whom it is for.
    pub to: Addressee,
    /// Its title (trimmed).
    pub title: String,
    /// Its text (trimmed).
    pub message: String,
    /// How urgent.
    pub severity: Severity,
    /// What the app may offer to do.
    pub action: Option<Action>,
}

impl NotificationRequest {
    /// Parses and validates a body: strict JSON, exactly one addressee,
    /// bounded texts, a known severity, a well-formed action.
    pub fn from_json(body: &[u8]) -> Result<NotificationRequest, Invalid> {
        let body: NotificationBody = parse_json(body)?;
        Ok(NotificationRequest {
            to: addressee(body.to)?,
            title: text("title", &body.title, MAX_TITLE_CHARS)?,
            message: text("message", &body.message, MAX_MESSAGE_CHARS)?,
            severity: body.severity,
            action: body.action.map(action).transpose()?,
        })
    }

    /// The `notification` frame every addressed socket gets.
    pub fn frame(&self, id: &str, sent_at: i64) -> String {
        let frame = NotificationFrame {
            kind: "notification",
            id,
            title: &self.title,
            message: &self.message,
            severity: self.severity,
            action: self.action.as_ref(),
            sent_at,
        };
        serde_json::to_string(&frame).unwrap_or_default()
    }
}

/// The wire form of a notification on a socket.
#[derive(Serialize)]
struct NotificationFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    id: &'a str,
    title: &'a str,
    message: &'a str,
    severity: Severity,
    action: Option<&'a Action>,
    sent_at: i64,
}

fn addressee(to: ToInput) -> Result<Addressee, Invalid> {
    let given = [to.user.is_some(), to.region.is_some(), to.all.is_some()].iter().filter(|g| **g).count();
    if given != 1 {
        return Err(Invalid::field("to", "must name exactly one of `user`, `region` or `all`"));
    }
    if let Some(user) = to.user {
        if user.is_empty() || user.chars().count() > MAX_USER_CHARS || user.chars().any(char::is_control) {
            return Err(Invalid::field(
                "to.user",
                "must be a user's id (a token's sub): 1 to 128 characters, no control characters",
            ));
        }
        return Ok(Addressee::User(user));
    }
    if let Some(at) = to.region {
        return Ok(Addressee::Region(LatLng::new("to.region", at.lat, at.lng)?));
    }
    match to.all {
        Some(true) => Ok(Addressee::All),
        _ => Err(Invalid::field("to.all", "must be true")),
    }
}

fn action(action: Action) -> Result<Action, Invalid> {
    let kind = &action.kind;
    let ok = (1..=MAX_ACTION_TYPE_CHARS).contains(&kind.len())
        && kind.starts_with(|c: char| c.is_ascii_lowercase())
        && kind.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        return Err(Invalid::field("action.type", "must be 1 to 64 characters: a-z first, then a-z, 0-9, '_' or '-'"));
    }
    if action.ride_id.as_deref().is_some_and(|id| !is_ride_id(id)) {
        return Err(Invalid::field("action.ride_id", "must be a ride id (ride_ and 32 hex digits)"));
    }
    Ok(action)
}

/// A notification id: `ntf_` and 32 lower-case hex digits of `bytes`.
pub fn notification_id_from_random(bytes: &[u8; NOTIFICATION_ID_RANDOM_BYTES]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("ntf_{hex}")
}

/// The kinds of socket a notification may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketClass {
    /// A driver socket (in a Region DO).
    Driver,
    /// A dispatch socket (in a Region DO).
    Dispatcher,
    /// A ride socket of a passenger, partner or dispatcher (in a Ride DO).
    Rider,
}

/// Which sockets of one object a notification reaches.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Audience {
    /// Driver sockets.
    pub drivers: bool,
    /// Dispatch sockets.
    pub dispatchers: bool,
    /// Ride sockets.
    pub riders: bool,
    /// Only the sockets of this user, when set.
    #[serde(default)]
    pub user: Option<String>,
}

impl Audience {
    /// Whether a socket of `class` held by `sub` gets the notification.
    pub fn reaches(&self, class: SocketClass, sub: &str) -> bool {
        let by_class = match class {
            SocketClass::Driver => self.drivers,
            SocketClass::Dispatcher => self.dispatchers,
            SocketClass::Rider => self.riders,
        };
        by_class && self.user.as_deref().is_none_or(|user| user == sub)
    }
}

/// One object the Worker asks to deliver a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A driver's Driver DO: its sockets in every region, or kept for its next connect.
    Driver(String),
    /// A Region DO (`region/{cell}`), for these of its sockets.
    Region {
        /// The region's cell.
        cell: String,
        /// Which sockets.
        audience: Audience,
    },
    /// A Ride DO, for these of its ride sockets.
    Ride {
        /// The ride.
        ride_id: String,
        /// Which sockets.
        audience: Audience,
    },
}

/// The places with sockets open now, from the live stats leases (see
/// `core::stats`): what "everyone connected" is found from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LivePlaces {
    /// Regions whose report is live.
    pub regions: Vec<String>,
    /// Rides whose socket report is live.
    pub rides: Vec<String>,
}

/// The objects to ask for `to`, at most [`MAX_PLACES`] (regions before
/// rides): a registered driver (`is_driver`) through its Driver DO; any
/// other user in the live places where it may hold sockets (dispatch
/// sockets, ride sockets), only its own sockets there; a region's driver
/// sockets; everyone: every socket of every live place.
pub fn targets(to: &Addressee, is_driver: bool, live: &LivePlaces, region_res: u8) -> Result<Vec<Target>, Invalid> {
    let mut out = match to {
        Addressee::User(user) if is_driver => return Ok(vec![Target::Driver(user.clone())]),
        Addressee::User(user) => {
            places(live, Audience { drivers: false, dispatchers: true, riders: true, user: Some(user.clone()) })
        }
        Addressee::Region(at) => {
            let audience = Audience { drivers: true, ..Audience::default() };
            return Ok(vec![Target::Region { cell: region_of(*at, region_res)?, audience }]);
        }
        Addressee::All => places(live, Audience { drivers: true, dispatchers: true, riders: true, user: None }),
    };
    out.truncate(MAX_PLACES);
    Ok(out)
}

fn places(live: &LivePlaces, audience: Audience) -> Vec<Target> {
    let regions = live.regions.iter().map(|cell| Target::Region { cell: cell.clone(), audience: audience.clone() });
    let rides = live.rides.iter().map(|id| Target::Ride { ride_id: id.clone(), audience: audience.clone() });
    regions.chain(rides).collect()
}

/// The answer of `POST /v1/notifications`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationSent {
    /// The notification's id (the frame's `id`).
    pub id: String,
    /// Sockets it reached before the answer.
    pub delivered: u32,
}

/// A notification for the sockets of one object, and the answer: how many it reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaceNotification {
    /// The frame's JSON text.
    pub frame: String,
    /// Which sockets.
    pub audience: Audience,
}

/// How many sockets an object put a notification on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reached {
    /// The count.
    pub sockets: u32,
}

/// Whether a notification for `to` must be kept for the user's next
/// connect: one for a user who is not a driver (a driver's Driver DO keeps
/// its own) that reached none of its sockets.
pub fn keep_for_user(to: &Addressee, is_driver: bool, delivered: u32) -> Option<&str> {
    match to {
        Addressee::User(user) if !is_driver && delivered == 0 => Some(user),
        _ => None,
    }
}

/// A notification kept for a user's next connect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptNotification {
    /// The notification's id.
    pub id: String,
    /// The frame's JSON text.
    pub frame: String,
    /// When it was sent (ms).
    pub sent_at: i64,
}

impl KeptNotification {
    /// Until when it is kept (exclusive).
    pub fn kept_until(&self) -> i64 {
        self.sent_at + KEEP_MS
    }
}

/// What a user's new socket is sent of the notifications taken from its
/// mailbox at `now`: those younger than a day, oldest first.
pub fn deliverable(mut kept: Vec<KeptNotification>, now: i64) -> Vec<String> {
    kept.retain(|k| k.kept_until() > now);
    kept.sort_by(|a, b| (a.sent_at, &a.id).cmp(&(b.sent_at, &b.id)));
    kept.into_iter().map(|k| k.frame).collect()
}
