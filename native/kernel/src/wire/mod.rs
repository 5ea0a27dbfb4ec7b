//! Request and answer bytes of the hottest HTTP routes, handled on the
//! worker pool instead of the host's event loop (docs/api-reference.md,
//! "How a search request is handled").
//!
//! The host hands over a route's raw JSON body. When the body is an ordinary
//! request (every field present has the type and range the route's schema
//! allows, every value is one the search accepts) the answer is computed and
//! written here, byte for byte as the host would write it. Anything else —
//! a field out of range, an unknown field, an error of any kind — returns
//! `None`, and the host serves the request through its general path, which
//! words the error exactly as it always has. So the general path stays the
//! one definition of what a request means; this one is a faster way to the
//! same bytes for the requests that need no error message.

mod batch;
mod js;
mod search;
mod vector;

pub use batch::{parse_batch_json, BatchRoute, ParsedBatch};
pub use js::{js_number, js_string, js_value};
pub use search::{search_json, SearchRoute};
pub use vector::{parse_vector_json, ParsedVector, VectorRoute};

/// A body's `collection` member: `default` when absent, the name when it is
/// a string; anything else declines (`None`).
fn collection_of(member: Option<&serde_json::value::RawValue>) -> Option<String> {
    match member {
        None => Some("default".to_string()),
        Some(v) => serde_json::from_str(v.get()).ok(),
    }
}

/// A client component as a Float32Array stores it, when it passes the
/// host's range check at the collection's dimension (src/kernel/vectors.ts).
fn component(x: f64, max_abs: f64) -> Option<f32> {
    let stored = x as f32;
    (stored.is_finite() && f64::from(stored.abs()) <= max_abs).then_some(stored)
}
