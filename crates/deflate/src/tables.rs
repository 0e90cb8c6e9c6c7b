//! The constant tables of RFC 1951: length and distance symbol bases and extra bits, the
//! order of the code-length code lengths, and lookup tables from a match length or distance
//! to its symbol. Everything here is computed at compile time.

/// The history window of IAA 1.0/2.0: no distance may exceed this many bytes.
pub const WINDOW: usize = 4096;
/// The longest match deflate can express.
pub const MAX_MATCH: usize = 258;
/// The end-of-block symbol.
pub const EOB: usize = 256;

/// Base match length of length symbols 257..=285 (index = symbol - 257).
pub const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
    227, 258,
];
/// Extra bits of length symbols 257..=285.
pub const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Base distance of distance symbols 0..=29.
pub const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577,
];
/// Extra bits of distance symbols 0..=29.
pub const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
];
/// The order in which a dynamic header lists the code-length code lengths.
pub const CL_ORDER: [usize; 19] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// `LEN_SYM[len]` = length symbol index (symbol - 257) of a match of `len` bytes, 3..=258.
pub const LEN_SYM: [u8; MAX_MATCH + 1] = build_len_sym();
/// `DIST_SYM[d]` = distance symbol of distance `d`, 1..=4096 (the only distances the engine emits).
pub const DIST_SYM: [u8; WINDOW + 1] = build_dist_sym();

const fn build_len_sym() -> [u8; MAX_MATCH + 1] {
    let mut t = [0u8; MAX_MATCH + 1];
    let mut s = 0;
    while s < 28 {
        let base = LEN_BASE[s] as usize;
        let n = 1usize << LEN_EXTRA[s];
        let mut i = 0;
        while i < n && base + i <= MAX_MATCH {
            t[base + i] = s as u8;
            i += 1;
        }
        s += 1;
    }
    // 258 has its own zero-extra-bit symbol (285), which wins over 284 + 31.
    t[MAX_MATCH] = 28;
    t
}

const fn build_dist_sym() -> [u8; WINDOW + 1] {
    let mut t = [0u8; WINDOW + 1];
    let mut s = 0;
    while s < 24 {
        let base = DIST_BASE[s] as usize;
        let n = 1usize << DIST_EXTRA[s];
        let mut i = 0;
        while i < n && base + i <= WINDOW {
            t[base + i] = s as u8;
            i += 1;
        }
        s += 1;
    }
    t
}

/// Reverses the low `len` bits of `code` (deflate writes Huffman codes MSB first into an
/// LSB-first bit stream).
#[inline]
pub const fn reverse_bits(code: u32, len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        code.reverse_bits() >> (32 - len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_symbols_cover_every_length() {
        for (len, &sym) in LEN_SYM.iter().enumerate().skip(3) {
            let s = sym as usize;
            let base = LEN_BASE[s] as usize;
            assert!(len >= base && len - base < (1 << LEN_EXTRA[s]), "len {len}");
        }
        assert_eq!(LEN_SYM[258], 28);
        assert_eq!(LEN_SYM[257], 27);
        assert_eq!(LEN_SYM[3], 0);
    }

    #[test]
    fn distance_symbols_cover_the_window() {
        for (d, &sym) in DIST_SYM.iter().enumerate().skip(1) {
            let s = sym as usize;
            let base = DIST_BASE[s] as usize;
            assert!(d >= base && d - base < (1 << DIST_EXTRA[s]), "dist {d}");
        }
        assert_eq!(DIST_SYM[4096], 23);
        assert_eq!(DIST_SYM[1], 0);
    }

    #[test]
    fn reverse() {
        assert_eq!(reverse_bits(0b110, 3), 0b011);
        assert_eq!(reverse_bits(1, 1), 1);
        assert_eq!(reverse_bits(0b0000_0001, 8), 0b1000_0000);
        assert_eq!(reverse_bits(5, 0), 0);
    }
}
