//! The writes of [`Database`]: each names its collection first, takes
//! optional idempotency keys and resolves with an [`Outcome`] (ids, height,
//! deduplicated) once durable. A collection name is resolved with one map
//! lookup in the engine's published catalog (not the state lock); vectors are converted to Q16.16 at the
//! collection's dimension when the write's future first runs (off the host's
//! event loop), then queued for the committer.

use super::{Commit, Database, Floats};
use crate::check::convert_vectors;
use crate::engine::{Engine, Target};
use crate::entry::Metric;
use crate::error::{KResult, KernelError};
use crate::event::{payload_record, Payload};
use crate::ops::{Op, Outcome, Write, WriteOpts};
use crate::payload::{canonical_object, canonical_text};

/// A record's payload as a host hands it over: metadata as JSON text (an
/// object), text as plain text. Canonicalised when the write's future runs.
#[derive(Debug, Clone, Default)]
pub struct PayloadIn {
    pub metadata: Option<String>,
    pub text: Option<String>,
}

/// Payloads of a batch: each list absent or one entry per record.
#[derive(Debug, Clone, Default)]
pub struct BatchPayloadsIn {
    pub metadata: Option<Vec<Option<String>>>,
    pub texts: Option<Vec<Option<String>>>,
}

impl PayloadIn {
    fn canonical(&self) -> KResult<Payload> {
        Ok(Payload {
            metadata: self.metadata.as_deref().map(canonical_object).transpose()?,
            text: self.text.as_deref().map(canonical_text).transpose()?,
        })
    }
}

impl BatchPayloadsIn {
    /// One canonical payload per record, or none at all when no record has one.
    fn canonical(&self, count: u32) -> KResult<Vec<Payload>> {
        let n = count as usize;
        for (what, len) in [
            ("metadata", self.metadata.as_ref().map(Vec::len)),
            ("texts", self.texts.as_ref().map(Vec::len)),
        ] {
            if let Some(len) = len.filter(|&l| l != n) {
                return Err(KernelError::InvalidArgument(format!(
                    "{what} has {len} entries for a batch of {n} vectors: give one per vector (null for none)"
                )));
            }
        }
        let at = |v: &Option<Vec<Option<String>>>, i: usize| {
            v.as_ref().and_then(|l| l[i].as_deref().map(str::to_owned))
        };
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            let p = PayloadIn {
                metadata: at(&self.metadata, i),
                text: at(&self.texts, i),
            };
            out.push(
                p.canonical()
                    .map_err(|e| e.prefixed(&format!("item {i}: ")))?,
            );
        }
        if out.iter().all(Payload::is_empty) {
            out.clear();
        }
        Ok(out)
    }
}

/// Client floats → Q16.16 rows of the collection; a cosine collection
/// stores each row as its unit vector (docs/api-reference.md, "Metrics").
pub(crate) fn collection_vectors(t: Target, values: &[f32], count: usize) -> KResult<Vec<i32>> {
    let mut v = convert_vectors(t.dim, values, count)?;
    if t.metric == Metric::Cosine {
        for row in v.chunks_exact_mut(t.dim) {
            crate::fixed::normalize(row)?;
        }
    }
    Ok(v)
}

fn kind(k: u32) -> KResult<u8> {
    u8::try_from(k)
        .map_err(|_| KernelError::InvalidArgument(format!("kind must be 0..=255, got {k}")))
}

/// The collection named `name`: one lookup in the published catalog, which
/// never waits behind a group's apply.
fn target(engine: &Engine, name: &str) -> KResult<Target> {
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
        self.write_now_with(collection, opts, |_| op)
    }

    /// `write_now` with an op built from the collection's target on the
    /// caller's thread (for small vectors: converting one costs about a µs).
    fn write_now_with(
        &self,
        collection: &str,
        opts: Option<WriteOpts>,
        op: impl FnOnce(Target) -> KResult<Op>,
    ) -> Commit<Outcome> {
        let w = self.check_open().and_then(|_| {
            let t = target(&self.engine, collection)?;
            Ok(Write::To {
                collection: t.id,
                op: op(t)?,
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
        op: impl FnOnce(Target) -> KResult<Op> + Send + 'static,
    ) -> Commit<Outcome> {
        self.commit_later(
            move |engine| {
                let t = target(engine, &collection)?;
                Ok(Write::To {
                    collection: t.id,
                    op: op(t)?,
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
        self.insert_with(collection, values, tag, opts, None)
    }

    /// Insert one vector with an optional payload; ids `[id]`.
    pub fn insert_with<V: Floats>(
        &self,
        collection: &str,
        values: V,
        tag: u64,
        opts: Option<WriteOpts>,
        payload: Option<PayloadIn>,
    ) -> Commit<Outcome> {
        if payload.is_none() {
            // Queued now, in call order, without a hop to the host's worker
            // before the committer.
            return self.write_now_with(collection, opts, |t| {
                Ok(Op::Insert {
                    vector: collection_vectors(t, &values, 1)?,
                    tag,
                    payload: Default::default(),
                })
            });
        }
        self.write_later(collection.to_owned(), opts, move |t| {
            let vector = collection_vectors(t, &values, 1)?;
            let payload = payload.map(|p| p.canonical()).transpose()?;
            Ok(Op::Insert {
                vector,
                tag,
                payload: payload.unwrap_or_default(),
            })
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
        self.insert_batch_with(collection, values, count, opts, None)
    }

    /// `insert_batch` with optional payloads (each list one entry per record).
    pub fn insert_batch_with<V: Floats>(
        &self,
        collection: &str,
        values: V,
        count: u32,
        opts: Option<WriteOpts>,
        payloads: Option<BatchPayloadsIn>,
    ) -> Commit<Outcome> {
        self.write_later(collection.to_owned(), opts, move |t| {
            let payloads = match &payloads {
                Some(p) => p.canonical(count)?,
                None => Vec::new(),
            };
            if count == 0 {
                if values.is_empty() {
                    Ok(Op::InsertBatch {
                        vectors: Vec::new(),
                        count,
                        payloads,
                    })
                } else {
                    Err(KernelError::InvalidArgument(
                        "count is 0 but values were given".into(),
                    ))
                }
            } else {
                collection_vectors(t, &values, count as usize).map(|vectors| Op::InsertBatch {
                    vectors,
                    count,
                    payloads,
                })
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
        self.write_later(collection.to_owned(), opts, move |t| {
            let metadata = metadata_json.as_deref().map(canonical_object).transpose()?;
            collection_vectors(t, &values, 1).map(|vector| Op::Upsert {
                vector,
                tag: 0,
                attach,
                metadata,
            })
        })
    }

    /// Set a metadata entry. A record's payload keys (`rec:<id>`,
    /// `rec:<id>:text`) take a JSON object and a JSON string respectively,
    /// stored canonically; the record must exist.
    pub fn set_metadata(
        &self,
        collection: &str,
        key: String,
        json: String,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let value = match payload_record(&key) {
            None => Ok(json.into_bytes()),
            Some((_, false)) => canonical_object(&json),
            Some((_, true)) => match serde_json::from_str::<String>(&json) {
                Ok(text) => canonical_text(&text),
                Err(_) => Err(KernelError::InvalidArgument(format!(
                    "{key} holds a record's text: its value must be a JSON string"
                ))),
            },
        };
        let op = value.map(|value| Op::SetMetadata { key, value });
        self.write_now(collection, op, opts)
    }

    /// Replace record `id`'s metadata (a JSON object); NOT_FOUND for a
    /// record that does not exist.
    pub fn set_record_metadata(
        &self,
        collection: &str,
        id: u32,
        json: String,
        opts: Option<WriteOpts>,
    ) -> Commit<Outcome> {
        let op = canonical_object(&json).map(|value| Op::SetMetadata {
            key: crate::event::payload_key(id),
            value,
        });
        self.write_now(collection, op, opts)
    }

    /// Apply a log entry a leader committed at `seq` through the same commit
    /// path. Already-applied sequence numbers are skipped; a gap is refused
    /// with SEQUENCE_GAP.
    pub fn apply_replicated(&self, seq: u64, payload: Vec<u8>) -> Commit<()> {
        self.commit(Ok(Write::Replicated { seq, payload }), |_| Some(()))
    }
}
