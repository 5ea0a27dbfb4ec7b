//! Small state files: a few bytes that must survive a crash whole, such as a
//! Raft vote or the point a log was purged to (docs/reliability.md R19).
//!
//! Layout: `magic[8] | version u32 | len u32 | payload[len] | crc32c u32`,
//! little-endian, the CRC over everything before it. A write goes to
//! `<name>.tmp`, is synced, renamed over `<name>`, and the directory is
//! synced (R3, R4), so after a crash the file holds the old value or the new
//! one, never a mix. A file that fails its checks is damage, not a torn
//! write, and reading it is an error: a vote must never be guessed.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{io_at as io_err, StorageError};
use super::vfs::{parent_dir, read_exact_at, with_suffix, Vfs};

/// Largest payload a state file holds.
pub const MAX_STATE_PAYLOAD: usize = 4096;

const VERSION: u32 = 1;
const HEAD: usize = 16;

/// One small state file.
#[derive(Clone)]
pub struct StateFile {
    vfs: Arc<dyn Vfs>,
    path: PathBuf,
    magic: [u8; 8],
}

impl std::fmt::Debug for StateFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateFile")
            .field("path", &self.path)
            .finish()
    }
}

impl StateFile {
    /// A state file at `path` whose contents start with `magic`.
    pub fn new(vfs: Arc<dyn Vfs>, path: impl Into<PathBuf>, magic: [u8; 8]) -> StateFile {
        StateFile {
            vfs,
            path: path.into(),
            magic,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The payload last written, or `None` when the file does not exist.
    pub fn read(&self) -> Result<Option<Vec<u8>>, StorageError> {
        let path = &self.path;
        if !self.vfs.exists(path).map_err(io_err("stat", path))? {
            return Ok(None);
        }
        let file = self.vfs.open(path, false).map_err(io_err("open", path))?;
        let len = file.len().map_err(io_err("stat", path))?;
        let bad = |reason: String| StorageError::BadStateFile {
            path: path.clone(),
            reason,
        };
        if len < (HEAD + 4) as u64 || len > (HEAD + MAX_STATE_PAYLOAD + 4) as u64 {
            return Err(bad(format!("{len} bytes")));
        }
        let mut buf = vec![0u8; len as usize];
        read_exact_at(&*file, 0, &mut buf).map_err(io_err("read", path))?;
        if buf[..8] != self.magic {
            return Err(bad("wrong magic".into()));
        }
        let word = |at: usize| u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]);
        let version = word(8);
        if version != VERSION {
            return Err(bad(format!("unsupported version {version}")));
        }
        let payload_len = word(12) as usize;
        if HEAD + payload_len + 4 != buf.len() {
            return Err(bad(format!(
                "length {payload_len} does not match the file size {len}"
            )));
        }
        let crc_at = HEAD + payload_len;
        if crc32c::crc32c(&buf[..crc_at]) != word(crc_at) {
            return Err(bad("checksum mismatch".into()));
        }
        buf.truncate(crc_at);
        buf.drain(..HEAD);
        Ok(Some(buf))
    }

    /// Replaces the payload; durable when it returns `Ok`. On an error the
    /// file holds the old payload or the new one; which is known only after
    /// a [`StateFile::read`] (the caller treats the failure as fatal).
    pub fn write(&self, payload: &[u8]) -> Result<(), StorageError> {
        if payload.len() > MAX_STATE_PAYLOAD {
            return Err(StorageError::InvalidAppend {
                reason: format!(
                    "state payload of {} bytes (max {MAX_STATE_PAYLOAD})",
                    payload.len()
                ),
            });
        }
        let mut buf = Vec::with_capacity(HEAD + payload.len() + 4);
        buf.extend_from_slice(&self.magic);
        buf.extend_from_slice(&VERSION.to_le_bytes());
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(payload);
        let crc = crc32c::crc32c(&buf);
        buf.extend_from_slice(&crc.to_le_bytes());
        replace_file(&*self.vfs, &self.path, &buf)
    }
}

/// Replaces the file at `path` with `bytes`, atomically: `<name>.tmp`
/// written and synced, renamed over `<name>`, the directory synced (R3,
/// R4). After a crash the file holds the old bytes or the new ones.
pub fn replace_file(vfs: &dyn Vfs, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let tmp = with_suffix(path, ".tmp");
    let dir = parent_dir(path);
    let file = vfs.create(&tmp).map_err(io_err("create", &tmp))?;
    file.write_at(0, bytes).map_err(io_err("write", &tmp))?;
    file.sync_all().map_err(io_err("sync", &tmp))?;
    drop(file);
    vfs.rename(&tmp, path).map_err(io_err("rename", path))?;
    vfs.sync_dir(&dir).map_err(io_err("sync_dir", &dir))?;
    Ok(())
}
