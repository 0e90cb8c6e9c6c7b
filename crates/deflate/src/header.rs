//! The header of a dynamic-Huffman deflate block (RFC 1951 section 3.2.7), built in software
//! the way IAA 1.0 dynamic mode wants it: as bits for the AECS output accumulator.

use idxd_hw::aecs::{ACCUMULATOR_BITS, NUM_DIST_CODES, NUM_LL_CODES};

use super::bitwriter::BitWriter;
use super::huffman::limited_lengths;
use super::tables::{reverse_bits, CL_ORDER};

/// Longest code-length code (3-bit length fields).
const CL_LIMIT: u32 = 7;

/// A block header as a bit string, LSB first.
pub(crate) struct HeaderBits {
    /// The bits; only `..nbits.div_ceil(8)` is meaningful.
    pub bytes: Vec<u8>,
    /// Number of bits.
    pub nbits: u64,
}

impl HeaderBits {
    /// Whether the header fits in the 2048-bit AECS accumulator.
    pub(crate) fn fits_accumulator(&self) -> bool {
        self.nbits <= ACCUMULATOR_BITS as u64
    }
}

/// Run-length codes the sequence of code lengths `lens` with the code-length alphabet:
/// 0..=15 literally, 16 = repeat the previous length 3..=6 times (2 extra bits), 17 = 3..=10
/// zeros (3 extra bits), 18 = 11..=138 zeros (7 extra bits). Pushes `(symbol, extra value)`.
fn run_length(lens: &[u8], out: &mut Vec<(u8, u8)>) {
    let mut i = 0;
    while i < lens.len() {
        let l = lens[i];
        let mut run = 1;
        while i + run < lens.len() && lens[i + run] == l {
            run += 1;
        }
        let mut r = run;
        if l == 0 {
            while r >= 11 {
                let k = r.min(138);
                out.push((18, (k - 11) as u8));
                r -= k;
            }
            if r >= 3 {
                out.push((17, (r - 3) as u8));
                r = 0;
            }
        } else {
            out.push((l, 0));
            r -= 1;
            while r >= 3 {
                let k = r.min(6);
                out.push((16, (k - 3) as u8));
                r -= k;
            }
        }
        for _ in 0..r {
            out.push((l, 0));
        }
        i += run;
    }
}

/// Extra bits that follow a code-length symbol.
fn extra_bits(sym: u8) -> u32 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Encodes the header of a final dynamic block (BFINAL=1, BTYPE=10) for the given code lengths.
///
/// The literal/length and distance length sequences are run-length coded separately (no run
/// crosses from one into the other), which every inflater accepts.
pub(crate) fn dynamic_header(ll: &[u8; NUM_LL_CODES], dist: &[u8; NUM_DIST_CODES]) -> HeaderBits {
    let nlit = ll.iter().rposition(|&l| l != 0).map_or(257, |p| (p + 1).max(257));
    let ndist = dist.iter().rposition(|&l| l != 0).map_or(1, |p| p + 1);

    let mut syms = Vec::with_capacity(nlit + ndist);
    run_length(&ll[..nlit], &mut syms);
    run_length(&dist[..ndist], &mut syms);

    let mut cl_freq = [0u32; 19];
    for &(s, _) in &syms {
        cl_freq[s as usize] += 1;
    }
    let mut cl_len = [0u8; 19];
    limited_lengths(&cl_freq, CL_LIMIT, &mut cl_len);
    // A code with a single used symbol is completed with a second one-bit code.
    if cl_len.iter().filter(|&&l| l != 0).count() == 1 {
        let other = if cl_len[0] == 0 { 0 } else { 1 };
        cl_len[other] = 1;
    }
    let cl_codes = canonical(&cl_len);
    let hclen = CL_ORDER
        .iter()
        .rposition(|&s| cl_len[s] != 0)
        .map_or(4, |p| (p + 1).max(4));

    // 17 + 19 * 3 + 316 * (7 + 7) bits at the very most: 600 bytes is always enough.
    let mut bytes = vec![0u8; 640];
    let mut w = BitWriter::new(&mut bytes);
    let mut put = |v: u32, n: u32| {
        // Cannot overflow: see the bound above.
        let _ = w.put(v, n);
    };
    put(1, 1); // BFINAL
    put(2, 2); // BTYPE = 10, dynamic
    put((nlit - 257) as u32, 5);
    put((ndist - 1) as u32, 5);
    put((hclen - 4) as u32, 4);
    for &s in &CL_ORDER[..hclen] {
        put(cl_len[s] as u32, 3);
    }
    for &(s, extra) in &syms {
        let (code, n) = cl_codes[s as usize];
        put(code, n);
        let e = extra_bits(s);
        if e > 0 {
            put(extra as u32, e);
        }
    }
    let nbits = w.bit_len();
    let _ = w.finish(true);
    bytes.truncate((nbits as usize).div_ceil(8));
    HeaderBits { bytes, nbits }
}

/// Canonical codes, bit-reversed for writing, for up to 19 lengths of at most 7 bits.
fn canonical(lens: &[u8; 19]) -> [(u32, u32); 19] {
    let mut count = [0u32; 16];
    for &l in lens {
        count[l as usize] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 16];
    let mut code = 0;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    let mut out = [(0u32, 0u32); 19];
    for (s, &l) in lens.iter().enumerate() {
        if l != 0 {
            out[s] = (reverse_bits(next[l as usize], l as u32), l as u32);
            next[l as usize] += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(syms: &[(u8, u8)]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for &(s, e) in syms {
            match s {
                16 => {
                    let p = *out.last().unwrap();
                    out.extend(vec![p; 3 + e as usize]);
                }
                17 => out.extend(vec![0; 3 + e as usize]),
                18 => out.extend(vec![0; 11 + e as usize]),
                l => out.push(l),
            }
        }
        out
    }

    #[test]
    fn run_length_round_trips() {
        let cases: Vec<Vec<u8>> = vec![
            vec![0; 286],
            vec![8; 286],
            vec![0, 0, 5, 5, 5, 5, 5, 5, 5, 5, 0, 0, 0, 7],
            (0..286).map(|i| (i % 3) as u8).collect(),
            [vec![0u8; 139], vec![3; 7], vec![0; 140]].concat(),
        ];
        for c in cases {
            let mut s = Vec::new();
            run_length(&c, &mut s);
            assert_eq!(expand(&s), c);
            for &(sym, e) in &s {
                match sym {
                    16 => assert!(e <= 3),
                    17 => assert!(e <= 7),
                    18 => assert!(e <= 127),
                    _ => assert!(sym <= 15 && e == 0),
                }
            }
        }
    }

    #[test]
    fn fixed_lengths_header_is_small() {
        let mut ll = [0u8; NUM_LL_CODES];
        ll.copy_from_slice(&idxd_hw::aecs::fixed_ll_lengths()[..NUM_LL_CODES]);
        let dist = [5u8; NUM_DIST_CODES];
        let h = dynamic_header(&ll, &dist);
        assert!(h.fits_accumulator());
        assert_eq!(h.bytes[0] & 0b111, 0b101);
        assert!(h.nbits > 17 + 4 * 3 && h.nbits < 300, "{}", h.nbits);
    }
}
