//! A 64-bit, LSB-first bit reader over the compressed input.
//!
//! Past the end of the input it reads zero bits, counting them, so that the decoder's hot
//! loop never has to check for the end: whether any of those virtual bits were actually used
//! is asked afterwards ([`BitReader::past_end`]). A bounded number of virtual bytes may be
//! read; beyond that [`BitReader::refill`] fails, which ends every loop over a truncated input.

/// More virtual zero bytes than any single step of the decoder looks ahead.
const OVERRUN_LIMIT: u32 = 16;

/// The input ended inside a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Truncated;

/// Small and `Copy`: the decoder's hot loop works on a local copy kept in registers, and the
/// cold refill takes and returns it by value so its address never escapes.
#[derive(Clone, Copy)]
pub(crate) struct BitReader<'a> {
    input: &'a [u8],
    /// The input from the next byte to load (the hot loop needs only this slice).
    rest: &'a [u8],
    buf: u64,
    /// Valid bits in `buf`, 0..=63.
    bits: u32,
    /// Virtual zero bytes loaded past the end of the input.
    overrun: u32,
    /// Bits at the top of the last byte that are not part of the stream (ignore-end-bits).
    ignored: u32,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(input: &'a [u8]) -> Self {
        BitReader {
            input,
            rest: input,
            buf: 0,
            bits: 0,
            overrun: 0,
            ignored: 0,
        }
    }

    /// A reader whose stream ends `ignored` (0..=7) bits before the end of `input`. The caller
    /// passes an input whose ignored bits are zero, so reading them is like reading past the
    /// end.
    pub(crate) fn with_ignored_end_bits(input: &'a [u8], ignored: u32) -> Self {
        let mut r = Self::new(input);
        if !input.is_empty() {
            r.ignored = ignored.min(7);
        }
        r
    }

    /// The stream's length in bits.
    #[inline(always)]
    fn total_bits(&self) -> u64 {
        self.input.len() as u64 * 8 - self.ignored as u64
    }

    /// Tops the buffer up to at least 56 bits.
    #[inline(always)]
    pub(crate) fn refill(&mut self) -> Result<(), Truncated> {
        self.refill_lagged(0)
    }

    /// Refills exactly as [`BitReader::refill`] would have before the last `lag` bits were
    /// consumed (the same bytes loaded, the same bits left; at most 63 together), so a decoder
    /// that drops bits early keeps the input accounting of one that refills first.
    #[inline(always)]
    pub(crate) fn refill_lagged(&mut self, lag: u32) -> Result<(), Truncated> {
        if let Some(chunk) = self.rest.first_chunk::<8>() {
            let before = self.bits + lag;
            self.buf |= u64::from_le_bytes(*chunk) << self.bits;
            // At most 7 of the 8 bytes there are.
            self.rest = self
                .rest
                .get((63u32.wrapping_sub(before) >> 3) as usize & 7..)
                .unwrap_or_default();
            self.bits = (before | 56) - lag;
            Ok(())
        } else {
            *self = self.refill_slow(lag)?;
            Ok(())
        }
    }

    #[cold]
    #[inline(never)]
    fn refill_slow(mut self, lag: u32) -> Result<Self, Truncated> {
        while self.bits + lag <= 56 {
            let b = match self.rest.split_first() {
                Some((&b, rest)) => {
                    self.rest = rest;
                    b
                }
                None => {
                    self.overrun += 1;
                    if self.overrun > OVERRUN_LIMIT {
                        return Err(Truncated);
                    }
                    0
                }
            };
            self.buf |= (b as u64) << self.bits;
            self.bits += 8;
        }
        Ok(self)
    }

    /// The buffered bits, next bit in bit 0.
    #[inline(always)]
    pub(crate) fn peek(&self) -> u64 {
        self.buf
    }

    /// Drops `n` bits. The decoder never asks for more than are buffered (a refill leaves at
    /// least 56 and each step's demand is bounded; see the callers); should that ever be
    /// wrong, the count wraps and the stream decodes as garbage, it does not panic in a
    /// release build.
    #[inline(always)]
    pub(crate) fn consume(&mut self, n: u32) {
        debug_assert!(n <= self.bits);
        self.buf = self.buf.wrapping_shr(n);
        self.bits = self.bits.wrapping_sub(n);
    }

    /// Takes `n` (<= 32) bits as a number, first bit least significant. The caller has
    /// refilled enough.
    #[inline(always)]
    pub(crate) fn take(&mut self, n: u32) -> u32 {
        let v = (self.buf & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        v
    }

    /// Makes sure at least `n` (<= 56) bits are buffered.
    #[inline(always)]
    pub(crate) fn ensure(&mut self, n: u32) -> Result<(), Truncated> {
        if self.bits < n {
            self.refill()
        } else {
            Ok(())
        }
    }

    /// Refills, then takes `n` (<= 32) bits.
    #[inline]
    pub(crate) fn read(&mut self, n: u32) -> Result<u32, Truncated> {
        if self.bits < n {
            self.refill()?;
        }
        Ok(self.take(n))
    }

    /// Bits consumed from the start of the input, virtual bits included.
    pub(crate) fn consumed_bits(&self) -> u64 {
        let pos = self.input.len() - self.rest.len();
        (pos as u64 + self.overrun as u64) * 8 - self.bits as u64
    }

    /// Whether bits beyond the end of the input have been consumed.
    pub(crate) fn past_end(&self) -> bool {
        self.consumed_bits() > self.total_bits()
    }

    /// Bits in the buffer.
    #[inline(always)]
    pub(crate) fn buffered(&self) -> u32 {
        self.bits
    }

    /// Real input bits not consumed yet.
    pub(crate) fn bits_left(&self) -> u64 {
        self.total_bits().saturating_sub(self.consumed_bits())
    }

    /// Skips to the next byte boundary and returns the byte position there (which may lie
    /// past the end of the input). The buffer is emptied: the caller reads bytes directly and
    /// then calls [`BitReader::restart_at`].
    pub(crate) fn align_to_byte(&mut self) -> usize {
        let p = self.consumed_bits().div_ceil(8);
        self.buf = 0;
        self.bits = 0;
        self.overrun = 0;
        self.rest = &[];
        usize::try_from(p).unwrap_or(usize::MAX)
    }

    /// Continues reading at byte `pos` (<= input length) with an empty buffer.
    pub(crate) fn restart_at(&mut self, pos: usize) {
        self.rest = self.input.get(pos..).unwrap_or_default();
        self.buf = 0;
        self.bits = 0;
        self.overrun = 0;
    }

    /// The input.
    pub(crate) fn input(&self) -> &'a [u8] {
        self.input
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lsb_first_across_refills() {
        let data: Vec<u8> = (0..40u8).collect();
        let mut r = BitReader::new(&data);
        let mut got = Vec::new();
        for _ in 0..40 {
            let lo = r.read(4).unwrap();
            let hi = r.read(4).unwrap();
            got.push((hi << 4 | lo) as u8);
        }
        assert_eq!(got, data);
        assert!(!r.past_end());
        assert_eq!(r.bits_left(), 0);
        r.read(1).unwrap();
        assert!(r.past_end());
    }

    #[test]
    fn overrun_is_bounded() {
        let mut r = BitReader::new(&[0xff]);
        let mut n = 0;
        while r.read(8).is_ok() {
            n += 1;
            assert!(n < 100);
        }
        assert!(r.past_end());
    }

    #[test]
    fn lagged_refill_matches_refill_first() {
        // Dropping `lag` bits and then refilling as if they were still there leaves the reader
        // where refilling first and dropping them after does, near the end of the input too.
        let data: Vec<u8> = (0..40u32).map(|i| (i.wrapping_mul(37) ^ 0x5a) as u8).collect();
        for len in [0, 3, 9, 16, 40] {
            for skip in 0..60 {
                for lag in 0..6 {
                    let mut a = BitReader::new(&data[..len]);
                    let _ = a.refill();
                    // Leave at least the `lag` bits to drop buffered, as the decoder does.
                    a.consume(skip.min(a.buffered() - lag));
                    let mut b = a;
                    let ra = a.refill().map(|()| a.take(lag));
                    let v = b.take(lag);
                    let rb = b.refill_lagged(lag);
                    assert_eq!(ra.is_ok(), rb.is_ok(), "{len} {skip} {lag}");
                    if ra.is_ok() {
                        assert_eq!(ra, Ok(v));
                        assert_eq!(a.consumed_bits(), b.consumed_bits());
                        assert_eq!(a.buffered(), b.buffered());
                        assert_eq!(a.read(20), b.read(20));
                        assert_eq!(a.consumed_bits(), b.consumed_bits());
                    }
                }
            }
        }
    }

    #[test]
    fn byte_alignment() {
        let data = [0b1010_1010u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        let mut r = BitReader::new(&data);
        assert_eq!(r.read(3).unwrap(), 0b010);
        assert_eq!(r.align_to_byte(), 1);
        r.restart_at(1);
        assert_eq!(r.read(8).unwrap(), 1);
        assert_eq!(r.align_to_byte(), 2);
        r.restart_at(11);
        assert_eq!(r.align_to_byte(), 11);
    }
}
