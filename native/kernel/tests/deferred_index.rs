//! With an event log, the committer applies a group's inserts to the state
//! at once and gives them to the indexes while the group's append runs
//! (`Store::defer_index`). The logged events replayed one by one with the
//! index taking each at once (recovery, a follower's bootstrap) must build
//! byte-identical indexes, for every index kind and any mix of writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use valori_kernel::engine::{CommitObserver, CommitSink, Engine};
use valori_kernel::entry::decode_entry;
use valori_kernel::index::{IndexConfig, IndexKind, QuantKind};
use valori_kernel::ops::Op;
use valori_kernel::state::Limits;
use valori_kernel::store::{codec, Store};
use valori_kernel::KResult;

const DIM: usize = 8;

/// A log that accepts everything (the entries reach the observer).
struct Accept;

impl CommitSink for Accept {
    fn append(&mut self, _: &[(u64, Vec<u8>)]) -> KResult<()> {
        Ok(())
    }
}

/// Seeded xorshift: the same writes on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn vector(&mut self) -> Vec<i32> {
        (0..DIM)
            .map(|_| self.below(200_001) as i32 - 100_000)
            .collect()
    }
}

fn ops(rng: &mut Rng, inserted: u64) -> Vec<Op> {
    let n = 1 + rng.below(12) as usize;
    (0..n)
        .map(|_| match rng.below(10) {
            0..=4 => Op::Insert {
                vector: rng.vector(),
                tag: 0,
                payload: Default::default(),
            },
            5 | 6 => {
                let count = 1 + rng.below(40) as u32;
                Op::InsertBatch {
                    vectors: (0..count).flat_map(|_| rng.vector()).collect(),
                    count,
                    payloads: Vec::new(),
                }
            }
            7 => Op::Delete {
                id: rng.below(inserted.max(1)) as u32,
            },
            8 => Op::SoftDelete {
                id: rng.below(inserted.max(1)) as u32,
            },
            _ => Op::SetMetadata {
                key: format!("k{}", rng.below(5)),
                value: b"1".to_vec(),
            },
        })
        .collect()
}

fn check(cfg: IndexConfig) {
    let logged = Arc::new(Mutex::new(Vec::new()));
    let seen = logged.clone();
    let observer: CommitObserver = Box::new(move |entries: &[(u64, Vec<u8>)]| {
        seen.lock()
            .unwrap()
            .extend(entries.iter().map(|(_, p)| p.clone()));
    });
    let limits = Limits::new(DIM, 100_000, 10, 10);
    let e = Engine::new(
        Store::new(limits, cfg),
        Some(Box::new(Accept)),
        Some(observer),
    );
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let ids = Arc::new(AtomicU64::new(0));
    for _ in 0..120 {
        // Submitted together, so they share groups of several writes.
        let batch = ops(&mut rng, ids.load(Ordering::Relaxed));
        let (tx, rx) = mpsc::channel();
        let n = batch.len();
        for op in batch {
            let (tx, ids) = (tx.clone(), ids.clone());
            e.submit(
                op.into(),
                Box::new(move |r| {
                    if let Ok(out) = &r {
                        for &id in &out.ids {
                            ids.fetch_max(u64::from(id) + 1, Ordering::Relaxed);
                        }
                    }
                    tx.send(()).unwrap();
                }),
            );
        }
        for _ in 0..n {
            rx.recv().unwrap();
        }
    }
    let mut replayed = Store::new(limits, cfg);
    for payload in logged.lock().unwrap().iter() {
        replayed.apply(&decode_entry(payload).unwrap().1).unwrap();
    }
    let live = e.read();
    assert!(
        live.height() > 500,
        "{:?}: too few writes succeeded",
        cfg.kind
    );
    assert_eq!(codec::encode(&replayed), codec::encode(&live));
    let (a, b) = (live.default_collection(), replayed.default_collection());
    let (ia, ib) = (a.db.index.as_ref(), b.db.index.as_ref());
    assert_eq!(
        ia.map(|i| i.encode()),
        ib.map(|i| i.encode()),
        "{:?}/{:?}: index bytes differ",
        cfg.kind,
        cfg.quant
    );
    // The usage totals kept write by write (refused writes that handed
    // deferred inserts to the index included) equal a count from scratch.
    let kept = live.totals();
    let mut counted = live.frozen();
    counted.recount();
    assert_eq!(
        kept,
        counted.totals(),
        "{:?}: usage totals drifted",
        cfg.kind
    );
    drop(live);
    e.close();
}

#[test]
fn when_inserts_reach_the_index_during_the_append_then_it_equals_the_index_built_at_once() {
    for (kind, quant) in [
        (IndexKind::Hnsw, QuantKind::None),
        (IndexKind::Hnsw, QuantKind::Scalar),
        (IndexKind::Ivf, QuantKind::None),
        (IndexKind::Ivf, QuantKind::Product),
        (IndexKind::Brute, QuantKind::Scalar),
    ] {
        check(IndexConfig {
            kind,
            quant,
            ivf_nlist: 4,
            ..IndexConfig::default()
        });
    }
}
