//! Structural checks serde_json does not make for us: a nesting limit far
//! below its own (128), and duplicate keys, which it silently collapses to
//! the last one. Both work on the JSON text so nothing is lost in parsing.

use std::collections::BTreeSet;

use crate::error::{KResult, KernelError};

/// Whether object/array nesting anywhere in `text` goes deeper than `limit`.
/// Runs before parsing so a deep document is refused with our message and
/// without recursion; brackets inside strings are skipped.
pub(super) fn deeper_than(text: &str, limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

enum Frame {
    Object {
        keys: BTreeSet<String>,
        expect_key: bool,
    },
    Array,
}

/// Refuses duplicate keys within one object and, when `max_key` is given,
/// keys longer than that many UTF-8 bytes. `text` must already have parsed
/// as JSON (the scanner relies on it being well formed). `what` names the
/// document in messages ("metadata", "filter").
pub(super) fn check_keys(text: &str, max_key: Option<usize>, what: &str) -> KResult<()> {
    let bytes = text.as_bytes();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let end = string_end(bytes, i);
                if let Some(Frame::Object { keys, expect_key }) = stack.last_mut() {
                    if *expect_key {
                        *expect_key = false;
                        let key: String = serde_json::from_str(&text[i..=end]).map_err(|e| {
                            KernelError::InvalidArgument(format!("{what} key does not decode: {e}"))
                        })?;
                        if let Some(max) = max_key {
                            if key.len() > max {
                                return Err(KernelError::InvalidArgument(format!(
                                    "{what} key of {} bytes is longer than {max} bytes: \"{}…\"",
                                    key.len(),
                                    prefix(&key, 32)
                                )));
                            }
                        }
                        if !keys.insert(key.clone()) {
                            return Err(KernelError::InvalidArgument(format!(
                                "duplicate key \"{key}\" in {what}"
                            )));
                        }
                    }
                }
                i = end;
            }
            b'{' => stack.push(Frame::Object {
                keys: BTreeSet::new(),
                expect_key: true,
            }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { expect_key, .. }) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// Index of the quote closing the string that opens at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' => j += 2,
            b'"' => return j,
            _ => j += 1,
        }
    }
    bytes.len() - 1
}

/// At most `max` bytes of `s`, cut on a character boundary.
pub(super) fn prefix(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The JSON type name used in messages.
pub(super) fn type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}
