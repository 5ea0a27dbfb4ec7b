//! Thin napi binding over the kernel's `Database`: converts types, settles
//! promises, maps errors. No kernel logic, no locks, no vector conversion.
//! Every export goes through `call.rs` (one panic guard, one async style).

mod call;
pub mod cluster;
mod collections;
// Public only so `cargo test` builds (where napi registers nothing) do not
// call the free exports dead code.
pub mod errors;
mod kernel;
pub mod open;
mod persistence;
mod reads;
mod replication;
mod snapshot_stream;
mod types;
mod writes;
