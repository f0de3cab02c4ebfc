//! A Ride DO's part in proof of delivery: may this driver upload now,
//! record an uploaded image (the core checks again: the ride may have moved
//! on during the upload), and where an image is for a caller who may read it.
//! The image bytes never pass through the ride: the Worker puts them in R2.

use worker::Response;

use super::decode;
use super::ride::{no_such_ride, RideObject};
use crate::core::identity::{Caller, Role};
use crate::core::ride::RideRecord;
use crate::do_call::Done;
use crate::error::AppError;
use crate::ride_rpc::{calls, ProofUpload, RideCall};

use crate::api::PROOFS_BINDING;

/// Answers a proof call.
pub async fn serve(ride: &RideObject, call: RideCall, body: &[u8]) -> Result<Response, AppError> {
    match call {
        RideCall::ProofCheck => {
            let upload = decode::<calls::ProofCheck>(body)?;
            let record = seen_by_driver(ride, &upload).await?;
            record.may_upload_proof(&upload.driver_id, &upload.name)?;
            json(&Done {})
        }
        RideCall::ProofRecord => record(ride, decode::<calls::ProofRecord>(body)?).await,
        RideCall::ProofFetch => {
            let read = decode::<calls::ProofFetch>(body)?;
            let record = ride.load().await?.ok_or_else(no_such_ride)?;
            let object = record.proof_object_for(&read.caller, &read.name).ok_or_else(|| no_such_image(&read.name))?;
            json(object)
        }
        _ => Err(AppError::Internal("not a proof call".into())),
    }
}

/// Records an uploaded image under its name; the image it replaced is deleted.
async fn record(ride: &RideObject, upload: ProofUpload) -> Result<Response, AppError> {
    seen_by_driver(ride, &upload).await?;
    let object = upload.object.ok_or_else(|| AppError::InvalidRequest("no object to record".into()))?;
    let replaced = ride.change(|r| r.record_proof_object(&upload.driver_id, &upload.name, object))??;
    ride.runner().run(Vec::new()).await?;
    if let Some(old) = replaced {
        let deleted = match ride.env().bucket(PROOFS_BINDING) {
            Ok(bucket) => bucket.delete(old).await,
            Err(err) => Err(err),
        };
        if let Err(err) = deleted {
            worker::console_error!("could not delete a replaced proof image: {err}");
        }
    }
    json(&Done {})
}

/// The record, when the uploading driver may see the ride at all (404 otherwise).
async fn seen_by_driver(ride: &RideObject, upload: &ProofUpload) -> Result<RideRecord, AppError> {
    let driver = Caller { sub: upload.driver_id.clone(), role: Role::Driver, name: None };
    ride.visible_to(&driver, true).await
}

fn no_such_image(name: &str) -> AppError {
    AppError::NotFound(format!("no proof image {name}"))
}

fn json<T: serde::Serialize>(value: &T) -> Result<Response, AppError> {
    Ok(Response::from_json(value)?)
}
