//! Where decompressed bytes go: the caller's destination (bounded by `max_dst_size`), or, with
//! output suppressed, a private sliding window that keeps the 4 KiB history and feeds the
//! checksums as it slides.
//!
//! The decoder's hot loop keeps the write position in a local variable: the free functions
//! [`push`] and [`copy_match`] take the buffer and the position, and only their cold paths
//! reach the rest of the state ([`Side`]) without taking the position's address.

use super::checksum::{xor16, CrcKind};
use super::tables::WINDOW;
use super::EngineError;

/// Size of the private window used when output is suppressed.
pub(crate) const SCRATCH: usize = 64 * 1024;
/// Bytes a fast match copy may write past the match's end (inside the buffer).
pub(crate) const COPY_SLACK: usize = 16;

/// The output: buffer, write position, and the state only slow paths touch.
pub(crate) struct Output<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) pos: usize,
    pub(crate) side: Side,
}

/// What the hot loop does not need: the slide count and running checksums.
pub(crate) struct Side {
    /// Bytes already checksummed and dropped from the front (suppressed output only).
    slid: usize,
    suppress: bool,
    kind: CrcKind,
    crc: u32,
    xor: u16,
}

/// The checksummed totals of a finished output.
pub(crate) struct Totals {
    pub size: usize,
    pub crc: u32,
    pub xor: u16,
}

impl<'a> Output<'a> {
    /// Output into the caller's destination.
    pub(crate) fn direct(out: &'a mut [u8], kind: CrcKind) -> Self {
        Output {
            buf: out,
            pos: 0,
            side: Side {
                slid: 0,
                suppress: false,
                kind,
                crc: 0,
                xor: 0,
            },
        }
    }

    /// A suppressed output over `scratch` (at least [`SCRATCH`] bytes).
    pub(crate) fn suppressed(scratch: &'a mut [u8], kind: CrcKind) -> Self {
        Output {
            buf: scratch,
            pos: 0,
            side: Side {
                slid: 0,
                suppress: true,
                kind,
                crc: 0,
                xor: 0,
            },
        }
    }

    /// Bytes produced so far.
    pub(crate) fn total(&self) -> usize {
        self.side.total(self.pos)
    }

    /// Appends `bytes` (a stored block).
    pub(crate) fn extend(&mut self, mut bytes: &[u8]) -> Result<(), EngineError> {
        while !bytes.is_empty() {
            if self.pos >= self.buf.len() {
                self.pos = self.side.make_room(self.buf, self.pos)?;
            }
            let n = bytes.len().min(self.buf.len() - self.pos);
            self.buf[self.pos..self.pos + n].copy_from_slice(&bytes[..n]);
            self.pos += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Checksums what is left and returns the totals.
    pub(crate) fn finish(self) -> Totals {
        let rest = &self.buf[..self.pos.min(self.buf.len())];
        Totals {
            size: self.side.total(self.pos),
            crc: self.side.kind.update(self.side.crc, rest),
            xor: self.side.xor ^ xor16(rest),
        }
    }
}

impl Side {
    /// Bytes produced, given the write position.
    #[inline(always)]
    pub(crate) fn total(&self, pos: usize) -> usize {
        self.slid + pos
    }

    /// The buffer is full: slide (suppressed output) and return the new position, or report
    /// the overflow.
    #[cold]
    #[inline(never)]
    pub(crate) fn make_room(&mut self, buf: &mut [u8], pos: usize) -> Result<usize, EngineError> {
        if !self.suppress || pos < WINDOW + 2 || pos > buf.len() {
            return Err(EngineError::OutputOverflow {
                produced: self.total(pos),
            });
        }
        // Keep the history; drop an even number of bytes so the XOR word pairing holds.
        let drop = (pos - WINDOW) & !1;
        let gone = &buf[..drop];
        self.crc = self.kind.update(self.crc, gone);
        self.xor ^= xor16(gone);
        buf.copy_within(drop..pos, 0);
        self.slid += drop;
        Ok(pos - drop)
    }

    #[cold]
    #[inline(never)]
    fn push_slow(&mut self, buf: &mut [u8], pos: usize, b: u8) -> Result<usize, EngineError> {
        let pos = self.make_room(buf, pos)?;
        match buf.get_mut(pos) {
            Some(slot) => {
                *slot = b;
                Ok(pos + 1)
            }
            None => Err(EngineError::OutputOverflow {
                produced: self.total(pos),
            }),
        }
    }

    /// Match copy near the end of the buffer: exact when the match fits, else byte by byte.
    #[cold]
    #[inline(never)]
    fn copy_match_slow(
        &mut self,
        buf: &mut [u8],
        mut pos: usize,
        dist: usize,
        len: usize,
    ) -> Result<usize, EngineError> {
        if let Some(w) = pos.checked_sub(dist).and_then(|src| buf.get_mut(src..pos + len)) {
            if dist >= len {
                w.copy_within(..len, dist);
            } else {
                for i in 0..len {
                    w[dist + i] = w[i];
                }
            }
            return Ok(pos + len);
        }
        for _ in 0..len {
            if pos >= buf.len() {
                pos = self.make_room(buf, pos)?;
            }
            match (
                pos.checked_sub(dist).and_then(|s| buf.get(s)).copied(),
                pos < buf.len(),
            ) {
                (Some(b), true) => buf[pos] = b,
                // Unreachable: the caller checked the distance against the history.
                _ => return Err(EngineError::analytics(idxd_hw::AnalyticsError::RefBeforeStart)),
            }
            pos += 1;
        }
        Ok(pos)
    }
}

/// Appends one byte at `*pos`.
#[inline(always)]
pub(crate) fn push(buf: &mut [u8], pos: &mut usize, side: &mut Side, b: u8) -> Result<(), EngineError> {
    match buf.get_mut(*pos) {
        Some(slot) => {
            *slot = b;
            *pos += 1;
        }
        None => *pos = side.push_slow(buf, *pos, b)?,
    }
    Ok(())
}

/// Appends `len` bytes copied from `dist` bytes back; the caller has checked that `dist` is
/// 1..=4096 and at most the bytes produced.
#[inline(always)]
pub(crate) fn copy_match(
    buf: &mut [u8],
    pos: &mut usize,
    side: &mut Side,
    dist: usize,
    len: usize,
) -> Result<(), EngineError> {
    let p = *pos;
    if dist > p || p + len + COPY_SLACK > buf.len() {
        *pos = side.copy_match_slow(buf, p, dist, len)?;
        return Ok(());
    }
    // The source start to the end of the slack: the copy below stays inside it.
    let w = &mut buf[p - dist..][..dist + len + COPY_SLACK];
    if dist >= COPY_SLACK {
        // Whole words at a time; every word reads bytes already written (dist >= its size).
        // May write up to COPY_SLACK - 1 bytes past the match, inside the buffer (overwritten
        // later or unused).
        copy_words::<COPY_SLACK>(w, dist, len);
    } else if dist >= 8 {
        copy_words::<8>(w, dist, len);
    } else if dist == 1 {
        let b = w[0];
        w[1..1 + len].fill(b);
    } else {
        for i in 0..len {
            w[dist + i] = w[i];
        }
    }
    *pos = p + len;
    Ok(())
}

/// Copies `len` (>= 1) bytes from the start of `w` to `dist` (>= N) bytes further, N bytes at a
/// time; `w` holds at least `dist + len + N - 1` bytes.
#[inline(always)]
fn copy_words<const N: usize>(w: &mut [u8], dist: usize, len: usize) {
    let mut i = 0;
    loop {
        let mut c = [0u8; N];
        c.copy_from_slice(&w[i..i + N]);
        w[i + dist..i + dist + N].copy_from_slice(&c);
        i += N;
        if i >= len {
            break;
        }
    }
}
