//! POST /search and POST /v1/search on the worker pool: parse the body,
//! check it against the route's schema, search, write the answer (see the
//! module doc in `wire`: `None` sends the request down the host's general
//! path).

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::Value;

use super::js::{js_number, js_string, js_value};
use crate::database::{Database, Hit, SearchRequest, With};
use crate::index::SearchParams;

/// The route a body came in on and the host's limits for it (the same
/// values its schema validator was compiled with).
#[derive(Debug, Clone)]
pub struct SearchRoute {
    /// /v1/search: also takes `consistency`, `rerank` and (null only) the
    /// fields it refuses.
    pub v1: bool,
    /// The only collection the caller's key may use; `None`: any.
    pub only_collection: Option<String>,
    pub max_k: u64,
    pub max_ef: u64,
    pub max_nprobe: u64,
    /// VALORI_MAX_RESPONSE_BYTES, for answers that carry payloads.
    pub max_response_bytes: u64,
    /// A follower refuses `consistency: "linearizable"`.
    pub refuse_linearizable: bool,
    /// The host's structure caps on a JSON body (src/http/body.ts): arrays
    /// plus objects, and array elements plus object members.
    pub max_containers: u64,
    pub max_elements: u64,
}

/// The host's MAX_JSON_DEPTH.
const MAX_DEPTH: u32 = 64;

/// Most hits an answer with payload fields may have (the host's
/// MAX_PAYLOAD_SEARCH_K).
const MAX_PAYLOAD_K: u64 = 1_000;
/// Tags are integers up to 2^53 - 1 on the wire.
const MAX_TAG: u64 = (1 << 53) - 1;
/// /v1/search fields that are refused unless null.
const REFUSED_UNLESS_NULL: [&str; 5] = [
    "as_of",
    "as_of_log_index",
    "decay_half_life_secs",
    "query_text",
    "graph_rerank",
];

struct Parsed {
    collection: String,
    query: Vec<f32>,
    k: usize,
    req: SearchRequest,
}

/// The answer bytes for `body`, or `None` for the general path.
pub fn search_json(db: &Database, body: &[u8], route: &SearchRoute) -> Option<Vec<u8>> {
    let p = parse(body, route)?;
    let hits = db.query(&p.collection, &p.query, p.k, &p.req).ok()?;
    answer(&hits, p.req.with, route.max_response_bytes)
}

fn is_null(v: &RawValue) -> bool {
    v.get() == "null"
}

/// A non-negative integer the schema's `type: integer` accepts, in `lo..=hi`.
fn int_in(v: &RawValue, lo: u64, hi: u64) -> Option<u64> {
    let n: u64 = serde_json::from_str(v.get()).ok()?;
    (lo..=hi).contains(&n).then_some(n)
}

/// Absent or null: `Some(None)`; an integer in range: `Some(Some(n))`.
fn optional_int(v: Option<&&RawValue>, lo: u64, hi: u64) -> Option<Option<u64>> {
    match v {
        None => Some(None),
        Some(v) if is_null(v) => Some(None),
        Some(v) => int_in(v, lo, hi).map(Some),
    }
}

fn optional_bool(v: Option<&&RawValue>) -> Option<bool> {
    match v {
        None => Some(false),
        Some(v) if is_null(v) => Some(false),
        Some(v) => serde_json::from_str(v.get()).ok(),
    }
}

/// The host's pre-scan (src/http/body.ts `scanJson`): false when the body
/// nests deeper than it allows or holds more containers or elements.
pub(super) fn within_structure_caps(body: &[u8], max_containers: u64, max_elements: u64) -> bool {
    let (mut depth, mut containers, mut elements) = (0u32, 0u64, 0u64);
    let mut in_string = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                containers += 1;
                elements += 1;
                if depth > MAX_DEPTH || containers > max_containers || elements > max_elements {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' => {
                elements += 1;
                if elements > max_elements {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

fn parse(body: &[u8], route: &SearchRoute) -> Option<Parsed> {
    if !within_structure_caps(body, route.max_containers, route.max_elements) {
        return None;
    }
    // Duplicate members: the last one counts, as in JSON.parse.
    let fields: BTreeMap<String, &RawValue> = serde_json::from_slice(body).ok()?;
    let known = |name: &str| {
        matches!(
            name,
            "query"
                | "k"
                | "collection"
                | "filter_tag"
                | "ef"
                | "nprobe"
                | "metadata_filter"
                | "include"
                | "with_metadata"
        ) || (route.v1
            && (matches!(name, "consistency" | "rerank") || REFUSED_UNLESS_NULL.contains(&name)))
    };
    if !fields.keys().all(|name| known(name)) {
        return None;
    }
    let query: Vec<f64> = serde_json::from_str(fields.get("query")?.get()).ok()?;
    let k = int_in(fields.get("k")?, 1, route.max_k)?;
    let collection = super::collection_of(fields.get("collection").copied())?;
    if route
        .only_collection
        .as_ref()
        .is_some_and(|only| *only != collection)
    {
        return None;
    }
    let tag = optional_int(fields.get("filter_tag"), 0, MAX_TAG)?;
    let ef = optional_int(fields.get("ef"), 1, route.max_ef)?;
    let nprobe = optional_int(fields.get("nprobe"), 1, route.max_nprobe)?;
    let filter = match fields.get("metadata_filter") {
        None => None,
        Some(v) if is_null(v) => None,
        Some(v) => {
            let value: Value = serde_json::from_str(v.get()).ok()?;
            let mut text = String::new();
            js_value(&value, &mut text);
            Some(text)
        }
    };
    let mut with = With {
        metadata: optional_bool(fields.get("with_metadata"))?,
        text: false,
        vector: false,
    };
    if let Some(v) = fields.get("include").filter(|v| !is_null(v)) {
        let names: Vec<String> = serde_json::from_str(v.get()).ok()?;
        if names.len() > 16 {
            return None;
        }
        for name in names {
            match name.as_str() {
                "metadata" => with.metadata = true,
                "text" => with.text = true,
                "vector" => with.vector = true,
                _ => return None,
            }
        }
    }
    if (with.metadata || with.text || with.vector) && k > MAX_PAYLOAD_K {
        return None;
    }
    if route.v1 {
        match fields.get("consistency").filter(|v| !is_null(v)) {
            None => {}
            Some(v) => match serde_json::from_str::<String>(v.get()).ok()?.as_str() {
                "local" => {}
                "linearizable" if !route.refuse_linearizable => {}
                _ => return None,
            },
        }
        optional_bool(fields.get("rerank"))?;
        if REFUSED_UNLESS_NULL
            .iter()
            .any(|name| fields.get(*name).is_some_and(|v| !is_null(v)))
        {
            return None;
        }
    }
    Some(Parsed {
        collection,
        // As a JavaScript Float32Array stores it: the nearest f32.
        query: query.iter().map(|&x| x as f32).collect(),
        k: k as usize,
        req: SearchRequest {
            params: SearchParams {
                ef: ef.map(|v| v as usize),
                nprobe: nprobe.map(|v| v as usize),
                rerank: None,
            },
            tag,
            filter,
            with,
        },
    })
}

/// `{"results":[{"id":…,"score":…}, …]}`, each hit with the payload fields
/// asked for; `None` when payloads would make it larger than `max_bytes`
/// (the general path answers 413).
fn answer(hits: &[Hit], with: With, max_bytes: u64) -> Option<Vec<u8>> {
    let mut out = String::with_capacity(16 + hits.len() * 40);
    out.push_str("{\"results\":[");
    let payloads = with.metadata || with.text || with.vector;
    for (i, h) in hits.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str("{\"id\":");
        out.push_str(&h.id.to_string());
        out.push_str(",\"score\":");
        js_number(h.score, &mut out);
        if with.metadata {
            out.push_str(",\"metadata\":");
            out.push_str(h.metadata.as_deref().unwrap_or("null"));
        }
        if with.text {
            out.push_str(",\"text\":");
            match &h.text {
                Some(t) => js_string(t, &mut out),
                None => out.push_str("null"),
            }
        }
        if with.vector {
            out.push_str(",\"vector\":[");
            for (j, x) in h.vector.as_deref().unwrap_or(&[]).iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                js_number(f64::from(*x), &mut out);
            }
            out.push(']');
        }
        out.push('}');
        // The host counts the same bytes: everything up to this hit plus "]}".
        if payloads && out.len() as u64 + 2 > max_bytes {
            return None;
        }
    }
    out.push_str("]}");
    Some(out.into_bytes())
}
