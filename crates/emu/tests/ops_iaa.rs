//! IAA operations through memory: compress/decompress round trips, AECS select and
//! write-back, overflows, CRC64 against references, page faults and injection (validation
//! statuses: `ops_iaa_status.rs`).

#[path = "ops_util.rs"]
mod util;

use std::io::{Read, Write};

use idxd_emu::ops::Injection;
use idxd_hw::{AecsWrite, CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, DescFlags, IaaOp};
use proptest::prelude::*;
use util::*;

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn compressible(len: usize, seed: u64) -> Vec<u8> {
    let words: Vec<&[u8]> = vec![b"alpha ", b"beta ", b"gamma ", b"delta ", b"page ", b"zswap "];
    let r = random_bytes(len, seed);
    let mut v = Vec::with_capacity(len + 8);
    let mut i = 0;
    while v.len() < len {
        if r[i % len] < 40 {
            v.push(r[(i + 1) % len]);
        } else {
            v.extend_from_slice(words[r[i % len] as usize % words.len()]);
        }
        i += 1;
    }
    v.truncate(len);
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn compress_then_decompress_through_memory(len in 1usize..40_000, random in any::<bool>(), seed in any::<u64>()) {
        let e = Env::iaa();
        let data = if random { random_bytes(len, seed) } else { compressible(len, seed) };
        e.put(SRC, &data);
        e.put(AECS, CompressAecs::fixed().as_bytes());
        let room = (len + len / 4 + 64) as u32;
        let o = e.run_iaa(&compress(len as u32, room, 1568, page_flags(), AecsWrite::Never, false));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.bytes_completed, len as u32);
        prop_assert_eq!(o.rec.crc, crc32fast::hash(&data));
        let n = o.rec.output_size as usize;
        let packed = e.get(DST, n);
        prop_assert_eq!(inflate(&packed), data.clone(), "zlib reads the output");
        let o = e.run_iaa(&decompress(DST, n as u32, len as u32, eob_flags()));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.output_size, len as u32);
        prop_assert_eq!(o.rec.crc, crc32fast::hash(&data));
        prop_assert_eq!(e.get(OUT, len), data);
    }

    #[test]
    fn crc64_matches_a_bitwise_reference(len in 1usize..5000, poly in any::<u64>(), flags in 0u16..4, seed in any::<u64>()) {
        let e = Env::iaa();
        let poly = poly | 1 << (poly.trailing_zeros().min(63));
        let data = e.fill_random(SRC, len, seed);
        let f = Crc64Flags::from_bits_retain(flags << 14);
        let o = e.run_iaa(&build(IaaOp::Crc64 { src: SRC, len: len as u32, poly, flags: f }));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.crc64(), crc_ref(&data, poly, f));
    }
}

/// A CRC of the width the polynomial implies, bit by bit: without BE the non-reflected CRC,
/// left-justified; with BE the reflected one, right-justified (QPL c_operations_op_crc64.rst).
fn crc_ref(data: &[u8], poly: u64, flags: Crc64Flags) -> u64 {
    let width = 64 - poly.trailing_zeros();
    let invert = flags.contains(Crc64Flags::INVERT);
    if !flags.contains(Crc64Flags::BE) {
        let mask = !0u64 << (64 - width);
        let mut r = if invert { mask } else { 0 };
        for &b in data {
            r ^= (b as u64) << 56;
            for _ in 0..8 {
                r = if r >> 63 != 0 { (r << 1) ^ poly } else { r << 1 };
            }
        }
        (r ^ if invert { mask } else { 0 }) & mask
    } else {
        let mask = !0u64 >> (64 - width);
        let rpoly = poly.reverse_bits();
        let mut r = if invert { mask } else { 0 };
        for &b in data {
            r ^= b as u64;
            for _ in 0..8 {
                r = if r & 1 != 0 { (r >> 1) ^ rpoly } else { r >> 1 };
            }
        }
        (r ^ if invert { mask } else { 0 }) & mask
    }
}

#[test]
fn crc64_catalogue_values() {
    let e = Env::iaa();
    e.put(SRC, b"123456789");
    let run = |poly, flags| {
        e.run_iaa(&build(IaaOp::Crc64 {
            src: SRC,
            len: 9,
            poly,
            flags,
        }))
        .rec
        .crc64()
    };
    // QPL ADC64F_BE = the reflected CRC (c_operations_op_crc64.rst); every catalogue entry
    // is in crc64_catalogue.rs.
    assert_eq!(
        run(0x42f0_e1eb_a9ea_3693, Crc64Flags::BE | Crc64Flags::INVERT),
        0x995d_c9bb_df19_39fa,
        "CRC-64/XZ"
    );
    assert_eq!(
        run(0x42f0_e1eb_a9ea_3693, Crc64Flags::empty()),
        0x6c40_df5f_0b49_7347,
        "CRC-64/ECMA-182"
    );
    assert_eq!(
        run(0x04c1_1db7_0000_0000, Crc64Flags::BE | Crc64Flags::INVERT),
        0xcbf4_3926,
        "gzip CRC-32"
    );
    assert_eq!(
        run(0x04c1_1db7_0000_0000, Crc64Flags::INVERT),
        0xfc89_1918_0000_0000,
        "CRC-32/BZIP2"
    );
    let o = e.run_iaa(&build(IaaOp::Crc64 {
        src: SRC,
        len: 9,
        poly: 0x04c1_1db7_0000_0000,
        flags: Crc64Flags::BE | Crc64Flags::INVERT,
    }));
    assert_eq!(
        &e.get(rec(0) + 40, 8),
        &0xcbf4_3926u64.to_le_bytes(),
        "the result sits at +40"
    );
    assert_eq!(o.rec.bytes_completed, 9);
}

#[test]
fn aecs_select_chains_two_jobs() {
    let e = Env::iaa();
    let a = compressible(3000, 1);
    let b = compressible(2000, 2);
    e.put(SRC, &a);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    // Job 1 reads copy 0, no flush, no EOB: its last bits stay in the AECS it writes to copy 1.
    let d = compress(3000, 8192, 1568, CompressFlags::empty(), AecsWrite::Always, false);
    let o = e.run_iaa(&d);
    assert_eq!(o.rec.status, 1);
    let out1 = e.get(DST, o.rec.output_size as usize);
    let copy1 = CompressAecs::from_bytes(&e.get(AECS2, 1568)).unwrap();
    assert_eq!(copy1.crc(), crc32fast::hash(&a), "copy 1 holds the running CRC");
    assert_eq!(
        e.get(AECS, 1568),
        CompressAecs::fixed().as_bytes(),
        "copy 0 untouched"
    );
    // Job 2 reads copy 1 (select), flushes and appends EOB, writes back to copy 0.
    e.put(SRC, &b);
    let o = e.run_iaa(&compress(2000, 8192, 1568, page_flags(), AecsWrite::Always, true));
    assert_eq!(o.rec.status, 1);
    let out2 = e.get(DST, o.rec.output_size as usize);
    let whole: Vec<u8> = a.iter().chain(&b).copied().collect();
    assert_eq!(
        o.rec.crc,
        crc32fast::hash(&whole),
        "the CRC continues across the chain"
    );
    assert_eq!(
        CompressAecs::from_bytes(&e.get(AECS, 1568)).unwrap().crc(),
        crc32fast::hash(&whole)
    );
    let stream: Vec<u8> = out1.iter().chain(&out2).copied().collect();
    assert_eq!(inflate(&stream), whole);
}

#[test]
fn aecs_write_back_on_overflow_only() {
    let e = Env::iaa();
    let data = random_bytes(4096, 3);
    e.put(SRC, &data);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    let o = e.run_iaa(&compress(
        4096,
        8192,
        1568,
        page_flags(),
        AecsWrite::OnOverflow,
        false,
    ));
    assert_eq!(o.rec.status, 1);
    assert_eq!(e.get(AECS2, 1568), vec![0u8; 1568], "no overflow, no write-back");
    let o = e.run_iaa(&compress(
        4096,
        100,
        1568,
        page_flags(),
        AecsWrite::OnOverflow,
        false,
    ));
    assert_eq!((o.rec.status, o.rec.error_code), (0x0a, 25));
    assert_eq!(
        e.get(AECS2, 1568),
        CompressAecs::fixed().as_bytes(),
        "the starting state, in the other copy"
    );
    // Without the select bit the job reads copy 0 and writes copy 1, never in place (QPL
    // qpl_hw_check_job.cpp: cfg_out = copy[read_index ^ 1]).
    e.put(AECS, CompressAecs::fixed().as_bytes());
    let o = e.run_iaa(&compress(
        4096,
        8192,
        1568,
        CompressFlags::empty(),
        AecsWrite::Always,
        false,
    ));
    assert_eq!(o.rec.status, 1);
    assert_eq!(
        CompressAecs::from_bytes(&e.get(AECS2, 1568)).unwrap().crc(),
        crc32fast::hash(&data)
    );
    assert_eq!(e.get(AECS, 1568), CompressAecs::fixed().as_bytes());
}

#[test]
fn compress_without_an_aecs_uses_fixed_codes_and_no_header() {
    let e = Env::iaa();
    let data = compressible(1000, 4);
    e.put(SRC, &data);
    let mut d = compress(1000, 4096, 1568, page_flags(), AecsWrite::Never, false);
    let f = d.flags_raw() & !DescFlags::RD_SRC2_AECS.bits();
    d.set_opcode_flags(d.opcode_raw(), f);
    d.src2_addr = 0;
    d.src2_size = 0;
    let o = e.run_iaa(&d);
    assert_eq!(o.rec.status, 1);
    // Prefixing the 3-bit header of a final fixed block (BFINAL=1, BTYPE=01, LSB first) makes
    // it a stream zlib reads; the zero padding after the EOB is ignored.
    let body = e.get(DST, o.rec.output_size as usize);
    let mut bits = vec![true, true, false];
    bits.extend((0..body.len() * 8).map(|i| body[i / 8] >> (i % 8) & 1 != 0));
    let stream: Vec<u8> = bits
        .chunks(8)
        .map(|c| c.iter().enumerate().fold(0u8, |a, (i, &b)| a | (b as u8) << i))
        .collect();
    assert_eq!(inflate(&stream), data);
}

#[test]
fn output_overflows() {
    let e = Env::iaa();
    let data = random_bytes(4096, 5);
    e.put(SRC, &data);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    let o = e.run_iaa(&compress(4096, 100, 1568, page_flags(), AecsWrite::Never, false));
    assert_eq!((o.rec.status, o.rec.error_code), (0x0a, 0x19));
    // Decompress into too little room: 0x0b, the room filled with the start of the data.
    let o = e.run_iaa(&compress(4096, 8192, 1568, page_flags(), AecsWrite::Never, false));
    let n = o.rec.output_size;
    let o = e.run_iaa(&decompress(DST, n, 1000, eob_flags()));
    assert_eq!((o.rec.status, o.rec.output_size), (0x0b, 1000));
    assert_eq!(e.get(OUT, 1000), data[..1000]);
    assert_eq!(e.get(OUT + 1000, 8), [0; 8]);
    // A destination declared far larger than the job needs costs nothing.
    let o = e.run_iaa(&decompress(DST, n, 0x8000_0000, eob_flags()));
    assert_eq!((o.rec.status, o.rec.output_size), (1, 4096));
    // Verify mode: output suppressed, sizes and CRC still reported.
    let o = e.run_iaa(&decompress(
        DST,
        n,
        0,
        eob_flags() | DecompressFlags::SUPPRESS_OUTPUT,
    ));
    assert_eq!(
        (o.rec.status, o.rec.output_size, o.rec.crc),
        (1, 4096, crc32fast::hash(&data))
    );
}

#[test]
fn decompress_analytics_errors() {
    let e = Env::iaa();
    // Block type 3 in the first byte.
    e.put(SRC, &[0b111, 0, 0, 0]);
    let o = e.run_iaa(&decompress(SRC, 4, 4096, eob_flags()));
    assert_eq!((o.rec.status, o.rec.error_code), (0x0a, 13));
    // A zlib stream with a match 9000 bytes back: beyond the 4 KiB history.
    let mut data = random_bytes(10_000, 6);
    let head = data[..1000].to_vec();
    data.extend_from_slice(&head);
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&data).unwrap();
    let packed = enc.finish().unwrap();
    e.put(SRC, &packed);
    let o = e.run_iaa(&decompress(SRC, packed.len() as u32, 16_384, eob_flags()));
    assert_eq!((o.rec.status, o.rec.error_code), (0x0a, 17));
}

#[test]
fn memmove_and_noop() {
    let e = Env::iaa();
    let data = e.fill_random(SRC, 5000, 7);
    let o = e.run_iaa(&build(IaaOp::Memmove {
        src: SRC,
        dst: DST,
        len: 5000,
    }));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (1, 5000));
    assert_eq!(e.get(DST, 5000), data);
    assert_eq!(e.run_iaa(&build(IaaOp::Noop)).rec.status, 1);
    assert_eq!(e.run_iaa(&build(IaaOp::Drain)).rec.status, 1);
}

#[test]
fn page_faults_report_status_3_or_0x83_and_nothing_done() {
    // QPL hw_status.h: AD_STATUS_READ_PAGE_FAULT = 0x03, AD_STATUS_WRITE_PAGE_FAULT = 0x83.
    let e = Env::iaa();
    let ro_end = RO + 0x10000;
    e.put(AECS, CompressAecs::fixed().as_bytes());
    // Source runs into a hole.
    let o = e.run_iaa(&build(IaaOp::Memmove {
        src: ro_end - 100,
        dst: DST,
        len: 200,
    }));
    assert_eq!(
        (o.rec.status, o.rec.fault_addr, o.rec.bytes_completed),
        (3, ro_end, 0)
    );
    // Destination read-only: bit 7.
    let o = e.run_iaa(&build(IaaOp::Memmove {
        src: SRC,
        dst: RO,
        len: 200,
    }));
    assert_eq!((o.rec.status, o.rec.fault_addr), (0x83, RO));
    // Compress: the AECS does not translate.
    e.put(SRC, &compressible(500, 1));
    let mut d = compress(500, 4096, 1568, page_flags(), AecsWrite::Never, false);
    d.src2_addr = HOLE;
    let o = e.run_iaa(&d);
    assert_eq!(
        (o.rec.status, o.rec.fault_addr, o.rec.output_size, o.rec.crc),
        (3, HOLE, 0, 0)
    );
    // Compress: the write-back target (copy 1) is read-only.
    e.put(RO, CompressAecs::fixed().as_bytes());
    let mut d = compress(500, 4096, 1568, page_flags(), AecsWrite::Always, false);
    d.src2_addr = RO;
    let o = e.run_iaa(&d);
    assert_eq!((o.rec.status, o.rec.fault_addr), (0x83, RO + 1568));
    // Decompress into a read-only destination; CRC64 over a hole.
    let o = e.run_iaa(&compress(500, 4096, 1568, page_flags(), AecsWrite::Never, false));
    let mut d = decompress(DST, o.rec.output_size, 4096, eob_flags());
    d.dst_addr = RO;
    let o = e.run_iaa(&d);
    assert_eq!((o.rec.status, o.rec.fault_addr, o.rec.output_size), (0x83, RO, 0));
    let o = e.run_iaa(&build(IaaOp::Crc64 {
        src: HOLE,
        len: 8,
        poly: 1,
        flags: Crc64Flags::empty(),
    }));
    assert_eq!((o.rec.status, o.rec.fault_addr, o.rec.crc64()), (3, HOLE, 0));
    // Without a record address, SWERR says it.
    let mut d = build(IaaOp::Memmove {
        src: HOLE,
        dst: DST,
        len: 8,
    });
    d.set_opcode_flags(d.opcode_raw(), 0);
    let s = e.run_iaa(&d).fin.unwrap_err();
    assert_eq!((s.error, s.fault_addr, s.fault_rw), (3, HOLE, false));
}

#[test]
fn injection_of_each_kind() {
    let mut e = Env::iaa();
    let data = compressible(4000, 8);
    e.put(SRC, &data);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    let c = compress(4000, 8192, 1568, page_flags(), AecsWrite::Never, false);
    let packed_len = e.run_iaa(&c).rec.output_size;
    e.put(AUX + 0x40000, &e.get(DST, packed_len as usize));
    let dd = decompress(AUX + 0x40000, packed_len, 8192, eob_flags());

    e.inject = Some(Injection::PageFault { at_offset: 123 });
    let o = e.run_iaa(&c);
    assert_eq!(
        (o.rec.status, o.rec.fault_addr, o.rec.output_size),
        (3, SRC + 123, 0)
    );
    let o = e.run_iaa(&dd);
    assert_eq!((o.rec.status, o.rec.fault_addr), (3, AUX + 0x40000 + 123));

    e.inject = Some(Injection::HardwareError);
    assert_eq!(e.run_iaa(&c).rec.status, 0x20);
    e.inject = Some(Injection::Watchdog);
    let o = e.run_iaa(&dd);
    assert_eq!((o.rec.status, o.done.bytes_read), (0x24, 0));

    e.inject = Some(Injection::OutputOverflow);
    let o = e.run_iaa(&c);
    assert_eq!((o.rec.status, o.rec.error_code), (0x0a, 25));
    e.put(OUT, &[0u8; 4000]);
    let o = e.run_iaa(&dd);
    assert_eq!((o.rec.status, o.rec.output_size), (0x0b, 2000));
    assert_eq!(e.get(OUT, 2000), data[..2000]);
    assert_eq!(e.get(OUT + 2000, 8), [0; 8]);
    // Not an output-producing operation: ignored.
    assert_eq!(
        e.run_iaa(&build(IaaOp::Memmove {
            src: SRC,
            dst: DST,
            len: 64
        }))
        .rec
        .status,
        1
    );
    // Resubmitted without the injection, the same descriptors succeed.
    e.inject = None;
    assert_eq!(e.run_iaa(&dd).rec.status, 1);
    assert_eq!(e.get(OUT, 4000), data);
}
