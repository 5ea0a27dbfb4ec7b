//! The store: every collection of the node in one state, with one height and
//! one hash. A collection is its config plus today's per-collection data (a
//! [`State`]: records, graph, metadata) and its derived search index (a
//! [`Db`]). Collection `default` (id 0) exists from genesis, configured from
//! the node's options; others are created and dropped by events. Node-wide
//! limits count over all collections (`apply.rs`); the idempotency table
//! (`idem.rs`) is part of the state. Ids of collections are handed out in
//! creation order and never reused.

mod apply;
pub mod codec;
mod frozen;
pub mod idem;
mod journal;

use std::collections::{BTreeMap, HashMap};

use crate::engine::Db;
use crate::entry::{CollectionConfig, Metric};
use crate::error::{KResult, KernelError};
use crate::index::IndexConfig;
use crate::state::{Limits, State};

pub use idem::{IdemTable, Ids, Stored, IDEMPOTENCY_RETENTION};
pub(crate) use journal::StoreJournal;

/// Name of collection 0.
pub const DEFAULT_COLLECTION: &str = "default";
/// Live collections at most.
pub const MAX_COLLECTIONS: usize = 10_000;
/// Longest collection name.
pub const MAX_NAME_LEN: usize = 64;

pub struct Collection {
    pub id: u32,
    pub name: String,
    pub config: CollectionConfig,
    pub db: Db,
}

impl Collection {
    fn new(id: u32, name: String, config: CollectionConfig, node: Limits) -> Collection {
        let state = State::new(collection_limits(node, config.dim));
        Collection {
            id,
            name,
            config,
            db: Db::new(state, config.index),
        }
    }

    pub fn state(&self) -> &State {
        &self.db.state
    }
}

/// A collection's own state checks use the node-wide caps (its share can
/// never exceed them); the totals over all collections are checked by the
/// store, and a collection's `max_records` too.
pub(crate) fn collection_limits(node: Limits, dim: u32) -> Limits {
    Limits {
        dim: dim as usize,
        ..node
    }
}

/// What collections hold: the node-wide limits are checked against these
/// totals, and the published counters (`engine::Counters`) are read from
/// them in O(1) however many collections there are. Kept by delta: each
/// applied event adds its collection's after − before.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Records counted against capacity (live + soft-deleted).
    pub records: u64,
    pub nodes: u64,
    pub edges: u64,
    pub meta_entries: u64,
    pub meta_bytes: u64,
    /// Records visible to search.
    pub records_live: u64,
    /// Ids handed out, per pool.
    pub record_slots: u64,
    pub node_slots: u64,
    pub edge_slots: u64,
    /// Q16.16 vectors of live and soft-deleted records, in bytes.
    pub vector_bytes: u64,
    /// Quantized codes and index structures, in bytes.
    pub index_codes: u64,
    pub index_structure: u64,
}

impl Usage {
    /// What one collection's state holds against the node-wide limits.
    pub fn of(s: &State) -> Usage {
        let (meta_entries, meta_bytes) = s.metadata_usage();
        let (r, n, e) = (s.records(), s.nodes(), s.edges());
        Usage {
            records: r.used,
            nodes: n.used,
            edges: e.used,
            meta_entries,
            meta_bytes,
            records_live: r.live,
            record_slots: r.slots,
            node_slots: n.slots,
            edge_slots: e.slots,
            vector_bytes: r.used * s.dim() as u64 * 4,
            index_codes: 0,
            index_structure: 0,
        }
    }

    /// `of` plus the collection's index memory.
    pub fn of_db(db: &Db) -> Usage {
        let mem = db
            .index
            .as_ref()
            .map(|i| i.memory_bytes())
            .unwrap_or_default();
        Usage {
            index_codes: mem.codes,
            index_structure: mem.structure,
            ..Usage::of(&db.state)
        }
    }

    /// `self - minus + plus`, field by field (minus is part of self).
    pub(crate) fn replace(self, minus: Usage, plus: Usage) -> Usage {
        let f = |a: u64, m: u64, p: u64| a - m + p;
        Usage {
            records: f(self.records, minus.records, plus.records),
            nodes: f(self.nodes, minus.nodes, plus.nodes),
            edges: f(self.edges, minus.edges, plus.edges),
            meta_entries: f(self.meta_entries, minus.meta_entries, plus.meta_entries),
            meta_bytes: f(self.meta_bytes, minus.meta_bytes, plus.meta_bytes),
            records_live: f(self.records_live, minus.records_live, plus.records_live),
            record_slots: f(self.record_slots, minus.record_slots, plus.record_slots),
            node_slots: f(self.node_slots, minus.node_slots, plus.node_slots),
            edge_slots: f(self.edge_slots, minus.edge_slots, plus.edge_slots),
            vector_bytes: f(self.vector_bytes, minus.vector_bytes, plus.vector_bytes),
            index_codes: f(self.index_codes, minus.index_codes, plus.index_codes),
            index_structure: f(
                self.index_structure,
                minus.index_structure,
                plus.index_structure,
            ),
        }
    }
}

pub struct Store {
    /// Node-wide limits; `dim` is the default collection's.
    pub(crate) limits: Limits,
    pub(crate) colls: BTreeMap<u32, Collection>,
    /// name → id; lookup only, never iterated.
    pub(crate) names: HashMap<String, u32>,
    pub(crate) next_id: u32,
    pub(crate) totals: Usage,
    pub(crate) idem: IdemTable,
    pub(crate) height: u64,
    pub(crate) journal: Option<StoreJournal>,
}

/// `1..=64` characters of `[A-Za-z0-9_-]`, not starting with `-` or `_`.
pub fn check_name(name: &str) -> KResult<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !name.starts_with(['-', '_']);
    if !ok {
        return Err(KernelError::InvalidArgument(format!(
            "collection name {name:?} is invalid: use 1..={MAX_NAME_LEN} characters of A-Z a-z 0-9 _ -, not starting with - or _"
        )));
    }
    Ok(())
}

impl Store {
    /// A store holding only an empty `default` collection.
    pub fn new(limits: Limits, default_index: IndexConfig) -> Store {
        let mut s = Store::empty(limits);
        let config = CollectionConfig {
            dim: limits.dim as u32,
            metric: Metric::SquaredL2,
            max_records: None,
            index: default_index,
        };
        s.insert(Collection::new(
            0,
            DEFAULT_COLLECTION.into(),
            config,
            limits,
        ));
        s.next_id = 1;
        s
    }

    pub(crate) fn empty(limits: Limits) -> Store {
        Store {
            limits,
            colls: BTreeMap::new(),
            names: HashMap::new(),
            next_id: 0,
            totals: Usage::default(),
            idem: IdemTable::default(),
            height: 0,
            journal: None,
        }
    }

    /// Add a collection (creation, decode); totals follow its state.
    pub(crate) fn insert(&mut self, c: Collection) {
        self.totals = self
            .totals
            .replace(Usage::default(), Usage::of(&c.db.state));
        self.names.insert(c.name.clone(), c.id);
        self.colls.insert(c.id, c);
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
    pub fn height(&self) -> u64 {
        self.height
    }
    /// Set the height after loading state from elsewhere (restore).
    pub fn set_height(&mut self, h: u64) {
        self.height = h;
    }
    /// Totals over all collections.
    pub fn totals(&self) -> Usage {
        self.totals
    }
    /// Recount the totals (after an index was rebuilt outside `apply`).
    pub fn recount(&mut self) {
        self.totals = self.colls.values().fold(Usage::default(), |t, c| {
            t.replace(Usage::default(), Usage::of_db(&c.db))
        });
    }
    pub fn idempotency(&self) -> &IdemTable {
        &self.idem
    }
    /// The next collection id.
    pub fn next_id(&self) -> u32 {
        self.next_id
    }

    /// Collections in id order.
    pub fn collections(&self) -> impl Iterator<Item = &Collection> + '_ {
        self.colls.values()
    }
    pub fn len(&self) -> usize {
        self.colls.len()
    }
    pub fn is_empty(&self) -> bool {
        self.colls.is_empty()
    }
    pub fn get(&self, id: u32) -> Option<&Collection> {
        self.colls.get(&id)
    }
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Collection> {
        self.colls.get_mut(&id)
    }
    /// The collection named `name` (one map lookup), or COLLECTION_NOT_FOUND.
    pub fn resolve(&self, name: &str) -> KResult<&Collection> {
        self.names
            .get(name)
            .and_then(|id| self.colls.get(id))
            .ok_or_else(|| not_found(name))
    }
    pub fn resolve_mut(&mut self, name: &str) -> KResult<&mut Collection> {
        let id = *self.names.get(name).ok_or_else(|| not_found(name))?;
        self.colls.get_mut(&id).ok_or_else(|| not_found(name))
    }
    /// Collection 0 (it cannot be dropped).
    pub fn default_collection(&self) -> &Collection {
        self.colls
            .get(&0)
            .expect("collection default always exists")
    }
    pub fn default_collection_mut(&mut self) -> &mut Collection {
        self.colls
            .get_mut(&0)
            .expect("collection default always exists")
    }
}

pub(crate) fn not_found(name: &str) -> KernelError {
    KernelError::CollectionNotFound(format!("collection {name:?} not found"))
}

pub(crate) fn id_not_found(id: u32) -> KernelError {
    KernelError::CollectionNotFound(format!(
        "collection {id} not found (dropped, or never created)"
    ))
}

#[cfg(test)]
mod tests;
