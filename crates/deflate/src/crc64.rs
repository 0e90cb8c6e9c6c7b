//! The IAA CRC64 operation (opcode 0x44): a CRC of any width from 1 to 64 bits with a
//! polynomial given by software.
//!
//! # Polynomial and width
//! The descriptor carries the polynomial in normal (non-reflected) form, left-justified in 64
//! bits, with the implicit top term omitted. Every CRC polynomial has its `x^0` term set, so the
//! lowest set bit of the field marks the end of the polynomial and gives the width:
//! `width = 64 - poly.trailing_zeros()`. A 32-bit CRC puts its polynomial in the top half
//! (gzip's CRC-32 is `0x04C1_1DB7_0000_0000`). A zero polynomial is taken as a 64-bit CRC whose
//! feedback term is zero.
//!
//! # Flags (QPL `ADC64F_BE`, `ADC64F_INVCRC`; docs/hardware.md, "CRC64")
//! - [`Crc64Flags::BE`] (bit 15): the data is taken "big endian", bit 0 of each byte being the
//!   most significant coefficient: the *reflected* CRC, each byte least significant bit first
//!   (gzip, XZ). Clear: the non-reflected CRC, each byte most significant bit first
//!   (CRC-64/ECMA-182, CRC-32/BZIP2).
//! - [`Crc64Flags::INVERT`] (bit 14): the register starts as all ones (over the CRC's width) and
//!   the result is XORed with all ones (over the width).
//!
//! # Where the result sits
//! - Non-reflected: left-justified like the polynomial, the CRC in the top `width` bits and
//!   zeros below (CRC-32/BZIP2 of "123456789" is `0xFC89_1918_0000_0000`).
//! - Reflected: the reflected register, i.e. the bit mirror of the left-justified value, so the
//!   CRC sits right-justified in the low `width` bits (gzip's CRC-32 of "123456789" is
//!   `0x0000_0000_CBF4_3926`, CRC-64/XZ is `0x995D_C9BB_DF19_39FA`).
//!
//! For a 64-bit CRC both readings coincide with the usual catalogue values.

use idxd_hw::Crc64Flags;

/// Below this length a bitwise loop beats building a 256-entry table.
const TABLE_THRESHOLD: usize = 128;

/// The width in bits of the CRC described by `poly` (see the module documentation).
pub const fn crc64_width(poly: u64) -> u32 {
    if poly == 0 {
        64
    } else {
        64 - poly.trailing_zeros()
    }
}

/// Mask of the CRC bits, left-justified (non-reflected register).
const fn left_mask(width: u32) -> u64 {
    !0u64 << (64 - width)
}

/// Mask of the CRC bits, right-justified (reflected register).
const fn right_mask(width: u32) -> u64 {
    !0u64 >> (64 - width)
}

/// Computes the CRC of `data` as the IAA CRC64 operation does (see the module documentation
/// for the polynomial, width and result conventions).
pub fn crc64(data: &[u8], poly: u64, flags: Crc64Flags) -> u64 {
    let width = crc64_width(poly);
    let invert = flags.contains(Crc64Flags::INVERT);
    if !flags.contains(Crc64Flags::BE) {
        let mask = left_mask(width);
        let init = if invert { mask } else { 0 };
        let reg = if data.len() < TABLE_THRESHOLD {
            normal_bitwise(init, poly, data)
        } else {
            normal_table(init, poly, data)
        };
        if invert {
            reg ^ mask
        } else {
            reg
        }
    } else {
        let mask = right_mask(width);
        let rpoly = poly.reverse_bits();
        let init = if invert { mask } else { 0 };
        let reg = if data.len() < TABLE_THRESHOLD {
            reflected_bitwise(init, rpoly, data)
        } else {
            reflected_table(init, rpoly, data)
        };
        if invert {
            reg ^ mask
        } else {
            reg
        }
    }
}

#[inline]
fn normal_step(mut reg: u64, poly: u64) -> u64 {
    for _ in 0..8 {
        reg = if reg >> 63 != 0 {
            (reg << 1) ^ poly
        } else {
            reg << 1
        };
    }
    reg
}

#[inline]
fn reflected_step(mut reg: u64, rpoly: u64) -> u64 {
    for _ in 0..8 {
        reg = if reg & 1 != 0 {
            (reg >> 1) ^ rpoly
        } else {
            reg >> 1
        };
    }
    reg
}

fn normal_bitwise(mut reg: u64, poly: u64, data: &[u8]) -> u64 {
    for &b in data {
        reg = normal_step(reg ^ ((b as u64) << 56), poly);
    }
    reg
}

fn reflected_bitwise(mut reg: u64, rpoly: u64, data: &[u8]) -> u64 {
    for &b in data {
        reg = reflected_step(reg ^ b as u64, rpoly);
    }
    reg
}

fn normal_table(mut reg: u64, poly: u64, data: &[u8]) -> u64 {
    let mut t = [0u64; 256];
    for (i, e) in t.iter_mut().enumerate() {
        *e = normal_step((i as u64) << 56, poly);
    }
    for &b in data {
        reg = (reg << 8) ^ t[((reg >> 56) as u8 ^ b) as usize];
    }
    reg
}

fn reflected_table(mut reg: u64, rpoly: u64, data: &[u8]) -> u64 {
    let mut t = [0u64; 256];
    for (i, e) in t.iter_mut().enumerate() {
        *e = reflected_step(i as u64, rpoly);
    }
    for &b in data {
        reg = (reg >> 8) ^ t[(reg as u8 ^ b) as usize];
    }
    reg
}

#[cfg(test)]
mod tests {
    use super::*;

    // The catalogue vectors (every flag combination) are in tests/crc64_catalogue.rs; these
    // check the two code paths against each other and against crc32fast.

    #[test]
    fn table_and_bitwise_agree_and_match_crc32fast() {
        let data: Vec<u8> = (0..3000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect();
        for poly in [
            0x42F0_E1EB_A9EA_3693,
            0x1B,
            0x04C1_1DB7_0000_0000,
            0x8005 << 48,
            0,
            1 << 60,
        ] {
            for flags in [0u16, 0x4000, 0x8000, 0xc000] {
                let f = Crc64Flags::from_bits_retain(flags);
                let init_of = |m: u64| if f.contains(Crc64Flags::INVERT) { m } else { 0 };
                let bitwise = if f.contains(Crc64Flags::BE) {
                    let init = init_of(right_mask(crc64_width(poly)));
                    reflected_bitwise(init, poly.reverse_bits(), &data) ^ init
                } else {
                    let init = init_of(left_mask(crc64_width(poly)));
                    normal_bitwise(init, poly, &data) ^ init
                };
                assert_eq!(crc64(&data, poly, f), bitwise, "poly {poly:#x} flags {flags:#x}");
            }
        }
        // gzip's CRC-32 is BE + INVERT (QPL c_operations_op_crc64.rst).
        assert_eq!(
            crc64(&data, 0x04C1_1DB7_0000_0000, Crc64Flags::BE | Crc64Flags::INVERT),
            crc32fast::hash(&data) as u64
        );
    }

    #[test]
    fn width() {
        assert_eq!(crc64_width(0x42F0_E1EB_A9EA_3693), 64);
        assert_eq!(crc64_width(0x04C1_1DB7_0000_0000), 32);
        assert_eq!(crc64_width(0), 64);
        assert_eq!(crc64_width(1 << 63), 1);
    }
}
