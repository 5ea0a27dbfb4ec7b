//! Persistence modes and recovery, on top of the storage layer.
//!
//! Modes (the deployment guide's): none; snapshot only; event log (+ optional
//! snapshots); legacy WAL (a log that is replayed on top of the last snapshot
//! and trimmed whenever a snapshot is saved). Recovery order:
//! 1. a log with at least one event (or one that starts after a trim): the
//!    newest valid snapshot whose height is within the log, then the log's
//!    tail from the snapshot's height; no usable snapshot → the whole log;
//! 2. otherwise the newest valid snapshot (and an empty log is re-based on it);
//! 3. otherwise a fresh, empty state.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::entry::decode_entry;
use crate::error::{with_causes, KResult, KernelError};
use crate::index::IndexConfig;
use crate::state::Limits;
use crate::storage::snapshot::NamedSnapshots;
use crate::storage::{
    EventLog, LogBase, OpenOptions, SnapshotMeta, SnapshotStore, StorageError, Vfs,
};
use crate::store::Store;

pub use crate::snapshot_io::{
    capture, decode_parts, decode_store, Captured, Restored, MAX_METADATA_SECTION,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    None,
    Snapshot,
    EventLog,
    Wal,
}

impl Persistence {
    pub fn as_str(self) -> &'static str {
        match self {
            Persistence::None => "none",
            Persistence::Snapshot => "snapshot",
            Persistence::EventLog => "event_log",
            Persistence::Wal => "wal",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PersistConfig {
    pub event_log: Option<PathBuf>,
    pub snapshot: Option<PathBuf>,
    pub wal: Option<PathBuf>,
    /// Cut a log at mid-log corruption instead of refusing to start.
    pub accept_truncation: bool,
    /// Named snapshots kept at most (VALORI_MAX_NAMED_SNAPSHOTS); None = 16.
    pub max_named_snapshots: Option<usize>,
    /// Largest snapshot read back by name or accepted for restore
    /// (VALORI_MAX_SNAPSHOT_BYTES); None = no limit beyond memory.
    pub max_snapshot_bytes: Option<u64>,
}

/// Default for [`PersistConfig::max_named_snapshots`].
pub const DEFAULT_MAX_NAMED_SNAPSHOTS: usize = 16;
/// What recovery did, for the operator's log.
#[derive(Debug, Clone, Default)]
pub struct RecoveryReport {
    /// "event_log" | "wal" | "snapshot" | "fresh"
    pub source: String,
    pub snapshot_height: Option<u64>,
    pub replayed: u64,
    pub height: u64,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub seconds: f64,
    /// Commit time of the log's last entry (Unix ms; 0 when none is
    /// recorded): the committer never stamps an earlier one.
    pub last_time_ms: u64,
}

/// Storage failures as kernel errors. The message keeps the storage error's
/// cause chain (the OS error under a failed write), so the operator's log
/// says what failed underneath even though `KernelError` carries text only.
pub(crate) fn storage_err(e: StorageError) -> KernelError {
    let text = with_causes(&e);
    match e {
        StorageError::Io { .. } | StorageError::Poisoned { .. } => KernelError::Io(text),
        StorageError::OutOfRange { .. } => KernelError::NotFound(text),
        StorageError::InvalidAppend { .. } => KernelError::Internal(text),
        _ => KernelError::Corrupt(text),
    }
}

/// The durable side of a node: the log (shared with the committer) and the
/// snapshot store.
pub struct Durable {
    pub persistence: Persistence,
    pub log: Option<Arc<Mutex<EventLog>>>,
    pub snapshots: Option<SnapshotStore>,
    /// Snapshots saved by name (only with a snapshot path).
    pub named: Option<NamedSnapshots>,
    pub max_snapshot_bytes: u64,
    pub vfs: Arc<dyn Vfs>,
    pub limits: Limits,
    pub index_cfg: IndexConfig,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Durable {
    /// The snapshot path used for saves: VALORI_SNAPSHOT_PATH, or (event log
    /// only) `<event log>.snapshot`, so restores and follower bootstraps survive
    /// a restart even without a configured snapshot path.
    fn snapshot_path(cfg: &PersistConfig, log_path: Option<&Path>) -> Option<PathBuf> {
        cfg.snapshot.clone().or_else(|| {
            log_path.map(|p| {
                let mut s = p.as_os_str().to_owned();
                s.push(".snapshot");
                PathBuf::from(s)
            })
        })
    }

    /// Open storage and recover a db (see module docs for the order).
    pub fn open(
        vfs: Arc<dyn Vfs>,
        limits: Limits,
        index_cfg: IndexConfig,
        cfg: &PersistConfig,
    ) -> KResult<(Durable, Store, RecoveryReport)> {
        let started = Instant::now();
        let mut report = RecoveryReport::default();
        let (log_path, persistence) = match (&cfg.event_log, &cfg.wal) {
            (Some(p), Some(_)) => {
                report
                    .warnings
                    .push("VALORI_WAL_PATH is ignored: VALORI_EVENT_LOG_PATH supersedes it".into());
                (Some(p.clone()), Persistence::EventLog)
            }
            (Some(p), None) => (Some(p.clone()), Persistence::EventLog),
            (None, Some(p)) => (Some(p.clone()), Persistence::Wal),
            (None, None) if cfg.snapshot.is_some() => (None, Persistence::Snapshot),
            (None, None) => (None, Persistence::None),
        };
        let main_snapshot = Self::snapshot_path(cfg, log_path.as_deref());
        let named = main_snapshot.as_ref().map(|main| {
            let reserved: Vec<PathBuf> = [
                cfg.event_log.clone(),
                cfg.wal.clone(),
                cfg.snapshot.clone(),
                main_snapshot.clone(),
            ]
            .into_iter()
            .flatten()
            .collect();
            let max = cfg
                .max_named_snapshots
                .unwrap_or(DEFAULT_MAX_NAMED_SNAPSHOTS);
            NamedSnapshots::new(vfs.clone(), main, &reserved, max)
        });
        let max_snapshot_bytes = cfg.max_snapshot_bytes.unwrap_or(u64::MAX);
        let snapshots = match main_snapshot {
            Some(p) => {
                let (store, removed) = SnapshotStore::open(vfs.clone(), p).map_err(storage_err)?;
                for r in removed {
                    report
                        .warnings
                        .push(format!("removed leftover temporary file {}", r.display()));
                }
                Some(store)
            }
            None => None,
        };
        let load = |max_height: u64, report: &mut RecoveryReport| -> KResult<Option<Restored>> {
            let Some(store) = &snapshots else {
                return Ok(None);
            };
            let out = store.load_newest_valid(max_height).map_err(storage_err)?;
            for q in out.quarantined {
                report.errors.push(format!(
                    "snapshot {} is corrupt ({}); moved aside to {}",
                    q.from.display(),
                    q.error,
                    q.to.display()
                ));
            }
            let Some(snap) = out.snapshot else {
                return Ok(None);
            };
            match decode_parts(snap.meta, &snap.parts(), limits, index_cfg) {
                Ok(r) => Ok(Some(r)),
                Err(e) => {
                    report.errors.push(format!(
                        "snapshot {} cannot be loaded: {e}",
                        snap.path.display()
                    ));
                    Ok(None)
                }
            }
        };
        let Some(log_path) = log_path else {
            let db = match load(u64::MAX, &mut report)? {
                Some(r) => {
                    report.source = "snapshot".into();
                    report.snapshot_height = Some(r.meta.height);
                    r.store
                }
                None => {
                    report.source = "fresh".into();
                    Store::new(limits, index_cfg)
                }
            };
            report.height = db.height();
            report.seconds = started.elapsed().as_secs_f64();
            let d = Durable {
                persistence,
                log: None,
                snapshots,
                named,
                max_snapshot_bytes,
                vfs,
                limits,
                index_cfg,
            };
            return Ok((d, db, report));
        };
        let opts = OpenOptions {
            accept_truncation: cfg.accept_truncation,
            create_base: LogBase::GENESIS,
        };
        let (mut log, rec) = EventLog::open(vfs.clone(), &log_path, limits.dim as u32, &opts)
            .map_err(|e| match e {
                StorageError::DimMismatch { .. } | StorageError::MidLogCorruption { .. } => {
                    KernelError::Corrupt(with_causes(&e))
                }
                other => storage_err(other),
            })?;
        for f in &rec.removed_temp_files {
            report
                .warnings
                .push(format!("removed leftover temporary file {}", f.display()));
        }
        if let Some(t) = rec.truncation {
            report.warnings.push(format!(
                "event log {}: {:?} at byte offset {}; truncated to {} bytes ({} bytes dropped)",
                log_path.display(),
                t.cause,
                t.found_at,
                t.truncated_to,
                t.dropped_bytes
            ));
        }
        let mut db;
        if log.event_count() > 0 || log.base_seq() > 0 {
            report.source = persistence.as_str().into();
            let base = log.base_seq();
            db = match load(log.height(), &mut report)? {
                Some(r) if r.meta.height >= base && chain_matches(&log, &r.meta) => {
                    report.snapshot_height = Some(r.meta.height);
                    r.store
                }
                Some(r) => {
                    report.warnings.push(format!(
                        "snapshot at height {} does not belong to this log (log covers {}..={}); ignored",
                        r.meta.height,
                        base,
                        log.height()
                    ));
                    fresh_or_gap(base, limits, index_cfg)?
                }
                None => fresh_or_gap(base, limits, index_cfg)?,
            };
            let from = db.height() + 1;
            if from <= log.height() {
                let reader = log.reader_from(from).map_err(storage_err)?;
                for item in reader {
                    let (seq, payload) = item.map_err(storage_err)?;
                    replay_one(&mut db, seq, &payload)?;
                    report.replayed += 1;
                }
            }
            if log.height() > log.base_seq() {
                let mut tip = log.reader_from(log.height()).map_err(storage_err)?;
                if let Some(item) = tip.next() {
                    let (_, payload) = item.map_err(storage_err)?;
                    report.last_time_ms = crate::entry::entry_time(&payload).unwrap_or(0);
                }
            }
            if db.height() != log.height() {
                return Err(KernelError::Corrupt(format!(
                    "replay stopped at height {} but the log ends at {}",
                    db.height(),
                    log.height()
                )));
            }
        } else {
            db = match load(u64::MAX, &mut report)? {
                Some(r) => {
                    report.source = "snapshot".into();
                    report.snapshot_height = Some(r.meta.height);
                    // Continue the history where the snapshot ends.
                    log.reset_to(LogBase {
                        seq: r.meta.height,
                        chain: r.meta.chain,
                    })
                    .map_err(storage_err)?;
                    r.store
                }
                None => {
                    report.source = "fresh".into();
                    Store::new(limits, index_cfg)
                }
            };
        }
        report.height = db.height();
        report.seconds = started.elapsed().as_secs_f64();
        let d = Durable {
            persistence,
            log: Some(Arc::new(Mutex::new(log))),
            snapshots,
            named,
            max_snapshot_bytes,
            vfs,
            limits,
            index_cfg,
        };
        Ok((d, db, report))
    }
}

fn chain_matches(log: &EventLog, meta: &SnapshotMeta) -> bool {
    log.chain_hash_at(meta.height)
        .map(|c| c == meta.chain)
        .unwrap_or(false)
}

fn fresh_or_gap(base: u64, limits: Limits, cfg: IndexConfig) -> KResult<Store> {
    if base > 0 {
        return Err(KernelError::Corrupt(format!(
            "the event log starts after event {base} (its prefix was trimmed) and no valid snapshot covers it; \
             restore the snapshot file or start from an empty log"
        )));
    }
    Ok(Store::new(limits, cfg))
}

/// Apply one logged event during replay; sequence numbers must be contiguous.
pub fn replay_one(db: &mut Store, seq: u64, payload: &[u8]) -> KResult<()> {
    if seq <= db.height() {
        return Ok(()); // already covered by the snapshot: idempotent by sequence number
    }
    if seq != db.height() + 1 {
        return Err(KernelError::Corrupt(format!(
            "event {seq} follows height {}: gap in the log",
            db.height()
        )));
    }
    let (_, ev) =
        decode_entry(payload).map_err(|e| KernelError::Corrupt(format!("event {seq}: {e}")))?;
    db.apply(&ev).map_err(|e| {
        KernelError::Corrupt(format!(
            "event {seq} ({}) cannot be applied: {e}",
            ev.name()
        ))
    })
}
