//! Random payloads × random filters: the index's `select` must agree with the
//! reference evaluator on every id, before and after removes/re-inserts.
//! Small value domains make the filters hit often.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::bit_ids;
use crate::payload::{canonical_object, Filter, PayloadIndex};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-1i64..2).prop_map(Value::from),
        1 => prop::sample::select(vec![0.5, -0.0, 1.0, -1.5]).prop_map(|f| json!(f)),
        2 => prop::sample::select(vec!["p", "q", "", "1"]).prop_map(Value::from),
        1 => any::<bool>().prop_map(Value::from),
    ]
}

/// An object whose keys "a", "b", "c" are each usually present, plus rarely
/// a key no filter can reach; values nest up to three levels, with arrays of
/// scalars and objects.
fn object(value: BoxedStrategy<Value>) -> impl Strategy<Value = Value> {
    let slot = move || prop::option::weighted(0.7, value.clone());
    let odd = prop::sample::select(vec!["a.b", ""]);
    (
        slot(),
        slot(),
        slot(),
        prop::option::weighted(0.15, (odd, slot())),
    )
        .prop_map(|(a, b, c, odd)| {
            let mut m = Map::new();
            for (k, v) in [("a", a), ("b", b), ("c", c)] {
                if let Some(v) = v {
                    m.insert(k.to_string(), v);
                }
            }
            if let Some((k, Some(v))) = odd {
                m.insert(k.to_string(), v);
            }
            Value::Object(m)
        })
}

fn payload() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![6 => scalar(), 1 => Just(Value::Null)];
    let nested = leaf.clone().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            object(inner.clone().boxed()),
            prop::collection::vec(inner, 0..4).prop_map(Value::Array),
        ]
    });
    object(prop_oneof![3 => leaf, 2 => nested].boxed())
}

#[derive(Debug, Clone)]
enum Rec {
    Missing,
    Meta(Value),
    /// Bytes an old log may hold under `rec:<id>`: JSON but not an object.
    Raw(&'static str),
}

fn rec() -> impl Strategy<Value = Rec> {
    prop_oneof![
        1 => Just(Rec::Missing),
        8 => payload().prop_map(Rec::Meta),
        1 => prop::sample::select(vec!["[1,2]", "\"a\"", "3", "null", "nope"]).prop_map(Rec::Raw),
    ]
}

impl Rec {
    fn bytes(&self) -> Option<Vec<u8>> {
        match self {
            Rec::Missing => None,
            Rec::Meta(v) => Some(canonical_object(&v.to_string()).expect("generated payload")),
            Rec::Raw(s) => Some(s.as_bytes().to_vec()),
        }
    }

    fn value(&self) -> Option<Value> {
        self.bytes().and_then(|b| serde_json::from_slice(&b).ok())
    }
}

fn path() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a", "b", "c", "a", "b", "a.b", "a.c", "b.a", "a.b.c", "x",
    ])
    .prop_map(str::to_string)
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (-2i64..3).prop_map(Value::from),
        prop::sample::select(vec![0.5, -0.0, -1.5]).prop_map(|f| json!(f)),
    ]
}

fn ops() -> impl Strategy<Value = Value> {
    prop_oneof![
        scalar(),
        scalar().prop_map(|v| json!({ "$eq": v })),
        scalar().prop_map(|v| json!({ "$ne": v })),
        number().prop_map(|v| json!({ "$gt": v })),
        number().prop_map(|v| json!({ "$gte": v })),
        number().prop_map(|v| json!({ "$lt": v })),
        number().prop_map(|v| json!({ "$lte": v })),
        (number(), number()).prop_map(|(a, b)| json!({ "$gte": a, "$lt": b })),
        (number(), number()).prop_map(|(a, b)| json!({ "gt": a, "lte": b })),
        scalar().prop_map(|v| json!({ "eq": v })),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| json!({ "$in": v })),
        prop::collection::vec(scalar(), 0..4).prop_map(|v| json!({ "$nin": v })),
        any::<bool>().prop_map(|b| json!({ "$exists": b })),
    ]
}

fn filter() -> impl Strategy<Value = Value> {
    // Weighted towards single conditions and $or so that selections are
    // neither always empty nor always full.
    let leaf = prop_oneof![
        1 => Just(json!({})),
        6 => (path(), ops()).prop_map(|(p, o)| json!({ p: o })),
        2 => prop::collection::btree_map(path(), ops(), 2..3)
            .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            1 => prop::collection::vec(inner.clone(), 1..3).prop_map(|v| json!({ "$and": v })),
            3 => prop::collection::vec(inner.clone(), 1..4).prop_map(|v| json!({ "$or": v })),
            2 => inner.clone().prop_map(|f| json!({ "$not": f })),
            1 => (inner, path(), ops()).prop_map(|(mut f, p, o)| {
                if let Value::Object(m) = &mut f {
                    m.insert(p, o);
                }
                f
            }),
        ]
    })
}

fn check(index: &PayloadIndex, recs: &[Rec], live: &[bool], filters: &[Filter], slots: u32) {
    let metas: Vec<Option<Value>> = recs.iter().map(Rec::value).collect();
    for f in filters {
        let bits = index.select(f, slots);
        assert_eq!(bits.len(), (slots as usize).div_ceil(64));
        let selected = bit_ids(&bits);
        let expected: Vec<u32> = (0..slots)
            .filter(|&id| f.matches(metas.get(id as usize).and_then(Option::as_ref)))
            .collect();
        assert_eq!(selected, expected, "filter {f:?}");
        // What the caller does: AND with its live set.
        let live_sel: Vec<u32> = selected
            .iter()
            .copied()
            .filter(|&i| live[i as usize])
            .collect();
        let live_exp: Vec<u32> = expected
            .iter()
            .copied()
            .filter(|&i| live[i as usize])
            .collect();
        assert_eq!(live_sel, live_exp);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn select_agrees_with_matches(
        recs in prop::collection::vec(rec(), 10..60),
        extra in 0u32..70,
        live_seed in prop::collection::vec(any::<bool>(), 130),
        filters in prop::collection::vec(filter(), 1..6),
        order_seed in any::<u64>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), rec()), 0..12),
    ) {
        let mut recs = recs;
        let slots = recs.len() as u32 + extra;
        let live = &live_seed[..slots as usize];
        let filters: Vec<Filter> = filters
            .iter()
            .map(|f| Filter::parse(&f.to_string()).expect("generated filter parses"))
            .collect();
        let mut index = PayloadIndex::new();
        // Insert in a scrambled order so postings also take the
        // binary-search path, not only appends.
        let n = recs.len();
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, (order_seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize);
        }
        for &id in &order {
            if let Some(b) = recs[id].bytes() {
                index.insert(id as u32, &b);
            }
        }
        check(&index, &recs, live, &filters, slots);
        if n > 0 {
            for (at, new) in edits {
                let id = at.index(n);
                if let Some(b) = recs[id].bytes() {
                    index.remove(id as u32, &b);
                }
                if let Some(b) = new.bytes() {
                    index.insert(id as u32, &b);
                }
                recs[id] = new;
            }
            check(&index, &recs, live, &filters, slots);
        }
        for (id, r) in recs.iter().enumerate() {
            if let Some(b) = r.bytes() {
                index.remove(id as u32, &b);
            }
        }
        prop_assert!(index.is_empty());
        prop_assert_eq!(index.heap_bytes(), 0);
    }

    #[test]
    fn every_finite_number_round_trips(bits in any::<u64>()) {
        let v = f64::from_bits(bits);
        prop_assume!(v.is_finite());
        let once = canonical_object(&format!("{{\"n\":{v:e}}}")).unwrap();
        let back: Value = serde_json::from_slice(&once).unwrap();
        let want = if v == 0.0 { 0.0 } else { v };
        prop_assert_eq!(back["n"].as_f64().map(f64::to_bits), Some(want.to_bits()));
        let twice = canonical_object(std::str::from_utf8(&once).unwrap()).unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn canonical_form_is_a_fixed_point(v in payload()) {
        let once = canonical_object(&v.to_string()).unwrap();
        let twice = canonical_object(std::str::from_utf8(&once).unwrap()).unwrap();
        prop_assert_eq!(&once, &twice);
        // Same values: compare numbers as f64 (1.0 is written 1, -0.0 as 0).
        let back: Value = serde_json::from_slice(&once).unwrap();
        prop_assert!(same(&back, &v), "{:?} vs {:?}", back, v);
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
