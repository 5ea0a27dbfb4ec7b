//! One cluster member assembled: the Raft log over the node's event log,
//! the kernel as its state machine, the Raft listener, and what the HTTP
//! shell asks of it (status, read barrier, membership changes). The napi
//! binding holds one [`ClusterNode`]; everything here runs on the tokio
//! runtime napi starts, off the JavaScript event loop (docs/CLUSTER.md).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::error::{ClientWriteError, InitializeError, RaftError};
use openraft::{ChangeMembers, Config, Raft, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use valori_kernel::database::Database;
use valori_kernel::storage::StdVfs;
use valori_kernel::KernelError;

use crate::identity::Identity;
use crate::kernel::{leads, not_proposed, KernelApplier, RaftProposer};
use crate::network::identify;
use crate::{read_barrier, serve, LogStore, Member, NetConfig, Network, NodeId, ReadError};
use crate::{StateMachine, TypeConfig};

/// What a node needs to join its cluster (validated by the shell's
/// configuration before it gets here).
#[derive(Clone, Debug)]
pub struct NodeConfig {
    pub node_id: NodeId,
    /// The initial members (`VALORI_CLUSTER_MEMBERS`); after the first
    /// start the membership lives in the log.
    pub members: BTreeMap<NodeId, Member>,
    /// Initialize the cluster with `members` if this node's log is empty.
    pub init: bool,
    pub raft_bind: SocketAddr,
    /// The Raft log (`VALORI_EVENT_LOG_PATH`).
    pub log_path: PathBuf,
    /// The vote, purge point, snapshot and incoming snapshots.
    pub dir: PathBuf,
    pub token: String,
    pub heartbeat_ms: u64,
    /// The election timeout is drawn from `[t, 1.5 × t)`; openraft adds its
    /// leader lease (the maximum, 1.5 × t), so a follower starts an election
    /// between 2.5 × t and 3 × t after the last heartbeat it heard.
    pub election_timeout_ms: u64,
    /// A snapshot is built every this many entries; the log before it is
    /// purged, keeping `keep_logs` entries for followers that lag a little.
    pub snapshot_every: u64,
    pub keep_logs: u64,
    pub max_frame_bytes: u32,
    pub max_snapshot_bytes: u64,
    /// How long a proposed write may wait for its commit before it is
    /// answered `LEADER_CHANGED` (outcome unknown).
    pub commit_timeout_ms: u64,
}

/// A member as the status route shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    pub id: NodeId,
    pub raft_addr: String,
    pub api_addr: String,
    pub voter: bool,
}

/// A snapshot of the node's Raft state (`GET /v1/cluster/status`).
#[derive(Clone, Debug)]
pub struct Status {
    pub node_id: NodeId,
    pub current_leader: Option<NodeId>,
    /// The leader's API address, when it is known and a member.
    pub leader_api_addr: Option<String>,
    pub is_leader: bool,
    /// `leader`, `follower`, `candidate`, `learner` or `shutdown`.
    pub role: &'static str,
    pub term: u64,
    pub last_log_index: Option<u64>,
    pub last_applied_index: Option<u64>,
    pub snapshot_index: Option<u64>,
    pub purged_index: Option<u64>,
    pub members: Vec<MemberStatus>,
    /// Terms this node has seen begin since it started (each is an election).
    pub elections: u64,
    /// Adds that were accepted and are still catching up, with their state.
    pub joining: Vec<(NodeId, String)>,
    /// Why the Raft core stopped, if it did (a failed disk).
    pub fatal: Option<String>,
    /// On a leader: milliseconds since a quorum last acknowledged it
    /// (`None` elsewhere, and on a leader no quorum has answered yet).
    pub quorum_ack_age_ms: Option<u64>,
    /// A leader that has not heard from a quorum within its lease (the
    /// maximum election timeout): the others may have elected a new leader,
    /// and its writes cannot commit. openraft 0.9 keeps such a node leader
    /// until it hears a higher term, so this is what health reports.
    pub quorum_lost: bool,
}

/// One running member.
pub struct ClusterNode {
    id: NodeId,
    raft: Raft<TypeConfig>,
    net: Network,
    server: Mutex<Option<JoinHandle<()>>>,
    watcher: JoinHandle<()>,
    elections: Arc<AtomicU64>,
    joining: Arc<Mutex<BTreeMap<NodeId, String>>>,
    db: Arc<Database>,
    /// Another handle to the state machine Raft runs (retired ids).
    sm: StateMachine<KernelApplier>,
    /// The leader lease: the longest election timeout.
    lease_ms: u64,
    /// A new cluster's initialization, waiting for every member to answer.
    init_task: Mutex<Option<JoinHandle<()>>>,
    notices: Arc<Notices>,
}

fn raft_config(c: &NodeConfig) -> Result<Arc<Config>, String> {
    let config = Config {
        cluster_name: "valori".into(),
        heartbeat_interval: c.heartbeat_ms,
        election_timeout_min: c.election_timeout_ms,
        election_timeout_max: c.election_timeout_ms + c.election_timeout_ms / 2,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(c.snapshot_every),
        max_in_snapshot_log_to_keep: c.keep_logs,
        ..Default::default()
    };
    config
        .validate()
        .map(Arc::new)
        .map_err(|e| format!("Raft timing: {e}"))
}

fn role(state: ServerState) -> &'static str {
    match state {
        ServerState::Leader => "leader",
        ServerState::Follower => "follower",
        ServerState::Candidate => "candidate",
        ServerState::Learner => "learner",
        ServerState::Shutdown => "shutdown",
    }
}

fn membership_error(
    e: RaftError<NodeId, ClientWriteError<NodeId, Member>>,
    raft: &Raft<TypeConfig>,
) -> KernelError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(_)) => not_proposed(raft),
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            KernelError::InvalidArgument(e.to_string())
        }
        RaftError::Fatal(f) => KernelError::LeaderChanged(format!(
            "the membership change was proposed but its outcome is unknown ({f}); check /v1/cluster/status"
        )),
    }
}

impl ClusterNode {
    /// Opens the node's log and snapshot, binds the Raft listener, starts
    /// Raft and, with `init` on an empty log, initializes the cluster.
    /// `db` is the node's kernel, opened without an event log: the Raft
    /// log is its durable log. Must run on a multi-threaded tokio runtime.
    pub async fn start(c: NodeConfig, db: Arc<Database>) -> Result<ClusterNode, String> {
        let config = raft_config(&c)?;
        let lease_ms = config.election_timeout_max;
        if !c.members.contains_key(&c.node_id) && c.init {
            return Err(format!(
                "VALORI_CLUSTER_INIT=1 on node {} which is not in VALORI_CLUSTER_MEMBERS",
                c.node_id
            ));
        }
        let vfs = Arc::new(StdVfs);
        let identity = Identity::open(vfs.clone(), &c.dir, c.node_id)?;
        let log = LogStore::open_at(vfs.clone(), &c.log_path, &c.dir).map_err(|e| {
            format!(
                "cannot open the Raft log {} (VALORI_EVENT_LOG_PATH): {e}",
                c.log_path.display()
            )
        })?;
        let sm = StateMachine::open(vfs, &c.dir, KernelApplier::new(db.clone()))
            .map_err(|e| format!("cannot open the snapshot in {}: {e}", c.dir.display()))?;
        let listener = TcpListener::bind(c.raft_bind)
            .await
            .map_err(|e| format!("cannot listen on VALORI_RAFT_BIND {}: {e}", c.raft_bind))?;
        let net_cfg = NetConfig {
            node_id: c.node_id,
            incarnation: identity.incarnation,
            token: c.token.clone(),
            max_frame_bytes: c.max_frame_bytes,
            source_ip: Some(c.raft_bind.ip()).filter(|ip| !ip.is_unspecified()),
            incoming_dir: c.dir.join("incoming"),
            max_snapshot_bytes: c.max_snapshot_bytes,
        };
        let net = Network::new(net_cfg.clone());
        let raft = Raft::new(c.node_id, config, net.clone(), log, sm.clone())
            .await
            .map_err(|e| format!("Raft did not start: {e}"))?;
        db.set_proposer(Arc::new(RaftProposer::new(
            raft.clone(),
            db.engine.clone(),
            tokio::runtime::Handle::current(),
            c.node_id,
            Duration::from_millis(c.commit_timeout_ms),
        )))
        .map_err(|e| e.to_string())?;
        let server = serve(listener, raft.clone(), net_cfg);
        let elections = Arc::new(AtomicU64::new(0));
        let watcher = tokio::spawn(count_elections(raft.clone(), elections.clone()));
        let notices = Arc::new(Notices::default());
        let mut init_task = None;
        if c.init {
            let initialized = raft.is_initialized().await.map_err(|e| e.to_string())?;
            if !initialized {
                // The membership records every member's incarnation, so each
                // must answer first; until all do, the node serves without a
                // leader (a fresh cluster's nodes start in any order).
                init_task = Some(tokio::spawn(initialize_when_all_answer(
                    raft.clone(),
                    net.config(),
                    c.members.clone(),
                    identity,
                    notices.clone(),
                )));
            }
        }
        Ok(ClusterNode {
            id: c.node_id,
            raft,
            net,
            server: Mutex::new(Some(server)),
            watcher,
            elections,
            joining: Arc::new(Mutex::new(BTreeMap::new())),
            db,
            sm,
            lease_ms,
            init_task: Mutex::new(init_task),
            notices,
        })
    }

    /// The Raft handle (metrics, tests).
    pub fn raft(&self) -> &Raft<TypeConfig> {
        &self.raft
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Notices for the operator since the last call (see [`Notices`]).
    pub fn take_notices(&self) -> Vec<String> {
        self.notices.take()
    }

    /// Whether this node leads now (no copy of the metrics: for every write).
    pub fn is_leader(&self) -> bool {
        leads(&self.raft, self.id)
    }

    pub fn status(&self) -> Status {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        let voters: BTreeSet<NodeId> = membership.voter_ids().collect();
        let members = membership
            .nodes()
            .map(|(id, node)| MemberStatus {
                id: *id,
                raft_addr: node.raft_addr.clone(),
                api_addr: node.api_addr.clone(),
                voter: voters.contains(id),
            })
            .collect();
        let leader_api_addr = m
            .current_leader
            .and_then(|l| membership.get_node(&l).map(|n| n.api_addr.clone()));
        let joining = self
            .joining
            .lock()
            .map(|j| j.iter().map(|(id, s)| (*id, s.clone())).collect())
            .unwrap_or_default();
        let is_leader = m.current_leader == Some(self.id) && m.state == ServerState::Leader;
        let quorum_ack_age_ms = if is_leader {
            m.millis_since_quorum_ack
        } else {
            None
        };
        Status {
            node_id: self.id,
            current_leader: m.current_leader,
            leader_api_addr,
            is_leader,
            quorum_ack_age_ms,
            quorum_lost: is_leader && quorum_ack_age_ms.is_none_or(|a| a > self.lease_ms),
            role: role(m.state),
            term: m.current_term,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            members,
            elections: self.elections.load(Ordering::Relaxed),
            joining,
            fatal: m.running_state.err().map(|f| f.to_string()),
        }
    }

    /// Waits until a read on this node is linearizable (see [`read_barrier`]).
    pub async fn read_barrier(&self, timeout: Duration) -> Result<u64, KernelError> {
        read_barrier(&self.raft, &self.net, timeout).await.map_err(|e| match e {
            ReadError::NoLeader => KernelError::NoLeader(
                "no leader is known, so a linearizable read cannot be served; retry shortly, or read with consistency=local".into(),
            ),
            e => KernelError::NoLeader(format!(
                "{e}; retry shortly, or read with consistency=local"
            )),
        })
    }

    /// Adds a node: as a learner now (answered once that change commits),
    /// then, in the background, as a voter once it has caught up.
    pub async fn add_node(&self, id: NodeId, member: Member) -> Result<(), KernelError> {
        let st = self.status();
        if !st.is_leader {
            return Err(not_proposed(&self.raft));
        }
        if let Some(existing) = st.members.iter().find(|m| m.id == id) {
            if existing.voter {
                return Err(KernelError::InvalidArgument(format!(
                    "node {id} is already a voter"
                )));
            }
        }
        if self
            .sm
            .is_retired(id)
            .map_err(|e| KernelError::Internal(e.to_string()))?
        {
            return Err(KernelError::InvalidArgument(format!(
                "node id {id} was removed from this cluster, and a node id is never reused: start the new node with another VALORI_NODE_ID"
            )));
        }
        // Ask the node who it is: the id must be the one requested, and its
        // incarnation goes into the membership.
        let (answered, incarnation) =
            identify(&member.raft_addr, self.net.config(), IDENTIFY_TIMEOUT)
                .await
                .map_err(|e| {
                    KernelError::InvalidArgument(format!(
                "node {id} did not answer at {} ({e}): start it first, with the same cluster token",
                member.raft_addr
            ))
                })?;
        if answered != id {
            return Err(KernelError::InvalidArgument(format!(
                "the node at {} is node {answered}, not node {id}",
                member.raft_addr
            )));
        }
        let member = Member {
            incarnation,
            ..member
        };
        self.raft
            .add_learner(id, member, false)
            .await
            .map_err(|e| membership_error(e, &self.raft))?;
        if let Ok(mut j) = self.joining.lock() {
            j.insert(id, "catching up".into());
        }
        let raft = self.raft.clone();
        let joining = self.joining.clone();
        let notices = self.notices.clone();
        tokio::spawn(async move {
            let outcome = promote(&raft, id).await;
            match &outcome {
                Ok(()) => notices.push(format!("node {id} caught up and is a voter now")),
                Err(e) => notices.push(format!("node {id} was left a learner: {e}")),
            }
            if let Ok(mut j) = joining.lock() {
                match outcome {
                    Ok(()) => {
                        j.remove(&id);
                    }
                    Err(e) => {
                        j.insert(id, format!("failed: {e}"));
                    }
                }
            }
        });
        Ok(())
    }

    /// Removes a voter or a learner; the last voter cannot be removed.
    pub async fn remove_node(&self, id: NodeId) -> Result<(), KernelError> {
        let st = self.status();
        if !st.is_leader {
            return Err(not_proposed(&self.raft));
        }
        let Some(m) = st.members.iter().find(|m| m.id == id) else {
            return Err(KernelError::NotFound(format!(
                "node {id} is not a member of this cluster"
            )));
        };
        let change = if m.voter {
            let voters = st.members.iter().filter(|m| m.voter).count();
            if voters == 1 {
                return Err(KernelError::InvalidArgument(format!(
                    "node {id} is the cluster's only voter; it cannot be removed"
                )));
            }
            ChangeMembers::RemoveVoters(BTreeSet::from([id]))
        } else {
            ChangeMembers::RemoveNodes(BTreeSet::from([id]))
        };
        self.raft
            .change_membership(change, false)
            .await
            .map_err(|e| membership_error(e, &self.raft))?;
        if let Ok(mut j) = self.joining.lock() {
            j.remove(&id);
        }
        Ok(())
    }

    /// Builds a snapshot now (and purges the log it covers, per policy).
    pub async fn snapshot(&self) -> Result<(), KernelError> {
        self.raft
            .trigger()
            .snapshot()
            .await
            .map_err(|e| KernelError::Internal(e.to_string()))
    }

    /// Stops the Raft listener and the Raft core; idempotent.
    pub async fn shutdown(&self) {
        if let Some(init) = self.init_task.lock().ok().and_then(|mut t| t.take()) {
            init.abort();
        }
        let server = self.server.lock().ok().and_then(|mut s| s.take());
        if let Some(server) = server {
            server.abort();
            let _ = server.await;
            self.watcher.abort();
            let _ = self.raft.shutdown().await;
        }
    }
}

/// How long an identify request may take.
const IDENTIFY_TIMEOUT: Duration = Duration::from_secs(5);

/// Most notices kept until the host takes them.
const MAX_NOTICES: usize = 64;

/// What the node has to tell its operator outside any request (the host
/// takes them and writes them to its log): bounded, oldest dropped first.
#[derive(Default)]
pub struct Notices {
    queue: Mutex<VecDeque<String>>,
}

impl Notices {
    pub fn push(&self, text: String) {
        if let Ok(mut q) = self.queue.lock() {
            if q.len() == MAX_NOTICES {
                q.pop_front();
            }
            q.push_back(text);
        }
    }

    /// Every notice since the last call, oldest first.
    pub fn take(&self) -> Vec<String> {
        self.queue
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default()
    }
}

/// Initializes a new cluster once every initial member has said who it is:
/// the membership then names each member's incarnation. Retries every half
/// second (logging which members are still silent every 10 s) until the
/// node shuts down; a member answering with another id is reported and
/// retried too, as the operator may fix its configuration.
async fn initialize_when_all_answer(
    raft: Raft<TypeConfig>,
    net: Arc<NetConfig>,
    members: BTreeMap<NodeId, Member>,
    me: Identity,
    notices: Arc<Notices>,
) {
    let mut known: BTreeMap<NodeId, u64> = BTreeMap::from([(me.node_id, me.incarnation)]);
    let mut last_report = std::time::Instant::now();
    // Who answered in another's place, reported once per change.
    let mut impostors: BTreeMap<NodeId, NodeId> = BTreeMap::new();
    loop {
        for (id, m) in &members {
            if known.contains_key(id) {
                continue;
            }
            match identify(&m.raft_addr, net.clone(), IDENTIFY_TIMEOUT).await {
                Ok((answered, incarnation)) if answered == *id => {
                    known.insert(*id, incarnation);
                }
                Ok((answered, _)) => {
                    if impostors.insert(*id, answered) != Some(answered) {
                        notices.push(format!(
                            "VALORI_CLUSTER_MEMBERS names node {id} at {}, but node {answered} answers there: the cluster is not initialized until node {id} does",
                            m.raft_addr
                        ));
                    }
                }
                Err(_) => {}
            }
        }
        if known.len() == members.len() {
            break;
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            last_report = std::time::Instant::now();
            let silent: Vec<String> = members
                .keys()
                .filter(|id| !known.contains_key(id))
                .map(|id| id.to_string())
                .collect();
            notices.push(format!(
                "initializing the cluster waits for node(s) {} to answer on their Raft address (same VALORI_CLUSTER_TOKEN, listener reachable)",
                silent.join(", ")
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let members: BTreeMap<NodeId, Member> = members
        .into_iter()
        .map(|(id, m)| {
            let incarnation = known[&id];
            (id, Member { incarnation, ..m })
        })
        .collect();
    match raft.initialize(members).await {
        Ok(()) | Err(RaftError::APIError(InitializeError::NotAllowed(_))) => {}
        Err(e) => notices.push(format!("cannot initialize the cluster: {e}")),
    }
}

/// How far behind the leader's last log a learner may be when it is made
/// a voter.
const PROMOTE_LAG: u64 = 64;
/// A learner that has not caught up in this long is left a learner.
const PROMOTE_TIMEOUT: Duration = Duration::from_secs(600);

async fn promote(raft: &Raft<TypeConfig>, id: NodeId) -> Result<(), String> {
    raft.wait(Some(PROMOTE_TIMEOUT))
        .metrics(
            |m| {
                let last = m.last_log_index.unwrap_or(0);
                let matched = m
                    .replication
                    .as_ref()
                    .and_then(|r| r.get(&id).cloned().flatten())
                    .map(|l| l.index);
                m.state != ServerState::Leader || matched.is_some_and(|i| i + PROMOTE_LAG >= last)
            },
            "learner caught up",
        )
        .await
        .map_err(|e| format!("did not catch up: {e}"))?;
    raft.change_membership(ChangeMembers::AddVoterIds(BTreeSet::from([id])), false)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

async fn count_elections(raft: Raft<TypeConfig>, elections: Arc<AtomicU64>) {
    let mut rx = raft.metrics();
    let mut term = rx.borrow().current_term;
    while rx.changed().await.is_ok() {
        let now = rx.borrow().current_term;
        if now > term {
            elections.fetch_add(now - term, Ordering::Relaxed);
            term = now;
        }
    }
}
