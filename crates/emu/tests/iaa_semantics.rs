//! IAA semantics checked against the public sources through the emulated device (the
//! descriptor builders of idxd-hw, the emulator's execution, the record): CRC64 against the
//! CRC catalogue, statistics mode, AECS double buffering, the deflate header errors 35/36,
//! literals only and ignore-end-bits. Expected values come from the catalogue, QPL or the
//! input itself, never from idxd-deflate.

#[path = "ops_util.rs"]
mod util;

use std::io::Read;

use idxd_hw::{AecsWrite, CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, EndProcessing, IaaOp};
use util::*;

#[path = "../../deflate/tests/support/crc64_catalogue.rs"]
mod catalogue;
use catalogue::*;

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn crc64_catalogue_through_the_device() {
    let e = Env::iaa();
    e.put(SRC, b"123456789");
    let mut bad = Vec::new();
    for &(name, width, poly, refl, inv, check) in CATALOGUE {
        let mut flags = Crc64Flags::empty();
        flags.set(Crc64Flags::BE, refl);
        flags.set(Crc64Flags::INVERT, inv);
        let o = e.run_iaa(&build(IaaOp::Crc64 {
            src: SRC,
            len: 9,
            poly: left_justified(width, poly),
            flags,
        }));
        let want = placed(width, refl, check);
        if (o.rec.status, o.rec.crc64()) != (1, want) {
            bad.push(format!(
                "{name}: status {} crc {:#018x}, want {want:#018x}",
                o.rec.status,
                o.rec.crc64()
            ));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Every byte value once: no 4-byte sequence repeats, so the parse has no match and the
/// histogram is known from the input alone.
fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

fn stats_desc(len: u32, max_dst: u32, flags: CompressFlags) -> idxd_hw::IaaDesc {
    build(IaaOp::Compress {
        src: SRC,
        len,
        dst: DST,
        max_dst,
        aecs: 0,
        aecs_size: 0,
        flags,
        crc32c: false,
        aecs_write: AecsWrite::Never,
        aecs_select: false,
    })
}

#[test]
fn statistics_mode_writes_the_histogram_to_the_destination() {
    // QPL hw_iaa_descriptor_init_statistic_collector: destination = hw_iaa_histogram
    // (u32 ll_sym[286], reserved[2], d_sym[30], reserved[2]), max_dst = 1280, no AECS.
    let e = Env::iaa();
    e.put(SRC, &all_bytes());
    e.put(DST, &[0xEE; 1400]);
    e.put(AECS, &[0x5A; 2 * 1568]);
    let mut d = stats_desc(
        256,
        1280,
        CompressFlags::STATS_MODE.with_end_processing(EndProcessing::Eob),
    );
    // The AECS read and write-back flags set, with no AECS (src2 zero, which statistics mode
    // requires): the job must neither read nor write one (address 0 is unmapped, so either
    // would fault). The builder would not produce this descriptor.
    let f = d.flags() | idxd_hw::DescFlags::RD_SRC2_AECS | idxd_hw::DescFlags::WR_SRC2_AECS_ALWAYS;
    d.set_opcode_flags(d.opcode_raw(), f.bits());
    let o = e.run_iaa(&d);
    assert_eq!(o.rec.status, 1);
    let h = e.get(DST, 1280);
    let word = |i: usize| u32::from_le_bytes(h[4 * i..4 * i + 4].try_into().unwrap());
    for b in 0..256 {
        assert_eq!(word(b), 1, "literal {b}");
    }
    assert_eq!(word(256), 1, "the EOB the end processing appends");
    for i in 257..320 {
        assert_eq!(word(i), 0, "word {i}: no match, no distance, reserved zero");
    }
    assert_eq!(e.get(DST + 1280, 120), vec![0xEE; 120], "nothing past 1280 bytes");
    assert_eq!(e.get(AECS, 2 * 1568), vec![0x5A; 2 * 1568], "no AECS written");
    assert_eq!(o.rec.crc, crc32fast::hash(&all_bytes()));
}

#[test]
fn aecs_double_buffering_one_copy_size() {
    // QPL: src2_size = HW_AECS_COMPRESSION_SIZE (one copy), ADOF_AECS_SEL = read index; the
    // device writes copy[read ^ 1] (qpl_hw_check_job.cpp), QPL flips the index after each job.
    let e = Env::iaa();
    let a = b"first chunk of a stream, first chunk of a stream. ".repeat(40);
    let b = b"second chunk, second chunk, second chunk!".repeat(30);
    let c = b"third and last".repeat(20);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    e.put(AECS2, &[0u8; 1568]);
    let mut stream = Vec::new();
    let mut sel = false;
    for (i, part) in [&a[..], &b[..], &c[..]].into_iter().enumerate() {
        let last = i == 2;
        e.put(SRC, part);
        let flags = if last {
            page_flags()
        } else {
            CompressFlags::empty()
        };
        let o = e.run_iaa(&compress(
            part.len() as u32,
            8192,
            1568,
            flags,
            AecsWrite::Always,
            sel,
        ));
        assert_eq!(o.rec.status, 1, "job {i}");
        stream.extend(e.get(DST, o.rec.output_size as usize));
        // The copy just written holds the running CRC of everything so far.
        let written = if sel { AECS } else { AECS2 };
        let so_far: Vec<u8> = [&a[..], &b[..], &c[..]][..=i].concat();
        assert_eq!(
            CompressAecs::from_bytes(&e.get(written, 1568)).unwrap().crc(),
            crc32fast::hash(&so_far),
            "job {i} wrote copy {}",
            !sel as u8
        );
        sel = !sel;
    }
    let whole: Vec<u8> = [&a[..], &b[..], &c[..]].concat();
    assert_eq!(inflate(&stream), whole);
}

#[test]
fn too_many_codes_are_errors_35_and_36() {
    // QPL hw_status.h AD_ERROR_CODE_TOO_MANY_LL_CODES (35) / _D_CODES (36); QPL's
    // inflate_errors.cpp expects them on the hardware path for HLIT > 29 / HDIST > 29.
    let e = Env::iaa();
    // BFINAL=1, BTYPE=10, HLIT=30, HDIST=0, HCLEN=0 (LSB first): 0b0_11110_10_1.
    let hlit = (1u32 | 2 << 1 | 30 << 3).to_le_bytes();
    // HLIT=0, HDIST=30.
    let hdist = (1u32 | 2 << 1 | 30 << 8).to_le_bytes();
    for (bytes, want) in [(hlit, 35), (hdist, 36)] {
        let mut z = bytes.to_vec();
        z.extend([0u8; 8]);
        e.put(SRC, &z);
        let o = e.run_iaa(&decompress(SRC, z.len() as u32, 4096, DecompressFlags::empty()));
        assert_eq!((o.rec.status, o.rec.error_code), (0x0a, want));
    }
}

#[test]
fn literals_only_compress_has_no_match() {
    // QPL ADCF_GEN_LITS: 1000 bytes of one value need 1000 literal codes (8 bits each in the
    // fixed code for 'a'), where matches would take a few bytes.
    let e = Env::iaa();
    let data = vec![b'a'; 1000];
    e.put(SRC, &data);
    e.put(AECS, CompressAecs::fixed().as_bytes());
    let o = e.run_iaa(&compress(
        1000,
        4096,
        1568,
        page_flags() | CompressFlags::GEN_LITS,
        AecsWrite::Never,
        false,
    ));
    assert_eq!(o.rec.status, 1);
    // 3 header bits + 1000 x 8 + 7 EOB bits = 8010 bits = 1002 bytes (RFC 1951 fixed codes).
    assert_eq!(o.rec.output_size, 1002);
    assert_eq!(inflate(&e.get(DST, 1002)), data);
}

#[test]
fn ignore_end_bits_is_accepted_and_applied() {
    // QPL ADDF_IGNORE_END_BITS (decompress flags 8:6). A non-final stored block "abc", then a
    // byte whose low 3 bits (BFINAL=0, BTYPE=00) would start another stored block.
    let e = Env::iaa();
    let z = [0x00, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c', 0b1011_1000];
    e.put(SRC, &z);
    let plain = e.run_iaa(&decompress(SRC, 9, 64, DecompressFlags::empty()));
    assert_eq!((plain.rec.status, plain.rec.error_code), (0x0a, 15));
    let o = e.run_iaa(&decompress(
        SRC,
        9,
        64,
        DecompressFlags::empty().with_ignore_end_bits(5),
    ));
    assert_eq!((o.rec.status, o.rec.output_size), (1, 3));
    assert_eq!(e.get(OUT, 3), b"abc");
}
