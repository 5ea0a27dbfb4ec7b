//! The automatic payload index: for every object path of every record's
//! metadata, a `present` posting list plus postings per keyword value
//! (strings, booleans) and per number (f64 in total order). `select` turns a
//! [`Filter`] into an exact id bitset from postings alone, never parsing a
//! record. Only ordered maps are used, so nothing depends on hash order.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde_json::{Map, Value};

use super::filter::{norm_zero, Cond, Filter, Node, Op, Scalar};

/// An f64 key ordered by `total_cmp`. Keys are stored with `-0.0` folded
/// into `0.0` (and JSON has no NaN), so this order equals numeric order.
#[derive(Debug, Clone, Copy)]
struct NumKey(f64);

impl PartialEq for NumKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}
impl Eq for NumKey {}
impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Sorted ids without duplicates.
type Postings = Vec<u32>;

fn add(list: &mut Postings, id: u32) {
    match list.last() {
        Some(&last) if last >= id => {
            if let Err(at) = list.binary_search(&id) {
                list.insert(at, id);
            }
        }
        _ => list.push(id),
    }
}

fn del(list: &mut Postings, id: u32) {
    if let Ok(at) = list.binary_search(&id) {
        list.remove(at);
    }
}

#[derive(Debug, Default, Clone)]
struct PathIndex {
    present: Postings,
    strings: BTreeMap<String, Postings>,
    bools: [Postings; 2],
    numbers: BTreeMap<NumKey, Postings>,
}

impl PathIndex {
    fn is_empty(&self) -> bool {
        self.present.is_empty()
            && self.strings.is_empty()
            && self.numbers.is_empty()
            && self.bools.iter().all(Vec::is_empty)
    }

    fn eq_postings(&self, s: &Scalar) -> Option<&Postings> {
        match s {
            Scalar::Str(v) => self.strings.get(v),
            Scalar::Bool(b) => Some(&self.bools[usize::from(*b)]),
            Scalar::Num(n) => self.numbers.get(&NumKey(norm_zero(*n))),
        }
    }
}

/// What one record contributes at one path.
enum Entry<'a> {
    Present,
    Value(&'a Value),
}

/// Per-path postings for every record's metadata.
#[derive(Debug, Default, Clone)]
pub struct PayloadIndex {
    paths: BTreeMap<String, PathIndex>,
}

impl PayloadIndex {
    pub fn new() -> PayloadIndex {
        PayloadIndex::default()
    }

    /// Indexes record `id`'s stored metadata bytes. Bytes that are not a
    /// JSON object (old logs may hold any JSON under `rec:<id>`) index nothing.
    pub fn insert(&mut self, id: u32, metadata: &[u8]) {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(metadata) else {
            return;
        };
        visit(&map, &mut String::new(), &mut |path, entry| {
            // Look up before allocating: most paths exist already.
            if !self.paths.contains_key(path) {
                self.paths.insert(path.to_string(), PathIndex::default());
            }
            let Some(p) = self.paths.get_mut(path) else {
                return;
            };
            match entry {
                Entry::Present => add(&mut p.present, id),
                Entry::Value(v) => match Scalar::of(v) {
                    Some(Scalar::Str(s)) => add(p.strings.entry(s).or_default(), id),
                    Some(Scalar::Bool(b)) => add(&mut p.bools[usize::from(b)], id),
                    Some(Scalar::Num(n)) => add(p.numbers.entry(NumKey(n)).or_default(), id),
                    None => {}
                },
            }
        });
    }

    /// Undoes `insert(id, metadata)`; the caller passes the same bytes.
    pub fn remove(&mut self, id: u32, metadata: &[u8]) {
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(metadata) else {
            return;
        };
        visit(&map, &mut String::new(), &mut |path, entry| {
            let Some(p) = self.paths.get_mut(path) else {
                return;
            };
            match entry {
                Entry::Present => del(&mut p.present, id),
                Entry::Value(v) => match Scalar::of(v) {
                    Some(Scalar::Str(s)) => {
                        if let Some(list) = p.strings.get_mut(&s) {
                            del(list, id);
                            if list.is_empty() {
                                p.strings.remove(&s);
                            }
                        }
                    }
                    Some(Scalar::Bool(b)) => del(&mut p.bools[usize::from(b)], id),
                    Some(Scalar::Num(n)) => {
                        if let Some(list) = p.numbers.get_mut(&NumKey(n)) {
                            del(list, id);
                            if list.is_empty() {
                                p.numbers.remove(&NumKey(n));
                            }
                        }
                    }
                    None => {}
                },
            }
            if p.is_empty() {
                self.paths.remove(path);
            }
        });
    }

    /// Ids in `0..slots` matching `f`, as bitset words (bit `i % 64` of word
    /// `i / 64` is id `i`). `$not` complements within `0..slots`, so the
    /// caller ANDs the result with its live set.
    pub fn select(&self, f: &Filter, slots: u32) -> Vec<u64> {
        self.eval(&f.root, slots)
    }

    /// Approximate heap bytes held (postings, keys and map nodes). Walks the
    /// index: O(paths + distinct values).
    pub fn heap_bytes(&self) -> u64 {
        // A rough per-entry cost of a BTreeMap slot (key, value, node share).
        const NODE: usize = 48;
        let ids = |l: &Postings| l.capacity() * 4;
        let mut total = 0usize;
        for (path, p) in &self.paths {
            total += NODE + path.capacity() + std::mem::size_of::<PathIndex>();
            total += ids(&p.present) + p.bools.iter().map(ids).sum::<usize>();
            for (k, l) in &p.strings {
                total += NODE + k.capacity() + ids(l);
            }
            for l in p.numbers.values() {
                total += NODE + ids(l);
            }
        }
        total as u64
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    fn eval(&self, node: &Node, slots: u32) -> Vec<u64> {
        match node {
            Node::All => full(slots),
            Node::And(subs) => {
                let mut acc = full(slots);
                for s in subs {
                    and(&mut acc, &self.eval(s, slots));
                }
                acc
            }
            Node::Or(subs) => {
                let mut acc = empty(slots);
                for s in subs {
                    or(&mut acc, &self.eval(s, slots));
                }
                acc
            }
            Node::Not(sub) => {
                let mut bits = self.eval(sub, slots);
                not(&mut bits, slots);
                bits
            }
            Node::Cond(c) => self.cond(c, slots),
        }
    }

    fn cond(&self, c: &Cond, slots: u32) -> Vec<u64> {
        let mut bits = empty(slots);
        let Some(p) = self.paths.get(&c.path) else {
            // No record has this path: only `$exists: false` matches.
            if c.op == Op::Exists(false) {
                not(&mut bits, slots);
            }
            return bits;
        };
        let range = |lo: Bound<NumKey>, hi: Bound<NumKey>, bits: &mut [u64]| {
            for list in p.numbers.range((lo, hi)).map(|(_, l)| l) {
                set(bits, list, slots);
            }
        };
        match &c.op {
            Op::Eq(s) => any_of(p, std::slice::from_ref(s), slots, &mut bits),
            Op::In(list) => any_of(p, list, slots, &mut bits),
            Op::Ne(s) => present_without(p, std::slice::from_ref(s), slots, &mut bits),
            Op::Nin(list) => present_without(p, list, slots, &mut bits),
            Op::Gt(n) => range(Bound::Excluded(NumKey(*n)), Bound::Unbounded, &mut bits),
            Op::Gte(n) => range(Bound::Included(NumKey(*n)), Bound::Unbounded, &mut bits),
            Op::Lt(n) => range(Bound::Unbounded, Bound::Excluded(NumKey(*n)), &mut bits),
            Op::Lte(n) => range(Bound::Unbounded, Bound::Included(NumKey(*n)), &mut bits),
            Op::Exists(b) => {
                set(&mut bits, &p.present, slots);
                if !*b {
                    not(&mut bits, slots);
                }
            }
        }
        bits
    }
}

/// Records holding any of `list` at this path.
fn any_of(p: &PathIndex, list: &[Scalar], slots: u32, bits: &mut [u64]) {
    for s in list {
        if let Some(l) = p.eq_postings(s) {
            set(bits, l, slots);
        }
    }
}

/// `$ne` / `$nin`: the path is present and holds none of `list`.
fn present_without(p: &PathIndex, list: &[Scalar], slots: u32, bits: &mut [u64]) {
    let mut hit = empty(slots);
    any_of(p, list, slots, &mut hit);
    set(bits, &p.present, slots);
    for (b, h) in bits.iter_mut().zip(&hit) {
        *b &= !h;
    }
}

/// Calls `f` for every object path under `map` (joined with '.'): first
/// `Present`, then each scalar there (an array's scalar elements). Objects
/// inside arrays are not walked. Keys that are empty or contain '.' cannot be
/// named by a filter path (whose segments are non-empty and dot-free), so
/// they and everything below them are skipped; this also keeps the joined
/// path text unambiguous.
fn visit(map: &Map<String, Value>, prefix: &mut String, f: &mut dyn FnMut(&str, Entry)) {
    for (key, v) in map {
        if key.is_empty() || key.contains('.') {
            continue;
        }
        let len = prefix.len();
        if len > 0 {
            prefix.push('.');
        }
        prefix.push_str(key);
        f(prefix, Entry::Present);
        match v {
            Value::Object(inner) => visit(inner, prefix, f),
            Value::Array(items) => items.iter().for_each(|item| f(prefix, Entry::Value(item))),
            scalar => f(prefix, Entry::Value(scalar)),
        }
        prefix.truncate(len);
    }
}

fn words(slots: u32) -> usize {
    (slots as usize).div_ceil(64)
}

fn empty(slots: u32) -> Vec<u64> {
    vec![0; words(slots)]
}

fn full(slots: u32) -> Vec<u64> {
    let mut bits = empty(slots);
    not(&mut bits, slots);
    bits
}

/// Complements within `0..slots` (bits past `slots` stay clear).
fn not(bits: &mut [u64], slots: u32) {
    for w in bits.iter_mut() {
        *w = !*w;
    }
    let tail = slots % 64;
    if tail != 0 {
        if let Some(last) = bits.last_mut() {
            *last &= (1u64 << tail) - 1;
        }
    }
}

fn and(acc: &mut [u64], other: &[u64]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a &= b;
    }
}

fn or(acc: &mut [u64], other: &[u64]) {
    for (a, b) in acc.iter_mut().zip(other) {
        *a |= b;
    }
}

/// Sets the bits of `list`'s ids below `slots` (postings are sorted, so the
/// first id past the end stops the loop).
fn set(bits: &mut [u64], list: &[u32], slots: u32) {
    // Postings are ascending: gather each word's bits in a register and
    // store it once (a long list costs one store per 64 ids, not per id).
    let (mut at, mut acc) = (usize::MAX, 0u64);
    for &id in list {
        if id >= slots {
            break;
        }
        let w = id as usize / 64;
        if w != at {
            if acc != 0 {
                bits[at] |= acc;
            }
            (at, acc) = (w, 0);
        }
        acc |= 1u64 << (id % 64);
    }
    if acc != 0 {
        bits[at] |= acc;
    }
}
