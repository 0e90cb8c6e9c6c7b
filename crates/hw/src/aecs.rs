//! The IAA compress AECS (analytics engine configuration and state, 1568 bytes) and the
//! Huffman-code helpers that fill it.
//!
//! Layout (little-endian): u32 CRC, u32 XOR checksum, 5 reserved u32, u32 number of valid bits
//! in the output accumulator, 256-byte output accumulator, 286 u32 literal/length codes,
//! 2 reserved u32, 30 u32 distance codes, 2 reserved u32. Each code entry is
//! `(length << 15) | code`, with `code` in the canonical (not bit-reversed) form RFC 1951
//! assigns; the engine reverses it when it writes the stream.
//!
//! Statistics mode does not touch the AECS: it writes a [`Histogram`] (1280 bytes, the same
//! shape as the AECS code tables) to the job's destination (QPL `hw_iaa_histogram`,
//! `hw_iaa_descriptor_init_statistic_collector`; docs/hardware.md, "Compress and the AECS").
//!
//! The accumulator holds bits that the engine emits before the job's own output, least
//! significant bit first (deflate bit order): software places a block header there.

use crate::HwError;

/// Size of the compress AECS in bytes.
pub const COMPRESS_AECS_SIZE: usize = 1568;
/// Size of the statistics-mode histogram that a compress job writes to its destination: 286
/// literal/length counts, 2 reserved u32, 30 distance counts, 2 reserved u32 (QPL
/// `hw_iaa_histogram`).
pub const HISTOGRAM_SIZE: usize = 1280;
/// Required alignment of an AECS in device memory.
pub const AECS_ALIGN: u64 = 32;
/// Number of literal/length symbols with a code entry.
pub const NUM_LL_CODES: usize = 286;
/// Number of distance symbols with a code entry.
pub const NUM_DIST_CODES: usize = 30;
/// Capacity of the output accumulator in bits.
pub const ACCUMULATOR_BITS: u32 = 256 * 8;
/// Longest Huffman code deflate allows.
pub const MAX_CODE_LEN: u8 = 15;

/// Byte offsets of the AECS fields.
pub mod off {
    /// u32 CRC.
    pub const CRC: usize = 0;
    /// u32 XOR checksum.
    pub const XOR: usize = 4;
    /// u32 number of valid accumulator bits.
    pub const NUM_ACC_BITS: usize = 28;
    /// 256-byte output accumulator.
    pub const ACCUMULATOR: usize = 32;
    /// 286 u32 literal/length code entries.
    pub const LL_CODES: usize = 288;
    /// 30 u32 distance code entries.
    pub const DIST_CODES: usize = 1440;
}

/// One Huffman code: `len` bits (0 = symbol unused), value `code` in canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct HuffCode {
    /// The code, most significant bit first as RFC 1951 assigns it.
    pub code: u16,
    /// The code length in bits, 0..=15.
    pub len: u8,
}

impl HuffCode {
    /// The AECS entry `(len << 15) | code`.
    pub const fn to_entry(self) -> u32 {
        ((self.len as u32) << 15) | self.code as u32
    }

    /// Decodes an AECS entry. Lengths above 15 and codes wider than their length are refused.
    pub fn from_entry(entry: u32) -> Result<Self, HwError> {
        let len = entry >> 15;
        let code = entry & 0x7fff;
        if len > MAX_CODE_LEN as u32 || (len < 15 && code >> len != 0) || entry >> 19 != 0 {
            return Err(HwError::InvalidField {
                field: "AECS code entry",
                value: entry as u64,
            });
        }
        Ok(HuffCode {
            code: code as u16,
            len: len as u8,
        })
    }

    /// The code bit-reversed over its length: the order in which deflate writes it, LSB first.
    pub const fn reversed(self) -> u16 {
        if self.len == 0 {
            return 0;
        }
        self.code.reverse_bits() >> (16 - self.len as u32)
    }
}

/// Assigns canonical codes to code lengths (RFC 1951 section 3.2.2).
///
/// Errors when a length exceeds 15 or the lengths over-subscribe the code space. An
/// incomplete code (fewer codes than the space allows) is accepted, as deflate allows for a
/// single distance code.
pub fn canonical_codes(lengths: &[u8]) -> Result<Vec<HuffCode>, HwError> {
    let mut count = [0u32; 16];
    for &l in lengths {
        if l > MAX_CODE_LEN {
            return Err(HwError::InvalidField {
                field: "Huffman code length",
                value: l as u64,
            });
        }
        count[l as usize] += 1;
    }
    count[0] = 0;
    // Check for over-subscription: at each length the codes left must stay non-negative.
    let mut left: i64 = 1;
    for &c in &count[1..] {
        left = left * 2 - c as i64;
        if left < 0 {
            return Err(HwError::InvalidField {
                field: "Huffman code lengths (over-subscribed)",
                value: 0,
            });
        }
    }
    let mut next = [0u32; 16];
    let mut code = 0u32;
    for bits in 1..16 {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    Ok(lengths
        .iter()
        .map(|&l| {
            if l == 0 {
                HuffCode::default()
            } else {
                let c = next[l as usize];
                next[l as usize] += 1;
                HuffCode {
                    code: c as u16,
                    len: l,
                }
            }
        })
        .collect())
}

/// Code lengths of the RFC 1951 fixed literal/length code (symbols 0..=287).
pub fn fixed_ll_lengths() -> [u8; 288] {
    let mut l = [0u8; 288];
    for (i, v) in l.iter_mut().enumerate() {
        *v = match i {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
    }
    l
}

/// Code lengths of the RFC 1951 fixed distance code (symbols 0..=29; 30 and 31 never occur).
pub fn fixed_dist_lengths() -> [u8; 30] {
    [5; 30]
}

/// The RFC 1951 fixed literal/length codes for the 286 symbols the AECS holds.
pub fn fixed_ll_codes() -> [HuffCode; NUM_LL_CODES] {
    let all = canonical_codes(&fixed_ll_lengths()).expect("the fixed code is complete");
    let mut out = [HuffCode::default(); NUM_LL_CODES];
    out.copy_from_slice(&all[..NUM_LL_CODES]);
    out
}

/// The RFC 1951 fixed distance codes (five-bit codes 0..=29).
pub fn fixed_dist_codes() -> [HuffCode; NUM_DIST_CODES] {
    let mut out = [HuffCode::default(); NUM_DIST_CODES];
    for (i, c) in out.iter_mut().enumerate() {
        *c = HuffCode {
            code: i as u16,
            len: 5,
        };
    }
    out
}

/// A compress AECS image, ready to copy into device memory.
#[derive(Clone, PartialEq, Eq)]
pub struct CompressAecs {
    bytes: Box<[u8; COMPRESS_AECS_SIZE]>,
}

impl core::fmt::Debug for CompressAecs {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CompressAecs")
            .field("crc", &self.crc())
            .field("xor", &self.xor_checksum())
            .field("accumulator_bits", &self.accumulator_bits())
            .finish_non_exhaustive()
    }
}

impl Default for CompressAecs {
    fn default() -> Self {
        Self::new()
    }
}

impl CompressAecs {
    /// An all-zero AECS.
    pub fn new() -> Self {
        CompressAecs {
            bytes: Box::new([0u8; COMPRESS_AECS_SIZE]),
        }
    }

    /// "Fixed mode", what the kernel uses: RFC 1951 fixed codes in both tables and the 3-bit
    /// header of a final fixed-Huffman block (BFINAL=1, BTYPE=01: value 0b011) in the accumulator.
    pub fn fixed() -> Self {
        let mut a = Self::new();
        a.set_ll_codes(&fixed_ll_codes());
        a.set_dist_codes(&fixed_dist_codes());
        a.set_accumulator(&[0b011], 3).expect("3 bits fit");
        a
    }

    /// Wraps an image read back from device memory.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HwError> {
        let arr: [u8; COMPRESS_AECS_SIZE] = bytes.try_into().map_err(|_| HwError::InvalidField {
            field: "AECS size",
            value: bytes.len() as u64,
        })?;
        Ok(CompressAecs { bytes: Box::new(arr) })
    }

    /// The raw image.
    pub fn as_bytes(&self) -> &[u8; COMPRESS_AECS_SIZE] {
        &self.bytes
    }

    /// The raw image, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8; COMPRESS_AECS_SIZE] {
        &mut self.bytes
    }

    fn u32_at(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.bytes[off..off + 4].try_into().expect("4 bytes"))
    }

    fn set_u32_at(&mut self, off: usize, v: u32) {
        self.bytes[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// The running CRC field.
    pub fn crc(&self) -> u32 {
        self.u32_at(off::CRC)
    }

    /// Sets the running CRC field.
    pub fn set_crc(&mut self, v: u32) {
        self.set_u32_at(off::CRC, v)
    }

    /// The running XOR checksum field.
    pub fn xor_checksum(&self) -> u32 {
        self.u32_at(off::XOR)
    }

    /// Sets the running XOR checksum field.
    pub fn set_xor_checksum(&mut self, v: u32) {
        self.set_u32_at(off::XOR, v)
    }

    /// Number of valid bits in the output accumulator.
    pub fn accumulator_bits(&self) -> u32 {
        self.u32_at(off::NUM_ACC_BITS)
    }

    /// The accumulator bytes that hold valid bits (the last one possibly partial).
    pub fn accumulator(&self) -> &[u8] {
        let n = (self.accumulator_bits().min(ACCUMULATOR_BITS) as usize).div_ceil(8);
        &self.bytes[off::ACCUMULATOR..off::ACCUMULATOR + n]
    }

    /// Replaces the accumulator with `nbits` bits taken LSB-first from `bits`.
    pub fn set_accumulator(&mut self, bits: &[u8], nbits: u32) -> Result<(), HwError> {
        if nbits > ACCUMULATOR_BITS || (nbits as usize).div_ceil(8) > bits.len() {
            return Err(HwError::InvalidField {
                field: "AECS accumulator bits",
                value: nbits as u64,
            });
        }
        let acc = &mut self.bytes[off::ACCUMULATOR..off::ACCUMULATOR + 256];
        acc.fill(0);
        let whole = nbits as usize / 8;
        acc[..whole].copy_from_slice(&bits[..whole]);
        let rem = nbits % 8;
        if rem != 0 {
            acc[whole] = bits[whole] & ((1u8 << rem) - 1);
        }
        self.set_u32_at(off::NUM_ACC_BITS, nbits);
        Ok(())
    }

    /// Appends `n` (<= 32) bits of `value`, LSB first, to the accumulator.
    pub fn push_accumulator_bits(&mut self, value: u32, n: u32) -> Result<(), HwError> {
        let have = self.accumulator_bits();
        if n > 32 || have + n > ACCUMULATOR_BITS {
            return Err(HwError::InvalidField {
                field: "AECS accumulator bits",
                value: (have + n) as u64,
            });
        }
        for i in 0..n {
            if value >> i & 1 != 0 {
                let pos = (have + i) as usize;
                self.bytes[off::ACCUMULATOR + pos / 8] |= 1 << (pos % 8);
            }
        }
        self.set_u32_at(off::NUM_ACC_BITS, have + n);
        Ok(())
    }

    /// The literal/length code of `symbol` (< 286).
    pub fn ll_code(&self, symbol: usize) -> Result<HuffCode, HwError> {
        HuffCode::from_entry(self.u32_at(off::LL_CODES + 4 * symbol))
    }

    /// The distance code of `symbol` (< 30).
    pub fn dist_code(&self, symbol: usize) -> Result<HuffCode, HwError> {
        HuffCode::from_entry(self.u32_at(off::DIST_CODES + 4 * symbol))
    }

    /// Writes the 286 literal/length code entries.
    pub fn set_ll_codes(&mut self, codes: &[HuffCode; NUM_LL_CODES]) {
        for (i, c) in codes.iter().enumerate() {
            self.set_u32_at(off::LL_CODES + 4 * i, c.to_entry());
        }
    }

    /// Writes the 30 distance code entries.
    pub fn set_dist_codes(&mut self, codes: &[HuffCode; NUM_DIST_CODES]) {
        for (i, c) in codes.iter().enumerate() {
            self.set_u32_at(off::DIST_CODES + 4 * i, c.to_entry());
        }
    }
}

/// The statistics-mode output (QPL `hw_iaa_histogram`): one u32 count per literal/length and
/// per distance symbol, little-endian, [`HISTOGRAM_SIZE`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Histogram {
    /// Literal/length symbol counts (0..=285), at byte 0.
    pub ll: [u32; NUM_LL_CODES],
    /// Distance symbol counts (0..=29), at byte [`Histogram::DIST_OFFSET`].
    pub dist: [u32; NUM_DIST_CODES],
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            ll: [0; NUM_LL_CODES],
            dist: [0; NUM_DIST_CODES],
        }
    }
}

impl Histogram {
    /// Byte offset of the distance counts (after 286 + 2 reserved u32).
    pub const DIST_OFFSET: usize = 4 * (NUM_LL_CODES + 2);

    /// The image a statistics job writes (reserved words zero).
    pub fn to_bytes(&self) -> [u8; HISTOGRAM_SIZE] {
        let mut b = [0u8; HISTOGRAM_SIZE];
        for (i, v) in self.ll.iter().enumerate() {
            b[4 * i..4 * i + 4].copy_from_slice(&v.to_le_bytes());
        }
        for (i, v) in self.dist.iter().enumerate() {
            let o = Self::DIST_OFFSET + 4 * i;
            b[o..o + 4].copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    /// Reads an image back (at least [`HISTOGRAM_SIZE`] bytes; reserved words ignored).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, HwError> {
        if bytes.len() < HISTOGRAM_SIZE {
            return Err(HwError::InvalidField {
                field: "histogram size",
                value: bytes.len() as u64,
            });
        }
        let at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().expect("4 bytes"));
        Ok(Histogram {
            ll: core::array::from_fn(|i| at(4 * i)),
            dist: core::array::from_fn(|i| at(Self::DIST_OFFSET + 4 * i)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_codes_match_rfc1951_table() {
        let ll = fixed_ll_codes();
        // RFC 1951 3.2.6: 0..143 -> 00110000.., 144 -> 110010000, 256 -> 0000000, 280 -> 11000000.
        assert_eq!(
            ll[0],
            HuffCode {
                code: 0b0011_0000,
                len: 8
            }
        );
        assert_eq!(
            ll[143],
            HuffCode {
                code: 0b1011_1111,
                len: 8
            }
        );
        assert_eq!(
            ll[144],
            HuffCode {
                code: 0b1_1001_0000,
                len: 9
            }
        );
        assert_eq!(
            ll[255],
            HuffCode {
                code: 0b1_1111_1111,
                len: 9
            }
        );
        assert_eq!(ll[256], HuffCode { code: 0, len: 7 });
        assert_eq!(
            ll[279],
            HuffCode {
                code: 0b001_0111,
                len: 7
            }
        );
        assert_eq!(
            ll[280],
            HuffCode {
                code: 0b1100_0000,
                len: 8
            }
        );
        assert_eq!(
            ll[285],
            HuffCode {
                code: 0b1100_0101,
                len: 8
            }
        );
        assert_eq!(fixed_dist_codes()[29], HuffCode { code: 29, len: 5 });
    }

    #[test]
    fn fixed_aecs_layout() {
        let a = CompressAecs::fixed();
        assert_eq!(a.as_bytes().len(), 1568);
        assert_eq!(a.accumulator_bits(), 3);
        assert_eq!(a.accumulator(), &[0b011]);
        assert_eq!(a.ll_code(256).unwrap(), HuffCode { code: 0, len: 7 });
        assert_eq!(a.dist_code(3).unwrap(), HuffCode { code: 3, len: 5 });
        // entry encoding (len << 15) | code, at the documented offsets
        let e = u32::from_le_bytes(a.as_bytes()[off::LL_CODES..off::LL_CODES + 4].try_into().unwrap());
        assert_eq!(e, (8 << 15) | 0x30);
        let e = u32::from_le_bytes(
            a.as_bytes()[off::DIST_CODES + 8..off::DIST_CODES + 12]
                .try_into()
                .unwrap(),
        );
        assert_eq!(e, (5 << 15) | 2);
    }

    #[test]
    fn accumulator_push_and_bounds() {
        let mut a = CompressAecs::new();
        a.push_accumulator_bits(1, 1).unwrap();
        a.push_accumulator_bits(0b10, 2).unwrap();
        a.push_accumulator_bits(0xff, 8).unwrap();
        assert_eq!(a.accumulator_bits(), 11);
        assert_eq!(a.accumulator(), &[0b1111_1101, 0b111]);
        assert!(a.set_accumulator(&[0; 256], 2049).is_err());
        assert!(a.set_accumulator(&[0; 1], 9).is_err());
        a.set_accumulator(&[0xff; 256], 2048).unwrap();
        assert!(a.push_accumulator_bits(1, 1).is_err());
    }

    #[test]
    fn canonical_codes_refuse_oversubscription() {
        assert!(canonical_codes(&[1, 1, 1]).is_err());
        assert!(canonical_codes(&[16]).is_err());
        let c = canonical_codes(&[2, 1, 3, 3]).unwrap();
        assert_eq!(c[1], HuffCode { code: 0, len: 1 });
        assert_eq!(c[0], HuffCode { code: 0b10, len: 2 });
        assert_eq!(c[2], HuffCode { code: 0b110, len: 3 });
        assert_eq!(c[3], HuffCode { code: 0b111, len: 3 });
        assert_eq!(c[2].reversed(), 0b011);
    }

    #[test]
    fn histogram_layout_is_qpls() {
        // QPL hw_iaa_histogram: u32 ll_sym[286], reserved1[2], d_sym[30], reserved2[2].
        assert_eq!(HISTOGRAM_SIZE, (286 + 2 + 30 + 2) * 4);
        let mut h = Histogram::default();
        h.ll[0] = 0x0102_0304;
        h.ll[285] = 7;
        h.dist[0] = 9;
        h.dist[29] = 11;
        let b = h.to_bytes();
        assert_eq!(&b[0..4], &[4, 3, 2, 1]);
        assert_eq!(&b[285 * 4..286 * 4], &[7, 0, 0, 0]);
        assert_eq!(&b[288 * 4..289 * 4], &[9, 0, 0, 0]);
        assert_eq!(&b[317 * 4..318 * 4], &[11, 0, 0, 0]);
        assert_eq!(Histogram::from_bytes(&b).unwrap(), h);
        assert!(Histogram::from_bytes(&b[..1279]).is_err());
    }

    #[test]
    fn entries_refuse_garbage() {
        assert!(HuffCode::from_entry(16 << 15).is_err());
        assert!(HuffCode::from_entry((3 << 15) | 0b1000).is_err());
        assert_eq!(
            HuffCode::from_entry((3 << 15) | 0b101).unwrap(),
            HuffCode { code: 5, len: 3 }
        );
    }
}
