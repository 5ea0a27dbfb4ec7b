//! A command applied on another node: the writes one engine takes directly
//! and a second engine takes as decoded command bytes give the same answers
//! (carried back as answer bytes) and the same state.

use valori_kernel::command::{decode_answer, decode_write, encode_answer, encode_write};
use valori_kernel::engine::Engine;
use valori_kernel::entry::{CollectionConfig, Metric};
use valori_kernel::event::Payload;
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::{Op, Write, WriteOpts};
use valori_kernel::state::Limits;
use valori_kernel::store::{codec, Store};

fn engine() -> Engine {
    Engine::new(
        Store::new(Limits::new(2, 100, 100, 100), IndexConfig::default()),
        None,
        None,
    )
}

fn to(collection: u32, op: Op, key: Option<u8>) -> Write {
    Write::To {
        collection,
        op,
        opts: WriteOpts {
            key: key.map(|b| [b; 16]),
            item_keys: Vec::new(),
        },
    }
}

fn insert(vector: Vec<i32>, metadata: Option<&str>) -> Op {
    Op::Insert {
        vector,
        tag: 1,
        payload: Payload {
            metadata: metadata.map(|m| m.as_bytes().to_vec()),
            text: None,
        },
    }
}

type Expect = Result<(Vec<u32>, u64, bool), &'static str>;

#[test]
fn a_decoded_command_gives_the_same_answer_and_state_as_the_write() {
    let docs = CollectionConfig {
        dim: 2,
        metric: Metric::SquaredL2,
        max_records: None,
        index: IndexConfig::default(),
    };
    let steps: Vec<(Write, Expect)> = vec![
        (
            Write::CreateCollection {
                name: "docs".into(),
                config: docs,
                opts: WriteOpts::default(),
            },
            Ok((vec![1], 1, false)),
        ),
        (
            to(1, insert(vec![65536, 0], Some("{\"a\":1}")), Some(1)),
            Ok((vec![0], 2, false)),
        ),
        // The same key and request: the first outcome again.
        (
            to(1, insert(vec![65536, 0], Some("{\"a\":1}")), Some(1)),
            Ok((vec![0], 2, true)),
        ),
        (
            Write::To {
                collection: 1,
                op: Op::InsertBatch {
                    vectors: vec![0, 1, 2, 3],
                    count: 2,
                    payloads: Vec::new(),
                },
                opts: WriteOpts {
                    key: None,
                    item_keys: vec![Some([2; 16]), Some([3; 16])],
                },
            },
            Ok((vec![1, 2], 3, false)),
        ),
        (
            to(1, insert(vec![1, 2, 3], None), None),
            Err("DIMENSION_MISMATCH"),
        ),
        (
            to(
                1,
                Op::Upsert {
                    vector: vec![5, 5],
                    tag: 0,
                    attach: None,
                    metadata: None,
                },
                None,
            ),
            // Record 3, document node 0, chunk node 1, edge 0.
            Ok((vec![3, 0, 1, 0], 4, false)),
        ),
        (
            to(
                1,
                Op::CreateEdge {
                    from: 1,
                    to: 0,
                    kind: 2,
                },
                None,
            ),
            Ok((vec![1], 5, false)),
        ),
        (
            to(0, insert(vec![0, 0], None), None),
            Ok((vec![0], 6, false)),
        ),
        (
            to(7, Op::Delete { id: 0 }, None),
            Err("COLLECTION_NOT_FOUND"),
        ),
        (
            Write::DropCollection {
                name: "docs".into(),
                opts: WriteOpts::default(),
            },
            Ok((vec![], 7, false)),
        ),
        (
            Write::DropCollection {
                name: "default".into(),
                opts: WriteOpts::default(),
            },
            Err("COLLECTION_PROTECTED"),
        ),
    ];
    let (proposer, replica) = (engine(), engine());
    for (i, (w, expect)) in steps.into_iter().enumerate() {
        let command = encode_write(&w).unwrap();
        let here = proposer.submit_sync(w);
        let there = replica.submit_sync(decode_write(&command).unwrap());
        let answer = decode_answer(&encode_answer(&there)).unwrap();
        assert_eq!(answer, here, "step {i}");
        match (&answer, expect) {
            (Ok(o), Ok(want)) => {
                assert_eq!((o.ids.clone(), o.height, o.deduplicated), want, "step {i}")
            }
            (Err(e), Err(code)) => {
                assert_eq!(e.code(), code, "step {i}");
                assert_eq!(e.to_string(), here.as_ref().unwrap_err().to_string());
            }
            (got, want) => panic!("step {i}: {got:?}, expected {want:?}"),
        }
    }
    assert_eq!(
        codec::state_hash(&proposer.read()),
        codec::state_hash(&replica.read())
    );
    proposer.close();
    replica.close();
}
