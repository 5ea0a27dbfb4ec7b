//! The kernel as the cluster's state machine, and Raft as the kernel's
//! write path (docs/CLUSTER-INTERNALS.md, "The kernel in a cluster").
//!
//! * [`KernelApplier`]: a committed command is decoded into the kernel's
//!   `Write` and given to the node's own engine, exactly as a standalone
//!   write is: `prepare` assigns ids against the state every node holds at
//!   that index, so every node assigns the same ids and reaches the same
//!   state hash. The engine runs without an event log: the Raft log is the
//!   durable log.
//! * [`RaftProposer`]: set on a node's `Database`, it sends every write the
//!   database builds through Raft instead of the local committer and answers
//!   with the outcome the state machine computed once the write committed.

use std::sync::Arc;

use openraft::error::{ClientWriteError, RaftError};
use openraft::Raft;
use valori_kernel::command::{decode_answer, decode_write, encode_answer, encode_write};
use valori_kernel::database::{Database, Proposer};
use valori_kernel::engine::Reply;
use valori_kernel::ops::Write;
use valori_kernel::KernelError;

use crate::{Applier, Command, NodeId, TypeConfig};

/// Applies committed commands to a kernel `Database` opened without an
/// event log.
pub struct KernelApplier {
    db: Arc<Database>,
}

impl KernelApplier {
    pub fn new(db: Arc<Database>) -> KernelApplier {
        KernelApplier { db }
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }
}

impl Applier for KernelApplier {
    fn apply(&mut self, _index: u64, command: &[u8]) -> Vec<u8> {
        // A command that does not decode is answered with the error on every
        // node alike (the bytes are the same everywhere), never a panic.
        let result = decode_write(command).and_then(|w| self.db.engine.submit_sync(w));
        encode_answer(&result)
    }

    fn state_bytes(&self) -> Result<Vec<u8>, String> {
        self.db
            .snapshot_bytes()
            .map(|(_, bytes)| bytes)
            .map_err(|e| valori_kernel::error::with_causes(&e))
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.db
            .restore(state, true)
            .map(|_| ())
            .map_err(|e| valori_kernel::error::with_causes(&e))
    }
}

/// Sends a node's writes through Raft (see the module docs).
pub struct RaftProposer {
    raft: Raft<TypeConfig>,
    runtime: tokio::runtime::Handle,
}

impl RaftProposer {
    /// Proposals run on `runtime`, the one the node's Raft runs on.
    pub fn new(raft: Raft<TypeConfig>, runtime: tokio::runtime::Handle) -> RaftProposer {
        RaftProposer { raft, runtime }
    }
}

/// What a failed proposal means for the client. Until the HTTP layer maps
/// them to 307 / 503 (the next step), leadership errors use existing codes.
fn proposal_error(e: RaftError<NodeId, ClientWriteError<NodeId, crate::Member>>) -> KernelError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => KernelError::ReadOnly(match f.leader_node {
            Some(node) => format!(
                "this node is not the cluster's leader; node {} at {} is",
                f.leader_id.unwrap_or_default(),
                node.api_addr
            ),
            None => "this node is not the cluster's leader and knows of none".into(),
        }),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => KernelError::InvalidArgument(e.to_string()),
        RaftError::Fatal(f) => KernelError::Internal(format!(
            "the write was proposed but its outcome is unknown ({f}); retry it with the same idempotency key"
        )),
    }
}

impl Proposer for RaftProposer {
    fn propose(&self, write: Write, reply: Reply) {
        let bytes = match encode_write(&write) {
            Ok(b) => b,
            Err(e) => return reply(Err(e)),
        };
        let raft = self.raft.clone();
        self.runtime.spawn(async move {
            let answer = match raft.client_write(Command(bytes)).await {
                Ok(resp) => decode_answer(&resp.data.0).and_then(|inner| inner),
                Err(e) => Err(proposal_error(e)),
            };
            reply(answer);
        });
    }
}
