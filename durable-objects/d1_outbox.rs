//! The D1 outbox of a Durable Object: changes are stored in the DO together
//! with the state they describe, then written to D1; a failed write stays in
//! the outbox and is retried from the alarm, never dropped.

use worker::js_sys::{Object, Reflect};
use worker::{console_error, Env, ListOptions, Storage};

use crate::core::ride::RideChange;
use crate::db;
use crate::error::AppError;

/// Storage key prefix of the pending changes: one key per change, its
/// event's zero-padded seq after the prefix (so they list oldest first).
/// The bare prefix is the one key under which builds before this layout
/// kept the whole queue, a JSON array; it lists first and is read the same.
const PREFIX: &str = "d1_outbox";
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

    /// Stores `entries` (key, JSON text) and queues `changes`, atomically;
    /// nothing is read (each change has its own key).
    pub async fn commit(&self, entries: Vec<(String, String)>, changes: Vec<RideChange>) -> Result<(), AppError> {
        // A plain object, not a serialized map: serde would make a JS Map,
        // whose entries put_multiple does not see.
        let object = Object::new();
        for (key, json) in entries {
            Reflect::set(&object, &key.into(), &json.into()).map_err(worker::Error::from)?;
        }
        for change in changes {
            let key = format!("{PREFIX}:{:012}", change.event.seq);
            Reflect::set(&object, &key.into(), &serde_json::to_string(&change)?.into()).map_err(worker::Error::from)?;
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
    /// exactly the keys it wrote (changes queued meanwhile have keys of
    /// their own and stay, even if another flush ran at the same time).
    pub async fn flush(&self) -> Result<(), AppError> {
        let (keys, pending) = self.pending().await?;
        if pending.is_empty() {
            return Ok(());
        }
        let d1 = self.env.d1(db::BINDING)?;
        let mut statements = Vec::new();
        for change in &pending {
            statements.extend(db::rides::change_statements(&d1, change)?);
        }
        d1.batch(statements).await?;
        self.storage.delete_multiple(keys).await?;
        Ok(())
    }

    /// The pending changes, oldest first, with the keys they are stored under.
    async fn pending(&self) -> Result<(Vec<String>, Vec<RideChange>), AppError> {
        let listed = self.storage.list_with_options(ListOptions::new().prefix(PREFIX)).await?;
        let (mut keys, mut pending) = (Vec::new(), Vec::new());
        for entry in listed.entries() {
            let entry = entry.map_err(worker::Error::from)?;
            let key = Reflect::get(&entry, &0.into()).map_err(worker::Error::from)?.as_string();
            let json = Reflect::get(&entry, &1.into()).map_err(worker::Error::from)?.as_string();
            let (Some(key), Some(json)) = (key, json) else { continue };
            if key == PREFIX {
                pending.extend(serde_json::from_slice::<Vec<RideChange>>(json.as_bytes())?);
            } else {
                pending.push(serde_json::from_slice::<RideChange>(json.as_bytes())?);
            }
            keys.push(key);
        }
        Ok((keys, pending))
    }
}
