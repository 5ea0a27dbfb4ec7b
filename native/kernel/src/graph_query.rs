//! Read-only queries over ONE collection's graph, for the /v1 API: a page
//! of nodes, a breadth-first graph query and a subgraph. Pure functions over `&Graph` / `&State`; the host takes the read
//! lock and picks the collection.
//!
//! Every answer is bounded whatever the caller asks: pages and hits by the
//! caller's `limit` (which the shell caps), traversals by [`MAX_VISITED`]
//! nodes and subgraphs by [`MAX_SUBGRAPH_EDGES`] edges, so one request cannot
//! allocate in proportion to the graph. Orders are by id, so two replicas
//! with equal state give equal answers.

use std::collections::HashSet;

use crate::database::Database;
use crate::error::{KResult, KernelError};
use crate::graph::{Graph, NodeSlot, CHUNK_SLOTS};
use crate::state::State;

/// Nodes one traversal may reach at most (its start included).
pub const MAX_VISITED: usize = 100_000;
/// Edges one subgraph answer lists at most.
pub const MAX_SUBGRAPH_EDGES: usize = 100_000;

/// A present node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeEntry {
    pub id: u32,
    pub kind: u8,
    pub record: Option<u32>,
}

fn entry(id: u32, n: &NodeSlot) -> NodeEntry {
    NodeEntry {
        id,
        kind: n.kind,
        record: n.record,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodePage {
    /// At most `limit` nodes, ascending id.
    pub nodes: Vec<NodeEntry>,
    /// Present nodes matching the kind filter, over the whole graph.
    pub total: u64,
}

/// Present nodes in id order, `kind` only when given, skipping the first
/// `offset` matches and keeping at most `limit`.
///
/// Cost: without a kind filter, O(chunks + the chunks the page spans): a
/// chunk's present count is its dense length, so skipped chunks are never
/// walked slot by slot. With a kind filter `total` needs every node's kind,
/// so a call is O(nodes).
pub fn list_nodes(graph: &Graph, offset: u64, limit: usize, kind: Option<u8>) -> NodePage {
    let matches = |n: &NodeSlot| kind.is_none_or(|k| n.kind == k);
    let mut nodes = Vec::with_capacity(limit.min(graph.nodes.slots()));
    let mut skip = offset;
    let mut total = 0u64;
    for (ci, c) in graph.nodes.chunks().enumerate() {
        let here = match kind {
            None => c.items.len() as u64,
            Some(_) => c.items.iter().filter(|n| matches(n)).count() as u64,
        };
        total += here;
        if skip >= here {
            skip -= here;
            continue;
        }
        if nodes.len() >= limit {
            continue;
        }
        let base = (ci * CHUNK_SLOTS) as u32;
        let mut dense = 0;
        for off in 0..c.slots {
            if nodes.len() >= limit {
                break;
            }
            if !c.has(off) {
                continue;
            }
            let n = &c.items[dense];
            dense += 1;
            if !matches(n) {
                continue;
            }
            if skip > 0 {
                skip -= 1;
                continue;
            }
            nodes.push(entry(base + off as u32, n));
        }
    }
    NodePage { nodes, total }
}

/// Which edges a traversal follows from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Outgoing edges, to their targets.
    Out,
    /// Incoming edges, back to their sources.
    In,
    Both,
}

impl Direction {
    /// `out`, `in` or `both`.
    pub fn parse(s: &str) -> KResult<Direction> {
        match s {
            "out" => Ok(Direction::Out),
            "in" => Ok(Direction::In),
            "both" => Ok(Direction::Both),
            _ => Err(KernelError::InvalidArgument(format!(
                "direction must be out, in or both, got {s:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphQuery {
    pub direction: Direction,
    /// Hops from the start at most (0: no hits).
    pub depth: u32,
    /// Hits at most.
    pub limit: usize,
    /// Follow only edges of this kind.
    pub edge_kind: Option<u8>,
    /// Report only nodes of this kind (all reached nodes are still walked).
    pub node_kind: Option<u8>,
}

impl GraphQuery {
    /// A query from a host's arguments: `direction` is `out`, `in` or
    /// `both`, kinds are 0..=255 (INVALID_ARGUMENT otherwise).
    pub fn new(
        direction: &str,
        depth: u32,
        limit: usize,
        edge_kind: Option<u32>,
        node_kind: Option<u32>,
    ) -> KResult<GraphQuery> {
        Ok(GraphQuery {
            direction: Direction::parse(direction)?,
            depth,
            limit,
            edge_kind: kind_of("edge kind", edge_kind)?,
            node_kind: kind_of("node kind", node_kind)?,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphHit {
    pub node: NodeEntry,
    /// Hops from the start along the shortest followed path (>= 1).
    pub depth: u32,
}

fn not_found(what: &str, id: u32) -> KernelError {
    KernelError::NotFound(format!("{what} node {id} does not exist"))
}

/// Breadth-first from `start` (present): calls `level(d, ids)` for each
/// depth `d` in `1..=max_depth` with the nodes first reached at that depth,
/// ascending; stops when `level` returns false, when a level is empty, or
/// once [`MAX_VISITED`] nodes were reached. The level that reaches the cap
/// is cut in discovery order (frontier by id, then each node's edges by id),
/// so the cut is the same on every replica.
fn walk(
    graph: &Graph,
    start: u32,
    dir: Direction,
    edge_kind: Option<u8>,
    max_depth: u32,
    mut level: impl FnMut(u32, &[u32]) -> bool,
) {
    let mut seen: HashSet<u32> = HashSet::from([start]);
    let mut frontier = vec![start];
    for d in 1..=max_depth {
        let mut next = Vec::new();
        'frontier: for &n in &frontier {
            let node = graph.node(n).expect("reached nodes are present");
            let outs = matches!(dir, Direction::Out | Direction::Both).then_some(&node.out);
            let ins = matches!(dir, Direction::In | Direction::Both).then_some(&node.inc);
            let followed = outs
                .into_iter()
                .flatten()
                .map(|&e| (e, true))
                .chain(ins.into_iter().flatten().map(|&e| (e, false)));
            for (e, forward) in followed {
                let edge = graph.edge(e).expect("listed edges are present");
                if edge_kind.is_some_and(|k| k != edge.kind) {
                    continue;
                }
                if seen.len() >= MAX_VISITED {
                    break 'frontier;
                }
                let m = if forward { edge.to } else { edge.from };
                if seen.insert(m) {
                    next.push(m);
                }
            }
        }
        if next.is_empty() {
            return;
        }
        next.sort_unstable();
        if !level(d, &next) || seen.len() >= MAX_VISITED {
            return;
        }
        frontier = next;
    }
}

/// Nodes reachable from `start` within `q.depth` hops over the edges
/// `q.direction` and `q.edge_kind` allow, each once at its smallest depth,
/// ordered by (depth, id), at most `q.limit`. The start is not a hit.
///
/// `q.node_kind` filters what is *reported*, not what is walked: a node of
/// another kind still leads on to the nodes behind it (a document reached
/// through its chunks is found whatever the chunks' kind). An unknown start
/// is NOT_FOUND.
pub fn graph_query(graph: &Graph, start: u32, q: &GraphQuery) -> KResult<Vec<GraphHit>> {
    if graph.node(start).is_none() {
        return Err(not_found("start", start));
    }
    let mut hits = Vec::new();
    if q.limit == 0 {
        return Ok(hits);
    }
    walk(graph, start, q.direction, q.edge_kind, q.depth, |d, ids| {
        for &id in ids {
            let n = graph.node(id).expect("reached nodes are present");
            if q.node_kind.is_some_and(|k| k != n.kind) {
                continue;
            }
            hits.push(GraphHit {
                node: entry(id, n),
                depth: d,
            });
            if hits.len() >= q.limit {
                return false;
            }
        }
        true
    });
    Ok(hits)
}

/// A subgraph edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubgraphEdge {
    pub id: u32,
    pub from: u32,
    pub to: u32,
    pub kind: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subgraph {
    /// Ascending id, the root included.
    pub nodes: Vec<NodeEntry>,
    /// Ascending id.
    pub edges: Vec<SubgraphEdge>,
}

/// The root and the nodes it reaches over outgoing edges within `depth`
/// hops, at most `limit` nodes (kept in (depth, id) order, so a cut drops
/// the farthest, then the highest ids), and every outgoing edge between two
/// kept nodes, at most [`MAX_SUBGRAPH_EDGES`] (gathered by source id, then
/// edge id). Both lists are answered in id order. An unknown root is NOT_FOUND.
pub fn subgraph(graph: &Graph, root: u32, depth: u32, limit: usize) -> KResult<Subgraph> {
    if graph.node(root).is_none() {
        return Err(not_found("root", root));
    }
    let mut ids = Vec::new();
    if limit > 0 {
        ids.push(root);
        walk(graph, root, Direction::Out, None, depth, |_, level| {
            let room = limit - ids.len();
            ids.extend_from_slice(&level[..level.len().min(room)]);
            ids.len() < limit
        });
    }
    ids.sort_unstable();
    let kept: HashSet<u32> = ids.iter().copied().collect();
    let mut edges = Vec::new();
    'nodes: for &n in &ids {
        let node = graph.node(n).expect("kept nodes are present");
        for &e in &node.out {
            let edge = graph.edge(e).expect("listed edges are present");
            if !kept.contains(&edge.to) {
                continue;
            }
            if edges.len() >= MAX_SUBGRAPH_EDGES {
                break 'nodes;
            }
            edges.push(SubgraphEdge {
                id: e,
                from: edge.from,
                to: edge.to,
                kind: edge.kind,
            });
        }
    }
    edges.sort_unstable_by_key(|e| e.id);
    let nodes = ids
        .iter()
        .map(|&id| entry(id, graph.node(id).expect("kept nodes are present")))
        .collect();
    Ok(Subgraph { nodes, edges })
}

/// A kind filter from the host: 0..=255.
fn kind_of(what: &str, k: Option<u32>) -> KResult<Option<u8>> {
    k.map(|k| {
        u8::try_from(k)
            .map_err(|_| KernelError::InvalidArgument(format!("{what} must be 0..=255, got {k}")))
    })
    .transpose()
}

impl Database {
    /// Run `f` over the state of `collection` under the read lock
    /// (COLLECTION_NOT_FOUND for an unknown name).
    pub(crate) fn read_collection<T>(
        &self,
        collection: &str,
        f: impl FnOnce(&State) -> T,
    ) -> KResult<T> {
        if self.is_closed() {
            return Err(KernelError::Closed("the database is closed".into()));
        }
        let store = self.engine.read();
        Ok(f(store.resolve(collection)?.state()))
    }

    /// A page of `collection`'s nodes (see [`list_nodes`]).
    pub fn list_nodes(
        &self,
        collection: &str,
        offset: u64,
        limit: usize,
        kind: Option<u32>,
    ) -> KResult<NodePage> {
        let kind = kind_of("kind", kind)?;
        self.read_collection(collection, |s| list_nodes(&s.graph, offset, limit, kind))
    }

    /// Breadth-first query over `collection`'s graph (see [`graph_query`]).
    pub fn graph_query(
        &self,
        collection: &str,
        start: u32,
        q: &GraphQuery,
    ) -> KResult<Vec<GraphHit>> {
        self.read_collection(collection, |s| graph_query(&s.graph, start, q))?
    }

    /// The subgraph of `collection` under `root` (see [`subgraph`]).
    pub fn subgraph(
        &self,
        collection: &str,
        root: u32,
        depth: u32,
        limit: usize,
    ) -> KResult<Subgraph> {
        self.read_collection(collection, |s| subgraph(&s.graph, root, depth, limit))?
    }
}
