//! The record pool: status, tag and vector of every record slot ever handed
//! out, stored in chunks of [`CHUNK_SLOTS`] slots.
//!
//! Record ids are never reused (clients keep them), so a node that inserts and
//! hard-deletes forever hands out ever more slots. To keep memory bounded by
//! the records that exist rather than by the slots ever used, a chunk stores
//! tags and vectors densely for its non-hole slots only (a hole costs its
//! status byte and a u16 position), and a chunk whose slots are all assigned
//! and all holes is dropped entirely. Within a chunk the dense vectors are in
//! slot order, so an exact scan still walks contiguous memory.
//!
//! Chunks are shared copy-on-write (`Arc`): cloning the pool costs one
//! reference count per chunk, and a write copies only the chunk it touches
//! if a clone still holds it. A snapshot clones the pool under the state
//! lock and encodes the clone after releasing it, so writes wait for the
//! clone (O(chunks)), not for the encoding (O(bytes)).

use std::sync::Arc;

use crate::state::HOLE;

/// Slots per chunk: small enough that a chunk kept alive by a single record
/// costs little bookkeeping (3 bytes per slot), large enough that a scan's
/// per-chunk overhead is noise.
pub const CHUNK_SLOTS: usize = 256;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Chunk {
    /// One status per assigned slot; empty when the chunk was dropped.
    status: Vec<u8>,
    /// Dense index of each non-hole slot (meaningless for holes).
    pos: Vec<u16>,
    /// Dense, one per non-hole slot, in slot order.
    tags: Vec<u64>,
    /// Dense, `dim` per non-hole slot, in slot order.
    vectors: Vec<i32>,
}

impl Chunk {
    /// Dense index a slot at `off` would take (non-holes before it).
    fn rank(&self, off: usize) -> usize {
        self.status[..off].iter().filter(|&&s| s != HOLE).count()
    }
    fn shift_after(&mut self, off: usize, up: bool) {
        for o in off + 1..self.status.len() {
            if self.status[o] != HOLE {
                if up {
                    self.pos[o] += 1;
                } else {
                    self.pos[o] -= 1;
                }
            }
        }
    }
}

/// Release spare capacity once a dense vector is mostly empty, so deletes give
/// memory back (amortised: only when use falls to a quarter).
fn shrink<T>(v: &mut Vec<T>) {
    if v.capacity() >= 64 && v.len() * 4 <= v.capacity() {
        v.shrink_to(v.len() * 2);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordStore {
    dim: usize,
    slots: usize,
    /// Non-hole slots (live + soft-deleted); vector bytes = stored × dim × 4.
    stored: usize,
    chunks: Vec<Arc<Chunk>>,
}

/// One chunk as seen by a scan: ids `base..base + status.len()`, and for the
/// non-hole ones, in order, their tags and vectors.
pub struct ChunkView<'a> {
    pub base: u32,
    /// Slots in this chunk's id range (holes included), even when dropped.
    pub slots: usize,
    /// Empty when every slot of the chunk is a hole.
    pub status: &'a [u8],
    pub tags: &'a [u64],
    pub vectors: &'a [i32],
}

impl RecordStore {
    pub fn new(dim: usize) -> RecordStore {
        RecordStore {
            dim,
            slots: 0,
            stored: 0,
            chunks: Vec::new(),
        }
    }
    pub fn slots(&self) -> usize {
        self.slots
    }
    pub fn stored(&self) -> usize {
        self.stored
    }
    /// Bytes held by vectors (what exists, not capacity slack).
    pub fn vector_bytes(&self) -> u64 {
        self.stored as u64 * self.dim as u64 * 4
    }

    /// Heap bytes held (capacities included): what the pool really costs.
    pub fn heap_bytes(&self) -> u64 {
        let per_chunk: usize = self
            .chunks
            .iter()
            .map(|c| {
                // A chunk shared with a snapshot clone is counted by both.
                c.status.capacity()
                    + c.pos.capacity() * 2
                    + c.tags.capacity() * 8
                    + c.vectors.capacity() * 4
            })
            .sum();
        (per_chunk + self.chunks.capacity() * std::mem::size_of::<Arc<Chunk>>()) as u64
    }

    fn locate(&self, id: u32) -> Option<(&Chunk, usize)> {
        let i = id as usize;
        if i >= self.slots {
            return None;
        }
        let c = &self.chunks[i / CHUNK_SLOTS];
        let off = i % CHUNK_SLOTS;
        if off < c.status.len() {
            Some((c, off))
        } else {
            None
        }
    }

    pub fn status(&self, id: u32) -> u8 {
        self.locate(id)
            .map(|(c, off)| c.status[off])
            .unwrap_or(HOLE)
    }
    /// Tag of an assigned slot (0 for holes), `None` past the last id.
    pub fn tag(&self, id: u32) -> Option<u64> {
        if id as usize >= self.slots {
            return None;
        }
        Some(match self.locate(id) {
            Some((c, off)) if c.status[off] != HOLE => c.tags[c.pos[off] as usize],
            _ => 0,
        })
    }
    pub fn vector(&self, id: u32) -> Option<&[i32]> {
        let (c, off) = self.locate(id)?;
        if c.status[off] == HOLE {
            return None;
        }
        let p = c.pos[off] as usize * self.dim;
        Some(&c.vectors[p..p + self.dim])
    }

    /// Append a slot with `status` (a hole ignores `tag` and `v`).
    pub fn push(&mut self, status: u8, tag: u64, v: &[i32]) {
        let off = self.slots % CHUNK_SLOTS;
        if off == 0 {
            self.chunks.push(Arc::default());
        }
        let c = Arc::make_mut(self.chunks.last_mut().expect("chunk just ensured"));
        if status == HOLE {
            c.status.push(HOLE);
            c.pos.push(0);
            if c.status.len() == CHUNK_SLOTS && c.tags.is_empty() {
                *c = Chunk::default();
            }
        } else {
            debug_assert_eq!(v.len(), self.dim);
            c.pos.push(c.tags.len() as u16);
            c.status.push(status);
            c.tags.push(tag);
            c.vectors.extend_from_slice(v);
            self.stored += 1;
        }
        self.slots += 1;
    }

    /// Change the status of a non-hole slot to another non-hole status.
    pub fn set_status(&mut self, id: u32, status: u8) {
        debug_assert!(status != HOLE);
        let i = id as usize;
        let c = Arc::make_mut(&mut self.chunks[i / CHUNK_SLOTS]);
        debug_assert!(c.status[i % CHUNK_SLOTS] != HOLE);
        c.status[i % CHUNK_SLOTS] = status;
    }

    /// Turn a non-hole slot into a hole, releasing its tag and vector; returns
    /// what it held. A chunk left with only holes (and no room to grow) is dropped.
    pub fn remove(&mut self, id: u32) -> Option<(u8, u64, Vec<i32>)> {
        let i = id as usize;
        let (ci, off) = (i / CHUNK_SLOTS, i % CHUNK_SLOTS);
        let d = self.dim;
        let st = *self.chunks.get(ci)?.status.get(off)?;
        if st == HOLE {
            return None;
        }
        let c = Arc::make_mut(&mut self.chunks[ci]);
        let p = c.pos[off] as usize;
        let v: Vec<i32> = c.vectors.drain(p * d..(p + 1) * d).collect();
        let tag = c.tags.remove(p);
        c.status[off] = HOLE;
        c.pos[off] = 0;
        c.shift_after(off, false);
        if c.tags.is_empty() && c.status.len() == CHUNK_SLOTS {
            *c = Chunk::default();
        } else {
            shrink(&mut c.vectors);
            shrink(&mut c.tags);
        }
        self.stored -= 1;
        Some((st, tag, v))
    }

    /// Re-materialise a dropped chunk (all holes) before writing into it.
    fn open_chunk(&mut self, ci: usize) -> &mut Chunk {
        let assigned = (self.slots - ci * CHUNK_SLOTS).min(CHUNK_SLOTS);
        let c = Arc::make_mut(&mut self.chunks[ci]);
        if c.status.len() < assigned {
            debug_assert!(c.status.is_empty());
            c.status = vec![HOLE; assigned];
            c.pos = vec![0; assigned];
        }
        c
    }

    /// Undo of `remove`: put a slot's status, tag and vector back.
    pub fn restore(&mut self, id: u32, status: u8, tag: u64, v: &[i32]) {
        let i = id as usize;
        let d = self.dim;
        let off = i % CHUNK_SLOTS;
        let c = self.open_chunk(i / CHUNK_SLOTS);
        debug_assert_eq!(c.status[off], HOLE);
        let p = c.rank(off);
        c.vectors.splice(p * d..p * d, v.iter().copied());
        c.tags.insert(p, tag);
        c.status[off] = status;
        c.pos[off] = p as u16;
        c.shift_after(off, true);
        self.stored += 1;
    }

    /// Forget every slot from `slots` on (undo of pushes).
    pub fn truncate(&mut self, slots: usize) {
        if slots >= self.slots {
            return;
        }
        let keep_chunks = slots.div_ceil(CHUNK_SLOTS);
        for c in &self.chunks[keep_chunks..] {
            self.stored -= c.tags.len();
        }
        self.chunks.truncate(keep_chunks);
        let off = slots % CHUNK_SLOTS;
        if off != 0 {
            let d = self.dim;
            let c = self.open_chunk(keep_chunks - 1);
            let k = c.rank(off);
            let dropped = c.tags.len() - k;
            c.status.truncate(off);
            c.pos.truncate(off);
            c.tags.truncate(k);
            c.vectors.truncate(k * d);
            self.stored -= dropped;
        }
        self.slots = slots;
    }

    /// Every chunk in id order (dropped ones with an empty `status`).
    pub fn chunks(&self) -> impl Iterator<Item = ChunkView<'_>> {
        let slots = self.slots;
        self.chunks.iter().enumerate().map(move |(ci, c)| {
            let base = ci * CHUNK_SLOTS;
            ChunkView {
                base: base as u32,
                slots: (slots - base).min(CHUNK_SLOTS),
                status: &c.status,
                tags: &c.tags,
                vectors: &c.vectors,
            }
        })
    }
}
