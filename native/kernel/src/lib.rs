//! Valori kernel: the deterministic state machine behind valori-node.
//!
//! Pure Rust, no napi. Every mutation is an [`event::Event`]; state is
//! `fold(apply, events)`. All comparisons that decide search order are
//! integer arithmetic over Q16.16 vectors, ties broken by id.

mod bytes;
mod check;
pub mod codec;
mod committer;
pub mod database;
pub mod durable;
pub mod engine;
pub mod error;
pub mod event;
pub mod fixed;
pub mod graph;
pub mod index;
pub(crate) mod journal;
pub mod log_sink;
pub mod ops;
pub mod records;
pub mod state;
pub mod storage;

pub use database::Database;
pub use error::{KResult, KernelError};
pub use event::MAX_EVENT_BYTES;
