//! The `idempotency_keys` table: which ride an `Idempotency-Key` created,
//! and from which request, per caller, for 24 hours.

use serde::Deserialize;
use worker::D1Database;

use super::int;
use crate::error::AppError;

/// How long a key is remembered.
pub const KEY_TTL_MS: i64 = 24 * 60 * 60 * 1000;

/// The request and ride a key is bound to.
#[derive(Debug, Deserialize)]
pub struct KeyBinding {
    /// The canonical JSON of the request that first used the key.
    pub request: String,
    /// The ride that request created.
    pub ride_id: String,
}

/// Binds `(sub, key)` to `request` and `ride_id` unless a live binding
/// exists; returns the binding in force. Concurrent first uses agree on one
/// binding because the insert is a single conditional statement.
pub async fn bind(
    db: &D1Database,
    sub: &str,
    key: &str,
    request: &str,
    ride_id: &str,
    now_ms: i64,
) -> Result<KeyBinding, AppError> {
    let insert = db
        .prepare(
            "INSERT INTO idempotency_keys (sub, key, request, ride_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(sub, key) DO UPDATE SET request = excluded.request, ride_id = excluded.ride_id,
               created_at = excluded.created_at
             WHERE idempotency_keys.created_at <= ?6",
        )
        .bind(&[sub.into(), key.into(), request.into(), ride_id.into(), int(now_ms), int(now_ms - KEY_TTL_MS)])?;
    let select = db
        .prepare("SELECT request, ride_id FROM idempotency_keys WHERE sub = ?1 AND key = ?2")
        .bind(&[sub.into(), key.into()])?;
    let results = db.batch(vec![insert, select]).await?;
    let binding =
        results.get(1).map(|r| r.results::<KeyBinding>()).transpose()?.and_then(|rows| rows.into_iter().next());
    binding.ok_or_else(|| AppError::Internal("idempotency key vanished after insert".into()))
}
