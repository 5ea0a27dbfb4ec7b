//! Little-endian writer and a distrustful reader for index blobs.
//!
//! The reader checks every length against the bytes that remain before it
//! allocates, so arbitrary input yields an error, never a panic or a huge
//! allocation.

use super::IndexError;

#[derive(Default)]
pub(crate) struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }
    pub(crate) fn u32s(&mut self, v: &[u32]) {
        self.buf.reserve(v.len() * 4);
        for x in v {
            self.u32(*x);
        }
    }
    pub(crate) fn i32s(&mut self, v: &[i32]) {
        self.buf.reserve(v.len() * 4);
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
    pub(crate) fn u64s(&mut self, v: &[u64]) {
        self.buf.reserve(v.len() * 8);
        for x in v {
            self.u64(*x);
        }
    }
}

pub(crate) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn corrupt(what: &'static str) -> IndexError {
    IndexError::Corrupt(what)
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], IndexError> {
        if n > self.remaining() {
            return Err(corrupt(what));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, IndexError> {
        Ok(self.take(1, what)?[0])
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, IndexError> {
        Ok(u16::from_le_bytes(self.take(2, what)?.try_into().unwrap()))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, IndexError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().unwrap()))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, IndexError> {
        Ok(u64::from_le_bytes(self.take(8, what)?.try_into().unwrap()))
    }

    /// A count that must fit what is left at `unit` bytes per element.
    pub(crate) fn len(&mut self, unit: usize, what: &'static str) -> Result<usize, IndexError> {
        let n = self.u32(what)? as usize;
        if n.checked_mul(unit.max(1))
            .is_none_or(|b| b > self.remaining())
        {
            return Err(corrupt(what));
        }
        Ok(n)
    }

    pub(crate) fn u32s(&mut self, n: usize, what: &'static str) -> Result<Vec<u32>, IndexError> {
        let b = self.take(n.checked_mul(4).ok_or(corrupt(what))?, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }
    pub(crate) fn i32s(&mut self, n: usize, what: &'static str) -> Result<Vec<i32>, IndexError> {
        let b = self.take(n.checked_mul(4).ok_or(corrupt(what))?, what)?;
        Ok(b.chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }
    pub(crate) fn u64s(&mut self, n: usize, what: &'static str) -> Result<Vec<u64>, IndexError> {
        let b = self.take(n.checked_mul(8).ok_or(corrupt(what))?, what)?;
        Ok(b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .collect())
    }

    pub(crate) fn finish(&self) -> Result<(), IndexError> {
        if self.remaining() != 0 {
            return Err(corrupt("trailing bytes"));
        }
        Ok(())
    }
}
