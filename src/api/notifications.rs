//! `POST /v1/notifications` (dispatchers): a notification to one user, a
//! region's drivers, or everyone connected. The core decides the body's
//! rules and whom to ask (src/core/notifications.rs); this asks them and
//! answers 202 with how many sockets it reached.

use futures::future::join_all;
use worker::{Env, Response};

use super::request::{json, RequestContext};
use crate::core::identity::Role;
use crate::core::notifications::{
    keep_for_user, notification_id_from_random, targets, Addressee, KeptNotification, LivePlaces, NotificationRequest,
    NotificationSent, PlaceNotification, Target, NOTIFICATION_ID_RANDOM_BYTES,
};
use crate::db;
use crate::driver_rpc::{self, NotifyDriver};
use crate::error::AppError;
use crate::{region_rpc, ride_rpc};

/// Objects asked at the same time, at most.
const CONCURRENT_CALLS: usize = 25;

/// Sends a dispatcher's notification and answers how many sockets it reached.
pub async fn send_notification(mut ctx: RequestContext) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Dispatcher])?;
    let body = ctx.body().await?;
    let request = NotificationRequest::from_json(&body)?;
    let id = new_notification_id()?;
    let frame = request.frame(&id, ctx.now_ms);
    let db = ctx.db()?;
    let (is_driver, live) = match &request.to {
        Addressee::User(user) if db::drivers::get(&db, user).await?.is_some() => (true, LivePlaces::default()),
        Addressee::User(user) => (false, db::notifications::live_places_of(&db, ctx.now_ms, user).await?),
        Addressee::Region(_) => (false, LivePlaces::default()),
        Addressee::All => (false, db::notifications::live_places(&db, ctx.now_ms).await?),
    };
    let targets = targets(&request.to, is_driver, &live, ctx.config.region_res)?;
    let mut delivered = 0;
    for chunk in targets.chunks(CONCURRENT_CALLS) {
        let answers = join_all(chunk.iter().map(|target| deliver(&ctx.env, &id, &frame, target))).await;
        for answer in answers {
            delivered += answer?;
        }
    }
    if let Some(user) = keep_for_user(&request.to, is_driver, delivered) {
        let kept = KeptNotification { id: id.clone(), frame, sent_at: ctx.now_ms };
        db::notifications::keep(&db, user, &kept).await?;
    }
    json(202, &NotificationSent { id, delivered })
}

/// Asks one object to deliver the notification; the sockets it reached. A
/// driver's Driver DO must take it (it keeps it for the next connect), so
/// its failure fails the request; a region or ride that fails reached none.
async fn deliver(env: &Env, id: &str, frame: &str, target: &Target) -> Result<u32, AppError> {
    let place = |audience: &crate::core::notifications::Audience| PlaceNotification {
        frame: frame.to_string(),
        audience: audience.clone(),
    };
    let reached = match target {
        Target::Driver(driver_id) => {
            let notify = NotifyDriver { id: id.to_string(), frame: frame.to_string() };
            return Ok(driver_rpc::call::<driver_rpc::calls::Notify>(env, driver_id, notify).await?.sockets);
        }
        Target::Region { cell, audience } => {
            region_rpc::ask::<region_rpc::calls::Notify>(env, cell, &place(audience)).await
        }
        Target::Ride { ride_id, audience } => {
            ride_rpc::call::<ride_rpc::calls::Notify>(env, ride_id, &place(audience)).await
        }
    };
    Ok(reached.map(|r| r.sockets).unwrap_or_else(|err| {
        worker::console_error!("a notification did not reach {target:?}: {err}");
        0
    }))
}

/// A fresh notification id from the platform's cryptographic randomness.
fn new_notification_id() -> Result<String, AppError> {
    let mut bytes = [0u8; NOTIFICATION_ID_RANDOM_BYTES];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(notification_id_from_random(&bytes))
}
