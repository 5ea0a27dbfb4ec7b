//! The writes of [`Database`]: each names its collection first, takes
//! optional idempotency keys and resolves with an [`Outcome`] (ids, height,
//! deduplicated) once durable. A collection name is resolved with one map
//! lookup in the engine's published catalog (not the state lock); vectors are converted to Q16.16 at the
//! collection's dimension when the write's future first runs (off the host's
//! event loop), then queued for the committer.

use super::{Commit, Database, Floats};
use crate::check::convert_vectors;
use crate::engine::Engine;
use crate::error::{KResult, KernelError};
use crate::ops::{Op, Outcome, Write, WriteOpts};

fn kind(k: u32) -> KResult<u8> {
    u8::try_from(k)
        .map_err(|_| KernelError::InvalidArgument(format!("kind must be 0..=255, got {k}")))
}

/// (id, dimension) of the collection named `name`: one lookup in the
/// published catalog, which never waits behind a group's apply.
fn target(engine: &Engine, name: &str) -> KResult<(u32, usize)> {
    engine.resolve(name)
}

fn outcome(o: Outcome) -> Option<Outcome> {
    Some(o)
}

impl Database {
    /// Queue a write of `collection` now (call order), built by `op`.
    fn write_now(
        &self,
        collection: &str,
        op: KResult<Op>,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let w = self.check_open().and_then(|_| {
            let (id, _) = target(&self.engine, collection)?;
            Ok(Write::To {
                collection: id,
                op: op?,
                opts: opts.unwrap_or_default(),
            })
        });
        self.commit(w, outcome)
    }

    /// Queue a write whose vectors are converted when its future first runs.
    fn write_later(
        &self,
        collection: String,
        opts: Option<WriteOpts>,
        op: impl FnOnce(usize) -> KResult<Op> + Send + 'static,
    ) -> Commit<Outcome> {
        self.commit_later(
            move |engine| {
                let (id, dim) = target(engine, &collection)?;
                Ok(Write::To {
                    collection: id,
                    op: op(dim)?,
                    opts: opts.unwrap_or_default(),
                })
            },
            outcome,
        )
    }

    /// Insert one vector; ids `[id]`.
    pub fn insert<V: Floats>(
        &self,
        collection: &str,
        values: V,
        tag: u64,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_later(collection.to_owned(), opts, move |dim| {
            convert_vectors(dim, &values, 1).map(|vector| Op::Insert { vector, tag })
        })
    }

    /// Insert `count` vectors (flat, count × dim) atomically; ids: all of
    /// them (consecutive). `opts.item_keys`: one optional key per item.
    pub fn insert_batch<V: Floats>(
        &self,
        collection: &str,
        values: V,
        count: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_later(collection.to_owned(), opts, move |dim| {
            if count == 0 {
                if values.is_empty() {
                    Ok(Op::InsertBatch {
                        vectors: Vec::new(),
                        count,
                    })
                } else {
                    Err(KernelError::InvalidArgument(
                        "count is 0 but values were given".into(),
                    ))
                }
            } else {
                convert_vectors(dim, &values, count as usize)
                    .map(|vectors| Op::InsertBatch { vectors, count })
            }
        })
    }

    /// Hard delete (linked graph nodes, their edges and `rec:<id>` metadata go too).
    pub fn delete_record(
        &self,
        collection: &str,
        id: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_now(collection, Ok(Op::Delete { id }), opts)
    }

    /// Soft delete: excluded from search, still counted against capacity.
    pub fn soft_delete_record(
        &self,
        collection: &str,
        id: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_now(collection, Ok(Op::SoftDelete { id }), opts)
    }

    pub fn create_node(
        &self,
        collection: &str,
        kind_: u32,
        record: Option<u32>,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let op = kind(kind_).map(|kind| Op::CreateNode { kind, record });
        self.write_now(collection, op, opts)
    }

    pub fn create_edge(
        &self,
        collection: &str,
        from: u32,
        to: u32,
        kind_: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let op = kind(kind_).map(|kind| Op::CreateEdge { from, to, kind });
        self.write_now(collection, op, opts)
    }

    /// Delete a graph node and its incident edges (a linked record stays).
    pub fn delete_node(
        &self,
        collection: &str,
        id: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_now(collection, Ok(Op::DeleteNode { id }), opts)
    }

    pub fn delete_edge(
        &self,
        collection: &str,
        id: u32,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_now(collection, Ok(Op::DeleteEdge { id }), opts)
    }

    /// Record + document node (new unless attached) + chunk node + edge +
    /// metadata, as one atomic event; ids `[record, document node, chunk
    /// node, edge]`.
    pub fn upsert_memory<V: Floats>(
        &self,
        collection: &str,
        values: V,
        attach: Option<u32>,
        metadata_json: Option<String>,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        self.write_later(collection.to_owned(), opts, move |dim| {
            convert_vectors(dim, &values, 1).map(|vector| Op::Upsert {
                vector,
                tag: 0,
                attach,
                metadata: metadata_json.map(String::into_bytes),
            })
        })
    }

    pub fn set_metadata(
        &self,
        collection: &str,
        key: String,
        json: String,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let op = Op::SetMetadata {
            key,
            value: json.into_bytes(),
        };
        self.write_now(collection, Ok(op), opts)
    }

    /// Apply a log entry a leader committed at `seq` through the same commit
    /// path. Already-applied sequence numbers are skipped; a gap is refused
    /// with SEQUENCE_GAP.
    pub fn apply_replicated(&self, seq: u64, payload: Vec<u8>) -> Commit<()> {
        self.commit(Ok(Write::Replicated { seq, payload }), |_| Some(()))
    }
}
