//! The kernel replicated through Raft: three nodes whose state machines are
//! kernel databases and whose writes go through the leader's Raft. Outcomes
//! (ids, errors, deduplication) and state proofs must equal those of one
//! standalone database fed the same writes; a follower stopped while the
//! leader snapshots and purges comes back through a kernel snapshot; writes
//! on a follower are refused.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::raft::{
    all_applied, bind, ip, leader_of, net_config, raft_config, rebind, runtime, stop_raft, WAIT,
};
use common::TempDir;
use openraft::storage::RaftStateMachine;
use openraft::Raft;
use openraft::{CommittedLeaderId, EntryPayload, LogId};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use valori_cluster::kernel::{encode_batch, KernelApplier, RaftProposer};
use valori_cluster::{serve, Command, Entry, LogStore, Network, NodeId, StateMachine, TypeConfig};
use valori_kernel::command::encode_write;
use valori_kernel::database::{CollectionSpec, Database, WriteOpts};
use valori_kernel::durable::PersistConfig;
use valori_kernel::entry::{CollectionConfig, Metric};
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::Write;
use valori_kernel::state::Limits;
use valori_kernel::storage::vfs::Unsynced;
use valori_kernel::storage::{SimVfs, StdVfs};

/// This file's addresses: 127.0.78.x.
const NET: u8 = 78;

struct Node {
    id: NodeId,
    raft: Raft<TypeConfig>,
    db: Arc<Database>,
    server: JoinHandle<()>,
}

fn memory_db() -> Arc<Database> {
    Arc::new(
        Database::open(
            Arc::new(StdVfs),
            Limits::new(2, 10_000, 1_000, 1_000),
            IndexConfig::default(),
            &PersistConfig::default(),
        )
        .unwrap(),
    )
}

/// A member's kernel: in memory, with its derived event log (unsynced,
/// made again at every start, as the binding opens it).
fn member_db(dir: &Path) -> Arc<Database> {
    std::fs::create_dir_all(dir).unwrap();
    let log = dir.join("events.log");
    let _ = std::fs::remove_file(&log);
    let cfg = PersistConfig {
        event_log: Some(log),
        ..PersistConfig::default()
    };
    Arc::new(
        Database::open(
            Arc::new(Unsynced(Arc::new(StdVfs))),
            Limits::new(2, 10_000, 1_000, 1_000),
            IndexConfig::default(),
            &cfg,
        )
        .unwrap(),
    )
}

async fn start(id: NodeId, listener: TcpListener, dir: &Path) -> Node {
    let vfs = Arc::new(StdVfs);
    let db = member_db(dir);
    let log = LogStore::open(vfs.clone(), &dir.join("raft")).unwrap();
    let sm = StateMachine::open(vfs, &dir.join("sm"), KernelApplier::new(db.clone())).unwrap();
    let cfg = net_config(id, ip(NET, id), dir, "kernel-cluster", 1 << 20);
    let raft = Raft::new(id, raft_config(30), Network::new(cfg.clone()), log, sm)
        .await
        .unwrap();
    db.set_proposer(Arc::new(RaftProposer::new(
        raft.clone(),
        db.engine.clone(),
        tokio::runtime::Handle::current(),
        id,
        std::time::Duration::from_secs(10),
    )))
    .unwrap();
    let server = serve(listener, raft.clone(), cfg);
    Node {
        id,
        raft,
        db,
        server,
    }
}

async fn stop(node: Node) {
    stop_raft(node.server, &node.raft).await;
    node.db.close();
}

/// What a write answered: its ids and whether it was a duplicate, or its
/// error code.
type Answer = Result<(Vec<u32>, bool), String>;

fn answer(r: Result<valori_kernel::ops::Outcome, valori_kernel::KernelError>) -> Answer {
    r.map(|o| (o.ids, o.deduplicated))
        .map_err(|e| e.code().to_string())
}

fn key(n: u8) -> Option<WriteOpts> {
    Some(WriteOpts {
        key: Some([n; 16]),
        item_keys: Vec::new(),
    })
}

/// A mixed workload; `round` varies the data so rounds differ.
async fn workload(db: &Database, round: u32) -> Vec<Answer> {
    let mut out = Vec::new();
    let r = round as f32;
    let name = format!("docs{round}");
    let spec = CollectionSpec {
        name: name.clone(),
        dim: 3,
        metric: None,
        index: Some("hnsw".into()),
        quant: None,
        max_records: None,
        hnsw_m: None,
        ..Default::default()
    };
    out.push(answer(db.create_collection(spec, None).await));
    for i in 0..8 {
        let v = vec![r + i as f32 * 0.5, -(i as f32)];
        out.push(answer(db.insert("default", v, i, None).await));
    }
    out.push(answer(db.insert(&name, vec![1.0, 2.0, r], 0, None).await));
    out.push(answer(
        db.insert_batch(
            "default",
            (0..10).map(|i| i as f32 + r).collect::<Vec<_>>(),
            5,
            None,
        )
        .await,
    ));
    out.push(answer(db.delete_record("default", round, None).await));
    out.push(answer(db.delete_record("default", 99_999, None).await));
    out.push(answer(
        db.soft_delete_record("default", round + 2, None).await,
    ));
    out.push(answer(
        db.set_metadata(
            "default",
            format!("note{round}"),
            format!("\"v{round}\""),
            None,
        )
        .await,
    ));
    let node = db.create_node("default", 1, Some(round + 3), None).await;
    out.push(answer(node.clone()));
    if let Ok(n) = node {
        out.push(answer(
            db.create_edge("default", n.ids[0], n.ids[0], 2, None).await,
        ));
    }
    // The same key and request twice: the second is a duplicate with the
    // same ids; the same key with another request is refused.
    out.push(answer(
        db.insert("default", vec![7.0, r], 1, key(round as u8))
            .await,
    ));
    out.push(answer(
        db.insert("default", vec![7.0, r], 1, key(round as u8))
            .await,
    ));
    out.push(answer(
        db.insert("default", vec![8.0, r], 1, key(round as u8))
            .await,
    ));
    out
}

async fn leader(nodes: &[&Node]) -> NodeId {
    let rafts: Vec<_> = nodes.iter().map(|n| &n.raft).collect();
    leader_of(&rafts, None).await
}

async fn converged(nodes: &[&Node], expected: &(u64, String)) {
    let rafts: Vec<_> = nodes.iter().map(|n| &n.raft).collect();
    all_applied(&rafts).await;
    for n in nodes {
        assert_eq!(&n.db.state_proof(None).unwrap(), expected, "node {}", n.id);
    }
    // Each member's event log holds the same entries (the leader's commit
    // times, not each member's clock): the same chain at the same height.
    let chains: Vec<_> = nodes
        .iter()
        .map(|n| {
            let p =
                n.db.log_proof()
                    .unwrap()
                    .expect("a member has an event log");
            (p.height, p.chain_hex)
        })
        .collect();
    assert_eq!(chains[0].0, expected.0, "event log height");
    assert!(chains.iter().all(|c| *c == chains[0]), "{chains:?}");
}

#[test]
fn kernel_writes_through_raft_match_a_standalone_kernel_on_every_node() {
    let rt = runtime();
    rt.block_on(async {
        let root = TempDir::new("kernel-cluster");
        let dirs: Vec<_> = (1..=3).map(|i| root.path().join(format!("n{i}"))).collect();
        let (listeners, members) = bind(NET, 1..=3).await;
        let mut nodes: Vec<Option<Node>> = Vec::new();
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
        let reference = memory_db();

        let all: Vec<&Node> = nodes.iter().flatten().collect();
        let lead = leader(&all).await;
        let lead_node = all.iter().find(|n| n.id == lead).unwrap();
        let follower = all.iter().find(|n| n.id != lead).unwrap();
        // A follower refuses writes (it is not the leader) and changes nothing.
        let refused = follower
            .db
            .insert("default", vec![1.0, 1.0], 0, None)
            .await
            .unwrap_err();
        assert_eq!(refused.code(), "NOT_LEADER", "{refused}");
        assert!(
            refused.to_string().contains(&format!("node {lead}")),
            "{refused}"
        );
        // A cluster member applies only what Raft commits, not an SSE stream.
        let stream = follower
            .db
            .apply_replicated(1, vec![1, 2, 3])
            .await
            .unwrap_err();
        assert_eq!(stream.code(), "INVALID_ARGUMENT", "{stream}");
        assert_eq!(follower.db.height(), 0, "nothing was applied");
        for round in 0..2 {
            let got = workload(&lead_node.db, round).await;
            let want = workload(&reference, round).await;
            assert_eq!(got, want, "round {round}");
        }
        let expected = reference.state_proof(None).unwrap();
        converged(&all, &expected).await;
        drop(all);

        // A follower stops; the leader writes past snapshots and purges, so
        // the follower comes back through a kernel snapshot.
        let lagging = (1..=3).find(|id| *id != lead).unwrap();
        stop(nodes[lagging as usize - 1].take().unwrap()).await;
        {
            let rest: Vec<&Node> = nodes.iter().flatten().collect();
            let lead_node = rest.iter().find(|n| n.id == lead).unwrap();
            for round in 2..5 {
                let got = workload(&lead_node.db, round).await;
                let want = workload(&reference, round).await;
                assert_eq!(got, want, "round {round}");
            }
            lead_node
                .raft
                .wait(Some(WAIT))
                .metrics(|m| m.purged.is_some(), "leader purged")
                .await
                .unwrap();
        }
        let l = rebind(&members[&lagging]).await;
        nodes[lagging as usize - 1] = Some(start(lagging, l, &dirs[lagging as usize - 1]).await);
        let expected = reference.state_proof(None).unwrap();
        let all: Vec<&Node> = nodes.iter().flatten().collect();
        converged(&all, &expected).await;
        let back = all.iter().find(|n| n.id == lagging).unwrap();
        assert!(
            back.raft.metrics().borrow().snapshot.is_some(),
            "the follower installed a snapshot"
        );
        // Snapshots trimmed the leader's derived event log (to the one before
        // the newest), and the follower's starts at the snapshot it installed.
        let lead_log = all
            .iter()
            .find(|n| n.id == lead)
            .unwrap()
            .db
            .log_proof()
            .unwrap()
            .unwrap();
        assert!(lead_log.first_seq > 1, "{lead_log:?}");
        let back_log = back.db.log_proof().unwrap().unwrap();
        assert!(back_log.first_seq > 1, "{back_log:?}");
        drop(all);
        for n in nodes.into_iter().flatten() {
            stop(n).await;
        }
    });
}

/// A Raft command creating collection `name` (dim 2).
fn create(name: &str) -> Vec<u8> {
    let w = Write::CreateCollection {
        name: name.into(),
        config: CollectionConfig {
            dim: 2,
            metric: Metric::SquaredL2,
            max_records: None,
            index: IndexConfig::default(),
        },
        opts: Default::default(),
    };
    encode_batch(1_700_000_000_000, &[&encode_write(&w).unwrap()])
}

fn entry(index: u64, command: Vec<u8>) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Command(command)),
    }
}

#[test]
fn a_member_whose_derived_event_log_fails_stops_applying_instead_of_diverging() {
    let rt = runtime();
    let root = TempDir::new("kernel-derived-fails");
    let sim = SimVfs::new();
    let db = Arc::new(
        Database::open(
            Arc::new(Unsynced(Arc::new(sim.clone()))),
            Limits::new(2, 1_000, 100, 100),
            IndexConfig::default(),
            &PersistConfig {
                event_log: Some("/d/events.log".into()),
                ..PersistConfig::default()
            },
        )
        .unwrap(),
    );
    let mut sm = StateMachine::open(
        Arc::new(StdVfs),
        &root.path().join("sm"),
        KernelApplier::new(db.clone()),
    )
    .unwrap();
    let answers = rt.block_on(sm.apply([entry(1, create("a"))])).unwrap();
    assert_eq!(answers.len(), 1);
    assert!(db.list_collections().unwrap().iter().any(|c| c.name == "a"));
    // The disk under the derived log stops taking writes.
    sim.freeze_after(sim.mutations());
    let err = rt
        .block_on(sm.apply([entry(2, create("b"))]))
        .expect_err("the state machine stops");
    assert!(err.to_string().contains("can no longer apply"), "{err}");
    // The kernel rolled the write back: it was not counted as applied with
    // a state that lacks it.
    assert!(!db.list_collections().unwrap().iter().any(|c| c.name == "b"));
    db.close();
}
