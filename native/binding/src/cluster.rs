//! `Cluster`: the JS handle over one Raft member (valori-cluster's
//! `ClusterNode`). Raft, its listener and every proposal run on the tokio
//! runtime napi starts, never on the JS thread. The member's kernel is an
//! ordinary `Kernel` handle whose writes go through Raft.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_cluster::{ClusterNode, Member, NodeConfig, NodeId};
use valori_kernel::storage::vfs::Unsynced;
use valori_kernel::storage::{StdVfs, Vfs};
use valori_kernel::{KResult, KernelError};

/// The member kernel's event log, in the Raft directory.
const DERIVED_EVENT_LOG: &str = "events.log";

use crate::call::{promise, sync};
use crate::kernel::Kernel;
use crate::types::KernelOptions;

#[napi(object)]
pub struct ClusterMemberOption {
    pub id: f64,
    pub raft_addr: String,
    pub api_addr: String,
}

#[napi(object)]
pub struct ClusterOptions {
    pub node_id: f64,
    pub members: Vec<ClusterMemberOption>,
    /// Initialize the cluster with `members` if this node's log is empty.
    pub init: bool,
    /// The Raft listener (`host:port`).
    pub raft_bind: String,
    /// Vote, purge point, snapshot and incoming snapshots.
    pub raft_dir: String,
    pub token: String,
    pub heartbeat_ms: u32,
    pub election_timeout_ms: u32,
    pub snapshot_every: f64,
    pub keep_logs: f64,
    pub max_frame_bytes: u32,
    pub max_snapshot_bytes: f64,
    pub commit_timeout_ms: u32,
}

#[napi(object)]
pub struct ClusterMember {
    pub id: f64,
    pub raft_addr: String,
    pub api_addr: String,
    pub voter: bool,
}

#[napi(object)]
pub struct ClusterJoining {
    pub id: f64,
    pub state: String,
}

#[napi(object)]
pub struct ClusterStatus {
    pub node_id: f64,
    pub current_leader: Option<f64>,
    pub leader_api_addr: Option<String>,
    pub is_leader: bool,
    /// leader, follower, candidate, learner or shutdown.
    pub role: String,
    pub term: f64,
    pub last_log_index: Option<f64>,
    pub last_applied_index: Option<f64>,
    pub snapshot_index: Option<f64>,
    pub purged_index: Option<f64>,
    pub members: Vec<ClusterMember>,
    pub elections: f64,
    pub joining: Vec<ClusterJoining>,
    pub fatal: Option<String>,
    /// On a leader: ms since a quorum last acknowledged it.
    pub quorum_ack_age_ms: Option<f64>,
    /// A leader that has not heard from a quorum within its lease.
    pub quorum_lost: bool,
}

fn node_id(name: &str, v: f64) -> KResult<NodeId> {
    if !(v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= 9007199254740991.0) {
        return Err(KernelError::InvalidArgument(format!(
            "{name} must be an integer in 1..=2^53-1, got {v}"
        )));
    }
    Ok(v as NodeId)
}

fn count(name: &str, v: f64) -> KResult<u64> {
    if !(v.is_finite() && v >= 1.0 && v.fract() == 0.0 && v <= 9007199254740991.0) {
        return Err(KernelError::InvalidArgument(format!(
            "{name} must be a positive integer, got {v}"
        )));
    }
    Ok(v as u64)
}

fn node_config(o: ClusterOptions, log_path: PathBuf) -> KResult<NodeConfig> {
    let mut members = BTreeMap::new();
    for m in o.members {
        members.insert(
            node_id("member id", m.id)?,
            Member {
                api_addr: m.api_addr,
                raft_addr: m.raft_addr,
                // Learned from the member itself before the cluster is initialized.
                incarnation: 0,
            },
        );
    }
    let raft_bind: SocketAddr = o.raft_bind.parse().map_err(|_| {
        KernelError::InvalidArgument(format!(
            "raftBind must be an IP address and port, got {:?}",
            o.raft_bind
        ))
    })?;
    Ok(NodeConfig {
        node_id: node_id("nodeId", o.node_id)?,
        members,
        init: o.init,
        raft_bind,
        log_path,
        dir: PathBuf::from(o.raft_dir),
        token: o.token,
        heartbeat_ms: o.heartbeat_ms as u64,
        election_timeout_ms: o.election_timeout_ms as u64,
        snapshot_every: count("snapshotEvery", o.snapshot_every)?,
        keep_logs: o.keep_logs.max(0.0) as u64,
        max_frame_bytes: o.max_frame_bytes,
        max_snapshot_bytes: count("maxSnapshotBytes", o.max_snapshot_bytes)?,
        commit_timeout_ms: o.commit_timeout_ms as u64,
    })
}

/// One Raft member.
#[napi]
pub struct Cluster {
    node: Arc<ClusterNode>,
}

/// Open a cluster member: the kernel in memory with a derived event log in
/// the Raft directory (the Raft log is its durable log, at
/// `kernel.eventLogPath`), the newest Raft snapshot restored, the
/// Raft listener bound, and with `init` on an empty log the cluster
/// initialized.
#[napi(ts_return_type = "Promise<Cluster>")]
pub fn open_cluster(
    env: &Env,
    kernel: KernelOptions,
    cluster: ClusterOptions,
) -> Result<PromiseRaw<'_, Cluster>> {
    promise(
        env,
        "openCluster",
        move || {
            let mut kernel = kernel;
            let Some(log_path) = kernel.event_log_path.take().map(PathBuf::from) else {
                return Err(KernelError::InvalidArgument(
                    "a cluster member needs an event log path (its Raft log)".into(),
                ));
            };
            kernel.snapshot_path = None;
            kernel.wal_path = None;
            let cfg = node_config(cluster, log_path)?;
            // The kernel's own event log is derived: made again from the Raft
            // snapshot and the committed entries after it at every start,
            // never synced (docs/CLUSTER-INTERNALS.md, "The derived event log").
            let derived = cfg.dir.join(DERIVED_EVENT_LOG);
            std::fs::create_dir_all(&cfg.dir).map_err(|e| {
                KernelError::Io(format!("cannot create {}: {e}", cfg.dir.display()))
            })?;
            match std::fs::remove_file(&derived) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(KernelError::Io(format!(
                        "cannot remove the derived event log {}: {e}",
                        derived.display()
                    )))
                }
            }
            kernel.event_log_path = Some(derived.to_string_lossy().into_owned());
            let vfs: Arc<dyn Vfs> = Arc::new(Unsynced(Arc::new(StdVfs)));
            let db = crate::open::open_on(kernel, vfs)?.db;
            Ok(async move {
                match ClusterNode::start(cfg, db.clone()).await {
                    Ok(node) => Ok(node),
                    Err(e) => {
                        db.close();
                        Err(KernelError::InvalidArgument(e))
                    }
                }
            })
        },
        |node| Cluster {
            node: Arc::new(node),
        },
    )
}

fn opt(v: Option<u64>) -> Option<f64> {
    v.map(|v| v as f64)
}

#[napi]
impl Cluster {
    /// The member's kernel: reads are local, writes go through Raft.
    #[napi]
    pub fn kernel(&self) -> Kernel {
        Kernel {
            db: self.node.database().clone(),
        }
    }

    /// What the member has to tell its operator since the last call
    /// (initialization waiting for members, a learner promoted or left a
    /// learner), oldest first; the host writes them to its log.
    #[napi]
    pub fn take_notices(&self) -> Vec<String> {
        self.node.take_notices()
    }

    /// Whether this member leads now; O(1), no I/O (checked on every write).
    #[napi]
    pub fn is_leader(&self) -> bool {
        self.node.is_leader()
    }

    /// The member's Raft state; O(members), no I/O.
    #[napi]
    pub fn status(&self, env: &Env) -> Result<ClusterStatus> {
        sync(env, "clusterStatus", || {
            let s = self.node.status();
            Ok(ClusterStatus {
                node_id: s.node_id as f64,
                current_leader: opt(s.current_leader),
                leader_api_addr: s.leader_api_addr,
                is_leader: s.is_leader,
                role: s.role.to_string(),
                term: s.term as f64,
                last_log_index: opt(s.last_log_index),
                last_applied_index: opt(s.last_applied_index),
                snapshot_index: opt(s.snapshot_index),
                purged_index: opt(s.purged_index),
                members: s
                    .members
                    .into_iter()
                    .map(|m| ClusterMember {
                        id: m.id as f64,
                        raft_addr: m.raft_addr,
                        api_addr: m.api_addr,
                        voter: m.voter,
                    })
                    .collect(),
                elections: s.elections as f64,
                joining: s
                    .joining
                    .into_iter()
                    .map(|(id, state)| ClusterJoining {
                        id: id as f64,
                        state,
                    })
                    .collect(),
                fatal: s.fatal,
                quorum_ack_age_ms: opt(s.quorum_ack_age_ms),
                quorum_lost: s.quorum_lost,
            })
        })
    }

    /// Resolves once a read on this member is linearizable (with the index
    /// applied); rejects NO_LEADER when that cannot be had in `timeoutMs`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn read_barrier<'e>(&self, env: &'e Env, timeout_ms: u32) -> Result<PromiseRaw<'e, f64>> {
        let node = self.node.clone();
        promise(
            env,
            "readBarrier",
            move || {
                Ok(async move {
                    node.read_barrier(Duration::from_millis(timeout_ms as u64))
                        .await
                })
            },
            |i| i as f64,
        )
    }

    /// Adds a node as a learner (resolves once that change committed); it
    /// becomes a voter in the background once caught up.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn add_node<'e>(
        &self,
        env: &'e Env,
        id: f64,
        raft_addr: String,
        api_addr: String,
    ) -> Result<PromiseRaw<'e, ()>> {
        let node = self.node.clone();
        promise(
            env,
            "addNode",
            move || {
                let id = node_id("node_id", id)?;
                Ok(async move {
                    node.add_node(
                        id,
                        Member {
                            api_addr,
                            raft_addr,
                            // add_node asks the node itself.
                            incarnation: 0,
                        },
                    )
                    .await
                })
            },
            |()| (),
        )
    }

    /// Removes a voter or learner (resolves once the change committed).
    #[napi(ts_return_type = "Promise<void>")]
    pub fn remove_node<'e>(&self, env: &'e Env, id: f64) -> Result<PromiseRaw<'e, ()>> {
        let node = self.node.clone();
        promise(
            env,
            "removeNode",
            move || {
                let id = node_id("node_id", id)?;
                Ok(async move { node.remove_node(id).await })
            },
            |()| (),
        )
    }

    /// Builds a Raft snapshot now.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn snapshot<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, ()>> {
        let node = self.node.clone();
        promise(
            env,
            "clusterSnapshot",
            move || Ok(async move { node.snapshot().await }),
            |()| (),
        )
    }

    /// Stops the Raft listener and core (idempotent); close the kernel
    /// afterwards.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn shutdown<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, ()>> {
        let node = self.node.clone();
        promise(
            env,
            "clusterShutdown",
            move || {
                Ok(async move {
                    node.shutdown().await;
                    Ok(())
                })
            },
            |()| (),
        )
    }
}
