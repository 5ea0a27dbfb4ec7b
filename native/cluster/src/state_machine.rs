//! openraft's state machine: committed entries go to an [`Applier`] in log
//! order; snapshots are files.
//!
//! The state machine itself is not persisted entry by entry: after a
//! restart it is the newest snapshot, and openraft applies the committed
//! entries after it again (the applier must be deterministic, which the
//! kernel is by design).
//!
//! A snapshot file (`snapshot.bin` in the state machine's directory) is
//! `magic "VALRSNP1" | meta_len u32 | meta | state_len u64 | state | BLAKE3
//! of everything before`, where meta is `last_log_id opt | membership log id
//! opt | membership | snapshot id str` (an `opt` is a flag byte then the 24
//! bytes of a log id; the membership as in [`crate::codec`]). It is written
//! to a temporary, synced and renamed (R4). The kernel's VAL1 container
//! replaces this layout when the kernel becomes the applier.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{EntryPayload, LogId, RaftSnapshotBuilder, StoredMembership};
use valori_kernel::storage::vfs::read_exact_at;
use valori_kernel::storage::{replace_file, Vfs};

use crate::codec::{
    decode_log_id, decode_membership, encode_log_id, encode_membership, put_str, DecodeError,
    Reader,
};
use crate::errors::{read_snapshot, violation, write_snapshot};
use crate::{Applied, Entry, Member, NodeId, StorageError, TypeConfig};

const SNAPSHOT_MAGIC: [u8; 8] = *b"VALRSNP1";
const SNAPSHOT_FILE: &str = "snapshot.bin";
const INCOMING_FILE: &str = "incoming.snapshot";

/// The application state a cluster replicates. Deterministic: the same
/// commands at the same indexes give the same state and answers anywhere.
pub trait Applier: Send + Sync + 'static {
    /// Applies the committed command at Raft index `index`; the answer goes
    /// back to whoever proposed it.
    fn apply(&mut self, index: u64, command: &[u8]) -> Vec<u8>;
    /// The whole state, for a snapshot.
    fn state_bytes(&self) -> Result<Vec<u8>, String>;
    /// Replaces the whole state with a snapshot's.
    fn restore(&mut self, state: &[u8]) -> Result<(), String>;
}

/// A snapshot as openraft passes it around: a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotFile {
    pub path: PathBuf,
}

type Meta = SnapshotMeta<NodeId, Member>;

struct Shared<A> {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    applier: A,
    applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, Member>,
    current: Option<Meta>,
}

/// The state machine of one node (cloning gives another handle to it).
pub struct StateMachine<A> {
    shared: Arc<Mutex<Shared<A>>>,
}

impl<A> Clone for StateMachine<A> {
    fn clone(&self) -> Self {
        StateMachine {
            shared: self.shared.clone(),
        }
    }
}

static SNAPSHOT_COUNTER: AtomicU64 = AtomicU64::new(0);

impl<A: Applier> StateMachine<A> {
    /// Opens the state machine kept in `dir`: the newest snapshot there, if
    /// any, restored into `applier`.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        dir: &Path,
        mut applier: A,
    ) -> Result<StateMachine<A>, StorageError> {
        vfs.create_dir_all(dir).map_err(|e| write_snapshot(&e))?;
        let path = dir.join(SNAPSHOT_FILE);
        let mut applied = None;
        let mut membership = StoredMembership::default();
        let mut current = None;
        if vfs.exists(&path).map_err(|e| read_snapshot(&e))? {
            let bytes = read_file(&*vfs, &path)?;
            let (meta, state) = decode_snapshot(&bytes).map_err(|e| read_snapshot(&e))?;
            applier
                .restore(state)
                .map_err(|e| read_snapshot(&DecodeError(e)))?;
            applied = meta.last_log_id;
            membership = meta.last_membership.clone();
            current = Some(meta);
        }
        let shared = Shared {
            vfs,
            dir: dir.to_path_buf(),
            applier,
            applied,
            membership,
            current,
        };
        Ok(StateMachine {
            shared: Arc::new(Mutex::new(shared)),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Shared<A>>, StorageError> {
        self.shared.lock().map_err(|_| {
            violation("the state machine's lock is poisoned (a panic during apply)".into())
        })
    }

    /// Reads the applier under the state machine's lock.
    pub fn with_applier<T>(&self, f: impl FnOnce(&A) -> T) -> Result<T, StorageError> {
        Ok(f(&self.lock()?.applier))
    }
}

/// Runs a long, blocking apply so that the runtime moves its other tasks
/// (heartbeats, votes, replication) to another worker meanwhile; on a
/// single-threaded runtime (some tests) it just runs.
fn off_the_runtime<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

fn read_file(vfs: &dyn Vfs, path: &Path) -> Result<Vec<u8>, StorageError> {
    let file = vfs.open(path, false).map_err(|e| read_snapshot(&e))?;
    let len = file.len().map_err(|e| read_snapshot(&e))?;
    let mut bytes = vec![0u8; len as usize];
    read_exact_at(&*file, 0, &mut bytes).map_err(|e| read_snapshot(&e))?;
    Ok(bytes)
}

fn put_opt_log_id(out: &mut Vec<u8>, id: Option<&LogId<NodeId>>) {
    match id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(&encode_log_id(id));
        }
        None => out.push(0),
    }
}

fn opt_log_id(r: &mut Reader<'_>) -> Result<Option<LogId<NodeId>>, DecodeError> {
    match r.u8()? {
        0 => Ok(None),
        1 => Ok(Some(decode_log_id(r.take(24)?)?)),
        f => Err(DecodeError(format!("snapshot meta: flag {f}"))),
    }
}

fn encode_snapshot(meta: &Meta, state: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut m = Vec::new();
    put_opt_log_id(&mut m, meta.last_log_id.as_ref());
    put_opt_log_id(&mut m, meta.last_membership.log_id().as_ref());
    encode_membership(&mut m, meta.last_membership.membership())?;
    put_str(&mut m, &meta.snapshot_id)?;
    let mut out = Vec::with_capacity(8 + 4 + m.len() + 8 + state.len() + 32);
    out.extend_from_slice(&SNAPSHOT_MAGIC);
    out.extend_from_slice(&(m.len() as u32).to_le_bytes());
    out.extend_from_slice(&m);
    out.extend_from_slice(&(state.len() as u64).to_le_bytes());
    out.extend_from_slice(state);
    let digest = blake3::hash(&out);
    out.extend_from_slice(digest.as_bytes());
    Ok(out)
}

fn decode_snapshot(bytes: &[u8]) -> Result<(Meta, &[u8]), DecodeError> {
    let bad = |why: &str| DecodeError(format!("raft snapshot: {why}"));
    if bytes.len() < 8 + 4 + 8 + 32 || bytes[..8] != SNAPSHOT_MAGIC {
        return Err(bad("not a Raft snapshot (magic)"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if blake3::hash(body).as_bytes() != digest {
        return Err(bad("digest mismatch"));
    }
    let mut r = Reader::new(&body[8..], "raft snapshot");
    let meta_len = r.u32()? as usize;
    let rest = r.rest();
    if rest.len() < meta_len + 8 {
        return Err(bad("meta length exceeds the file"));
    }
    let (meta_bytes, rest) = rest.split_at(meta_len);
    let mut m = Reader::new(meta_bytes, "raft snapshot meta");
    let last_log_id = opt_log_id(&mut m)?;
    let membership_id = opt_log_id(&mut m)?;
    let membership = decode_membership(&mut m)?;
    let snapshot_id = m.str()?;
    m.end()?;
    let mut s = Reader::new(rest, "raft snapshot state");
    let state_len = s.u64()?;
    let state = s.rest();
    if state.len() as u64 != state_len {
        return Err(bad("state length"));
    }
    Ok((
        Meta {
            last_log_id,
            last_membership: StoredMembership::new(membership_id, membership),
            snapshot_id,
        },
        state,
    ))
}

impl<A> Shared<A> {
    /// Writes `bytes` as the current snapshot (temp, sync, rename, sync dir).
    fn store(&self, bytes: &[u8]) -> Result<PathBuf, StorageError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        replace_file(&*self.vfs, &path, bytes).map_err(|e| write_snapshot(&e))?;
        Ok(path)
    }
}

impl<A: Applier> RaftSnapshotBuilder<TypeConfig> for StateMachine<A> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut shared = self.lock()?;
        let n = SNAPSHOT_COUNTER.fetch_add(1, Ordering::Relaxed);
        let snapshot_id = match shared.applied {
            Some(id) => format!(
                "{}-{}-{}-{n}",
                id.leader_id.term, id.leader_id.node_id, id.index
            ),
            None => format!("none-{n}"),
        };
        let meta = Meta {
            last_log_id: shared.applied,
            last_membership: shared.membership.clone(),
            snapshot_id,
        };
        let state = shared
            .applier
            .state_bytes()
            .map_err(|e| write_snapshot(&DecodeError(e)))?;
        let bytes = encode_snapshot(&meta, &state).map_err(|e| write_snapshot(&e))?;
        let path = shared.store(&bytes)?;
        shared.current = Some(meta.clone());
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotFile { path }),
        })
    }
}

impl<A: Applier> RaftStateMachine<TypeConfig> for StateMachine<A> {
    type SnapshotBuilder = StateMachine<A>;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, Member>), StorageError> {
        let shared = self.lock()?;
        Ok((shared.applied, shared.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<Applied>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut shared = self.lock()?;
        let mut out = Vec::new();
        for entry in entries {
            if shared
                .applied
                .is_some_and(|a| a.index >= entry.log_id.index)
            {
                return Err(violation(format!(
                    "apply of Raft index {} at or below the applied index",
                    entry.log_id.index
                )));
            }
            shared.applied = Some(entry.log_id);
            let answer = match entry.payload {
                EntryPayload::Blank => Vec::new(),
                EntryPayload::Normal(cmd) => {
                    let applier = &mut shared.applier;
                    off_the_runtime(|| applier.apply(entry.log_id.index, &cmd.0))
                }
                EntryPayload::Membership(m) => {
                    shared.membership = StoredMembership::new(Some(entry.log_id), m);
                    Vec::new()
                }
            };
            out.push(Applied(answer));
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<SnapshotFile>, StorageError> {
        let shared = self.lock()?;
        Ok(Box::new(SnapshotFile {
            path: shared.dir.join(INCOMING_FILE),
        }))
    }

    async fn install_snapshot(
        &mut self,
        meta: &Meta,
        snapshot: Box<SnapshotFile>,
    ) -> Result<(), StorageError> {
        let mut shared = self.lock()?;
        let bytes = read_file(&*shared.vfs, &snapshot.path)?;
        let (file_meta, state) = decode_snapshot(&bytes).map_err(|e| read_snapshot(&e))?;
        if file_meta.last_log_id != meta.last_log_id
            || file_meta.last_membership != meta.last_membership
        {
            return Err(read_snapshot(&DecodeError(format!(
                "snapshot file {} holds {:?}, not the announced {:?}",
                snapshot.path.display(),
                file_meta.last_log_id,
                meta.last_log_id
            ))));
        }
        shared
            .applier
            .restore(state)
            .map_err(|e| read_snapshot(&DecodeError(e)))?;
        let own = encode_snapshot(meta, state).map_err(|e| write_snapshot(&e))?;
        shared.store(&own)?;
        shared.applied = meta.last_log_id;
        shared.membership = meta.last_membership.clone();
        shared.current = Some(meta.clone());
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let shared = self.lock()?;
        Ok(shared.current.clone().map(|meta| Snapshot {
            meta,
            snapshot: Box::new(SnapshotFile {
                path: shared.dir.join(SNAPSHOT_FILE),
            }),
        }))
    }
}
