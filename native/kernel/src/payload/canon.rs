//! Canonical JSON: one byte string per JSON value, so equal metadata hashes
//! equally on every node. Keys sorted by UTF-8 bytes, no whitespace, minimal
//! string escapes, and one number layout (below) that does not depend on
//! which float formatter a serde_json release happens to use.

use serde_json::{Number, Value};

use super::scan::{check_keys, deeper_than, type_name};
use super::{MAX_DEPTH, MAX_KEY_BYTES, MAX_PAYLOAD_BYTES};
use crate::error::{KResult, KernelError};

/// Integral floats up to this magnitude are exact in f64 and written as
/// integers (`1.0` → `1`, `1e2` → `100`).
const EXACT_INT: f64 = 9_007_199_254_740_992.0; // 2^53

/// Metadata JSON text → canonical bytes of a JSON object.
pub fn canonical_object(json: &str) -> KResult<Vec<u8>> {
    if deeper_than(json, MAX_DEPTH) {
        return Err(KernelError::InvalidArgument(format!(
            "metadata nesting is deeper than {MAX_DEPTH} levels"
        )));
    }
    let value: Value = serde_json::from_str(json)
        .map_err(|e| KernelError::InvalidArgument(format!("metadata is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(KernelError::InvalidArgument(format!(
            "metadata must be a JSON object, got {}",
            type_name(&value)
        )));
    }
    check_keys(json, Some(MAX_KEY_BYTES), "metadata")?;
    let mut out = Vec::with_capacity(json.len());
    write_value(&mut out, &value);
    if out.len() > MAX_PAYLOAD_BYTES {
        return Err(KernelError::PayloadTooLarge(format!(
            "metadata is {} bytes in canonical form, limit {MAX_PAYLOAD_BYTES}",
            out.len()
        )));
    }
    Ok(out)
}

/// Text → canonical JSON string bytes (quotes included).
pub fn canonical_text(text: &str) -> KResult<Vec<u8>> {
    // The bound is on what is stored (quotes and escapes included), the
    // same bound every metadata value has.
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(too_long(text.len()));
    }
    let mut out = Vec::with_capacity(text.len() + 2);
    write_string(&mut out, text);
    if out.len() > MAX_PAYLOAD_BYTES {
        return Err(too_long(out.len()));
    }
    Ok(out)
}

fn too_long(n: usize) -> KernelError {
    KernelError::PayloadTooLarge(format!(
        "text is {n} bytes as a JSON string, limit {MAX_PAYLOAD_BYTES}"
    ))
}

/// The text stored by [`canonical_text`]; `None` if `stored` is not a JSON
/// string.
pub fn text_of(stored: &[u8]) -> Option<String> {
    serde_json::from_slice::<String>(stored).ok()
}

pub(super) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            // Sorted here rather than trusting the map's order: a build that
            // unifies serde_json's `preserve_order` feature keeps insertion
            // order, which would change the bytes.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

fn write_number(out: &mut Vec<u8>, n: &Number) {
    // serde_json keeps an integer literal that fits u64/i64 exactly;
    // everything else (fractions, exponents, larger literals) arrives as f64.
    if let Some(u) = n.as_u64() {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64() {
        out.extend_from_slice(i.to_string().as_bytes());
    } else {
        write_f64(out, n.as_f64().unwrap_or(0.0));
    }
}

/// Integral values within ±2^53 as integers (so `-0.0` → `0`); every other
/// value as its shortest round-trip digits laid out the way ECMAScript's
/// Number-to-String does (`0.5`, `1.5e-7`, `1e+21`, `123456789012345680000`),
/// so JavaScript's `String(x)` of any finite number is already canonical.
pub(super) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if !v.is_finite() {
        // JSON has no such numbers and serde_json refuses them; never reached.
        out.extend_from_slice(b"null");
        return;
    }
    if v.trunc() == v && v.abs() <= EXACT_INT {
        out.extend_from_slice((v as i64).to_string().as_bytes());
        return;
    }
    // `{:e}` is Rust's shortest round-trip form: "-1.2345e-7", "1e20".
    let sci = format!("{:e}", v.abs());
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let mut digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let exp: i32 = exp.parse().unwrap_or(0);
    even_on_tie(v.abs(), &mut digits, exp);
    let k = digits.len() as i32;
    let n = exp + 1; // value = 0.digits × 10^n
    let mut s = String::new();
    if v < 0.0 {
        s.push('-');
    }
    if k <= n && n <= 21 {
        s.push_str(&digits);
        s.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        s.push_str(&digits[..n as usize]);
        s.push('.');
        s.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        s.push_str("0.");
        s.extend(std::iter::repeat_n('0', (-n) as usize));
        s.push_str(&digits);
    } else {
        s.push_str(&digits[..1]);
        if k > 1 {
            s.push('.');
            s.push_str(&digits[1..]);
        }
        s.push('e');
        s.push(if exp >= 0 { '+' } else { '-' });
        s.push_str(&exp.unsigned_abs().to_string());
    }
    out.extend_from_slice(s.as_bytes());
}

/// When `v` lies exactly halfway between two shortest digit strings, Rust
/// picks the upper one and ECMAScript the one with the even last digit
/// (`1180269597633158.25` → JS `…158.2`, Rust `…158.3`). Switch to the even
/// one; `digits` is Rust's choice, `exp` its scientific exponent.
fn even_on_tie(v: f64, digits: &mut String, exp: i32) {
    let last = digits.as_bytes()[digits.len() - 1] - b'0';
    if last.is_multiple_of(2) {
        return;
    }
    let with_last = |d: u8| {
        let mut s = digits[..digits.len() - 1].to_string();
        s.push(char::from(b'0' + d));
        s
    };
    // The other candidate is one unit below or above in the last digit; a
    // candidate ending in 0 would have been shorter, so 1 and 9 have one side.
    for other in [
        last.checked_sub(1).filter(|d| *d > 0),
        Some(last + 1).filter(|d| *d < 10),
    ]
    .into_iter()
    .flatten()
    {
        let other = with_last(other);
        let mid = format!("{}5", if other < *digits { &other } else { &*digits });
        if parses_to(&other, exp, v) && exactly(v, &mid, exp) {
            *digits = other;
            return;
        }
    }
}

fn parses_to(digits: &str, exp: i32, v: f64) -> bool {
    let (head, tail) = digits.split_at(1);
    let sci = if tail.is_empty() {
        format!("{head}e{exp}")
    } else {
        format!("{head}.{tail}e{exp}")
    };
    sci.parse::<f64>() == Ok(v)
}

/// Whether `v` equals `0.d1d2… × 10^(exp+1)` exactly. Rust's fixed-precision
/// formatting is exact; 40 digits rule out almost every value cheaply and
/// 800 (more than any f64's 767 significant digits) settle the rest.
fn exactly(v: f64, mid: &str, exp: i32) -> bool {
    [40usize, 800].into_iter().all(|precision| {
        let s = format!("{v:.precision$e}");
        let Some((m, e)) = s.split_once('e') else {
            return false;
        };
        let ds: String = m.chars().filter(|c| *c != '.').collect();
        e.parse::<i32>() == Ok(exp)
            && ds.starts_with(mid)
            && ds[mid.len()..].bytes().all(|b| b == b'0')
    })
}

pub(super) fn write_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for ch in s.chars() {
        match ch {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\u{08}' => out.extend_from_slice(b"\\b"),
            '\u{0c}' => out.extend_from_slice(b"\\f"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}
