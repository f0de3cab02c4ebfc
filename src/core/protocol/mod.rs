//! The WebSocket wire protocol: one closed enum of messages per socket and
//! direction (driver, ride and dispatch sockets), reading a client's frame
//! into one of them, and writing the server's frames.
//!
//! Reading a frame ([`parse_frame`]), in this order:
//! - a frame over [`MAX_FRAME_BYTES`] is refused unread ([`FrameError::TooLarge`]);
//! - it must be a JSON object;
//! - `req_id`, when present, must be a string of at most [`MAX_REQ_ID_CHARS`]
//!   characters; `"req_id": null` counts as absent. It is read next, so
//!   every later error echoes it;
//! - it must have a string `type` this socket knows;
//! - the message's own fields must be present and of the right JSON type;
//!   fields it does not define are ignored, so a newer client can send a
//!   field this server does not know yet (forward compatibility);
//! - then the rules serde cannot express are checked ([`Validate`]).
//!
//! A socket's most frequent message (a driver's `location_update`) is first
//! tried in one pass ([`Validate::read_fast`]); anything that pass does not
//! read plainly takes the steps above, so both read every frame alike.
//!
//! Every refusal but the size limit is [`FrameError::BadMessage`] with a
//! message naming the field as `type.field` where there is one, e.g.
//! `location_update.lat must be a number in [-90, 90]`. Server frames are
//! written with [`to_frame`], which adds the `req_id` of a direct reply.

mod dispatch_socket;
mod driver;
mod ride_socket;

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

use super::ids::is_ride_id;
use super::invalid::Invalid;
use super::socket_rules::CLOSE_TOO_LARGE;

pub use dispatch_socket::{DemandAlert, DispatchOutbound, DispatcherInbound, SnapshotDriver, SnapshotRide};
pub use driver::{AcceptFailure, DriverInbound, DriverOutbound, OfferedRide, RideStep};
pub use ride_socket::{PassengerEvent, PassengerInbound, RideOutbound, SequencedEvent};

/// Largest frame accepted from a client, in bytes (64 KiB).
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Longest `req_id` accepted, in characters.
pub const MAX_REQ_ID_CHARS: usize = 128;
/// Longest cancellation reason accepted, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// A client frame as read: the message and the `req_id` to echo.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound<T> {
    /// The client's request id, echoed on every direct reply.
    pub req_id: Option<String>,
    /// The message itself.
    pub message: T,
}

/// The rules of an inbound message that serde cannot express.
pub trait Validate {
    /// Every wire `type` this socket accepts.
    const TYPES: &'static [&'static str];
    /// Checks the message's values; the error names `type.field`.
    fn validate(&self) -> Result<(), Invalid>;
    /// The frame read in one pass, for a socket's most frequent message
    /// (a driver's `location_update`); `None` sends it down the general
    /// path (any other type, or anything unusual: that path decides, and
    /// words the refusal). It must read a frame as the general path would.
    fn read_fast(_frame: &[u8]) -> Option<Inbound<Self>>
    where
        Self: Sized,
    {
        None
    }
}

/// Why a client frame was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Over [`MAX_FRAME_BYTES`]: answered `message_too_large`, then the socket closes with 1009.
    #[error("frames must be at most 64 KiB ({MAX_FRAME_BYTES} bytes); this one is {bytes} bytes")]
    TooLarge {
        /// The frame's size in bytes.
        bytes: usize,
    },
    /// Not a valid message: answered `bad_message`; the socket stays open.
    #[error("{message}")]
    BadMessage {
        /// What is wrong, for a person.
        message: String,
        /// The frame's `req_id`, when it could be read.
        req_id: Option<String>,
    },
}

impl FrameError {
    /// The error frame's `code`: `message_too_large` or `bad_message`.
    pub fn code(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "message_too_large",
            FrameError::BadMessage { .. } => "bad_message",
        }
    }

    /// The `req_id` to echo, when the frame's could be read.
    pub fn req_id(&self) -> Option<&str> {
        match self {
            FrameError::TooLarge { .. } => None,
            FrameError::BadMessage { req_id, .. } => req_id.as_deref(),
        }
    }

    /// The `{"type":"error",...}` frame answering the refused frame.
    pub fn to_frame(&self) -> String {
        error_frame(self.code(), &self.to_string(), self.req_id())
    }

    /// The close code to send after the error frame, when the socket must close.
    pub fn close_code(&self) -> Option<u16> {
        match self {
            FrameError::TooLarge { .. } => Some(CLOSE_TOO_LARGE),
            FrameError::BadMessage { .. } => None,
        }
    }
}

/// The `error` frame every socket uses: `{"type":"error","code","message"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename = "error")]
pub struct ErrorFrame {
    /// A snake_case code, e.g. `bad_message` or `rate_limited`.
    pub code: String,
    /// Text for a person.
    pub message: String,
}

/// A server message with the `req_id` it answers: the message's own fields
/// plus `req_id`, which is left out when None.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reply<T> {
    /// The message.
    #[serde(flatten)]
    pub message: T,
    /// The `req_id` of the client frame this answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub req_id: Option<String>,
}

/// Whether a server frame written by [`to_frame`] is a `ride_offer` (its
/// `type` leads every frame).
pub fn is_offer_frame(frame: &str) -> bool {
    frame.starts_with(r#"{"type":"ride_offer""#)
}

/// Writes a server frame, with `req_id` when it answers a client frame.
/// Never panics: a value that is not a JSON object (no message type is)
/// becomes an `internal` error frame instead.
pub fn to_frame<T: Serialize>(msg: &T, req_id: Option<&str>) -> String {
    let reply = Reply { message: msg, req_id: req_id.map(str::to_owned) };
    serde_json::to_string(&reply).unwrap_or_else(|_| {
        let mut frame = serde_json::json!({
            "type": "error",
            "code": "internal",
            "message": "the server could not encode its reply",
        });
        if let Some(req_id) = req_id {
            frame["req_id"] = Value::from(req_id);
        }
        frame.to_string()
    })
}

/// Writes an `error` frame with `code` and `message`, echoing `req_id`.
pub fn error_frame(code: &str, message: &str, req_id: Option<&str>) -> String {
    to_frame(&ErrorFrame { code: code.to_owned(), message: message.to_owned() }, req_id)
}

/// Reads a client frame into a message of socket type `T` (see the module
/// header for the rules, in order).
pub fn parse_frame<T: DeserializeOwned + Validate>(text: &str) -> Result<Inbound<T>, FrameError> {
    if text.len() > MAX_FRAME_BYTES {
        return Err(FrameError::TooLarge { bytes: text.len() });
    }
    if let Some(fast) = T::read_fast(text.as_bytes()) {
        if let Err(invalid) = fast.message.validate() {
            return Err(bad(invalid.0, fast.req_id));
        }
        return Ok(fast);
    }
    parse_general(text)
}

/// [`parse_frame`] without the fast path (past the size check).
fn parse_general<T: DeserializeOwned + Validate>(text: &str) -> Result<Inbound<T>, FrameError> {
    let value: Value = serde_json::from_slice(text.as_bytes())
        .map_err(|err| bad(format!("the frame is not valid JSON: {err}"), None))?;
    let Value::Object(mut fields) = value else {
        return Err(bad("a frame must be a JSON object".into(), None));
    };
    let req_id = read_req_id(&fields)?;
    let kind = match fields.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(_) => return Err(bad("type must be a string".into(), req_id)),
        None => return Err(bad("missing field `type`".into(), req_id)),
    };
    if !T::TYPES.contains(&kind.as_str()) {
        let message = format!("unknown type `{kind}`; this socket accepts: {}", T::TYPES.join(", "));
        return Err(bad(message, req_id));
    }
    fields.remove("req_id");
    let message: T = read_message(&kind, fields).map_err(|m| bad(m, req_id.clone()))?;
    message.validate().map_err(|invalid| bad(invalid.0, req_id.clone()))?;
    Ok(Inbound { req_id, message })
}

/// A `bad_message` refusal.
fn bad(message: String, req_id: Option<String>) -> FrameError {
    FrameError::BadMessage { message, req_id }
}

/// The frame's `req_id`: absent or null is None; anything but a short string is refused.
fn read_req_id(fields: &Map<String, Value>) -> Result<Option<String>, FrameError> {
    match fields.get("req_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(id)) if is_req_id(id) => Ok(Some(id.clone())),
        Some(_) => Err(bad(format!("req_id must be a string of at most {MAX_REQ_ID_CHARS} characters"), None)),
    }
}

/// Whether a string `req_id` is short enough to be echoed (both ways of reading a frame ask).
pub(super) fn is_req_id(id: &str) -> bool {
    id.chars().count() <= MAX_REQ_ID_CHARS
}

/// Frames with more fields than this get no culprit search (every message
/// defines at most six), so a frame padded with fields costs no more.
const MAX_FIELDS_SEARCHED: usize = 16;

/// Deserializes the message of type `kind`. Serde cannot name the field of
/// a wrong-typed value inside a tagged enum, so on such an error the field
/// is found by leaving each one out in turn: the culprit is the one whose
/// absence clears the error (or turns it into "missing field").
fn read_message<T: DeserializeOwned>(kind: &str, fields: Map<String, Value>) -> Result<T, String> {
    let frame = Value::Object(fields);
    let err = match T::deserialize(&frame) {
        Ok(message) => return Ok(message),
        Err(err) => err.to_string(),
    };
    let culprit = match frame {
        Value::Object(mut fields) if !err.starts_with("missing field") && fields.len() <= MAX_FIELDS_SEARCHED => {
            find_culprit::<T>(&mut fields)
        }
        _ => None,
    };
    match culprit {
        Some(field) => Err(format!("{kind}.{field}: {err}")),
        None => Err(format!("{kind}: {err}")),
    }
}

/// The field whose absence lets the frame deserialize (or be merely missing).
fn find_culprit<T: DeserializeOwned>(fields: &mut Map<String, Value>) -> Option<String> {
    let keys: Vec<String> = fields.keys().filter(|key| key.as_str() != "type").cloned().collect();
    keys.into_iter().find(|key| {
        let Some(value) = fields.remove(key) else { return false };
        let probe = Value::Object(std::mem::take(fields));
        let cleared = match T::deserialize(&probe) {
            Ok(_) => true,
            Err(err) => err.to_string() == format!("missing field `{key}`"),
        };
        if let Value::Object(back) = probe {
            *fields = back;
        }
        fields.insert(key.clone(), value);
        cleared
    })
}

/// Checks a `ride_id` field: the shape of the ids this server makes.
fn check_ride_id(kind: &str, ride_id: &str) -> Result<(), Invalid> {
    if is_ride_id(ride_id) {
        Ok(())
    } else {
        Err(Invalid::field(&format!("{kind}.ride_id"), "must be a ride id: ride_ and 32 lower-case hex digits"))
    }
}

/// Checks an optional cancellation `reason`: at most [`MAX_REASON_CHARS`].
fn check_reason(kind: &str, reason: Option<&str>) -> Result<(), Invalid> {
    match reason {
        Some(reason) if reason.chars().count() > MAX_REASON_CHARS => {
            Err(Invalid::field(&format!("{kind}.reason"), &format!("must be at most {MAX_REASON_CHARS} characters")))
        }
        _ => Ok(()),
    }
}

/// Checks the `token` of `refresh_token`: present and not blank.
fn check_token(token: &str) -> Result<(), Invalid> {
    if token.trim().is_empty() {
        Err(Invalid::field("refresh_token.token", "must not be empty"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A valid ride id for tests.
    pub(crate) const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

    /// The frame as a JSON value, for exact shape assertions.
    pub(crate) fn value_of<T: Serialize>(msg: &T, req_id: Option<&str>) -> Value {
        serde_json::from_str(&to_frame(msg, req_id)).unwrap()
    }

    fn bad_message(err: FrameError) -> (String, Option<String>) {
        match err {
            FrameError::BadMessage { message, req_id } => (message, req_id),
            other => panic!("expected bad_message, got {other:?}"),
        }
    }

    fn refused(text: &str) -> (String, Option<String>) {
        bad_message(parse_frame::<DriverInbound>(text).unwrap_err())
    }

    #[test]
    fn a_location_update_reads_the_same_by_the_fast_path_as_by_the_general_one() {
        let frames = [
            r#"{"type":"location_update","lat":-26.2,"lng":28.04}"#,
            r#"{"type":"location_update","lat":-26,"lng":28,"heading":90,"speed":3.5,"accuracy":4}"#,
            r#"{"lng":28.04,"lat":-26.2,"type":"location_update","req_id":"r1","extra":{"a":[1]}}"#,
            r#"{"type":"location_update","lat":-26.2,"lng":28.04,"heading":null,"req_id":null}"#,
            r#"{"type":"location_update","lat":-26.2,"lng":28.04,"heading":360}"#,
            r#"{"type":"location_update","lat":91,"lng":28.04,"req_id":"r2"}"#,
            r#"{"type":"location_update","lat":-26.2,"lng":28.04,"speed":-1}"#,
            r#"{"type":"location_update","lat":"-26.2","lng":28.04}"#,
            r#"{"type":"location_update","lat":-26.2}"#,
            r#"{"type":"location_update","lat":-26.2,"lat":-26.3,"lng":28.04}"#,
            r#"{"type":"location_\u0075pdate","lat":-26.2,"lng":28.04}"#,
            r#"{"type":"location_update","lat":-26.2,"lng":28.04,"req_id":7}"#,
            r#"{"type":"ping","lat":-26.2,"lng":28.04}"#,
            r#"{"type":"location_update","lat":1e999,"lng":28.04}"#,
        ];
        let long_id = format!(r#"{{"type":"location_update","lat":1,"lng":2,"req_id":"{}"}}"#, "x".repeat(129));
        for frame in frames.iter().copied().chain([long_id.as_str()]) {
            assert_eq!(parse_frame::<DriverInbound>(frame), parse_general::<DriverInbound>(frame), "{frame}");
        }
        // The common frame does take the fast path.
        assert!(DriverInbound::read_fast(frames[0].as_bytes()).is_some());
    }

    #[test]
    fn malformed_json_is_a_bad_message_without_req_id() {
        let (message, req_id) = refused(r#"{"type":"ping","req_id":"r1""#);
        assert!(message.starts_with("the frame is not valid JSON: "), "{message}");
        assert_eq!(req_id, None);
    }

    #[test]
    fn a_frame_that_is_not_an_object_is_a_bad_message() {
        assert_eq!(refused(r#"["ping"]"#).0, "a frame must be a JSON object");
        assert_eq!(refused(r#""ping""#).0, "a frame must be a JSON object");
    }

    #[test]
    fn a_frame_without_a_string_type_is_a_bad_message_echoing_req_id() {
        assert_eq!(refused(r#"{"req_id":"r1"}"#), ("missing field `type`".into(), Some("r1".into())));
        assert_eq!(refused(r#"{"type":7,"req_id":"r1"}"#), ("type must be a string".into(), Some("r1".into())));
    }

    #[test]
    fn an_unknown_type_is_a_bad_message_listing_the_known_types() {
        let (message, req_id) = refused(r#"{"type":"teleport","req_id":"r2"}"#);
        assert!(message.starts_with("unknown type `teleport`; this socket accepts: location_update, "), "{message}");
        assert_eq!(req_id.as_deref(), Some("r2"));
    }

    #[test]
    fn a_type_of_another_socket_is_unknown_here() {
        let err = parse_frame::<DispatcherInbound>(&format!(r#"{{"type":"accept_ride","ride_id":"{RIDE}"}}"#));
        let (message, _) = bad_message(err.unwrap_err());
        assert_eq!(message, "unknown type `accept_ride`; this socket accepts: refresh_token, ping");
    }

    #[test]
    fn a_missing_field_is_a_bad_message_naming_it() {
        assert_eq!(
            refused(r#"{"type":"accept_ride","req_id":"r3"}"#),
            ("accept_ride: missing field `ride_id`".into(), Some("r3".into()))
        );
    }

    #[test]
    fn a_wrong_typed_field_is_a_bad_message_naming_it() {
        let (message, req_id) = refused(r#"{"type":"location_update","lat":"north","lng":28.0,"req_id":"r4"}"#);
        assert!(message.starts_with("location_update.lat: invalid type: string \"north\""), "{message}");
        assert_eq!(req_id.as_deref(), Some("r4"));
        let (message, _) = refused(r#"{"type":"location_update","lat":1.0,"lng":2.0,"heading":"N"}"#);
        assert!(message.starts_with("location_update.heading: invalid type"), "{message}");
        let (message, _) = refused(r#"{"type":"set_available","available":"yes"}"#);
        assert!(message.starts_with("set_available.available: invalid type"), "{message}");
    }

    #[test]
    fn a_frame_padded_with_many_fields_is_refused_without_a_field_search() {
        let padding: String = (0..5_000).map(|i| format!(r#","f{i}":0"#)).collect();
        let text = format!(r#"{{"type":"location_update","lat":"x","lng":1{padding}}}"#);
        assert!(text.len() <= MAX_FRAME_BYTES);
        let (message, _) = refused(&text);
        assert!(message.starts_with("location_update: invalid type: string \"x\""), "{message}");
    }

    #[test]
    fn a_semantic_error_is_a_bad_message_echoing_req_id() {
        let (message, req_id) = refused(r#"{"type":"location_update","lat":91.0,"lng":28.0,"req_id":"r5"}"#);
        assert_eq!(message, "location_update.lat must be a number in [-90, 90]");
        assert_eq!(req_id.as_deref(), Some("r5"));
    }

    #[test]
    fn req_id_must_be_a_string_of_at_most_128_characters() {
        let ok = parse_frame::<DriverInbound>(&format!(r#"{{"type":"ping","req_id":"{}"}}"#, "é".repeat(128)));
        assert_eq!(ok.unwrap().req_id.map(|r| r.chars().count()), Some(128));
        let long = format!(r#"{{"type":"ping","req_id":"{}"}}"#, "x".repeat(129));
        assert_eq!(refused(&long), ("req_id must be a string of at most 128 characters".into(), None));
        assert_eq!(refused(r#"{"type":"ping","req_id":42}"#).1, None);
    }

    #[test]
    fn a_null_req_id_counts_as_absent() {
        let inbound = parse_frame::<DriverInbound>(r#"{"type":"ping","req_id":null}"#).unwrap();
        assert_eq!(inbound, Inbound { req_id: None, message: DriverInbound::Ping });
    }

    #[test]
    fn extra_unknown_fields_are_ignored() {
        let inbound = parse_frame::<DriverInbound>(r#"{"type":"ping","req_id":"r","client":"v9","x":{"y":1}}"#);
        assert_eq!(inbound.unwrap(), Inbound { req_id: Some("r".into()), message: DriverInbound::Ping });
        let frame = format!(r#"{{"type":"accept_ride","ride_id":"{RIDE}","eta_s":30}}"#);
        assert_eq!(
            parse_frame::<DriverInbound>(&frame).unwrap().message,
            DriverInbound::AcceptRide { ride_id: RIDE.into() }
        );
    }

    /// A `ping` padded with an ignored field to exactly `len` bytes.
    fn ping_of_len(len: usize) -> String {
        let head = r#"{"type":"ping","pad":""#;
        let frame = format!("{head}{}\"}}", "x".repeat(len - head.len() - 2));
        assert_eq!(frame.len(), len);
        frame
    }

    #[test]
    fn a_frame_of_exactly_64_kib_is_read() {
        assert!(parse_frame::<DriverInbound>(&ping_of_len(MAX_FRAME_BYTES)).is_ok());
    }

    #[test]
    fn a_frame_over_64_kib_is_refused_unread_and_closes_with_1009() {
        let err = parse_frame::<DriverInbound>(&ping_of_len(MAX_FRAME_BYTES + 1)).unwrap_err();
        assert_eq!(err, FrameError::TooLarge { bytes: 65_537 });
        assert_eq!(err.close_code(), Some(1009));
        let frame: Value = serde_json::from_str(&err.to_frame()).unwrap();
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], "message_too_large");
        assert!(frame.get("req_id").is_none());
        let not_json = "x".repeat(MAX_FRAME_BYTES + 1);
        assert!(matches!(parse_frame::<DriverInbound>(&not_json), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn the_limit_counts_bytes_not_characters() {
        let head = r#"{"type":"ping","pad":""#;
        let frame = format!("{head}{}\"}}", "é".repeat((MAX_FRAME_BYTES - head.len()) / 2));
        assert!(frame.chars().count() <= MAX_FRAME_BYTES && frame.len() > MAX_FRAME_BYTES);
        assert!(matches!(parse_frame::<DriverInbound>(&frame), Err(FrameError::TooLarge { .. })));
    }

    #[test]
    fn a_bad_message_frame_echoes_req_id_and_keeps_the_socket_open() {
        let err = parse_frame::<DriverInbound>(r#"{"type":"teleport","req_id":"r9"}"#).unwrap_err();
        assert_eq!(err.close_code(), None);
        let frame: Value = serde_json::from_str(&err.to_frame()).unwrap();
        assert_eq!(frame, json!({"type": "error", "code": "bad_message", "message": err.to_string(), "req_id": "r9"}));
    }

    #[test]
    fn a_reply_carries_req_id_only_when_there_is_one() {
        assert_eq!(
            value_of(&DriverOutbound::Pong { ts: 5 }, Some("r1")),
            json!({"type": "pong", "ts": 5, "req_id": "r1"})
        );
        assert_eq!(value_of(&DriverOutbound::Pong { ts: 5 }, None), json!({"type": "pong", "ts": 5}));
        assert_eq!(
            value_of(&DriverOutbound::TokenExpired, Some("r2")),
            json!({"type": "token_expired", "req_id": "r2"})
        );
    }

    #[test]
    fn a_reply_struct_serializes_flat() {
        let reply = Reply { message: DispatchOutbound::Pong { ts: 1 }, req_id: Some("a".into()) };
        assert_eq!(serde_json::to_value(&reply).unwrap(), json!({"type": "pong", "ts": 1, "req_id": "a"}));
    }

    #[test]
    fn error_frames_have_type_code_message() {
        let frame: Value = serde_json::from_str(&error_frame("rate_limited", "slow down", None)).unwrap();
        assert_eq!(frame, json!({"type": "error", "code": "rate_limited", "message": "slow down"}));
    }

    #[test]
    fn to_frame_never_panics_on_a_value_that_is_not_an_object() {
        let frame: Value = serde_json::from_str(&to_frame(&42, Some("r"))).unwrap();
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["code"], "internal");
        assert_eq!(frame["req_id"], "r");
    }

    #[test]
    fn to_frame_passes_json_objects_through() {
        assert_eq!(
            value_of(&json!({"type": "token_refreshed", "expires_at": 9}), Some("q")),
            json!({
                "type": "token_refreshed",
                "expires_at": 9,
                "req_id": "q"
            })
        );
    }
}
