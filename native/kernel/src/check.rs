//! Validation of events against the state: everything `apply` needs is
//! checked here first, so a rejected event changes nothing. Capacity limits
//! (records, nodes, edges, metadata entries and bytes) and id-space
//! exhaustion are refused with CAPACITY_EXCEEDED naming the limit.

use crate::error::{KResult, KernelError};
use crate::event::{payload_key, payload_record, text_key, DocTarget, Event, Payload};
use crate::fixed;
use crate::state::{State, HOLE, LIVE, MAX_METADATA_BYTES, MAX_METADATA_KEY_BYTES, TOMBSTONE};

/// Ids are u32 and `u32::MAX` means "none" in events: the last usable id is one below.
const ID_SPACE: u64 = u32::MAX as u64;

/// Client floats to Q16.16 for vectors of one dimension. Needs only the
/// dimension (the bound derives from it), so the database converts a write's
/// vectors without taking the state lock.
pub fn convert_vectors(dim: usize, values: &[f32], count: usize) -> KResult<Vec<i32>> {
    if values.is_empty() {
        return Err(KernelError::EmptyVector);
    }
    if count == 0 || values.len() != count * dim {
        if count <= 1 {
            return Err(KernelError::DimensionMismatch {
                expected: dim,
                got: values.len(),
            });
        }
        return Err(KernelError::InvalidArgument(format!(
            "batch holds {} values, expected {count} x {dim}",
            values.len()
        )));
    }
    let mut out = Vec::with_capacity(values.len());
    fixed::convert_into(values, fixed::max_abs_raw(dim), &mut out)
        .map_err(|e| convert_error(dim, e))?;
    Ok(out)
}

fn convert_error(dim: usize, e: fixed::ConvertError) -> KernelError {
    let max = fixed::max_abs_value(dim);
    match e {
        fixed::ConvertError::NotFinite(i) => KernelError::InvalidVector(format!(
            "component {} of vector {} is not a finite number",
            i % dim,
            i / dim
        )),
        fixed::ConvertError::OutOfRange(i) => KernelError::InvalidVector(format!(
            "component {} of vector {} is outside the accepted range ±{max:.4} for dimension {dim}",
            i % dim,
            i / dim
        )),
    }
}

impl State {
    /// Convert client floats for `count` vectors of this dimension.
    pub fn convert(&self, values: &[f32], count: usize) -> KResult<Vec<i32>> {
        convert_vectors(self.limits.dim, values, count)
    }

    fn check_raw(&self, v: &[i32], expected_len: usize) -> KResult<()> {
        if v.len() != expected_len {
            return Err(KernelError::DimensionMismatch {
                expected: expected_len,
                got: v.len(),
            });
        }
        let b = self.bound;
        if v.iter().any(|&x| x > b || x < -b) {
            return Err(KernelError::InvalidVector(
                "component outside the accepted range".into(),
            ));
        }
        Ok(())
    }

    fn check_record_capacity(&self, n: u64) -> KResult<()> {
        let used = self.rec_live + self.rec_tomb;
        if used + n > self.limits.max_records {
            return Err(KernelError::CapacityExceeded(format!(
                "record pool is full: {used} of {} used, {n} requested",
                self.limits.max_records
            )));
        }
        if self.records.slots() as u64 + n > ID_SPACE {
            return Err(KernelError::CapacityExceeded(
                "record id space exhausted".into(),
            ));
        }
        Ok(())
    }
    fn check_node_capacity(&self, n: u64) -> KResult<()> {
        if self.node_live + n > self.limits.max_nodes {
            return Err(KernelError::CapacityExceeded(format!(
                "graph node pool is full: {} of {} used",
                self.node_live, self.limits.max_nodes
            )));
        }
        if self.graph.nodes.slots() as u64 + n > ID_SPACE {
            return Err(KernelError::CapacityExceeded(
                "graph node id space exhausted".into(),
            ));
        }
        Ok(())
    }
    fn check_edge_capacity(&self) -> KResult<()> {
        if self.edge_live + 1 > self.limits.max_edges {
            return Err(KernelError::CapacityExceeded(format!(
                "graph edge pool is full: {} of {} used",
                self.edge_live, self.limits.max_edges
            )));
        }
        if self.graph.edges.slots() as u64 + 1 > ID_SPACE {
            return Err(KernelError::CapacityExceeded(
                "graph edge id space exhausted".into(),
            ));
        }
        Ok(())
    }
    fn check_id(what: &str, got: u32, expected: usize) -> KResult<()> {
        if got as usize != expected {
            return Err(KernelError::Corrupt(format!(
                "{what} id {got} out of sequence, expected {expected}"
            )));
        }
        Ok(())
    }
    fn check_metadata_size(value: &[u8]) -> KResult<()> {
        if value.len() > MAX_METADATA_BYTES {
            return Err(KernelError::MetadataTooLarge {
                len: value.len(),
                max: MAX_METADATA_BYTES,
            });
        }
        Ok(())
    }
    /// A single record's payload entries (each checked like a metadata write).
    fn check_payload(&self, id: u32, p: &Payload) -> KResult<()> {
        if let Some(m) = &p.metadata {
            self.check_metadata(&payload_key(id), m)?;
        }
        if let Some(t) = &p.text {
            self.check_metadata(&text_key(id), t)?;
        }
        Ok(())
    }
    fn check_metadata(&self, key: &str, value: &[u8]) -> KResult<()> {
        Self::check_metadata_size(value)?;
        if key.is_empty() || key.len() > MAX_METADATA_KEY_BYTES {
            return Err(KernelError::InvalidArgument(format!(
                "metadata key must be 1..{MAX_METADATA_KEY_BYTES} bytes"
            )));
        }
        // Overwriting a key counts only the difference; a record's payload
        // entries count bytes only.
        let old = self.metadata.get(key).map(|v| (key.len() + v.len()) as u64);
        let (counted, _) = self.metadata_usage();
        let adds = old.is_none() && payload_record(key).is_none();
        if adds && counted + 1 > self.limits.max_metadata_entries {
            return Err(KernelError::CapacityExceeded(format!(
                "metadata is full: {counted} entries, the limit is {} (VALORI_MAX_METADATA_ENTRIES)",
                self.limits.max_metadata_entries
            )));
        }
        let bytes = self.meta_bytes - old.unwrap_or(0) + (key.len() + value.len()) as u64;
        if bytes > self.limits.max_metadata_bytes {
            return Err(KernelError::CapacityExceeded(format!(
                "metadata is full: this write would make it {bytes} bytes, the limit is {} (VALORI_MAX_METADATA_BYTES)",
                self.limits.max_metadata_bytes
            )));
        }
        Ok(())
    }
    fn require_record(&self, id: u32) -> KResult<()> {
        if self.record_status(id) == HOLE {
            return Err(KernelError::NotFound(format!("record {id} not found")));
        }
        Ok(())
    }
    fn require_node(&self, id: u32) -> KResult<()> {
        if self.node(id).is_none() {
            return Err(KernelError::NotFound(format!("graph node {id} not found")));
        }
        Ok(())
    }

    /// Check an event against the current state without changing anything.
    pub fn check(&self, ev: &Event) -> KResult<()> {
        let dim = self.limits.dim;
        let next_rec = self.records.slots();
        match ev {
            Event::InsertRecord {
                id,
                vector,
                payload,
                ..
            } => {
                self.check_raw(vector, dim)?;
                self.check_record_capacity(1)?;
                Self::check_id("record", *id, next_rec)?;
                self.check_payload(*id, payload)
            }
            Event::InsertBatch {
                first_id,
                count,
                vectors,
                payloads,
            } => {
                let n = *count as usize;
                if n == 0 {
                    return Err(KernelError::InvalidArgument("empty batch".into()));
                }
                let len = n
                    .checked_mul(dim)
                    .ok_or_else(|| KernelError::InvalidArgument("batch too large".into()))?;
                self.check_raw(vectors, len)?;
                self.check_record_capacity(n as u64)?;
                Self::check_id("record", *first_id, next_rec)?;
                if !payloads.is_empty() && payloads.len() != n {
                    return Err(KernelError::Corrupt(format!(
                        "batch of {n} records carries {} payloads",
                        payloads.len()
                    )));
                }
                // Sizes here; the entries and bytes they add together are
                // checked against the limits over all collections by the store.
                for p in payloads {
                    for v in [&p.metadata, &p.text].into_iter().flatten() {
                        Self::check_metadata_size(v)?;
                    }
                }
                Ok(())
            }
            Event::DeleteRecord { id } => self.require_record(*id),
            Event::SoftDeleteRecord { id } => match self.record_status(*id) {
                LIVE => Ok(()),
                TOMBSTONE => Err(KernelError::NotFound(format!(
                    "record {id} is already soft-deleted"
                ))),
                _ => Err(KernelError::NotFound(format!("record {id} not found"))),
            },
            Event::CreateNode { id, record, .. } => {
                if let Some(r) = record {
                    self.require_record(*r)?;
                }
                self.check_node_capacity(1)?;
                Self::check_id("node", *id, self.graph.nodes.slots())
            }
            Event::CreateEdge { id, from, to, .. } => {
                self.require_node(*from)?;
                self.require_node(*to)?;
                self.check_edge_capacity()?;
                Self::check_id("edge", *id, self.graph.edges.slots())
            }
            Event::DeleteNode { id } => self.require_node(*id),
            Event::DeleteEdge { id } => {
                if self.graph.edge(*id).is_none() {
                    return Err(KernelError::NotFound(format!("graph edge {id} not found")));
                }
                Ok(())
            }
            Event::SetMetadata { key, value } => self.check_metadata(key, value),
            Event::UpsertMemory {
                record_id,
                vector,
                doc,
                chunk_node,
                edge_id,
                metadata,
                ..
            } => {
                self.check_raw(vector, dim)?;
                if let Some(m) = metadata {
                    self.check_metadata(&format!("rec:{record_id}"), m)?;
                }
                let new_nodes = match doc {
                    DocTarget::Existing(d) => {
                        self.require_node(*d)?;
                        1
                    }
                    DocTarget::New(d) => {
                        Self::check_id("node", *d, self.graph.nodes.slots())?;
                        2
                    }
                };
                self.check_record_capacity(1)?;
                self.check_node_capacity(new_nodes)?;
                self.check_edge_capacity()?;
                Self::check_id("record", *record_id, next_rec)?;
                Self::check_id(
                    "node",
                    *chunk_node,
                    self.graph.nodes.slots() + new_nodes as usize - 1,
                )?;
                Self::check_id("edge", *edge_id, self.graph.edges.slots())
            }
        }
    }
}
