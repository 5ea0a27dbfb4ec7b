//! Operations of [`Database`] that cross the state and its durable storage:
//! snapshots, restore, log trim, index build, replication reads, proofs.
//!
//! Lock discipline: the committer takes the state's write lock to apply a group,
//! releases it, then takes the log mutex to append. Anything that needs "state
//! height == durable log height" (snapshot, restore) holds the state lock and
//! waits on the log's condition variable (`log_sink::LogSignal`, which releases
//! the log mutex while asleep) until the log has caught up; it never holds the
//! log mutex while waiting for the state lock, so there is no cycle.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::Database;
use crate::codec;
use crate::durable::{self, lock, storage_err};
use crate::error::{KResult, KernelError};
use crate::log_sink::LOG_WAIT_LIMIT;
use crate::storage::snapshot::NamedSnapshots;
use crate::storage::{LogBase, SnapshotMeta, SnapshotStore};
use crate::store::{self, Store};

#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub height: u64,
    pub bytes: u64,
    pub path: PathBuf,
    /// The file name alone (what the API answers: never a server path).
    pub name: String,
    /// How long writes were held back while the state was encoded.
    pub stall_ms: f64,
    pub total_ms: f64,
}

/// A state frozen for a snapshot (see [`Database::freeze`]).
pub struct FrozenState {
    store: Store,
    chain: [u8; 32],
}

impl FrozenState {
    /// The height the snapshot will carry.
    pub fn height(&self) -> u64 {
        self.store.height()
    }

    /// Measures the sections (the CPU-heavy part; no lock is held); the
    /// result writes the file piece by piece.
    pub fn capture(self) -> KResult<durable::Captured> {
        durable::capture(self.store, self.chain)
    }
}

#[derive(Debug, Clone)]
pub struct LogProof {
    pub chain_hex: String,
    pub height: u64,
    pub first_seq: u64,
    pub event_count: u64,
    pub bytes: u64,
}

impl Database {
    /// Wait (holding the state lock, which stops new groups) until the log
    /// holds every applied event; returns the chain value at `height`.
    fn durable_chain(&self, height: u64) -> KResult<[u8; 32]> {
        let Some(log) = &self.durable.log else {
            return Ok(crate::storage::GENESIS_CHAIN);
        };
        self.log_signal.wait_for(log, height, LOG_WAIT_LIMIT)
    }

    /// The current durable state, frozen (a copy-on-write clone: quick,
    /// under the state lock) with its chain value; encode it with
    /// [`FrozenState::capture`] after whatever lock the caller holds.
    pub fn freeze(&self) -> KResult<FrozenState> {
        self.check_open()?;
        let db = self.engine.read();
        let chain = self.durable_chain(db.height())?;
        Ok(FrozenState {
            store: db.frozen(),
            chain,
        })
    }

    /// VAL1 bytes of the current durable state (for download).
    pub fn snapshot_bytes(&self) -> KResult<(SnapshotMeta, Vec<u8>)> {
        self.check_open()?;
        let (frozen, chain) = {
            let db = self.engine.read();
            let chain = self.durable_chain(db.height())?;
            (db.frozen(), chain)
        };
        let captured = durable::capture(frozen, chain)?;
        Ok((captured.meta, captured.to_bytes()?))
    }

    fn main_store(&self) -> KResult<&SnapshotStore> {
        self.durable.snapshots.as_ref().ok_or_else(|| {
            KernelError::InvalidArgument(
                "no snapshot path configured (set VALORI_SNAPSHOT_PATH)".into(),
            )
        })
    }

    fn named(&self) -> KResult<&NamedSnapshots> {
        self.main_store()?;
        self.durable
            .named
            .as_ref()
            .ok_or_else(|| KernelError::Internal("named snapshots not set up".into()))
    }

    /// Write a snapshot atomically (temp, fsync, rename, fsync dir): the main
    /// snapshot, or with `name` a named one in the `snapshots/` directory
    /// (see `storage::snapshot::named`). In WAL mode the WAL is then trimmed
    /// to a main snapshot (it only ever holds what follows one).
    pub fn save_snapshot(&self, name: Option<&str>) -> KResult<SnapshotInfo> {
        self.check_open()?;
        let mut gate = lock(&self.snapshot_gate);
        let store = self.main_store()?;
        let named_path = match name {
            Some(n) => Some(self.named()?.path_of(n)?),
            None => None,
        };
        let started = Instant::now();
        // Writes wait only while the store is frozen (a copy-on-write clone:
        // see `store::frozen`); encoding, checksums, the file write and the
        // fsyncs happen after the lock is released.
        let (frozen, chain, stall) = {
            let db = self.engine.read();
            let t = Instant::now();
            let chain = self.durable_chain(db.height())?;
            (db.frozen(), chain, t.elapsed())
        };
        let captured = durable::capture(frozen, chain)?;
        let meta = captured.meta;
        let (size, path) = match (name, named_path) {
            (Some(n), Some(p)) => (self.named()?.save_from(n, &captured)?, p),
            _ => (
                store.save_from(&captured).map_err(storage_err)?,
                store.path().to_path_buf(),
            ),
        };
        if self.durable.persistence == durable::Persistence::Wal && name.is_none() {
            if let Some(log) = &self.durable.log {
                lock(log).trim_prefix(meta.height).map_err(storage_err)?;
            }
        }
        let info = SnapshotInfo {
            height: meta.height,
            bytes: size,
            name: file_name(&path),
            path,
            stall_ms: stall.as_secs_f64() * 1e3,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        };
        if name.is_none() {
            *gate = Some(info.clone());
        }
        Ok(info)
    }

    /// Bytes of the named snapshot `name` (NOT_FOUND when there is none).
    pub fn read_snapshot_file(&self, name: &str) -> KResult<Vec<u8>> {
        self.check_open()?;
        Ok(self
            .named()?
            .read(name, self.durable.max_snapshot_bytes)?
            .to_vec())
    }

    /// [`Database::restore`] from the named snapshot `name` (not a
    /// bootstrap), decoded from a mapping of its file.
    pub fn restore_named(&self, name: &str) -> KResult<u64> {
        self.check_open()?;
        let bytes = self.named()?.read(name, self.durable.max_snapshot_bytes)?;
        self.restore(&bytes, false)
    }

    /// Replace the whole state with a VAL1 snapshot, validated first.
    /// `bootstrap`: keep the snapshot's height and chain (a follower adopting
    /// its leader's history); otherwise the restore becomes the next height of
    /// this node's own history. With a log, the snapshot is saved and the log
    /// re-based on it before the new state is served, so it survives a restart.
    pub fn restore(&self, bytes: &[u8], bootstrap: bool) -> KResult<u64> {
        self.check_open()?;
        let mut gate = lock(&self.snapshot_gate);
        let max = self.durable.max_snapshot_bytes;
        if bytes.len() as u64 > max {
            return Err(KernelError::InvalidArgument(format!(
                "snapshot is {} bytes, above VALORI_MAX_SNAPSHOT_BYTES ({max})",
                bytes.len()
            )));
        }
        let restored = durable::decode_store(bytes, self.durable.limits, self.durable.index_cfg)?;
        let mut db_guard = self.engine.db().write().unwrap_or_else(|p| p.into_inner());
        let current = db_guard.height();
        let cur_chain = self.durable_chain(current)?;
        let mut new_db: Store = restored.store;
        let (height, chain) = if bootstrap {
            (restored.meta.height, restored.meta.chain)
        } else {
            let h = current + 1;
            let mut hasher = blake3::Hasher::new();
            hasher.update(b"valori-restore");
            hasher.update(&cur_chain);
            hasher.update(&h.to_le_bytes());
            hasher.update(&store::codec::state_hash(&new_db));
            (h, *hasher.finalize().as_bytes())
        };
        new_db.set_height(height);
        if let Some(store) = &self.durable.snapshots {
            let captured = durable::capture(new_db.frozen(), chain)?;
            let size = store.save_from(&captured).map_err(storage_err)?;
            let path = store.path().to_path_buf();
            *gate = Some(SnapshotInfo {
                height,
                bytes: size,
                name: file_name(&path),
                path,
                stall_ms: 0.0,
                total_ms: 0.0,
            });
        }
        if let Some(log) = &self.durable.log {
            lock(log)
                .reset_to(LogBase { seq: height, chain })
                .map_err(storage_err)?;
        }
        *db_guard = new_db;
        self.engine.publish_catalog(&db_guard);
        drop(db_guard);
        self.engine.refresh_counters();
        // Waiters for the committed height (replication long-polls) see the
        // restored height like any commit.
        self.heights.send_replace(height);
        Ok(height)
    }

    /// Drop the log prefix covered by the newest durable snapshot.
    /// Returns the new first sequence number minus one (the log's base).
    pub fn trim_log(&self) -> KResult<u64> {
        self.check_open()?;
        let Some(log) = &self.durable.log else {
            return Err(KernelError::InvalidArgument(
                "no event log configured".into(),
            ));
        };
        let gate = lock(&self.snapshot_gate);
        let height = match gate.as_ref() {
            Some(i) => i.height,
            None => {
                let store = self.main_store()?;
                let max = lock(log).height();
                let out = store.load_newest_valid(max).map_err(storage_err)?;
                match out.snapshot {
                    Some(s) => s.meta.height,
                    None => return Err(KernelError::InvalidArgument(
                        "no durable snapshot to trim to: save one first (POST /v1/snapshot/save)"
                            .into(),
                    )),
                }
            }
        };
        let mut l = lock(log);
        let upto = height.min(l.height());
        l.trim_prefix(upto).map_err(storage_err)?;
        Ok(l.base_seq())
    }

    /// Drop the log prefix up to `height` (at most the log's height) without
    /// a snapshot to stand for it: for a derived log whose owner keeps the
    /// state elsewhere (a cluster member's Raft snapshot). Returns the new
    /// base; no log is not an error (0).
    pub fn trim_log_to(&self, height: u64) -> KResult<u64> {
        self.check_open()?;
        let Some(log) = &self.durable.log else {
            return Ok(0);
        };
        let mut l = lock(log);
        if height > l.base_seq() {
            let upto = height.min(l.height());
            l.trim_prefix(upto).map_err(storage_err)?;
        }
        Ok(l.base_seq())
    }

    /// Rebuild `collection`'s search index from its records (IVF/PQ retrain
    /// on all current vectors; HNSW drops deleted bridges). Node-local: the
    /// index is derived state, not part of the state hash. Returns false when
    /// the collection has no index (exact brute force).
    pub fn build_index(&self, collection: &str) -> KResult<bool> {
        self.check_open()?;
        let built = {
            let mut guard = self.engine.db().write().unwrap_or_else(|p| p.into_inner());
            let c = guard.resolve_mut(collection)?;
            let built = c.db.index.is_some();
            c.db.rebuild_index();
            guard.recount();
            built
        };
        self.engine.refresh_counters();
        Ok(built)
    }

    /// Bytes of event-log frames this process appended since open, O(1)
    /// and without the log's mutex: what a host's checkpoint trigger polls.
    pub fn appended_log_bytes(&self) -> u64 {
        self.appended_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn last_snapshot(&self) -> KResult<Option<SnapshotInfo>> {
        self.check_open()?;
        Ok(lock(&self.snapshot_gate).clone())
    }

    /// Up to `max_events` committed events from `from_seq` (at most about
    /// `max_bytes` of payload), for replication. Events below the log's first
    /// sequence number were trimmed: the caller must bootstrap from a snapshot.
    pub fn read_events(
        &self,
        from_seq: u64,
        max_events: usize,
        max_bytes: usize,
    ) -> KResult<Vec<(u64, Vec<u8>)>> {
        self.check_open()?;
        let Some(log) = &self.durable.log else {
            return Err(KernelError::InvalidArgument(
                "no event log configured".into(),
            ));
        };
        let reader = {
            let l = lock(log);
            if from_seq < l.first_seq() {
                return Err(KernelError::BootstrapRequired(format!(
                    "events before {} were trimmed from this node's log (asked for {from_seq}): bootstrap from a snapshot",
                    l.first_seq()
                )));
            }
            if from_seq > l.height() {
                return Ok(Vec::new());
            }
            l.reader_from(from_seq).map_err(storage_err)?
        };
        let mut out = Vec::new();
        let mut bytes = 0;
        for item in reader {
            let (seq, payload) = item.map_err(storage_err)?;
            bytes += payload.len();
            out.push((seq, payload));
            if out.len() >= max_events || bytes >= max_bytes {
                break;
            }
        }
        Ok(out)
    }

    /// Event-log chain hash, height and counts; `None` without an event log.
    pub fn log_proof(&self) -> KResult<Option<LogProof>> {
        self.check_open()?;
        let Some(log) = self.durable.log.as_ref() else {
            return Ok(None);
        };
        let l = lock(log);
        Ok(Some(LogProof {
            chain_hex: codec::hex(&l.chain_hash()),
            height: l.height(),
            first_seq: l.first_seq(),
            event_count: l.event_count(),
            bytes: l.len_bytes(),
        }))
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}
