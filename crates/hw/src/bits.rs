//! Bit-field helpers for register encode/decode.

/// Extracts bits `hi..=lo` of `v`.
pub(crate) const fn get(v: u64, hi: u32, lo: u32) -> u64 {
    let width = hi - lo + 1;
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    (v >> lo) & mask
}

/// Bit `n` of `v`.
pub(crate) const fn bit(v: u64, n: u32) -> bool {
    (v >> n) & 1 != 0
}

/// `value` placed in bits `hi..=lo` (excess high bits of `value` are dropped).
pub(crate) const fn put(value: u64, hi: u32, lo: u32) -> u64 {
    let width = hi - lo + 1;
    let mask = if width == 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    };
    (value & mask) << lo
}

/// Bit `n` set when `b`.
pub(crate) const fn flag(b: bool, n: u32) -> u64 {
    (b as u64) << n
}

/// Little-endian u16 at `o` (the caller guarantees `o + 2 <= b.len()`).
pub(crate) fn rd_u16(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes([b[o], b[o + 1]])
}

/// Little-endian u32 at `o`.
pub(crate) fn rd_u32(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// Little-endian u64 at `o`.
pub(crate) fn rd_u64(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes([
        b[o],
        b[o + 1],
        b[o + 2],
        b[o + 3],
        b[o + 4],
        b[o + 5],
        b[o + 6],
        b[o + 7],
    ])
}
