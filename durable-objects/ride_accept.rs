//! `accept_ride` and `request_lock` in a Ride DO: the core checks the
//! accept, the driver's Driver DO claims the driver (one active ride each)
//! while its profile is read, and the answer goes back into the core as a
//! new input, checked against the ride as it is by then. Accepts take
//! turns (`accept_turns`): one claim out at a time.

use super::ride::RideObject;
use crate::core::commitments::ClaimAnswer;
use crate::core::dispatch::ClaimResult;
use crate::core::ride::AssignedDriver;
use crate::core::ride_input::{RideInput, RideRefusal, RideReply};
use crate::db;
use crate::driver_rpc::{self, ClaimRequest};
use crate::error::AppError;
use crate::ride_rpc::{AcceptAnswer, DriverRideCommand, LockAnswer};

/// `request_lock`: the lock, or why not, as a value.
pub async fn lock(ride: &RideObject, cmd: DriverRideCommand) -> std::result::Result<LockAnswer, AppError> {
    if ride.load().await?.is_none() {
        return Ok(LockAnswer::NoSuchRide);
    }
    Ok(match ride.try_apply(RideInput::Lock { driver_id: cmd.driver_id }).await? {
        Ok(RideReply::Locked(lock)) => LockAnswer::Locked { expires_at: lock.expires_at },
        Err(RideRefusal::Accept(reason)) => LockAnswer::Refused { reason },
        Ok(_) | Err(RideRefusal::Step(_)) => return Err(AppError::Internal("a lock answered otherwise".into())),
    })
}

/// `accept_ride` / `POST /accept`: checked, then the driver's Driver DO
/// claims the driver (one active ride each) while its profile is read;
/// the answer goes back into the core, which checks the ride again.
pub async fn accept(ride: &RideObject, cmd: DriverRideCommand) -> std::result::Result<AcceptAnswer, AppError> {
    if ride.load().await?.is_none() {
        return Ok(AcceptAnswer::NoSuchRide);
    }
    let driver_id = cmd.driver_id;
    // Held until this accept is decided: the next one waits for it (see `accept_turns`).
    let _turn = ride.accept_turns.take().await;
    let token = match ride.try_apply(RideInput::Accept { driver_id: driver_id.clone() }).await? {
        Ok(RideReply::Claim { token }) => token,
        Ok(_) => return Err(AppError::Internal("an accept was answered without a claim".into())),
        Err(refusal) => return refused(refusal),
    };
    let claim = ClaimRequest { ride_id: ride.current()?.ride.id, token };
    let claimed = driver_rpc::call::<driver_rpc::calls::Claim>(ride.env(), &driver_id, claim);
    let (claim, profile) = futures::future::join(claimed, profile_of(ride, &driver_id)).await;
    let (claim, driver) = match (claim, profile) {
        (Ok(ClaimAnswer::Claimed { version }), Ok(driver)) => (ClaimResult::Claimed { mark_version: version }, driver),
        (Ok(ClaimAnswer::Busy { .. }), Ok(driver)) => (ClaimResult::Busy, driver),
        (claim, profile) => {
            ride.apply(RideInput::ClaimFailed { driver_id, token }).await?;
            return Err(claim.err().or(profile.err()).unwrap_or_else(|| AppError::Internal("claim".into())));
        }
    };
    if let Err(refusal) = ride.try_apply(RideInput::Claimed { driver, claim, token, req_id: cmd.req_id }).await? {
        return refused(refusal);
    }
    Ok(AcceptAnswer::Accepted { ride: Box::new(ride.current()?.ride) })
}

/// The driver's profile as the passenger will see it.
async fn profile_of(ride: &RideObject, driver_id: &str) -> std::result::Result<AssignedDriver, AppError> {
    let driver = db::drivers::get(&ride.env().d1(db::BINDING)?, driver_id).await?;
    let driver = driver.ok_or_else(|| AppError::Forbidden {
        code: "not_offered",
        message: format!("driver {driver_id} is not registered"),
    })?;
    Ok(AssignedDriver {
        id: driver.id,
        name: driver.profile.name,
        phone: driver.profile.phone,
        vehicle: driver.profile.vehicle,
        rating: driver.profile.rating,
    })
}

/// An accept's refusal as its answer (a step refusal cannot happen there).
fn refused(refusal: RideRefusal) -> std::result::Result<AcceptAnswer, AppError> {
    match refusal {
        RideRefusal::Accept(reason) => Ok(AcceptAnswer::Refused { reason }),
        RideRefusal::Step(err) => Err(err.into()),
    }
}
