//! Fixed-layout reading and writing over byte slices, without a heap.

use crate::error::DecodeError;

/// Writes fields one after another into a fixed buffer. The layouts are constants, so a
/// write past the end is a bug in this crate, caught by the tests.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer { buf, at: 0 }
    }

    pub fn bytes(&mut self, bytes: &[u8]) -> &mut Self {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
        self
    }

    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes(&[v])
    }

    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.bytes(&v.to_be_bytes())
    }

    /// How many bytes were written.
    pub fn len(&self) -> usize {
        self.at
    }
}

/// Reads fields one after another from a message that must be exactly `len` bytes long.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Checks the length, the version and the kind byte of a message.
    pub fn open(
        buf: &'a [u8],
        len: usize,
        kind: u8,
        what: &'static str,
    ) -> Result<Self, DecodeError> {
        if buf.len() < len {
            return Err(DecodeError::Truncated {
                what,
                need: len,
                got: buf.len(),
            });
        }
        if buf.len() > len {
            return Err(DecodeError::TrailingBytes {
                what,
                len,
                got: buf.len(),
            });
        }
        if buf[0] != crate::VERSION {
            return Err(DecodeError::UnknownVersion { what, got: buf[0] });
        }
        if buf[1] != kind {
            return Err(DecodeError::WrongKind {
                what,
                expected: kind,
                got: buf[1],
            });
        }
        Ok(Reader { buf, at: 2 })
    }

    pub fn array<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        // In bounds: `open` checked the whole length, and the layouts are constants.
        out.copy_from_slice(&self.buf[self.at..self.at + N]);
        self.at += N;
        out
    }

    pub fn u8(&mut self) -> u8 {
        self.array::<1>()[0]
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }

    pub fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.array())
    }

    pub fn i64(&mut self) -> i64 {
        i64::from_be_bytes(self.array())
    }
}
