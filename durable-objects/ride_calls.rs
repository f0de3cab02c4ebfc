//! The Ride DO's calls from the Worker and other objects: each decoded and
//! handed to the ride (its core through `decide`/`apply`, or the shells of
//! its sockets, proofs, watch links, webhooks and notifications).

use worker::Response;

use super::do_request::DoRequest;
use super::ride::{json, RideObject};
use super::{decode, now_ms};
use crate::core::ride_input::RideInput;
use crate::do_call::Done;
use crate::error::AppError;
use crate::ride_rpc::{calls, HolderAnswer, RideCall};

/// Serves one call to the ride.
pub(crate) async fn serve(ride: &RideObject, req: DoRequest) -> Result<Response, AppError> {
    let call = RideCall::from_path(req.path()).ok_or_else(|| AppError::NotFound("no such ride call".into()))?;
    match call {
        RideCall::ConnectRider => return super::ride_sockets::connect(ride, &req.into_worker(), now_ms()).await,
        RideCall::ConnectWatcher => return super::ride_watchers::connect(ride, &req.into_worker(), now_ms()).await,
        _ => {}
    }
    let body = req.bytes().await?;
    match call {
        RideCall::Create => ride.create(decode::<calls::Create>(&body)?).await,
        RideCall::View => ride.view(decode::<calls::View>(&body)?).await,
        RideCall::Accept => json(200, &super::ride_accept::accept(ride, decode::<calls::Accept>(&body)?).await?),
        RideCall::Lock => json(200, &super::ride_accept::lock(ride, decode::<calls::Lock>(&body)?).await?),
        RideCall::Decline => {
            let cmd = decode::<calls::Decline>(&body)?;
            ride.decide(RideInput::Decline { driver_id: cmd.driver_id }).await?;
            json(200, &Done {})
        }
        RideCall::Cancel => json(200, &ride.cancel(decode::<calls::Cancel>(&body)?).await?),
        RideCall::Step => {
            let cmd = decode::<calls::Step>(&body)?;
            let (driver_id, step, evidence, req_id) = (cmd.driver_id, cmd.step, cmd.evidence, cmd.req_id);
            ride.decide(RideInput::Step { driver_id, step, evidence, req_id }).await?;
            json(200, &ride.current()?.ride)
        }
        RideCall::Location => ride.relay_location(decode::<calls::Location>(&body)?).await,
        RideCall::Viewing => {
            let cmd = decode::<calls::Viewing>(&body)?;
            ride.decide(RideInput::Viewing { driver_id: cmd.driver_id, viewing: cmd.viewing }).await?;
            json(200, &Done {})
        }
        RideCall::LateDriver => {
            let late = decode::<calls::LateDriver>(&body)?;
            ride.decide(RideInput::LateDriver { candidate: late.candidate }).await?;
            json(200, &Done {})
        }
        RideCall::Holder => {
            let query = decode::<calls::Holder>(&body)?;
            let assigned = ride.load().await?.is_some_and(|record| record.holds_driver(&query.driver_id));
            json(200, &HolderAnswer { assigned })
        }
        RideCall::Webhooks => json(200, &super::ride_webhooks::log(ride, decode::<calls::Webhooks>(&body)?).await?),
        RideCall::Redeliver => {
            json(202, &super::ride_webhooks::redeliver(ride, decode::<calls::Redeliver>(&body)?, now_ms()).await?)
        }
        RideCall::ProofCheck | RideCall::ProofRecord | RideCall::ProofFetch => {
            super::ride_proofs::serve(ride, call, &body).await
        }
        RideCall::AddWatcher | RideCall::RevokeWatchers => super::ride_watchers::serve(ride, call, &body).await,
        RideCall::Notify => {
            let notification = decode::<calls::Notify>(&body)?;
            let sockets = super::notify_sockets::notify::<super::ride_sockets::RiderKind>(
                ride.state(),
                crate::core::notifications::SocketClass::Rider,
                &notification,
            );
            json(200, &crate::core::notifications::Reached { sockets })
        }
        RideCall::ConnectRider | RideCall::ConnectWatcher => {
            Err(AppError::Internal("socket call reached the JSON path".into()))
        }
    }
}
