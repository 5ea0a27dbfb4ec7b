//! JSON text as JavaScript's `JSON.stringify` writes it: numbers as
//! `Number.prototype.toString` (ECMA-262 Number::toString, radix 10) and
//! strings with the same escapes, so bytes written here equal the bytes the
//! host's general path would send.

use serde_json::Value;

/// `x` as JavaScript writes a number (ECMA-262 Number::toString: the
/// shortest digits that read back as `x`, ties to even, plain notation for
/// 1e-7 < |x| < 1e21, else `1e+21` / `1.5e-7`), by the `ryu-js` crate;
/// non-finite values as `null`, as `JSON.stringify` writes them.
pub fn js_number(x: f64, out: &mut String) {
    if x.is_finite() {
        out.push_str(ryu_js::Buffer::new().format_finite(x));
    } else {
        out.push_str("null");
    }
}

/// `s` as a JSON string literal: serde_json escapes what `JSON.stringify`
/// escapes (`"`, `\\`, control characters, the short forms for \b \f \n \r
/// \t, lowercase `\u00xx` for the rest) and nothing else.
pub fn js_string(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a str always serialises"));
}

/// A parsed JSON value as `JSON.stringify(JSON.parse(text))` writes it, up
/// to the order of object members (kept here in the parser's order; every
/// consumer of this text canonicalises member order). Numbers pass through
/// a double, as they do in JavaScript.
pub fn js_value(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => js_number(n.as_f64().unwrap_or(f64::NAN), out),
        Value::String(s) => js_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                js_value(item, out);
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                js_string(key, out);
                out.push(':');
                js_value(item, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(x: f64) -> String {
        let mut s = String::new();
        js_number(x, &mut s);
        s
    }

    #[test]
    fn numbers_are_written_as_javascript_writes_them() {
        // Expected strings are what node prints for String(x).
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (123.456, "123.456"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000012, "0.0000012"),
            (1e-7, "1e-7"),
            (1.5e-10, "1.5e-10"),
            (2f64.powi(-32), "2.3283064365386963e-10"),
            (f64::from(0.1f32), "0.10000000149011612"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (9007199254740993.0, "9007199254740992"),
            (f64::NAN, "null"),
            // An f32 whose exact decimal ends in 5 at the 18th digit: two
            // 17-digit candidates, JavaScript takes the even one.
            (f64::from(-16.378372f32), "-16.378372192382812"),
        ];
        for &(x, want) in cases {
            assert_eq!(num(x), want, "{x:e}");
        }
    }

    #[test]
    fn strings_get_the_escapes_javascript_gives_them() {
        let mut s = String::new();
        js_string("a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀", &mut s);
        assert_eq!(s, "\"a\\\"b\\\\c\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é€😀\"");
    }

    #[test]
    fn values_round_trip_through_doubles() {
        let v: Value = serde_json::from_str(
            r#"{"a":[1.0,-0,1e21,"x",null,true],"b":{"c":12345678901234567890}}"#,
        )
        .unwrap();
        let mut s = String::new();
        js_value(&v, &mut s);
        assert_eq!(
            s,
            r#"{"a":[1,0,1e+21,"x",null,true],"b":{"c":12345678901234567000}}"#
        );
    }
}
