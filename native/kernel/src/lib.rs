//! Valori kernel: the deterministic state machine behind valori-node.
//!
//! Pure Rust, no napi. Every mutation is an event ([`entry::StoreEvent`]:
//! an [`event::Event`] of one collection, or a collection created or
//! dropped); the state ([`store::Store`], every collection) is
//! `fold(apply, events)`. All comparisons that decide search order are
//! integer arithmetic over Q16.16 vectors, ties broken by id.

mod bytes;
mod check;
pub mod codec;
pub mod command;
mod committer;
pub mod database;
mod db;
mod db_filter;
pub mod durable;
pub mod engine;
pub mod entry;
pub mod error;
pub mod event;
pub mod fixed;
pub mod graph;
pub mod graph_query;
pub mod index;
pub(crate) mod journal;
pub mod log_sink;
pub mod ops;
pub mod payload;
pub mod records;
mod snapshot_io;
pub mod state;
mod state_apply;
pub mod storage;
pub mod store;
pub mod timeline;
pub mod wire;
pub mod write;

pub use database::Database;
pub use error::{KResult, KernelError};
pub use event::MAX_EVENT_BYTES;
