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
