//! A 64-bit, LSB-first bit writer into a caller's slice that never writes past its end.

/// The output slice is full: the job's output does not fit in `max_dst_size`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Overflow;

/// How a bit stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Finished {
    /// Bytes written.
    pub size: usize,
    /// Valid bits in the last written byte, 0 when it is full (record `output_bits`).
    pub last_bits: u8,
    /// Bits left unwritten (no flush): value, LSB first.
    pub pending: u8,
    /// How many bits `pending` holds (0..=7).
    pub pending_bits: u8,
}

/// Writes bits LSB first (deflate order). Whole bytes go out as soon as 32 or more bits are
/// buffered; bytes past the current position may be used as scratch (always inside the
/// slice), so only `..size` of the output is meaningful.
pub(crate) struct BitWriter<'a> {
    out: &'a mut [u8],
    pos: usize,
    buf: u64,
    n: u32,
}

impl<'a> BitWriter<'a> {
    pub(crate) fn new(out: &'a mut [u8]) -> Self {
        BitWriter {
            out,
            pos: 0,
            buf: 0,
            n: 0,
        }
    }

    /// Appends the low `nbits` (<= 32) bits of `v`; `v` must have no bits above them.
    #[inline(always)]
    pub(crate) fn put(&mut self, v: u32, nbits: u32) -> Result<(), Overflow> {
        debug_assert!(nbits <= 32 && self.n < 32);
        self.buf |= (v as u64) << self.n;
        self.n += nbits;
        if self.n >= 32 {
            self.flush_bytes()
        } else {
            Ok(())
        }
    }

    /// Appends the low `nbits` bits of `v` without moving bytes out: the caller guarantees that
    /// the buffer does not exceed 64 bits (it holds fewer than 32 after [`Self::maybe_flush`]).
    #[inline(always)]
    pub(crate) fn add(&mut self, v: u32, nbits: u32) {
        debug_assert!(self.n + nbits <= 64);
        self.buf |= (v as u64) << self.n;
        self.n += nbits;
    }

    /// Moves whole bytes out once 32 or more bits are buffered; afterwards fewer than 32 are.
    #[inline(always)]
    pub(crate) fn maybe_flush(&mut self) -> Result<(), Overflow> {
        if self.n >= 32 {
            self.flush_bytes()
        } else {
            Ok(())
        }
    }

    /// Moves the whole bytes of the bit buffer to the output.
    #[inline(always)]
    fn flush_bytes(&mut self) -> Result<(), Overflow> {
        if let Some(dst) = self.out.get_mut(self.pos..self.pos + 8) {
            dst.copy_from_slice(&self.buf.to_le_bytes());
            let k = self.n >> 3;
            self.pos += k as usize;
            // k <= 7 because n < 64.
            self.buf >>= k * 8;
            self.n &= 7;
            Ok(())
        } else {
            self.flush_bytes_slow()
        }
    }

    #[cold]
    fn flush_bytes_slow(&mut self) -> Result<(), Overflow> {
        while self.n >= 8 {
            let slot = self.out.get_mut(self.pos).ok_or(Overflow)?;
            *slot = self.buf as u8;
            self.pos += 1;
            self.buf >>= 8;
            self.n -= 8;
        }
        Ok(())
    }

    /// Pads with zero bits to the next byte boundary.
    pub(crate) fn align_to_byte(&mut self) -> Result<(), Overflow> {
        let pad = (8 - (self.n & 7)) & 7;
        self.put(0, pad)
    }

    /// Total bits written so far.
    pub(crate) fn bit_len(&self) -> u64 {
        self.pos as u64 * 8 + self.n as u64
    }

    /// Ends the stream: with `flush`, the last partial byte is written zero-padded; without,
    /// only whole bytes are written and the rest is returned as pending bits.
    pub(crate) fn finish(mut self, flush: bool) -> Result<Finished, Overflow> {
        self.flush_bytes_slow()?;
        if flush && self.n > 0 {
            let slot = self.out.get_mut(self.pos).ok_or(Overflow)?;
            *slot = self.buf as u8;
            self.pos += 1;
            Ok(Finished {
                size: self.pos,
                last_bits: self.n as u8,
                pending: 0,
                pending_bits: 0,
            })
        } else {
            Ok(Finished {
                size: self.pos,
                last_bits: 0,
                pending: self.buf as u8,
                pending_bits: self.n as u8,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_lsb_first_and_flushes() {
        let mut out = [0u8; 16];
        let mut w = BitWriter::new(&mut out);
        w.put(0b1, 1).unwrap();
        w.put(0b01, 2).unwrap();
        w.put(0xABCD, 16).unwrap();
        w.put(0x1234_5678, 32).unwrap();
        assert_eq!(w.bit_len(), 51);
        let f = w.finish(true).unwrap();
        assert_eq!(f.size, 7);
        assert_eq!(f.last_bits, 3);
        let v = u64::from_le_bytes(out[..8].try_into().unwrap());
        assert_eq!(v & ((1 << 51) - 1), 0b011 | (0xABCD << 3) | (0x1234_5678 << 19));
    }

    #[test]
    fn pending_bits_without_flush() {
        let mut out = [0u8; 4];
        let mut w = BitWriter::new(&mut out);
        w.put(0x1ff, 9).unwrap();
        let f = w.finish(false).unwrap();
        assert_eq!((f.size, f.last_bits, f.pending, f.pending_bits), (1, 0, 1, 1));
        assert_eq!(out[0], 0xff);
    }

    #[test]
    fn overflow_is_exact_and_stays_inside() {
        for cap in 0..12 {
            let mut out = vec![0u8; cap];
            let mut w = BitWriter::new(&mut out);
            let mut r = Ok(());
            for _ in 0..10 {
                r = r.and_then(|_| w.put(0xA5, 8));
            }
            let r = r.and_then(|_| w.finish(true));
            assert_eq!(r.is_ok(), cap >= 10, "cap {cap}");
        }
        let mut out = [0u8; 2];
        let mut w = BitWriter::new(&mut out);
        w.put(0x3ff, 10).unwrap();
        assert!(w.finish(true).is_ok());
        let mut out = [0u8; 1];
        let mut w = BitWriter::new(&mut out);
        w.put(0x3ff, 10).unwrap();
        assert_eq!(w.finish(true), Err(Overflow));
    }
}
