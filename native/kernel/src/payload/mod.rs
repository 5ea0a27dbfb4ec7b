//! Record payloads: canonical JSON for metadata and text, the metadata filter
//! language, and the automatic payload index that answers filters with exact
//! id sets.
//!
//! Everything here is deterministic: objects are written with sorted keys,
//! numbers in one fixed layout, and the index keeps only ordered maps, so the
//! same records and the same filter give the same bytes and the same ids on
//! every node.

mod canon;
mod filter;
mod index;
mod scan;
#[cfg(test)]
mod tests;

pub use canon::{canonical_object, canonical_text, text_of};
pub use filter::Filter;
pub use index::PayloadIndex;

/// Largest canonical metadata object per record, in bytes; also the largest
/// record text (UTF-8 bytes).
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
/// Deepest object/array nesting accepted in metadata and in filters; the
/// outermost object is level 1.
pub const MAX_DEPTH: usize = 16;
/// Longest object key in metadata, in UTF-8 bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// Longest filter JSON text, in bytes.
pub const MAX_FILTER_BYTES: usize = 65_536;
/// Most leaf conditions plus `$in`/`$nin` items one filter may hold.
pub const MAX_FILTER_CLAUSES: usize = 1_024;
