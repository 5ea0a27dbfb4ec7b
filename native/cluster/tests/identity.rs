//! Node identities through `ClusterNode` on sockets on 127.0.79.x: the
//! membership records each member's incarnation; a member whose files were
//! wiped comes back with a new one and is kept out (no entries, no votes)
//! while the others go on committing; add-node checks the id the node
//! answers with.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raft::runtime;
use common::TempDir;
use valori_cluster::identity::Identity;
use valori_cluster::network::identify;
use valori_cluster::{ClusterNode, Member, NetConfig, NodeConfig, NodeId};
use valori_kernel::database::Database;
use valori_kernel::durable::PersistConfig;
use valori_kernel::index::IndexConfig;
use valori_kernel::state::Limits;
use valori_kernel::storage::StdVfs;

const PORT: u16 = 47910;
const TOKEN: &str = "identity-test-token";

fn raft_addr(id: NodeId) -> String {
    format!("127.0.79.{id}:{PORT}")
}

fn config(id: NodeId, dir: &Path) -> NodeConfig {
    let members = (1..=3)
        .map(|m| {
            let member = Member {
                api_addr: format!("127.0.79.{m}:3000"),
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
        token: TOKEN.into(),
        heartbeat_ms: 50,
        election_timeout_ms: 200,
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

async fn until(within: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn asker() -> Arc<NetConfig> {
    Arc::new(NetConfig {
        node_id: 99,
        incarnation: 0,
        token: TOKEN.into(),
        max_frame_bytes: 1 << 20,
        source_ip: None,
        incoming_dir: std::env::temp_dir(),
        max_snapshot_bytes: 0,
    })
}

#[test]
fn a_wiped_member_is_kept_out_and_add_node_checks_the_answered_id() {
    let dir = TempDir::new("identity");
    runtime().block_on(async {
        let wait = Duration::from_secs(20);
        let mut nodes = Vec::new();
        for id in 1..=3 {
            nodes.push(
                ClusterNode::start(config(id, dir.path()), memory_db())
                    .await
                    .unwrap(),
            );
        }
        until(wait, "a leader with a quorum", || {
            nodes.iter().any(|n| {
                let s = n.status();
                s.is_leader && !s.quorum_lost
            })
        })
        .await;
        let leader = nodes.iter().position(|n| n.status().is_leader).unwrap();

        // The membership holds each node's own incarnation, as its identity file has it.
        let mut incarnations = BTreeMap::new();
        for id in 1..=3u64 {
            let own = Identity::open(
                Arc::new(StdVfs),
                &dir.path().join(format!("n{id}.raft")),
                id,
            )
            .unwrap();
            let (answered, inc) = identify(&raft_addr(id), asker(), Duration::from_secs(5))
                .await
                .unwrap();
            assert_eq!((answered, inc), (id, own.incarnation));
            incarnations.insert(id, inc);
        }
        let metrics = nodes[leader].raft().metrics().borrow().clone();
        for (id, m) in metrics.membership_config.membership().nodes() {
            assert_eq!(m.incarnation, incarnations[id], "node {id}");
        }
        // A wrong token gets no answer.
        let mut bad = (*asker()).clone();
        bad.token = "not-the-token".into();
        assert!(
            identify(&raft_addr(1), Arc::new(bad), Duration::from_secs(5))
                .await
                .is_err()
        );

        // add-node: the node at that address must answer with the id asked for.
        let other = (leader + 1) % 3;
        let other_id = other as NodeId + 1;
        let e = nodes[leader]
            .add_node(
                5,
                Member {
                    api_addr: "127.0.79.5:3000".into(),
                    raft_addr: raft_addr(other_id),
                    incarnation: 0,
                },
            )
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("is node {other_id}, not node 5")),
            "{e}"
        );
        assert_eq!(nodes[leader].status().members.len(), 3);

        // Wipe one follower's files and start it again under its old id.
        let wiped = (0..3).find(|i| *i != leader).unwrap();
        let wiped_id = wiped as NodeId + 1;
        let survivor = (0..3).find(|i| *i != leader && *i != wiped).unwrap();
        let n = nodes.remove(wiped);
        n.shutdown().await;
        drop(n);
        std::fs::remove_dir_all(dir.path().join(format!("n{wiped_id}.raft"))).unwrap();
        std::fs::remove_file(dir.path().join(format!("n{wiped_id}.log"))).unwrap();
        let fresh = ClusterNode::start(config(wiped_id, dir.path()), memory_db())
            .await
            .unwrap();
        let (_, new_inc) = identify(&raft_addr(wiped_id), asker(), Duration::from_secs(5))
            .await
            .unwrap();
        assert_ne!(new_inc, incarnations[&wiped_id]);

        // The others keep committing; the wiped node receives nothing.
        let (leader, survivor) = if leader > wiped {
            (leader - 1, survivor)
        } else {
            (leader, survivor)
        };
        let survivor = if survivor > wiped {
            survivor - 1
        } else {
            survivor
        };
        let leader_db = nodes[leader].database().clone();
        for i in 0..10 {
            leader_db
                .insert("default", vec![i as f32, 1.0], 0, None)
                .await
                .unwrap();
        }
        let last = nodes[leader].status().last_log_index;
        until(wait, "the other follower to apply the new entries", || {
            nodes[survivor].status().last_applied_index >= last
        })
        .await;
        let s = fresh.status();
        assert_eq!(s.last_applied_index, None, "{s:?}");
        assert_eq!(s.last_log_index, None, "{s:?}");
        assert!(!s.is_leader);
        // ... and cannot disturb the cluster: the leader still leads with a quorum.
        let l = nodes[leader].status();
        assert!(l.is_leader && !l.quorum_lost, "{l:?}");

        fresh.shutdown().await;
        for n in nodes {
            n.shutdown().await;
        }
    });
}

#[test]
fn initialization_tells_the_operator_when_another_node_answers_at_a_members_address() {
    let dir = TempDir::new("identity-notice");
    runtime().block_on(async {
        // Addresses of their own (127.0.78.x): the test above runs alongside.
        let addr = |n: NodeId| format!("127.0.78.{n}:{PORT}");
        let placed = |mut c: NodeConfig, bind: String| {
            for (id, m) in c.members.iter_mut() {
                m.raft_addr = addr(*id);
            }
            c.raft_bind = bind.parse().unwrap();
            c
        };
        let one = ClusterNode::start(placed(config(1, dir.path()), addr(1)), memory_db())
            .await
            .unwrap();
        // Node 3 listens where the members list puts node 2.
        let three = ClusterNode::start(placed(config(3, dir.path()), addr(2)), memory_db())
            .await
            .unwrap();
        let mut seen = Vec::new();
        until(Duration::from_secs(20), "a notice from node 1", || {
            seen.extend(one.take_notices());
            !seen.is_empty()
        })
        .await;
        let want = format!("names node 2 at {}, but node 3 answers there", addr(2));
        assert!(seen.iter().any(|n| n.contains(&want)), "{seen:?}");
        // Node 2 never answered: the cluster stays uninitialized.
        assert_eq!(one.status().current_leader, None);
        one.shutdown().await;
        three.shutdown().await;
    });
}
