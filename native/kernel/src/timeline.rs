//! The timeline: committed events read back from the event log, one entry
//! per event with its type, collection, the ids it names and the leader's
//! commit time, for `/v1/timeline`.
//!
//! The log is the source (the state keeps no history), read through its own
//! reader so writes go on meanwhile, and the state's read lock is taken only
//! briefly, to resolve collection names. Bounded: at most `limit` entries per
//! call. The unfiltered `total` is the log's own count (O(1)); with a
//! collection filter `total` counts the matching events, which decodes every
//! event in the log (O(log size) per call).

use crate::database::Database;
use crate::durable::{lock, storage_err};
use crate::entry::{decode_entry, StoreEvent};
use crate::error::{KResult, KernelError};
use crate::event::Event;
use crate::storage::StorageError;

/// One committed event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineEntry {
    /// The event's sequence number (its height).
    pub log_index: u64,
    /// The event's name (`InsertRecord`, `CreateNode`, `CreateCollection`, ...).
    pub event_type: &'static str,
    /// The collection's name, when known: a live collection's, or the one a
    /// `CreateCollection` event carries. A dropped collection's other events
    /// have none (the state keeps no names of dropped collections).
    pub collection: Option<String>,
    /// The record it wrote (a batch: its first id).
    pub record_id: Option<u32>,
    /// The node it wrote (an upsert: the chunk node).
    pub node_id: Option<u32>,
    pub edge_id: Option<u32>,
    /// Unix milliseconds the leader committed it at (none in entries written
    /// before commit times were recorded).
    pub time_ms: Option<u64>,
    /// The record's tag (InsertRecord, UpsertMemory).
    pub tag: Option<u64>,
    /// The node's or edge's kind (CreateNode, CreateEdge).
    pub kind: Option<u8>,
    /// The edge's ends (CreateEdge).
    pub from_node: Option<u32>,
    pub to_node: Option<u32>,
    /// Records in a batch (InsertBatch).
    pub count: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    /// At most `limit` entries, ascending log index.
    pub events: Vec<TimelineEntry>,
    /// Events in the log (matching the collection filter when given).
    pub total: u64,
}

/// Fill in what a per-collection event names: its ids, and the tag, kind,
/// edge ends or batch size v0.1.0's timeline lines print.
fn describe(e: &mut TimelineEntry, ev: &Event) {
    match ev {
        Event::InsertRecord { id, tag, .. } => {
            e.record_id = Some(*id);
            e.tag = Some(*tag);
        }
        Event::DeleteRecord { id } | Event::SoftDeleteRecord { id } => e.record_id = Some(*id),
        Event::InsertBatch {
            first_id, count, ..
        } => {
            e.record_id = Some(*first_id);
            e.count = Some(*count);
        }
        Event::CreateNode { id, kind, record } => {
            e.node_id = Some(*id);
            e.record_id = *record;
            e.kind = Some(*kind);
        }
        Event::CreateEdge { id, from, to, kind } => {
            e.edge_id = Some(*id);
            e.from_node = Some(*from);
            e.to_node = Some(*to);
            e.kind = Some(*kind);
        }
        Event::DeleteNode { id } => e.node_id = Some(*id),
        Event::DeleteEdge { id } => e.edge_id = Some(*id),
        Event::SetMetadata { .. } => {}
        // The chunk node is the one node every upsert creates (a document
        // node only sometimes), so it is the one reported.
        Event::UpsertMemory {
            record_id,
            tag,
            chunk_node,
            edge_id,
            ..
        } => {
            e.record_id = Some(*record_id);
            e.node_id = Some(*chunk_node);
            e.edge_id = Some(*edge_id);
            e.tag = Some(*tag);
        }
    }
}

/// The timeline entry of `ev` committed at `seq`; `collection` is set only
/// from a `CreateCollection` event, which carries its name (other events'
/// names are resolved by id).
pub fn entry_of(seq: u64, time_ms: Option<u64>, ev: &StoreEvent) -> TimelineEntry {
    let mut e = TimelineEntry {
        log_index: seq,
        event_type: ev.name(),
        time_ms,
        ..TimelineEntry::default()
    };
    match ev {
        StoreEvent::Data { event, .. } => describe(&mut e, event),
        StoreEvent::CreateCollection { name, .. } => e.collection = Some(name.clone()),
        StoreEvent::DropCollection { .. } => {}
    }
    e
}

/// A page read from the log, before collection names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Each entry with its collection id.
    pub events: Vec<(TimelineEntry, u32)>,
    pub total: u64,
}

/// Walk committed `(seq, payload)` entries in log order: keep the first
/// `limit` with `seq >= from` (of collection `only`, when given). `count` is
/// the log's event count, the unfiltered total; with `only` the total is
/// counted here, so `entries` must then start at the log's first entry.
/// Without `only` the walk stops as soon as the page is full.
pub fn read_page(
    entries: impl Iterator<Item = Result<(u64, Vec<u8>), StorageError>>,
    from: u64,
    limit: usize,
    only: Option<u32>,
    count: u64,
) -> KResult<Page> {
    let mut events = Vec::with_capacity(limit.min(count.min(1 << 16) as usize));
    let mut total = if only.is_some() { 0 } else { count };
    for item in entries {
        let (seq, payload) = item.map_err(storage_err)?;
        let (time_ms, ev) = decode_entry(&payload)?;
        let coll = ev.collection();
        if only.is_some_and(|c| c != coll) {
            continue;
        }
        if only.is_some() {
            total += 1;
        }
        if seq >= from && events.len() < limit {
            events.push((entry_of(seq, time_ms, &ev), coll));
        } else if only.is_none() && seq >= from {
            break;
        }
    }
    Ok(Page { events, total })
}

/// Why the timeline cannot be served without a log.
pub const NO_LOG: &str = "the timeline needs the event log (VALORI_EVENT_LOG_PATH)";

impl Database {
    /// Up to `limit` committed events from log index `from_seq` on (below
    /// the log's first index it starts there: trimmed events are gone), in
    /// log order, of `collection` only when given (COLLECTION_NOT_FOUND for
    /// an unknown name), with `total` as the module doc says. Without an
    /// event log: INVALID_ARGUMENT. Reads the log file: a host runs it off
    /// its event loop.
    pub fn timeline(
        &self,
        from_seq: u64,
        limit: usize,
        collection: Option<&str>,
    ) -> KResult<Timeline> {
        if self.is_closed() {
            return Err(KernelError::Closed("the database is closed".into()));
        }
        let Some(log) = &self.durable.log else {
            return Err(KernelError::InvalidArgument(NO_LOG.into()));
        };
        let only = match collection {
            Some(name) => Some(self.engine.read().resolve(name)?.id),
            None => None,
        };
        let (reader, count, from) = {
            let l = lock(log);
            let first = l.first_seq();
            let from = from_seq.max(first);
            // A filtered total counts over the whole log: read from its start.
            let start = if only.is_some() { first } else { from };
            let reader = if start > l.height() {
                None
            } else {
                Some(l.reader_from(start).map_err(storage_err)?)
            };
            (reader, l.event_count(), from)
        };
        let page = read_page(reader.into_iter().flatten(), from, limit, only, count)?;
        let store = self.engine.read();
        let events = page
            .events
            .into_iter()
            .map(|(mut e, id)| {
                if e.collection.is_none() {
                    e.collection = store.get(id).map(|c| c.name.clone());
                }
                e
            })
            .collect();
        Ok(Timeline {
            events,
            total: page.total,
        })
    }
}
