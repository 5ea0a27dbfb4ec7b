//! Snapshots: the VAL1 container with our kernel section header
//! (`docs/SNAPSHOT_FORMAT.md`) and the crash-safe store at a configured
//! path. The kernel state, metadata and index payloads are opaque here.

pub mod format;
mod named;
mod store;

pub use format::{
    decode_snapshot, encode_snapshot, InMemory, SectionSum, SnapshotError, SnapshotMeta,
    SnapshotParts, SnapshotSource,
};
pub use named::{valid_name, NamedSnapshots, NAMED_DIR};
pub use store::{LoadOutcome, LoadedSnapshot, Quarantined, SnapshotStore};
