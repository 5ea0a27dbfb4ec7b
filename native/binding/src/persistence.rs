//! Persistence operations of `Kernel`: snapshots, restore, log trim, index
//! build, proofs, the recovery report. The heavy ones run off the event loop.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::path::Path;

use valori_kernel::database::SnapshotInfo;
use valori_kernel::storage::vfs::read_whole;
use valori_kernel::storage::{StdVfs, Vfs};
use valori_kernel::KernelError;

use crate::call::{pooled, sync};
use crate::kernel::Kernel;
use crate::types::{LogProofResult, RecoveryInfo, SnapshotResult};

fn snapshot_result(i: SnapshotInfo) -> SnapshotResult {
    SnapshotResult {
        height: i.height as f64,
        bytes: i.bytes as f64,
        path: i.name,
        stall_ms: i.stall_ms,
        total_ms: i.total_ms,
    }
}

#[napi]
impl Kernel {
    /// Write a snapshot atomically to the snapshot path, or with `name` a
    /// named snapshot in `<snapshot dir>/snapshots/` (a strict name pattern;
    /// never a file the node keeps itself).
    #[napi(ts_return_type = "Promise<SnapshotResult>")]
    pub fn save_snapshot<'e>(
        &self,
        env: &'e Env,
        name: Option<String>,
    ) -> Result<PromiseRaw<'e, SnapshotResult>> {
        let db = self.db.clone();
        pooled(
            env,
            "saveSnapshot",
            move || db.save_snapshot(name.as_deref()),
            snapshot_result,
        )
    }

    /// The current durable state as VAL1 bytes.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn snapshot_bytes<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Buffer>> {
        let db = self.db.clone();
        pooled(
            env,
            "snapshotBytes",
            move || db.snapshot_bytes().map(|(_, b)| b),
            Buffer::from,
        )
    }

    /// Bytes of the named snapshot `name` (see `saveSnapshot`).
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub fn read_snapshot_file<'e>(
        &self,
        env: &'e Env,
        name: String,
    ) -> Result<PromiseRaw<'e, Buffer>> {
        let db = self.db.clone();
        pooled(
            env,
            "readSnapshotFile",
            move || db.read_snapshot_file(&name),
            Buffer::from,
        )
    }

    /// Replace the state with a VAL1 snapshot (validated first). Resolves
    /// with the new height. `bootstrap` keeps the snapshot's own height
    /// (follower bootstrap); otherwise the restore is the next height.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn restore_snapshot<'e>(
        &self,
        env: &'e Env,
        bytes: Buffer,
        bootstrap: bool,
    ) -> Result<PromiseRaw<'e, f64>> {
        // The Buffer itself moves into the work (no copy of a snapshot that
        // may be hundreds of MiB); the caller hands over a buffer it no
        // longer writes to.
        let db = self.db.clone();
        pooled(
            env,
            "restoreSnapshot",
            move || db.restore(&bytes, bootstrap),
            |h| h as f64,
        )
    }

    /// `restoreSnapshot` from the named snapshot `name` (see `saveSnapshot`),
    /// decoded from a mapping of its file rather than a copy of it.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn restore_named_snapshot<'e>(
        &self,
        env: &'e Env,
        name: String,
    ) -> Result<PromiseRaw<'e, f64>> {
        let db = self.db.clone();
        pooled(
            env,
            "restoreNamedSnapshot",
            move || db.restore_named(&name),
            |h| h as f64,
        )
    }

    /// `restoreSnapshot` from a file (a follower's bootstrap download, spooled
    /// to disk): the file is mapped, not read onto the heap. The caller owns
    /// the file and removes it afterwards.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn restore_snapshot_file<'e>(
        &self,
        env: &'e Env,
        path: String,
        bootstrap: bool,
    ) -> Result<PromiseRaw<'e, f64>> {
        let db = self.db.clone();
        pooled(
            env,
            "restoreSnapshotFile",
            move || {
                db.check_open()?;
                let io = |e: std::io::Error| KernelError::Io(format!("snapshot file {path}: {e}"));
                let file = StdVfs.open(Path::new(&path), false).map_err(io)?;
                let bytes = read_whole(&*file).map_err(io)?;
                db.restore(&bytes, bootstrap)
            },
            |h| h as f64,
        )
    }

    /// Drop the event-log prefix covered by the newest durable snapshot;
    /// resolves with the log's new base sequence number.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn trim_log<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, f64>> {
        let db = self.db.clone();
        pooled(env, "trimLog", move || db.trim_log(), |h| h as f64)
    }

    /// Rebuild/retrain `collection`'s search index from its records off the
    /// JS thread (writes wait meanwhile). Resolves false when it has no index.
    #[napi(ts_return_type = "Promise<boolean>")]
    pub fn build_index<'e>(
        &self,
        env: &'e Env,
        collection: String,
    ) -> Result<PromiseRaw<'e, bool>> {
        let db = self.db.clone();
        pooled(
            env,
            "buildIndex",
            move || db.build_index(&collection),
            |b| b,
        )
    }

    /// Event-log chain hash, height and counts; null without an event log.
    #[napi]
    pub fn log_proof(&self, env: &Env) -> Result<Option<LogProofResult>> {
        sync(env, "logProof", || {
            Ok(self.db.log_proof()?.map(|p| LogProofResult {
                event_log_hash: p.chain_hex,
                height: p.height as f64,
                first_seq: p.first_seq as f64,
                event_count: p.event_count as f64,
                bytes: p.bytes as f64,
            }))
        })
    }

    /// Bytes of event-log frames appended since open; O(1), takes no lock
    /// (the checkpoint trigger polls it).
    #[napi]
    pub fn appended_log_bytes(&self, env: &Env) -> Result<f64> {
        sync(env, "appendedLogBytes", || {
            self.db.check_open()?;
            Ok(self.db.appended_log_bytes() as f64)
        })
    }

    /// The last snapshot written by this process, if any.
    #[napi]
    pub fn last_snapshot(&self, env: &Env) -> Result<Option<SnapshotResult>> {
        sync(env, "lastSnapshot", || {
            Ok(self.db.last_snapshot()?.map(snapshot_result))
        })
    }

    /// What recovery did at open.
    #[napi]
    pub fn recovery(&self, env: &Env) -> Result<RecoveryInfo> {
        sync(env, "recovery", || {
            let r = self.db.recovery()?;
            Ok(RecoveryInfo {
                source: r.source,
                snapshot_height: r.snapshot_height.map(|h| h as f64),
                replayed: r.replayed as f64,
                height: r.height as f64,
                warnings: r.warnings,
                errors: r.errors,
                seconds: r.seconds,
            })
        })
    }
}
