use super::invalid_msg;
use crate::payload::{Filter, MAX_FILTER_BYTES};

fn err(json: &str) -> String {
    invalid_msg(Filter::parse(json))
}

#[test]
fn unknown_operators_are_named_with_their_path() {
    assert_eq!(
        err(r#"{"a":{"$regex":"x"}}"#),
        r#"unknown filter operator "$regex" at "a""#
    );
    assert_eq!(
        err(r#"{"a.b":{"foo":1}}"#),
        r#"unknown filter operator "foo" at "a.b""#
    );
    assert!(err(r#"{"$where":"x"}"#).contains("\"$where\""));
    assert!(err(r#"{"$eq":1}"#).contains("\"$eq\""));
}

#[test]
fn operand_types_are_checked() {
    assert_eq!(
        err(r#"{"year":{"$gt":"x"}}"#),
        r#"$gt needs a number, got string at "year""#
    );
    assert_eq!(
        err(r#"{"y":{"$gte":true}}"#),
        r#"$gte needs a number, got boolean at "y""#
    );
    assert_eq!(
        err(r#"{"y":{"$lt":null}}"#),
        r#"$lt needs a number, got null at "y""#
    );
    assert_eq!(
        err(r#"{"y":{"$lte":[1]}}"#),
        r#"$lte needs a number, got array at "y""#
    );
    assert_eq!(
        err(r#"{"y":{"lt":"1"}}"#),
        r#"$lt needs a number, got string at "y""#
    );
    assert_eq!(
        err(r#"{"y":{"$exists":1}}"#),
        r#"$exists needs a boolean, got number at "y""#
    );
}

#[test]
fn eq_and_ne_take_only_scalars() {
    let want = |ty: &str, path: &str, op: &str| {
        format!("{op} needs a number, string or boolean, got {ty} at \"{path}\"")
    };
    assert_eq!(err(r#"{"a":null}"#), want("null", "a", "$eq"));
    assert_eq!(err(r#"{"a":[1]}"#), want("array", "a", "$eq"));
    assert_eq!(err(r#"{"a":{"$eq":{"b":1}}}"#), want("object", "a", "$eq"));
    assert_eq!(err(r#"{"a":{"eq":null}}"#), want("null", "a", "$eq"));
    assert_eq!(err(r#"{"a":{"$ne":[]}}"#), want("array", "a", "$ne"));
}

#[test]
fn in_needs_an_array_of_scalars() {
    assert_eq!(
        err(r#"{"a":{"$in":"x"}}"#),
        r#"$in needs an array, got string at "a""#
    );
    assert_eq!(
        err(r#"{"a":{"$nin":5}}"#),
        r#"$nin needs an array, got number at "a""#
    );
    for (item, ty) in [("null", "null"), ("[1]", "array"), ("{\"x\":1}", "object")] {
        let msg = err(&format!("{{\"a\":{{\"$in\":[1,{item}]}}}}"));
        assert_eq!(
            msg,
            format!("$in items must be numbers, strings or booleans, got {ty} at \"a\"")
        );
    }
    assert!(err(r#"{"a":{"$nin":[null]}}"#).starts_with("$nin items"));
}

#[test]
fn and_or_need_non_empty_arrays_of_objects() {
    assert!(err(r#"{"$and":[]}"#).contains("$and needs a non-empty array of filter objects"));
    assert!(err(r#"{"$or":{}}"#).contains("$or needs a non-empty array of filter objects"));
    assert!(err(r#"{"$or":"x"}"#).contains("$or needs"));
    assert_eq!(
        err(r#"{"$and":[{},1]}"#),
        "$and items must be filter objects, got number"
    );
    assert_eq!(
        err(r#"{"$or":[[]]}"#),
        "$or items must be filter objects, got array"
    );
    assert_eq!(
        err(r#"{"$not":[]}"#),
        "$not needs a filter object, got array"
    );
    assert_eq!(
        err(r#"{"$not":true}"#),
        "$not needs a filter object, got boolean"
    );
}

#[test]
fn objects_without_operators_and_mixed_forms_are_refused() {
    assert_eq!(
        err(r#"{"a":{}}"#),
        r#"filter value at "a" is an object with no operators"#
    );
    assert_eq!(
        err(r#"{"a":{"$gt":1,"lt":3}}"#),
        r#"filter at "a" mixes $ operators with plain keys"#
    );
}

#[test]
fn empty_paths_and_segments_are_refused() {
    for path in ["", "a..b", ".a", "a.", "."] {
        let msg = err(&format!("{{\"{path}\":1}}"));
        assert_eq!(
            msg,
            format!("filter path \"{path}\" is empty or has an empty segment")
        );
    }
}

#[test]
fn filter_must_be_an_object() {
    for (json, ty) in [
        ("[]", "array"),
        ("1", "number"),
        ("\"x\"", "string"),
        ("null", "null"),
    ] {
        assert_eq!(err(json), format!("filter must be a JSON object, got {ty}"));
    }
    assert!(err("{").contains("not valid JSON"));
    assert!(err(r#"{"a":1,"a":2}"#).contains("duplicate key \"a\""));
}

fn nested_nots(levels: usize) -> String {
    "{\"$not\":".repeat(levels - 1) + "{\"a\":1}" + &"}".repeat(levels - 1)
}

#[test]
fn filter_depth_16_is_accepted_and_17_refused() {
    assert!(Filter::parse(&nested_nots(16)).is_ok());
    assert!(err(&nested_nots(17)).contains("deeper than 16"));
}

#[test]
fn clause_count_includes_in_items() {
    let list = |n: usize| (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    // One condition plus 1,023 items is the limit.
    assert!(Filter::parse(&format!("{{\"a\":{{\"$in\":[{}]}}}}", list(1023))).is_ok());
    let msg = err(&format!("{{\"a\":{{\"$in\":[{}]}}}}", list(1024)));
    assert!(msg.contains("more than 1024 clauses"), "{msg}");
    let conds = |n: usize| {
        (0..n)
            .map(|i| format!("{{\"a\":{i}}}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    assert!(Filter::parse(&format!("{{\"$or\":[{}]}}", conds(1024))).is_ok());
    assert!(err(&format!("{{\"$or\":[{}]}}", conds(1025))).contains("1024"));
}

#[test]
fn filter_text_is_limited() {
    // A string operand pads the text to exactly the limit, then one over.
    let pad = |n: usize| format!("{{\"a\":\"{}\"}}", "x".repeat(n));
    let base = pad(0).len();
    assert!(Filter::parse(&pad(MAX_FILTER_BYTES - base)).is_ok());
    let msg = err(&pad(MAX_FILTER_BYTES - base + 1));
    assert!(msg.contains("65537") && msg.contains("65536"), "{msg}");
}

#[test]
fn is_all_only_for_the_empty_filter() {
    assert!(Filter::parse("{}").unwrap().is_all());
    assert!(Filter::parse(" { } ").unwrap().is_all());
    assert!(!Filter::parse(r#"{"a":1}"#).unwrap().is_all());
    assert!(!Filter::parse(r#"{"$not":{}}"#).unwrap().is_all());
}
