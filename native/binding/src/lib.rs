//! Thin napi binding over the pure-Rust kernel: converts types, spawns tasks,
//! maps errors. No kernel logic lives here.

mod errors;
mod kernel;
mod search_task;
mod hash_task;
