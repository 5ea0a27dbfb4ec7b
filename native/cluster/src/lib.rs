//! Raft for Valori, on openraft (docs/CLUSTER-INTERNALS.md).
//!
//! This crate holds what consensus needs from storage, and nothing of the
//! kernel's state: the kernel stays free of async code and of openraft.
//!
//! * [`LogStore`]: openraft's `RaftLogStorage` over the kernel's
//!   [`EventLog`](valori_kernel::storage::EventLog). The event log *is* the
//!   Raft log: Raft index `i` is the frame with sequence number `i + 1`, and
//!   each frame's payload is the entry (leader id, kind, body; [`codec`]).
//!   One write and one `fdatasync` per append, the BLAKE3 chain over all
//!   entries, torn-tail repair and the power-loss guarantees are the log's
//!   (docs/reliability.md). The vote and the purge point are
//!   [`StateFile`](valori_kernel::storage::StateFile)s.
//! * [`StateMachine`]: openraft's `RaftStateMachine`, applying committed
//!   entries to an [`Applier`] and keeping snapshots as files.
//! * [`network`]: openraft's RPCs between nodes over TCP, with the cluster
//!   token, bounded frames and snapshots streamed from file to file.
//! * [`kernel`]: the kernel as the applier, and Raft as the kernel's write
//!   path (a proposer set on its `Database`).
//! * [`read_barrier`]: linearizable reads on any node.
//! * [`ClusterNode`]: one member assembled (the napi binding holds one).
//!
//! openraft's storage compliance suite runs over both adapters
//! (`tests/compliance.rs`); nodes run over real sockets in `tests/cluster.rs`
//! and `tests/kernel_cluster.rs`.

// openraft's traits fix the error type, 224 bytes; boxing it would only
// add a conversion at every trait method.
#![allow(clippy::result_large_err)]

pub mod codec;
mod errors;
pub mod identity;
pub mod kernel;
mod log_store;
pub mod network;
mod node;
mod read;
mod state_machine;

use serde::{Deserialize, Serialize};

pub use log_store::LogStore;
pub use network::{serve, NetConfig, Network};
pub use node::{ClusterNode, MemberStatus, NodeConfig, Status};
pub use read::{read_barrier, ReadError};
pub use state_machine::{check_received, Applier, Frozen, SnapshotFile, StateImage, StateMachine};

/// Node ids are never reused (docs/CLUSTER-INTERNALS.md).
pub type NodeId = u64;

/// What the cluster knows of a member: where its HTTP API and its Raft
/// listener are, and which incarnation of the node joined under its id
/// ([`identity`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub api_addr: String,
    pub raft_addr: String,
    pub incarnation: u64,
}

/// A client command as replicated: bytes the [`Applier`] decodes. Commands,
/// not events, are replicated, so ids are assigned at apply, on every node
/// alike.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command(pub Vec<u8>);

/// The applier's answer to a command, for the proposer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied(pub Vec<u8>);

openraft::declare_raft_types!(
    /// Valori's Raft types.
    pub TypeConfig:
        D = Command,
        R = Applied,
        NodeId = NodeId,
        Node = Member,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = SnapshotFile,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A Raft log entry of this cluster.
pub type Entry = openraft::Entry<TypeConfig>;

/// openraft's storage error with our node id type.
pub type StorageError = openraft::StorageError<NodeId>;
