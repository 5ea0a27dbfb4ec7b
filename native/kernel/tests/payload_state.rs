//! A record's payload (metadata and text) is state: its events have the
//! documented bytes, it is the record's `rec:<id>` metadata, it changes the
//! hash, it survives restart and snapshot restore, bad payloads change
//! nothing, and filtered search answers exactly the matching records.
//! Expected values are written out by hand.

mod support;

use std::sync::Arc;

use support::*;
use valori_kernel::database::{BatchPayloadsIn, PayloadIn, SearchRequest};
use valori_kernel::event::{Event, Payload};
use valori_kernel::storage::SimVfs;

fn with(meta: Option<&str>, text: Option<&str>) -> Option<PayloadIn> {
    Some(PayloadIn {
        metadata: meta.map(str::to_owned),
        text: text.map(str::to_owned),
    })
}

fn put(db: &valori_kernel::Database, v: &[f32], meta: Option<&str>, text: Option<&str>) -> u32 {
    block_on(db.insert_with(D, v.to_vec(), 0, None, with(meta, text)))
        .expect("insert")
        .ids[0]
}

#[test]
fn payload_events_have_the_documented_bytes_and_round_trip() {
    let ev = Event::InsertRecord {
        id: 1,
        tag: 0,
        vector: vec![2],
        payload: Payload {
            metadata: Some(b"{}".to_vec()),
            text: None,
        },
    };
    let mut expected = vec![13, 1, 0, 0, 0];
    expected.extend([0; 8]);
    expected.extend([1, 0, 0, 0, 2, 0, 0, 0]);
    expected.extend([1, 2, 0, 0, 0, b'{', b'}']);
    assert_eq!(ev.encode(), expected);
    assert_eq!(ev.encoded_len(), expected.len());
    assert_eq!(Event::decode(&expected).unwrap(), ev);

    let batch = Event::InsertBatch {
        first_id: 0,
        count: 2,
        vectors: vec![1, 2],
        payloads: vec![
            Payload::default(),
            Payload {
                metadata: None,
                text: Some(b"\"a\"".to_vec()),
            },
        ],
    };
    let mut expected = vec![
        14, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0,
    ];
    expected.extend([2, 0, 0, 0, 0, 2, 3, 0, 0, 0, b'"', b'a', b'"']);
    assert_eq!(batch.encode(), expected);
    assert_eq!(batch.encoded_len(), expected.len());
    assert_eq!(Event::decode(&expected).unwrap(), batch);

    // Without a payload the old types and bytes are kept.
    let plain = Event::InsertRecord {
        id: 1,
        tag: 0,
        vector: vec![2],
        payload: Payload::default(),
    };
    assert_eq!(plain.encode()[0], 1);
    // A payload count that disagrees with the batch, or unknown flag bits, is corrupt.
    let mut bad = batch.encode();
    bad[21] = 3;
    assert_eq!(Event::decode(&bad).unwrap_err().code(), "CORRUPT_DATA");
    let mut bad = ev.encode();
    bad[21] = 4;
    assert_eq!(Event::decode(&bad).unwrap_err().code(), "CORRUPT_DATA");
}

#[test]
fn a_records_payload_is_its_rec_metadata_and_goes_with_a_hard_delete() {
    let db = memory(limits());
    let id = put(
        &db,
        &[1.0, 2.0],
        Some(r#"{"b": 2, "a": "x"}"#),
        Some("some text"),
    );
    assert_eq!(
        db.metadata(D, &format!("rec:{id}")).unwrap().as_deref(),
        Some(r#"{"a":"x","b":2}"#)
    );
    assert_eq!(
        db.metadata(D, &format!("rec:{id}:text"))
            .unwrap()
            .as_deref(),
        Some("\"some text\"")
    );
    let r = db.record(D, id).unwrap().unwrap();
    assert_eq!(r.metadata.as_deref(), Some(r#"{"a":"x","b":2}"#));
    assert_eq!(r.text.as_deref(), Some("some text"));

    // The memory protocol's key and the record route write the same entry.
    block_on(db.set_metadata(D, format!("rec:{id}"), r#"{"c": true}"#.into(), None)).unwrap();
    assert_eq!(
        db.record(D, id).unwrap().unwrap().metadata.as_deref(),
        Some(r#"{"c":true}"#)
    );
    block_on(db.set_record_metadata(D, id, r#"{"d": 1}"#.into(), None)).unwrap();
    assert_eq!(
        db.metadata(D, &format!("rec:{id}")).unwrap().as_deref(),
        Some(r#"{"d":1}"#)
    );

    block_on(db.delete_record(D, id, None)).unwrap();
    assert_eq!(db.metadata(D, &format!("rec:{id}")).unwrap(), None);
    assert_eq!(db.metadata(D, &format!("rec:{id}:text")).unwrap(), None);
}

#[test]
fn the_same_payloads_give_the_same_hash_and_a_payload_changes_it() {
    let a = memory(limits());
    let b = memory(limits());
    let c = memory(limits());
    // Key order and number spelling do not matter: the canonical form does.
    put(
        &a,
        &[1.0, 2.0],
        Some(r#"{"x": 1.0, "y": [true]}"#),
        Some("t"),
    );
    put(&b, &[1.0, 2.0], Some(r#"{"y":[true],"x":1}"#), Some("t"));
    put(&c, &[1.0, 2.0], None, None);
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
}

#[test]
fn bad_payloads_are_refused_and_change_nothing() {
    let db = memory(limits());
    let id = put(&db, &[1.0, 2.0], Some(r#"{"k": 1}"#), None);
    let (h, before) = (db.height(), hash(&db));
    let refuse = |r: valori_kernel::KResult<_>, code: &str, says: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code(), code, "{e}");
        assert!(e.to_string().contains(says), "{e}");
    };
    refuse(
        block_on(db.insert_with(D, vec![1.0, 1.0], 0, None, with(Some("[1]"), None))),
        "INVALID_ARGUMENT",
        "object",
    );
    refuse(
        block_on(db.set_record_metadata(D, 7, "{}".into(), None)),
        "NOT_FOUND",
        "record 7",
    );
    refuse(
        block_on(db.set_metadata(D, "rec:7".into(), "{}".into(), None)),
        "NOT_FOUND",
        "record 7",
    );
    refuse(
        block_on(db.set_metadata(D, format!("rec:{id}"), "\"str\"".into(), None)),
        "INVALID_ARGUMENT",
        "object",
    );
    refuse(
        block_on(db.set_metadata(D, format!("rec:{id}:text"), "{}".into(), None)),
        "INVALID_ARGUMENT",
        "JSON string",
    );
    let batch = |meta: Vec<Option<&str>>| BatchPayloadsIn {
        metadata: Some(meta.into_iter().map(|m| m.map(str::to_owned)).collect()),
        texts: None,
    };
    refuse(
        block_on(db.insert_batch_with(D, vec![1.0; 4], 2, None, Some(batch(vec![None])))),
        "INVALID_ARGUMENT",
        "1 entries for a batch of 2",
    );
    refuse(
        block_on(db.insert_batch_with(
            D,
            vec![1.0; 4],
            2,
            None,
            Some(batch(vec![Some("{}"), Some("7")])),
        )),
        "INVALID_ARGUMENT",
        "item 1",
    );
    assert_eq!((db.height(), hash(&db)), (h, before));
}

#[test]
fn payloads_survive_restart_and_snapshot_restore() {
    let vfs = Arc::new(SimVfs::new());
    let cfg = logged();
    let (hash_before, snap) = {
        let db = open(&vfs, limits(), &cfg);
        put(&db, &[1.0, 2.0], Some(r#"{"a": 1}"#), Some("one"));
        let payloads = BatchPayloadsIn {
            metadata: Some(vec![Some(r#"{"a": 2}"#.into()), None]),
            texts: Some(vec![None, Some("three".into())]),
        };
        block_on(db.insert_batch_with(D, vec![3.0, 4.0, 5.0, 6.0], 2, None, Some(payloads)))
            .unwrap();
        let snap = db.snapshot_bytes().unwrap().1;
        (hash(&db), snap)
    };
    let db = open(&vfs, limits(), &cfg);
    assert_eq!(hash(&db), hash_before);
    let r = |id| db.record(D, id).unwrap().unwrap();
    assert_eq!(
        (r(0).metadata.as_deref(), r(0).text.as_deref()),
        (Some(r#"{"a":1}"#), Some("one"))
    );
    assert_eq!(
        (r(1).metadata.as_deref(), r(1).text.as_deref()),
        (Some(r#"{"a":2}"#), None)
    );
    assert_eq!(
        (r(2).metadata.as_deref(), r(2).text.as_deref()),
        (None, Some("three"))
    );

    let fresh = memory(limits());
    fresh.restore(&snap, true).unwrap();
    assert_eq!(hash(&fresh), hash_before);
    assert_eq!(
        fresh.record(D, 2).unwrap().unwrap().text.as_deref(),
        Some("three")
    );
    // The payload index is rebuilt from the restored state.
    let req = SearchRequest {
        filter: Some(r#"{"a": 2}"#.into()),
        ..Default::default()
    };
    let hits = fresh.query(D, &[0.0, 0.0], 3, &req).unwrap();
    assert_eq!(hits.iter().map(|h| h.id).collect::<Vec<_>>(), vec![1]);
}

#[test]
fn an_idempotent_retry_must_carry_the_same_payload() {
    let db = memory(limits());
    let first =
        block_on(db.insert_with(D, vec![1.0, 2.0], 0, key(1), with(Some(r#"{"a":1}"#), None)))
            .unwrap();
    let again = block_on(db.insert_with(
        D,
        vec![1.0, 2.0],
        0,
        key(1),
        with(Some(r#"{"a": 1.0}"#), None),
    ))
    .unwrap();
    assert!(again.deduplicated);
    assert_eq!(again.ids, first.ids);
    let e = block_on(db.insert_with(D, vec![1.0, 2.0], 0, key(1), with(Some(r#"{"a":2}"#), None)))
        .unwrap_err();
    assert_eq!(e.code(), "IDEMPOTENCY_KEY_REUSED");
}

/// Records 0..n on a line (record i at (i, 0)) with `{"m": i % 10, "i": i}`;
/// a filter on `m` then matches every tenth record.
fn line(db: &valori_kernel::Database, c: &str, n: usize) {
    let values: Vec<f32> = (0..n).flat_map(|i| [i as f32, 0.0]).collect();
    let payloads = BatchPayloadsIn {
        metadata: Some(
            (0..n)
                .map(|i| Some(format!(r#"{{"m": {}, "i": {i}}}"#, i % 10)))
                .collect(),
        ),
        texts: None,
    };
    block_on(db.insert_batch_with(c, values, n as u32, None, Some(payloads))).unwrap();
}

#[test]
fn a_selective_filter_returns_exactly_the_k_nearest_matching_records() {
    let db = memory(valori_kernel::state::Limits::new(2, 100_000, 10, 10));
    line(&db, D, 2000);
    let ids = |f: &str, k: usize, q: f32| {
        let req = SearchRequest {
            filter: Some(f.into()),
            ..Default::default()
        };
        db.query(D, &[q, 0.0], k, &req)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    // Nearest to 1000 with m = 3: 1003, 993, 1013, 983, ...
    assert_eq!(ids(r#"{"m": 3}"#, 4, 1000.0), vec![1003, 993, 1013, 983]);
    // Fewer matches than k: all of them, nearest first.
    assert_eq!(
        ids(r#"{"m": 3, "i": {"$lt": 40}}"#, 5, 0.0),
        vec![3, 13, 23, 33]
    );
    assert_eq!(ids(r#"{"m": {"$in": [1, 2]}}"#, 3, 0.0), vec![1, 2, 11]);
    assert_eq!(ids(r#"{"nothing": 1}"#, 3, 0.0), Vec::<u32>::new());
    // A bad filter is refused with the operator named.
    let req = SearchRequest {
        filter: Some(r#"{"m": {"$regex": "x"}}"#.into()),
        ..Default::default()
    };
    let e = db.query(D, &[0.0, 0.0], 1, &req).unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert!(e.to_string().contains("$regex"), "{e}");
}

#[test]
fn payload_entries_count_bytes_but_not_against_the_entry_limit() {
    let db = memory(valori_kernel::state::Limits {
        max_metadata_entries: 1,
        max_metadata_bytes: 200,
        ..limits()
    });
    for i in 0..3 {
        put(&db, &[i as f32, 0.0], Some(r#"{"a": 1}"#), Some("t"));
    }
    block_on(db.set_metadata(D, "plain".into(), "1".into(), None)).unwrap();
    let e = block_on(db.set_metadata(D, "other".into(), "1".into(), None)).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("VALORI_MAX_METADATA_ENTRIES"), "{e}");
    // 3 × (5 + 7) + 3 × (7 + 3) + 5 + 1 = 72 bytes so far; a big payload
    // still runs into the byte limit.
    let big = format!(r#"{{"a": "{}"}}"#, "x".repeat(150));
    let e =
        block_on(db.insert_with(D, vec![9.0, 0.0], 0, None, with(Some(&big), None))).unwrap_err();
    assert_eq!(e.code(), "CAPACITY_EXCEEDED");
    assert!(e.to_string().contains("VALORI_MAX_METADATA_BYTES"), "{e}");
    // A snapshot of this state restores on a node with the same limits.
    let (_, snap) = db.snapshot_bytes().unwrap();
    let copy = memory(valori_kernel::state::Limits {
        max_metadata_entries: 1,
        max_metadata_bytes: 200,
        ..limits()
    });
    copy.restore(&snap, true).unwrap();
    assert_eq!(hash(&copy), hash(&db));
}

#[test]
fn a_repeated_filter_sees_every_write_in_between() {
    let db = memory(limits());
    line(&db, D, 40);
    let req = SearchRequest {
        filter: Some(r#"{"m": 3}"#.into()),
        ..Default::default()
    };
    let ids = || {
        db.query(D, &[0.0, 0.0], 10, &req)
            .unwrap()
            .into_iter()
            .map(|h| h.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(), vec![3, 13, 23, 33]);
    // The same filter again, after each kind of change to what it matches.
    block_on(db.set_record_metadata(D, 0, r#"{"m": 3}"#.into(), None)).unwrap();
    assert_eq!(ids(), vec![0, 3, 13, 23, 33]);
    block_on(db.soft_delete_record(D, 13, None)).unwrap();
    assert_eq!(ids(), vec![0, 3, 23, 33]);
    block_on(db.delete_record(D, 3, None)).unwrap();
    assert_eq!(ids(), vec![0, 23, 33]);
    let more = BatchPayloadsIn {
        metadata: Some(vec![Some(r#"{"m": 3}"#.into())]),
        texts: None,
    };
    block_on(db.insert_batch_with(D, vec![0.5, 0.0], 1, None, Some(more))).unwrap();
    assert_eq!(ids(), vec![0, 40, 23, 33]);
}
