//! Commands: a client [`Write`] as bytes, and its answer as bytes
//! (docs/COMMAND_FORMAT.md). In a cluster the command is what the Raft log
//! replicates: every node decodes it and applies it with [`crate::write::prepare`],
//! so ids are assigned at apply, identically everywhere. The answer (an
//! [`Outcome`] or a [`KernelError`]) travels back to the proposer.
//!
//! The layouts are written by hand, little-endian and canonical: one write
//! has one encoding, and `decode_write(encode_write(w)) == w` for every `w`
//! that `encode_write` accepts. `len` is a u32 length, `vec` a u32 count and
//! that many i32 (Q16.16), `opt32` a u8 0, or 1 and a u32; `optbytes` a u8 0,
//! or 1 and `len` bytes.
//!
//! Command:
//!
//! ```text
//! u8 version (1) | u8 type | body | opts
//!   type 1 insert         u32 collection, u64 tag, vec vector, payload
//!   type 2 insert batch   u32 collection, u32 count, vec vectors,
//!                         u32 n, n × payload
//!   type 3 delete         u32 collection, u32 id
//!   type 4 soft delete    u32 collection, u32 id
//!   type 5 create node    u32 collection, u8 kind, opt32 record
//!   type 6 create edge    u32 collection, u32 from, u32 to, u8 kind
//!   type 7 set metadata   u32 collection, len key (UTF-8), len value
//!   type 8 upsert         u32 collection, u64 tag, vec vector,
//!                         opt32 attach, optbytes metadata
//!   type 9 create coll.   len name (UTF-8), config (48 bytes, as in events)
//!   type 10 drop coll.    len name (UTF-8)
//!   type 11 delete node   u32 collection, u32 id
//!   type 12 delete edge   u32 collection, u32 id
//! payload = u8 flags (bit 0 metadata, bit 1 text), then each present one
//!           as len bytes (the event encoding's payload)
//! opts    = u8 flags (bit 0 key, bit 1 item keys), [16-byte key],
//!           [u32 n ≥ 1, n × (u8 0 | u8 1, 16-byte key)]
//! ```
//!
//! The type numbers are the event types of docs/EVENT_LOG_FORMAT.md.
//! [`Write::Replicated`] (a leader's event, not a request) has no command.
//! A command is at most [`MAX_COMMAND_BYTES`].
//!
//! Answer:
//!
//! ```text
//! u8 version (1) | u8 0, u64 height, u8 deduplicated, u32 n, n × u32 id
//!                | u8 1, u8 error, fields
//! ```
//!
//! Errors are numbered 1..=22 in the order of [`KernelError::CODES`].
//! DIMENSION_MISMATCH carries `u64 expected, u64 got`, METADATA_TOO_LARGE
//! `u64 len, u64 max`, EMPTY_VECTOR nothing, every other error its message
//! as `len` UTF-8. The outcome's timing is this process's and is not sent.
//!
//! Decoding trusts nothing: every length and count is checked against the
//! bytes that remain before anything is allocated for it; a short input, an
//! unknown type, tag or flag, and trailing bytes are CORRUPT_DATA.

use crate::bytes::{Reader, Writer};
use crate::entry::{read_config, write_config, CollectionConfig, IdemKey, CONFIG_LEN};
use crate::error::{KResult, KernelError};
use crate::event::{Payload, MAX_EVENT_BYTES};
use crate::ops::Op;
use crate::write::{Outcome, Timing, Write, WriteOpts};

/// First byte of a command and of an answer.
pub const COMMAND_V1: u8 = 1;

/// Largest command: [`MAX_EVENT_BYTES`] and 1 KiB. A command is never more
/// than a few bytes longer than the event it becomes, so every write a
/// single node accepts fits.
pub const MAX_COMMAND_BYTES: usize = MAX_EVENT_BYTES + 1024;

const T_INSERT: u8 = 1;
const T_BATCH: u8 = 2;
const T_DELETE: u8 = 3;
const T_SOFT: u8 = 4;
const T_NODE: u8 = 5;
const T_EDGE: u8 = 6;
const T_META: u8 = 7;
const T_UPSERT: u8 = 8;
const T_CREATE: u8 = 9;
const T_DROP: u8 = 10;
const T_DEL_NODE: u8 = 11;
const T_DEL_EDGE: u8 = 12;

const ANSWER_OK: u8 = 0;
const ANSWER_ERR: u8 = 1;

/// The bytes of `w`. Refused: [`Write::Replicated`] (INVALID_ARGUMENT), a
/// collection config the command cannot carry exactly (INVALID_ARGUMENT), a
/// command above [`MAX_COMMAND_BYTES`] (PAYLOAD_TOO_LARGE).
pub fn encode_write(w: &Write) -> KResult<Vec<u8>> {
    if let Write::CreateCollection { config, .. } = w {
        check_config(config)?;
    }
    let n = write_len(w)?;
    if n > MAX_COMMAND_BYTES {
        return Err(KernelError::PayloadTooLarge(format!(
            "this write is a {n}-byte command, the limit is {MAX_COMMAND_BYTES} bytes (64 MiB and 1 KiB): split the batch"
        )));
    }
    let mut b = Writer::with_capacity(n);
    b.u8(COMMAND_V1);
    match w {
        Write::To {
            collection,
            op,
            opts,
        } => {
            b.u8(op_type(op));
            b.u32(*collection);
            write_op(&mut b, op);
            write_opts(&mut b, opts);
        }
        Write::CreateCollection { name, config, opts } => {
            b.u8(T_CREATE);
            b.len_bytes(name.as_bytes());
            write_config(&mut b, config);
            write_opts(&mut b, opts);
        }
        Write::DropCollection { name, opts } => {
            b.u8(T_DROP);
            b.len_bytes(name.as_bytes());
            write_opts(&mut b, opts);
        }
        Write::Replicated { seq, .. } => return Err(not_a_command(*seq)),
    }
    debug_assert_eq!(b.buf.len(), n);
    Ok(b.buf)
}

/// The write `b` encodes (CORRUPT_DATA when it encodes none).
pub fn decode_write(b: &[u8]) -> KResult<Write> {
    if b.len() > MAX_COMMAND_BYTES {
        return Err(KernelError::Corrupt(format!(
            "a {}-byte command, the limit is {MAX_COMMAND_BYTES}",
            b.len()
        )));
    }
    let mut r = Reader::new(b);
    version(&mut r, "command")?;
    let t = r.u8()?;
    let w = match t {
        T_CREATE => Write::CreateCollection {
            name: utf8(r.len_bytes()?, "collection name")?,
            config: read_config(&mut r)?,
            opts: read_opts(&mut r)?,
        },
        T_DROP => Write::DropCollection {
            name: utf8(r.len_bytes()?, "collection name")?,
            opts: read_opts(&mut r)?,
        },
        t => {
            let collection = r.u32()?;
            let op = read_op(t, &mut r)?;
            Write::To {
                collection,
                op,
                opts: read_opts(&mut r)?,
            }
        }
    };
    end(&r, "command")?;
    Ok(w)
}

/// The bytes of a write's answer (its timing left out).
pub fn encode_answer(r: &KResult<Outcome>) -> Vec<u8> {
    let mut w = Writer::with_capacity(16);
    w.u8(COMMAND_V1);
    match r {
        Ok(o) if u32::try_from(o.ids.len()).is_ok() => {
            w.u8(ANSWER_OK);
            w.u64(o.height);
            w.u8(u8::from(o.deduplicated));
            w.u32(o.ids.len() as u32);
            w.u32s(&o.ids);
        }
        Ok(o) => write_error(
            &mut w,
            &KernelError::Internal(format!("an outcome of {} ids has no answer", o.ids.len())),
        ),
        Err(e) => write_error(&mut w, e),
    }
    w.buf
}

/// The answer `b` encodes: the outer error says the bytes were bad, the
/// inner result is the write's own.
pub fn decode_answer(b: &[u8]) -> KResult<KResult<Outcome>> {
    let mut r = Reader::new(b);
    version(&mut r, "answer")?;
    let a = match r.u8()? {
        ANSWER_OK => {
            let height = r.u64()?;
            let deduplicated = flag(&mut r, "deduplicated")?;
            let n = r.u32()? as usize;
            Ok(Outcome {
                ids: r.u32s(n)?,
                height,
                deduplicated,
                timing: Timing::default(),
            })
        }
        ANSWER_ERR => Err(read_error(&mut r)?),
        x => return Err(KernelError::Corrupt(format!("unknown answer tag {x}"))),
    };
    end(&r, "answer")?;
    Ok(a)
}

fn version(r: &mut Reader<'_>, what: &str) -> KResult<()> {
    match r.u8()? {
        COMMAND_V1 => Ok(()),
        v => Err(KernelError::Corrupt(format!("unknown {what} version {v}"))),
    }
}

fn end(r: &Reader<'_>, what: &str) -> KResult<()> {
    match r.remaining() {
        0 => Ok(()),
        n => Err(KernelError::Corrupt(format!(
            "{n} trailing bytes after the {what}"
        ))),
    }
}

fn utf8(b: &[u8], what: &str) -> KResult<String> {
    String::from_utf8(b.to_vec()).map_err(|_| KernelError::Corrupt(format!("{what} is not UTF-8")))
}

fn flag(r: &mut Reader<'_>, what: &str) -> KResult<bool> {
    match r.u8()? {
        0 => Ok(false),
        1 => Ok(true),
        x => Err(KernelError::Corrupt(format!("bad {what} flag {x}"))),
    }
}

/// What `read_config` gives back is what was written: the index distance
/// follows the metric, the dimension is one a collection may have and every
/// index parameter fits its u32.
fn check_config(c: &CollectionConfig) -> KResult<()> {
    let bad = |why: String| {
        Err(KernelError::InvalidArgument(format!(
            "this collection config cannot be a command: {why}"
        )))
    };
    if c.dim == 0 || c.dim > 65536 {
        return bad(format!("dimension must be 1..=65536, got {}", c.dim));
    }
    if c.index.distance != c.metric.distance() {
        return bad(format!(
            "index distance {:?} differs from metric {}'s",
            c.index.distance,
            c.metric.as_str()
        ));
    }
    let i = &c.index;
    for (name, v) in [
        ("hnsw_m", i.hnsw_m),
        ("hnsw_ef_construction", i.hnsw_ef_construction),
        ("hnsw_ef_search", i.hnsw_ef_search),
        ("ivf_nlist", i.ivf_nlist),
        ("ivf_nprobe", i.ivf_nprobe),
        ("pq_m", i.pq_m),
        ("rerank", i.rerank),
        ("train_min", i.train_min),
    ] {
        if u32::try_from(v).is_err() {
            return bad(format!("{name} {v} is above {}", u32::MAX));
        }
    }
    Ok(())
}

fn not_a_command(seq: u64) -> KernelError {
    KernelError::InvalidArgument(format!(
        "replicated event {seq} is not a command: a leader's committed event is applied as it is, never proposed again"
    ))
}

/// Encoded length of `w` (saturating, so a huge write cannot overflow it).
fn write_len(w: &Write) -> KResult<usize> {
    let name = |n: &String| 4usize.saturating_add(n.len());
    let body = match w {
        Write::To { op, opts, .. } => 4usize
            .saturating_add(op_len(op))
            .saturating_add(opts_len(opts)),
        Write::CreateCollection { name: n, opts, .. } => name(n)
            .saturating_add(CONFIG_LEN)
            .saturating_add(opts_len(opts)),
        Write::DropCollection { name: n, opts } => name(n).saturating_add(opts_len(opts)),
        Write::Replicated { seq, .. } => return Err(not_a_command(*seq)),
    };
    Ok(body.saturating_add(2))
}

fn vec_len(v: &[i32]) -> usize {
    v.len().saturating_mul(4).saturating_add(4)
}

fn opt_bytes_len(v: &Option<Vec<u8>>) -> usize {
    1usize.saturating_add(v.as_ref().map_or(0, |m| m.len().saturating_add(4)))
}

fn op_len(op: &Op) -> usize {
    match op {
        Op::Insert {
            vector, payload, ..
        } => vec_len(vector)
            .saturating_add(8)
            .saturating_add(payload.encoded_len()),
        Op::InsertBatch {
            vectors, payloads, ..
        } => payloads
            .iter()
            .fold(vec_len(vectors).saturating_add(8), |a, p| {
                a.saturating_add(p.encoded_len())
            }),
        Op::Delete { .. }
        | Op::SoftDelete { .. }
        | Op::DeleteNode { .. }
        | Op::DeleteEdge { .. } => 4,
        Op::CreateNode { record, .. } => 2 + record.map_or(0, |_| 4),
        Op::CreateEdge { .. } => 9,
        Op::SetMetadata { key, value } => key.len().saturating_add(value.len()).saturating_add(8),
        Op::Upsert {
            vector,
            attach,
            metadata,
            ..
        } => vec_len(vector)
            .saturating_add(9 + attach.map_or(0, |_| 4))
            .saturating_add(opt_bytes_len(metadata)),
    }
}

fn opts_len(o: &WriteOpts) -> usize {
    let key: usize = o.key.map_or(0, |_| 16);
    let items = if o.item_keys.is_empty() {
        0
    } else {
        o.item_keys
            .iter()
            .fold(4usize, |a, k| a.saturating_add(1 + k.map_or(0, |_| 16)))
    };
    (1 + key).saturating_add(items)
}

fn op_type(op: &Op) -> u8 {
    match op {
        Op::Insert { .. } => T_INSERT,
        Op::InsertBatch { .. } => T_BATCH,
        Op::Delete { .. } => T_DELETE,
        Op::SoftDelete { .. } => T_SOFT,
        Op::CreateNode { .. } => T_NODE,
        Op::CreateEdge { .. } => T_EDGE,
        Op::SetMetadata { .. } => T_META,
        Op::Upsert { .. } => T_UPSERT,
        Op::DeleteNode { .. } => T_DEL_NODE,
        Op::DeleteEdge { .. } => T_DEL_EDGE,
    }
}

fn write_opt32(w: &mut Writer, v: Option<u32>) {
    match v {
        None => w.u8(0),
        Some(x) => {
            w.u8(1);
            w.u32(x);
        }
    }
}

fn read_opt32(r: &mut Reader<'_>, what: &str) -> KResult<Option<u32>> {
    Ok(if flag(r, what)? { Some(r.u32()?) } else { None })
}

/// The lengths fit their u32: `encode_write` checked the whole command
/// against [`MAX_COMMAND_BYTES`] first.
fn write_op(w: &mut Writer, op: &Op) {
    match op {
        Op::Insert {
            vector,
            tag,
            payload,
        } => {
            w.u64(*tag);
            w.len_i32s(vector);
            payload.write(w);
        }
        Op::InsertBatch {
            vectors,
            count,
            payloads,
        } => {
            w.u32(*count);
            w.len_i32s(vectors);
            w.u32(payloads.len() as u32);
            for p in payloads {
                p.write(w);
            }
        }
        Op::Delete { id }
        | Op::SoftDelete { id }
        | Op::DeleteNode { id }
        | Op::DeleteEdge { id } => w.u32(*id),
        Op::CreateNode { kind, record } => {
            w.u8(*kind);
            write_opt32(w, *record);
        }
        Op::CreateEdge { from, to, kind } => {
            w.u32(*from);
            w.u32(*to);
            w.u8(*kind);
        }
        Op::SetMetadata { key, value } => {
            w.len_bytes(key.as_bytes());
            w.len_bytes(value);
        }
        Op::Upsert {
            vector,
            tag,
            attach,
            metadata,
        } => {
            w.u64(*tag);
            w.len_i32s(vector);
            write_opt32(w, *attach);
            match metadata {
                None => w.u8(0),
                Some(m) => {
                    w.u8(1);
                    w.len_bytes(m);
                }
            }
        }
    }
}

fn read_op(t: u8, r: &mut Reader<'_>) -> KResult<Op> {
    let op = match t {
        T_INSERT => Op::Insert {
            tag: r.u64()?,
            vector: r.len_i32s()?,
            payload: Payload::read(r)?,
        },
        T_BATCH => {
            let count = r.u32()?;
            let vectors = r.len_i32s()?;
            let n = r.u32()? as usize;
            // Each payload is at least its flag byte.
            if n > r.remaining() {
                return Err(KernelError::Corrupt(format!(
                    "{n} payloads in {} bytes",
                    r.remaining()
                )));
            }
            let mut payloads = Vec::with_capacity(n);
            for _ in 0..n {
                payloads.push(Payload::read(r)?);
            }
            Op::InsertBatch {
                vectors,
                count,
                payloads,
            }
        }
        T_DELETE => Op::Delete { id: r.u32()? },
        T_SOFT => Op::SoftDelete { id: r.u32()? },
        T_DEL_NODE => Op::DeleteNode { id: r.u32()? },
        T_DEL_EDGE => Op::DeleteEdge { id: r.u32()? },
        T_NODE => Op::CreateNode {
            kind: r.u8()?,
            record: read_opt32(r, "node record")?,
        },
        T_EDGE => Op::CreateEdge {
            from: r.u32()?,
            to: r.u32()?,
            kind: r.u8()?,
        },
        T_META => Op::SetMetadata {
            key: utf8(r.len_bytes()?, "metadata key")?,
            value: r.len_bytes()?.to_vec(),
        },
        T_UPSERT => Op::Upsert {
            tag: r.u64()?,
            vector: r.len_i32s()?,
            attach: read_opt32(r, "upsert attach")?,
            metadata: if flag(r, "upsert metadata")? {
                Some(r.len_bytes()?.to_vec())
            } else {
                None
            },
        },
        t => return Err(KernelError::Corrupt(format!("unknown command type {t}"))),
    };
    Ok(op)
}

fn write_opts(w: &mut Writer, o: &WriteOpts) {
    w.u8(u8::from(o.key.is_some()) | u8::from(!o.item_keys.is_empty()) << 1);
    if let Some(k) = &o.key {
        w.bytes(k);
    }
    if !o.item_keys.is_empty() {
        w.u32(o.item_keys.len() as u32);
        for k in &o.item_keys {
            match k {
                None => w.u8(0),
                Some(k) => {
                    w.u8(1);
                    w.bytes(k);
                }
            }
        }
    }
}

fn read_key(r: &mut Reader<'_>) -> KResult<IdemKey> {
    let mut k = [0u8; 16];
    k.copy_from_slice(r.take(16)?);
    Ok(k)
}

fn read_opts(r: &mut Reader<'_>) -> KResult<WriteOpts> {
    let flags = r.u8()?;
    if flags > 3 {
        return Err(KernelError::Corrupt(format!(
            "bad idempotency flags {flags}"
        )));
    }
    let key = if flags & 1 != 0 {
        Some(read_key(r)?)
    } else {
        None
    };
    let mut item_keys = Vec::new();
    if flags & 2 != 0 {
        let n = r.u32()? as usize;
        // Each item is at least its flag byte; none at all is flag bit 1 clear.
        if n == 0 || n > r.remaining() {
            return Err(KernelError::Corrupt(format!(
                "{n} item keys in {} bytes",
                r.remaining()
            )));
        }
        item_keys.reserve(n);
        for _ in 0..n {
            item_keys.push(if flag(r, "item key")? {
                Some(read_key(r)?)
            } else {
                None
            });
        }
    }
    Ok(WriteOpts { key, item_keys })
}

/// The number of an error in the answer (its place in [`KernelError::CODES`]).
fn error_number(e: &KernelError) -> u8 {
    match e {
        KernelError::DimensionMismatch { .. } => 1,
        KernelError::EmptyVector => 2,
        KernelError::InvalidVector(_) => 3,
        KernelError::InvalidArgument(_) => 4,
        KernelError::NotFound(_) => 5,
        KernelError::CapacityExceeded(_) => 6,
        KernelError::PayloadTooLarge(_) => 7,
        KernelError::MetadataTooLarge { .. } => 8,
        KernelError::ReadOnly(_) => 9,
        KernelError::Io(_) => 10,
        KernelError::Corrupt(_) => 11,
        KernelError::BootstrapRequired(_) => 12,
        KernelError::SequenceGap(_) => 13,
        KernelError::Closed(_) => 14,
        KernelError::CollectionNotFound(_) => 15,
        KernelError::CollectionExists(_) => 16,
        KernelError::CollectionProtected(_) => 17,
        KernelError::IdempotencyKeyReused(_) => 18,
        KernelError::Internal(_) => 19,
        KernelError::NotLeader(_) => 20,
        KernelError::NoLeader(_) => 21,
        KernelError::LeaderChanged(_) => 22,
    }
}

/// The message of an error that carries one.
fn message(e: &KernelError) -> Option<&str> {
    match e {
        KernelError::DimensionMismatch { .. }
        | KernelError::EmptyVector
        | KernelError::MetadataTooLarge { .. } => None,
        KernelError::InvalidVector(m)
        | KernelError::InvalidArgument(m)
        | KernelError::NotFound(m)
        | KernelError::CapacityExceeded(m)
        | KernelError::PayloadTooLarge(m)
        | KernelError::ReadOnly(m)
        | KernelError::Io(m)
        | KernelError::Corrupt(m)
        | KernelError::BootstrapRequired(m)
        | KernelError::SequenceGap(m)
        | KernelError::Closed(m)
        | KernelError::CollectionNotFound(m)
        | KernelError::CollectionExists(m)
        | KernelError::CollectionProtected(m)
        | KernelError::IdempotencyKeyReused(m)
        | KernelError::Internal(m)
        | KernelError::NotLeader(m)
        | KernelError::NoLeader(m)
        | KernelError::LeaderChanged(m) => Some(m),
    }
}

fn write_error(w: &mut Writer, e: &KernelError) {
    if message(e).is_some_and(|m| u32::try_from(m.len()).is_err()) {
        let too_long = KernelError::Internal(format!(
            "a {} error whose message is too long to answer",
            e.code()
        ));
        return write_error(w, &too_long);
    }
    w.u8(ANSWER_ERR);
    w.u8(error_number(e));
    match e {
        KernelError::DimensionMismatch { expected, got } => {
            w.u64(*expected as u64);
            w.u64(*got as u64);
        }
        KernelError::MetadataTooLarge { len, max } => {
            w.u64(*len as u64);
            w.u64(*max as u64);
        }
        e => {
            if let Some(m) = message(e) {
                w.len_bytes(m.as_bytes());
            }
        }
    }
}

fn read_usize(r: &mut Reader<'_>) -> KResult<usize> {
    let v = r.u64()?;
    usize::try_from(v).map_err(|_| KernelError::Corrupt(format!("{v} does not fit a usize")))
}

fn read_error(r: &mut Reader<'_>) -> KResult<KernelError> {
    let n = r.u8()?;
    let e = match n {
        1 => KernelError::DimensionMismatch {
            expected: read_usize(r)?,
            got: read_usize(r)?,
        },
        2 => KernelError::EmptyVector,
        8 => KernelError::MetadataTooLarge {
            len: read_usize(r)?,
            max: read_usize(r)?,
        },
        n => {
            let make: fn(String) -> KernelError = match n {
                3 => KernelError::InvalidVector,
                4 => KernelError::InvalidArgument,
                5 => KernelError::NotFound,
                6 => KernelError::CapacityExceeded,
                7 => KernelError::PayloadTooLarge,
                9 => KernelError::ReadOnly,
                10 => KernelError::Io,
                11 => KernelError::Corrupt,
                12 => KernelError::BootstrapRequired,
                13 => KernelError::SequenceGap,
                14 => KernelError::Closed,
                15 => KernelError::CollectionNotFound,
                16 => KernelError::CollectionExists,
                17 => KernelError::CollectionProtected,
                18 => KernelError::IdempotencyKeyReused,
                19 => KernelError::Internal,
                20 => KernelError::NotLeader,
                21 => KernelError::NoLeader,
                22 => KernelError::LeaderChanged,
                x => return Err(KernelError::Corrupt(format!("unknown error number {x}"))),
            };
            make(utf8(r.len_bytes()?, "error message")?)
        }
    };
    Ok(e)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
