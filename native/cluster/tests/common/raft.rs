//! Fixtures for tests that run Raft nodes over real sockets: addresses,
//! configs, listeners, the agreed leader, waiting for every node to apply.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use openraft::{Config, Raft, ServerState, SnapshotPolicy};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use valori_cluster::{Member, NetConfig, NodeId, TypeConfig};

/// How long any wait on the cluster may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// 127.0.`net`.`id`: each test file uses its own `net`.
pub fn ip(net: u8, id: NodeId) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, net, id as u8))
}

pub fn net_config(
    id: NodeId,
    ip: IpAddr,
    dir: &Path,
    token: &str,
    max_frame_bytes: u32,
) -> NetConfig {
    NetConfig {
        node_id: id,
        incarnation: 0,
        token: token.into(),
        max_frame_bytes,
        source_ip: Some(ip),
        incoming_dir: dir.join("incoming"),
        max_snapshot_bytes: 64 << 20,
    }
}

/// Test timings (elections in 0.5–1 s) and a snapshot every `snapshot_every`
/// entries that purges everything it covers.
pub fn raft_config(snapshot_every: u64) -> Arc<Config> {
    let c = Config {
        heartbeat_interval: 100,
        election_timeout_min: 500,
        election_timeout_max: 1000,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(snapshot_every),
        max_in_snapshot_log_to_keep: 0,
        purge_batch_size: 1,
        ..Default::default()
    };
    Arc::new(c.validate().unwrap())
}

/// A multi-threaded runtime with two workers, as on the 2-core machines.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A listener on an ephemeral port of each node's address, and the
/// membership naming them.
pub async fn bind(
    net: u8,
    ids: impl IntoIterator<Item = NodeId>,
) -> (Vec<TcpListener>, BTreeMap<NodeId, Member>) {
    let mut listeners = Vec::new();
    let mut members = BTreeMap::new();
    for id in ids {
        let l = TcpListener::bind(SocketAddr::new(ip(net, id), 0))
            .await
            .unwrap();
        members.insert(
            id,
            Member {
                api_addr: format!("{}:3000", ip(net, id)),
                raft_addr: l.local_addr().unwrap().to_string(),
                incarnation: 0,
            },
        );
        listeners.push(l);
    }
    (listeners, members)
}

/// A listener again on `member`'s Raft address (a restarted node).
pub async fn rebind(member: &Member) -> TcpListener {
    let addr: SocketAddr = member.raft_addr.parse().unwrap();
    TcpListener::bind(addr).await.unwrap()
}

/// Stops a node's server and its Raft.
pub async fn stop_raft(server: JoinHandle<()>, raft: &Raft<TypeConfig>) {
    server.abort();
    let _ = server.await;
    raft.shutdown().await.unwrap();
}

/// The leader every one of `rafts` agrees on, other than `not`.
pub async fn leader_of(rafts: &[&Raft<TypeConfig>], not: Option<NodeId>) -> NodeId {
    let m = rafts[0]
        .wait(Some(WAIT))
        .metrics(
            |m| {
                m.current_leader.is_some_and(|l| Some(l) != not)
                    && m.state != ServerState::Candidate
            },
            "a leader",
        )
        .await
        .unwrap();
    let leader = m.current_leader.unwrap();
    for r in rafts {
        r.wait(Some(WAIT))
            .current_leader(leader, "all agree on the leader")
            .await
            .unwrap();
    }
    leader
}

/// Waits until every one of `rafts` has applied the longest log among them.
pub async fn all_applied(rafts: &[&Raft<TypeConfig>]) {
    let last = rafts
        .iter()
        .map(|r| r.metrics().borrow().last_log_index)
        .max()
        .unwrap();
    for r in rafts {
        r.wait(Some(WAIT))
            .applied_index_at_least(last, "applied everywhere")
            .await
            .unwrap();
    }
}
