//! The D1 outbox of a Durable Object: changes are stored in the DO together
//! with the state they describe, then written to D1; a failed write stays in
//! the outbox and is retried from the alarm, never dropped.

use worker::js_sys::{Object, Reflect};
use worker::{console_error, Env, Storage};

use crate::core::ride::RideChange;
use crate::db;
use crate::error::AppError;

/// Storage key of the pending changes, oldest first.
const OUTBOX_KEY: &str = "d1_outbox";
/// How long after a failed D1 write the alarm retries it.
pub const RETRY_AFTER_MS: i64 = 10_000;

/// The outbox of one DO.
pub struct D1Outbox<'a> {
    storage: Storage,
    env: &'a Env,
}

impl<'a> D1Outbox<'a> {
    /// The outbox kept in `storage`, writing to the D1 of `env`.
    pub fn new(storage: Storage, env: &'a Env) -> Self {
        D1Outbox { storage, env }
    }

    /// Stores `entries` (key, JSON text) and queues `changes`, atomically.
    pub async fn commit(&self, entries: Vec<(String, String)>, changes: Vec<RideChange>) -> Result<(), AppError> {
        // A plain object, not a serialized map: serde would make a JS Map,
        // whose entries put_multiple does not see.
        let object = Object::new();
        for (key, json) in entries {
            Reflect::set(&object, &key.into(), &json.into()).map_err(worker::Error::from)?;
        }
        if !changes.is_empty() {
            let mut pending = self.pending().await?;
            pending.extend(changes);
            let pending = serde_json::to_string(&pending)?;
            Reflect::set(&object, &OUTBOX_KEY.into(), &pending.into()).map_err(worker::Error::from)?;
        }
        self.storage.put_multiple_raw(object).await?;
        Ok(())
    }

    /// Writes what is pending to D1; on failure logs it and sets the alarm.
    pub async fn flush_or_retry_at(&self, now_ms: i64) {
        if let Err(err) = self.flush().await {
            console_error!("D1 write failed, retrying in {RETRY_AFTER_MS} ms: {err}");
            if let Err(err) = super::token_expiry::wake_by_storage(&self.storage, now_ms + RETRY_AFTER_MS).await {
                console_error!("could not set the outbox retry alarm: {err}");
            }
        }
    }

    /// Writes every pending change to D1 in one batch, in order, then drops
    /// exactly those from the outbox, known by their event's seq (changes
    /// queued meanwhile stay, even if another flush ran at the same time).
    pub async fn flush(&self) -> Result<(), AppError> {
        let pending = self.pending().await?;
        if pending.is_empty() {
            return Ok(());
        }
        let d1 = self.env.d1(db::BINDING)?;
        let mut statements = Vec::new();
        for change in &pending {
            statements.extend(db::rides::change_statements(&d1, change)?);
        }
        d1.batch(statements).await?;
        let written: Vec<u64> = pending.iter().map(|change| change.event.seq).collect();
        let mut now_pending = self.pending().await?;
        now_pending.retain(|change| !written.contains(&change.event.seq));
        if now_pending.is_empty() {
            self.storage.delete(OUTBOX_KEY).await?;
        } else {
            self.storage.put(OUTBOX_KEY, serde_json::to_string(&now_pending)?).await?;
        }
        Ok(())
    }

    async fn pending(&self) -> Result<Vec<RideChange>, AppError> {
        match self.storage.get::<String>(OUTBOX_KEY).await? {
            Some(json) => Ok(serde_json::from_slice(json.as_bytes())?),
            None => Ok(Vec::new()),
        }
    }
}
