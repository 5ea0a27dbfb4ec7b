//! Bounds enforced before apply: one event's size, metadata entries and
//! bytes, and the memory the record and graph pools keep after hard deletes.

use valori_kernel::engine::Engine;
use valori_kernel::event::Event;
use valori_kernel::index::IndexConfig;
use valori_kernel::ops::{self, Op};
use valori_kernel::records::CHUNK_SLOTS;
use valori_kernel::state::{Limits, State};
use valori_kernel::store::{codec, Store};
use valori_kernel::MAX_EVENT_BYTES;

#[test]
fn when_a_batch_would_exceed_the_event_limit_then_it_is_refused_before_apply() {
    assert_eq!(MAX_EVENT_BYTES, 64 * 1024 * 1024);
    let dim = 1024;
    let st = Store::new(Limits::new(dim, 1_000_000, 0, 0), IndexConfig::default());
    // 16,384 rows x 1024 x 4 bytes = exactly 64 MiB of components: with the header, one event over.
    // Header: type 1 + collection 4 + first id 4 + count 4 + length 4 + key flags 1 = 18 bytes.
    let rows = 16_384u32;
    let e = ops::prepare(
        &st,
        Op::InsertBatch {
            vectors: vec![0; rows as usize * dim],
            count: rows,
            payloads: Vec::new(),
        }
        .into(),
    )
    .unwrap_err();
    assert_eq!(e.code(), "PAYLOAD_TOO_LARGE");
    let msg = e.to_string();
    assert!(
        msg.contains("67108864") && msg.contains("67108882"),
        "{msg}"
    );
    // One row fewer fits.
    let (ev, _) = ops::prepare(
        &st,
        Op::InsertBatch {
            vectors: vec![0; (rows as usize - 1) * dim],
            count: rows - 1,
            payloads: Vec::new(),
        }
        .into(),
    )
    .unwrap();
    assert!(ev.unwrap().event().encoded_len() <= MAX_EVENT_BYTES);
}

#[test]
fn when_the_engine_refuses_an_oversized_event_then_nothing_changes() {
    let dim = 4096;
    let e = Engine::new(
        Store::new(Limits::new(dim, 1_000_000, 0, 0), IndexConfig::default()),
        None,
        None,
    );
    let before = codec::state_hash(&e.read());
    let rows = (MAX_EVENT_BYTES / (dim * 4)) as u32 + 1;
    let err = e
        .submit_sync(Op::InsertBatch {
            vectors: vec![0; rows as usize * dim],
            count: rows,
            payloads: Vec::new(),
        })
        .unwrap_err();
    assert_eq!(err.code(), "PAYLOAD_TOO_LARGE");
    assert_eq!(codec::state_hash(&e.read()), before);
    assert!(!e.is_read_only());
    e.submit_sync(Op::Insert {
        vector: vec![0; dim],
        tag: 0,
        payload: Default::default(),
    })
    .unwrap();
}

fn meta(key: &str, len: usize) -> Event {
    Event::SetMetadata {
        key: key.into(),
        value: vec![b'x'; len],
    }
}

#[test]
fn metadata_entries_and_bytes_are_capped_and_an_overwrite_counts_the_difference() {
    let limits = Limits {
        max_metadata_entries: 2,
        max_metadata_bytes: 20,
        ..Limits::new(1, 10, 10, 10)
    };
    let mut st = State::new(limits);
    st.apply(&meta("a", 4)).unwrap(); // 5 bytes
    st.apply(&meta("b", 4)).unwrap(); // 10 bytes
    let e = st.apply(&meta("c", 1)).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("VALORI_MAX_METADATA_ENTRIES"), "{e}");
    // Overwriting "a" with 14 bytes: 10 - 5 + 15 = 20, exactly the cap.
    st.apply(&meta("a", 14)).unwrap();
    assert_eq!(st.metadata_usage(), (2, 20));
    let e = st.apply(&meta("b", 5)).unwrap_err();
    assert!(e.to_string().contains("VALORI_MAX_METADATA_BYTES"), "{e}");
    // Shrinking is always allowed, and frees room.
    st.apply(&meta("a", 0)).unwrap();
    assert_eq!(st.metadata_usage(), (2, 6));
    // An upsert's rec:<id> metadata is the record's payload: it counts its
    // bytes but not against the entry limit, and a hard delete gives them back.
    let mut st = State::new(Limits {
        max_metadata_entries: 1,
        max_metadata_bytes: 16,
        ..Limits::new(1, 10, 10, 10)
    });
    let up = |id: u32, doc: u32| Event::UpsertMemory {
        record_id: id,
        tag: 0,
        vector: vec![1],
        doc: valori_kernel::event::DocTarget::New(doc),
        chunk_node: doc + 1,
        edge_id: id,
        metadata: Some(b"{}".to_vec()),
    };
    st.apply(&up(0, 0)).unwrap(); // "rec:0" + "{}": 7 bytes
    assert_eq!(st.metadata_usage(), (0, 7));
    st.apply(&up(1, 2)).unwrap(); // 14 bytes
    assert_eq!(st.apply(&up(2, 4)).unwrap_err().code(), "CAPACITY_EXCEEDED");
    st.apply(&Event::DeleteRecord { id: 0 }).unwrap();
    assert_eq!(st.metadata_usage(), (0, 7));
    st.apply(&up(2, 4)).unwrap();
}

#[test]
fn insert_delete_cycles_at_capacity_one_keep_memory_flat() {
    let dim = 1536;
    let mut st = State::new(Limits::new(dim, 1, 0, 0));
    for i in 0..10_000u32 {
        st.apply(&Event::InsertRecord {
            id: i,
            tag: 0,
            vector: vec![1; dim],
            payload: Default::default(),
        })
        .unwrap();
        assert_eq!(st.vector_bytes(), dim as u64 * 4);
        st.apply(&Event::DeleteRecord { id: i }).unwrap();
    }
    assert_eq!(st.records().slots, 10_000, "ids are never reused");
    assert_eq!(st.vector_bytes(), 0);
    // Before chunked storage this was 10,000 x (1536 x 4 + 9) bytes, about 61 MB.
    assert!(
        st.record_heap_bytes() < 64 * 1024,
        "{} bytes held",
        st.record_heap_bytes()
    );
    // Holes cost one status byte in the canonical encoding, exactly as before chunked storage.
    let bytes = valori_kernel::codec::encode(&st);
    assert_eq!(bytes.len(), 12 + 4 + 4 + 4 + 10_000 + 4 + 4 + 4);
    assert!(st.records().slots as usize > 10 * CHUNK_SLOTS);
}

#[test]
fn upsert_delete_cycles_at_capacity_one_keep_graph_memory_flat() {
    use valori_kernel::event::DocTarget;
    // One record, the document node plus one chunk node, one edge.
    let mut st = State::new(Limits::new(4, 1, 2, 1));
    let cycles = 10_000u32;
    for i in 0..cycles {
        let doc = if i == 0 {
            DocTarget::New(0)
        } else {
            DocTarget::Existing(0)
        };
        st.apply(&Event::UpsertMemory {
            record_id: i,
            tag: 0,
            vector: vec![1; 4],
            doc,
            chunk_node: i + 1,
            edge_id: i,
            metadata: None,
        })
        .unwrap();
        assert_eq!(st.out_edges(0).unwrap().len(), 1);
        st.apply(&Event::DeleteRecord { id: i }).unwrap();
    }
    assert_eq!(
        (st.nodes().slots, st.nodes().live),
        (u64::from(cycles) + 1, 1),
        "ids are never reused"
    );
    assert_eq!((st.edges().slots, st.edges().live), (u64::from(cycles), 0));
    assert!(st.out_edges(0).unwrap().is_empty());
    // Before chunked graph pools this was 10,001 x 60 + 10,000 x 12 bytes, about 720 kB.
    assert!(
        st.graph_heap_bytes() < 16 * 1024,
        "{} bytes held",
        st.graph_heap_bytes()
    );
    // Deleted slots still cost one byte each in the canonical encoding.
    let n = cycles as usize;
    let bytes = valori_kernel::codec::encode(&st);
    assert_eq!(
        bytes.len(),
        12 + 4 + 4 + (4 + n) + 4 + (4 + 6 + n) + (4 + n)
    );
}
