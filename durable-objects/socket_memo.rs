//! What a Durable Object remembers of its open sockets between frames, so
//! that a frame costs no attachment read and write: each socket's header
//! (its rate limiter, when it was last heard) and kind, found by the socket
//! object itself.
//!
//! The attachment stays the truth across hibernation and restarts. The
//! pipeline writes the header into it when the rate limit did more than let
//! a frame through, and the heard time at most every [`SocketMemo::new`]'s
//! interval (a third of `HEARTBEAT_S`, at most [`HEARD_SAVE_MS`]): an
//! object that wakes up may find a heard time that much older than the last
//! frame, well inside the heartbeat's 3 × `HEARTBEAT_S`. The token bucket
//! restarts from its last saved state then, which only ever lets a client
//! through as a fresh one would be.
//!
//! A socket the server closed is recognised by its ready state, not by this
//! memo: the memo's copy of the header never carries `closed`.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use worker::js_sys::{Object, WeakMap};
use worker::wasm_bindgen::{JsCast, JsValue};
use worker::{web_sys, WebSocket};

use crate::core::socket_rules::SocketHeader;

/// At most this long between two writes of a socket's heard time into its
/// attachment while it keeps sending.
pub const HEARD_SAVE_MS: i64 = 10_000;

/// The interval between two writes of a socket's heard time for a
/// heartbeat of `heartbeat_s`: a third of it, at most [`HEARD_SAVE_MS`].
pub fn heard_save_ms(heartbeat_s: u32) -> i64 {
    (i64::from(heartbeat_s) * 1000 / 3).min(HEARD_SAVE_MS)
}

/// One socket as remembered.
struct Remembered {
    /// Its header as the last frame left it.
    header: SocketHeader,
    /// Its kind's tag.
    kind: &'static str,
    /// The heard time its attachment has.
    saved_heard_at: i64,
}

/// The sockets of one object, as remembered since it last woke up.
pub struct SocketMemo {
    /// Socket object → its id (entries go with the socket objects).
    ids: WeakMap,
    /// Socket id → what is remembered of it.
    sockets: RefCell<HashMap<String, Remembered>>,
    /// The longest a heard time stays unwritten while frames come.
    save_every_ms: i64,
}

/// The socket's JavaScript object, the memo's key.
fn key(ws: &WebSocket) -> &Object {
    let raw: &web_sys::WebSocket = ws.as_ref();
    raw.unchecked_ref::<Object>()
}

impl SocketMemo {
    /// An empty memo that has heard times written every `save_every_ms`.
    pub fn new(save_every_ms: i64) -> SocketMemo {
        SocketMemo { ids: WeakMap::new(), sockets: RefCell::new(HashMap::new()), save_every_ms }
    }

    /// Remembers `ws` of `kind` with the header its attachment has.
    pub fn remember(&self, ws: &WebSocket, kind: &'static str, header: SocketHeader) {
        self.ids.set(key(ws), &JsValue::from_str(&header.socket_id));
        let saved_heard_at = header.heard_at;
        self.sockets.borrow_mut().insert(header.socket_id.clone(), Remembered { header, kind, saved_heard_at });
    }

    /// The id the memo knows `ws` by, if it remembers it.
    fn id_of(&self, ws: &WebSocket) -> Option<String> {
        self.ids.get(key(ws)).as_string()
    }

    /// The header of `ws` as its last frame left it, if remembered.
    pub fn header(&self, ws: &WebSocket) -> Option<SocketHeader> {
        let id = self.id_of(ws)?;
        self.sockets.borrow().get(&id).map(|socket| socket.header.clone())
    }

    /// The kind of `ws`, if remembered.
    pub fn kind(&self, ws: &WebSocket) -> Option<&'static str> {
        let id = self.id_of(ws)?;
        self.sockets.borrow().get(&id).map(|socket| socket.kind)
    }

    /// Keeps the header a frame left: true when its heard time is due to
    /// be written into the attachment (then counted as written).
    pub fn update(&self, header: &SocketHeader) -> bool {
        let mut sockets = self.sockets.borrow_mut();
        let Some(socket) = sockets.get_mut(&header.socket_id) else { return true };
        socket.header.limiter = header.limiter.clone();
        socket.header.heard_at = header.heard_at;
        let due = header.heard_at - socket.saved_heard_at >= self.save_every_ms;
        if due {
            socket.saved_heard_at = header.heard_at;
        }
        due
    }

    /// Counts the header's heard time as written into the attachment.
    pub fn saved(&self, header: &SocketHeader) {
        if let Some(socket) = self.sockets.borrow_mut().get_mut(&header.socket_id) {
            socket.saved_heard_at = socket.saved_heard_at.max(header.heard_at);
        }
    }

    /// A refreshed token's expiry for the socket with this id (its attachment has it already).
    pub fn set_exp(&self, socket_id: &str, exp_s: i64) {
        if let Some(socket) = self.sockets.borrow_mut().get_mut(socket_id) {
            socket.header.exp_s = exp_s;
        }
    }

    /// Forgets `ws` (it is gone).
    pub fn forget(&self, ws: &WebSocket) {
        if let Some(id) = self.id_of(ws) {
            self.sockets.borrow_mut().remove(&id);
        }
        self.ids.delete(key(ws));
    }

    /// Forgets every socket but those with these ids (the ones still open).
    pub fn keep_only(&self, open: &HashSet<String>) {
        self.sockets.borrow_mut().retain(|id, _| open.contains(id));
    }
}
