//! Replication support: read committed events, wait for new commits, apply a
//! leader's events through the same commit path, and a state hash that says
//! at which height it was taken.

use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use tokio::sync::watch;
use valori_kernel::codec;
use valori_kernel::ops::Op;
use valori_kernel::KernelError;

use crate::errors::reject_with;
use crate::kernel::Kernel;

#[napi(object)]
pub struct LogEvent {
    /// Sequence number (the event's height).
    pub seq: f64,
    /// Encoded event (docs/EVENT_LOG_FORMAT.md, "Event payloads").
    pub payload: Buffer,
}

#[napi(object)]
pub struct StateProof {
    /// Height the hash was taken at.
    pub height: f64,
    /// BLAKE3 of the canonical state, lowercase hex.
    pub hash: String,
}

pub struct ReadTask {
    node: std::sync::Arc<valori_kernel::node::Node>,
    from: u64,
    max_events: usize,
    max_bytes: usize,
}

impl Task for ReadTask {
    type Output = valori_kernel::KResult<Vec<(u64, Vec<u8>)>>;
    type JsValue = Vec<LogEvent>;
    fn compute(&mut self) -> Result<Self::Output> {
        let (node, from, me, mb) = (self.node.clone(), self.from, self.max_events, self.max_bytes);
        Ok(std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || node.read_events(from, me, mb)))
            .unwrap_or_else(|_| Err(KernelError::Internal("read_events panicked".into()))))
    }
    fn resolve(&mut self, env: Env, out: Self::Output) -> Result<Self::JsValue> {
        match out {
            Ok(v) => Ok(v.into_iter().map(|(seq, p)| LogEvent { seq: seq as f64, payload: Buffer::from(p) }).collect()),
            Err(e) => Err(reject_with(&env, e)),
        }
    }
}

pub struct ProofTask {
    engine: std::sync::Arc<valori_kernel::engine::Engine>,
}

impl Task for ProofTask {
    type Output = (u64, String);
    type JsValue = StateProof;
    fn compute(&mut self) -> Result<Self::Output> {
        let engine = self.engine.clone();
        std::panic::catch_unwind(move || {
            let db = engine.read();
            (db.state.height(), codec::hex(&codec::state_hash(&db.state)))
        })
        .map_err(|_| Error::from_reason("state hash panicked"))
    }
    fn resolve(&mut self, _env: Env, out: Self::Output) -> Result<Self::JsValue> {
        Ok(StateProof { height: out.0 as f64, hash: out.1 })
    }
}

/// Publishes the committed height to waiters (long-polling replication streams).
pub fn height_channel(initial: u64) -> (watch::Sender<u64>, watch::Receiver<u64>) {
    watch::channel(initial)
}

#[napi]
impl Kernel {
    /// Committed events from `fromSeq` (inclusive), at most `maxEvents` and
    /// about `maxBytes` of payload. Rejects with code BOOTSTRAP_REQUIRED when
    /// `fromSeq` was trimmed away.
    #[napi(ts_return_type = "Promise<Array<LogEvent>>")]
    pub fn read_events(&self, from_seq: f64, max_events: u32, max_bytes: u32) -> AsyncTask<ReadTask> {
        AsyncTask::new(ReadTask {
            node: self.node.clone(),
            from: from_seq.max(0.0) as u64,
            max_events: max_events.max(1) as usize,
            max_bytes: max_bytes.max(1) as usize,
        })
    }

    /// Resolves with the committed height once it exceeds `height`, or with
    /// the current height after `timeoutMs`.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn wait_for_height<'e>(&self, env: &'e Env, height: f64, timeout_ms: u32) -> Result<PromiseRaw<'e, f64>> {
        let mut rx = self.heights.subscribe();
        let target = height.max(0.0) as u64;
        env.spawn_future(async move {
            let wait = async {
                loop {
                    if *rx.borrow_and_update() > target {
                        break;
                    }
                    if rx.changed().await.is_err() {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_millis(timeout_ms as u64), wait).await;
            let h = *rx.borrow();
            Ok(h as f64)
        })
    }

    /// Apply an event a leader committed at `seq`, through this node's own
    /// commit path (validated, logged, fsynced). Already-applied sequence
    /// numbers are skipped; a gap is rejected.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn apply_replicated<'e>(&self, env: &'e Env, seq: f64, payload: Buffer) -> Result<PromiseRaw<'e, ()>> {
        let op = Op::Replicated { seq: seq.max(0.0) as u64, payload: payload.to_vec() };
        // Queued here, on the JS thread (an unbounded channel: it never blocks), so calls reach
        // the committer in call order. Submitting from the spawned task instead let tokio's
        // worker threads reorder calls fired without awaiting, and the committer saw gaps.
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.engine.submit(op, Box::new(move |r| {
            let _ = tx.send(r);
        }));
        env.spawn_future_with_callback(
            async move {
                Ok(rx.await.unwrap_or_else(|_| Err(KernelError::Internal("committer dropped a request".into()))))
            },
            move |env, r| match r {
                Ok(_) => Ok(()),
                Err(e) => Err(reject_with(env, e)),
            },
        )
    }

    /// State hash together with the height it was taken at (one read lock).
    #[napi(ts_return_type = "Promise<StateProof>")]
    pub fn state_proof(&self) -> AsyncTask<ProofTask> {
        AsyncTask::new(ProofTask { engine: self.engine.clone() })
    }
}
