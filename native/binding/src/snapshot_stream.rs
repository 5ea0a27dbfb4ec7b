//! A snapshot streamed in pieces (`GET /v1/snapshot/download`): the state
//! is frozen (copy-on-write) and measured on the pool, then a producer
//! thread encodes the file a MiB at a time into a channel of two pieces
//! that the reader drains; nothing holds the file whole. Closing the stream
//! (or dropping it) stops the producer at its next piece.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::*;
use napi_derive::napi;
use valori_kernel::durable::Captured;
use valori_kernel::{KResult, KernelError};

use crate::call::pooled;
use crate::kernel::Kernel;

/// Bytes per piece.
const PIECE: usize = 1 << 20;
/// Pieces encoded ahead of the reader.
const AHEAD: usize = 2;

type Piece = KResult<Vec<u8>>;

/// A snapshot file being produced; `next()` gives its pieces in order.
#[napi]
pub struct SnapshotStream {
    pieces: Arc<Mutex<Receiver<Piece>>>,
    closed: Arc<AtomicBool>,
    length: f64,
    height: f64,
}

fn produce(captured: Captured, tx: SyncSender<Piece>, closed: Arc<AtomicBool>) {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        captured.write_to(PIECE, &mut |b| {
            if closed.load(Ordering::Acquire) {
                return Err(std::io::Error::other("the download was closed"));
            }
            tx.send(Ok(b.to_vec()))
                .map_err(|_| std::io::Error::other("the reader is gone"))
        })
    }));
    let failed = match run {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e),
        Err(_) => Some(KernelError::Internal(
            "the kernel panicked while encoding a snapshot (a bug; the process keeps running)"
                .into(),
        )),
    };
    if let Some(e) = failed {
        if !closed.load(Ordering::Acquire) {
            let _ = tx.send(Err(e));
        }
    }
}

#[napi]
impl SnapshotStream {
    /// The file's length in bytes (known before the first piece).
    #[napi(getter)]
    pub fn length(&self) -> f64 {
        self.length
    }

    /// The event height the snapshot covers.
    #[napi(getter)]
    pub fn height(&self) -> f64 {
        self.height
    }

    /// The next piece (at most 1 MiB), or null after the last one.
    #[napi(ts_return_type = "Promise<Buffer | null>")]
    pub fn next<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, Option<Buffer>>> {
        let pieces = self.pieces.clone();
        pooled(
            env,
            "snapshotStream.next",
            move || {
                let rx = pieces.lock().unwrap_or_else(|p| p.into_inner());
                match rx.recv() {
                    Ok(piece) => piece.map(Some),
                    // The producer finished (or stopped after close): no more.
                    Err(_) => Ok(None),
                }
            },
            |p| p.map(Buffer::from),
        )
    }

    /// Stops producing: the producer stops at its next piece and releases
    /// the frozen state; a later `next()` gives what was already encoded,
    /// then null.
    #[napi]
    pub fn close(&self) {
        self.stop();
    }
}

impl SnapshotStream {
    fn stop(&self) {
        self.closed.store(true, Ordering::Release);
        // A producer waiting for room in a full channel gets it, sees the
        // flag at its next piece and ends. (A `next()` in progress holds the
        // receiver: it takes a piece itself, which also makes room.)
        if let Ok(rx) = self.pieces.try_lock() {
            while rx.try_recv().is_ok() {}
        }
    }
}

impl Drop for SnapshotStream {
    fn drop(&mut self) {
        self.stop();
    }
}

#[napi]
impl Kernel {
    /// The current durable state as a VAL1 file streamed in pieces.
    #[napi(ts_return_type = "Promise<SnapshotStream>")]
    pub fn snapshot_stream<'e>(&self, env: &'e Env) -> Result<PromiseRaw<'e, SnapshotStream>> {
        let db = self.db.clone();
        pooled(
            env,
            "snapshotStream",
            move || {
                let captured = db.freeze()?.capture()?;
                let (length, height) = (captured.encoded_len(), captured.meta.height);
                let (tx, rx) = sync_channel(AHEAD);
                let closed = Arc::new(AtomicBool::new(false));
                let flag = closed.clone();
                std::thread::Builder::new()
                    .name("valori-snapshot-stream".into())
                    .spawn(move || produce(captured, tx, flag))
                    .map_err(|e| KernelError::Io(format!("snapshot stream thread: {e}")))?;
                Ok(SnapshotStream {
                    pieces: Arc::new(Mutex::new(rx)),
                    closed,
                    length: length as f64,
                    height: height as f64,
                })
            },
            |s| s,
        )
    }
}
