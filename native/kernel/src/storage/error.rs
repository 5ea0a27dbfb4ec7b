//! One error type for the storage layer.
//!
//! Messages name the file and, where it matters to an operator, the byte
//! offset, so that a refusal to start can be acted on without a debugger.
//! `Display` is this layer's own sentence; the OS or decoder error under it is
//! `source()`, and `error::with_causes` joins the two ("…; caused by: …")
//! where the kernel turns a storage error into a `KernelError`.

use std::fmt;
use std::io;
use std::path::PathBuf;

use super::snapshot::SnapshotError;

/// Every failure of the storage layer. The kernel maps it to a
/// `KernelError` (durable.rs `storage_err`); `code()` names the variant for
/// this layer's own tests and is not what reaches JavaScript.
#[derive(Debug)]
pub enum StorageError {
    /// An I/O call failed. `op` names the call ("write", "sync_data", ...).
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    /// The log header's dimension differs from the configured one.
    DimMismatch {
        path: PathBuf,
        file_dim: u32,
        expected_dim: u32,
    },
    /// The file is not an event log of a version we read (bad magic,
    /// checksum, version or an impossible field).
    BadHeader { path: PathBuf, reason: String },
    /// The file looks like the original v0.1.0 event log (no magic, no
    /// framing); it must be migrated through a snapshot.
    LegacyEventLog { path: PathBuf },
    /// An invalid frame at `offset` is followed by valid frames of a later
    /// append: damage in the middle of the log, not a torn tail (R9).
    /// Opening with `accept_truncation` cuts the log at `truncate_to`.
    MidLogCorruption {
        path: PathBuf,
        offset: u64,
        truncate_to: u64,
        last_good_seq: u64,
    },
    /// An entry inside the committed part of the log failed validation
    /// while being read back (damage after the log was opened).
    CorruptEntry { path: PathBuf, offset: u64 },
    /// A previous write or sync failed; the log accepts no more appends
    /// until the process restarts and recovers (R13).
    Poisoned { cause: String },
    /// The caller passed something the log cannot store (wrong sequence
    /// number, empty or oversized payload). Nothing was written.
    InvalidAppend { reason: String },
    /// A read or trim asked for sequence numbers outside the log.
    OutOfRange {
        requested: u64,
        first_available: u64,
        height: u64,
    },
    /// A reader was extended across a log rewrite (trim or reset); open a
    /// new reader.
    ReaderStale,
    /// A small state file (a Raft vote, a purge point) failed validation.
    /// It is replaced atomically, so this is damage: never guess its value.
    BadStateFile { path: PathBuf, reason: String },
    /// A snapshot failed to decode or validate.
    Snapshot {
        path: PathBuf,
        source: SnapshotError,
    },
}

impl StorageError {
    /// Machine-readable name of the variant (storage tests branch on it).
    pub fn code(&self) -> &'static str {
        match self {
            StorageError::Io { .. } => "STORAGE_IO",
            StorageError::DimMismatch { .. } => "EVENT_LOG_DIM_MISMATCH",
            StorageError::BadHeader { .. } => "EVENT_LOG_BAD_HEADER",
            StorageError::LegacyEventLog { .. } => "EVENT_LOG_LEGACY_FORMAT",
            StorageError::MidLogCorruption { .. } => "EVENT_LOG_CORRUPT",
            StorageError::CorruptEntry { .. } => "EVENT_LOG_CORRUPT_ENTRY",
            StorageError::Poisoned { .. } => "STORAGE_READ_ONLY",
            StorageError::InvalidAppend { .. } => "EVENT_LOG_INVALID_APPEND",
            StorageError::OutOfRange { .. } => "EVENT_LOG_OUT_OF_RANGE",
            StorageError::ReaderStale => "EVENT_LOG_READER_STALE",
            StorageError::BadStateFile { .. } => "STATE_FILE_INVALID",
            StorageError::Snapshot { .. } => "SNAPSHOT_INVALID",
        }
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StorageError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// `map_err` adapter: `file.len().map_err(io_at("stat", path))`.
pub(crate) fn io_at<'a>(
    op: &'static str,
    path: &'a std::path::Path,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |e| StorageError::io(op, path, e)
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageError::Io { op, path, .. } => {
                write!(f, "{op} failed on {}", path.display())
            }
            StorageError::DimMismatch {
                path,
                file_dim,
                expected_dim,
            } => write!(
                f,
                "event log {} was written with dim {file_dim} but the node is configured \
                 with dim {expected_dim}; refusing to start (use a new log path or set the \
                 dim back to {file_dim})",
                path.display()
            ),
            StorageError::BadHeader { path, reason } => {
                write!(
                    f,
                    "{} is not a readable event log: {reason}",
                    path.display()
                )
            }
            StorageError::LegacyEventLog { path } => write!(
                f,
                "{} is an event log of the original v0.1.0 format (no magic, no checksums); \
                 migrate it by saving a snapshot with the old binary and starting with a new \
                 log path",
                path.display()
            ),
            StorageError::MidLogCorruption {
                path,
                offset,
                truncate_to,
                last_good_seq,
            } => write!(
                f,
                "event log {}: corrupt entry at byte offset {offset} is followed by valid \
                 entries (mid-log corruption); refusing to start. Accepting truncation cuts \
                 the log at byte {truncate_to}, keeping events up to sequence {last_good_seq} \
                 and dropping everything after",
                path.display()
            ),
            StorageError::CorruptEntry { path, offset } => write!(
                f,
                "event log {}: committed entry at byte offset {offset} failed its checksum \
                 on read-back",
                path.display()
            ),
            StorageError::Poisoned { cause } => write!(
                f,
                "event log is read-only after an I/O failure ({cause}); restart the node to \
                 recover"
            ),
            StorageError::InvalidAppend { reason } => write!(f, "invalid append: {reason}"),
            StorageError::OutOfRange {
                requested,
                first_available,
                height,
            } => write!(
                f,
                "sequence {requested} is outside the event log (first available \
                 {first_available}, height {height})"
            ),
            StorageError::ReaderStale => {
                write!(f, "the event log was rewritten; open a new reader")
            }
            StorageError::BadStateFile { path, reason } => write!(
                f,
                "{} is damaged ({reason}); refusing to guess its value",
                path.display()
            ),
            StorageError::Snapshot { path, .. } => {
                write!(f, "snapshot {} is invalid", path.display())
            }
        }
    }
}

impl std::error::Error for StorageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StorageError::Io { source, .. } => Some(source),
            StorageError::Snapshot { source, .. } => Some(source),
            _ => None,
        }
    }
}
