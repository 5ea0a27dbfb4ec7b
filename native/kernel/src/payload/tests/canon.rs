use super::invalid_msg;
use crate::error::KernelError;
use crate::payload::{canonical_object, canonical_text, text_of, MAX_PAYLOAD_BYTES};

fn canon(json: &str) -> String {
    let bytes = canonical_object(json).unwrap_or_else(|e| panic!("{json}: {e:?}"));
    let text = String::from_utf8(bytes).expect("canonical bytes are UTF-8");
    // Canonical form is a fixed point.
    let again = canonical_object(&text).expect("canonical text re-parses");
    assert_eq!(
        String::from_utf8(again).unwrap(),
        text,
        "not idempotent: {json}"
    );
    text
}

#[test]
fn keys_sort_by_utf8_bytes_not_utf16_units() {
    // U+FF61 sorts before U+1F600 by bytes (ef.. < f0..) but after it in
    // UTF-16 (ff61 > d83d); é (c3 a9) before ÿ (c3 bf).
    let got = canon(r#"{"b":1,"a":2,"é":3,"Z":4,"aa":5,"😀":6,"ÿ":7,"｡":8}"#);
    assert_eq!(
        got,
        r#"{"Z":4,"a":2,"aa":5,"b":1,"é":3,"ÿ":7,"｡":8,"😀":6}"#
    );
}

#[test]
fn whitespace_goes_and_nesting_sorts_at_every_level() {
    let got = canon(
        " { \"z\" : [ 1 , {\"b\": true, \"a\": null}, [ ], \"x\" ],\n\t\"a\": {\"y\": {}, \"x\": []} } ",
    );
    assert_eq!(
        got,
        r#"{"a":{"x":[],"y":{}},"z":[1,{"a":null,"b":true},[],"x"]}"#
    );
}

#[test]
fn strings_use_minimal_escapes() {
    let got = canon(r#"{"s":"q\"b\\s\/\b\f\n\r\t\u0001\u001F\u007f é\u2028\ud83d\ude00"}"#);
    let want = "{\"s\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f} é\u{2028}😀\"}";
    assert_eq!(got, want);
    assert_eq!(canon("{\"k\\u0000\":0}"), "{\"k\\u0000\":0}");
}

#[test]
fn numbers_have_one_layout() {
    let cases = [
        ("1.0", "1"),
        ("1e2", "100"),
        ("-0.0", "0"),
        ("-0", "0"),
        ("0.5", "0.5"),
        ("-2.5e-3", "-0.0025"),
        ("0.000001", "0.000001"),
        ("1e-7", "1e-7"),
        ("1.5e-7", "1.5e-7"),
        ("123.456", "123.456"),
        ("0.30000000000000004", "0.30000000000000004"),
        ("9007199254740992.0", "9007199254740992"),
        ("-9007199254740992.0", "-9007199254740992"),
        // Not representable: rounds to 2^53 first.
        ("9007199254740993.0", "9007199254740992"),
        ("9007199254740994.0", "9007199254740994"),
        ("1e20", "100000000000000000000"),
        ("1e21", "1e+21"),
        ("-1.25e300", "-1.25e+300"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("5e-324", "5e-324"),
        // Exact ties between two shortest forms take the even digit, as
        // JavaScript's String(x) does.
        ("1180269597633158.25", "1180269597633158.2"),
        ("-140783961139789.125", "-140783961139789.12"),
        ("86024922063055.625", "86024922063055.62"),
        // Integer literals that fit i64/u64 stay exact.
        ("123456789012345678", "123456789012345678"),
        ("18446744073709551615", "18446744073709551615"),
        ("-9223372036854775808", "-9223372036854775808"),
        // Beyond u64: an f64, written with its shortest digits.
        ("18446744073709551616", "18446744073709552000"),
    ];
    for (input, want) in cases {
        let got = canon(&format!("{{\"n\":{input}}}"));
        assert_eq!(got, format!("{{\"n\":{want}}}"), "input {input}");
    }
}

#[test]
fn prototype_keys_are_plain_data() {
    let got = canon(r#"{"constructor":"c","__proto__":{"x":1},"prototype":[1]}"#);
    assert_eq!(
        got,
        r#"{"__proto__":{"x":1},"constructor":"c","prototype":[1]}"#
    );
}

fn nested_objects(levels: usize) -> String {
    "{\"a\":".repeat(levels - 1) + "{}" + &"}".repeat(levels - 1)
}

#[test]
fn depth_16_is_accepted_and_17_refused() {
    assert!(canonical_object(&nested_objects(16)).is_ok());
    let msg = invalid_msg(canonical_object(&nested_objects(17)));
    assert!(msg.contains("deeper than 16"), "{msg}");
    // Arrays count as levels too: the object plus 15 arrays is 16.
    let arrays = |n: usize| format!("{{\"a\":{}{}}}", "[".repeat(n), "]".repeat(n));
    assert!(canonical_object(&arrays(15)).is_ok());
    assert!(invalid_msg(canonical_object(&arrays(16))).contains("deeper than 16"));
    // Brackets inside strings are not nesting.
    assert!(canonical_object(&format!("{{\"s\":\"{}\"}}", "[{".repeat(40))).is_ok());
}

#[test]
fn keys_up_to_256_bytes_are_accepted() {
    let ok = format!("{{\"{}\":1}}", "k".repeat(256));
    assert!(canonical_object(&ok).is_ok());
    // 128 two-byte characters are 256 bytes.
    assert!(canonical_object(&format!("{{\"{}\":1}}", "é".repeat(128))).is_ok());
    let long = format!("{{\"x\":{{\"{}\":1}}}}", "k".repeat(257));
    let msg = invalid_msg(canonical_object(&long));
    assert!(msg.contains("257") && msg.contains("256"), "{msg}");
    let wide = format!("{{\"{}\":1}}", "é".repeat(129));
    assert!(invalid_msg(canonical_object(&wide)).contains("258"));
}

#[test]
fn size_limit_counts_canonical_bytes() {
    // `{"s":""}` is 8 bytes, so 65,528 characters make exactly the limit.
    let at = format!("{{\"s\":\"{}\"}}", "x".repeat(MAX_PAYLOAD_BYTES - 8));
    assert_eq!(canonical_object(&at).unwrap().len(), MAX_PAYLOAD_BYTES);
    let over = format!("{{\"s\":\"{}\"}}", "x".repeat(MAX_PAYLOAD_BYTES - 7));
    match canonical_object(&over) {
        Err(KernelError::PayloadTooLarge(m)) => {
            assert!(m.contains("65537") && m.contains("65536"), "{m}")
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    // Whitespace in the input is not counted.
    let padded = format!(
        "{{ \"s\" :   \"{}\"   }}",
        "x".repeat(MAX_PAYLOAD_BYTES - 8)
    );
    assert!(canonical_object(&padded).is_ok());
}

#[test]
fn duplicate_keys_are_refused_by_name() {
    for json in [
        r#"{"a":1,"a":2}"#,
        r#"{"a":1,"\u0061":2}"#,
        r#"{"a":[1,{"b":2}],"c":{"d":1},"a":3}"#,
        r#"{"a":"}\",{","a":1}"#,
    ] {
        let msg = invalid_msg(canonical_object(json));
        assert!(msg.contains("duplicate key \"a\""), "{json}: {msg}");
    }
    let msg = invalid_msg(canonical_object(r#"{"x":{"k":1,"k":2}}"#));
    assert!(msg.contains("\"k\""), "{msg}");
    let msg = invalid_msg(canonical_object(r#"{"l":[{"z":1,"z":2}]}"#));
    assert!(msg.contains("\"z\""), "{msg}");
    // The same key in different objects is fine.
    assert!(canonical_object(r#"{"a":{"a":1},"b":{"a":2},"l":[{"a":1},{"a":2}]}"#).is_ok());
}

#[test]
fn non_objects_and_bad_json_are_refused() {
    for (json, ty) in [
        ("[1]", "array"),
        ("\"s\"", "string"),
        ("3", "number"),
        ("null", "null"),
        ("true", "boolean"),
    ] {
        let msg = invalid_msg(canonical_object(json));
        assert_eq!(msg, format!("metadata must be a JSON object, got {ty}"));
    }
    for json in [
        "",
        "{",
        "{\"a\":}",
        "{\"a\":1}x",
        "{\"a\":1e400}",
        "{'a':1}",
    ] {
        assert!(
            invalid_msg(canonical_object(json)).contains("not valid JSON"),
            "{json}"
        );
    }
}

#[test]
fn text_is_a_canonical_json_string() {
    let stored = canonical_text("héllo\n\"q\"\t\u{1}").unwrap();
    assert_eq!(stored, "\"héllo\\n\\\"q\\\"\\t\\u0001\"".as_bytes());
    assert_eq!(text_of(&stored).as_deref(), Some("héllo\n\"q\"\t\u{1}"));
    assert_eq!(canonical_text("").unwrap(), b"\"\"");
    assert_eq!(text_of(b"\"a\\u0062\"").as_deref(), Some("ab"));
    assert_eq!(text_of(b"{}"), None);
    assert_eq!(text_of(b"12"), None);
    assert_eq!(text_of(b"\"open"), None);
}

#[test]
fn text_limit_counts_the_stored_json_string() {
    // Stored with its two quotes: 65,534 plain bytes are exactly the limit.
    assert!(canonical_text(&"x".repeat(MAX_PAYLOAD_BYTES - 2)).is_ok());
    // 32,767 two-byte characters + quotes = 65,536; one more is over.
    assert!(canonical_text(&"é".repeat(MAX_PAYLOAD_BYTES / 2 - 1)).is_ok());
    let over = |t: &str, n: &str| match canonical_text(t) {
        Err(KernelError::PayloadTooLarge(m)) => {
            assert!(m.contains(n) && m.contains("65536"), "{m}")
        }
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    };
    over(&"é".repeat(MAX_PAYLOAD_BYTES / 2), "65538");
    over(&"x".repeat(MAX_PAYLOAD_BYTES - 1), "65537");
    // Escapes count as stored: a newline is two bytes.
    assert!(canonical_text(&"\n".repeat(MAX_PAYLOAD_BYTES / 2 - 1)).is_ok());
    over(&"\n".repeat(MAX_PAYLOAD_BYTES / 2), "65538");
}
