//! The kernel as the cluster's state machine, and Raft as the kernel's
//! write path (docs/CLUSTER-INTERNALS.md, "The kernel in a cluster").
//!
//! * [`KernelApplier`]: a committed command is decoded into the kernel's
//!   `Write` and given to the node's own engine, exactly as a standalone
//!   write is: `prepare` assigns ids against the state every node holds at
//!   that index, so every node assigns the same ids and reaches the same
//!   state hash. A command is `time_ms u64 LE | the kernel's write command`:
//!   the commit time the leader stamped when it proposed, which every member
//!   writes into its event entry, so the members' event logs hold the same
//!   bytes and chain. The Raft log is the durable log; the engine's event
//!   log is derived (rebuilt from the Raft snapshot at start, never synced).
//! * [`RaftProposer`]: set on a node's `Database`, it sends every write the
//!   database builds through Raft instead of the local committer and answers
//!   with the outcome the state machine computed once the write committed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::Raft;
use valori_kernel::command::{decode_answer, decode_write, encode_answer, encode_write};
use valori_kernel::database::{Database, FrozenState, Proposer};
use valori_kernel::durable::Captured;
use valori_kernel::engine::{Engine, Reply};
use valori_kernel::ops::Write;
use valori_kernel::KernelError;

use crate::state_machine::{Frozen, StateImage, CHUNK};
use crate::{Applier, Command, NodeId, TypeConfig};

/// Applies committed commands to a kernel `Database` opened without an
/// event log.
pub struct KernelApplier {
    db: Arc<Database>,
    /// The kernel height of the newest snapshot taken: the next one trims
    /// the derived event log up to it, so the log keeps one snapshot
    /// interval of history for stream followers behind the newest snapshot.
    snapshot_height: AtomicU64,
}

impl KernelApplier {
    pub fn new(db: Arc<Database>) -> KernelApplier {
        KernelApplier {
            db,
            snapshot_height: AtomicU64::new(0),
        }
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }
}

/// The Raft command for `write` proposed at `time_ms` (see the module docs).
pub fn encode_command(time_ms: u64, write: &Write) -> Result<Vec<u8>, KernelError> {
    let body = encode_write(write)?;
    let mut out = Vec::with_capacity(8 + body.len());
    out.extend_from_slice(&time_ms.to_le_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// The commit time and write of a Raft command.
pub fn decode_command(command: &[u8]) -> Result<(u64, Write), KernelError> {
    if command.len() < 8 {
        return Err(KernelError::InvalidArgument(format!(
            "a Raft command of {} bytes is shorter than its 8-byte time",
            command.len()
        )));
    }
    let (time, body) = command.split_at(8);
    let time_ms = u64::from_le_bytes(time.try_into().expect("8 bytes"));
    Ok((time_ms, decode_write(body)?))
}

impl Applier for KernelApplier {
    fn apply(&mut self, _index: u64, command: &[u8]) -> Vec<u8> {
        // A command that does not decode is answered with the error on every
        // node alike (the bytes are the same everywhere), never a panic.
        let result = decode_command(command)
            .and_then(|(time_ms, w)| self.db.engine.submit_sync_at(w, Some(time_ms)));
        encode_answer(&result)
    }

    fn state_bytes(&self) -> Result<Vec<u8>, String> {
        self.db
            .snapshot_bytes()
            .map(|(_, bytes)| bytes)
            .map_err(|e| valori_kernel::error::with_causes(&e))
    }

    /// The kernel's copy-on-write freeze; the derived event log is trimmed
    /// up to the previous snapshot's height.
    fn freeze(&self) -> Result<Box<dyn Frozen>, String> {
        let text = |e: KernelError| valori_kernel::error::with_causes(&e);
        let frozen = self.db.freeze().map_err(text)?;
        let previous = self.snapshot_height.swap(frozen.height(), Ordering::AcqRel);
        self.db.trim_log_to(previous).map_err(text)?;
        Ok(Box::new(KernelFrozen(frozen)))
    }

    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        // The derived event log is re-based on the snapshot's height.
        let height = self
            .db
            .restore(state, true)
            .map_err(|e| valori_kernel::error::with_causes(&e))?;
        self.snapshot_height.store(height, Ordering::Release);
        Ok(())
    }
}

struct KernelFrozen(FrozenState);

struct KernelImage(Captured);

impl Frozen for KernelFrozen {
    fn encode(self: Box<Self>) -> Result<Box<dyn StateImage>, String> {
        Ok(Box::new(KernelImage(self.0.capture())))
    }
}

impl StateImage for KernelImage {
    fn len(&self) -> u64 {
        self.0.encoded_len()
    }

    fn write_to(&self, out: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> Result<(), String> {
        self.0
            .write_to(CHUNK, out)
            .map(|_| ())
            .map_err(|e| valori_kernel::error::with_causes(&e))
    }
}

/// Sends a node's writes through Raft (see the module docs).
pub struct RaftProposer {
    raft: Raft<TypeConfig>,
    /// The node's engine, for the commit time a proposal carries.
    engine: Arc<Engine>,
    runtime: tokio::runtime::Handle,
    id: NodeId,
    commit_timeout: Duration,
}

impl RaftProposer {
    /// Proposals run on `runtime`, the one the node's Raft runs on; `id` is
    /// this node's; a proposal not committed within `commit_timeout` is
    /// answered `LEADER_CHANGED` (its outcome is unknown).
    pub fn new(
        raft: Raft<TypeConfig>,
        engine: Arc<Engine>,
        runtime: tokio::runtime::Handle,
        id: NodeId,
        commit_timeout: Duration,
    ) -> RaftProposer {
        RaftProposer {
            raft,
            engine,
            runtime,
            id,
            commit_timeout,
        }
    }
}

/// Why a write was not proposed: this node is not the leader (naming the
/// one that is), or no leader is known.
pub fn not_proposed(raft: &Raft<TypeConfig>) -> KernelError {
    let m = raft.metrics().borrow().clone();
    match m.current_leader {
        Some(l) => match m.membership_config.membership().get_node(&l) {
            Some(node) => KernelError::NotLeader(format!(
                "this node is not the cluster's leader; node {l} at {} is",
                node.api_addr
            )),
            None => KernelError::NoLeader(format!(
                "node {l} leads but is not in this node's membership yet; retry shortly"
            )),
        },
        None => KernelError::NoLeader(
            "no leader is known (an election is running, or this node is cut off from the majority); retry shortly"
                .into(),
        ),
    }
}

/// What a failed proposal means for the client. The write was handed to
/// Raft, so unless openraft refused a membership change outright, its
/// outcome is unknown: openraft answers `ForwardToLeader` both to a write
/// it never appended and to one a deposed leader appended and may yet see
/// committed by its successor.
fn proposal_error(e: RaftError<NodeId, ClientWriteError<NodeId, crate::Member>>) -> KernelError {
    match e {
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => KernelError::InvalidArgument(e.to_string()),
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => KernelError::LeaderChanged(
            "leadership changed after the write was proposed: it may or may not have been applied; retry it with the same idempotency key".into(),
        ),
        RaftError::Fatal(f) => KernelError::LeaderChanged(format!(
            "the write was proposed but its outcome is unknown ({f}); retry it with the same idempotency key"
        )),
    }
}

impl Proposer for RaftProposer {
    fn propose(&self, write: Write, reply: Reply) {
        {
            let m = self.raft.metrics();
            let m = m.borrow();
            if m.current_leader != Some(self.id) || m.state != openraft::ServerState::Leader {
                drop(m);
                return reply(Err(not_proposed(&self.raft)));
            }
        }
        // The leader's clock, never before a time it applied: times follow
        // the log on one leader (a new leader with a slower clock may stamp
        // earlier than its predecessor's last unapplied entries).
        let bytes = match encode_command(self.engine.commit_time_now(), &write) {
            Ok(b) => b,
            Err(e) => return reply(Err(e)),
        };
        let raft = self.raft.clone();
        let timeout = self.commit_timeout;
        self.runtime.spawn(async move {
            let answer = match tokio::time::timeout(timeout, raft.client_write(Command(bytes))).await {
                Ok(Ok(resp)) => decode_answer(&resp.data.0).and_then(|inner| inner),
                Ok(Err(e)) => Err(proposal_error(e)),
                Err(_) => Err(KernelError::LeaderChanged(format!(
                    "the write was proposed but not committed within {} ms (no quorum reachable?): it may or may not be applied; retry it with the same idempotency key",
                    timeout.as_millis()
                ))),
            };
            reply(answer);
        });
    }
}
