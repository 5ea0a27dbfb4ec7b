//! Tests of the storage layer. Each file proves one thing; see the doc
//! comment at its top.

pub(crate) mod alloc_guard;
mod corruption;
mod fuzz;
mod helpers;
mod io_errors;
mod log_basic;
mod log_format;
mod power_loss;
mod power_loss_workload;
mod sim_vfs;
mod snapshot_store;
mod truncate;
