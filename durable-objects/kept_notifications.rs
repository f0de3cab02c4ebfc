//! A new ride or dispatch socket gets, right after its first frames, the
//! notifications kept for its user while it had no socket open (taken from
//! D1 at once, so two sockets opening together do not both get them; the
//! core's `deliverable` drops those older than a day).

use worker::{Env, WebSocket};

use super::socket_reply::send_text;
use crate::core::notifications::deliverable;

/// Sends `user`'s kept notifications on `ws`, oldest first; a failure is logged.
pub async fn send_kept(env: &Env, ws: &WebSocket, user: &str, now: i64) {
    let taken = match env.d1(crate::db::BINDING) {
        Ok(db) => crate::db::notifications::take(&db, user).await,
        Err(err) => Err(err.into()),
    };
    match taken {
        Ok(kept) => deliverable(kept, now).iter().for_each(|frame| send_text(ws, frame)),
        Err(err) => worker::console_error!("kept notifications could not be read: {err}"),
    }
}
