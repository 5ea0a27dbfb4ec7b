//! What a member reports about its own standing, through `ClusterNode` on
//! sockets on 127.0.75.x: a leader whose followers are gone keeps its role
//! (openraft 0.9 steps down only on a higher term), so its status must say
//! that no quorum has acknowledged it within the lease.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raft::runtime;
use common::TempDir;
use valori_cluster::{ClusterNode, Member, NodeConfig, NodeId};
use valori_kernel::database::Database;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::StdVfs;

const PORT: u16 = 47750;
const ELECTION_TIMEOUT_MS: u64 = 200;

fn raft_addr(id: NodeId) -> String {
    format!("127.0.75.{id}:{PORT}")
}

fn config(id: NodeId, dir: &std::path::Path) -> NodeConfig {
    let members = (1..=3)
        .map(|m| {
            let member = Member {
                api_addr: format!("127.0.75.{m}:3000"),
                raft_addr: raft_addr(m),
                incarnation: 0,
            };
            (m, member)
        })
        .collect::<BTreeMap<_, _>>();
    NodeConfig {
        node_id: id,
        members,
        init: id == 1,
        raft_bind: raft_addr(id).parse().unwrap(),
        log_path: dir.join(format!("n{id}.log")),
        dir: dir.join(format!("n{id}.raft")),
        token: "node-status-token".into(),
        heartbeat_ms: 50,
        election_timeout_ms: ELECTION_TIMEOUT_MS,
        snapshot_every: 10_000,
        keep_logs: 100,
        max_frame_bytes: 1 << 20,
        max_snapshot_bytes: 1 << 24,
        commit_timeout_ms: 5_000,
    }
}

fn memory_db() -> Arc<Database> {
    Arc::new(
        Database::open(
            Arc::new(StdVfs),
            Limits::new(2, 1_000, 100, 100),
            IndexConfig::default(),
            &PersistConfig::default(),
        )
        .unwrap(),
    )
}

/// Polls `f` until it holds, for at most `within`.
async fn until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_leader_whose_followers_are_gone_reports_its_quorum_lost() {
    let dir = TempDir::new("node-status");
    runtime().block_on(async {
        let mut nodes = Vec::new();
        for id in 1..=3 {
            let node = ClusterNode::start(config(id, dir.path()), memory_db())
                .await
                .unwrap();
            nodes.push(node);
        }
        let wait = Duration::from_secs(20);
        until(wait, "a leader acknowledged by a quorum", || {
            nodes.iter().any(|n| {
                let s = n.status();
                s.is_leader && s.quorum_ack_age_ms.is_some()
            })
        })
        .await;
        let leader = nodes.iter().position(|n| n.status().is_leader).unwrap();
        let s = nodes[leader].status();
        assert!(!s.quorum_lost, "{s:?}");
        // Followers report no age and are never "quorum lost".
        for (i, n) in nodes.iter().enumerate() {
            if i != leader {
                let f = n.status();
                assert_eq!((f.quorum_ack_age_ms, f.quorum_lost), (None, false));
            }
        }

        // Both followers go: the leader cannot hear from a quorum again.
        let leader_node = nodes.remove(leader);
        for n in nodes.drain(..) {
            n.shutdown().await;
        }
        let lease = ELECTION_TIMEOUT_MS * 3 / 2;
        until(wait, "the leader to report its quorum lost", || {
            leader_node.status().quorum_lost
        })
        .await;
        let s = leader_node.status();
        // Still the leader in openraft's eyes: that is why the flag exists.
        assert!(s.is_leader, "{s:?}");
        if let Some(age) = s.quorum_ack_age_ms {
            assert!(age > lease, "age {age} ms within the lease of {lease} ms");
        }
        leader_node.shutdown().await;
    });
}
