//! The graph pools: every node and edge slot ever handed out, stored in
//! chunks of [`CHUNK_SLOTS`] slots.
//!
//! Node and edge ids are never reused (clients keep them), so upsert/delete
//! churn hands out ever more slots, and a snapshot may list many deleted
//! slots at one byte each. To keep memory bounded by the nodes and edges that
//! exist, a chunk keeps one presence bit per slot and the present entries
//! densely in slot order; a deleted slot costs its bit, and a chunk with
//! nothing present frees its entries. An entry's dense index is the number of
//! present bits below it, so lookups stay O(1) (a few popcounts).

/// Slots per chunk; the chunk header (presence bits + one `Vec`) is 56 bytes,
/// under a quarter byte per slot.
pub const CHUNK_SLOTS: usize = 256;
const WORDS: usize = CHUNK_SLOTS / 64;

/// A present graph node: its kind, linked record and incident edge ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSlot {
    pub kind: u8,
    pub record: Option<u32>,
    /// Outgoing and incoming edge ids, ascending (ids are handed out in order).
    pub out: Vec<u32>,
    pub inc: Vec<u32>,
}

/// A present graph edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSlot {
    pub kind: u8,
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Chunk<T> {
    present: [u64; WORDS],
    /// Dense, one per present slot, in slot order.
    items: Vec<T>,
}

impl<T> Chunk<T> {
    fn new() -> Chunk<T> {
        Chunk {
            present: [0; WORDS],
            items: Vec::new(),
        }
    }
    fn has(&self, off: usize) -> bool {
        self.present[off / 64] >> (off % 64) & 1 == 1
    }
    /// Dense index of slot `off` (present slots before it).
    fn rank(&self, off: usize) -> usize {
        let w = off / 64;
        let below: u32 = self.present[..w].iter().map(|x| x.count_ones()).sum();
        let part = self.present[w] & ((1u64 << (off % 64)) - 1);
        (below + part.count_ones()) as usize
    }
    fn flip(&mut self, off: usize) {
        self.present[off / 64] ^= 1 << (off % 64);
    }
}

/// Slots of one kind of entry; `None` slots are deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool<T> {
    slots: usize,
    chunks: Vec<Chunk<T>>,
}

/// One chunk as the encoder sees it: `slots` ids from the chunk's base, the
/// presence bits, and the present entries in order.
pub struct PoolChunk<'a, T> {
    pub slots: usize,
    present: &'a [u64; WORDS],
    pub items: &'a [T],
}

impl<T> PoolChunk<'_, T> {
    pub fn has(&self, off: usize) -> bool {
        self.present[off / 64] >> (off % 64) & 1 == 1
    }
}

impl<T> Default for Pool<T> {
    fn default() -> Self {
        Pool {
            slots: 0,
            chunks: Vec::new(),
        }
    }
}

impl<T> Pool<T> {
    /// Ids ever handed out (the next id).
    pub fn slots(&self) -> usize {
        self.slots
    }

    pub fn get(&self, id: u32) -> Option<&T> {
        let i = id as usize;
        if i >= self.slots {
            return None;
        }
        let c = &self.chunks[i / CHUNK_SLOTS];
        let off = i % CHUNK_SLOTS;
        c.has(off).then(|| &c.items[c.rank(off)])
    }

    pub fn get_mut(&mut self, id: u32) -> Option<&mut T> {
        let i = id as usize;
        if i >= self.slots {
            return None;
        }
        let c = &mut self.chunks[i / CHUNK_SLOTS];
        let off = i % CHUNK_SLOTS;
        if !c.has(off) {
            return None;
        }
        let p = c.rank(off);
        Some(&mut c.items[p])
    }

    /// Append a slot: present with `item`, or deleted (`None`, from a snapshot).
    pub fn push(&mut self, item: Option<T>) {
        let off = self.slots % CHUNK_SLOTS;
        if off == 0 {
            self.chunks.push(Chunk::new());
        }
        if let Some(x) = item {
            let c = self.chunks.last_mut().expect("chunk just ensured");
            c.flip(off);
            c.items.push(x);
        }
        self.slots += 1;
    }

    /// Delete a present slot and return its entry. A chunk left with nothing
    /// present frees its entries; one mostly empty gives back spare capacity.
    pub fn remove(&mut self, id: u32) -> Option<T> {
        let i = id as usize;
        if i >= self.slots {
            return None;
        }
        let c = &mut self.chunks[i / CHUNK_SLOTS];
        let off = i % CHUNK_SLOTS;
        if !c.has(off) {
            return None;
        }
        let x = c.items.remove(c.rank(off));
        c.flip(off);
        if c.items.is_empty() {
            c.items = Vec::new();
        } else if c.items.capacity() >= 16 && c.items.len() * 4 <= c.items.capacity() {
            c.items.shrink_to(c.items.len() * 2);
        }
        Some(x)
    }

    /// Undo of `remove`: make a deleted slot present again with `item`.
    pub fn restore(&mut self, id: u32, item: T) {
        let i = id as usize;
        debug_assert!(i < self.slots);
        let c = &mut self.chunks[i / CHUNK_SLOTS];
        let off = i % CHUNK_SLOTS;
        debug_assert!(!c.has(off));
        let p = c.rank(off);
        c.items.insert(p, item);
        c.flip(off);
    }

    /// Forget every slot from `slots` on (undo of pushes).
    pub fn truncate(&mut self, slots: usize) {
        if slots >= self.slots {
            return;
        }
        self.chunks.truncate(slots.div_ceil(CHUNK_SLOTS));
        let off = slots % CHUNK_SLOTS;
        if off != 0 {
            let c = self.chunks.last_mut().expect("a partial chunk is kept");
            let k = c.rank(off);
            c.items.truncate(k);
            for (w, word) in c.present.iter_mut().enumerate() {
                let lo = w * 64;
                if off <= lo {
                    *word = 0;
                } else if off < lo + 64 {
                    *word &= (1u64 << (off - lo)) - 1;
                }
            }
        }
        self.slots = slots;
    }

    /// Every chunk in id order.
    pub fn chunks(&self) -> impl Iterator<Item = PoolChunk<'_, T>> {
        let slots = self.slots;
        self.chunks
            .iter()
            .enumerate()
            .map(move |(ci, c)| PoolChunk {
                slots: (slots - ci * CHUNK_SLOTS).min(CHUNK_SLOTS),
                present: &c.present,
                items: &c.items,
            })
    }

    /// Heap bytes held, capacities included; `extra` adds what an entry owns.
    pub fn heap_bytes(&self, extra: impl Fn(&T) -> usize) -> u64 {
        let own: usize = self
            .chunks
            .iter()
            .map(|c| {
                c.items.capacity() * std::mem::size_of::<T>()
                    + c.items.iter().map(&extra).sum::<usize>()
            })
            .sum();
        (own + self.chunks.capacity() * std::mem::size_of::<Chunk<T>>()) as u64
    }
}

/// Insert into an ascending id list, keeping it ascending.
fn insert_sorted(list: &mut Vec<u32>, x: u32) {
    let at = list.partition_point(|&y| y < x);
    list.insert(at, x);
}

/// Remove `x` from the end of a list where the newest id sits last.
fn pop_if_last(list: &mut Vec<u32>, x: u32) {
    if list.last() == Some(&x) {
        list.pop();
    }
}

/// Nodes and edges, with each node's adjacency kept beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    pub(crate) nodes: Pool<NodeSlot>,
    pub(crate) edges: Pool<EdgeSlot>,
}

impl Graph {
    pub fn node(&self, id: u32) -> Option<&NodeSlot> {
        self.nodes.get(id)
    }
    pub fn edge(&self, id: u32) -> Option<&EdgeSlot> {
        self.edges.get(id)
    }

    pub fn push_node(&mut self, kind: u8, record: Option<u32>) {
        self.nodes.push(Some(NodeSlot {
            kind,
            record,
            out: Vec::new(),
            inc: Vec::new(),
        }));
    }

    /// Append an edge between two present nodes.
    pub fn push_edge(&mut self, kind: u8, from: u32, to: u32) {
        let id = self.edges.slots() as u32;
        self.edges.push(Some(EdgeSlot { kind, from, to }));
        self.nodes
            .get_mut(from)
            .expect("edge source is present")
            .out
            .push(id);
        self.nodes
            .get_mut(to)
            .expect("edge target is present")
            .inc
            .push(id);
    }

    /// Delete an edge and unlink it from its nodes; `None` if not present.
    pub fn remove_edge(&mut self, e: u32) -> Option<EdgeSlot> {
        let edge = self.edges.remove(e)?;
        if let Some(n) = self.nodes.get_mut(edge.from) {
            n.out.retain(|&x| x != e);
        }
        if let Some(n) = self.nodes.get_mut(edge.to) {
            n.inc.retain(|&x| x != e);
        }
        Some(edge)
    }

    /// Undo of `remove_edge` (both nodes present again by then).
    pub fn restore_edge(&mut self, e: u32, edge: EdgeSlot) {
        self.edges.restore(e, edge);
        insert_sorted(
            &mut self
                .nodes
                .get_mut(edge.from)
                .expect("restored edge source")
                .out,
            e,
        );
        insert_sorted(
            &mut self
                .nodes
                .get_mut(edge.to)
                .expect("restored edge target")
                .inc,
            e,
        );
    }

    /// Incident edge ids of a present node, each once, ascending.
    pub fn incident(&self, n: u32) -> Vec<u32> {
        let Some(node) = self.nodes.get(n) else {
            return Vec::new();
        };
        let mut v: Vec<u32> = node.out.iter().chain(node.inc.iter()).copied().collect();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// Delete a node whose edges were removed first; returns its kind and record.
    pub fn remove_node(&mut self, n: u32) -> Option<(u8, Option<u32>)> {
        let node = self.nodes.remove(n)?;
        debug_assert!(node.out.is_empty() && node.inc.is_empty());
        Some((node.kind, node.record))
    }

    /// Undo of `remove_node` (its edges come back afterwards via `restore_edge`).
    pub fn restore_node(&mut self, n: u32, kind: u8, record: Option<u32>) {
        self.nodes.restore(
            n,
            NodeSlot {
                kind,
                record,
                out: Vec::new(),
                inc: Vec::new(),
            },
        );
    }

    /// Forget edges from id `edges` on, unlinking them (newest first, so each
    /// sits at the end of its nodes' lists). All of them must be present.
    pub fn truncate_edges(&mut self, edges: usize) {
        for e in (edges..self.edges.slots()).rev() {
            let edge = *self
                .edges
                .get(e as u32)
                .expect("appended edge present at rollback");
            if let Some(n) = self.nodes.get_mut(edge.from) {
                pop_if_last(&mut n.out, e as u32);
            }
            if let Some(n) = self.nodes.get_mut(edge.to) {
                pop_if_last(&mut n.inc, e as u32);
            }
        }
        self.edges.truncate(edges);
    }

    /// Heap bytes held by both pools, adjacency lists included.
    pub fn heap_bytes(&self) -> u64 {
        self.nodes
            .heap_bytes(|n| (n.out.capacity() + n.inc.capacity()) * 4)
            + self.edges.heap_bytes(|_| 0)
    }
}
