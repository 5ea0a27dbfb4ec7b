//! Writes of `Kernel`: the collection first, optional idempotency keys last;
//! each resolves with a `WriteResult` once durable (group commit on the
//! kernel's committer thread). A `Float32Array` moves into the work as it is
//! (no copy); the kernel converts it to Q16.16 there.

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::database::{Commit, WriteOpts};
use valori_kernel::ops::Outcome;
use valori_kernel::{KResult, KernelError};

use crate::call::promise;
use crate::kernel::{tag_of, Kernel};
use crate::types::{BatchPayloads, RecordPayload, WriteOptions, WriteResult};
use valori_kernel::database::{BatchPayloadsIn, PayloadIn};

fn key_of(b: &[u8]) -> KResult<[u8; 16]> {
    b.try_into().map_err(|_| {
        KernelError::InvalidArgument(format!(
            "an idempotency key is exactly 16 bytes, got {}",
            b.len()
        ))
    })
}

/// Buffers → kernel keys (shape only; the kernel judges them).
pub(crate) fn opts_of(o: Option<WriteOptions>) -> KResult<Option<WriteOpts>> {
    let Some(o) = o else { return Ok(None) };
    let key = o.idempotency_key.as_deref().map(key_of).transpose()?;
    let mut item_keys = Vec::new();
    if let Some(b) = o.item_keys.as_deref() {
        if b.len() % 17 != 0 {
            return Err(KernelError::InvalidArgument(format!(
                "itemKeys holds {} bytes, not a multiple of 17 (flag byte + 16 key bytes per item)",
                b.len()
            )));
        }
        for (i, c) in b.chunks_exact(17).enumerate() {
            item_keys.push(match c[0] {
                0 => None,
                1 => Some(key_of(&c[1..])?),
                f => {
                    return Err(KernelError::InvalidArgument(format!(
                        "itemKeys item {i} has flag {f}, expected 0 (no key) or 1"
                    )))
                }
            });
        }
    }
    Ok(Some(WriteOpts { key, item_keys }))
}

pub(crate) fn result(o: Outcome) -> WriteResult {
    WriteResult {
        ids: Uint32Array::new(o.ids),
        height: o.height as f64,
        deduplicated: o.deduplicated,
        queued_us: o.timing.queued_us as f64,
        apply_us: o.timing.apply_us as f64,
        fsync_us: o.timing.fsync_us.map(|us| us as f64),
    }
}

/// A write export: options converted, the write queued now, its outcome
/// mapped on the JS thread.
pub(crate) fn write<'e>(
    env: &'e Env,
    what: &'static str,
    opts: Option<WriteOptions>,
    start: impl FnOnce(Option<WriteOpts>) -> Commit<Outcome>,
) -> Result<PromiseRaw<'e, WriteResult>> {
    promise(env, what, || Ok(start(opts_of(opts)?)), result)
}

#[napi]
impl Kernel {
    /// Insert one vector into `collection`; ids [id].
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn insert<'e>(
        &self,
        env: &'e Env,
        collection: String,
        values: Float32Array,
        tag: Option<BigInt>,
        opts: Option<WriteOptions>,
        payload: Option<RecordPayload>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        let tag = tag.map(tag_of).transpose();
        let payload = payload.map(|p| PayloadIn {
            metadata: p.metadata,
            text: p.text,
        });
        write(env, "insert", opts, |o| match tag {
            Ok(t) => self
                .db
                .insert_with(&collection, values, t.unwrap_or(0), o, payload),
            Err(e) => Box::pin(async move { Err(e) }),
        })
    }

    /// Insert `count` vectors (flat, count × dim) atomically: all or none;
    /// ids: all of them.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn insert_batch<'e>(
        &self,
        env: &'e Env,
        collection: String,
        values: Float32Array,
        count: u32,
        opts: Option<WriteOptions>,
        payloads: Option<BatchPayloads>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        let payloads = payloads.map(|p| BatchPayloadsIn {
            metadata: p.metadata,
            texts: p.texts,
        });
        write(env, "insertBatch", opts, |o| {
            self.db
                .insert_batch_with(&collection, values, count, o, payloads)
        })
    }

    /// Hard delete: the id becomes a hole; linked graph nodes, their edges and
    /// the record's `rec:<id>` metadata are removed with it.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn delete_record<'e>(
        &self,
        env: &'e Env,
        collection: String,
        id: u32,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "deleteRecord", opts, |o| {
            self.db.delete_record(&collection, id, o)
        })
    }

    /// Soft delete: excluded from search, still counted against capacity.
    /// Repeating it is a no-op.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn soft_delete_record<'e>(
        &self,
        env: &'e Env,
        collection: String,
        id: u32,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "softDeleteRecord", opts, |o| {
            self.db.soft_delete_record(&collection, id, o)
        })
    }

    /// Create a graph node (kind 0..=255), optionally linked to a record;
    /// ids [nodeId].
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn create_node<'e>(
        &self,
        env: &'e Env,
        collection: String,
        kind: u32,
        record_id: Option<u32>,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "createNode", opts, |o| {
            self.db.create_node(&collection, kind, record_id, o)
        })
    }

    /// Create a directed edge between two existing nodes of `collection`
    /// (kind 0..=255); ids [edgeId].
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn create_edge<'e>(
        &self,
        env: &'e Env,
        collection: String,
        from: u32,
        to: u32,
        kind: u32,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "createEdge", opts, |o| {
            self.db.create_edge(&collection, from, to, kind, o)
        })
    }

    /// Delete a graph node and its incident edges (a linked record stays).
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn delete_node<'e>(
        &self,
        env: &'e Env,
        collection: String,
        id: u32,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "deleteNode", opts, |o| {
            self.db.delete_node(&collection, id, o)
        })
    }

    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn delete_edge<'e>(
        &self,
        env: &'e Env,
        collection: String,
        id: u32,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "deleteEdge", opts, |o| {
            self.db.delete_edge(&collection, id, o)
        })
    }

    /// Record + document node (new unless attached) + chunk node + edge +
    /// metadata, as one atomic event; ids [recordId, documentNodeId,
    /// chunkNodeId, edgeId].
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn upsert_memory<'e>(
        &self,
        env: &'e Env,
        collection: String,
        values: Float32Array,
        attach_to_document_node: Option<u32>,
        metadata_json: Option<String>,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "upsertMemory", opts, |o| {
            self.db.upsert_memory(
                &collection,
                values,
                attach_to_document_node,
                metadata_json,
                o,
            )
        })
    }

    /// Store a JSON value (as text) under a key; replaces any earlier value.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn set_metadata<'e>(
        &self,
        env: &'e Env,
        collection: String,
        key: String,
        json: String,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "setMetadata", opts, |o| {
            self.db.set_metadata(&collection, key, json, o)
        })
    }

    /// Replace record `id`'s metadata with a JSON object (as text); NOT_FOUND
    /// for a record that does not exist.
    #[napi(ts_return_type = "Promise<WriteResult>")]
    pub fn set_record_metadata<'e>(
        &self,
        env: &'e Env,
        collection: String,
        id: u32,
        metadata_json: String,
        opts: Option<WriteOptions>,
    ) -> Result<PromiseRaw<'e, WriteResult>> {
        write(env, "setRecordMetadata", opts, |o| {
            self.db
                .set_record_metadata(&collection, id, metadata_json, o)
        })
    }
}
