//! A write as the committer receives it, and `prepare`: the event it becomes
//! against the current store (or its first outcome again, for a known
//! idempotency key). The collection is checked and the keys are looked up
//! here; ids are assigned by `ops::build`.
//!
//! Idempotency: a key's fingerprint is BLAKE3 of the request without the ids
//! the kernel assigns (collection id, operation, arguments). Same key, same
//! fingerprint: the stored outcome, `deduplicated`, nothing written. Same key,
//! another fingerprint: IDEMPOTENCY_KEY_REUSED. Batch item keys: none known
//! → insert all; all items keyed and all known with equal fingerprints → the
//! stored ids; anything else → IDEMPOTENCY_KEY_REUSED naming the first item.

use crate::codec::put_i32_slice;
use crate::entry::{decode_entry, CollectionConfig, Fingerprint, Idem, IdemKey, StoreEvent};
use crate::error::{KResult, KernelError};
use crate::event::Payload;
use crate::ops::{build, check_size, Op};
use crate::store::idem::reused;
use crate::store::{check_name, id_not_found, Store};

/// The idempotency keys of one write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOpts {
    pub key: Option<IdemKey>,
    /// Batch only: one entry per item (empty: no item keys).
    pub item_keys: Vec<Option<IdemKey>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    To {
        collection: u32,
        op: Op,
        opts: WriteOpts,
    },
    CreateCollection {
        name: String,
        config: CollectionConfig,
        opts: WriteOpts,
    },
    DropCollection {
        name: String,
        opts: WriteOpts,
    },
    /// A log entry a leader committed at `seq` (follower apply). Idempotent
    /// by sequence number: `seq <= height` is skipped.
    Replicated {
        seq: u64,
        payload: Vec<u8>,
    },
}

/// A collection-`default` operation without keys (tests, tools).
impl From<Op> for Write {
    fn from(op: Op) -> Write {
        Write::To {
            collection: 0,
            op,
            opts: WriteOpts::default(),
        }
    }
}

/// What a committed (or deduplicated) write answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// insert [id]; batch [ids]; node [id]; edge [id]; upsert [record,
    /// document node, chunk node, edge]; create collection [id]; else [].
    pub ids: Vec<u32>,
    /// The event's sequence number (the first outcome's when deduplicated).
    pub height: u64,
    pub deduplicated: bool,
    /// How long the write spent in the committer (for traces); filled in
    /// by the committer after the group, never seen by apply.
    pub timing: Timing,
}

/// Durations the committer measured for one write, in microseconds. They
/// describe this process's run, not the write, so they are no part of the
/// outcome's identity: any two `Timing`s compare equal.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// From submission until the committer took the write's group.
    pub queued_us: u64,
    /// The group's apply under the write lock (lock wait included).
    pub apply_us: u64,
    /// The group's log append with its fdatasync; None when nothing was
    /// appended (no event log, or the write recorded no event).
    pub fsync_us: Option<u64>,
}

impl PartialEq for Timing {
    fn eq(&self, _: &Timing) -> bool {
        true
    }
}

impl Eq for Timing {}

/// The event to apply and log: fresh (encoded with this group's commit
/// time) or a leader's entry, logged verbatim (its time and bytes kept).
#[derive(Debug)]
pub enum Prepared {
    Fresh(StoreEvent),
    Verbatim(StoreEvent, Vec<u8>),
}

impl Prepared {
    pub fn event(&self) -> &StoreEvent {
        match self {
            Prepared::Fresh(e) | Prepared::Verbatim(e, _) => e,
        }
    }
}

struct Fp(blake3::Hasher);

impl Fp {
    fn new(domain: &[u8], collection: u32, op: u8) -> Fp {
        let mut h = blake3::Hasher::new();
        h.update(domain);
        h.update(&collection.to_le_bytes());
        h.update(&[op]);
        Fp(h)
    }
    fn u32(&mut self, v: u32) -> &mut Fp {
        self.0.update(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Fp {
        self.0.update(&v.to_le_bytes());
        self
    }
    fn bytes(&mut self, b: &[u8]) -> &mut Fp {
        self.u64(b.len() as u64);
        self.0.update(b);
        self
    }
    fn i32s(&mut self, v: &[i32]) -> &mut Fp {
        self.u64(v.len() as u64);
        put_i32_slice(&mut self.0, v);
        self
    }
    /// A payload, only when there is one (so a write without one keeps the
    /// fingerprint it had before payloads existed).
    fn payload(&mut self, p: &Payload) -> &mut Fp {
        if !p.is_empty() {
            self.0.update(b"payload");
            for v in [&p.metadata, &p.text] {
                match v {
                    Some(b) => self.u32(1).bytes(b),
                    None => self.u32(0),
                };
            }
        }
        self
    }
    fn done(&self) -> Fingerprint {
        *self.0.finalize().as_bytes()
    }
}

const NONE: u32 = u32::MAX;

/// Fingerprint of a collection operation (ids it would be given excluded).
pub fn fingerprint(collection: u32, op: &Op) -> Fingerprint {
    let d = b"valori-write\0";
    match op {
        Op::Insert {
            vector,
            tag,
            payload,
        } => Fp::new(d, collection, 1)
            .u64(*tag)
            .i32s(vector)
            .payload(payload)
            .done(),
        Op::InsertBatch {
            vectors,
            count,
            payloads,
        } => {
            let mut f = Fp::new(d, collection, 2);
            f.u32(*count).i32s(vectors);
            for p in payloads {
                f.payload(p);
            }
            f.done()
        }
        Op::Delete { id } => Fp::new(d, collection, 3).u32(*id).done(),
        Op::SoftDelete { id } => Fp::new(d, collection, 4).u32(*id).done(),
        Op::CreateNode { kind, record } => Fp::new(d, collection, 5)
            .u32(u32::from(*kind))
            .u32(record.unwrap_or(NONE))
            .done(),
        Op::CreateEdge { from, to, kind } => Fp::new(d, collection, 6)
            .u32(*from)
            .u32(*to)
            .u32(u32::from(*kind))
            .done(),
        Op::SetMetadata { key, value } => Fp::new(d, collection, 7)
            .bytes(key.as_bytes())
            .bytes(value)
            .done(),
        Op::Upsert {
            vector,
            tag,
            attach,
            metadata,
        } => {
            let mut f = Fp::new(d, collection, 8);
            f.u64(*tag).i32s(vector).u32(attach.unwrap_or(NONE));
            match metadata {
                Some(m) => f.u32(1).bytes(m),
                None => f.u32(0),
            }
            .done()
        }
        Op::DeleteNode { id } => Fp::new(d, collection, 11).u32(*id).done(),
        Op::DeleteEdge { id } => Fp::new(d, collection, 12).u32(*id).done(),
    }
}

/// Fingerprint of one batch item (its vector and payload, in its collection).
pub fn item_fingerprint(collection: u32, vector: &[i32], payload: &Payload) -> Fingerprint {
    Fp::new(b"valori-write-item\0", collection, 2)
        .i32s(vector)
        .payload(payload)
        .done()
}

fn create_fingerprint(name: &str, c: &CollectionConfig) -> Fingerprint {
    let mut w = crate::bytes::Writer::with_capacity(64);
    crate::entry::write_config(&mut w, c);
    Fp::new(b"valori-write\0", NONE, 9)
        .bytes(name.as_bytes())
        .bytes(&w.buf)
        .done()
}

fn drop_fingerprint(name: &str) -> Fingerprint {
    Fp::new(b"valori-write\0", NONE, 10)
        .bytes(name.as_bytes())
        .done()
}

/// The stored outcome of `key` when it was used for the same request.
fn known(store: &Store, key: Option<IdemKey>, fp: &Fingerprint) -> KResult<Option<Outcome>> {
    let Some(k) = key else { return Ok(None) };
    match store.idempotency().get(&k) {
        None => Ok(None),
        Some(s) if s.fp == *fp => Ok(Some(Outcome {
            ids: s.ids.to_vec(),
            height: s.height,
            deduplicated: true,
            timing: Timing::default(),
        })),
        Some(_) => Err(reused("this idempotency key")),
    }
}

fn fresh(ev: StoreEvent, ids: Vec<u32>, store: &Store) -> KResult<(Option<Prepared>, Outcome)> {
    check_size(ev.encoded_len())?;
    let out = Outcome {
        ids,
        height: store.height() + 1,
        deduplicated: false,
        timing: Timing::default(),
    };
    Ok((Some(Prepared::Fresh(ev)), out))
}

/// Build the event for `w` (None: nothing to record: a duplicate, an empty
/// batch, a repeated soft delete, an already-applied replicated event) and the
/// outcome the caller sees once it is committed (`height` is final once the
/// event is applied).
///
/// A client write whose event would exceed [`crate::MAX_EVENT_BYTES`] is
/// refused here, before anything is applied; replicated events are not
/// (replay and followers must apply what a leader committed).
pub fn prepare(store: &Store, w: Write) -> KResult<(Option<Prepared>, Outcome)> {
    let none = |ids: Vec<u32>| Outcome {
        ids,
        height: store.height(),
        deduplicated: false,
        timing: Timing::default(),
    };
    match w {
        Write::To {
            collection,
            op,
            opts,
        } => {
            let key_fp = opts.key.map(|_| fingerprint(collection, &op));
            if let Some(fp) = &key_fp {
                if let Some(out) = known(store, opts.key, fp)? {
                    return Ok((None, out));
                }
            }
            let c = store
                .get(collection)
                .ok_or_else(|| id_not_found(collection))?;
            let items = match item_keys(store, collection, &op, &opts.item_keys)? {
                Items::Duplicate(out) => return Ok((None, out)),
                Items::Fresh(items) => items,
            };
            let (ev, created) = build(&c.db.state, op)?;
            let Some(event) = ev else {
                return Ok((None, none(created_ids(&created))));
            };
            let idem = Idem {
                key: opts.key.zip(key_fp),
                items,
            };
            let ev = StoreEvent::Data {
                collection,
                event,
                idem,
            };
            fresh(ev, created_ids(&created), store)
        }
        Write::CreateCollection { name, config, opts } => {
            let fp = create_fingerprint(&name, &config);
            if let Some(out) = known(store, opts.key, &fp)? {
                return Ok((None, out));
            }
            check_name(&name)?;
            if store.resolve(&name).is_ok() {
                return Err(KernelError::CollectionExists(format!(
                    "collection {name:?} already exists"
                )));
            }
            let id = store.next_id();
            let ev = StoreEvent::CreateCollection {
                id,
                name,
                config,
                idem: Idem {
                    key: opts.key.map(|k| (k, fp)),
                    items: Vec::new(),
                },
            };
            fresh(ev, vec![id], store)
        }
        Write::DropCollection { name, opts } => {
            let fp = drop_fingerprint(&name);
            if let Some(out) = known(store, opts.key, &fp)? {
                return Ok((None, out));
            }
            let id = store.resolve(&name)?.id;
            if id == 0 {
                return Err(KernelError::CollectionProtected(
                    "collection \"default\" cannot be dropped".into(),
                ));
            }
            let ev = StoreEvent::DropCollection {
                id,
                idem: Idem {
                    key: opts.key.map(|k| (k, fp)),
                    items: Vec::new(),
                },
            };
            fresh(ev, Vec::new(), store)
        }
        Write::Replicated { seq, payload } => {
            let h = store.height();
            if seq <= h {
                return Ok((None, none(Vec::new())));
            }
            if seq != h + 1 {
                return Err(KernelError::SequenceGap(format!(
                    "replicated event {seq} does not follow height {h}: a gap in the stream"
                )));
            }
            let (_, ev) = decode_entry(&payload)?;
            let out = Outcome {
                ids: Vec::new(),
                height: seq,
                deduplicated: false,
                timing: Timing::default(),
            };
            Ok((Some(Prepared::Verbatim(ev, payload)), out))
        }
    }
}

fn created_ids(c: &crate::ops::Created) -> Vec<u32> {
    c.ids()
}

enum Items {
    Duplicate(Outcome),
    Fresh(Vec<Option<(IdemKey, Fingerprint)>>),
}

/// Apply the batch item-key rules (module docs).
fn item_keys(store: &Store, collection: u32, op: &Op, keys: &[Option<IdemKey>]) -> KResult<Items> {
    if keys.is_empty() {
        return Ok(Items::Fresh(Vec::new()));
    }
    let Op::InsertBatch {
        vectors,
        count,
        payloads,
    } = op
    else {
        return Err(KernelError::InvalidArgument(
            "item keys are only accepted by a batch insert".into(),
        ));
    };
    if keys.len() != *count as usize {
        return Err(KernelError::InvalidArgument(format!(
            "{} item keys for a batch of {count}",
            keys.len()
        )));
    }
    let dim = vectors.len() / (*count as usize).max(1);
    let table = store.idempotency();
    let mut items = Vec::with_capacity(keys.len());
    let mut known_ids = Vec::new();
    let mut first_known: Option<(usize, u64)> = None;
    let mut first_unknown: Option<usize> = None;
    for (i, k) in keys.iter().enumerate() {
        let Some(k) = k else {
            first_unknown.get_or_insert(i);
            items.push(None);
            continue;
        };
        let none = Payload::default();
        let fp = item_fingerprint(
            collection,
            &vectors[i * dim..(i + 1) * dim],
            payloads.get(i).unwrap_or(&none),
        );
        match table.get(k) {
            None => first_unknown = first_unknown.or(Some(i)),
            Some(s) if s.fp == fp => {
                first_known.get_or_insert((i, s.height));
                known_ids.extend(s.ids.to_vec());
            }
            Some(_) => return Err(reused(&format!("the idempotency key of item {i}"))),
        }
        items.push(Some((*k, fp)));
    }
    match (first_known, first_unknown) {
        (None, _) => Ok(Items::Fresh(items)),
        (Some((_, height)), None) => Ok(Items::Duplicate(Outcome {
            ids: known_ids,
            height,
            deduplicated: true,
            timing: Timing::default(),
        })),
        (Some((i, _)), Some(_)) => Err(reused(&format!(
            "the idempotency key of item {i} (the batch mixes known and new items)"
        ))),
    }
}
