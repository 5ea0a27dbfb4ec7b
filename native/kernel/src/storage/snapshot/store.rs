//! Crash-safe snapshot files at one configured path.
//!
//! Files, for a configured path `P` (e.g. `/data/snapshot.bin`):
//! * `P`: the newest snapshot. Always complete: it only ever appears by
//!   rename, so it can be streamed to a client from a fresh handle (R16).
//! * `P.prev`: the one before it, the fallback if `P` is damaged (R5).
//! * `P.tmp`: a snapshot being written; removed at open (R6).
//! * `P.broken-N`, `P.prev.broken-N`: quarantined files, never deleted.
//!
//! Saving: write `P.tmp`, fsync it; rename `P` to `P.prev`; rename `P.tmp`
//! to `P`; fsync the directory (R3, R4). Whichever prefix of those directory
//! changes survives a crash, `P` or `P.prev` holds a complete, synced
//! snapshot, and after `save` returns, `P` holds the new one.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{
    decode_snapshot, peek_meta, InMemory, SnapshotError, SnapshotMeta, SnapshotParts,
    SnapshotSource, KERNEL_HEADER_LEN,
};
use crate::storage::error::{io_at as io, StorageError};
use crate::storage::vfs::{
    parent_dir, read_exact_at, read_whole, with_suffix, FileBytes, Vfs, VfsFile,
};

/// A validated snapshot, mapped (or read) from its file.
#[derive(Debug)]
pub struct LoadedSnapshot {
    /// The file it came from (`P` or `P.prev`).
    pub path: PathBuf,
    pub meta: SnapshotMeta,
    bytes: FileBytes,
    kernel: Range<usize>,
    metadata: Range<usize>,
    index: Range<usize>,
}

impl LoadedSnapshot {
    /// The sections (already checked against their digests).
    pub fn parts(&self) -> SnapshotParts<'_> {
        SnapshotParts {
            kernel: &self.bytes[self.kernel.clone()],
            metadata: &self.bytes[self.metadata.clone()],
            index: &self.bytes[self.index.clone()],
        }
    }

    /// The whole file, e.g. for a download.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A snapshot file that failed validation and was renamed aside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    pub from: PathBuf,
    pub to: PathBuf,
    pub error: SnapshotError,
}

/// Result of [`SnapshotStore::load_newest_valid`]; the caller logs the
/// quarantined (as errors) and skipped files.
#[derive(Debug, Default)]
pub struct LoadOutcome {
    pub snapshot: Option<LoadedSnapshot>,
    pub quarantined: Vec<Quarantined>,
    /// Valid snapshots above `max_height` (newer than the log): left alone.
    pub skipped: Vec<(PathBuf, u64)>,
}

/// The snapshot files of one configured path.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
}

impl SnapshotStore {
    /// Opens the store for `path` and removes a leftover `P.tmp` (returned
    /// so the caller can log it). Other files are left alone.
    pub fn open(
        vfs: Arc<dyn Vfs>,
        path: impl Into<PathBuf>,
    ) -> Result<(Self, Vec<PathBuf>), StorageError> {
        let store = SnapshotStore {
            vfs,
            path: path.into(),
        };
        let tmp = store.tmp_path();
        let mut removed = Vec::new();
        if store.vfs.exists(&tmp).map_err(io("stat", &tmp))? {
            store.vfs.remove(&tmp).map_err(io("remove", &tmp))?;
            let dir = parent_dir(&store.path);
            store.vfs.sync_dir(&dir).map_err(io("sync_dir", &dir))?;
            removed.push(tmp);
        }
        Ok((store, removed))
    }

    /// The configured path `P` (the newest snapshot).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `P.prev`, the previous snapshot.
    pub fn prev_path(&self) -> PathBuf {
        with_suffix(&self.path, ".prev")
    }

    fn tmp_path(&self) -> PathBuf {
        with_suffix(&self.path, ".tmp")
    }

    /// Writes a snapshot atomically and keeps the previous one as `P.prev`.
    /// Returns the file size. When it returns `Ok`, the snapshot is durable
    /// and a log prefix up to `meta.height` may be trimmed (R4). A current
    /// `P` whose header no longer validates is quarantined rather than
    /// rotated over a good `P.prev`.
    pub fn save(
        &self,
        meta: &SnapshotMeta,
        parts: &SnapshotParts<'_>,
    ) -> Result<u64, StorageError> {
        let source = InMemory::new(meta, parts).map_err(|source| StorageError::Snapshot {
            path: self.path.clone(),
            source,
        })?;
        self.save_from(&source)
    }

    /// [`SnapshotStore::save`] for a snapshot written as it is produced.
    pub fn save_from(&self, source: &dyn SnapshotSource) -> Result<u64, StorageError> {
        let tmp = self.tmp_path();
        let file = create_fresh(&*self.vfs, &tmp)?;
        let written = write_sections(&*file, &tmp, source);
        let size = match written {
            Ok(size) => size,
            Err(e) => {
                // Best effort; a leftover is removed by the next open.
                let _ = self.vfs.remove(&tmp);
                return Err(e);
            }
        };
        drop(file);
        if self
            .vfs
            .exists(&self.path)
            .map_err(io("stat", &self.path))?
        {
            match self.peek(&self.path)? {
                Ok(_) => {
                    let prev = self.prev_path();
                    self.vfs
                        .rename(&self.path, &prev)
                        .map_err(io("rename", &self.path))?;
                }
                Err(error) => {
                    self.quarantine(&self.path, error)?;
                }
            }
        }
        self.vfs
            .rename(&tmp, &self.path)
            .map_err(io("rename", &tmp))?;
        let dir = parent_dir(&self.path);
        self.vfs.sync_dir(&dir).map_err(io("sync_dir", &dir))?;
        Ok(size)
    }

    /// Header-only check of an existing snapshot file.
    fn peek(&self, path: &Path) -> Result<Result<SnapshotMeta, SnapshotError>, StorageError> {
        peek_file(&*self.vfs, path)
    }

    /// The newest snapshot that validates and covers at most `max_height`
    /// events (pass the log height; `u64::MAX` without a log). `P` is tried,
    /// then `P.prev`. Damaged files are renamed to `*.broken-N` (never
    /// deleted) and reported; valid ones above `max_height` are skipped.
    ///
    /// The caller must also check that the result is not *below* the log's
    /// `base_seq()`, or the events in between are gone.
    pub fn load_newest_valid(&self, max_height: u64) -> Result<LoadOutcome, StorageError> {
        let mut out = LoadOutcome::default();
        for path in [self.path.clone(), self.prev_path()] {
            if !self.vfs.exists(&path).map_err(io("stat", &path))? {
                continue;
            }
            let bytes = read_all(&*self.vfs, &path)?;
            let decoded = decode_snapshot(&bytes).map(|(meta, parts)| {
                let base = bytes.as_ptr() as usize;
                let range = |s: &[u8]| {
                    let start = s.as_ptr() as usize - base;
                    start..start + s.len()
                };
                (
                    meta,
                    range(parts.kernel),
                    range(parts.metadata),
                    range(parts.index),
                )
            });
            match decoded {
                Ok((meta, _, _, _)) if meta.height > max_height => {
                    out.skipped.push((path, meta.height))
                }
                Ok((meta, kernel, metadata, index)) => {
                    out.snapshot = Some(LoadedSnapshot {
                        path,
                        meta,
                        bytes,
                        kernel,
                        metadata,
                        index,
                    });
                    return Ok(out);
                }
                Err(error) => out.quarantined.push(self.quarantine(&path, error)?),
            }
        }
        Ok(out)
    }

    /// Renames a damaged file to the first free `<name>.broken-N`.
    fn quarantine(&self, path: &Path, error: SnapshotError) -> Result<Quarantined, StorageError> {
        let dir = parent_dir(path);
        let stem = with_suffix(path, ".broken-");
        let stem = stem.to_string_lossy().into_owned();
        let taken = self.vfs.list_dir(&dir).map_err(io("list", &dir))?;
        let n = taken
            .iter()
            .filter_map(|p| {
                p.to_string_lossy()
                    .strip_prefix(&stem)
                    .and_then(|s| s.parse::<u64>().ok())
            })
            .max()
            .map_or(1, |m| m + 1);
        let to = PathBuf::from(format!("{stem}{n}"));
        self.vfs.rename(path, &to).map_err(io("rename", path))?;
        self.vfs.sync_dir(&dir).map_err(io("sync_dir", &dir))?;
        Ok(Quarantined {
            from: path.to_path_buf(),
            to,
            error,
        })
    }
}

/// Header-only check of an existing file: is it a snapshot at all?
pub(super) fn peek_file(
    vfs: &dyn Vfs,
    path: &Path,
) -> Result<Result<SnapshotMeta, SnapshotError>, StorageError> {
    let file = vfs.open(path, false).map_err(io("open", path))?;
    let len = file.len().map_err(io("stat", path))?;
    let mut head = vec![0u8; (8 + KERNEL_HEADER_LEN as u64).min(len) as usize];
    read_exact_at(&*file, 0, &mut head).map_err(io("read", path))?;
    Ok(peek_meta(&head))
}

/// A new temporary file at `tmp`: a leftover from a failed save is removed
/// first, then the name is created exclusively (never through a symlink).
pub(super) fn create_fresh(vfs: &dyn Vfs, tmp: &Path) -> Result<Box<dyn VfsFile>, StorageError> {
    if vfs.exists(tmp).map_err(io("stat", tmp))? {
        vfs.remove(tmp).map_err(io("remove", tmp))?;
    }
    vfs.create_new(tmp).map_err(io("create", tmp))
}

pub(super) fn write_sections(
    file: &dyn VfsFile,
    tmp: &Path,
    source: &dyn SnapshotSource,
) -> Result<u64, StorageError> {
    let mut off = 0u64;
    let mut unsynced = 0usize;
    source
        .write_to(&mut |piece| {
            for part in piece.chunks(WRITEBACK_BYTES) {
                file.write_at(off, part)?;
                off += part.len() as u64;
                unsynced += part.len();
                if unsynced >= WRITEBACK_BYTES {
                    file.sync_data()?;
                    unsynced = 0;
                }
            }
            Ok(())
        })
        .map_err(io("write", tmp))?;
    file.sync_all().map_err(io("sync", tmp))?;
    Ok(off)
}

/// Most bytes of a snapshot left dirty in the page cache before they are
/// flushed. On ext4 (data=ordered) the event log's fdatasync commits the
/// journal, which first writes out other files' newly allocated dirty data:
/// a snapshot written in one go made concurrent acknowledgements wait for
/// its whole writeback (~100 ms at 150 MB). Flushing as it goes bounds that
/// wait to about this many bytes.
const WRITEBACK_BYTES: usize = 8 << 20;

fn read_all(vfs: &dyn Vfs, path: &Path) -> Result<FileBytes, StorageError> {
    let file = vfs.open(path, false).map_err(io("open", path))?;
    read_whole(&*file).map_err(io("read", path))
}
