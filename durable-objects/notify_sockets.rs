//! A notification put on the sockets of one object (`POST /v1/notifications`):
//! the core's [`Audience`] decides which sockets it reaches; this sends it
//! and counts them.

use worker::State;

use super::socket_pipeline::{self as pipeline, SocketKind};
use super::socket_reply::send_text;
use crate::core::notifications::{PlaceNotification, SocketClass};

/// Sends the notification to every open socket of kind `K` (of `class`) its
/// audience reaches; returns how many.
pub fn notify<K: SocketKind>(state: &State, class: SocketClass, notification: &PlaceNotification) -> u32 {
    let audience = &notification.audience;
    let mut reached = 0;
    for (ws, socket) in pipeline::open_sockets::<K>(state, audience.user.as_deref()) {
        if pipeline::is_open(&ws) && audience.reaches(class, &socket.header.sub) {
            send_text(&ws, &notification.frame);
            reached += 1;
        }
    }
    reached
}
