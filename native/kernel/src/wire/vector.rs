//! Bodies that carry one vector (an insert's `values`, an upsert's
//! `vector`, a memory search's `query_vector`): the vector is parsed and
//! checked here, on the worker pool, as the host checks it
//! (src/kernel/vectors.ts), and the rest of the body goes back to the host
//! as JSON text with the vector replaced by `[]`, small enough to parse on
//! its event loop. Members keep their order and duplicates, so the host
//! reads the rest exactly as it would have read the whole body. A body
//! whose vector needs an error (or anything unusual) is declined and takes
//! the host's general path (see the module doc in `wire`).

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::js::js_string;
use super::search::within_structure_caps;
use crate::database::Database;
use crate::fixed::max_abs_value;

/// The route's vector field and its body's structure caps.
#[derive(Debug, Clone)]
pub struct VectorRoute {
    pub field: String,
    pub max_containers: u64,
    pub max_elements: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParsedVector {
    /// The collection the body names (`default` when none).
    pub collection: String,
    /// As a Float32Array stores it.
    pub vector: Vec<f32>,
    /// The body as JSON text with every occurrence of the field as `[]`.
    pub rest: String,
}

/// The members of a JSON object in body order, duplicates included.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'a>, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'a RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// The vector and the rest of `body`, or `None` for the general path.
pub fn parse_vector_json(db: &Database, body: &[u8], route: &VectorRoute) -> Option<ParsedVector> {
    if !within_structure_caps(body, route.max_containers, route.max_elements) {
        return None;
    }
    let members: Members = serde_json::from_slice(body).ok()?;
    // JSON.parse keeps the last of duplicate members.
    let last = |name: &str| {
        members
            .0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    };
    let collection = super::collection_of(last("collection"))?;
    let dim = db.engine.resolve(&collection).ok()?.dim;
    let values: Vec<f64> = serde_json::from_str(last(&route.field)?.get()).ok()?;
    if values.len() != dim {
        return None;
    }
    let max_abs = max_abs_value(dim);
    let vector = values
        .into_iter()
        .map(|x| super::component(x, max_abs))
        .collect::<Option<Vec<f32>>>()?;
    let mut rest = String::with_capacity(body.len().min(4096));
    rest.push('{');
    for (i, (k, v)) in members.0.iter().enumerate() {
        if i > 0 {
            rest.push(',');
        }
        js_string(k, &mut rest);
        rest.push(':');
        rest.push_str(if *k == route.field { "[]" } else { v.get() });
    }
    rest.push('}');
    Some(ParsedVector {
        collection,
        vector,
        rest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::PersistConfig;
    use crate::index::IndexConfig;
    use crate::state::Limits;
    use crate::storage::StdVfs;
    use std::sync::Arc;

    #[test]
    fn the_vector_is_taken_out_and_the_rest_keeps_its_order_and_duplicates() {
        let db = Database::open(
            Arc::new(StdVfs),
            Limits::new(3, 16, 16, 16),
            IndexConfig::default(),
            &PersistConfig::default(),
        )
        .expect("open");
        let route = VectorRoute {
            field: "values".into(),
            max_containers: 100,
            max_elements: 1000,
        };
        let p = parse_vector_json(
            &db,
            br#"{"tag":7,"values":[9,9],"metadata":{"a\"b":[1,2]},"values":[1,2.5,-0.1],"x\u0041":null}"#,
            &route,
        )
        .expect("parsed");
        assert_eq!(p.collection, "default");
        assert_eq!(p.vector, vec![1.0, 2.5, -0.1f32]);
        assert_eq!(
            p.rest,
            r#"{"tag":7,"values":[],"metadata":{"a\"b":[1,2]},"values":[],"xA":null}"#
        );
        for declined in [
            &br#"{"values":[1,2]}"#[..],
            br#"{"values":[1,2,"3"]}"#,
            br#"{"values":[1,2,1e39]}"#,
            br#"{"tag":1}"#,
            br#"{"values":[1,2,3],"collection":"nope"}"#,
            br#"{"values":[1,2,3],"collection":5}"#,
            br#"[1,2,3]"#,
            br#"{"values":[1,2,3]"#,
        ] {
            assert_eq!(parse_vector_json(&db, declined, &route), None);
        }
    }
}
