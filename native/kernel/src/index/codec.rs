//! Index blobs through the kernel's one byte codec ([`crate::bytes`]): the
//! writer as is, the reader with every failure named for what was being read.

pub(crate) use crate::bytes::Writer;
use crate::bytes::{self, Short};

use super::IndexError;

pub(crate) struct Reader<'a>(bytes::Reader<'a>);

fn corrupt(what: &'static str) -> impl Fn(Short) -> IndexError {
    move |_| IndexError::Corrupt(what)
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Reader(bytes::Reader::new(data))
    }

    pub(crate) fn remaining(&self) -> usize {
        self.0.remaining()
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], IndexError> {
        self.0.take(n).map_err(corrupt(what))
    }
    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, IndexError> {
        self.0.u8().map_err(corrupt(what))
    }
    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, IndexError> {
        self.0.u16().map_err(corrupt(what))
    }
    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, IndexError> {
        self.0.u32().map_err(corrupt(what))
    }
    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, IndexError> {
        self.0.u64().map_err(corrupt(what))
    }

    /// A count that must fit what is left at `unit` bytes per element.
    pub(crate) fn len(&mut self, unit: usize, what: &'static str) -> Result<usize, IndexError> {
        let n = self.u32(what)? as usize;
        if n.checked_mul(unit.max(1))
            .is_none_or(|b| b > self.remaining())
        {
            return Err(IndexError::Corrupt(what));
        }
        Ok(n)
    }

    pub(crate) fn u32s(&mut self, n: usize, what: &'static str) -> Result<Vec<u32>, IndexError> {
        self.0.u32s(n).map_err(corrupt(what))
    }
    pub(crate) fn i32s(&mut self, n: usize, what: &'static str) -> Result<Vec<i32>, IndexError> {
        self.0.i32s(n).map_err(corrupt(what))
    }
    pub(crate) fn u64s(&mut self, n: usize, what: &'static str) -> Result<Vec<u64>, IndexError> {
        self.0.u64s(n).map_err(corrupt(what))
    }

    pub(crate) fn finish(&self) -> Result<(), IndexError> {
        if self.remaining() != 0 {
            return Err(IndexError::Corrupt("trailing bytes"));
        }
        Ok(())
    }
}
