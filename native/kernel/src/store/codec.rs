//! Canonical encoding of the whole store: the snapshot's kernel payload and
//! the input of the state hash (docs/SNAPSHOT_FORMAT.md). Collections in id
//! order, each with what defines it (name, dimension, metric, record cap) and
//! its data in the per-collection layout of `crate::codec`; then the
//! idempotency table, oldest first. Index kind, quantization and parameters
//! are search settings, node-local like the index itself: they travel in the
//! snapshot's index section and are not hashed.
//!
//! ```text
//! "VALORI-STORE" u32 version=2 | u32 next_id | u32 count
//! per collection: u32 id | u32 name_len, name | u32 dim | u8 metric
//!                 | u8 has_cap | u64 cap | collection state ("VALORI-STATE" ...)
//! u32 keys | per key: u64 height | u32 pos | key[16] | fingerprint[32]
//!               | u8 0, u8 n, n × u32 ids  or  u8 1, u32 first, u32 count
//! ```

use super::idem::{Ids, Stored, IDEMPOTENCY_RETENTION};
use super::{check_name, collection_limits, Collection, Store, Usage, MAX_COLLECTIONS};
use crate::bytes::Reader;
use crate::codec::{self, Measure, Sink};
use crate::engine::Db;
use crate::entry::{CollectionConfig, Metric};
use crate::error::{KResult, KernelError};
use crate::index::IndexConfig;
use crate::state::Limits;

/// First bytes of the store encoding (a version-1 snapshot's kernel payload
/// starts with `VALORI-STATE` instead: one collection, no store around it).
pub const STORE_MAGIC: &[u8; 12] = b"VALORI-STORE";
const VERSION: u32 = 2;

fn put_u32(sink: &mut impl Sink, v: u32) {
    sink.put(&v.to_le_bytes());
}

/// Name and hashed config of one collection.
fn put_identity(sink: &mut impl Sink, c: &Collection) {
    put_u32(sink, c.name.len() as u32);
    sink.put(c.name.as_bytes());
    put_u32(sink, c.config.dim);
    sink.put(&[
        c.config.metric.code(),
        u8::from(c.config.max_records.is_some()),
    ]);
    sink.put(&c.config.max_records.unwrap_or(0).to_le_bytes());
}

pub fn encode_into(store: &Store, sink: &mut impl Sink) {
    sink.put(STORE_MAGIC);
    put_u32(sink, VERSION);
    put_u32(sink, store.next_id);
    put_u32(sink, store.colls.len() as u32);
    for c in store.colls.values() {
        put_u32(sink, c.id);
        put_identity(sink, c);
        codec::encode_into(&c.db.state, sink);
    }
    put_u32(sink, store.idem.len() as u32);
    for (key, s) in store.idem.iter() {
        sink.put(&s.height.to_le_bytes());
        put_u32(sink, s.pos);
        sink.put(key);
        sink.put(&s.fp);
        match s.ids {
            Ids::Few { n, ids } => {
                sink.put(&[0, n]);
                for id in &ids[..n as usize] {
                    put_u32(sink, *id);
                }
            }
            Ids::Range { first, count } => {
                sink.put(&[1]);
                put_u32(sink, first);
                put_u32(sink, count);
            }
        }
    }
}

pub fn encode(store: &Store) -> Vec<u8> {
    let mut v = Vec::new();
    encode_into(store, &mut v);
    v
}

/// BLAKE3 of the whole store's canonical encoding.
pub fn state_hash(store: &Store) -> [u8; 32] {
    let mut m = Measure::default();
    encode_into(store, &mut m);
    m.digest()
}

/// BLAKE3 of one collection alone: its name, config and data, so a tenant
/// can check its own data whatever the other collections hold.
pub fn collection_hash(c: &Collection) -> [u8; 32] {
    let mut m = Measure::default();
    m.put(b"valori-collection\0");
    put_identity(&mut m, c);
    codec::encode_into(&c.db.state, &mut m);
    m.digest()
}

fn corrupt(m: impl Into<String>) -> KernelError {
    KernelError::Corrupt(format!("kernel state: {}", m.into()))
}

/// Decode a store encoding for a node with `limits` (node-wide; its `dim`
/// must be collection `default`'s). `index_of(id)` gives each collection's
/// index configuration; indexes are left empty for the caller to fill.
pub fn decode(
    bytes: &[u8],
    limits: Limits,
    height: u64,
    mut index_of: impl FnMut(u32) -> KResult<IndexConfig>,
) -> KResult<Store> {
    let mut r = Reader::new(bytes);
    if r.take(12)? != STORE_MAGIC {
        return Err(corrupt("bad magic"));
    }
    let ver = r.u32()?;
    if ver != VERSION {
        return Err(corrupt(format!("unsupported store version {ver}")));
    }
    let mut store = Store::empty(limits);
    store.next_id = r.u32()?;
    let n = r.u32()? as usize;
    if n > MAX_COLLECTIONS || n > r.remaining() {
        return Err(corrupt(format!("{n} collections")));
    }
    let mut prev: Option<u32> = None;
    for _ in 0..n {
        let id = r.u32()?;
        if prev.is_some_and(|p| p >= id) || id >= store.next_id {
            return Err(corrupt(format!("collection id {id} out of order")));
        }
        prev = Some(id);
        let name = std::str::from_utf8(r.len_bytes()?)
            .map_err(|_| corrupt("collection name is not UTF-8"))?
            .to_owned();
        check_name(&name).map_err(|e| corrupt(e.to_string()))?;
        if store.names.contains_key(&name) {
            return Err(corrupt(format!("collection name {name:?} repeated")));
        }
        let dim = r.u32()?;
        let metric = Metric::from_code(r.u8()?).ok_or_else(|| corrupt("unknown metric"))?;
        let max_records = match (r.u8()?, r.u64()?) {
            (0, _) => None,
            (1, cap) => Some(cap),
            _ => return Err(corrupt("bad record cap flag")),
        };
        if id == 0 && (name != super::DEFAULT_COLLECTION || dim as usize != limits.dim) {
            return Err(KernelError::Corrupt(format!(
                "snapshot's collection default has dimension {dim}, this node is configured with VALORI_DIM={}",
                limits.dim
            )));
        }
        if dim == 0 || dim > 65536 {
            return Err(corrupt(format!("collection dimension {dim}")));
        }
        let state = codec::decode_from(&mut r, collection_limits(limits, dim), 0)?;
        let mut index = index_of(id)?;
        index.distance = metric.distance();
        let config = CollectionConfig {
            dim,
            metric,
            max_records,
            index,
        };
        let db = Db::new_empty_index(state, config.index);
        store.insert(Collection {
            id,
            name,
            config,
            db,
        });
    }
    if !store.colls.contains_key(&0) {
        return Err(corrupt("collection default is missing"));
    }
    check_totals(store.totals, limits)?;
    decode_idem(&mut r, &mut store)?;
    if r.remaining() != 0 {
        return Err(corrupt("trailing bytes"));
    }
    store.height = height;
    Ok(store)
}

fn check_totals(t: Usage, l: Limits) -> KResult<()> {
    let over = [
        (t.records, l.max_records, "records", "VALORI_MAX_RECORDS"),
        (t.nodes, l.max_nodes, "graph nodes", "VALORI_MAX_NODES"),
        (t.edges, l.max_edges, "graph edges", "VALORI_MAX_EDGES"),
        (
            t.meta_entries,
            l.max_metadata_entries,
            "metadata entries",
            "VALORI_MAX_METADATA_ENTRIES",
        ),
        (
            t.meta_bytes,
            l.max_metadata_bytes,
            "metadata bytes",
            "VALORI_MAX_METADATA_BYTES",
        ),
    ];
    for (have, max, what, var) in over {
        if have > max {
            return Err(KernelError::CapacityExceeded(format!(
                "snapshot holds {have} {what} over all collections, this node's limit is {max} ({var})"
            )));
        }
    }
    Ok(())
}

fn decode_idem(r: &mut Reader<'_>, store: &mut Store) -> KResult<()> {
    let n = r.u32()? as usize;
    if n > IDEMPOTENCY_RETENTION || n > r.remaining() {
        return Err(corrupt(format!("{n} idempotency keys")));
    }
    let mut prev: Option<(u64, u32)> = None;
    for _ in 0..n {
        let height = r.u64()?;
        let pos = r.u32()?;
        if prev.is_some_and(|p| p >= (height, pos)) {
            return Err(corrupt("idempotency keys out of order"));
        }
        prev = Some((height, pos));
        let mut key = [0u8; 16];
        key.copy_from_slice(r.take(16)?);
        let mut fp = [0u8; 32];
        fp.copy_from_slice(r.take(32)?);
        let ids = match r.u8()? {
            0 => {
                let k = r.u8()? as usize;
                if k > 4 {
                    return Err(corrupt("more than 4 ids under one key"));
                }
                let mut v = [0u32; 4];
                for x in v.iter_mut().take(k) {
                    *x = r.u32()?;
                }
                Ids::few(&v[..k])
            }
            1 => Ids::Range {
                first: r.u32()?,
                count: r.u32()?,
            },
            x => return Err(corrupt(format!("bad ids tag {x}"))),
        };
        if store.idem.get(&key).is_some() {
            return Err(corrupt("idempotency key repeated"));
        }
        store.idem.insert(
            key,
            Stored {
                fp,
                ids,
                height,
                pos,
            },
        );
    }
    Ok(())
}
