//! Durable storage: event log, snapshot files, fault-injecting file layer.
//!
//! This module knows nothing about what an event or a kernel state *is*: it
//! stores opaque payload bytes and guarantees how they survive crashes. The
//! kernel plugs its event encoding into [`EventLog`] and its state encoding
//! into [`SnapshotStore`].
//!
//! * [`vfs`]: the file-system seam. [`StdVfs`] is the real one; [`SimVfs`]
//!   simulates power loss (unsynced data and directory entries lost, torn
//!   writes, zero/garbage tails) and injected EIO/ENOSPC for the tests.
//! * [`log`]: the event log (`docs/EVENT_LOG_FORMAT.md`): framed,
//!   CRC32C-chained entries, a BLAKE3 chain over events, one write plus one
//!   `fdatasync` per append, torn-tail repair, mid-log corruption refusal.
//! * [`state_file`]: small values replaced atomically (a Raft vote).
//! * [`snapshot`]: the VAL1 container with our kernel section header
//!   (`docs/SNAPSHOT_FORMAT.md`) and the crash-safe snapshot store.
//!
//! Rules referenced as R1..R17 are in docs/reliability.md.

pub mod error;
pub mod log;
pub mod snapshot;
pub mod state_file;
pub mod vfs;

pub use error::StorageError;
pub use log::{
    ChainHash, EventLog, LogBase, LogPosition, LogReader, OpenOptions, Recovery, Truncation,
    TruncationCause, GENESIS_CHAIN, MAX_ENTRY_BYTES,
};
pub use snapshot::{
    decode_snapshot, encode_snapshot, InMemory, LoadOutcome, LoadedSnapshot, Quarantined,
    SectionSum, SnapshotError, SnapshotMeta, SnapshotParts, SnapshotSource, SnapshotStore,
};
pub use state_file::{replace_file, StateFile, MAX_STATE_PAYLOAD};
pub use vfs::{SimVfs, StdVfs, Vfs, VfsFile};

#[cfg(test)]
pub(crate) mod tests;
