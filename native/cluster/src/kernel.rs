//! The kernel as the cluster's state machine, and Raft as the kernel's
//! write path (docs/CLUSTER-INTERNALS.md, "The kernel in a cluster").
//!
//! * [`KernelApplier`]: a committed command is decoded into the kernel's
//!   `Write` and given to the node's own engine, exactly as a standalone
//!   write is: `prepare` assigns ids against the state every node holds at
//!   that index, so every node assigns the same ids and reaches the same
//!   state hash. A Raft command is a batch: `time_ms u64 LE | count u32 LE |
//!   count × (len u32 LE | the kernel's write command)`, the time the leader
//!   stamped when it proposed the batch, which every member writes into the
//!   batch's event entries, so the members' event logs hold the same bytes
//!   and chain. The writes apply in order, each as the standalone committer
//!   would (one failing refuses only itself), and the answer is `count u32
//!   LE | count × (len u32 LE | answer)`. The Raft log is the durable log;
//!   the engine's event log is derived (rebuilt from the Raft snapshot at
//!   start, never synced).
//! * [`RaftProposer`]: set on a node's `Database`, it sends every write the
//!   database builds through Raft instead of the local committer and answers
//!   with the outcome the state machine computed once the write committed.
//!   Writes that arrive while earlier batches are in flight wait in a queue
//!   and go into the next batch together (group commit): openraft 0.9 syncs
//!   the leader's log once per proposal, in its core, so one proposal per
//!   write would cap writes at one fsync each.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::Raft;
use valori_kernel::command::{decode_answer, decode_write, encode_answer, encode_write};
use valori_kernel::database::{Database, FrozenState, Proposer};
use valori_kernel::durable::Captured;
use valori_kernel::engine::{Engine, Reply};
use valori_kernel::ops::{Outcome, Write};
use valori_kernel::{KResult, KernelError};

use crate::codec::{DecodeError, Reader};
use crate::state_machine::{Frozen, StateImage, CHUNK};
use crate::{Applier, Command, NodeId, TypeConfig};

/// Applies committed commands to a kernel `Database` whose event log is
/// derived (see the module docs).
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

/// Most bytes of writes gathered into one Raft command (a single larger
/// write goes alone; the frame limit admits the largest command).
pub const MAX_BATCH_BYTES: usize = 4 << 20;
/// Most writes in one Raft command.
pub const MAX_BATCH_WRITES: usize = 1024;
/// Batches proposed and not yet answered, at most: the next batch gathers
/// meanwhile.
const MAX_IN_FLIGHT: usize = 4;

/// The Raft command for encoded writes proposed at `time_ms` (see the module
/// docs).
pub fn encode_batch(time_ms: u64, writes: &[&[u8]]) -> Vec<u8> {
    let n: usize = writes.iter().map(|w| 4 + w.len()).sum();
    let mut out = Vec::with_capacity(12 + n);
    out.extend_from_slice(&time_ms.to_le_bytes());
    out.extend_from_slice(&(writes.len() as u32).to_le_bytes());
    for w in writes {
        out.extend_from_slice(&(w.len() as u32).to_le_bytes());
        out.extend_from_slice(w);
    }
    out
}

/// Splits length-prefixed items after a count (`count u32 | count × (len
/// u32 | bytes)`), every count and length checked against the bytes left.
fn split_items<'a>(b: &'a [u8], what: &'static str) -> Result<Vec<&'a [u8]>, KernelError> {
    let split = || -> Result<Vec<&'a [u8]>, DecodeError> {
        let mut r = Reader::new(b, what);
        let n = r.count(4)?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            out.push(r.take(len)?);
        }
        r.end()?;
        Ok(out)
    };
    split().map_err(|e| KernelError::InvalidArgument(e.0))
}

/// The commit time and the writes of a Raft command; a write that does not
/// decode is its own error, in its place.
pub fn decode_batch(command: &[u8]) -> Result<(u64, Vec<Result<Write, KernelError>>), KernelError> {
    if command.len() < 8 {
        return Err(KernelError::InvalidArgument(format!(
            "a Raft command of {} bytes is shorter than its 8-byte time",
            command.len()
        )));
    }
    let (time, body) = command.split_at(8);
    let time_ms = u64::from_le_bytes(time.try_into().expect("8 bytes"));
    let writes = split_items(body, "a Raft command")?
        .into_iter()
        .map(decode_write)
        .collect();
    Ok((time_ms, writes))
}

/// The answers of a batch, in its order.
pub fn encode_answers(answers: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + answers.iter().map(|a| 4 + a.len()).sum::<usize>());
    out.extend_from_slice(&(answers.len() as u32).to_le_bytes());
    for a in answers {
        out.extend_from_slice(&(a.len() as u32).to_le_bytes());
        out.extend_from_slice(a);
    }
    out
}

/// Each write's outcome from a batch's answer; `expected` is the batch's
/// size (an answer for another count is an error for every write).
pub fn decode_answers(b: &[u8], expected: usize) -> Vec<KResult<Outcome>> {
    match split_items(b, "a Raft answer") {
        Ok(items) if items.len() == expected => items
            .into_iter()
            .map(|a| decode_answer(a).and_then(|inner| inner))
            .collect(),
        Ok(items) => {
            let e = KernelError::Internal(format!(
                "a batch of {expected} writes was answered with {} outcomes",
                items.len()
            ));
            vec![Err(e); expected]
        }
        Err(e) => vec![Err(e); expected],
    }
}

impl Applier for KernelApplier {
    fn apply(&mut self, _index: u64, command: &[u8]) -> Vec<u8> {
        // A command that does not decode is answered with the error on every
        // node alike (the bytes are the same everywhere), never a panic.
        let (time_ms, writes) = match decode_batch(command) {
            Ok(b) => b,
            Err(e) => return encode_answers(&[encode_answer(&Err(e))]),
        };
        // All queued at once, in order: the committer folds them into one
        // group (one event-log append); each prepares against the state the
        // ones before it left, as in a standalone group.
        let (tx, rx) = std::sync::mpsc::channel();
        let mut waiting = Vec::with_capacity(writes.len());
        for (i, w) in writes.into_iter().enumerate() {
            match w {
                Ok(w) => {
                    let tx = tx.clone();
                    self.db.engine.submit_at(
                        w,
                        Some(time_ms),
                        Box::new(move |r| {
                            let _ = tx.send((i, r));
                        }),
                    );
                    waiting.push(None);
                }
                Err(e) => waiting.push(Some(encode_answer(&Err(e)))),
            }
        }
        drop(tx);
        while let Ok((i, r)) = rx.recv() {
            waiting[i] = Some(encode_answer(&r));
        }
        let closed = || encode_answer(&Err(KernelError::Internal("committer vanished".into())));
        let answers: Vec<Vec<u8>> = waiting
            .into_iter()
            .map(|a| a.unwrap_or_else(closed))
            .collect();
        encode_answers(&answers)
    }

    fn state_bytes(&self) -> Result<Vec<u8>, String> {
        self.db
            .snapshot_bytes()
            .map(|(_, bytes)| bytes)
            .map_err(|e| valori_kernel::error::with_causes(&e))
    }

    /// The kernel's copy-on-write freeze. The derived event log is trimmed
    /// up to the previous snapshot's height when the snapshot is encoded,
    /// after the state machine's lock is released (the trim copies the
    /// log's tail).
    fn freeze(&self) -> Result<Box<dyn Frozen>, String> {
        let frozen = self
            .db
            .freeze()
            .map_err(|e| valori_kernel::error::with_causes(&e))?;
        let previous = self.snapshot_height.swap(frozen.height(), Ordering::AcqRel);
        Ok(Box::new(KernelFrozen {
            state: frozen,
            db: self.db.clone(),
            trim_to: previous,
        }))
    }

    /// A kernel that turned read-only (its derived event log failed, or a
    /// panic in its committer) rolled back the group it was applying.
    fn fault(&self) -> Option<String> {
        if self.db.engine.is_read_only() {
            return Some(
                self.db
                    .engine
                    .fault()
                    .unwrap_or_else(|| "the kernel turned read-only".into()),
            );
        }
        None
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

struct KernelFrozen {
    state: FrozenState,
    db: Arc<Database>,
    /// The previous snapshot's height: the derived log's new base.
    trim_to: u64,
}

struct KernelImage(Captured);

impl Frozen for KernelFrozen {
    fn encode(self: Box<Self>) -> Result<Box<dyn StateImage>, String> {
        self.db
            .trim_log_to(self.trim_to)
            .map_err(|e| valori_kernel::error::with_causes(&e))?;
        let captured = self
            .state
            .capture()
            .map_err(|e| valori_kernel::error::with_causes(&e))?;
        Ok(Box::new(KernelImage(captured)))
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
    shared: Arc<ProposerShared>,
}

/// A write waiting for the next batch: its encoding and whom to answer.
type Queued = (Vec<u8>, Reply);

struct ProposerShared {
    raft: Raft<TypeConfig>,
    /// The node's engine, for the commit time a batch carries.
    engine: Arc<Engine>,
    id: NodeId,
    commit_timeout: Duration,
    queue: Mutex<VecDeque<Queued>>,
    /// Wakes the batcher when the queue was empty and a write arrived.
    wake: tokio::sync::Notify,
    in_flight: Arc<tokio::sync::Semaphore>,
    /// The proposer was dropped: the batcher ends.
    closed: std::sync::atomic::AtomicBool,
}

impl RaftProposer {
    /// Proposals run on `runtime`, the one the node's Raft runs on; `id` is
    /// this node's; a batch not committed within `commit_timeout` is
    /// answered `LEADER_CHANGED` (its outcome is unknown).
    pub fn new(
        raft: Raft<TypeConfig>,
        engine: Arc<Engine>,
        runtime: tokio::runtime::Handle,
        id: NodeId,
        commit_timeout: Duration,
    ) -> RaftProposer {
        let shared = Arc::new(ProposerShared {
            raft,
            engine,
            id,
            commit_timeout,
            queue: Mutex::new(VecDeque::new()),
            wake: tokio::sync::Notify::new(),
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        runtime.spawn(batcher(shared.clone()));
        RaftProposer { shared }
    }
}

/// Whether node `id` leads now (no copy of the metrics: checked for every
/// write).
pub fn leads(raft: &Raft<TypeConfig>, id: NodeId) -> bool {
    let m = raft.metrics();
    let m = m.borrow();
    m.current_leader == Some(id) && m.state == openraft::ServerState::Leader
}

impl ProposerShared {
    fn is_leader(&self) -> bool {
        leads(&self.raft, self.id)
    }

    /// The next batch from the head of the queue (at least one write).
    fn take_batch(&self) -> Vec<Queued> {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = Vec::new();
        let mut bytes = 0usize;
        while let Some((w, _)) = q.front() {
            if !out.is_empty()
                && (bytes + w.len() > MAX_BATCH_BYTES || out.len() >= MAX_BATCH_WRITES)
            {
                break;
            }
            bytes += w.len();
            out.push(q.pop_front().expect("front"));
        }
        out
    }
}

/// Gathers queued writes into batches, at most [`MAX_IN_FLIGHT`] proposed
/// at once; ends when the proposer is dropped.
async fn batcher(s: Arc<ProposerShared>) {
    loop {
        let permit = match s.in_flight.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => return,
        };
        if s.closed.load(Ordering::Acquire) {
            return;
        }
        let batch = s.take_batch();
        if batch.is_empty() {
            drop(permit);
            // A write queued after take_batch stored a permit in `wake`, so
            // this does not sleep through it.
            s.wake.notified().await;
            continue;
        }
        tokio::spawn(propose_batch(s.clone(), batch, permit));
    }
}

impl Drop for RaftProposer {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
    }
}

async fn propose_batch(
    s: Arc<ProposerShared>,
    batch: Vec<Queued>,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    // Not handed to Raft yet: a node that lost its leadership meanwhile
    // says who leads, as it would have at once.
    if !s.is_leader() {
        let e = not_proposed(&s.raft);
        for (_, reply) in batch {
            reply(Err(e.clone()));
        }
        return;
    }
    let (writes, replies): (Vec<Vec<u8>>, Vec<Reply>) = batch.into_iter().unzip();
    let refs: Vec<&[u8]> = writes.iter().map(|w| w.as_slice()).collect();
    // The leader's clock, never before a time it applied: times follow the
    // log on one leader (a new leader with a slower clock may stamp earlier
    // than its predecessor's last unapplied entries).
    let command = encode_batch(s.engine.commit_time_now(), &refs);
    drop(refs);
    drop(writes);
    let n = replies.len();
    let answers = match tokio::time::timeout(s.commit_timeout, s.raft.client_write(Command(command))).await {
        Ok(Ok(resp)) => decode_answers(&resp.data.0, n),
        Ok(Err(e)) => vec![Err(proposal_error(e)); n],
        Err(_) => vec![Err(KernelError::LeaderChanged(format!(
            "the write was proposed but not committed within {} ms (no quorum reachable?): it may or may not be applied; retry it with the same idempotency key",
            s.commit_timeout.as_millis()
        ))); n],
    };
    drop(permit);
    for (reply, answer) in replies.into_iter().zip(answers) {
        reply(answer);
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
        if !self.shared.is_leader() {
            return reply(Err(not_proposed(&self.shared.raft)));
        }
        let bytes = match encode_write(&write) {
            Ok(b) => b,
            Err(e) => return reply(Err(e)),
        };
        self.shared
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push_back((bytes, reply));
        self.shared.wake.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use valori_kernel::ops::Write;

    fn write(key: &str) -> Vec<u8> {
        encode_write(&Write::DropCollection {
            name: key.into(),
            opts: Default::default(),
        })
        .unwrap()
    }

    #[test]
    fn a_batch_decodes_to_its_time_and_writes_in_order() {
        let (a, b) = (write("a"), write("bb"));
        let cmd = encode_batch(1_700_000_000_123, &[&a, &b]);
        let (time, writes) = decode_batch(&cmd).unwrap();
        assert_eq!(time, 1_700_000_000_123);
        let names: Vec<String> = writes
            .into_iter()
            .map(|w| match w.unwrap() {
                Write::DropCollection { name, .. } => name,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["a", "bb"]);
        // An undecodable write is an error in its place, the others stand.
        let cmd = encode_batch(5, &[&a, b"\x09junk", &b]);
        let (_, writes) = decode_batch(&cmd).unwrap();
        assert!(writes[0].is_ok() && writes[1].is_err() && writes[2].is_ok());
    }

    #[test]
    fn a_malformed_batch_is_an_error_never_a_panic() {
        let a = write("a");
        let good = encode_batch(7, &[&a]);
        for cut in 0..good.len() {
            assert!(decode_batch(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(decode_batch(&trailing).is_err());
        // A count far beyond the bytes is refused before allocating.
        let mut huge = 7u64.to_le_bytes().to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_batch(&huge).is_err());
    }

    #[test]
    fn answers_map_back_to_their_writes_and_a_count_mismatch_fails_them_all() {
        let ok = encode_answer(&Err(KernelError::NotFound("x".into())));
        let bytes = encode_answers(&[ok.clone(), ok]);
        let got = decode_answers(&bytes, 2);
        assert_eq!(got.len(), 2);
        assert!(got
            .iter()
            .all(|r| matches!(r, Err(KernelError::NotFound(_)))));
        let wrong = decode_answers(&bytes, 3);
        assert_eq!(wrong.len(), 3);
        assert!(wrong
            .iter()
            .all(|r| matches!(r, Err(KernelError::Internal(_)))));
    }
}
