//! Table-driven Huffman decoding: a direct lookup table indexed by the next `root` input bits,
//! with second-level tables for longer codes.
//!
//! An entry is a `u32`: bits 7:0 the number of input bits it accounts for, 11:8 extra bits
//! (or, for a [`Kind::Sub`] entry, the index width of the sub-table), 15:12 the kind, 31:16
//! the value (literal byte, length or distance base, code-length symbol, sub-table offset).
//!
//! The bits a length or distance entry accounts for include its extra bits: the decoder drops
//! code and extra bits with one shift and reads the extra bits from the bits it had before
//! (off the critical path of the next lookup). In a sub-table the count leaves out the `root`
//! bits of the direct table.

use std::sync::OnceLock;

use super::tables::{DIST_BASE, DIST_EXTRA, LEN_BASE, LEN_EXTRA};

/// What a table entry stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A literal byte (or a code-length symbol).
    Lit = 0,
    /// A match length: value = base, extra = extra bits.
    Len = 1,
    /// End of block.
    Eob = 2,
    /// Continue in the sub-table at `value`, indexed by `extra` more bits.
    Sub = 3,
    /// No code has this bit pattern (an incomplete code).
    BadCode = 4,
    /// A code for a symbol deflate does not define (literal/length 286, 287; distance 30, 31).
    BadSym = 5,
    /// A distance: value = base, extra = extra bits.
    Dist = 6,
}

/// Root bits of the literal/length table.
pub(crate) const LL_ROOT: u32 = 11;
/// Root bits of the distance table.
pub(crate) const DIST_ROOT: u32 = 8;
/// Root bits of the code-length table (its codes are at most 7 bits: no sub-tables).
pub(crate) const CL_ROOT: u32 = 7;
/// Capacity of a literal/length table: 2048 direct entries and the sub-tables of any
/// complete code. A sub-table of `2^b` entries (b <= 4) holds at least `b + 1` codes, so 286
/// codes never need more than 286 * 16 / 5 < 1024 sub-table entries. A table that would not
/// fit is refused, never overrun.
pub(crate) const LL_TABLE: usize = 3072;
/// Capacity of a distance table: 256 direct entries and at most 30 * 128 / 8 = 480 sub-table
/// entries (same argument as [`LL_TABLE`], b <= 7).
pub(crate) const DIST_TABLE: usize = 1024;
/// Capacity of the code-length table.
pub(crate) const CL_TABLE: usize = 128;

#[inline(always)]
pub(crate) const fn entry(kind: Kind, value: u32, extra: u32, nbits: u32) -> u32 {
    value << 16 | (kind as u32) << 12 | extra << 8 | nbits
}

#[inline(always)]
pub(crate) const fn e_bits(e: u32) -> u32 {
    e & 0xff
}

#[inline(always)]
pub(crate) const fn e_extra(e: u32) -> u32 {
    (e >> 8) & 0xf
}

#[inline(always)]
pub(crate) const fn e_kind(e: u32) -> u32 {
    (e >> 12) & 0xf
}

#[inline(always)]
pub(crate) const fn e_value(e: u32) -> u32 {
    e >> 16
}

/// Kind codes as integers, for matching in the hot loop.
pub(crate) const K_LIT: u32 = Kind::Lit as u32;
pub(crate) const K_LEN: u32 = Kind::Len as u32;
pub(crate) const K_EOB: u32 = Kind::Eob as u32;
pub(crate) const K_SUB: u32 = Kind::Sub as u32;
pub(crate) const K_BAD_SYM: u32 = Kind::BadSym as u32;
pub(crate) const K_DIST: u32 = Kind::Dist as u32;

/// Whether `e` is of kind `k` (one test of the kind field).
#[inline(always)]
pub(crate) const fn is_kind(e: u32, k: u32) -> bool {
    e & (0xf << 12) == k << 12
}

/// The extra bits of a length or distance entry `e`, read from `saved`, the input bits as they
/// were before the entry's `e_bits(e)` bits (code, then extra bits) were consumed.
#[inline(always)]
pub(crate) const fn extra_value(saved: u64, e: u32) -> u32 {
    let code_len = e_bits(e).wrapping_sub(e_extra(e));
    (saved.wrapping_shr(code_len) as u32) & ((1u32 << e_extra(e)) - 1)
}

/// The shape of a set of code lengths.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A complete prefix code.
    Complete,
    /// Exactly one code, of length 1 (RFC 1951 allows it; the other pattern is undefined).
    Single,
    /// No codes at all.
    Empty,
}

/// Why a set of code lengths cannot be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TreeError {
    /// More codes than the code space holds.
    OverSubscribed,
    /// Fewer codes than the code space holds (other than the single-code case).
    Incomplete,
}

/// What each literal/length symbol decodes to, as an entry without its bit count.
pub(crate) static LL_MEANING: [u32; 288] = {
    let mut t = [0u32; 288];
    let mut s = 0;
    while s < 288 {
        t[s] = match s {
            0..=255 => entry(Kind::Lit, s as u32, 0, 0),
            256 => entry(Kind::Eob, 0, 0, 0),
            257..=285 => entry(Kind::Len, LEN_BASE[s - 257] as u32, LEN_EXTRA[s - 257] as u32, 0),
            _ => entry(Kind::BadSym, 0, 0, 0),
        };
        s += 1;
    }
    t
};

/// What each distance symbol decodes to (30 and 31 are not defined).
pub(crate) static DIST_MEANING: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut s = 0;
    while s < 32 {
        t[s] = if s < 30 {
            entry(Kind::Dist, DIST_BASE[s] as u32, DIST_EXTRA[s] as u32, 0)
        } else {
            entry(Kind::BadSym, 0, 0, 0)
        };
        s += 1;
    }
    t
};

/// Code-length symbols decode to themselves.
pub(crate) static CL_MEANING: [u32; 19] = {
    let mut t = [0u32; 19];
    let mut s = 0;
    while s < 19 {
        t[s] = entry(Kind::Lit, s as u32, 0, 0);
        s += 1;
    }
    t
};

/// Slots of the counting sort in [`build`]: room for every symbol (at most 320), a power of
/// two so that a masked index needs no bounds check.
const SORT_SLOTS: usize = 512;

/// Builds the decoding table for `lengths` (each <= 15) into `table`, `root` bits direct.
///
/// Over-subscribed and incomplete codes are refused, except the single one-bit code; an
/// empty code gives a table of [`Kind::BadCode`] entries.
pub(crate) fn build(
    lengths: &[u8],
    root: u32,
    table: &mut [u32],
    meaning: &[u32],
) -> Result<Shape, TreeError> {
    // Histograms of the two halves of the symbols, each over two interleaved counters: runs
    // of equal lengths do not serialise on one counter, and the halves' counts let the sort
    // below run two independent chains.
    let n = lengths.len().min(320);
    let lengths = &lengths[..n];
    let half = n / 2;
    let mut part = [[0u32; 16]; 4];
    for (pa, pb) in lengths[..half].chunks(2).zip(lengths[half..].chunks(2)) {
        for (j, &l) in pa.iter().enumerate() {
            part[j][(l & 15) as usize] += 1;
        }
        for (j, &l) in pb.iter().enumerate() {
            part[2 + j][(l & 15) as usize] += 1;
        }
    }
    if n - half > half.div_ceil(2) * 2 {
        // The second half's odd element left over by the zip.
        for &l in &lengths[half + half.div_ceil(2) * 2..] {
            part[2][(l & 15) as usize] += 1;
        }
    }
    let mut count = [0u32; 16];
    for i in 1..16 {
        count[i] = part[0][i] + part[1][i] + part[2][i] + part[3][i];
    }
    let mut left: i64 = 1;
    for &c in &count[1..] {
        left = left * 2 - c as i64;
        if left < 0 {
            return Err(TreeError::OverSubscribed);
        }
    }
    let total: u32 = count.iter().sum();
    let root_size = 1usize << root;
    let Some(direct) = table.get_mut(..root_size) else {
        return Err(TreeError::OverSubscribed);
    };
    let shape = match (total, left) {
        (_, 0) => Shape::Complete,
        (0, _) => Shape::Empty,
        (1, _) if count[1] == 1 => Shape::Single,
        _ => return Err(TreeError::Incomplete),
    };
    // A complete code writes every direct entry; otherwise undefined patterns must decode
    // as such.
    if shape != Shape::Complete {
        direct.fill(entry(Kind::BadCode, 0, 0, root));
    }
    if shape == Shape::Empty {
        return Ok(shape);
    }

    // Symbols in canonical order (by length, then by symbol): a counting sort whose two
    // halves fill their own slots independently. Unused symbols (length 0) go last, so every
    // symbol is stored without a test.
    let mut offs_a = [0usize; 16];
    let mut offs_b = [0usize; 16];
    let mut start = 0usize;
    for l in (1..16).chain(0..1) {
        offs_a[l] = start;
        offs_b[l] = start + (part[0][l] + part[1][l]) as usize;
        start += (part[0][l] + part[1][l] + part[2][l] + part[3][l]) as usize;
    }
    let mut sorted = [0u16; SORT_SLOTS];
    for i in 0..n - half {
        if i < half {
            let la = (lengths[i] & 15) as usize;
            sorted[offs_a[la] & (SORT_SLOTS - 1)] = i as u16;
            offs_a[la] += 1;
        }
        let lb = (lengths[half + i] & 15) as usize;
        sorted[offs_b[lb] & (SORT_SLOTS - 1)] = (half + i) as u16;
        offs_b[lb] += 1;
    }
    let sorted = &sorted[..(total as usize).min(320)];
    let max_len = (1..16).rev().find(|&l| count[l] != 0).unwrap_or(0) as u32;

    // The direct table is filled at the size of the current code length (each code writes
    // its one slot) and doubled by copying as the length grows, which replicates every
    // shorter code into all the slots that start with it. Codes go a length at a time: the
    // codes of one length are consecutive, and so are their symbols in `sorted`.
    let grow = |table: &mut [u32], filled: &mut u32, to: u32| {
        while *filled < to {
            let half = 1usize << *filled;
            table.copy_within(0..half, half);
            *filled += 1;
        }
    };
    let bad_sym = entry(Kind::BadSym, 0, 0, 0);
    // Canonical code of the first code of the current length; codes placed so far.
    let mut code: u32 = 0;
    let mut done = 0usize;
    let mut filled = 0u32;
    for len in 1..=max_len.min(root) {
        let c = count[len as usize] as usize;
        if c != 0 {
            if filled == 0 {
                filled = len;
            }
            grow(&mut table[..root_size], &mut filled, len);
            let syms = sorted.get(done..done + c).unwrap_or_default();
            for (&sym, cd) in syms.iter().zip(code..) {
                let base = meaning.get(sym as usize).copied().unwrap_or(bad_sym);
                table[reverse15(cd, len)] = base | (len + e_extra(base));
            }
            done += c;
        }
        code = (code + c as u32) << 1;
    }
    // A complete or single-code code always has a code of at most `root` bits (fewer than
    // 2^root symbols), so the direct table has been started.
    if filled == 0 {
        filled = root;
    }
    grow(&mut table[..root_size], &mut filled, root);

    // Longer codes: a sub-table per `root`-bit prefix.
    let mut remaining = count;
    let mut next_free = root_size;
    let mut sub_prefix = usize::MAX;
    let mut sub_off = 0usize;
    let mut sub_bits = 0u32;
    for len in root + 1..=max_len {
        let c = count[len as usize] as usize;
        let syms = sorted.get(done..done + c).unwrap_or_default();
        for (&sym, cd) in syms.iter().zip(code..) {
            let base = meaning.get(sym as usize).copied().unwrap_or(bad_sym);
            let rev = reverse15(cd, len);
            let prefix = rev & (root_size - 1);
            if prefix != sub_prefix {
                // Size the sub-table to hold every remaining code with this prefix.
                let mut bits = len - root;
                let mut room: i64 = 1 << bits;
                while bits + root < max_len {
                    room -= remaining[(bits + root) as usize] as i64;
                    if room <= 0 {
                        break;
                    }
                    bits += 1;
                    room <<= 1;
                }
                let size = 1usize << bits;
                let Some(sub) = table.get_mut(next_free..next_free + size) else {
                    return Err(TreeError::OverSubscribed);
                };
                sub.fill(entry(Kind::BadCode, 0, 0, bits));
                table[prefix] = entry(Kind::Sub, next_free as u32, bits, root);
                sub_prefix = prefix;
                sub_off = next_free;
                sub_bits = bits;
                next_free += size;
            }
            remaining[len as usize] -= 1;
            let e = base | (len - root + e_extra(base));
            let mut i = rev >> root;
            while i < 1 << sub_bits {
                table[sub_off + i] = e;
                i += 1 << (len - root);
            }
        }
        done += c;
        code = (code + c as u32) << 1;
    }
    Ok(shape)
}

/// Bit reversal of every byte.
static REV8: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).reverse_bits();
        i += 1;
    }
    t
};

/// Reverses the low `len` (1..=15) bits of `code`.
#[inline(always)]
fn reverse15(code: u32, len: u32) -> usize {
    let r16 = (REV8[(code & 0xff) as usize] as u32) << 8 | REV8[((code >> 8) & 0xff) as usize] as u32;
    (r16 >> (16 - len)) as usize
}

/// The decoding tables of the fixed Huffman code, built once.
pub(crate) struct FixedTables {
    pub ll: [u32; LL_TABLE],
    pub dist: [u32; DIST_TABLE],
}

/// The fixed tables (RFC 1951 3.2.6), all 288 literal/length and 32 distance codes: the
/// codes for literal/length 286, 287 and distance 30, 31 decode as [`Kind::BadSym`].
pub(crate) fn fixed_tables() -> &'static FixedTables {
    static FIXED: OnceLock<Box<FixedTables>> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut t = Box::new(FixedTables {
            ll: [0; LL_TABLE],
            dist: [0; DIST_TABLE],
        });
        let ll = idxd_hw::aecs::fixed_ll_lengths();
        let dist = [5u8; 32];
        // Both codes are complete by construction.
        let _ = build(&ll, LL_ROOT, &mut t.ll, &LL_MEANING);
        let _ = build(&dist, DIST_ROOT, &mut t.dist, &DIST_MEANING);
        t
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes one symbol from `bits` (LSB first) with a table.
    fn decode(table: &[u32], root: u32, bits: u64) -> (u32, u32) {
        let e = table[(bits & ((1 << root) - 1)) as usize];
        if e_kind(e) == K_SUB {
            let s = table[(e_value(e) + ((bits >> root) & ((1 << e_extra(e)) - 1)) as u32) as usize];
            (s, root + e_bits(s))
        } else {
            (e, e_bits(e))
        }
    }

    #[test]
    fn shapes_and_errors() {
        let mut t = [0u32; LL_TABLE];
        assert_eq!(build(&[1, 1], LL_ROOT, &mut t, &LL_MEANING), Ok(Shape::Complete));
        assert_eq!(build(&[1, 0], LL_ROOT, &mut t, &LL_MEANING), Ok(Shape::Single));
        assert_eq!(build(&[0, 0], LL_ROOT, &mut t, &LL_MEANING), Ok(Shape::Empty));
        assert_eq!(
            build(&[1, 1, 1], LL_ROOT, &mut t, &LL_MEANING),
            Err(TreeError::OverSubscribed)
        );
        assert_eq!(
            build(&[2, 2, 2], LL_ROOT, &mut t, &LL_MEANING),
            Err(TreeError::Incomplete)
        );
        assert_eq!(
            build(&[2, 0], LL_ROOT, &mut t, &LL_MEANING),
            Err(TreeError::Incomplete)
        );
    }

    #[test]
    fn fixed_code_decodes() {
        let f = fixed_tables();
        // Literal 0 is 00110000 (8 bits), sent MSB first -> reversed in the LSB-first stream.
        let (e, n) = decode(&f.ll, LL_ROOT, 0b0000_1100);
        assert_eq!((e_kind(e), e_value(e), n), (K_LIT, 0, 8));
        // EOB is 0000000.
        let (e, n) = decode(&f.ll, LL_ROOT, 0);
        assert_eq!((e_kind(e), n), (K_EOB, 7));
        // 286 is 11000110 -> BadSym.
        let (e, _) = decode(&f.ll, LL_ROOT, 0b0110_0011);
        assert_eq!(e_kind(e), K_BAD_SYM);
        let (e, n) = decode(&f.dist, DIST_ROOT, 0b10000);
        assert_eq!((e_kind(e), e_value(e), n), (K_DIST, 2, 5));
        // Length 265 (base 11, one extra bit) is 0001001; its entry counts the extra bit too,
        // which is read from above the code.
        for extra in 0..2u64 {
            let bits = 0b100_1000 | extra << 7;
            let (e, n) = decode(&f.ll, LL_ROOT, bits);
            assert_eq!((e_kind(e), e_value(e), n), (K_LEN, 11, 8));
            assert_eq!(extra_value(bits, e), extra as u32);
        }
        // Distance 4 (base 5, one extra bit) is 00100, here followed by extra bit 1.
        let bits = 0b10_0100;
        let (e, n) = decode(&f.dist, DIST_ROOT, bits);
        assert_eq!((e_kind(e), e_value(e), n), (K_DIST, 5, 6));
        assert_eq!(extra_value(bits, e), 1);
    }

    #[test]
    fn long_codes_use_sub_tables() {
        // Lengths 1, 2, ..., 14, 15, 15: a complete code as deep as deflate allows.
        let mut lens: Vec<u8> = (1..=15).collect();
        lens.push(15);
        let mut t = [0u32; LL_TABLE];
        assert_eq!(build(&lens, LL_ROOT, &mut t, &LL_MEANING), Ok(Shape::Complete));
        let codes = idxd_hw::aecs::canonical_codes(&lens).unwrap();
        for (sym, c) in codes.iter().enumerate() {
            let bits = c.reversed() as u64;
            let (e, n) = decode(&t, LL_ROOT, bits);
            assert_eq!((e_value(e), n), (sym as u32, c.len as u32), "symbol {sym}");
        }
    }

    #[test]
    fn worst_case_fits() {
        // Many 15-bit codes: 256 literals at 9 bits leave room; fill the rest deep.
        let mut lens = vec![0u8; 288];
        // A complete code with the largest sub-table use: lengths 9 for 2^9 - k codes...
        // Simplest: 1 code of each length 1..=7, then the remaining 2^-7 filled with 15-bit codes
        // (256 of them) plus one 8-bit... keep it exact with Kraft: 1/2+..+1/128 = 127/128,
        // the last 1/128 = 256 codes of 15 bits.
        for (i, l) in (1..=7u8).enumerate() {
            lens[i] = l;
        }
        for l in lens.iter_mut().skip(7).take(256) {
            *l = 15;
        }
        let mut t = [0u32; LL_TABLE];
        assert_eq!(build(&lens, LL_ROOT, &mut t, &LL_MEANING), Ok(Shape::Complete));
    }
}
