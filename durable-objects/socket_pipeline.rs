//! The one pipeline of every hibernatable socket, whatever its kind (driver
//! and dispatch sockets in a Region DO, ride sockets in a Ride DO; each
//! says what it keeps and accepts by implementing [`SocketKind`]):
//! - open: accepted with its tags, its attachment saved (at most 2 KiB of
//!   JSON: the [`SocketHeader`] the socket rules need and the kind's own
//!   facts), the oldest of its `sub`'s sockets beyond five closed with 4002,
//!   the alarm set for its token's expiry;
//! - each frame: heard, rate limited, read, parsed; `ping` and
//!   `refresh_token` are answered here, anything else goes to the kind (an
//!   object with a [`SocketMemo`] keeps the header in memory between frames
//!   and writes it back only now and then);
//! - close: our side closed, its attachment read back.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use worker::{web_sys, Request, State, WebSocket, WebSocketPair};

pub use super::socket_frames::{on_frame, Frame};
use super::socket_memo::SocketMemo;
use super::socket_reply::{close, socket_id};
use super::token_expiry;
use crate::core::identity::Role;
use crate::core::protocol::Validate;
use crate::core::socket_rules::{sockets_to_evict, SocketHeader, SocketMessage, CLOSE_REPLACED, MAX_SOCKETS_PER_SUB};
use crate::error::AppError;

/// One kind of socket: what its attachment keeps besides the header, the
/// messages its clients send, and its tags.
pub trait SocketKind {
    /// What the kind keeps in each socket's attachment, beside the header.
    type Facts: Serialize + DeserializeOwned;
    /// The messages a client may send on it.
    type Inbound: DeserializeOwned + Validate + SocketMessage;
    /// Tag of every socket of the kind in its object.
    const TAG: &'static str;
    /// Prefix of the tag of one `sub`'s sockets.
    const SUB_TAG: &'static str;
}

/// The facts of a kind that keeps nothing beside the header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NoFacts {}

/// A socket's attachment: the header every kind has and the kind's facts,
/// side by side in one JSON object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attached<F> {
    /// What the socket rules need.
    #[serde(flatten)]
    pub header: SocketHeader,
    /// What the kind keeps.
    #[serde(flatten)]
    pub facts: F,
}

impl<F: Serialize + DeserializeOwned> Attached<F> {
    /// Reads a socket's attachment, if it has one of this shape.
    pub fn of(ws: &WebSocket) -> Option<Self> {
        let json = ws.deserialize_attachment::<String>().ok()??;
        serde_json::from_slice(json.as_bytes()).ok()
    }

    /// Writes the attachment back.
    pub fn save(&self, ws: &WebSocket) -> Result<(), AppError> {
        ws.serialize_attachment(serde_json::to_string(self)?)?;
        Ok(())
    }
}

/// The verified identity the Worker sent in `header` with a socket it hands over.
pub fn identity<T: DeserializeOwned>(req: &Request, header: &str) -> Result<T, AppError> {
    let json = req.headers().get(header)?.ok_or_else(|| AppError::InvalidRequest("no identity".into()))?;
    Ok(serde_json::from_slice(json.as_bytes())?)
}

/// The header of any socket's attachment, whatever its kind.
pub fn header_of(ws: &WebSocket) -> Option<SocketHeader> {
    Attached::<NoFacts>::of(ws).map(|socket| socket.header)
}

/// Tag of one `sub`'s sockets of kind `K`.
fn sub_tag<K: SocketKind>(sub: &str) -> String {
    format!("{}{sub}", K::SUB_TAG)
}

/// Tag of one socket, by its id.
fn socket_tag(socket_id: &str) -> String {
    format!("socket:{socket_id}")
}

/// Whether a socket is open: one the server has closed may still be listed
/// by the runtime until the client answers (a silent client never does).
pub fn is_open(ws: &WebSocket) -> bool {
    let raw: &web_sys::WebSocket = ws.as_ref();
    raw.ready_state() == web_sys::WebSocket::OPEN
}

/// Whether `ws` is a socket of kind `K` (the memo's answer when it has one).
pub fn is_kind<K: SocketKind>(state: &State, memo: Option<&SocketMemo>, ws: &WebSocket) -> bool {
    match memo.and_then(|memo| memo.kind(ws)) {
        Some(kind) => kind == K::TAG,
        None => state.get_tags(ws).iter().any(|tag| tag == K::TAG),
    }
}

/// The sockets of kind `K` (of one `sub`, or all) with their attachments,
/// but those the server closed: a socket its client is closing counts until
/// its close event is handled.
pub fn open_sockets<K: SocketKind>(state: &State, sub: Option<&str>) -> Vec<(WebSocket, Attached<K::Facts>)> {
    let tag = sub.map_or_else(|| K::TAG.to_string(), sub_tag::<K>);
    state
        .get_websockets_with_tag(&tag)
        .into_iter()
        .filter_map(|ws| Attached::<K::Facts>::of(&ws).map(|a| (ws, a)))
        .filter(|(_, a)| !a.header.closed)
        .collect()
}

/// The headers of the open sockets of kind `K`, from the memo where it
/// remembers them (their attachments are read only for the others, which
/// the memo remembers from then on): the alarm's walk over thousands of
/// sockets parses no JSON for the ones that sent a frame since a wake-up.
pub fn open_headers<K: SocketKind>(state: &State, memo: &SocketMemo) -> Vec<(WebSocket, SocketHeader)> {
    let mut open = Vec::new();
    for ws in state.get_websockets_with_tag(K::TAG).into_iter().filter(is_open) {
        let Some((header, _)) = recall::<K>(&ws, Some(memo)) else { continue };
        if !header.closed {
            open.push((ws, header));
        }
    }
    open
}

/// A socket's header: the memo's when it remembers the socket, else its
/// attachment's (remembered from then on), with the attachment when it was
/// read. None when the socket has no attachment of kind `K`.
pub fn recall<K: SocketKind>(
    ws: &WebSocket,
    memo: Option<&SocketMemo>,
) -> Option<(SocketHeader, Option<Attached<K::Facts>>)> {
    if let Some(header) = memo.and_then(|memo| memo.header(ws)) {
        return Some((header, None));
    }
    let socket = Attached::<K::Facts>::of(ws)?;
    if let Some(memo) = memo {
        memo.remember(ws, K::TAG, socket.header.clone());
    }
    Some((socket.header.clone(), Some(socket)))
}

/// The socket with this id, while it is open.
pub fn socket_by_id(state: &State, socket_id: &str) -> Option<WebSocket> {
    state.get_websockets_with_tag(&socket_tag(socket_id)).into_iter().find(is_open)
}

/// A socket just opened.
pub struct Opened {
    /// The server's end, accepted.
    pub server: WebSocket,
    /// The client's end, for the 101 answer.
    pub client: WebSocket,
    /// The new socket's id.
    pub socket_id: String,
    /// The ids of its `sub`'s sockets closed (4002) to keep five.
    pub evicted: Vec<String>,
}

/// Opens a socket of kind `K` for `sub` in `role` with a token of `exp_s`
/// and the kind's `facts`: its `sub`'s oldest beyond five are closed with
/// 4002 (never the new one) and the alarm is set for its token's expiry.
pub async fn open<K: SocketKind>(
    state: &State,
    memo: Option<&SocketMemo>,
    (sub, role): (&str, Role),
    exp_s: i64,
    now_ms: i64,
    facts: K::Facts,
) -> Result<Opened, AppError> {
    let header = SocketHeader::new(socket_id()?, sub, role, exp_s, now_ms);
    let socket_id = header.socket_id.clone();
    let others = open_sockets::<K>(state, Some(sub));
    let pair = WebSocketPair::new()?;
    let tags = [K::TAG.to_string(), sub_tag::<K>(sub), socket_tag(&socket_id)];
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    state.accept_websocket_with_tags(&pair.server, &tags);
    if let Some(memo) = memo {
        memo.remember(&pair.server, K::TAG, header.clone());
    }
    Attached { header, facts }.save(&pair.server)?;
    let evicted = evict_oldest(&others);
    token_expiry::schedule(state, exp_s).await?;
    Ok(Opened { server: pair.server, client: pair.client, socket_id, evicted })
}

/// Keeps at most five sockets per `sub` once a new one is open: the oldest
/// of its `others` are closed with 4002. Returns their ids.
fn evict_oldest<F>(others: &[(WebSocket, Attached<F>)]) -> Vec<String> {
    let open: Vec<(String, i64)> =
        others.iter().map(|(_, a)| (a.header.socket_id.clone(), a.header.opened_at)).collect();
    let evicted = sockets_to_evict(&open, MAX_SOCKETS_PER_SUB - 1);
    for (ws, _) in others.iter().filter(|(_, a)| evicted.contains(&a.header.socket_id)) {
        close(ws, CLOSE_REPLACED, "replaced by a newer connection");
    }
    evicted
}

/// A socket closed or failed (the client's close, an error): our side is
/// closed too. Its header as it was (`closed` if the server had closed it
/// already), if it had one.
pub fn closed(ws: &WebSocket) -> Option<SocketHeader> {
    let header = header_of(ws);
    close(ws, 1000, "closed");
    header
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::geo::LatLng;
    use crate::core::region::DriverFacts;

    const RIDE: &str = "ride_0123456789abcdef0123456789abcdef";

    fn header() -> SocketHeader {
        SocketHeader::new("00ff00ff00ff00ff".into(), &"d".repeat(128), Role::Driver, 1_800_003_600, 1_800_000_000_000)
    }

    #[test]
    fn an_attachment_is_one_flat_object_of_header_and_facts_well_under_2_kib() {
        let mut facts = DriverFacts::new(&"n".repeat(100), LatLng { lat: -26.2041, lng: 28.0473 }, 1);
        facts.mark = crate::core::busy_mark::BusyMark::new(Some(RIDE.into()), 1);
        facts.viewing = vec![RIDE.to_string(); 10];
        let json = serde_json::to_string(&Attached { header: header(), facts: facts.clone() }).unwrap();
        assert!(json.len() < 1500, "{} bytes", json.len());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!((value["socket_id"].as_str(), value["viewing"][0].as_str()), (Some("00ff00ff00ff00ff"), Some(RIDE)));
        let back: Attached<DriverFacts> = serde_json::from_str(&json).unwrap();
        assert_eq!((back.header, back.facts), (header(), facts));
        let any: Attached<NoFacts> = serde_json::from_str(&json).unwrap();
        assert_eq!(any.header, header(), "any attachment's header reads alone");
    }
}
