//! Random descriptors never panic and always complete with some status: random bytes shaped
//! so that most pass validation and reach the operations (addresses in mapped memory, sizes
//! that fit, flags the operation accepts), the rest anything at all. Batches of random
//! members, compress with random or fixed AECS contents and decompress of random or valid
//! deflate input included, with every kind of injection.

#[path = "ops_util.rs"]
mod util;

use std::io::Write;

use idxd_emu::ops::Injection;
use idxd_hw::{CompressAecs, DsaDesc, IaaDesc};
use proptest::prelude::*;
use util::*;

const DSA_OPS: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10, 0x11, 0x12, 0x20, 0x7f, 0xff];
const IAA_OPS: [u8; 10] = [0, 2, 3, 0x42, 0x43, 0x44, 0x50, 0x01, 0x04, 0xff];
const BASES: [u64; 7] = [REC, SRC, DST, AUX, RO, HOLE, u64::MAX - 100];

fn injection(k: u8) -> Option<Injection> {
    match k % 8 {
        0 => Some(Injection::PageFault {
            at_offset: k as u32 * 37,
        }),
        1 => Some(Injection::HardwareError),
        2 => Some(Injection::Watchdog),
        3 => Some(Injection::OutputOverflow),
        _ => None,
    }
}

/// An address: mostly a mapped base plus a small offset, sometimes the raw random value.
fn addr(sel: u8, raw: u64) -> u64 {
    match BASES.get(sel as usize % 9) {
        Some(b) => b.saturating_add(raw % 4096),
        None => raw,
    }
}

/// The raw 64 bytes of a random descriptor.
fn raw(head: [u8; 32], tail: [u8; 32]) -> [u8; 64] {
    let mut r = [0u8; 64];
    r[..32].copy_from_slice(&head);
    r[32..].copy_from_slice(&tail);
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_dsa_descriptors_complete(
        head in prop::array::uniform32(any::<u8>()),
        tail in prop::array::uniform32(any::<u8>()),
        op in 0usize..DSA_OPS.len(),
        sel in prop::array::uniform4(any::<u8>()),
        wild in 0u8..8,
        size in any::<u32>(),
        k in any::<u8>(),
        fill in any::<u64>(),
    ) {
        let mut e = Env::dsa();
        e.inject = injection(k);
        let mut d = DsaDesc::from_bytes(&raw(head, tail));
        let opcode = DSA_OPS[op];
        if wild != 0 {
            // Flags the operations accept (fence, record, interrupt; check result and CRC seed
            // from memory where they belong), no reserved bits, unused fields zero.
            let mut mask = 0x3d;
            if matches!(opcode, 5..=7) {
                mask |= 0x80;
            }
            if matches!(opcode, 0x10 | 0x11) {
                mask |= 0x1_0000;
            }
            d.set_opcode_flags(opcode, d.flags_raw() & mask);
            d.pasid_priv &= 0x800f_ffff;
            d.rsvd1 = 0;
            let (a, b) = (d.op_u64(40), d.op_u32(48));
            d.op_specific = [0; 24];
            match opcode {
                5 | 6 => d.set_op_u8(40, tail[0] & 1),
                7 => {
                    d.set_op_u64(40, addr(sel[3], a) & !7);
                    d.set_op_u32(48, b % 100 * 10);
                    d.set_op_u8(56, tail[0] & 7);
                }
                8 => d.set_op_u32(40, b % 100 * 10),
                9 => d.set_op_u64(40, AUX + 0x8000 + (d.dst_addr & 0xfff)),
                0x10 | 0x11 => {
                    d.set_op_u32(40, b);
                    if d.flags_raw() & 0x1_0000 != 0 {
                        d.set_op_u64(48, addr(sel[3], a) & !3);
                    }
                }
                _ => {}
            }
        } else {
            d.set_opcode_flags(opcode, d.flags_raw());
        }
        d.completion_addr = addr(sel[0], d.completion_addr) & !31;
        d.src_addr = addr(sel[1], d.src_addr);
        d.dst_addr = addr(sel[2], d.dst_addr);
        d.xfer_size = match size % 4 {
            0 => size % 70_000,
            1 => size / 4 % 9000 / 8 * 8,
            2 => 2 + size / 4 % 8,
            _ => size,
        };
        if wild != 0 {
            match opcode {
                0 | 2 => (d.src_addr, d.dst_addr, d.xfer_size) = (0, 0, 0),
                1 | 0x10 => d.dst_addr = 0,
                0x20 => d.src_addr = 0,
                _ => {}
            }
        }
        // Random batch members and delta records where lists and records point.
        e.fill_random(AUX, 64 * 1024, fill);
        let o = e.run_dsa(&d);
        prop_assert!(o.done.status != 0);
        prop_assert_eq!(o.done.record_len, 32);
    }

    #[test]
    fn random_iaa_descriptors_complete(
        head in prop::array::uniform32(any::<u8>()),
        tail in prop::array::uniform32(any::<u8>()),
        op in 0usize..IAA_OPS.len(),
        sel in prop::array::uniform4(any::<u8>()),
        wild in 0u8..8,
        size in any::<u32>(),
        k in any::<u8>(),
        fill in any::<u64>(),
    ) {
        let mut e = Env::iaa();
        e.inject = injection(k);
        let mut d = IaaDesc::from_bytes(&raw(head, tail));
        let opcode = IAA_OPS[op];
        let (compress, decompress) = (opcode == 0x43, opcode == 0x42);
        d.completion_addr = addr(sel[0], d.completion_addr) & !63;
        d.src1_addr = addr(sel[1], d.src1_addr);
        d.dst_addr = addr(sel[2], d.dst_addr);
        d.src2_addr = if sel[3] & 1 == 0 { AUX + 0x8000 } else { addr(sel[3], d.src2_addr) };
        d.src1_size = if size % 4 != 3 { size % 70_000 } else { size };
        d.max_dst_size = if size % 5 != 4 { size / 8 % 100_000 } else { d.max_dst_size };
        if wild != 0 {
            // Flags the operation accepts (record, interrupt; AECS read/write/select and CRC32C
            // for compress, CRC32C for decompress), defined operation flags, no reserved bits.
            let extra = match opcode {
                0x43 => 0x6d_0000,
                0x42 => 0x20_0000,
                _ => 0,
            };
            d.set_opcode_flags(opcode, d.flags_raw() & (0x3c | extra));
            d.pasid_priv &= 0x800f_ffff;
            d.filter_flags = 0;
            d.num_inputs = 0;
            d.op_flags &= match opcode {
                0x42 => 0x21f,
                0x43 => 0xf,
                0x44 => 0xc000,
                _ => 0,
            };
            if compress {
                d.src2_size = if sel[3] & 2 == 0 { 3136 } else { d.src2_size % 4000 };
            } else {
                (d.src2_addr, d.src2_size) = (0, 0);
            }
            if !compress && !decompress {
                d.max_dst_size = 0;
            }
            match opcode {
                0 | 2 => (d.src1_addr, d.src1_size, d.dst_addr) = (0, 0, 0),
                0x44 => {
                    d.dst_addr = 0;
                    d.set_crc64_poly(u64::from_le_bytes(tail[..8].try_into().unwrap()));
                }
                _ => {}
            }
        } else {
            d.set_opcode_flags(opcode, d.flags_raw());
        }
        e.fill_random(SRC, 70_000, fill);
        e.fill_random(AUX, 64 * 1024, fill ^ 1);
        if fill & 1 == 0 {
            // Usable AECS copies, and a valid deflate stream as the source.
            let a = CompressAecs::fixed();
            e.put(AUX + 0x8000, a.as_bytes());
            e.put(AUX + 0x8000 + 1568, a.as_bytes());
            let plain: Vec<u8> = random_bytes(2000, fill).iter().map(|b| b % 4).collect();
            let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&plain).unwrap();
            e.put(SRC, &enc.finish().unwrap());
        }
        let o = e.run_iaa(&d);
        prop_assert!(o.done.status != 0);
        prop_assert_eq!(o.done.record_len, 64);
    }
}
