//! Thin napi binding over the pure-Rust kernel: converts types, spawns tasks,
//! maps errors. No kernel logic lives here.

mod durable_ops;
mod errors;
mod hash_task;
mod kernel;
mod open_task;
mod replication;
mod search_task;
