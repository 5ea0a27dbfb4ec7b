//! Atomic replacement of the log file: creation, prefix trim and reset.
//!
//! A log file never appears under its name half-written: the new file is
//! written as `<name>.tmp`, synced, renamed over `<name>`, and the directory
//! is synced (R3, R4). A crash leaves either the old file or the new one,
//! plus perhaps the temporary, which the next open removes (R6).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::cursor::FrameWalker;
use super::format::{chain_next, encode_frame, LogHeader, HEADER_LEN};
use super::scan::{is_index_point, IndexPoint, Tip};
use super::{EventLog, LogBase};
use crate::storage::error::StorageError;
use crate::storage::vfs::{parent_dir, with_suffix, Vfs, VfsFile};

/// Suffix of the temporary file next to the log.
pub(super) const TMP_SUFFIX: &str = ".tmp";

/// Copy buffer size: frames are re-encoded and written in chunks of this.
const COPY_CHUNK: usize = 8 << 20;

/// A per-file nonce (see [`LogHeader::salt`]). Not secret, just different
/// for each file this process (or another) creates.
pub(super) fn fresh_salt() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = blake3::Hasher::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    h.update(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let b = h.finalize();
    u32::from_le_bytes([
        b.as_bytes()[0],
        b.as_bytes()[1],
        b.as_bytes()[2],
        b.as_bytes()[3],
    ])
}

/// Committed frames to carry into a new file.
pub(super) struct CopySource<'a> {
    pub file: &'a dyn VfsFile,
    /// CRC seed of the source file.
    pub seed: u32,
    pub start: IndexPoint,
    pub from_seq: u64,
    pub limit: u64,
    /// The last frame to copy: it ends an append in the new file even if it
    /// sat inside one in the old (a suffix cut inside a group).
    pub close_at: u64,
}

/// A failure, and whether it must poison the log: a failed fsync (R13), or
/// any failure after the rename, when it is unknown which file is durable.
type Failure = (StorageError, bool);

/// A freshly written log file.
pub(super) struct NewFile {
    /// Handle opened read+write (the renamed temporary).
    pub file: Box<dyn VfsFile>,
    pub tip: Tip,
    pub index: Vec<IndexPoint>,
    /// Frame CRC seed: the header CRC.
    pub seed: u32,
}

/// Writes a complete log file under `path` atomically.
pub(super) fn write_new_file(
    vfs: &dyn Vfs,
    path: &Path,
    header: &LogHeader,
    copy: Option<CopySource<'_>>,
) -> Result<NewFile, Failure> {
    let tmp = with_suffix(path, TMP_SUFFIX);
    let dir = parent_dir(path);
    let file = vfs
        .create(&tmp)
        .map_err(|e| (StorageError::io("create", &tmp, e), false))?;
    let (tip, index, seed) = match fill(&*file, &tmp, header, copy) {
        Ok(done) => done,
        Err(failure) => {
            // Best effort: a leftover is also removed by the next open.
            let _ = vfs.remove(&tmp);
            return Err(failure);
        }
    };
    if let Err(e) = vfs.rename(&tmp, path) {
        let _ = vfs.remove(&tmp);
        return Err((StorageError::io("rename", path, e), false));
    }
    vfs.sync_dir(&dir)
        .map_err(|e| (StorageError::io("sync_dir", &dir, e), true))?;
    Ok(NewFile {
        file,
        tip,
        index,
        seed,
    })
}

fn fill(
    file: &dyn VfsFile,
    tmp: &Path,
    header: &LogHeader,
    copy: Option<CopySource<'_>>,
) -> Result<(Tip, Vec<IndexPoint>, u32), Failure> {
    let write_err = |e| (StorageError::io("write", tmp, e), false);
    let (header_bytes, seed) = header.encode();
    file.write_at(0, &header_bytes).map_err(write_err)?;
    let mut tip = Tip {
        offset: HEADER_LEN as u64,
        height: header.base_seq,
        chain: header.base_chain,
    };
    let mut index = Vec::new();
    if let Some(src) = copy {
        let mut walker = FrameWalker::new(src.start.offset, src.start.seq, src.limit, src.seed);
        let mut buf = Vec::new();
        // The first copied frame may sit inside an append; the rest of that
        // append becomes one append whose indices start again at 0.
        let mut shift: Option<u32> = None;
        loop {
            let f = match walker.next(src.file) {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(e) => return Err((e.into_storage(tmp), false)),
            };
            if f.seq < src.from_seq {
                continue;
            }
            let index_in_append = f.index_in_append - *shift.get_or_insert(f.index_in_append);
            if is_index_point(header.base_seq, f.seq) {
                let offset = tip.offset + buf.len() as u64;
                index.push(IndexPoint {
                    seq: f.seq,
                    offset,
                    chain_before: tip.chain,
                });
            }
            encode_frame(
                &mut buf,
                seed,
                f.seq,
                index_in_append,
                f.last_in_append || f.seq == src.close_at,
                f.payload,
            );
            tip.chain = chain_next(&tip.chain, f.seq, f.payload);
            tip.height = f.seq;
            if f.last_in_append || f.seq == src.close_at {
                shift = Some(0);
            }
            if buf.len() >= COPY_CHUNK {
                file.write_at(tip.offset, &buf).map_err(write_err)?;
                tip.offset += buf.len() as u64;
                buf.clear();
            }
        }
        file.write_at(tip.offset, &buf).map_err(write_err)?;
        tip.offset += buf.len() as u64;
    }
    file.sync_all()
        .map_err(|e| (StorageError::io("sync", tmp, e), true))?;
    Ok((tip, index, seed))
}

impl EventLog {
    /// Drops the entries up to and including `upto_seq` (which a durable
    /// snapshot must already cover, R4): the file is rewritten with base
    /// `upto_seq` and the chain value at it, so heights and the chain carry
    /// on unchanged. Atomic: a crash leaves the old file or the new one.
    ///
    /// Appends wait while the tail after `upto_seq` is copied (the lock is
    /// the `&mut self`), so trim right after a snapshot, when the tail is
    /// short. Readers opened before keep reading the old file; extending
    /// them fails with [`StorageError::ReaderStale`].
    ///
    /// An I/O error before the rename leaves the log as it was and usable;
    /// a failed fsync or a failure after the rename poisons it.
    pub fn trim_prefix(&mut self, upto_seq: u64) -> Result<(), StorageError> {
        self.check_writable()?;
        self.check_range(upto_seq, self.header.base_seq, self.tip.height)?;
        if upto_seq == self.header.base_seq {
            return Ok(());
        }
        let header = LogHeader {
            base_seq: upto_seq,
            base_chain: self.chain_hash_at(upto_seq)?,
            salt: fresh_salt(),
            ..self.header
        };
        let copy = CopySource {
            file: &*self.file,
            seed: self.seed,
            start: self.start_point(upto_seq + 1),
            from_seq: upto_seq + 1,
            limit: self.tip.offset,
            close_at: self.tip.height,
        };
        let result = write_new_file(&*self.vfs, &self.path, &header, Some(copy));
        self.install(header, result)
    }

    /// Rewrites the whole file in the current format (same base, same
    /// payloads, so the same chain); for upgrading an older version at open.
    pub(super) fn rewrite_whole(&mut self) -> Result<(), StorageError> {
        self.check_writable()?;
        let base = self.header.base_seq;
        let header = LogHeader {
            salt: fresh_salt(),
            ..self.header
        };
        let copy = CopySource {
            file: &*self.file,
            seed: self.seed,
            start: self.start_point(base + 1),
            from_seq: base + 1,
            limit: self.tip.offset,
            close_at: self.tip.height,
        };
        let result = write_new_file(&*self.vfs, &self.path, &header, Some(copy));
        self.install(header, result)
    }

    /// Replaces the log with an empty one starting at `base` (for a node
    /// whose state was just replaced by a snapshot at `base.seq`, e.g. a
    /// follower bootstrap). Atomic like [`EventLog::trim_prefix`].
    pub fn reset_to(&mut self, base: LogBase) -> Result<(), StorageError> {
        self.check_writable()?;
        if base.seq > u64::MAX / 2 {
            return Err(StorageError::InvalidAppend {
                reason: format!("base sequence {} out of range", base.seq),
            });
        }
        let header = LogHeader {
            base_seq: base.seq,
            base_chain: base.chain,
            salt: fresh_salt(),
            ..self.header
        };
        let result = write_new_file(&*self.vfs, &self.path, &header, None);
        self.install(header, result)
    }

    pub(super) fn install(
        &mut self,
        header: LogHeader,
        result: Result<NewFile, Failure>,
    ) -> Result<(), StorageError> {
        match result {
            Ok(new) => {
                self.file = new.file;
                self.header = header;
                self.seed = new.seed;
                self.tip = new.tip;
                self.index = new.index;
                self.generation += 1;
                Ok(())
            }
            Err((err, poison)) => {
                if poison {
                    self.poisoned = Some(crate::error::with_causes(&err));
                }
                Err(err)
            }
        }
    }
}
