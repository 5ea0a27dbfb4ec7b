//! Replication support: read committed events, wait for new commits, apply a
//! leader's events through the same commit path, and a state hash that says
//! at which height it was taken.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::call::{pooled, promise};
use crate::kernel::Kernel;
use crate::types::{LogEvent, StateProof};

#[napi]
impl Kernel {
    /// Committed log entries (docs/EVENT_LOG_FORMAT.md) from `fromSeq` (inclusive), at most `maxEvents` and
    /// about `maxBytes` of payload. Rejects with code BOOTSTRAP_REQUIRED when
    /// `fromSeq` was trimmed away.
    #[napi(ts_return_type = "Promise<Array<LogEvent>>")]
    pub fn read_events<'e>(
        &self,
        env: &'e Env,
        from_seq: f64,
        max_events: u32,
        max_bytes: u32,
    ) -> Result<PromiseRaw<'e, Vec<LogEvent>>> {
        let db = self.db.clone();
        let (from, me, mb) = (
            from_seq.max(0.0) as u64,
            max_events.max(1) as usize,
            max_bytes.max(1) as usize,
        );
        pooled(
            env,
            "readEvents",
            move || db.read_events(from, me, mb),
            |events| {
                events
                    .into_iter()
                    .map(|(seq, p)| LogEvent {
                        seq: seq as f64,
                        payload: Buffer::from(p),
                    })
                    .collect()
            },
        )
    }

    /// Resolves with the committed height once it exceeds `height`, or with
    /// the current height after `timeoutMs`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn wait_for_height<'e>(
        &self,
        env: &'e Env,
        height: f64,
        timeout_ms: u32,
    ) -> Result<PromiseRaw<'e, f64>> {
        let db = self.db.clone();
        promise(
            env,
            "waitForHeight",
            || {
                let changed = self.db.wait_for_height(height.max(0.0) as u64)?;
                Ok(async move {
                    match tokio::time::timeout(Duration::from_millis(timeout_ms as u64), changed)
                        .await
                    {
                        Ok(h) => Ok(h),
                        Err(_) => Ok(db.height()),
                    }
                })
            },
            |h| h as f64,
        )
    }

    /// Apply an event a leader committed at `seq`, through this node's own
    /// commit path (validated, logged, fsynced). Already-applied sequence
    /// numbers are skipped; a gap is rejected.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn apply_replicated<'e>(
        &self,
        env: &'e Env,
        seq: f64,
        payload: Buffer,
    ) -> Result<PromiseRaw<'e, ()>> {
        // Queued now, on the JS thread, so calls fired without awaiting reach
        // the committer in call order. The event is copied once: the log and
        // the state keep it beyond the caller's buffer.
        promise(
            env,
            "applyReplicated",
            || {
                Ok(self
                    .db
                    .apply_replicated(seq.max(0.0) as u64, payload.to_vec()))
            },
            |()| (),
        )
    }

    /// State hash together with the height it was taken at (one read
    /// lock): of the whole state, or with `collection` of that collection
    /// alone (its name, config and data).
    #[napi(ts_return_type = "Promise<StateProof>")]
    pub fn state_proof<'e>(
        &self,
        env: &'e Env,
        collection: Option<String>,
    ) -> Result<PromiseRaw<'e, StateProof>> {
        let db = self.db.clone();
        pooled(
            env,
            "stateProof",
            move || db.state_proof(collection.as_deref()),
            |(height, hash)| StateProof {
                height: height as f64,
                hash,
            },
        )
    }
}
