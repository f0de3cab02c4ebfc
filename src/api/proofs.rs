//! `PUT /v1/rides/{id}/proof/{name}` (the assigned driver uploads a proof
//! image into R2) and `GET /v1/rides/{id}/proof/{name}` (the ride's parties
//! read it). The ride's DO decides who may; the bytes go straight to R2.

use serde::Serialize;
use worker::{HttpMetadata, Response};

use super::request::{json, RequestContext};
use crate::core::identity::Role;
use crate::core::ids::is_ride_id;
use crate::core::proof::{check_image, is_proof_name, object_key, ProofObject, MAX_PROOF_BYTES};
use crate::error::AppError;
use crate::ride_rpc::{self, calls, ProofRead, ProofUpload};

/// The bucket binding of proof images in wrangler.toml.
pub const PROOFS_BINDING: &str = "PROOFS";

/// The answer to an upload.
#[derive(Serialize)]
struct Uploaded {
    name: String,
    content_type: String,
    size: u64,
    uploaded_at: i64,
}

fn check_path(id: &str, name: &str) -> Result<(), AppError> {
    if !is_ride_id(id) {
        return Err(AppError::NotFound(format!("no ride {id}")));
    }
    if !is_proof_name(name) {
        return Err(AppError::InvalidRequest("a proof name is 1 to 64 characters of A-Z, a-z, 0-9, '_' or '-'".into()));
    }
    Ok(())
}

/// The assigned driver uploads an image: at most 5 MiB (refused while it
/// streams in), JPEG, PNG or WebP by its own magic bytes; 201.
pub async fn put_proof(mut ctx: RequestContext, id: &str, name: &str) -> Result<Response, AppError> {
    ctx.require_role(&[Role::Driver])?;
    check_path(id, name)?;
    let bytes = ctx.body_up_to(MAX_PROOF_BYTES).await?;
    let content_type = check_image(ctx.header("Content-Type")?.as_deref(), &bytes)?;
    let mut upload = ProofUpload { driver_id: ctx.caller.sub.clone(), name: name.to_string(), object: None };
    ride_rpc::call::<calls::ProofCheck>(&ctx.env, id, &upload).await?;
    let upload_id: String = random_hex::<8>()?;
    let key = object_key(id, name, &upload_id);
    let size = bytes.len() as u64;
    let bucket = ctx.env.bucket(PROOFS_BINDING)?;
    let metadata = HttpMetadata { content_type: Some(content_type.to_string()), ..Default::default() };
    bucket.put(key.clone(), bytes).http_metadata(metadata).execute().await?;
    let object = ProofObject { key: key.clone(), content_type: content_type.into(), size, uploaded_at: ctx.now_ms };
    upload.object = Some(object);
    if let Err(err) = ride_rpc::call::<calls::ProofRecord>(&ctx.env, id, &upload).await {
        // The ride moved on during the upload: the bytes are not kept.
        if let Err(delete) = bucket.delete(key).await {
            worker::console_error!("could not delete an unrecorded proof image: {delete}");
        }
        return Err(err);
    }
    let answer = Uploaded { name: name.into(), content_type: content_type.into(), size, uploaded_at: ctx.now_ms };
    json(201, &answer)
}

/// The image, for the ride's passenger, partner, assigned driver or a dispatcher.
pub async fn get_proof(ctx: RequestContext, id: &str, name: &str) -> Result<Response, AppError> {
    check_path(id, name)?;
    let read = ProofRead { caller: ctx.caller.clone(), name: name.to_string() };
    let object = ride_rpc::call::<calls::ProofFetch>(&ctx.env, id, &read).await?;
    let stored = ctx.env.bucket(PROOFS_BINDING)?.get(object.key.clone()).execute().await?;
    let body = stored
        .as_ref()
        .and_then(|o| o.body())
        .ok_or_else(|| AppError::Internal(format!("proof image {} is recorded but not in the bucket", object.key)))?;
    let mut response = Response::from_body(body.response_body()?)?;
    let headers = response.headers_mut();
    headers.set("Content-Type", &object.content_type)?;
    headers.set("Content-Length", &object.size.to_string())?;
    headers.set("Cache-Control", "private, no-store")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(response)
}

/// `N` random bytes from the platform's cryptographic source, as hex.
pub fn random_hex<const N: usize>() -> Result<String, AppError> {
    Ok(random_bytes::<N>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// `N` random bytes from the platform's cryptographic source.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| AppError::Internal(format!("randomness: {e}")))?;
    Ok(bytes)
}
