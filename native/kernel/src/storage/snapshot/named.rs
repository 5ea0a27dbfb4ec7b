//! Named snapshots: extra VAL1 files an operator saves and restores by name
//! through the API (`POST /v1/snapshot/save {"path": name}`).
//!
//! A name is untrusted input, so it can only ever address a file in a
//! dedicated directory, `<snapshot dir>/snapshots/`: it must match
//! `[A-Za-z0-9][A-Za-z0-9_-]{0,63}` with an optional `.ext` of 1–8 letters or
//! digits (no separators, no `..`, at most one dot), and it may not be, or
//! start with `<name>.` of, any file the node keeps itself (event log, WAL,
//! main snapshot and everything derived from them). A named save never
//! renames a file aside: an existing file that is not a snapshot is refused.
//! Saves write `.<name>.tmp` (a name no request can reach: it starts with a
//! dot) created exclusively, then rename it over `<name>`, so the directory
//! holds at most `max` snapshots plus one temporary file.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{InMemory, SnapshotMeta, SnapshotParts, SnapshotSource};
use super::store::{create_fresh, peek_file, write_sections};
use crate::error::{KResult, KernelError};
use crate::storage::error::StorageError;
use crate::storage::vfs::{parent_dir, read_whole, FileBytes, Vfs};

/// Subdirectory of the main snapshot's directory that holds named snapshots.
pub const NAMED_DIR: &str = "snapshots";
/// Longest name: 64 characters of stem, a dot and 8 of extension.
const MAX_STEM: usize = 64;
const MAX_EXT: usize = 8;

#[derive(Debug, Clone)]
pub struct NamedSnapshots {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    /// File names the node owns (log, WAL, main snapshot): never a name.
    reserved: Vec<String>,
    max: usize,
}

/// Whether `name` has the allowed shape (see the module docs).
pub fn valid_name(name: &str) -> bool {
    let (stem, ext) = match name.split_once('.') {
        Some((s, e)) => (s, Some(e)),
        None => (name, None),
    };
    let stem_ok = !stem.is_empty()
        && stem.len() <= MAX_STEM
        && stem.as_bytes()[0].is_ascii_alphanumeric()
        && stem
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let ext_ok = ext.is_none_or(|e| {
        !e.is_empty() && e.len() <= MAX_EXT && e.bytes().all(|b| b.is_ascii_alphanumeric())
    });
    stem_ok && ext_ok
}

fn storage(e: StorageError) -> KernelError {
    KernelError::Io(crate::error::with_causes(&e))
}

impl NamedSnapshots {
    /// `main` is the configured snapshot path; `reserved` every path the node
    /// writes itself (their file names, and names derived from them, are
    /// refused). `max` bounds the number of named snapshots.
    pub fn new(vfs: Arc<dyn Vfs>, main: &Path, reserved: &[PathBuf], max: usize) -> NamedSnapshots {
        let dir = parent_dir(main).join(NAMED_DIR);
        let reserved = reserved
            .iter()
            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .collect();
        NamedSnapshots {
            vfs,
            dir,
            reserved,
            max,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// The file a name addresses, or why it may not be used.
    pub fn path_of(&self, name: &str) -> KResult<PathBuf> {
        if !valid_name(name) {
            return Err(KernelError::InvalidArgument(format!(
                "snapshot name {:?} is not allowed: use 1-64 letters, digits, '_' or '-' (starting with a letter \
                 or digit), optionally followed by one '.' and 1-8 letters or digits",
                truncate(name)
            )));
        }
        let clash = self.reserved.iter().any(|r| {
            name.eq_ignore_ascii_case(r)
                || name.len() > r.len()
                    && name[..r.len()].eq_ignore_ascii_case(r)
                    && name.as_bytes()[r.len()] == b'.'
        });
        if clash {
            return Err(KernelError::InvalidArgument(format!(
                "snapshot name {name:?} is reserved: it is the name of a file this node keeps (event log, WAL or \
                 main snapshot)"
            )));
        }
        Ok(self.dir.join(name))
    }

    /// Names of the snapshots saved so far (files of the allowed shape; a
    /// log or WAL the operator placed in this directory is not one).
    pub fn names(&self) -> KResult<Vec<String>> {
        let files = match self.vfs.list_dir(&self.dir) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(KernelError::Io(format!("list {}: {e}", self.dir.display()))),
        };
        Ok(files
            .iter()
            .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .filter(|n| self.path_of(n).is_ok())
            .collect())
    }

    /// Writes a snapshot under `name` (replacing an older snapshot of that
    /// name). Returns the file size.
    pub fn save(&self, name: &str, meta: &SnapshotMeta, parts: &SnapshotParts<'_>) -> KResult<u64> {
        let source = InMemory::new(meta, parts)
            .map_err(|e| KernelError::Internal(format!("snapshot encode: {e}")))?;
        self.save_from(name, &source)
    }

    /// [`NamedSnapshots::save`] for a snapshot written as it is produced.
    pub fn save_from(&self, name: &str, source: &dyn SnapshotSource) -> KResult<u64> {
        let path = self.path_of(name)?;
        self.vfs
            .create_dir_all(&self.dir)
            .map_err(|e| KernelError::Io(format!("create {}: {e}", self.dir.display())))?;
        if self
            .vfs
            .exists(&path)
            .map_err(|e| KernelError::Io(e.to_string()))?
        {
            if let Err(why) = peek_file(&*self.vfs, &path).map_err(storage)? {
                return Err(KernelError::InvalidArgument(format!(
                    "a file named {name:?} exists in the snapshot directory and is not a snapshot ({why}); \
                     it is left alone: choose another name"
                )));
            }
        } else {
            let count = self.names()?.len();
            if count >= self.max {
                return Err(KernelError::CapacityExceeded(format!(
                    "{count} named snapshots exist, the limit is {} (VALORI_MAX_NAMED_SNAPSHOTS): overwrite an \
                     existing name or delete one from {NAMED_DIR}/",
                    self.max
                )));
            }
        }
        let tmp = self.dir.join(format!(".{name}.tmp"));
        let file = create_fresh(&*self.vfs, &tmp).map_err(storage)?;
        let size = match write_sections(&*file, &tmp, source) {
            Ok(n) => n,
            Err(e) => {
                let _ = self.vfs.remove(&tmp);
                return Err(storage(e));
            }
        };
        drop(file);
        self.vfs
            .rename(&tmp, &path)
            .map_err(|e| KernelError::Io(format!("rename {}: {e}", tmp.display())))?;
        self.vfs
            .sync_dir(&self.dir)
            .map_err(|e| KernelError::Io(format!("sync {}: {e}", self.dir.display())))?;
        Ok(size)
    }

    /// The bytes of snapshot `name`, at most `max_bytes`, mapped (see
    /// `FileBytes`).
    pub fn read(&self, name: &str, max_bytes: u64) -> KResult<FileBytes> {
        let path = self.path_of(name)?;
        if !self
            .vfs
            .exists(&path)
            .map_err(|e| KernelError::Io(e.to_string()))?
        {
            return Err(KernelError::NotFound(format!(
                "no snapshot named {name:?} (named snapshots live in {NAMED_DIR}/)"
            )));
        }
        let io = |e: std::io::Error| KernelError::Io(format!("read snapshot {name:?}: {e}"));
        let file = self.vfs.open(&path, false).map_err(io)?;
        let len = file.len().map_err(io)?;
        if len > max_bytes {
            return Err(KernelError::InvalidArgument(format!(
                "snapshot {name:?} is {len} bytes, above VALORI_MAX_SNAPSHOT_BYTES ({max_bytes})"
            )));
        }
        read_whole(&*file).map_err(io)
    }
}

/// A name for an error message, cut so a huge one is not echoed whole.
fn truncate(name: &str) -> String {
    name.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_the_allowed_shape_pass_and_everything_else_is_refused() {
        for ok in [
            "a",
            "backup",
            "b-1_x.val1",
            "Z9.bin",
            &"x".repeat(64),
            "n.abcdefgh",
        ] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a\\b",
            ".hidden",
            "-x",
            "_x",
            "a.b.c",
            "a.",
            "a.tmp-1",
            "a b",
            "a\0",
            "é",
            &"x".repeat(65),
            "n.abcdefghi",
            "events.log.prev",
            "x.broken-1",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
