//! The state decoder against crafted kernel sections: valid framing, hostile
//! counts. Every one must end in an error or a small state, never in an
//! allocation out of proportion to the input.

use proptest::prelude::*;

use super::{decode, encode};
use crate::event::Event;
use crate::state::{Limits, State, MAX_METADATA_BYTES};
use crate::storage::tests::alloc_guard::with_alloc_limit;

const DIM: usize = 1536;

fn limits() -> Limits {
    Limits::new(DIM, 4, 4, 4)
}

/// A kernel section: header, record slots, then the rest as given.
fn section(records: &[u8], slots: u32, rest: &[u8]) -> Vec<u8> {
    let mut b = b"VALORI-STATE".to_vec();
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(DIM as u32).to_le_bytes());
    b.extend_from_slice(&slots.to_le_bytes());
    b.extend_from_slice(records);
    b.extend_from_slice(rest);
    b
}

/// Empty metadata, nodes and edges.
const EMPTY_TAIL: [u8; 12] = [0; 12];

fn live_record(b: &mut Vec<u8>) {
    b.push(1);
    b.extend_from_slice(&0u64.to_le_bytes());
    b.extend(std::iter::repeat_n(0u8, DIM * 4));
}

#[test]
fn a_megabyte_of_holes_decodes_without_allocating_vector_bytes() {
    let n = 1 << 20;
    let bytes = section(&vec![0u8; n], n as u32, &EMPTY_TAIL);
    // Before chunked storage each hole cost dim x 4 bytes: 6 GiB here.
    let (st, over) = with_alloc_limit(bytes.len(), || decode(&bytes, limits(), 0));
    let st = st.expect("holes are valid");
    assert_eq!(over, 0, "an allocation larger than the input");
    assert_eq!(st.records().slots, n as u64);
    assert_eq!(st.vector_bytes(), 0);
    assert_eq!(encode(&st), bytes, "re-encodes to the same bytes");
}

#[test]
fn more_records_than_the_limit_is_refused_naming_it() {
    let mut recs = Vec::new();
    for _ in 0..5 {
        live_record(&mut recs);
    }
    let e = decode(&section(&recs, 5, &EMPTY_TAIL), limits(), 0).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("VALORI_MAX_RECORDS"), "{e}");
}

fn metadata(entries: &[(&[u8], &[u8])], declared: u32) -> Vec<u8> {
    let mut b = declared.to_le_bytes().to_vec();
    for (k, v) in entries {
        b.extend_from_slice(&(k.len() as u32).to_le_bytes());
        b.extend_from_slice(k);
        b.extend_from_slice(&(v.len() as u32).to_le_bytes());
        b.extend_from_slice(v);
    }
    b.extend_from_slice(&[0; 8]);
    b
}

#[test]
fn metadata_over_the_limits_or_out_of_order_is_refused() {
    let small = Limits {
        max_metadata_entries: 2,
        max_metadata_bytes: 10,
        ..limits()
    };
    let dec = |m: Vec<u8>, l: Limits| decode(&section(&[], 0, &m), l, 0);
    assert!(dec(metadata(&[(b"a", b"1"), (b"b", b"2")], 2), small).is_ok());
    let e = dec(
        metadata(&[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], 3),
        small,
    )
    .unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("VALORI_MAX_METADATA_ENTRIES"), "{e}");
    let e = dec(metadata(&[(b"a", b"1234567890")], 1), small).unwrap_err();
    assert!(e.to_string().contains("VALORI_MAX_METADATA_BYTES"), "{e}");
    let e = dec(metadata(&[(b"b", b"1"), (b"a", b"2")], 2), small).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_DATA");
    let e = dec(metadata(&[(b"a", b"1"), (b"a", b"2")], 2), small).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_DATA", "a repeated key");
    let big = vec![b'x'; MAX_METADATA_BYTES + 1];
    let e = dec(metadata(&[(b"a", &big)], 1), limits()).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_DATA");
    let long_key = vec![b'k'; 1025];
    let e = dec(metadata(&[(&long_key, b"1")], 1), limits()).unwrap_err();
    assert_eq!(e.code(), "CORRUPT_DATA");
    // A count far above the entries present fails on the missing bytes, allocating nothing big.
    let m = metadata(&[], 100_000);
    let (r, over) = with_alloc_limit(1 << 16, || dec(m, limits()));
    assert!(r.is_err());
    assert_eq!(over, 0);
}

#[test]
fn more_live_nodes_or_edges_than_the_limits_is_refused() {
    let mut rest = 0u32.to_le_bytes().to_vec();
    rest.extend_from_slice(&5u32.to_le_bytes());
    for _ in 0..5 {
        rest.extend_from_slice(&[1, 0, 255, 255, 255, 255]);
    }
    rest.extend_from_slice(&0u32.to_le_bytes());
    let e = decode(&section(&[], 0, &rest), limits(), 0).unwrap_err();
    assert!(e.to_string().contains("VALORI_MAX_NODES"), "{e}");

    let mut rest = 0u32.to_le_bytes().to_vec();
    rest.extend_from_slice(&1u32.to_le_bytes());
    rest.extend_from_slice(&[1, 0, 255, 255, 255, 255]);
    rest.extend_from_slice(&5u32.to_le_bytes());
    for _ in 0..5 {
        rest.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }
    let e = decode(&section(&[], 0, &rest), limits(), 0).unwrap_err();
    assert!(e.to_string().contains("VALORI_MAX_EDGES"), "{e}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any declared count with any short body: an error or a state, and no
    /// single allocation larger than the input (plus one vector's scratch).
    #[test]
    fn hostile_counts_never_amplify(
        slots in any::<u32>(), body in proptest::collection::vec(0u8..3, 0..4096),
        meta in any::<u32>(), nodes in any::<u32>(), edges in any::<u32>(),
    ) {
        let mut rest = meta.to_le_bytes().to_vec();
        rest.extend_from_slice(&nodes.to_le_bytes());
        rest.extend_from_slice(&edges.to_le_bytes());
        let bytes = section(&body, slots, &rest);
        let (_, over) = with_alloc_limit(bytes.len() + DIM * 4, || decode(&bytes, limits(), 0));
        prop_assert_eq!(over, 0);
    }
}

#[test]
fn a_decoded_state_re_encodes_to_the_same_bytes_after_deletes() {
    let mut st = State::new(Limits::new(3, 10_000, 10, 10));
    for i in 0..700u32 {
        st.apply(&Event::InsertRecord {
            id: i,
            tag: u64::from(i % 4),
            vector: vec![i as i32, 1, -2],
            payload: Default::default(),
        })
        .unwrap();
    }
    for i in (0..700u32).filter(|i| i % 3 != 0 || (256..512).contains(i)) {
        st.apply(&Event::DeleteRecord { id: i }).unwrap();
    }
    st.apply(&Event::SoftDeleteRecord { id: 0 }).unwrap();
    let bytes = encode(&st);
    let back = decode(&bytes, st.limits(), st.height()).unwrap();
    assert_eq!(encode(&back), bytes);
    assert_eq!(back.records(), st.records());
}

/// A kernel section with no records or metadata and the given node and edge slot bytes.
fn graph_section(nodes: &[u8], node_slots: u32, edges: &[u8], edge_slots: u32) -> Vec<u8> {
    let mut rest = 0u32.to_le_bytes().to_vec();
    rest.extend_from_slice(&node_slots.to_le_bytes());
    rest.extend_from_slice(nodes);
    rest.extend_from_slice(&edge_slots.to_le_bytes());
    rest.extend_from_slice(edges);
    section(&[], 0, &rest)
}

#[test]
fn a_megabyte_of_deleted_node_or_edge_slots_decodes_within_a_small_multiple_of_its_size() {
    let n = 1 << 20;
    // Before chunked graph pools a deleted node slot cost 12 + 2 x 24 bytes and
    // an edge slot 12 (single allocations of 12-24 MiB here).
    let one_live = [1u8, 0, 255, 255, 255, 255];
    for bytes in [
        graph_section(&vec![0u8; n], n as u32, &[], 0),
        graph_section(&one_live, 1, &vec![0u8; n], n as u32),
    ] {
        let (st, over) = with_alloc_limit(bytes.len() * 4, || decode(&bytes, limits(), 0));
        let st = st.expect("deleted slots are valid");
        assert_eq!(over, 0, "an allocation larger than 4x the input");
        assert!(
            st.graph_heap_bytes() <= bytes.len() as u64,
            "{} bytes held for {} input",
            st.graph_heap_bytes(),
            bytes.len()
        );
        assert_eq!(encode(&st), bytes, "re-encodes to the same bytes");
    }
}

#[test]
fn live_nodes_and_edges_between_deleted_slots_keep_their_ids() {
    let mut nodes = vec![0u8; 300];
    nodes.extend_from_slice(&[1, 7, 255, 255, 255, 255]);
    nodes.extend_from_slice(&[0; 200]);
    nodes.extend_from_slice(&[1, 8, 255, 255, 255, 255]);
    let mut edges = vec![0u8; 600];
    edges.push(1);
    edges.push(3);
    edges.extend_from_slice(&300u32.to_le_bytes());
    edges.extend_from_slice(&501u32.to_le_bytes());
    let bytes = graph_section(&nodes, 502, &edges, 601);
    let st = decode(&bytes, limits(), 0).unwrap();
    assert_eq!(st.node(300).map(|n| n.kind), Some(7));
    assert_eq!(st.node(501).map(|n| n.kind), Some(8));
    assert!(st.node(299).is_none() && st.node(500).is_none() && st.node(502).is_none());
    let out = st.out_edges(300).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.kind, out[0].1.to), (600, 3, 501));
    assert_eq!(st.nodes().live, 2);
    assert_eq!(st.edges().slots, 601);
    assert_eq!(encode(&st), bytes);
}

/// The gathered runs change only the speed: pieces of every size, across
/// and beyond a run, give BLAKE3 of their concatenation, and a digest
/// taken halfway does not disturb the rest.
#[test]
fn when_pieces_are_measured_then_the_digest_is_blake3_of_their_concatenation() {
    use super::{Measure, Sink, MEASURE_RUN};
    let sizes = [
        0,
        1,
        8,
        3136,
        MEASURE_RUN - 1,
        MEASURE_RUN,
        2,
        MEASURE_RUN + 1,
        3 * MEASURE_RUN + 7,
        63,
    ];
    let mut m = Measure::default();
    let mut all = Vec::new();
    for (i, n) in sizes.into_iter().enumerate() {
        let piece: Vec<u8> = (0..n).map(|k| (k * 31 + i * 7) as u8).collect();
        m.put(&piece);
        all.extend_from_slice(&piece);
        assert_eq!(m.len, all.len() as u64);
        assert_eq!(
            m.digest(),
            *blake3::hash(&all).as_bytes(),
            "after piece {i}"
        );
    }
}
