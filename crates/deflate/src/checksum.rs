//! The checksums an IAA compress/decompress completion record carries: CRC32 (the gzip/IEEE
//! CRC, reflected polynomial 0xEDB88320) or CRC32C (RFC 3720, reflected polynomial 0x82F63B78)
//! of the uncompressed data, and a 16-bit XOR checksum.
//!
//! CRC32 goes through `crc32fast` (carry-less multiplication where the CPU has it, detected at
//! run time inside that crate, which safe code cannot do; its table-driven fallback elsewhere).
//! CRC32C, and the reference CRC32 the tests check `crc32fast` against, are the engine's own
//! table-driven code (slicing by 16, tables built at compile time).
//!
//! Chaining: a CRC value is always the *finished* CRC (pre- and post-inverted), and
//! [`CrcKind::update`] continues from such a value, so `update(update(0, a), b) ==
//! update(0, a ++ b)`. A fresh job starts from 0; the AECS's CRC field holds the running value
//! between chained compress jobs.

/// Which 32-bit CRC a record carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CrcKind {
    /// The gzip/IEEE 802.3 CRC-32 (descriptor flag bit 21 clear).
    #[default]
    Crc32,
    /// CRC-32C, Castagnoli, RFC 3720 (descriptor flag bit 21 set).
    Crc32c,
}

impl CrcKind {
    /// The kind selected by the descriptor's CRC32C flag.
    pub const fn from_crc32c_flag(crc32c: bool) -> Self {
        if crc32c {
            CrcKind::Crc32c
        } else {
            CrcKind::Crc32
        }
    }

    /// Continues the finished CRC `crc` (0 for a fresh start) over `data`.
    pub fn update(self, crc: u32, data: &[u8]) -> u32 {
        match self {
            CrcKind::Crc32 => {
                let mut h = crc32fast::Hasher::new_with_initial(crc);
                h.update(data);
                h.finalize()
            }
            CrcKind::Crc32c => self.update_table(crc, data),
        }
    }

    /// [`CrcKind::update`] by the engine's own tables (the reference for CRC32).
    pub(crate) fn update_table(self, crc: u32, data: &[u8]) -> u32 {
        // One call per table, so each inlined copy addresses its table from one base register.
        match self {
            CrcKind::Crc32 => two_way(&CRC32_TABLES, &CRC32_X2N, 0xEDB8_8320, crc, data),
            CrcKind::Crc32c => two_way(&CRC32C_TABLES, &CRC32C_X2N, 0x82F6_3B78, crc, data),
        }
    }

    /// The CRC of `data` alone.
    pub fn checksum(self, data: &[u8]) -> u32 {
        self.update(0, data)
    }
}

/// CRC-32 of `data` (continuing from the finished CRC `crc`; 0 for a fresh start).
pub fn crc32(crc: u32, data: &[u8]) -> u32 {
    CrcKind::Crc32.update(crc, data)
}

/// CRC-32C of `data` (continuing from the finished CRC `crc`; 0 for a fresh start).
pub fn crc32c(crc: u32, data: &[u8]) -> u32 {
    CrcKind::Crc32c.update(crc, data)
}

type Tables = [[u32; 256]; 16];

static CRC32_TABLES: Tables = build_tables(0xEDB8_8320);
static CRC32C_TABLES: Tables = build_tables(0x82F6_3B78);

const fn build_tables(poly: u32) -> Tables {
    let mut t = [[0u32; 256]; 16];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut s = 1;
    while s < 16 {
        let mut i = 0;
        while i < 256 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            i += 1;
        }
        s += 1;
    }
    t
}

#[inline]
fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// Below this length one stream is as fast as two.
const TWO_WAY_MIN: usize = 512;

/// Finished-CRC update over `data`. Long inputs are split in two halves whose CRCs run
/// interleaved (two independent dependency chains) and are then combined: for finished CRCs,
/// `crc(a ++ b) = crc(a) * x^(8 |b|) mod P  ^  crc(b)` (zlib's `crc32_combine`).
#[inline(always)]
fn two_way(t: &Tables, x2n: &[u32; 32], poly: u32, crc: u32, data: &[u8]) -> u32 {
    if data.len() < TWO_WAY_MIN {
        return !slice16(t, !crc, data);
    }
    let half = (data.len() / 2) & !15;
    let (a, b) = data.split_at(half);
    let (mut ra, mut rb) = (!crc, !0u32);
    for (ca, cb) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
        ra = step16(t, ra, ca);
        rb = step16(t, rb, cb);
    }
    let rb = slice16(t, rb, &b[half..]);
    multmodp(poly, x8nmodp(x2n, poly, b.len() as u64), !ra) ^ !rb
}

/// `a * b mod P` over GF(2), reflected bit order (x^0 in bit 31).
const fn multmodp(poly: u32, a: u32, mut b: u32) -> u32 {
    let mut m = 1u32 << 31;
    let mut p = 0u32;
    loop {
        if a & m != 0 {
            p ^= b;
            if a & (m - 1) == 0 {
                break;
            }
        }
        m >>= 1;
        if m == 0 {
            break;
        }
        b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
    }
    p
}

/// `x^(2^k) mod P` for k = 0..32.
const fn x2n_table(poly: u32) -> [u32; 32] {
    let mut t = [0u32; 32];
    let mut p = 1u32 << 30; // x^1
    t[0] = p;
    let mut k = 1;
    while k < 32 {
        p = multmodp(poly, p, p);
        t[k] = p;
        k += 1;
    }
    t
}

static CRC32_X2N: [u32; 32] = x2n_table(0xEDB8_8320);
static CRC32C_X2N: [u32; 32] = x2n_table(0x82F6_3B78);

/// `x^(8 n) mod P`: the operator that moves a CRC over `n` zero bytes.
fn x8nmodp(x2n: &[u32; 32], poly: u32, mut n: u64) -> u32 {
    let mut p = 1u32 << 31; // x^0
    let mut k = 3;
    while n != 0 {
        if n & 1 != 0 {
            p = multmodp(poly, x2n[k & 31], p);
        }
        n >>= 1;
        k += 1;
    }
    p
}

/// One 16-byte step of the raw reflected register update.
#[inline(always)]
fn step16(t: &Tables, crc: u32, c: &[u8]) -> u32 {
    let a = le32(&c[0..4]) ^ crc;
    let b = le32(&c[4..8]);
    let d = le32(&c[8..12]);
    let e = le32(&c[12..16]);
    let byte = |w: u32, k: u32| ((w >> (8 * k)) & 0xff) as usize;
    // The words after the first do not depend on the running CRC: combine them apart so that
    // only four lookups and a short XOR tree sit on the loop-carried path.
    let rest = ((t[11][byte(b, 0)] ^ t[10][byte(b, 1)]) ^ (t[9][byte(b, 2)] ^ t[8][byte(b, 3)]))
        ^ ((t[7][byte(d, 0)] ^ t[6][byte(d, 1)]) ^ (t[5][byte(d, 2)] ^ t[4][byte(d, 3)]))
        ^ ((t[3][byte(e, 0)] ^ t[2][byte(e, 1)]) ^ (t[1][byte(e, 2)] ^ t[0][byte(e, 3)]));
    ((t[15][byte(a, 0)] ^ t[14][byte(a, 1)]) ^ (t[13][byte(a, 2)] ^ t[12][byte(a, 3)])) ^ rest
}

/// The raw (not inverted) reflected CRC register update.
#[inline(always)]
fn slice16(t: &Tables, mut crc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        crc = step16(t, crc, c);
    }
    for &byte in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ byte as u32) & 0xff) as usize];
    }
    crc
}

/// The IAA XOR checksum: the XOR of `data` taken as little-endian 16-bit words
/// (`data\[0\] | data\[1\] << 8`, `data\[2\] | data\[3\] << 8`, ...); an odd last byte is
/// zero-padded, i.e. it is XORed into the low byte. The checksum of an empty input is 0.
///
/// Chaining over several pieces (`xor16(a) ^ xor16(b) == xor16(a ++ b)`) holds when `a` has an
/// even length.
pub fn xor16(data: &[u8]) -> u16 {
    let mut acc = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        acc ^= u64::from_le_bytes(a);
    }
    let mut x = (acc ^ (acc >> 32)) as u32;
    x ^= x >> 16;
    let mut r = x as u16;
    let mut pairs = chunks.remainder().chunks_exact(2);
    for p in &mut pairs {
        r ^= u16::from_le_bytes([p[0], p[1]]);
    }
    if let [last] = pairs.remainder() {
        r ^= *last as u16;
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bitwise(poly: u32, data: &[u8]) -> u32 {
        let mut c = !0u32;
        for &b in data {
            c ^= b as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 { (c >> 1) ^ poly } else { c >> 1 };
            }
        }
        !c
    }

    #[test]
    fn check_values() {
        assert_eq!(crc32(0, b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32(0, b""), 0);
    }

    #[test]
    fn matches_bitwise_and_crc32fast_and_chains() {
        let data: Vec<u8> = (0..1000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for n in [0, 1, 7, 15, 16, 17, 33, 511, 512, 513, 527, 528, 999, 1000] {
            let d = &data[..n];
            assert_eq!(crc32(0, d), bitwise(0xEDB8_8320, d));
            assert_eq!(CrcKind::Crc32.update_table(0, d), bitwise(0xEDB8_8320, d));
            assert_eq!(CrcKind::Crc32c.update_table(0, d), crc32c(0, d));
            assert_eq!(crc32c(0, d), bitwise(0x82F6_3B78, d));
            for split in [0, n / 3, n] {
                assert_eq!(crc32(crc32(0, &d[..split]), &d[split..]), crc32(0, d));
                assert_eq!(crc32c(crc32c(0, &d[..split]), &d[split..]), crc32c(0, d));
                let t = CrcKind::Crc32.update_table(0, &d[..split]);
                assert_eq!(crc32(t, &d[split..]), crc32(0, d));
                assert_eq!(
                    CrcKind::Crc32.update_table(crc32(0, &d[..split]), &d[split..]),
                    crc32(0, d)
                );
            }
        }
    }

    #[test]
    fn xor_checksum() {
        assert_eq!(xor16(&[]), 0);
        assert_eq!(xor16(&[0x12]), 0x0012);
        assert_eq!(xor16(&[0x12, 0x34]), 0x3412);
        assert_eq!(xor16(&[0x12, 0x34, 0x01]), 0x3413);
        let data: Vec<u8> = (0..1001u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in 0..data.len() {
            let d = &data[..n];
            let mut r = 0u16;
            for (i, &b) in d.iter().enumerate() {
                r ^= if i % 2 == 0 { b as u16 } else { (b as u16) << 8 };
            }
            assert_eq!(xor16(d), r, "n = {n}");
        }
    }
}
