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
//! bytes of a log id; the membership as in [`crate::codec`]), followed by the
//! retired node ids (`count u32 | ids u64`: every id a membership change
//! has removed, never to be reused), and the state is
//! the applier's (the kernel's VAL1 bytes). It is written to a temporary,
//! synced and renamed (R4).
//!
//! Neither side holds the file whole in memory: a build freezes the state
//! under the lock (the kernel's copy-on-write clone) and encodes and streams
//! it to the file after the lock is released, so applies go on meanwhile; a
//! read maps the file read-only, checks its digest over the mapping and
//! hands the state section to the applier's restore from it; an installed snapshot's file is kept as it
//! came (renamed into place), not written again.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use anyerror::AnyError;
use openraft::storage::{RaftStateMachine, Snapshot, SnapshotMeta};
use openraft::{EntryPayload, LogId, RaftSnapshotBuilder, StorageIOError, StoredMembership};
use valori_kernel::storage::vfs::{read_whole, FileBytes};
use valori_kernel::storage::Vfs;

use crate::codec::{
    decode_log_id, decode_membership, encode_log_id, encode_membership, put_str, DecodeError,
    Reader,
};
use crate::errors::{read_snapshot, violation, write_snapshot};
use crate::{Applied, Entry, Member, NodeId, StorageError, TypeConfig};

const SNAPSHOT_MAGIC: [u8; 8] = *b"VALRSNP1";
const SNAPSHOT_FILE: &str = "snapshot.bin";
const INCOMING_FILE: &str = "incoming.snapshot";
/// A snapshot being built (renamed to `SNAPSHOT_FILE` once synced).
const BUILDING_FILE: &str = "snapshot.bin.tmp";

/// The application state a cluster replicates. Deterministic: the same
/// commands at the same indexes give the same state and answers anywhere.
pub trait Applier: Send + Sync + 'static {
    /// Applies the committed command at Raft index `index`; the answer goes
    /// back to whoever proposed it.
    fn apply(&mut self, index: u64, command: &[u8]) -> Vec<u8>;
    /// The whole state, for a snapshot.
    fn state_bytes(&self) -> Result<Vec<u8>, String>;
    /// The state as of now, for a snapshot. Called under the state
    /// machine's lock, so it should only freeze the state (a copy-on-write
    /// clone); [`Frozen::encode`] runs after the lock is released.
    fn freeze(&self) -> Result<Box<dyn Frozen>, String> {
        Ok(Box::new(self.state_bytes()?))
    }
    /// Replaces the whole state with a snapshot's.
    fn restore(&mut self, state: &[u8]) -> Result<(), String>;
    /// Why this applier can no longer apply (checked after every entry):
    /// the state machine then stops Raft on this node rather than count
    /// as applied an entry whose effect it may not hold (a member whose
    /// state fell behind its applied index would diverge silently).
    fn fault(&self) -> Option<String> {
        None
    }
}

/// A state frozen for a snapshot.
pub trait Frozen: Send {
    /// Encodes it (no lock held) into what the snapshot file carries.
    fn encode(self: Box<Self>) -> Result<Box<dyn StateImage>, String>;
}

/// An encoded state, written to a snapshot file piece by piece.
pub trait StateImage: Send {
    /// How many bytes [`StateImage::write_to`] writes.
    fn len(&self) -> u64;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Writes the state to `out`, in order, in pieces of at most 1 MiB.
    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), String>;
}

/// Pieces a snapshot file is read and written in.
pub const CHUNK: usize = 1 << 20;

impl Frozen for Vec<u8> {
    fn encode(self: Box<Self>) -> Result<Box<dyn StateImage>, String> {
        Ok(self)
    }
}

impl StateImage for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), String> {
        for piece in self.chunks(CHUNK) {
            out(piece).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
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
    /// Ids the applied membership changes removed: never reused.
    retired: BTreeSet<NodeId>,
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
        let mut retired = BTreeSet::new();
        if vfs.exists(&path).map_err(|e| read_snapshot(&e))? {
            let read = read_snapshot_file(&*vfs, &path)?;
            applier
                .restore(read.state())
                .map_err(|e| read_snapshot(&DecodeError(e)))?;
            retired = read.retired;
            applied = read.meta.last_log_id;
            membership = read.meta.last_membership.clone();
            current = Some(read.meta);
        }
        let shared = Shared {
            vfs,
            dir: dir.to_path_buf(),
            applier,
            applied,
            membership,
            current,
            retired,
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

    /// Whether a membership change this node applied removed node `id`
    /// (ids are never reused).
    pub fn is_retired(&self, id: NodeId) -> Result<bool, StorageError> {
        Ok(self.lock()?.retired.contains(&id))
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

fn encode_meta(meta: &Meta, retired: &BTreeSet<NodeId>) -> Result<Vec<u8>, DecodeError> {
    let mut m = Vec::new();
    put_opt_log_id(&mut m, meta.last_log_id.as_ref());
    put_opt_log_id(&mut m, meta.last_membership.log_id().as_ref());
    encode_membership(&mut m, meta.last_membership.membership())?;
    put_str(&mut m, &meta.snapshot_id)?;
    m.extend_from_slice(&(retired.len() as u32).to_le_bytes());
    for id in retired {
        m.extend_from_slice(&id.to_le_bytes());
    }
    Ok(m)
}

fn decode_meta(bytes: &[u8]) -> Result<(Meta, BTreeSet<NodeId>), DecodeError> {
    let mut m = Reader::new(bytes, "raft snapshot meta");
    let last_log_id = opt_log_id(&mut m)?;
    let membership_id = opt_log_id(&mut m)?;
    let membership = decode_membership(&mut m)?;
    let snapshot_id = m.str()?;
    let n = m.count(8)?;
    let mut retired = BTreeSet::new();
    for _ in 0..n {
        retired.insert(m.u64()?);
    }
    m.end()?;
    let meta = Meta {
        last_log_id,
        last_membership: StoredMembership::new(membership_id, membership),
        snapshot_id,
    };
    Ok((meta, retired))
}

/// Writes a snapshot file at `path` (created or truncated) from `meta` and
/// the streamed `state`, then syncs it.
fn write_snapshot_file(
    vfs: &dyn Vfs,
    path: &Path,
    meta: &Meta,
    retired: &BTreeSet<NodeId>,
    state: &dyn StateImage,
) -> Result<(), StorageError> {
    let meta_bytes = encode_meta(meta, retired).map_err(|e| write_snapshot(&e))?;
    let file = vfs.create(path).map_err(|e| write_snapshot(&e))?;
    let mut hasher = blake3::Hasher::new();
    let mut at = 0u64;
    let mut put = |b: &[u8]| -> std::io::Result<()> {
        file.write_at(at, b)?;
        hasher.update(b);
        at += b.len() as u64;
        Ok(())
    };
    put(&SNAPSHOT_MAGIC).map_err(|e| write_snapshot(&e))?;
    put(&(meta_bytes.len() as u32).to_le_bytes()).map_err(|e| write_snapshot(&e))?;
    put(&meta_bytes).map_err(|e| write_snapshot(&e))?;
    put(&state.len().to_le_bytes()).map_err(|e| write_snapshot(&e))?;
    let state_at = 8 + 4 + meta_bytes.len() as u64 + 8;
    state
        .write_to(&mut put)
        .map_err(|e| write_snapshot(&DecodeError(e)))?;
    if at != state_at + state.len() {
        return Err(write_snapshot(&DecodeError(format!(
            "the state wrote {} bytes, it announced {}",
            at - state_at,
            state.len()
        ))));
    }
    let digest = hasher.finalize();
    file.write_at(at, digest.as_bytes())
        .map_err(|e| write_snapshot(&e))?;
    file.sync_all().map_err(|e| write_snapshot(&e))?;
    Ok(())
}

/// Where a checked snapshot file keeps its state.
struct Layout {
    meta: Meta,
    retired: BTreeSet<NodeId>,
    state: std::ops::Range<usize>,
}

/// A snapshot file's meta and the place of its state, its digest checked;
/// `b` is the whole file (mapped: see `FileBytes`).
fn check_snapshot_bytes(b: &[u8]) -> Result<Layout, DecodeError> {
    let bad = |why: &str| DecodeError(format!("raft snapshot: {why}"));
    if b.len() < 8 + 4 + 8 + 32 {
        return Err(bad("not a Raft snapshot (too short)"));
    }
    if b[..8] != SNAPSHOT_MAGIC {
        return Err(bad("not a Raft snapshot (magic)"));
    }
    let meta_len = u32::from_le_bytes(b[8..12].try_into().expect("4 bytes")) as usize;
    let state_at = 12usize
        .checked_add(meta_len)
        .and_then(|x| x.checked_add(8))
        .filter(|&x| x + 32 <= b.len())
        .ok_or_else(|| bad("meta length exceeds the file"))?;
    let state_len = u64::from_le_bytes(b[state_at - 8..state_at].try_into().expect("8 bytes"));
    let body = b.len() - 32;
    if usize::try_from(state_len)
        .ok()
        .and_then(|n| state_at.checked_add(n))
        != Some(body)
    {
        return Err(bad("state length"));
    }
    if blake3::hash(&b[..body]).as_bytes() != &b[body..] {
        return Err(bad("digest mismatch"));
    }
    let (meta, retired) = decode_meta(&b[12..12 + meta_len])?;
    Ok(Layout {
        meta,
        retired,
        state: state_at..body,
    })
}

/// Checks a snapshot file received from a peer before it is handed to
/// openraft: its digest, and that it holds the snapshot `announced` (the
/// log id and membership the sender named). A failed install is fatal to
/// openraft's core, so a damaged transfer, or a sender whose snapshot was
/// replaced between announcing it and reading it, is refused here, and the
/// sender retries with its current one.
pub fn check_received(path: &Path, announced: &Meta) -> Result<(), String> {
    let io = |e: std::io::Error| format!("received snapshot {}: {e}", path.display());
    let file = valori_kernel::storage::StdVfs
        .open(path, false)
        .map_err(io)?;
    let bytes = read_whole(&*file).map_err(io)?;
    let layout = check_snapshot_bytes(&bytes).map_err(|e| e.0)?;
    if layout.meta.last_log_id != announced.last_log_id
        || layout.meta.last_membership != announced.last_membership
    {
        return Err(format!(
            "the received snapshot holds {:?}, not the announced {:?}",
            layout.meta.last_log_id, announced.last_log_id
        ));
    }
    Ok(())
}

/// A snapshot file checked, and its state section mapped (nothing of the
/// file copied onto the heap; see `FileBytes`).
struct ReadSnapshot {
    meta: Meta,
    retired: BTreeSet<NodeId>,
    file: FileBytes,
    state: std::ops::Range<usize>,
}

impl ReadSnapshot {
    fn state(&self) -> &[u8] {
        &self.file[self.state.clone()]
    }
}

/// A snapshot file's meta, retired ids and state section (the file checked
/// first).
fn read_snapshot_file(vfs: &dyn Vfs, path: &Path) -> Result<ReadSnapshot, StorageError> {
    let file = vfs.open(path, false).map_err(|e| read_snapshot(&e))?;
    let bytes = read_whole(&*file).map_err(|e| read_snapshot(&e))?;
    let layout = check_snapshot_bytes(&bytes).map_err(|e| read_snapshot(&e))?;
    Ok(ReadSnapshot {
        meta: layout.meta,
        retired: layout.retired,
        file: bytes,
        state: layout.state,
    })
}

impl<A: Applier> RaftSnapshotBuilder<TypeConfig> for StateMachine<A> {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        // Under the lock: the log id, the membership and a frozen state.
        let (meta, retired, frozen, vfs, dir) = {
            let shared = self.lock()?;
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
            let frozen = shared
                .applier
                .freeze()
                .map_err(|e| write_snapshot(&DecodeError(e)))?;
            let retired = shared.retired.clone();
            (
                meta,
                retired,
                frozen,
                shared.vfs.clone(),
                shared.dir.clone(),
            )
        };
        // Applies go on meanwhile: encode and write to a temporary.
        let tmp = dir.join(BUILDING_FILE);
        off_the_runtime(|| -> Result<(), StorageError> {
            let image = frozen
                .encode()
                .map_err(|e| write_snapshot(&DecodeError(e)))?;
            write_snapshot_file(&*vfs, &tmp, &meta, &retired, &*image)
        })?;
        // Into place, unless a newer snapshot was installed meanwhile.
        let mut shared = self.lock()?;
        let newer = shared
            .current
            .as_ref()
            .is_some_and(|c| c.last_log_id > meta.last_log_id);
        if newer {
            let _ = vfs.remove(&tmp);
            let current = shared.current.clone().expect("checked");
            return Ok(Snapshot {
                meta: current,
                snapshot: Box::new(SnapshotFile {
                    path: dir.join(SNAPSHOT_FILE),
                }),
            });
        }
        let path = shared.place(&tmp)?;
        shared.current = Some(meta.clone());
        Ok(Snapshot {
            meta,
            snapshot: Box::new(SnapshotFile { path }),
        })
    }
}

impl<A> Shared<A> {
    /// Renames the synced file `from` to the current snapshot and syncs the
    /// directory.
    fn place(&self, from: &Path) -> Result<PathBuf, StorageError> {
        let path = self.dir.join(SNAPSHOT_FILE);
        self.vfs
            .rename(from, &path)
            .map_err(|e| write_snapshot(&e))?;
        self.vfs
            .sync_dir(&self.dir)
            .map_err(|e| write_snapshot(&e))?;
        Ok(path)
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
                    let answer = off_the_runtime(|| applier.apply(entry.log_id.index, &cmd.0));
                    if let Some(why) = shared.applier.fault() {
                        return Err(StorageIOError::<NodeId>::apply(
                            entry.log_id,
                            AnyError::error(format!(
                                "this node can no longer apply committed entries ({why}); restart it: it recovers from its Raft snapshot and log"
                            )),
                        )
                        .into());
                    }
                    answer
                }
                EntryPayload::Membership(m) => {
                    let removed: Vec<NodeId> = shared
                        .membership
                        .membership()
                        .nodes()
                        .map(|(id, _)| *id)
                        .filter(|id| m.get_node(id).is_none())
                        .collect();
                    shared.retired.extend(removed);
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
        let read = read_snapshot_file(&*shared.vfs, &snapshot.path)?;
        let file_meta = &read.meta;
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
        {
            let applier = &mut shared.applier;
            off_the_runtime(|| applier.restore(read.state()))
                .map_err(|e| read_snapshot(&DecodeError(e)))?;
        }
        // The mapping is released before the file is renamed into place.
        let ReadSnapshot { retired, file, .. } = read;
        drop(file);
        // The file as it came (checked above) becomes the current snapshot.
        let file = shared
            .vfs
            .open(&snapshot.path, true)
            .map_err(|e| write_snapshot(&e))?;
        file.sync_all().map_err(|e| write_snapshot(&e))?;
        drop(file);
        shared.place(&snapshot.path)?;
        shared.retired = retired;
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
