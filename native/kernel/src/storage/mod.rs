//! Durable storage: event log, snapshot files, fault-injecting file layer.
