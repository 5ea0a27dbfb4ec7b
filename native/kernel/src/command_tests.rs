//! Commands and answers: round trips of every shape, pinned bytes, prefixes,
//! hostile bytes and declared counts, every error variant.

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;
use crate::entry::{Metric, StoreEvent};
use crate::event::Event;
use crate::index::{Distance, IndexConfig, IndexKind, QuantKind};
use crate::storage::tests::alloc_guard::with_alloc_limit;

// ---------------------------------------------------------------- samples

fn config(dim: u32, metric: Metric) -> CollectionConfig {
    CollectionConfig {
        dim,
        metric,
        max_records: Some(9),
        index: IndexConfig {
            kind: IndexKind::Hnsw,
            quant: QuantKind::Scalar,
            distance: metric.distance(),
            hnsw_m: 16,
            hnsw_ef_construction: 100,
            hnsw_ef_search: 100,
            ivf_nlist: 0,
            ivf_nprobe: 8,
            pq_m: 0,
            rerank: 0,
            train_min: 0,
        },
    }
}

fn to(collection: u32, op: Op) -> Write {
    Write::To {
        collection,
        op,
        opts: WriteOpts::default(),
    }
}

/// One op of every variant (the match has no wildcard: a new variant fails
/// to compile here until it has a sample).
fn every_op() -> Vec<Op> {
    let ops = vec![
        Op::Insert {
            vector: vec![1, -2, 3],
            tag: 42,
            payload: Payload {
                metadata: Some(b"{\"a\":1}".to_vec()),
                text: Some(b"\"hi\"".to_vec()),
            },
        },
        Op::InsertBatch {
            vectors: vec![1, 2, 3, 4],
            count: 2,
            payloads: vec![
                Payload::default(),
                Payload {
                    metadata: None,
                    text: Some(Vec::new()),
                },
            ],
        },
        Op::Delete { id: 9 },
        Op::SoftDelete { id: 1 },
        Op::CreateNode {
            kind: 255,
            record: Some(u32::MAX),
        },
        Op::CreateEdge {
            from: 0,
            to: 1,
            kind: 3,
        },
        Op::SetMetadata {
            key: "rec:1".into(),
            value: b"{}".to_vec(),
        },
        Op::Upsert {
            vector: vec![i32::MIN, i32::MAX],
            tag: u64::MAX,
            attach: None,
            metadata: Some(b"null".to_vec()),
        },
        Op::DeleteNode { id: 4 },
        Op::DeleteEdge { id: u32::MAX },
    ];
    for op in &ops {
        match op {
            Op::Insert { .. }
            | Op::InsertBatch { .. }
            | Op::Delete { .. }
            | Op::SoftDelete { .. }
            | Op::CreateNode { .. }
            | Op::CreateEdge { .. }
            | Op::SetMetadata { .. }
            | Op::Upsert { .. }
            | Op::DeleteNode { .. }
            | Op::DeleteEdge { .. } => {}
        }
    }
    ops
}

fn samples() -> Vec<Write> {
    let mut w: Vec<Write> = every_op().into_iter().map(|op| to(3, op)).collect();
    w.push(Write::To {
        collection: 0,
        op: Op::InsertBatch {
            vectors: vec![5, 6],
            count: 2,
            payloads: Vec::new(),
        },
        opts: WriteOpts {
            key: Some([7; 16]),
            item_keys: vec![None, Some([8; 16])],
        },
    });
    w.push(Write::CreateCollection {
        name: "docs".into(),
        config: config(768, Metric::Dot),
        opts: WriteOpts {
            key: Some([1; 16]),
            item_keys: Vec::new(),
        },
    });
    w.push(Write::DropCollection {
        name: "docs".into(),
        opts: WriteOpts::default(),
    });
    w
}

// ------------------------------------------------------------- strategies

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..8)
}

fn payload() -> impl Strategy<Value = Payload> {
    (proptest::option::of(bytes()), proptest::option::of(bytes()))
        .prop_map(|(metadata, text)| Payload { metadata, text })
}

fn vector() -> impl Strategy<Value = Vec<i32>> {
    vec(any::<i32>(), 0..6)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (vector(), any::<u64>(), payload()).prop_map(|(vector, tag, payload)| Op::Insert {
            vector,
            tag,
            payload
        }),
        (vec(any::<i32>(), 0..12), any::<u32>(), vec(payload(), 0..4)).prop_map(
            |(vectors, count, payloads)| Op::InsertBatch {
                vectors,
                count,
                payloads
            }
        ),
        any::<u32>().prop_map(|id| Op::Delete { id }),
        any::<u32>().prop_map(|id| Op::SoftDelete { id }),
        (any::<u8>(), any::<Option<u32>>())
            .prop_map(|(kind, record)| Op::CreateNode { kind, record }),
        (any::<u32>(), any::<u32>(), any::<u8>()).prop_map(|(from, to, kind)| Op::CreateEdge {
            from,
            to,
            kind
        }),
        ("\\PC{0,10}", bytes()).prop_map(|(key, value)| Op::SetMetadata { key, value }),
        (
            vector(),
            any::<u64>(),
            any::<Option<u32>>(),
            proptest::option::of(bytes())
        )
            .prop_map(|(vector, tag, attach, metadata)| Op::Upsert {
                vector,
                tag,
                attach,
                metadata
            }),
        any::<u32>().prop_map(|id| Op::DeleteNode { id }),
        any::<u32>().prop_map(|id| Op::DeleteEdge { id }),
    ]
}

fn opts() -> impl Strategy<Value = WriteOpts> {
    (
        any::<Option<[u8; 16]>>(),
        vec(any::<Option<[u8; 16]>>(), 0..4),
    )
        .prop_map(|(key, item_keys)| WriteOpts { key, item_keys })
}

fn collection_config() -> impl Strategy<Value = CollectionConfig> {
    (
        1u32..=65536,
        0u8..3,
        any::<Option<u64>>(),
        0u8..3,
        0u8..3,
        any::<[u32; 8]>(),
    )
        .prop_map(|(dim, m, max_records, kind, quant, p)| {
            let metric = Metric::from_code(m).unwrap();
            CollectionConfig {
                dim,
                metric,
                max_records,
                index: IndexConfig {
                    kind: [IndexKind::Brute, IndexKind::Hnsw, IndexKind::Ivf][kind as usize],
                    quant: [QuantKind::None, QuantKind::Scalar, QuantKind::Product][quant as usize],
                    distance: metric.distance(),
                    hnsw_m: p[0] as usize,
                    hnsw_ef_construction: p[1] as usize,
                    hnsw_ef_search: p[2] as usize,
                    ivf_nlist: p[3] as usize,
                    ivf_nprobe: p[4] as usize,
                    pq_m: p[5] as usize,
                    rerank: p[6] as usize,
                    train_min: p[7] as usize,
                },
            }
        })
}

fn write() -> impl Strategy<Value = Write> {
    prop_oneof![
        4 => (any::<u32>(), op(), opts()).prop_map(|(collection, op, opts)| Write::To {
            collection,
            op,
            opts
        }),
        1 => ("\\PC{0,12}", collection_config(), opts())
            .prop_map(|(name, config, opts)| Write::CreateCollection { name, config, opts }),
        1 => ("\\PC{0,12}", opts()).prop_map(|(name, opts)| Write::DropCollection { name, opts }),
    ]
}

fn kernel_error() -> impl Strategy<Value = KernelError> {
    let m = "\\PC{0,24}";
    prop_oneof![
        (any::<usize>(), any::<usize>())
            .prop_map(|(expected, got)| KernelError::DimensionMismatch { expected, got }),
        Just(KernelError::EmptyVector),
        m.prop_map(KernelError::InvalidVector),
        m.prop_map(KernelError::InvalidArgument),
        m.prop_map(KernelError::NotFound),
        m.prop_map(KernelError::CapacityExceeded),
        m.prop_map(KernelError::PayloadTooLarge),
        (any::<usize>(), any::<usize>())
            .prop_map(|(len, max)| KernelError::MetadataTooLarge { len, max }),
        m.prop_map(KernelError::ReadOnly),
        m.prop_map(KernelError::Io),
        m.prop_map(KernelError::Corrupt),
        m.prop_map(KernelError::BootstrapRequired),
        m.prop_map(KernelError::SequenceGap),
        m.prop_map(KernelError::Closed),
        m.prop_map(KernelError::CollectionNotFound),
        m.prop_map(KernelError::CollectionExists),
        m.prop_map(KernelError::CollectionProtected),
        m.prop_map(KernelError::IdempotencyKeyReused),
        m.prop_map(KernelError::Internal),
    ]
}

fn outcome() -> impl Strategy<Value = Outcome> {
    (vec(any::<u32>(), 0..6), any::<u64>(), any::<bool>()).prop_map(
        |(ids, height, deduplicated)| Outcome {
            ids,
            height,
            deduplicated,
            timing: Timing::default(),
        },
    )
}

fn corrupt(r: KResult<Write>) -> String {
    match r {
        Err(e) => {
            assert_eq!(e.code(), "CORRUPT_DATA", "{e}");
            e.to_string()
        }
        Ok(w) => panic!("decoded {w:?}"),
    }
}

fn corrupt_answer(r: KResult<KResult<Outcome>>) -> String {
    match r {
        Err(e) => {
            assert_eq!(e.code(), "CORRUPT_DATA", "{e}");
            e.to_string()
        }
        Ok(a) => panic!("decoded {a:?}"),
    }
}

// --------------------------------------------------------- pinned bytes

#[test]
fn an_insert_with_a_payload_and_a_key_has_these_bytes() {
    let w = Write::To {
        collection: 2,
        op: Op::Insert {
            vector: vec![65536, -1],
            tag: 7,
            payload: Payload {
                metadata: Some(b"{}".to_vec()),
                text: None,
            },
        },
        opts: WriteOpts {
            key: Some([0xab; 16]),
            item_keys: Vec::new(),
        },
    };
    let expect: Vec<u8> = [
        &[1u8, 1][..],                // version, type insert
        &[2, 0, 0, 0],                // collection
        &[7, 0, 0, 0, 0, 0, 0, 0],    // tag
        &[2, 0, 0, 0],                // two components
        &[0, 0, 1, 0],                // 1.0 in Q16.16
        &[0xff, 0xff, 0xff, 0xff],    // -1
        &[1, 2, 0, 0, 0, b'{', b'}'], // payload: metadata "{}"
        &[1],                         // opts: a key
        &[0xab; 16],
    ]
    .concat();
    assert_eq!(encode_write(&w).unwrap(), expect);
    assert_eq!(decode_write(&expect).unwrap(), w);
}

#[test]
fn an_upsert_and_a_create_collection_have_these_bytes() {
    let upsert = to(
        0,
        Op::Upsert {
            vector: vec![1],
            tag: 0x0102,
            attach: Some(5),
            metadata: None,
        },
    );
    let expect: Vec<u8> = [
        &[1u8, 8][..],
        &[0, 0, 0, 0],
        &[2, 1, 0, 0, 0, 0, 0, 0],
        &[1, 0, 0, 0, 1, 0, 0, 0],
        &[1, 5, 0, 0, 0], // attach 5
        &[0],             // no metadata
        &[0],             // no keys
    ]
    .concat();
    assert_eq!(encode_write(&upsert).unwrap(), expect);

    let create = Write::CreateCollection {
        name: "docs".into(),
        config: config(3, Metric::Cosine),
        opts: WriteOpts {
            key: None,
            item_keys: vec![None, Some([1; 16])],
        },
    };
    let expect: Vec<u8> = [
        &[1u8, 9][..],
        &[4, 0, 0, 0, b'd', b'o', b'c', b's'],
        &[3, 0, 0, 0],                // dim
        &[1],                         // cosine
        &[1, 9, 0, 0, 0, 0, 0, 0, 0], // cap 9
        &[1, 1],                      // hnsw, scalar
        &[16, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0],
        &[8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        &[2, 2, 0, 0, 0, 0, 1], // item keys: none, then [1; 16]
        &[1; 16],
    ]
    .concat();
    assert_eq!(encode_write(&create).unwrap(), expect);
    assert_eq!(decode_write(&expect).unwrap(), create);
}

#[test]
fn answers_have_these_bytes() {
    let ok = Ok(Outcome {
        ids: vec![3, 4],
        height: 0x0102,
        deduplicated: true,
        timing: Timing {
            queued_us: 5,
            apply_us: 6,
            fsync_us: Some(7),
        },
    });
    let expect: Vec<u8> = [
        &[1u8, 0][..],
        &[2, 1, 0, 0, 0, 0, 0, 0],
        &[1],
        &[2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0],
    ]
    .concat();
    assert_eq!(encode_answer(&ok), expect);

    let dim = Err(KernelError::DimensionMismatch {
        expected: 3,
        got: 2,
    });
    let expect: Vec<u8> = [
        &[1u8, 1, 1][..],
        &[3, 0, 0, 0, 0, 0, 0, 0],
        &[2, 0, 0, 0, 0, 0, 0, 0],
    ]
    .concat();
    assert_eq!(encode_answer(&dim), expect);

    let nf = Err(KernelError::NotFound("x".into()));
    assert_eq!(encode_answer(&nf), [1, 1, 5, 1, 0, 0, 0, b'x']);
    assert_eq!(encode_answer(&Err(KernelError::EmptyVector)), [1, 1, 2]);
    assert_eq!(
        encode_answer(&Err(KernelError::Internal(String::new()))),
        [1, 1, 19, 0, 0, 0, 0]
    );
}

// ------------------------------------------------------------ round trips

#[test]
fn every_sample_round_trips_and_its_length_is_predicted() {
    for w in samples() {
        let b = encode_write(&w).unwrap();
        assert_eq!(write_len(&w).unwrap(), b.len(), "{w:?}");
        let back = decode_write(&b).unwrap();
        assert_eq!(format!("{back:?}"), format!("{w:?}"));
        assert_eq!(back, w);
    }
}

#[test]
fn an_absent_link_and_link_u32_max_stay_apart() {
    // The event encoding writes an absent record as u32::MAX; a command
    // keeps both, as asked.
    for record in [None, Some(u32::MAX)] {
        let w = to(0, Op::CreateNode { kind: 1, record });
        assert_eq!(decode_write(&encode_write(&w).unwrap()).unwrap(), w);
    }
}

proptest! {
    #[test]
    fn every_write_round_trips(w in write()) {
        let b = encode_write(&w).unwrap();
        prop_assert_eq!(write_len(&w).unwrap(), b.len());
        let back = decode_write(&b).unwrap();
        prop_assert_eq!(format!("{back:?}"), format!("{w:?}"));
        prop_assert_eq!(back, w);
    }

    #[test]
    fn every_strict_prefix_and_any_trailing_byte_is_refused(w in write(), extra in any::<u8>()) {
        let b = encode_write(&w).unwrap();
        for n in 0..b.len() {
            corrupt(decode_write(&b[..n]));
        }
        let mut long = b.clone();
        long.push(extra);
        let m = corrupt(decode_write(&long));
        prop_assert!(m.contains("trailing"), "{}", m);
    }

    #[test]
    fn mutated_commands_never_panic_nor_allocate_out_of_proportion(
        w in write(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut b = encode_write(&w).unwrap();
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        b.truncate(cut.index(b.len() + 1).max(1));
        let (r, over) = with_alloc_limit(64 * b.len() + 1024, || decode_write(&b));
        prop_assert_eq!(over, 0);
        if let Err(e) = r {
            prop_assert_eq!(e.code(), "CORRUPT_DATA");
        }
    }

    #[test]
    fn random_bytes_never_panic(t in 0u8..16, tail in vec(any::<u8>(), 0..96)) {
        let mut b = vec![COMMAND_V1, t];
        b.extend_from_slice(&tail);
        let (r, over) = with_alloc_limit(64 * b.len() + 1024, || decode_write(&b));
        prop_assert_eq!(over, 0);
        if let Err(e) = r {
            prop_assert_eq!(e.code(), "CORRUPT_DATA");
        }
        let _ = decode_write(&tail);
        let (_, over) = with_alloc_limit(64 * tail.len() + 1024, || decode_answer(&tail));
        prop_assert_eq!(over, 0);
    }

    #[test]
    fn every_answer_round_trips_without_its_timing(
        r in prop_oneof![outcome().prop_map(Ok), kernel_error().prop_map(Err)],
        extra in any::<u8>(),
    ) {
        let b = encode_answer(&r);
        let back = decode_answer(&b).unwrap();
        match (&back, &r) {
            (Ok(got), Ok(want)) => {
                prop_assert_eq!(&got.ids, &want.ids);
                prop_assert_eq!(got.height, want.height);
                prop_assert_eq!(got.deduplicated, want.deduplicated);
                prop_assert_eq!(
                    (got.timing.queued_us, got.timing.apply_us, got.timing.fsync_us),
                    (0, 0, None)
                );
            }
            (Err(got), Err(want)) => {
                prop_assert_eq!(got.code(), want.code());
                prop_assert_eq!(got.to_string(), want.to_string());
                prop_assert_eq!(got, want);
            }
            _ => prop_assert!(false, "{:?} came back as {:?}", r, back),
        }
        for n in 0..b.len() {
            corrupt_answer(decode_answer(&b[..n]));
        }
        let mut long = b;
        long.push(extra);
        corrupt_answer(decode_answer(&long));
    }
}

/// One error of every variant, with a message where it has one. The match
/// has no wildcard, so a new variant fails to compile until it is added.
fn every_error() -> Vec<KernelError> {
    let m = |s: &str| format!("{s}: ünïcödé and \"quotes\"");
    let all = vec![
        KernelError::DimensionMismatch {
            expected: 1536,
            got: usize::MAX,
        },
        KernelError::EmptyVector,
        KernelError::InvalidVector(m("vector")),
        KernelError::InvalidArgument(m("argument")),
        KernelError::NotFound(m("record 3 not found")),
        KernelError::CapacityExceeded(m("full")),
        KernelError::PayloadTooLarge(m("big")),
        KernelError::MetadataTooLarge {
            len: 70000,
            max: 65536,
        },
        KernelError::ReadOnly(m("read only")),
        KernelError::Io(m("disk")),
        KernelError::Corrupt(m("bits")),
        KernelError::BootstrapRequired(m("trimmed")),
        KernelError::SequenceGap(m("gap")),
        KernelError::Closed(m("closed")),
        KernelError::CollectionNotFound(m("no such")),
        KernelError::CollectionExists(m("exists")),
        KernelError::CollectionProtected(m("default")),
        KernelError::IdempotencyKeyReused(m("reused")),
        KernelError::Internal(m("bug")),
        KernelError::NotLeader(m("node 2 leads")),
        KernelError::NoLeader(m("no leader")),
        KernelError::LeaderChanged(m("unknown outcome")),
    ];
    for e in &all {
        match e {
            KernelError::DimensionMismatch { .. }
            | KernelError::EmptyVector
            | KernelError::InvalidVector(_)
            | KernelError::InvalidArgument(_)
            | KernelError::NotFound(_)
            | KernelError::CapacityExceeded(_)
            | KernelError::PayloadTooLarge(_)
            | KernelError::MetadataTooLarge { .. }
            | KernelError::ReadOnly(_)
            | KernelError::Io(_)
            | KernelError::Corrupt(_)
            | KernelError::BootstrapRequired(_)
            | KernelError::SequenceGap(_)
            | KernelError::Closed(_)
            | KernelError::CollectionNotFound(_)
            | KernelError::CollectionExists(_)
            | KernelError::CollectionProtected(_)
            | KernelError::IdempotencyKeyReused(_)
            | KernelError::Internal(_)
            | KernelError::NotLeader(_)
            | KernelError::NoLeader(_)
            | KernelError::LeaderChanged(_) => {}
        }
    }
    all
}

#[test]
fn every_error_variant_keeps_its_code_and_its_text() {
    let all = every_error();
    let codes: Vec<&str> = all.iter().map(KernelError::code).collect();
    assert_eq!(codes, KernelError::CODES, "one sample per code, in order");
    for (i, e) in all.into_iter().enumerate() {
        let b = encode_answer(&Err(e.clone()));
        // The error's number is its place in CODES, counted from 1.
        assert_eq!(&b[..3], &[1, 1, i as u8 + 1], "{}", e.code());
        let got = decode_answer(&b).unwrap().unwrap_err();
        assert_eq!(got.code(), e.code());
        assert_eq!(got.to_string(), e.to_string());
        assert_eq!(got, e);
    }
}

// --------------------------------------------------------------- refusals

#[test]
fn a_replicated_event_is_not_a_command() {
    let e = encode_write(&Write::Replicated {
        seq: 4,
        payload: vec![1, 2],
    })
    .unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(
        e.to_string()
            .contains("replicated event 4 is not a command"),
        "{e}"
    );
}

#[test]
fn a_config_that_would_not_come_back_equal_is_refused() {
    let create = |config| Write::CreateCollection {
        name: "c".into(),
        config,
        opts: WriteOpts::default(),
    };
    let mut wrong_distance = config(3, Metric::Cosine);
    wrong_distance.index.distance = Distance::Dot;
    let mut cases = vec![
        (config(0, Metric::Dot), "dimension"),
        (config(65537, Metric::Dot), "dimension"),
        (wrong_distance, "distance"),
    ];
    if usize::BITS > 32 {
        let mut big = config(3, Metric::Dot);
        big.index.rerank = u32::MAX as usize + 1;
        cases.push((big, "rerank"));
    }
    for (c, why) in cases {
        let e = encode_write(&create(c)).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().contains(why), "{e}");
    }
    // The largest values that fit come back.
    let mut edge = config(65536, Metric::SquaredL2);
    edge.index.train_min = u32::MAX as usize;
    let w = create(edge);
    assert_eq!(decode_write(&encode_write(&w).unwrap()).unwrap(), w);
}

#[test]
fn non_canonical_and_unknown_bytes_are_refused() {
    let good = encode_write(&to(
        1,
        Op::CreateNode {
            kind: 1,
            record: Some(2),
        },
    ))
    .unwrap();
    // [1, 5, coll×4, kind, 1, rec×4, flags]
    assert_eq!(good.len(), 13);
    let with = |i: usize, v: u8| {
        let mut b = good.clone();
        b[i] = v;
        b
    };
    assert!(corrupt(decode_write(&with(0, 2))).contains("version 2"));
    assert!(corrupt(decode_write(&with(0, 0))).contains("version 0"));
    for t in [0u8, 13, 14, 255] {
        let m = corrupt(decode_write(&with(1, t)));
        assert!(m.contains(&format!("unknown command type {t}")), "{m}");
    }
    assert!(corrupt(decode_write(&with(7, 2))).contains("flag 2"));
    assert!(corrupt(decode_write(&with(12, 4))).contains("flags 4"));
    // Item keys flagged but none listed.
    let mut b = good.clone();
    b[12] = 2;
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert!(corrupt(decode_write(&b)).contains("0 item keys"));
    // A payload flag outside bits 0 and 1.
    let ins = encode_write(&to(
        0,
        Op::Insert {
            vector: vec![],
            tag: 0,
            payload: Payload::default(),
        },
    ))
    .unwrap();
    // [1, 1, coll×4, tag×8, len×4, payload flags, opts flags]
    let mut expect = vec![0u8; 20];
    expect[..2].copy_from_slice(&[1, 1]);
    assert_eq!(ins, expect);
    let mut b = ins.clone();
    b[18] = 4;
    assert!(corrupt(decode_write(&b)).contains("payload flags 4"));
    // Names and metadata keys are UTF-8.
    let mut b = encode_write(&Write::DropCollection {
        name: "a".into(),
        opts: WriteOpts::default(),
    })
    .unwrap();
    assert_eq!(b, [1, 10, 1, 0, 0, 0, b'a', 0]);
    b[6] = 0xff;
    assert!(corrupt(decode_write(&b)).contains("UTF-8"));
}

#[test]
fn bad_answers_are_refused() {
    assert!(corrupt_answer(decode_answer(&[2, 0])).contains("version 2"));
    assert!(corrupt_answer(decode_answer(&[1, 2])).contains("answer tag 2"));
    for n in [0u8, 23, 255] {
        let m = corrupt_answer(decode_answer(&[1, 1, n, 0, 0, 0, 0]));
        assert!(m.contains(&format!("unknown error number {n}")), "{m}");
    }
    let mut dedup = encode_answer(&Ok(Outcome {
        ids: vec![],
        height: 1,
        deduplicated: false,
        timing: Timing::default(),
    }));
    dedup[10] = 2;
    assert!(corrupt_answer(decode_answer(&dedup)).contains("deduplicated flag 2"));
    let m = corrupt_answer(decode_answer(&[1, 1, 4, 1, 0, 0, 0, 0xff]));
    assert!(m.contains("UTF-8"), "{m}");
}

// ---------------------------------------------------- counts and limits

fn header(t: u8) -> Vec<u8> {
    let mut b = vec![COMMAND_V1, t];
    b.extend_from_slice(&0u32.to_le_bytes());
    b
}

#[test]
fn huge_declared_counts_are_refused_without_allocating_them() {
    let max = u32::MAX.to_le_bytes();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    // An insert of u32::MAX components.
    let mut b = header(1);
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&max);
    b.extend_from_slice(&[0; 64]);
    cases.push(b);
    // A batch with no vectors and u32::MAX payloads.
    let mut b = header(2);
    b.extend_from_slice(&max);
    b.extend_from_slice(&[0; 4]);
    b.extend_from_slice(&max);
    b.extend_from_slice(&[0; 64]);
    cases.push(b);
    // A metadata key of u32::MAX bytes.
    let mut b = header(7);
    b.extend_from_slice(&max);
    b.extend_from_slice(&[b'k'; 64]);
    cases.push(b);
    // A delete with u32::MAX item keys.
    let mut b = header(3);
    b.extend_from_slice(&[0; 4]);
    b.push(2);
    b.extend_from_slice(&max);
    b.extend_from_slice(&[0; 64]);
    cases.push(b);
    // A collection name of u32::MAX bytes.
    let mut b = vec![COMMAND_V1, 10];
    b.extend_from_slice(&max);
    b.extend_from_slice(&[b'n'; 64]);
    cases.push(b);
    for b in cases {
        let (r, over) = with_alloc_limit(1024, || decode_write(&b));
        corrupt(r);
        assert_eq!(over, 0, "an allocation for a declared count");
    }
    // An answer of u32::MAX ids; an error message of u32::MAX bytes.
    let mut ids = vec![1u8, 0];
    ids.extend_from_slice(&[0; 9]);
    ids.extend_from_slice(&max);
    ids.extend_from_slice(&[0; 64]);
    let mut msg = vec![1u8, 1, 4];
    msg.extend_from_slice(&max);
    msg.extend_from_slice(&[b'm'; 64]);
    for b in [ids, msg] {
        let (r, over) = with_alloc_limit(1024, || decode_answer(&b));
        corrupt_answer(r);
        assert_eq!(over, 0, "an allocation for a declared count");
    }
}

/// A batch of `n` components without payloads or keys.
fn batch(n: usize) -> Write {
    to(
        0,
        Op::InsertBatch {
            vectors: vec![0; n],
            count: 1,
            payloads: Vec::new(),
        },
    )
}

#[test]
fn a_write_whose_event_fits_has_a_command_that_fits_and_a_larger_one_is_refused() {
    // The largest batch whose event a single node accepts.
    let event_len = |n: usize| {
        StoreEvent::Data {
            collection: 0,
            event: Event::InsertBatch {
                first_id: 0,
                count: 1,
                vectors: vec![0; n],
                payloads: Vec::new(),
            },
            idem: Default::default(),
        }
        .encoded_len()
    };
    let n = (MAX_EVENT_BYTES - 64) / 4;
    let n = (n..n + 64)
        .take_while(|&n| event_len(n) <= MAX_EVENT_BYTES)
        .last()
        .unwrap();
    assert!(event_len(n + 1) > MAX_EVENT_BYTES);
    let b = encode_write(&batch(n)).unwrap();
    assert!(b.len() > MAX_EVENT_BYTES - 64);
    assert!(matches!(decode_write(&b), Ok(w) if w == batch(n)));
    drop(b);
    // 257 components more is past MAX_EVENT_BYTES + 1 KiB.
    let e = encode_write(&batch(n + 257)).unwrap_err();
    assert_eq!(e.code(), "PAYLOAD_TOO_LARGE");
    assert!(e.to_string().contains("split the batch"), "{e}");
    // Nor is a longer input decoded.
    let long = vec![0u8; MAX_EVENT_BYTES + 1025];
    assert!(corrupt(decode_write(&long)).contains("limit"));
}
