//! A simulated file system that remembers what is durable.
//!
//! Each file (inode) keeps its *volatile* bytes (what reads see, like the
//! page cache) and its *durable* bytes (what survives a power cut), plus the
//! list of writes and truncations issued since the last `sync_data`. The
//! namespace likewise has volatile and durable name tables and an ordered
//! list of un-fsynced directory operations. [`SimVfs::crash_image`] builds
//! the file system a reboot would find under a chosen [`CrashMode`].
//!
//! Faults: [`SimVfs::fail_call`] makes one chosen call fail with EIO or
//! ENOSPC (a failed write with ENOSPC leaves half of its bytes behind, like a
//! short write); [`SimVfs::freeze_after`] simulates the power cut itself:
//! after N mutating calls every further mutation fails and nothing changes.
//!
//! Compiled in all builds (it is small) so tests of other layers can use it.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::sim_crash::{enumerate_modes, settle_dir, settle_file, CrashMode};
use super::{parent_dir, VfsFile};

/// Which error an injected fault returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// EIO: the device failed the request.
    Eio,
    /// ENOSPC: no space left; a write leaves a partial prefix behind.
    Enospc,
}

impl Errno {
    fn to_io(self) -> io::Error {
        match self {
            Errno::Eio => io::Error::other("EIO (simulated)"),
            Errno::Enospc => io::Error::new(io::ErrorKind::StorageFull, "ENOSPC (simulated)"),
        }
    }
}

/// An unsynced change to one file, kept so a crash can replay a prefix.
#[derive(Clone, Debug)]
pub(super) enum Pending {
    Write { off: u64, bytes: Vec<u8> },
    SetLen(u64),
}

#[derive(Clone, Debug, Default)]
pub(super) struct Inode {
    pub data: Vec<u8>,
    pub durable: Vec<u8>,
    pub pending: Vec<Pending>,
}

/// An un-fsynced directory change, in issue order.
#[derive(Clone, Debug)]
pub(super) enum DirOp {
    Link { path: PathBuf, ino: u64 },
    Unlink { path: PathBuf },
    Rename { from: PathBuf, to: PathBuf },
}

impl DirOp {
    pub(super) fn dir(&self) -> PathBuf {
        match self {
            DirOp::Link { path, .. } | DirOp::Unlink { path } => parent_dir(path),
            DirOp::Rename { to, .. } => parent_dir(to),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub inodes: HashMap<u64, Inode>,
    pub next_ino: u64,
    pub names: BTreeMap<PathBuf, u64>,
    pub durable_names: BTreeMap<PathBuf, u64>,
    pub dir_pending: Vec<DirOp>,
    calls: u64,
    mutations: u64,
    fail_at: Option<(u64, Errno)>,
    freeze_after: Option<u64>,
    frozen: bool,
}

impl State {
    /// Counts a call and applies the fault plan. `mutating` calls are the
    /// crash points: a power cut happens between two of them.
    pub(super) fn begin(&mut self, mutating: bool) -> io::Result<Option<Errno>> {
        if mutating {
            if self.frozen {
                return Err(io::Error::other("simulated power cut"));
            }
            if self.freeze_after == Some(self.mutations) {
                self.frozen = true;
                return Err(io::Error::other("simulated power cut"));
            }
            self.mutations += 1;
        }
        let call = self.calls;
        self.calls += 1;
        match self.fail_at {
            Some((n, errno)) if n == call => {
                self.fail_at = None;
                Ok(Some(errno))
            }
            _ => Ok(None),
        }
    }

    pub(super) fn lookup(&self, path: &Path) -> io::Result<u64> {
        self.names
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file (simulated)"))
    }

    pub(super) fn inode(&mut self, ino: u64) -> &mut Inode {
        self.inodes.entry(ino).or_default()
    }
}

/// The simulated file system. Cloning shares the same state.
#[derive(Clone, Debug, Default)]
pub struct SimVfs {
    pub(super) state: Arc<Mutex<State>>,
}

pub(super) struct SimFile {
    pub state: Arc<Mutex<State>>,
    pub ino: u64,
    pub writable: bool,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panicking test thread must not hide the state from the others.
    state.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn fault(errno: Option<Errno>) -> io::Result<()> {
    errno.map_or(Ok(()), |e| Err(e.to_io()))
}

fn write_into(data: &mut Vec<u8>, off: u64, bytes: &[u8]) {
    let off = off as usize;
    if data.len() < off + bytes.len() {
        data.resize(off + bytes.len(), 0);
    }
    data[off..off + bytes.len()].copy_from_slice(bytes);
}

pub(super) fn apply_pending(data: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write { off, bytes } => write_into(data, *off, bytes),
        Pending::SetLen(len) => data.resize(*len as usize, 0),
    }
}

impl VfsFile for SimFile {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut st = lock(&self.state);
        fault(st.begin(false)?)?;
        let data = &st.inode(self.ino).data;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }
    fn write_at(&self, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut st = lock(&self.state);
        let errno = st.begin(true)?;
        if !self.writable {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "read-only handle",
            ));
        }
        // A failed ENOSPC write may still have written a prefix.
        let kept = match errno {
            None => bytes,
            Some(Errno::Enospc) => &bytes[..bytes.len() / 2],
            Some(Errno::Eio) => &bytes[..0],
        };
        if !kept.is_empty() {
            let inode = st.inode(self.ino);
            write_into(&mut inode.data, offset, kept);
            inode.pending.push(Pending::Write {
                off: offset,
                bytes: kept.to_vec(),
            });
        }
        fault(errno)
    }
    fn len(&self) -> io::Result<u64> {
        let mut st = lock(&self.state);
        fault(st.begin(false)?)?;
        Ok(st.inode(self.ino).data.len() as u64)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut st = lock(&self.state);
        fault(st.begin(true)?)?;
        let inode = st.inode(self.ino);
        inode.data.resize(len as usize, 0);
        inode.pending.push(Pending::SetLen(len));
        Ok(())
    }
    fn sync_data(&self) -> io::Result<()> {
        let mut st = lock(&self.state);
        // A failed sync makes nothing durable (and on Linux the error may
        // not be reported again: R13), so the pending list stays as it is.
        fault(st.begin(true)?)?;
        let inode = st.inode(self.ino);
        inode.durable = inode.data.clone();
        inode.pending.clear();
        Ok(())
    }
    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }
}

impl SimVfs {
    /// An empty file system.
    pub fn new() -> Self {
        Self::default()
    }

    pub(super) fn st(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Makes call number `calls() + n` (reads included) fail once with `errno`.
    pub fn fail_call(&self, n: u64, errno: Errno) {
        let mut st = self.st();
        st.fail_at = Some((st.calls + n, errno));
    }

    /// Simulates a power cut after `n` mutating calls in total (counted from
    /// the creation of this file system): the next mutation fails, as do all
    /// after it, and none of them changes anything.
    pub fn freeze_after(&self, n: u64) {
        self.st().freeze_after = Some(n);
    }

    /// Number of calls so far (reads included).
    pub fn calls(&self) -> u64 {
        self.st().calls
    }

    /// Number of mutating calls (create, write, set_len, syncs, rename,
    /// remove, sync_dir) so far: the possible crash points.
    pub fn mutations(&self) -> u64 {
        self.st().mutations
    }

    /// Whether the power cut of [`SimVfs::freeze_after`] has happened.
    pub fn is_frozen(&self) -> bool {
        self.st().frozen
    }

    /// The file system a reboot would find now under `mode`.
    pub fn crash_image(&self, mode: &CrashMode) -> SimVfs {
        let st = self.st();
        let names = settle_dir(&st.durable_names, &st.dir_pending, mode.dir_ops_kept);
        let mut out = State {
            durable_names: names.clone(),
            ..State::default()
        };
        for (path, ino) in &names {
            let inode = st.inodes.get(ino).cloned().unwrap_or_default();
            let data = settle_file(&inode, &mode.data, *ino);
            out.inodes.insert(
                *ino,
                Inode {
                    durable: data.clone(),
                    data,
                    pending: Vec::new(),
                },
            );
            out.names.insert(path.clone(), *ino);
        }
        out.next_ino = st.next_ino;
        SimVfs {
            state: Arc::new(Mutex::new(out)),
        }
    }

    /// Every crash variant worth checking for the current state (see
    /// [`CrashMode`]); always at least one.
    pub fn crash_modes(&self) -> Vec<CrashMode> {
        let st = self.st();
        enumerate_modes(st.inodes.values(), st.dir_pending.len())
    }

    /// Volatile contents of `path`, if it exists (test inspection).
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        let st = self.st();
        st.names.get(path).map(|ino| {
            st.inodes
                .get(ino)
                .map(|i| i.data.clone())
                .unwrap_or_default()
        })
    }

    /// Replaces the contents of an existing `path` durably, bypassing fault
    /// accounting (for planting corruption in tests).
    pub fn set_file_bytes(&self, path: &Path, bytes: &[u8]) {
        let mut st = self.st();
        let ino = match st.names.get(path) {
            Some(ino) => *ino,
            None => {
                let ino = st.next_ino;
                st.next_ino += 1;
                st.names.insert(path.to_path_buf(), ino);
                st.durable_names.insert(path.to_path_buf(), ino);
                ino
            }
        };
        let inode = st.inode(ino);
        inode.data = bytes.to_vec();
        inode.durable = bytes.to_vec();
        inode.pending.clear();
    }
}
