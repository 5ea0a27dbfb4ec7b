//! Plain values the database answers with (no locks, no references into state).

use crate::state::PoolCounts;

/// A graph node as a reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphNode {
    pub kind: u8,
    pub record: Option<u32>,
}

/// An outgoing edge as a reader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphEdge {
    pub id: u32,
    pub to: u32,
    pub kind: u8,
}

/// Pool counts and flags, all O(1) (published counters, no state lock).
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    pub dim: u32,
    pub records: PoolCounts,
    pub nodes: PoolCounts,
    pub edges: PoolCounts,
    pub height: u64,
    pub read_only: bool,
    pub read_only_reason: Option<String>,
    pub max_event_bytes: u64,
    pub index: &'static str,
    pub quant: &'static str,
    /// The distance kernels search uses (`index::kernel_name`).
    pub simd: &'static str,
    pub max_abs_value: f64,
    pub persistence: &'static str,
    pub event_log_height: Option<u64>,
    /// Q16.16 vectors of live and soft-deleted records, in bytes.
    pub vector_bytes: u64,
    pub code_bytes: u64,
    pub index_bytes: u64,
    /// Live collections.
    pub collections: u32,
}
