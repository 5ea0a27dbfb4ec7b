//! Bounded-memory reading of frames from a log file.
//!
//! Replay of a million events must not load the file at once, so frames are
//! read through a window of [`WINDOW_BYTES`]; a frame larger than the window
//! gets its own buffer, sized from a length word that has already been
//! checked against [`MAX_ENTRY_BYTES`] and against the bytes left (R8).

use std::io;

use std::path::Path;

use super::format::{decode_frame, frame_size, Frame, FrameError, FRAME_HEAD_LEN};
use crate::storage::error::StorageError;
use crate::storage::vfs::{read_exact_at, VfsFile};

/// Read-ahead size for scans and readers.
pub(crate) const WINDOW_BYTES: usize = 1 << 20;

/// A read-through buffer over `[0, limit)` of a file.
pub(crate) struct Window {
    buf: Vec<u8>,
    start: u64,
    limit: u64,
    big: Vec<u8>,
}

impl Window {
    pub fn new(limit: u64) -> Self {
        Window {
            buf: Vec::new(),
            start: 0,
            limit,
            big: Vec::new(),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Bytes `[off, off + len)`. Fails with `UnexpectedEof` past the limit,
    /// so a length can never make it read (or allocate) beyond the file.
    pub fn get(&mut self, file: &dyn VfsFile, off: u64, len: usize) -> io::Result<&[u8]> {
        let end = off.checked_add(len as u64).filter(|&e| e <= self.limit);
        let Some(end) = end else {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read past the log end",
            ));
        };
        self.big = Vec::new();
        let buffered_end = self.start + self.buf.len() as u64;
        if off >= self.start && end <= buffered_end {
            let from = (off - self.start) as usize;
            return Ok(&self.buf[from..from + len]);
        }
        if len > WINDOW_BYTES {
            self.big = vec![0; len];
            read_exact_at(file, off, &mut self.big)?;
            return Ok(&self.big);
        }
        let want = (WINDOW_BYTES as u64).min(self.limit - off) as usize;
        self.buf.resize(want, 0);
        if let Err(e) = read_exact_at(file, off, &mut self.buf) {
            self.buf.clear();
            return Err(e);
        }
        self.start = off;
        Ok(&self.buf[..len])
    }

    /// Decodes the frame at `off` with `seed`. The outer error is I/O, the
    /// inner one says why the bytes are not a valid frame.
    pub fn frame_at(
        &mut self,
        file: &dyn VfsFile,
        off: u64,
        seed: u32,
    ) -> io::Result<Result<Frame<'_>, FrameError>> {
        let avail = self.limit.saturating_sub(off);
        let head_len = (FRAME_HEAD_LEN as u64).min(avail) as usize;
        let size = match frame_size(self.get(file, off, head_len)?) {
            Ok(size) if size as u64 <= avail => size,
            Ok(_) => return Ok(Err(FrameError::Truncated)),
            Err(e) => return Ok(Err(e)),
        };
        Ok(decode_frame(self.get(file, off, size)?, seed))
    }
}

/// Why walking committed frames stopped.
#[derive(Debug)]
pub(crate) enum WalkError {
    Io(io::Error),
    /// The frame at this offset is invalid or out of sequence.
    Corrupt(u64),
}

impl WalkError {
    pub fn into_storage(self, path: &Path) -> StorageError {
        match self {
            WalkError::Io(e) => StorageError::io("read", path, e),
            WalkError::Corrupt(offset) => StorageError::CorruptEntry {
                path: path.to_path_buf(),
                offset,
            },
        }
    }
}

/// Walks consecutive frames of the committed region, checking each CRC and
/// that sequence numbers count up by one.
pub(crate) struct FrameWalker {
    pub window: Window,
    pub offset: u64,
    pub next_seq: u64,
    seed: u32,
}

impl FrameWalker {
    /// Starts at the frame at `offset`, expected to carry `seq`, reading no
    /// further than `limit`; `seed` is the file's CRC seed (header CRC).
    pub fn new(offset: u64, seq: u64, limit: u64, seed: u32) -> Self {
        FrameWalker {
            window: Window::new(limit),
            offset,
            next_seq: seq,
            seed,
        }
    }

    /// The next frame, or `None` at the limit.
    pub fn next<'a>(&'a mut self, file: &dyn VfsFile) -> Result<Option<Frame<'a>>, WalkError> {
        if self.offset >= self.window.limit() {
            return Ok(None);
        }
        let at = self.offset;
        let frame = match self
            .window
            .frame_at(file, at, self.seed)
            .map_err(WalkError::Io)?
        {
            Ok(f) if f.seq == self.next_seq => f,
            _ => return Err(WalkError::Corrupt(at)),
        };
        self.offset += frame.encoded_len() as u64;
        self.next_seq += 1;
        Ok(Some(frame))
    }
}
