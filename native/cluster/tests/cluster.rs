//! Three openraft nodes on our storage and our TCP network, over real
//! sockets on 127.0.77.x: election, replication, a killed leader, a restart
//! from disk, a lagging node brought up to date by a snapshot stream, and a
//! peer with the wrong token refused. Every check compares against the
//! registers the test itself computes from the commands it sent.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::raft::{
    all_applied, bind, leader_of as agreed_leader, raft_config, rebind, runtime, stop_raft, WAIT,
};
use common::{Registers, TempDir};
use openraft::{Raft, RaftNetwork, RaftNetworkFactory, ServerState};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use valori_cluster::{
    read_barrier, serve, Applier, Command, LogStore, Member, NetConfig, Network, NodeId,
    StateMachine, TypeConfig,
};
use valori_kernel::storage::StdVfs;

const TOKEN: &str = "cluster-test-token";
/// This file's addresses: 127.0.77.x.
const NET: u8 = 77;

struct Node {
    id: NodeId,
    raft: Raft<TypeConfig>,
    sm: StateMachine<Registers>,
    server: JoinHandle<()>,
    net: Network,
}

fn ip(id: NodeId) -> std::net::IpAddr {
    common::raft::ip(NET, id)
}

/// 24 KiB frames: small enough that catching up on 10 KB entries must be
/// split.
fn net_config(id: NodeId, dir: &Path, token: &str) -> NetConfig {
    common::raft::net_config(id, ip(id), dir, token, 24 << 10)
}

async fn start(id: NodeId, listener: TcpListener, dir: &Path) -> Node {
    let vfs = Arc::new(StdVfs);
    let log = LogStore::open(vfs.clone(), &dir.join("raft")).unwrap();
    let sm = StateMachine::open(vfs, &dir.join("sm"), Registers::default()).unwrap();
    let cfg = net_config(id, dir, TOKEN);
    let raft = Raft::new(
        id,
        raft_config(40),
        Network::new(cfg.clone()),
        log,
        sm.clone(),
    )
    .await
    .unwrap();
    let server = serve(listener, raft.clone(), cfg.clone());
    Node {
        id,
        raft,
        sm,
        server,
        net: Network::new(cfg),
    }
}

async fn stop(node: Node) {
    stop_raft(node.server, &node.raft).await;
}

/// The leader all of `nodes` agree on, other than `not`.
async fn leader_of(nodes: &[&Node], not: Option<NodeId>) -> NodeId {
    let rafts: Vec<_> = nodes.iter().map(|n| &n.raft).collect();
    agreed_leader(&rafts, not).await
}

/// Sends `k{i}=v{i}` for `range` to the leader; records them in `expected`
/// and checks each answer (the previous value) against it.
async fn write(
    leader: &Node,
    range: std::ops::Range<u32>,
    round: u32,
    expected: &mut BTreeMap<String, String>,
) {
    for i in range {
        let key = format!("k{}", i % 7);
        // Round 2's values are 10 KB: a restarted node's catch-up then
        // exceeds the 24 KiB frame limit, and openraft must split it.
        let pad = if round == 2 {
            "x".repeat(10_000)
        } else {
            String::new()
        };
        let value = format!("r{round}-{i}{pad}");
        let resp = leader
            .raft
            .client_write(Command(format!("{key}={value}").into_bytes()))
            .await
            .unwrap();
        let previous = expected.insert(key, value).unwrap_or_default();
        assert_eq!(resp.data.0, previous.into_bytes(), "answer to write {i}");
    }
}

async fn converged(nodes: &[&Node], expected: &BTreeMap<String, String>) {
    let rafts: Vec<_> = nodes.iter().map(|n| &n.raft).collect();
    all_applied(&rafts).await;
    for n in nodes {
        let map = n.sm.with_applier(|a| a.map.clone()).unwrap();
        assert_eq!(&map, expected, "node {}", n.id);
    }
}

#[test]
fn three_nodes_elect_replicate_survive_a_killed_leader_and_catch_up_by_snapshot() {
    let rt = runtime();
    rt.block_on(async {
        let root = TempDir::new("cluster");
        let dirs: Vec<PathBuf> = (1..=3).map(|i| root.path().join(format!("n{i}"))).collect();
        let (listeners, members) = bind(NET, 1..=3).await;
        let mut nodes = Vec::new();
        for (i, l) in listeners.into_iter().enumerate() {
            nodes.push(Some(start(i as u64 + 1, l, &dirs[i]).await));
        }
        nodes[0]
            .as_ref()
            .unwrap()
            .raft
            .initialize(members.clone())
            .await
            .unwrap();
        let all: Vec<&Node> = nodes.iter().map(|n| n.as_ref().unwrap()).collect();
        let leader = leader_of(&all, None).await;
        let mut expected = BTreeMap::new();
        let lead = all.iter().find(|n| n.id == leader).unwrap();
        write(lead, 0..5, 1, &mut expected).await;
        converged(&all, &expected).await;
        drop(all);

        // Kill the leader; the other two elect a new one and go on.
        let old = nodes[leader as usize - 1].take().unwrap();
        stop(old).await;
        let rest: Vec<&Node> = nodes.iter().flatten().collect();
        let new_leader = leader_of(&rest, Some(leader)).await;
        assert_ne!(new_leader, leader);
        let lead = rest.iter().find(|n| n.id == new_leader).unwrap();
        write(lead, 5..25, 2, &mut expected).await;
        converged(&rest, &expected).await;
        drop(rest);

        // The killed node restarts from its files and catches up from the
        // leader's log (no snapshot yet: fewer than 40 entries since none),
        // 200 KB of entries through 24 KiB frames (two entries fit).
        let l = rebind(&members[&leader]).await;
        nodes[leader as usize - 1] = Some(start(leader, l, &dirs[leader as usize - 1]).await);
        let all: Vec<&Node> = nodes.iter().flatten().collect();
        converged(&all, &expected).await;
        drop(all);

        // A follower stops; the leader writes past two snapshots and purges
        // its log, so the follower can only come back through a snapshot.
        let lagging = (1..=3).find(|id| *id != new_leader).unwrap();
        let lag = nodes[lagging as usize - 1].take().unwrap();
        stop(lag).await;
        let rest: Vec<&Node> = nodes.iter().flatten().collect();
        let lead = rest.iter().find(|n| n.id == new_leader).unwrap();
        write(lead, 25..125, 3, &mut expected).await;
        let m = lead
            .raft
            .wait(Some(WAIT))
            .metrics(
                |m| m.purged.is_some_and(|p| p.index > 100),
                "leader purged its log",
            )
            .await
            .unwrap();
        let purged = m.purged.unwrap().index;
        drop(rest);
        let l = rebind(&members[&lagging]).await;
        nodes[lagging as usize - 1] = Some(start(lagging, l, &dirs[lagging as usize - 1]).await);
        let all: Vec<&Node> = nodes.iter().flatten().collect();
        converged(&all, &expected).await;
        let back = all.iter().find(|n| n.id == lagging).unwrap();
        let snap = back.raft.metrics().borrow().snapshot;
        assert!(
            snap.is_some_and(|s| s.index >= purged),
            "the lagging node installed a snapshot at or past {purged}: {snap:?}"
        );
        // Linearizable reads: a write the leader acknowledged is visible on
        // a follower once its read barrier returned, however far behind the
        // follower's own apply was.
        // The followers apply slowly (an injected 100 ms per entry), so a
        // read that did not wait would see the old value.
        let lead = all.iter().find(|n| n.id == new_leader).unwrap();
        for n in all.iter().filter(|n| n.id != new_leader) {
            n.sm.with_applier(|a| a.slow_ms.store(100, std::sync::atomic::Ordering::Relaxed))
                .unwrap();
        }
        let visible: Vec<_> = all
            .iter()
            .map(|n| n.sm.with_applier(|a| a.visible.clone()).unwrap())
            .collect();
        for (i, n) in all.iter().enumerate() {
            // Three writes, so a slow follower is 300 ms behind the last.
            let mut last = None;
            let mut value = String::new();
            for j in 0..3 {
                value = format!("read-{i}-{j}");
                last = Some(
                    lead.raft
                        .client_write(Command(format!("fresh={value}").into_bytes()))
                        .await
                        .unwrap(),
                );
            }
            let resp = last.unwrap();
            expected.insert("fresh".into(), value.clone());
            let at = read_barrier(&n.raft, &n.net, WAIT).await.unwrap();
            assert!(
                at >= resp.log_id.index,
                "node {}: barrier at {at} < {}",
                n.id,
                resp.log_id.index
            );
            let seen = visible[i].lock().unwrap().get("fresh").cloned();
            assert_eq!(seen.as_deref(), Some(value.as_str()), "node {}", n.id);
        }
        for n in &all {
            n.sm.with_applier(|a| a.slow_ms.store(0, std::sync::atomic::Ordering::Relaxed))
                .unwrap();
        }
        converged(&all, &expected).await;
        let states: BTreeSet<Vec<u8>> = all
            .iter()
            .map(|n| n.sm.with_applier(|a| a.state_bytes().unwrap()).unwrap())
            .collect();
        assert_eq!(states.len(), 1, "every node holds the same state bytes");
        drop(all);
        for n in nodes.into_iter().flatten() {
            stop(n).await;
        }
    });
}

#[test]
fn a_peer_with_the_wrong_token_is_refused() {
    let rt = runtime();
    rt.block_on(async {
        let root = TempDir::new("token");
        let dir = root.path().to_path_buf();
        let l = TcpListener::bind(SocketAddr::new(ip(9), 0)).await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let node = start(9, l, &dir).await;
        let member = Member {
            api_addr: String::new(),
            raft_addr: addr,
            incarnation: 0,
        };
        let vote = openraft::raft::VoteRequest::new(openraft::Vote::new(5, 8), None);
        let option = openraft::network::RPCOption::new(Duration::from_secs(5));
        let mut bad = Network::new(net_config(8, &dir, "wrong-token"));
        let mut peer = bad.new_client(9, &member).await;
        let err = peer.vote(vote.clone(), option.clone()).await.unwrap_err();
        assert!(err.to_string().contains("bad cluster token"), "{err}");
        let mut good = Network::new(net_config(8, &dir, TOKEN));
        let mut peer = good.new_client(9, &member).await;
        let answer = peer.vote(vote.clone(), option.clone()).await.unwrap();
        assert_eq!(
            answer.vote.leader_id().term,
            5,
            "the node answered the vote request"
        );

        // Hostile bytes, each on its own connection: a frame declaring
        // 4 GiB; a hello above 4 KiB (refused before authentication though
        // below the frame limit); garbage instead of a hello; an unknown
        // frame kind, an undecodable vote and a snapshot announced above the
        // limit after a good hello. Each connection is closed by the node,
        // which keeps serving.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let frame = |kind: u8, body: &[u8]| {
            let mut f = (body.len() as u32).to_le_bytes().to_vec();
            f.push(kind);
            f.extend_from_slice(body);
            f
        };
        // postcard: a string is a varint length then its bytes; a u64 a varint.
        let hello = [&[TOKEN.len() as u8][..], TOKEN.as_bytes(), &[8]].concat();
        let big_snapshot = {
            // vote (term, node, committed), then meta: last_log_id None,
            // membership log id None, empty configs and nodes, empty id,
            // then the size as a varint: 2^40.
            let mut b = vec![5, 8, 0, 0, 0, 0, 0, 0];
            b.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
            b
        };
        let attacks: Vec<(&str, Vec<u8>)> = vec![
            (
                "4 GiB length",
                [u32::MAX.to_le_bytes().as_slice(), &[0]].concat(),
            ),
            (
                "20 KiB hello",
                [(20u32 << 10).to_le_bytes().as_slice(), &[0]].concat(),
            ),
            ("garbage hello", frame(0, &[0xff; 40])),
            ("unknown kind", [frame(0, &hello), frame(77, b"?")].concat()),
            (
                "bad vote",
                [frame(0, &hello), frame(2, &[0xff; 9])].concat(),
            ),
            (
                "huge snapshot",
                [frame(0, &hello), frame(3, &big_snapshot)].concat(),
            ),
        ];
        for (what, bytes) in &attacks {
            let mut s = tokio::net::TcpStream::connect(&member.raft_addr)
                .await
                .unwrap();
            s.write_all(bytes).await.unwrap();
            let mut rest = Vec::new();
            let read = tokio::time::timeout(WAIT, s.read_to_end(&mut rest)).await;
            assert!(read.is_ok(), "{what}: the node closed the connection");
        }
        let incoming = dir.join("incoming");
        let files = std::fs::read_dir(&incoming).map(|d| d.count()).unwrap_or(0);
        assert_eq!(
            files, 0,
            "no snapshot file was started for the refused announcement"
        );
        let answer = peer.vote(vote, option).await.unwrap();
        assert_eq!(
            answer.vote.leader_id().term,
            5,
            "still serving after the attacks"
        );
        stop(node).await;
    });
}

#[test]
fn a_cluster_grows_from_one_node_and_shrinks_again() {
    let rt = runtime();
    rt.block_on(async {
        let root = TempDir::new("membership");
        let (listeners, members) = bind(NET, 11..=13).await;
        let mut nodes = Vec::new();
        for (id, l) in (11..=13u64).zip(listeners) {
            nodes.push(start(id, l, &root.path().join(format!("n{id}"))).await);
        }
        // One voter, then two learners that catch up, then all three vote.
        let first = &nodes[0];
        first
            .raft
            .initialize(BTreeMap::from([(11u64, members[&11].clone())]))
            .await
            .unwrap();
        first
            .raft
            .wait(Some(WAIT))
            .state(ServerState::Leader, "node 11 leads alone")
            .await
            .unwrap();
        let mut expected = BTreeMap::new();
        write(first, 0..10, 1, &mut expected).await;
        for id in [12u64, 13] {
            first
                .raft
                .add_learner(id, members[&id].clone(), true)
                .await
                .unwrap();
        }
        first
            .raft
            .change_membership(BTreeSet::from([11u64, 12, 13]), false)
            .await
            .unwrap();
        write(first, 10..20, 2, &mut expected).await;
        let all: Vec<&Node> = nodes.iter().collect();
        converged(&all, &expected).await;
        for n in &all {
            let voters: BTreeSet<u64> = n
                .raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .voter_ids()
                .collect();
            assert_eq!(voters, BTreeSet::from([11, 12, 13]), "node {}", n.id);
        }
        // Node 13 leaves: the two others go on without it.
        first
            .raft
            .change_membership(BTreeSet::from([11u64, 12]), false)
            .await
            .unwrap();
        let removed = nodes.pop().unwrap();
        stop(removed).await;
        write(&nodes[0], 20..30, 3, &mut expected).await;
        let two: Vec<&Node> = nodes.iter().collect();
        converged(&two, &expected).await;
        let voters: BTreeSet<u64> = nodes[1]
            .raft
            .metrics()
            .borrow()
            .membership_config
            .membership()
            .voter_ids()
            .collect();
        assert_eq!(voters, BTreeSet::from([11, 12]));
        for n in nodes {
            stop(n).await;
        }
    });
}
