//! Rollback restores every field of the state, for random event sequences.

use proptest::prelude::*;

use crate::codec;
use crate::event::{DocTarget, Event};
use crate::state::{Limits, State, HOLE};

fn limits() -> Limits {
    Limits::new(3, 10_000, 10_000, 10_000)
}

/// Everything a state holds, derived structures included.
fn fingerprint(st: &State) -> String {
    let mut rn: Vec<_> = st
        .record_nodes
        .iter()
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    rn.sort();
    format!(
        "{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}|{}|{}|{}|{}",
        st.records,
        st.graph,
        rn,
        st.metadata,
        (st.meta_bytes, st.meta_payload),
        st.rec_live,
        st.rec_tomb,
        st.node_live,
        st.edge_live,
        st.height,
        codec::hex(&codec::state_hash(st)),
    )
}

/// Turn a random choice into an event valid for `st` (or None).
fn pick(st: &State, choice: u8, a: u32, b: u32, c: i32) -> Option<Event> {
    let slots = st.records().slots as u32;
    let nodes = st.nodes().slots as u32;
    let edges = st.edges().slots as u32;
    let some_record = |x: u32| {
        (slots > 0)
            .then(|| x % slots)
            .filter(|&r| st.record_status(r) != HOLE)
    };
    let some_node = |x: u32| {
        (nodes > 0)
            .then(|| x % nodes)
            .filter(|&n| st.node(n).is_some())
    };
    let ev = match choice % 9 {
        0 => Event::InsertRecord {
            id: slots,
            tag: (a % 3) as u64,
            vector: vec![c, -c, 1],
            payload: Default::default(),
        },
        1 => Event::InsertBatch {
            first_id: slots,
            count: 1 + a % 300,
            vectors: vec![c; 3 * (1 + a % 300) as usize],
            payloads: Vec::new(),
        },
        2 => Event::DeleteRecord {
            id: some_record(a)?,
        },
        3 => Event::SoftDeleteRecord {
            id: some_record(a)?,
        },
        4 => Event::CreateNode {
            id: nodes,
            kind: 1,
            record: some_record(b),
        },
        5 => Event::CreateEdge {
            id: edges,
            from: some_node(a)?,
            to: some_node(b)?,
            kind: 2,
        },
        6 => Event::SetMetadata {
            key: format!("k{}", a % 5),
            value: vec![b as u8; (b % 40) as usize],
        },
        7 => Event::SetMetadata {
            key: format!("rec:{}", a % (slots + 1)),
            value: vec![1; (b % 9) as usize],
        },
        _ => {
            let doc = match some_node(b) {
                Some(d) if a.is_multiple_of(2) => DocTarget::Existing(d),
                _ => DocTarget::New(nodes),
            };
            let chunk = if matches!(doc, DocTarget::New(_)) {
                nodes + 1
            } else {
                nodes
            };
            Event::UpsertMemory {
                record_id: slots,
                tag: 0,
                vector: vec![c, 0, c],
                doc,
                chunk_node: chunk,
                edge_id: edges,
                metadata: a.is_multiple_of(3).then(|| vec![7; 5]),
            }
        }
    };
    Some(ev)
}

fn run(st: &mut State, ops: &[(u8, u32, u32, i32)]) {
    for &(ch, a, b, c) in ops {
        if let Some(ev) = pick(st, ch, a, b, c) {
            let _ = st.apply(&ev);
        }
    }
}

type Ops = Vec<(u8, u32, u32, i32)>;

fn ops(n: usize) -> impl Strategy<Value = Ops> {
    proptest::collection::vec(
        (any::<u8>(), any::<u32>(), any::<u32>(), -1000i32..1000),
        0..n,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_rolled_back_group_leaves_the_state_exactly_as_before(before in ops(400), group in ops(60)) {
        let mut st = State::new(limits());
        run(&mut st, &before);
        let expected = fingerprint(&st);
        st.begin_group();
        run(&mut st, &group);
        prop_assert!(st.rollback_group());
        prop_assert_eq!(fingerprint(&st), expected);
        // And the rolled-back state keeps working like the original.
        let mut twin = st.clone();
        run(&mut st, &group);
        run(&mut twin, &group);
        prop_assert_eq!(fingerprint(&st), fingerprint(&twin));
    }

    #[test]
    fn a_committed_group_equals_the_same_events_applied_without_a_journal(before in ops(200), group in ops(60)) {
        let mut a = State::new(limits());
        run(&mut a, &before);
        let mut b = a.clone();
        a.begin_group();
        run(&mut a, &group);
        a.commit_group();
        run(&mut b, &group);
        prop_assert_eq!(fingerprint(&a), fingerprint(&b));
    }
}
