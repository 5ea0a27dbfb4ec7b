//! Batch insert bodies (`{"batch": [[…], …], "collection": …}`) parsed on
//! the worker pool into one flat row-major vector, checked as the host
//! checks them (src/kernel/vectors.ts): every row of the collection's
//! dimension, every component finite and within range once rounded to f32.
//! Bodies with anything else (payloads, per-row keys, an error of any kind)
//! are left to the host's general path (see the module doc in `wire`); the
//! write itself is the host's, through the same call either way.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error as _, SeqAccess, Visitor};
use serde_json::value::RawValue;

use super::search::within_structure_caps;
use crate::database::Database;
use crate::fixed::max_abs_value;

/// The host's limits for the route (VALORI_MAX_BATCH_ROWS and the batch
/// body's structure caps).
#[derive(Debug, Clone)]
pub struct BatchRoute {
    pub max_rows: u64,
    pub max_containers: u64,
    pub max_elements: u64,
}

/// A batch ready for the host's write call.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedBatch {
    pub collection: String,
    pub rows: usize,
    /// `rows × dim` components, row-major, as a Float32Array stores them.
    pub vectors: Vec<f32>,
}

/// The batch of `body`, or `None` for the general path.
pub fn parse_batch_json(db: &Database, body: &[u8], route: &BatchRoute) -> Option<ParsedBatch> {
    if !within_structure_caps(body, route.max_containers, route.max_elements) {
        return None;
    }
    let fields: BTreeMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    if !fields.keys().all(|k| k == "batch" || k == "collection") {
        return None;
    }
    let collection = super::collection_of(fields.get("collection").copied())?;
    let dim = db.engine.resolve(&collection).ok()?.dim;
    let mut rows = Rows {
        flat: Vec::new(),
        dim,
        max_rows: route.max_rows as usize,
        max_abs: max_abs_value(dim),
        count: 0,
    };
    let mut de = serde_json::Deserializer::from_str(fields.get("batch")?.get());
    (&mut rows).deserialize(&mut de).ok()?;
    if rows.count == 0 {
        return None;
    }
    Some(ParsedBatch {
        collection,
        rows: rows.count,
        vectors: rows.flat,
    })
}

struct Rows {
    flat: Vec<f32>,
    dim: usize,
    max_rows: usize,
    max_abs: f64,
    count: usize,
}

impl<'de> DeserializeSeed<'de> for &mut Rows {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for &mut Rows {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Row(&mut *self))?.is_some() {
            self.count += 1;
            if self.count > self.max_rows {
                return Err(A::Error::custom("too many rows"));
            }
        }
        Ok(())
    }
}

struct Row<'r>(&'r mut Rows);

impl<'de> DeserializeSeed<'de> for Row<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Row<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row of numbers")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let rows = self.0;
        let mut n = 0;
        while let Some(x) = seq.next_element::<f64>()? {
            n += 1;
            match super::component(x, rows.max_abs) {
                Some(stored) if n <= rows.dim => rows.flat.push(stored),
                _ => return Err(A::Error::custom("not a row of this collection")),
            }
        }
        if n != rows.dim {
            return Err(A::Error::custom("not a row of this collection"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::PersistConfig;
    use crate::index::IndexConfig;
    use crate::state::Limits;
    use crate::storage::StdVfs;
    use std::sync::Arc;

    fn memory_db(dim: usize) -> Database {
        let limits = Limits::new(dim, 16, 16, 16);
        Database::open(
            Arc::new(StdVfs),
            limits,
            IndexConfig::default(),
            &PersistConfig::default(),
        )
        .expect("open")
    }

    fn route() -> BatchRoute {
        BatchRoute {
            max_rows: 3,
            max_containers: 100,
            max_elements: 1000,
        }
    }

    #[test]
    fn ordinary_batches_become_flat_rows_and_anything_else_is_declined() {
        let db = memory_db(2);
        let ok = parse_batch_json(&db, br#"{"batch":[[1,2.5],[-0.1,1e-3]]}"#, &route()).unwrap();
        assert_eq!(ok.collection, "default");
        assert_eq!(ok.rows, 2);
        assert_eq!(ok.vectors, vec![1.0, 2.5, -0.1f32, 0.001f32]);
        for declined in [
            &br#"{"batch":[]}"#[..],
            br#"{"batch":[[1,2],[3]]}"#,
            br#"{"batch":[[1,2,3]]}"#,
            br#"{"batch":[[1,"2"]]}"#,
            br#"{"batch":[[1,1e39]]}"#,
            br#"{"batch":[[1,2]],"texts":["a"]}"#,
            br#"{"batch":[[1,2]],"collection":"nope"}"#,
            br#"{"batch":[[1,2]],"collection":null}"#,
            br#"{"batch":[[1,2],[1,2],[1,2],[1,2]]}"#,
            br#"{"batch":[[1,2]]"#,
            br#"[[1,2]]"#,
        ] {
            assert_eq!(
                parse_batch_json(&db, declined, &route()),
                None,
                "{}",
                String::from_utf8_lossy(declined)
            );
        }
    }
}
