//! The state machine's snapshot file: a built snapshot reopens to the same
//! state and meta; a damaged one is refused; applies go on while a snapshot
//! is encoded and written (the lock is held only to freeze the state); a
//! peer's file is checked against what it announced before install.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use common::{Registers, TempDir};
use openraft::storage::{RaftSnapshotBuilder, RaftStateMachine};
use openraft::{CommittedLeaderId, EntryPayload, LogId, Membership};
use valori_cluster::{
    check_received, Applier, Command, Entry, Frozen, Member, StateImage, StateMachine,
};
use valori_kernel::storage::StdVfs;

fn entry(index: u64, text: &str) -> Entry {
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Normal(Command(text.as_bytes().to_vec())),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn open<A: Applier>(dir: &TempDir, applier: A) -> StateMachine<A> {
    StateMachine::open(Arc::new(StdVfs), &dir.path().join("sm"), applier).unwrap()
}

#[test]
fn a_built_snapshot_reopens_to_the_same_state_and_a_damaged_one_is_refused() {
    let rt = rt();
    let dir = TempDir::new("snapshot-file");
    let mut sm = open(&dir, Registers::default());
    let built = rt.block_on(async {
        sm.apply((1..=40).map(|i| entry(i, &format!("k{}={}", i % 7, i))))
            .await
            .unwrap();
        sm.get_snapshot_builder()
            .await
            .build_snapshot()
            .await
            .unwrap()
    });
    assert_eq!(built.meta.last_log_id.map(|l| l.index), Some(40));
    let want = sm.with_applier(|a| a.map.clone()).unwrap();
    drop(sm);

    let mut again = open(&dir, Registers::default());
    assert_eq!(again.with_applier(|a| a.map.clone()).unwrap(), want);
    let (applied, _) = rt.block_on(again.applied_state()).unwrap();
    assert_eq!(applied, built.meta.last_log_id);
    let current = rt.block_on(again.get_current_snapshot()).unwrap().unwrap();
    assert_eq!(current.meta, built.meta);
    drop(again);

    // A peer's file is checked against what it announced before install.
    let path = dir.path().join("sm").join("snapshot.bin");
    assert_eq!(check_received(&path, &built.meta), Ok(()));
    let mut other = built.meta.clone();
    other.last_log_id = Some(LogId::new(CommittedLeaderId::new(1, 1), 39));
    let refused = check_received(&path, &other).unwrap_err();
    assert!(refused.contains("not the announced"), "{refused}");

    // One byte of the state flipped: the digest no longer matches.
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 40;
    bytes[at] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = StateMachine::open(
        Arc::new(StdVfs),
        &dir.path().join("sm"),
        Registers::default(),
    )
    .err()
    .expect("a damaged snapshot is refused");
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    let refused = check_received(&path, &built.meta).unwrap_err();
    assert!(refused.contains("digest mismatch"), "{refused}");
}

/// An applier whose frozen state waits, when encoded, until the test says go.
struct Gated {
    inner: Registers,
    gate: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
    encoding: Arc<Mutex<Option<mpsc::Sender<()>>>>,
}

struct GatedFrozen {
    bytes: Vec<u8>,
    gate: Option<mpsc::Receiver<()>>,
    encoding: Option<mpsc::Sender<()>>,
}

impl Frozen for GatedFrozen {
    fn encode(self: Box<Self>) -> Result<Box<dyn StateImage>, String> {
        if let Some(tx) = &self.encoding {
            tx.send(()).unwrap();
        }
        if let Some(rx) = &self.gate {
            rx.recv().unwrap();
        }
        Ok(Box::new(self.bytes))
    }
}

impl Applier for Gated {
    fn apply(&mut self, index: u64, command: &[u8]) -> Vec<u8> {
        self.inner.apply(index, command)
    }
    fn state_bytes(&self) -> Result<Vec<u8>, String> {
        self.inner.state_bytes()
    }
    fn freeze(&self) -> Result<Box<dyn Frozen>, String> {
        Ok(Box::new(GatedFrozen {
            bytes: self.inner.state_bytes()?,
            gate: self.gate.lock().unwrap().take(),
            encoding: self.encoding.lock().unwrap().take(),
        }))
    }
    fn restore(&mut self, state: &[u8]) -> Result<(), String> {
        self.inner.restore(state)
    }
}

#[test]
fn applies_go_on_while_a_snapshot_is_encoded_and_written() {
    let dir = TempDir::new("snapshot-concurrent");
    let (go, gate) = mpsc::channel();
    let (encoding_tx, encoding) = mpsc::channel();
    let applier = Gated {
        inner: Registers::default(),
        gate: Arc::new(Mutex::new(Some(gate))),
        encoding: Arc::new(Mutex::new(Some(encoding_tx))),
    };
    let mut sm = open(&dir, applier);
    rt().block_on(sm.apply((1..=5).map(|i| entry(i, &format!("a={i}")))))
        .unwrap();
    let mut builder = rt().block_on(sm.get_snapshot_builder());
    let build = std::thread::spawn(move || {
        rt().block_on(builder.build_snapshot())
            .map_err(|e| e.to_string())
    });
    // The build froze the state at index 5 and now encodes, held at the gate.
    encoding.recv().unwrap();
    // An apply needs the state machine's lock: it gets it meanwhile.
    rt().block_on(sm.apply([entry(6, "a=6")])).unwrap();
    assert_eq!(
        sm.with_applier(|a| a.inner.map.get("a").cloned()).unwrap(),
        Some("6".to_string())
    );
    go.send(()).unwrap();
    let snap = build.join().unwrap().unwrap();
    // The snapshot holds the state as frozen, not the apply after it.
    assert_eq!(snap.meta.last_log_id.map(|l| l.index), Some(5));
    drop(sm);
    let reopened = open(&dir, Registers::default());
    assert_eq!(
        reopened.with_applier(|a| a.map.get("a").cloned()).unwrap(),
        Some("5".to_string())
    );
}

fn membership(index: u64, ids: &[u64]) -> Entry {
    let nodes: BTreeMap<u64, Member> = ids
        .iter()
        .map(|&id| {
            (
                id,
                Member {
                    api_addr: format!("127.0.0.1:{}", 3000 + id),
                    raft_addr: format!("127.0.0.1:{}", 4000 + id),
                    incarnation: id,
                },
            )
        })
        .collect();
    let voters: BTreeSet<u64> = ids.iter().copied().collect();
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], nodes)),
    }
}

#[test]
fn a_removed_node_id_stays_retired_across_snapshots_and_restarts() {
    let rt = rt();
    let dir = TempDir::new("snapshot-retired");
    let mut sm = open(&dir, Registers::default());
    rt.block_on(sm.apply([
        membership(1, &[1, 2, 3]),
        entry(2, "a=1"),
        membership(3, &[1, 2]),
    ]))
    .unwrap();
    assert!(sm.is_retired(3).unwrap());
    assert!(!sm.is_retired(2).unwrap() && !sm.is_retired(4).unwrap());
    rt.block_on(async { sm.get_snapshot_builder().await.build_snapshot().await })
        .unwrap();
    drop(sm);
    let again = open(&dir, Registers::default());
    assert!(again.is_retired(3).unwrap(), "kept in the snapshot");
    assert!(!again.is_retired(1).unwrap());
}
