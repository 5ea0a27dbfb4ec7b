//! The little-endian byte codec every format uses (events, state, index
//! blobs, event log and snapshot headers): a writer, a bounds-checked reader,
//! and fixed-offset reads for headers whose length was already checked.
//!
//! The reader checks every length against the bytes that remain before it
//! takes or allocates anything, so arbitrary input gives [`Short`], never a
//! panic or a huge allocation. Each format turns `Short` into its own error.

use crate::codec::Sink;
use crate::error::KernelError;

/// Appends little-endian values to a buffer; a spilling writer
/// ([`Writer::spilling`]) hands the buffer to a [`Sink`] whenever it holds
/// [`SPILL_BYTES`], so an encoding can stream to a file or a hasher without
/// ever being held whole.
#[derive(Default)]
pub(crate) struct Writer<'s> {
    pub buf: Vec<u8>,
    spill: Option<&'s mut dyn Sink>,
}

/// What a spilling [`Writer`] buffers before passing bytes on.
pub(crate) const SPILL_BYTES: usize = 1 << 20;

impl<'s> Writer<'s> {
    pub(crate) fn with_capacity(n: usize) -> Writer<'s> {
        Writer {
            buf: Vec::with_capacity(n),
            spill: None,
        }
    }
    /// A writer that passes its bytes on to `sink` (call [`Writer::flush`]
    /// at the end).
    pub(crate) fn spilling(sink: &'s mut dyn Sink) -> Writer<'s> {
        Writer {
            buf: Vec::with_capacity(SPILL_BYTES),
            spill: Some(sink),
        }
    }
    /// Passes what is buffered on to the sink, if spilling.
    pub(crate) fn flush(&mut self) {
        if let Some(s) = self.spill.as_deref_mut() {
            if !self.buf.is_empty() {
                s.put(&self.buf);
                self.buf.clear();
            }
        }
    }
    /// Makes room for `n` more bytes: spills first when they would not fit.
    fn room(&mut self, n: usize) {
        if self.spill.is_some() && self.buf.len() + n > SPILL_BYTES {
            self.flush();
        }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.room(1);
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Raw bytes, no length.
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.room(v.len());
        match self.spill.as_deref_mut() {
            // Larger than the buffer: straight through (it was flushed).
            Some(s) if v.len() > SPILL_BYTES => s.put(v),
            _ => self.buf.extend_from_slice(v),
        }
    }
    /// u32 length, then the bytes.
    pub(crate) fn len_bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.bytes(v);
    }
    /// u32 length, then the values.
    pub(crate) fn len_i32s(&mut self, v: &[i32]) {
        self.u32(v.len() as u32);
        self.i32s(v);
    }
    pub(crate) fn i32s(&mut self, v: &[i32]) {
        for x in v {
            self.bytes(&x.to_le_bytes());
        }
    }
    pub(crate) fn u32s(&mut self, v: &[u32]) {
        for x in v {
            self.u32(*x);
        }
    }
    pub(crate) fn u64s(&mut self, v: &[u64]) {
        for x in v {
            self.u64(*x);
        }
    }
}

/// A read past the end: `need` bytes at offset `at`, `left` remained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Short {
    pub need: usize,
    pub at: usize,
    pub left: usize,
}

impl From<Short> for KernelError {
    fn from(s: Short) -> KernelError {
        KernelError::Corrupt(format!(
            "truncated: need {} bytes at offset {}, {} left",
            s.need, s.at, s.left
        ))
    }
}

/// Bounds-checked little-endian cursor over a byte slice.
pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }
    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Short> {
        if n > self.remaining() {
            return Err(Short {
                need: n,
                at: self.pos,
                left: self.remaining(),
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Short> {
        Ok(self.take(N)?.try_into().expect("take returned N bytes"))
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Short> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Short> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Short> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Short> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// u32 length, then that many bytes.
    pub(crate) fn len_bytes(&mut self) -> Result<&'a [u8], Short> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    /// u32 length, then that many values.
    pub(crate) fn len_i32s(&mut self) -> Result<Vec<i32>, Short> {
        let n = self.u32()? as usize;
        self.i32s(n)
    }
    pub(crate) fn i32s(&mut self, n: usize) -> Result<Vec<i32>, Short> {
        let raw = self.take(n.saturating_mul(4))?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    /// Fills `out` without allocating (a decoder reusing one buffer).
    pub(crate) fn i32s_into(&mut self, out: &mut [i32]) -> Result<(), Short> {
        let raw = self.take(out.len().saturating_mul(4))?;
        for (x, c) in out.iter_mut().zip(raw.chunks_exact(4)) {
            *x = i32::from_le_bytes(c.try_into().expect("4 bytes"));
        }
        Ok(())
    }
    pub(crate) fn u32s(&mut self, n: usize) -> Result<Vec<u32>, Short> {
        let raw = self.take(n.saturating_mul(4))?;
        Ok(raw
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect())
    }
    pub(crate) fn u64s(&mut self, n: usize) -> Result<Vec<u64>, Short> {
        let raw = self.take(n.saturating_mul(8))?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect())
    }
}

/// The u16 at `at`; the caller checked `b` is long enough.
pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// The u32 at `at`; the caller checked `b` is long enough.
pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

/// The u64 at `at`; the caller checked `b` is long enough.
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_written_read_back_in_order_with_their_little_endian_bytes() {
        let mut w = Writer::default();
        w.u8(7);
        w.u16(0x0102);
        w.u32(0x0304_0506);
        w.u64(0x0708_090a_0b0c_0d0e);
        w.len_bytes(b"ab");
        w.len_i32s(&[-1, 2]);
        w.u32s(&[9]);
        w.u64s(&[10]);
        // The expected bytes are spelled out by hand, not produced by the writer.
        let expect: Vec<u8> = [
            &[7u8, 0x02, 0x01, 0x06, 0x05, 0x04, 0x03][..],
            &[0x0e, 0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07],
            &[2, 0, 0, 0, b'a', b'b'],
            &[2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0],
            &[9, 0, 0, 0],
            &[10, 0, 0, 0, 0, 0, 0, 0],
        ]
        .concat();
        assert_eq!(w.buf, expect);
        let mut r = Reader::new(&w.buf);
        assert_eq!(r.u8(), Ok(7));
        assert_eq!(r.u16(), Ok(0x0102));
        assert_eq!(r.u32(), Ok(0x0304_0506));
        assert_eq!(r.u64(), Ok(0x0708_090a_0b0c_0d0e));
        assert_eq!(r.len_bytes(), Ok(&b"ab"[..]));
        assert_eq!(r.len_i32s(), Ok(vec![-1, 2]));
        assert_eq!(r.u32s(1), Ok(vec![9]));
        assert_eq!(r.u64s(1), Ok(vec![10]));
        assert_eq!(r.remaining(), 0);
        assert_eq!(
            (u16_at(&expect, 1), u32_at(&expect, 3), u64_at(&expect, 7)),
            (0x0102, 0x0304_0506, 0x0708_090a_0b0c_0d0e)
        );
    }

    #[test]
    fn reads_past_the_end_fail_without_moving_or_allocating() {
        // A length prefix of u32::MAX over three bytes.
        let b = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
        let mut r = Reader::new(&b);
        assert_eq!(
            r.len_i32s(),
            Err(Short {
                need: u32::MAX as usize * 4,
                at: 4,
                left: 3
            })
        );
        assert_eq!(r.remaining(), 3);
        assert_eq!(
            r.u64(),
            Err(Short {
                need: 8,
                at: 4,
                left: 3
            })
        );
        assert_eq!(r.u16(), Ok(0x0201));
        let mut out = [0i32; 1];
        assert_eq!(
            r.i32s_into(&mut out),
            Err(Short {
                need: 4,
                at: 6,
                left: 1
            })
        );
    }
}
