//! `Store::apply`: one event, atomically. Everything is checked before
//! anything changes: the collection exists, its own record cap, the node-wide
//! limits over all collections, the event against the collection's state
//! (`State::check`), the idempotency keys. A rejected event changes nothing.

use super::idem::IdemUndo;
use super::journal::StoreUndo;
use super::{check_name, id_not_found, Collection, Store, Usage, MAX_COLLECTIONS};
use crate::entry::StoreEvent;
use crate::error::{KResult, KernelError};
use crate::event::{payload_key, payload_record, text_key, DocTarget, Event, Payload};
use crate::state::State;

/// What a per-collection event adds (deletes only free).
fn demand(s: &State, ev: &Event) -> Usage {
    let meta = |key: &str, value: &[u8]| -> (u64, u64) {
        match s.metadata(key) {
            Some(old) => (0, value.len().saturating_sub(old.len()) as u64),
            // A record's payload entries count bytes only (`State::meta_payload`).
            None => (
                u64::from(payload_record(key).is_none()),
                (key.len() + value.len()) as u64,
            ),
        }
    };
    let mut d = Usage::default();
    let payload = |d: &mut Usage, id: u32, p: &Payload| {
        for (key, v) in [(payload_key(id), &p.metadata), (text_key(id), &p.text)] {
            if let Some(v) = v {
                let (e, b) = meta(&key, v);
                d.meta_entries += e;
                d.meta_bytes += b;
            }
        }
    };
    match ev {
        Event::InsertRecord { id, payload: p, .. } => {
            d.records = 1;
            payload(&mut d, *id, p);
        }
        Event::InsertBatch {
            first_id,
            count,
            payloads,
            ..
        } => {
            d.records = *count as u64;
            for (i, p) in payloads.iter().enumerate() {
                payload(&mut d, first_id.wrapping_add(i as u32), p);
            }
        }
        Event::CreateNode { .. } => d.nodes = 1,
        Event::CreateEdge { .. } => d.edges = 1,
        Event::SetMetadata { key, value } => (d.meta_entries, d.meta_bytes) = meta(key, value),
        Event::UpsertMemory {
            record_id,
            doc,
            metadata,
            ..
        } => {
            d.records = 1;
            d.nodes = if matches!(doc, DocTarget::New(_)) {
                2
            } else {
                1
            };
            d.edges = 1;
            if let Some(m) = metadata {
                (d.meta_entries, d.meta_bytes) = meta(&format!("rec:{record_id}"), m);
            }
        }
        Event::DeleteRecord { .. }
        | Event::SoftDeleteRecord { .. }
        | Event::DeleteNode { .. }
        | Event::DeleteEdge { .. } => {}
    }
    d
}

impl Store {
    fn check_capacity(&self, c: &Collection, ev: &Event) -> KResult<()> {
        let d = demand(&c.db.state, ev);
        let (t, l) = (self.totals, self.limits);
        if d.records > 0 {
            if let Some(cap) = c.config.max_records {
                let used = c.db.state.records().used;
                if used + d.records > cap {
                    return Err(KernelError::CapacityExceeded(format!(
                        "collection {:?} is full: {used} of its {cap} records (max_records) used, {} requested",
                        c.name, d.records
                    )));
                }
            }
            if t.records + d.records > l.max_records {
                return Err(KernelError::CapacityExceeded(format!(
                    "record pool is full: {} of {} used, {} requested (VALORI_MAX_RECORDS, over all collections)",
                    t.records, l.max_records, d.records
                )));
            }
        }
        if d.nodes > 0 && t.nodes + d.nodes > l.max_nodes {
            return Err(KernelError::CapacityExceeded(format!(
                "graph node pool is full: {} of {} used (VALORI_MAX_NODES, over all collections)",
                t.nodes, l.max_nodes
            )));
        }
        if d.edges > 0 && t.edges + d.edges > l.max_edges {
            return Err(KernelError::CapacityExceeded(format!(
                "graph edge pool is full: {} of {} used (VALORI_MAX_EDGES, over all collections)",
                t.edges, l.max_edges
            )));
        }
        if d.meta_entries > 0 && t.meta_entries + d.meta_entries > l.max_metadata_entries {
            return Err(KernelError::CapacityExceeded(format!(
                "metadata is full: {} entries, the limit is {} (VALORI_MAX_METADATA_ENTRIES, over all collections)",
                t.meta_entries, l.max_metadata_entries
            )));
        }
        if d.meta_bytes > 0 && t.meta_bytes + d.meta_bytes > l.max_metadata_bytes {
            return Err(KernelError::CapacityExceeded(format!(
                "metadata is full: this write would make it {} bytes, the limit is {} (VALORI_MAX_METADATA_BYTES, over all collections)",
                t.meta_bytes + d.meta_bytes,
                l.max_metadata_bytes
            )));
        }
        Ok(())
    }

    /// Apply one event atomically; on error nothing changed.
    pub fn apply(&mut self, ev: &StoreEvent) -> KResult<()> {
        self.idem.check(ev)?;
        match ev {
            StoreEvent::Data {
                collection, event, ..
            } => {
                let c = self
                    .colls
                    .get(collection)
                    .ok_or_else(|| id_not_found(*collection))?;
                self.check_capacity(c, event)?;
                // `Db::apply` checks the event against the state before it
                // changes anything (a refused event leaves the journal empty).
                self.touch(*collection);
                let defer = self.deferring_index();
                let c = self
                    .colls
                    .get_mut(collection)
                    .expect("checked collection present");
                if defer {
                    c.db.defer_index();
                }
                let before = Usage::of_db(&c.db);
                let applied = c.db.apply(event);
                // Counted even when the event is refused: a non-insert first
                // hands deferred inserts to the index, which grows it.
                let after = Usage::of_db(&c.db);
                self.totals = self.totals.replace(before, after);
                applied?;
            }
            StoreEvent::CreateCollection {
                id, name, config, ..
            } => {
                check_name(name)?;
                if self.names.contains_key(name) {
                    return Err(KernelError::CollectionExists(format!(
                        "collection {name:?} already exists"
                    )));
                }
                if self.colls.len() >= MAX_COLLECTIONS {
                    return Err(KernelError::CapacityExceeded(format!(
                        "this node holds {MAX_COLLECTIONS} collections, the most it keeps: drop one first"
                    )));
                }
                if *id != self.next_id || *id == u32::MAX {
                    return Err(KernelError::Corrupt(format!(
                        "collection id {id} out of sequence, expected {}",
                        self.next_id
                    )));
                }
                if config.dim == 0 || config.dim > 65536 {
                    return Err(KernelError::InvalidArgument(format!(
                        "dimension must be 1..=65536, got {}",
                        config.dim
                    )));
                }
                let c = Collection::new(*id, name.clone(), *config, self.limits);
                self.insert(c);
                self.next_id += 1;
                if let Some(j) = self.journal.as_mut() {
                    j.undo.push(StoreUndo::Created(*id));
                }
            }
            StoreEvent::DropCollection { id, .. } => {
                if *id == 0 {
                    return Err(KernelError::CollectionProtected(
                        "collection \"default\" cannot be dropped".into(),
                    ));
                }
                let c = self.colls.remove(id).ok_or_else(|| id_not_found(*id))?;
                self.names.remove(&c.name);
                self.totals = self.totals.replace(Usage::of_db(&c.db), Usage::default());
                if let Some(j) = self.journal.as_mut() {
                    j.undo.push(StoreUndo::Dropped(Box::new(c)));
                }
            }
        }
        self.height += 1;
        let height = self.height;
        match self.journal.as_mut() {
            Some(j) => {
                let mut u: Vec<IdemUndo> = Vec::new();
                self.idem.record(ev, height, Some(&mut u));
                j.undo.extend(u.into_iter().map(StoreUndo::Idem));
            }
            None => self.idem.record(ev, height, None),
        }
        Ok(())
    }
}
