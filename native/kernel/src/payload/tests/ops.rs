use super::{bit_ids, Fixture};
use crate::payload::{canonical_object, Filter, PayloadIndex};

/// Slot 4 and slot 7 have no metadata; slot 5 has an empty object.
fn library() -> Fixture {
    Fixture::new(&[
        Some(
            r#"{"year":2020,"tags":["a","b"],"author":{"name":"ann","age":30},
               "draft":false,"score":1.5}"#,
        ),
        Some(r#"{"year":2021,"tags":["b"],"author":{"name":"bob"},"draft":true,"score":-0.0}"#),
        Some(r#"{"year":"2022","tags":"a","author":"carl","score":null}"#),
        Some(r#"{"tags":[],"n":[1,"1",true,null,[2],{"x":3}],"author":{"name":null}}"#),
        None,
        Some("{}"),
        Some(r#"{"year":2020.0,"big":18446744073709551615,"score":0}"#),
    ])
}

const SLOTS: u32 = 8;

#[test]
fn empty_filter_matches_every_slot() {
    assert_eq!(library().ids("{}", SLOTS), [0, 1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn eq_is_type_sensitive() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"year":2020}"#, SLOTS), [0, 6]);
    assert_eq!(lib.ids(r#"{"year":{"$eq":2020}}"#, SLOTS), [0, 6]);
    assert_eq!(lib.ids(r#"{"year":"2022"}"#, SLOTS), [2]);
    assert_eq!(lib.ids(r#"{"year":2022}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"draft":false}"#, SLOTS), [0]);
    assert_eq!(lib.ids(r#"{"draft":0}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"missing":1}"#, SLOTS), [] as [u32; 0]);
}

#[test]
fn ranges_skip_non_numbers() {
    let lib = library();
    // Slot 2 holds the string "2022": a range never matches it.
    assert_eq!(lib.ids(r#"{"year":{"$gte":2021}}"#, SLOTS), [1]);
    assert_eq!(
        lib.ids(r#"{"year":{"$gt":2019,"$lt":2021}}"#, SLOTS),
        [0, 6]
    );
    assert_eq!(lib.ids(r#"{"year":{"$lte":2020}}"#, SLOTS), [0, 6]);
    assert_eq!(lib.ids(r#"{"year":{"$lt":2020}}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"author.age":{"$lte":30}}"#, SLOTS), [0]);
}

#[test]
fn old_form_without_dollar_means_the_same() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"year":{"gt":2019,"lt":2021}}"#, SLOTS), [0, 6]);
    assert_eq!(lib.ids(r#"{"year":{"eq":2021}}"#, SLOTS), [1]);
    assert_eq!(lib.ids(r#"{"year":{"gte":2021,"lte":2021}}"#, SLOTS), [1]);
}

#[test]
fn arrays_match_on_any_scalar_element() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"tags":"a"}"#, SLOTS), [0, 2]);
    assert_eq!(lib.ids(r#"{"tags":{"$in":["b","z"]}}"#, SLOTS), [0, 1]);
    assert_eq!(lib.ids(r#"{"tags":{"$nin":["a"]}}"#, SLOTS), [1, 3]);
    assert_eq!(lib.ids(r#"{"tags":{"$ne":"a"}}"#, SLOTS), [1, 3]);
    assert_eq!(lib.ids(r#"{"tags":{"$in":[]}}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"tags":{"$nin":[]}}"#, SLOTS), [0, 1, 2, 3]);
    assert_eq!(lib.ids(r#"{"n":1}"#, SLOTS), [3]);
    assert_eq!(lib.ids(r#"{"n":"1"}"#, SLOTS), [3]);
    assert_eq!(lib.ids(r#"{"n":true}"#, SLOTS), [3]);
    assert_eq!(lib.ids(r#"{"n":{"$gt":0}}"#, SLOTS), [3]);
    assert_eq!(lib.ids(r#"{"n":{"$gt":1}}"#, SLOTS), [] as [u32; 0]);
    // Nested arrays and objects inside arrays are not looked into.
    assert_eq!(lib.ids(r#"{"n":2}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"n.x":3}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(
        lib.ids(r#"{"n.x":{"$exists":true}}"#, SLOTS),
        [] as [u32; 0]
    );
}

#[test]
fn nested_paths_and_existence() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"author.name":"ann"}"#, SLOTS), [0]);
    // A null value is present but has no values.
    assert_eq!(
        lib.ids(r#"{"author.name":{"$exists":true}}"#, SLOTS),
        [0, 1, 3]
    );
    assert_eq!(
        lib.ids(r#"{"author.name":{"$exists":false}}"#, SLOTS),
        [2, 4, 5, 6, 7]
    );
    assert_eq!(
        lib.ids(r#"{"author":{"$exists":true}}"#, SLOTS),
        [0, 1, 2, 3]
    );
    assert_eq!(lib.ids(r#"{"author.name":{"$ne":"ann"}}"#, SLOTS), [1, 3]);
    // Walking through a scalar: absent.
    assert_eq!(
        lib.ids(r#"{"year.x":{"$exists":true}}"#, SLOTS),
        [] as [u32; 0]
    );
    assert_eq!(
        lib.ids(r#"{"author.name.first":{"$exists":false}}"#, SLOTS),
        [0, 1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(
        lib.ids(r#"{"nothing":{"$exists":false}}"#, SLOTS),
        [0, 1, 2, 3, 4, 5, 6, 7]
    );
}

#[test]
fn zero_signs_and_large_integers_compare_as_f64() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"score":0}"#, SLOTS), [1, 6]);
    assert_eq!(lib.ids(r#"{"score":-0.0}"#, SLOTS), [1, 6]);
    assert_eq!(lib.ids(r#"{"score":{"$lt":0}}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"score":{"$gte":-0.0}}"#, SLOTS), [0, 1, 6]);
    assert_eq!(lib.ids(r#"{"score":{"$ne":1.5}}"#, SLOTS), [1, 2, 6]);
    assert_eq!(lib.ids(r#"{"big":18446744073709551615}"#, SLOTS), [6]);
    assert_eq!(lib.ids(r#"{"big":{"$gt":1e19}}"#, SLOTS), [6]);
    // One past u64::MAX is the same f64.
    assert_eq!(lib.ids(r#"{"big":18446744073709551616}"#, SLOTS), [6]);
}

#[test]
fn boolean_combinators() {
    let lib = library();
    assert_eq!(
        lib.ids(r#"{"$not":{"year":2020}}"#, SLOTS),
        [1, 2, 3, 4, 5, 7]
    );
    assert_eq!(
        lib.ids(r#"{"$and":[{"year":2020},{"draft":false}]}"#, SLOTS),
        [0]
    );
    assert_eq!(lib.ids(r#"{"year":2020,"score":0}"#, SLOTS), [6]);
    assert_eq!(
        lib.ids(r#"{"$or":[{"year":2021},{"tags":"a"}]}"#, SLOTS),
        [0, 1, 2]
    );
    assert_eq!(lib.ids(r#"{"$not":{}}"#, SLOTS), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"$or":[{}]}"#, SLOTS), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(
        lib.ids(
            r#"{"$not":{"$or":[{"draft":true},{"author.age":30}]},"tags":{"$exists":true}}"#,
            SLOTS
        ),
        [2, 3]
    );
    assert_eq!(lib.ids(r#"{"$not":{"$not":{"draft":true}}}"#, SLOTS), [1]);
}

#[test]
fn keys_with_dots_are_unreachable_and_prototype_keys_are_data() {
    let lib = Fixture::new(&[
        Some(r#"{"a.b":1,"a":{"b":2}}"#),
        Some(r#"{"a.b":1}"#),
        Some(r#"{"__proto__":{"x":1},"constructor":"c"}"#),
        Some(r#"{"":{"b":5}}"#),
    ]);
    assert_eq!(lib.ids(r#"{"a.b":1}"#, 4), [] as [u32; 0]);
    assert_eq!(lib.ids(r#"{"a.b":2}"#, 4), [0]);
    assert_eq!(lib.ids(r#"{"a":{"$exists":true}}"#, 4), [0]);
    assert_eq!(lib.ids(r#"{"__proto__.x":1}"#, 4), [2]);
    assert_eq!(lib.ids(r#"{"constructor":"c"}"#, 4), [2]);
    assert_eq!(lib.ids(r#"{"b":5}"#, 4), [] as [u32; 0]);
}

#[test]
fn slots_bound_the_result_and_its_length() {
    let lib = library();
    assert_eq!(lib.ids(r#"{"year":2020}"#, 3), [0]);
    assert_eq!(lib.ids(r#"{"$not":{"year":2020}}"#, 3), [1, 2]);
    // Slot 6 holds year 2020 but lies outside 0..6.
    assert_eq!(lib.ids(r#"{"year":2020}"#, 6), [0]);
    assert_eq!(lib.ids("{}", 0), [] as [u32; 0]);
    let mut edge = PayloadIndex::new();
    edge.insert(64, br#"{"a":1}"#);
    edge.insert(63, br#"{"a":1}"#);
    let a = Filter::parse(r#"{"a":1}"#).unwrap();
    assert_eq!(edge.select(&a, 64), vec![1u64 << 63]);
    assert_eq!(edge.select(&a, 65), vec![1u64 << 63, 1]);
    let f = Filter::parse(r#"{"$not":{"a":1}}"#).unwrap();
    let idx = PayloadIndex::new();
    assert_eq!(idx.select(&f, 64), vec![u64::MAX]);
    assert_eq!(idx.select(&f, 65), vec![u64::MAX, 1]);
    assert_eq!(bit_ids(&idx.select(&f, 130)).len(), 130);
}

#[test]
fn non_object_bytes_index_nothing() {
    let mut idx = PayloadIndex::new();
    for (id, bytes) in [&b"[1,2]"[..], b"\"x\"", b"7", b"null", b"not json", b""]
        .iter()
        .enumerate()
    {
        idx.insert(id as u32, bytes);
        idx.remove(id as u32, bytes);
        idx.insert(id as u32, bytes);
    }
    assert!(idx.is_empty());
    let f = Filter::parse(r#"{"a":{"$exists":false}}"#).unwrap();
    assert_eq!(bit_ids(&idx.select(&f, 6)), [0, 1, 2, 3, 4, 5]);
}

#[test]
fn remove_undoes_insert_in_any_order() {
    let mut idx = PayloadIndex::new();
    let a = canonical_object(r#"{"k":[1,1,"x"],"o":{"p":true}}"#).unwrap();
    let b = canonical_object(r#"{"k":1}"#).unwrap();
    idx.insert(9, &a);
    idx.insert(2, &b);
    idx.insert(5, &a);
    assert!(idx.heap_bytes() > 0);
    let f = Filter::parse(r#"{"k":1}"#).unwrap();
    assert_eq!(bit_ids(&idx.select(&f, 10)), [2, 5, 9]);
    idx.remove(5, &a);
    assert_eq!(bit_ids(&idx.select(&f, 10)), [2, 9]);
    let g = Filter::parse(r#"{"o.p":true}"#).unwrap();
    assert_eq!(bit_ids(&idx.select(&g, 10)), [9]);
    idx.remove(9, &a);
    idx.remove(2, &b);
    assert!(idx.is_empty());
    assert_eq!(idx.heap_bytes(), 0);
}
