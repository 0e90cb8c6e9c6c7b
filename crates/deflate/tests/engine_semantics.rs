//! The hardware semantics of the engine, case by case: compress flags and AECS handling,
//! statistics mode, overflow, decompress flags, and the analytics error code of each kind of
//! malformed stream.

mod engine_support;

use engine_support::{generated_pages, zlib_deflate, zlib_inflate, Rng, PAGE};
use flate2::{Compress, Compression, FlushCompress};
use idxd_deflate::{
    compress, compress_page_dynamic, compress_page_fixed, crc32, crc32c, crc64, decompress, dynamic_aecs,
    dynamic_aecs_with_choice, xor16, EngineError, StreamEnd, TableChoice,
};
use idxd_hw::aecs::{fixed_dist_codes, fixed_ll_codes, Histogram};
use idxd_hw::{
    AnalyticsError, CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, EndProcessing, HuffCode,
};

fn dflags() -> DecompressFlags {
    DecompressFlags::ENABLE
}

fn kernel() -> DecompressFlags {
    DecompressFlags::ENABLE
        | DecompressFlags::FLUSH_OUTPUT
        | DecompressFlags::STOP_ON_EOB
        | DecompressFlags::CHECK_EOB
}

fn cflags(end: EndProcessing, flush: bool) -> CompressFlags {
    let f = if flush {
        CompressFlags::FLUSH_OUTPUT
    } else {
        CompressFlags::empty()
    };
    f.with_end_processing(end)
}

fn text(n: usize) -> Vec<u8> {
    let mut s = Vec::new();
    let mut i = 0u32;
    while s.len() < n {
        s.extend_from_slice(format!("record {i}: value={} name=item{} ", i * 7, i % 13).as_bytes());
        i += 1;
    }
    s.truncate(n);
    s
}

/// The analytics error code of a failed decompress, panicking on success.
fn code_of(r: Result<idxd_deflate::DecompressDone, EngineError>) -> u8 {
    match r {
        Ok(d) => panic!("expected an error, got {d:?}"),
        Err(e) => {
            assert_eq!(e.status().code(), 0x0a, "{e}");
            e.error_code()
        }
    }
}

// ---------------------------------------------------------------- compress

#[test]
fn fixed_mode_output_and_record_fields() {
    let data = text(3000);
    let mut out = vec![0u8; 4096];
    let d = compress_page_fixed(&data, false, &mut out).unwrap();
    assert_eq!(d.crc, crc32(0, &data));
    assert_eq!(d.xor_checksum, xor16(&data));
    assert_eq!((d.pending, d.pending_bits), (0, 0));
    assert!(d.output_bits < 8);
    assert_eq!(zlib_inflate(&out[..d.output_size], data.len()).unwrap(), data);
    // The first three bits are the accumulator's final-fixed-block header.
    assert_eq!(out[0] & 0b111, 0b011);
    let c = compress_page_fixed(&data, true, &mut out).unwrap();
    assert_eq!(c.crc, crc32c(0, &data));
}

#[test]
fn end_processing_variants() {
    let data = text(2000);
    let mut out = vec![0u8; 4096];
    // A non-final fixed block header, so that what follows the EOB is part of the stream.
    let mut nonfinal = CompressAecs::fixed();
    nonfinal.set_accumulator(&[0b010], 3).unwrap();

    // EOB + empty stored block: a sync-flush point, byte aligned, 00 00 ff ff at the end.
    let mut a = nonfinal.clone();
    let r = compress(
        &data,
        &mut a,
        cflags(EndProcessing::EobStored, true),
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(r.output_bits, 0);
    assert_eq!(&out[r.output_size - 4..r.output_size], &[0, 0, 0xff, 0xff]);
    let mut back = vec![0u8; data.len()];
    let d = decompress(&out[..r.output_size], dflags(), false, &mut back).unwrap();
    assert_eq!(d.end, StreamEnd::EndOfInput);
    assert_eq!(back, data);
    // STOP_ON_EOB ends the job at that (non-final) EOB; CHECK_EOB alone wants a final block.
    let d = decompress(&out[..r.output_size], kernel(), false, &mut back).unwrap();
    assert_eq!((d.end, d.output_size), (StreamEnd::StopOnEob, data.len()));
    let check = dflags() | DecompressFlags::CHECK_EOB;
    assert_eq!(
        code_of(decompress(&out[..r.output_size], check, false, &mut back)),
        15
    );

    // EOB + empty final stored block: a complete stream.
    let mut a = nonfinal.clone();
    let r = compress(
        &data,
        &mut a,
        cflags(EndProcessing::EobFinalStored, true),
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(zlib_inflate(&out[..r.output_size], data.len()).unwrap(), data);
    let d = decompress(&out[..r.output_size], check, false, &mut back).unwrap();
    assert_eq!(d.end, StreamEnd::FinalBlock);
    assert_eq!(d.input_consumed, r.output_size);

    // No end processing: the block is left open, exactly the EOB's 7 bits shorter.
    let open = compress(
        &data,
        &mut CompressAecs::fixed(),
        cflags(EndProcessing::None, false),
        false,
        &mut out,
    )
    .unwrap();
    let closed = compress(
        &data,
        &mut CompressAecs::fixed(),
        cflags(EndProcessing::Eob, false),
        false,
        &mut out,
    )
    .unwrap();
    let bits = |r: &idxd_deflate::CompressDone| r.output_size * 8 + r.pending_bits as usize;
    assert_eq!(bits(&open) + 7, bits(&closed));
    // Inflating it runs out inside the block (ones after it cannot read as an EOB).
    let mut a = CompressAecs::fixed();
    let r = compress(&data, &mut a, cflags(EndProcessing::None, false), false, &mut out).unwrap();
    let mut s = out[..r.output_size].to_vec();
    s.push(r.pending | !((1u16 << r.pending_bits) - 1) as u8);
    assert_eq!(code_of(decompress(&s, dflags(), false, &mut back)), 15);
}

#[test]
fn chained_jobs_carry_accumulator_crc_and_xor_through_the_aecs() {
    let a_data = text(1000); // even length: the XOR word pairing continues
    let b_data = text(1777);
    let mut aecs = CompressAecs::fixed();
    let mut out1 = vec![0u8; 4096];
    let r1 = compress(
        &a_data,
        &mut aecs,
        cflags(EndProcessing::None, false),
        false,
        &mut out1,
    )
    .unwrap();
    assert_eq!(r1.output_bits, 0);
    assert_eq!(aecs.accumulator_bits(), r1.pending_bits as u32);
    assert_eq!(aecs.crc(), r1.crc);
    // The written-back AECS drives the next job: its bits come first.
    let mut out2 = vec![0u8; 4096];
    let r2 = compress(
        &b_data,
        &mut aecs,
        cflags(EndProcessing::Eob, true),
        false,
        &mut out2,
    )
    .unwrap();
    let mut stream = out1[..r1.output_size].to_vec();
    stream.extend_from_slice(&out2[..r2.output_size]);
    let whole: Vec<u8> = a_data.iter().chain(&b_data).copied().collect();
    assert_eq!(zlib_inflate(&stream, whole.len()).unwrap(), whole);
    assert_eq!(r2.crc, crc32(0, &whole));
    assert_eq!(r2.xor_checksum, xor16(&whole));
}

#[test]
fn flush_reports_output_bits_and_no_flush_keeps_them() {
    let data = b"abcdefgh".to_vec();
    let mut out = vec![0u8; 64];
    let f = compress(
        &data,
        &mut CompressAecs::fixed(),
        cflags(EndProcessing::Eob, true),
        false,
        &mut out,
    )
    .unwrap();
    // 3 header bits + 8 literals of 8 bits + 7-bit EOB = 74 bits.
    assert_eq!((f.output_size, f.output_bits), (10, 2));
    let n = compress(
        &data,
        &mut CompressAecs::fixed(),
        cflags(EndProcessing::Eob, false),
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!((n.output_size, n.output_bits, n.pending_bits), (9, 0, 2));
}

#[test]
fn statistics_mode_writes_the_histogram_to_the_destination_not_the_aecs() {
    // QPL hw_iaa_descriptor_init_statistic_collector: the histogram (hw_iaa_histogram,
    // 1280 bytes) is the destination; no AECS.
    let data = text(4000);
    let mut aecs = CompressAecs::fixed();
    let flags = CompressFlags::STATS_MODE.with_end_processing(EndProcessing::Eob);
    let mut out = vec![0xEEu8; 2000];
    let r = compress(&data, &mut aecs, flags, false, &mut out).unwrap();
    assert_eq!(r.output_size, 1280);
    assert_eq!(r.crc, crc32(0, &data));
    assert_eq!(aecs, CompressAecs::fixed(), "the AECS is untouched");
    assert!(
        out[1280..].iter().all(|&b| b == 0xEE),
        "nothing past the histogram"
    );
    let h = Histogram::from_bytes(&out).unwrap();
    let (ll, dist) = (h.ll, h.dist);
    assert_eq!(ll[256], 1);
    let matches: u32 = ll[257..].iter().sum();
    assert_eq!(matches, dist.iter().sum::<u32>());
    assert!(matches > 0);
    assert!(dist[24..].iter().all(|&c| c == 0), "no distance beyond 4096");
    let literals: u32 = ll[..256].iter().sum();
    assert!(literals < data.len() as u32);
    // The EOB is counted only when the end processing appends one.
    let mut out2 = vec![0u8; 1280];
    compress(
        &data,
        &mut CompressAecs::new(),
        CompressFlags::STATS_MODE,
        false,
        &mut out2,
    )
    .unwrap();
    assert_eq!(Histogram::from_bytes(&out2).unwrap().ll[256], 0);
    // Less room than the histogram: error 25.
    let e = compress(&data, &mut aecs, flags, false, &mut out[..1279]).unwrap_err();
    assert_eq!(e.error_code(), 25);
}

#[test]
fn literals_only_emits_no_match() {
    // QPL ADCF_GEN_LITS: every byte a literal; in statistics mode no length/distance counts.
    let data = text(4000);
    let mut out = vec![0u8; 1280];
    let flags = (CompressFlags::STATS_MODE | CompressFlags::GEN_LITS).with_end_processing(EndProcessing::Eob);
    compress(&data, &mut CompressAecs::new(), flags, false, &mut out).unwrap();
    let h = Histogram::from_bytes(&out).unwrap();
    assert_eq!(h.ll[..256].iter().sum::<u32>(), 4000);
    assert_eq!(h.ll[257..].iter().sum::<u32>(), 0);
    assert_eq!(h.dist.iter().sum::<u32>(), 0);
    let mut packed = vec![0u8; 8192];
    let f = CompressFlags::GEN_LITS | CompressFlags::FLUSH_OUTPUT;
    let c = compress(
        &data,
        &mut CompressAecs::fixed(),
        f.with_end_processing(EndProcessing::Eob),
        false,
        &mut packed,
    )
    .unwrap();
    assert_eq!(zlib_inflate(&packed[..c.output_size], 8192).unwrap(), data);
}

#[test]
fn compress_overflow_is_error_25_and_nothing_past_max() {
    let mut rng = Rng(7);
    let mut data = vec![0u8; PAGE];
    rng.fill(&mut data);
    let mut big = vec![0xEEu8; 2 * PAGE];
    let need = compress_page_fixed(&data, false, &mut big).unwrap().output_size;
    for max in [0, 1, 100, need - 1] {
        let mut buf = vec![0xEEu8; 2 * PAGE];
        let mut aecs = CompressAecs::fixed();
        let e = compress(
            &data,
            &mut aecs,
            cflags(EndProcessing::Eob, true),
            false,
            &mut buf[..max],
        )
        .unwrap_err();
        assert_eq!(e.status().code(), 0x0a);
        assert_eq!(e.error_code(), 25);
        assert_eq!(e.analytics_error(), Some(AnalyticsError::CompressOutputOverflow));
        assert!(
            buf[max..].iter().all(|&b| b == 0xEE),
            "written past max_dst_size {max}"
        );
        assert_eq!(
            aecs,
            CompressAecs::fixed(),
            "the AECS keeps the state the job started from"
        );
    }
    let mut buf = vec![0u8; need];
    compress_page_fixed(&data, false, &mut buf).unwrap();
}

#[test]
fn missing_or_bad_codes() {
    let mut out = vec![0u8; 8192];
    let mut ll = fixed_ll_codes();
    ll[b'A' as usize] = HuffCode::default();
    let mut a = CompressAecs::fixed();
    a.set_ll_codes(&ll);
    let e = compress(
        b"xxAyy",
        &mut a,
        cflags(EndProcessing::Eob, true),
        false,
        &mut out,
    )
    .unwrap_err();
    // QPL AD_ERROR_CODE_INVALID_HUFFCODE (30): the compressor tried to use an invalid code.
    assert_eq!(e.analytics_error(), Some(AnalyticsError::InvalidHuffCode));
    // Not needed: no error.
    compress(b"xxyy", &mut a, cflags(EndProcessing::Eob, true), false, &mut out).unwrap();

    let mut ll = fixed_ll_codes();
    ll[256] = HuffCode::default();
    let mut a = CompressAecs::fixed();
    a.set_ll_codes(&ll);
    let e = compress(b"xy", &mut a, cflags(EndProcessing::Eob, true), false, &mut out).unwrap_err();
    assert_eq!(e.error_code(), 30, "EOB without a code");
    compress(b"xy", &mut a, cflags(EndProcessing::None, true), false, &mut out).unwrap();

    let mut a = CompressAecs::fixed();
    a.set_dist_codes(&[HuffCode::default(); 30]);
    let e = compress(
        &[7u8; 500],
        &mut a,
        cflags(EndProcessing::Eob, true),
        false,
        &mut out,
    )
    .unwrap_err();
    assert_eq!(e.error_code(), 30);

    let mut a = CompressAecs::fixed();
    a.as_bytes_mut()[idxd_hw::aecs::off::LL_CODES + 4 * 5..][..4]
        .copy_from_slice(&(16u32 << 15).to_le_bytes());
    let e = compress(b"a", &mut a, cflags(EndProcessing::Eob, true), false, &mut out).unwrap_err();
    assert_eq!(e.error_code(), 9);
    let mut a = CompressAecs::fixed();
    a.as_bytes_mut()[idxd_hw::aecs::off::DIST_CODES..][..4]
        .copy_from_slice(&((2u32 << 15) | 7).to_le_bytes());
    assert_eq!(
        compress(b"a", &mut a, cflags(EndProcessing::Eob, true), false, &mut out)
            .unwrap_err()
            .error_code(),
        10
    );

    let mut a = CompressAecs::fixed();
    a.as_bytes_mut()[idxd_hw::aecs::off::NUM_ACC_BITS..][..4].copy_from_slice(&2049u32.to_le_bytes());
    assert_eq!(
        compress(b"a", &mut a, cflags(EndProcessing::Eob, true), false, &mut out)
            .unwrap_err()
            .error_code(),
        1
    );

    // Bit 9 is not defined (QPL ADCF_*); bit 5 (ADCF_COMP_BE) is defined but not modelled.
    for bits in [0x0200, 0x0020] {
        let e = compress(
            b"a",
            &mut CompressAecs::fixed(),
            CompressFlags::from_bits_retain(bits),
            false,
            &mut out,
        );
        assert_eq!(e.unwrap_err().status().code(), 0x30);
    }
}

#[test]
fn canned_tables_other_than_fixed_work() {
    // Any complete code in the tables gives a valid stream once the matching header is in the
    // accumulator: use the dynamic AECS of one input to compress another.
    let a = text(4000);
    let b = text(3000).into_iter().rev().collect::<Vec<u8>>();
    let mut aecs = dynamic_aecs(&a);
    let mut out = vec![0u8; 8192];
    // b may use symbols a did not: then the job fails with 30, else the stream is valid.
    match compress(&b, &mut aecs, cflags(EndProcessing::Eob, true), false, &mut out) {
        Ok(r) => assert_eq!(zlib_inflate(&out[..r.output_size], b.len()).unwrap(), b),
        Err(e) => assert_eq!(e.error_code(), 30),
    }
}

#[test]
fn dynamic_mode_choices() {
    // Nothing to code: the 10 bits of a fixed block beat any dynamic header.
    let (_, c) = dynamic_aecs_with_choice(b"");
    assert_eq!(c, TableChoice::FixedCheaper);
    let (a, c) = dynamic_aecs_with_choice(&text(PAGE));
    assert_eq!(c, TableChoice::Dynamic);
    assert!(a.accumulator_bits() > 3 && a.accumulator_bits() <= 2048);
    assert_eq!(a.accumulator()[0] & 0b111, 0b101, "BFINAL=1, BTYPE=10");
    let mut out = vec![0u8; 2 * PAGE];
    for (i, p) in generated_pages(20)
        .iter()
        .chain([vec![], vec![1], vec![1, 2]].iter())
        .enumerate()
    {
        let d = compress_page_dynamic(p, false, &mut out).unwrap();
        assert_eq!(
            zlib_inflate(&out[..d.output_size], p.len()).unwrap(),
            *p,
            "page {i}"
        );
        let f = compress_page_fixed(p, false, &mut out).unwrap();
        assert!(d.output_size <= f.output_size);
    }
}

// ---------------------------------------------------------------- decompress

#[test]
fn decompress_overflow_is_recoverable() {
    let data = text(10_000);
    let z = zlib_deflate(&data, 6, 12);
    for max in [0, 1, 5000, 9999] {
        let mut buf = vec![0xEEu8; 12_000];
        let e = decompress(&z, kernel(), false, &mut buf[..max]).unwrap_err();
        assert_eq!(e.status().code(), 0x0b);
        assert!(e.is_recoverable());
        assert_eq!(e.produced(), max);
        assert_eq!(&buf[..max], &data[..max]);
        assert!(buf[max..].iter().all(|&b| b == 0xEE));
    }
    let mut buf = vec![0u8; 10_000];
    let d = decompress(&z, kernel(), false, &mut buf).unwrap();
    assert_eq!(d.output_size, 10_000);
    assert_eq!(buf, data);
}

#[test]
fn suppress_output_computes_size_and_checksums_only() {
    // Larger than the private window, so it slides several times.
    let mut rng = Rng(3);
    let mut data = text(150_001);
    for b in data.iter_mut().step_by(7) {
        *b ^= rng.next() as u8 & 1;
    }
    let z = zlib_deflate(&data, 6, 12);
    // (zlib writes several blocks here: no STOP_ON_EOB, which would end at the first.)
    let f = dflags() | DecompressFlags::CHECK_EOB | DecompressFlags::SUPPRESS_OUTPUT;
    let d = decompress(&z, f, false, &mut []).unwrap();
    assert_eq!(d.output_size, data.len());
    assert_eq!(d.crc, crc32(0, &data));
    assert_eq!(d.xor_checksum, xor16(&data));
    let d = decompress(&z, f, true, &mut []).unwrap();
    assert_eq!(d.crc, crc32c(0, &data));
    // Errors still surface.
    let far = zlib_deflate(&[data.clone(), data[..3000].to_vec()].concat(), 9, 15);
    let _ = decompress(&far, f, false, &mut []);
}

#[test]
fn stop_on_eob_and_select_final() {
    // Two blocks: a non-final one (sync flush) and a final one.
    let first = text(3000);
    let second = b"second block, final".repeat(10);
    let mut c = Compress::new_with_window_bits(Compression::new(6), false, 12);
    let mut z = Vec::with_capacity(20_000);
    c.compress_vec(&first, &mut z, FlushCompress::Sync).unwrap();
    let cut = z.len();
    c.compress_vec(&second, &mut z, FlushCompress::Finish).unwrap();
    let whole: Vec<u8> = first.iter().chain(&second).copied().collect();
    let mut out = vec![0u8; 20_000];

    let d = decompress(&z, dflags() | DecompressFlags::STOP_ON_EOB, false, &mut out).unwrap();
    assert_eq!(d.end, StreamEnd::StopOnEob);
    assert_eq!(&out[..d.output_size], &first[..]);
    let d = decompress(
        &z,
        dflags() | DecompressFlags::STOP_ON_EOB | DecompressFlags::SELECT_FINAL_EOB,
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(d.end, StreamEnd::FinalBlock);
    assert_eq!(&out[..d.output_size], &whole[..]);
    let d = decompress(&z, dflags(), false, &mut out).unwrap();
    assert_eq!(&out[..d.output_size], &whole[..]);
    assert_eq!(d.input_consumed, z.len());

    // The first part alone: complete blocks, no final one.
    let d = decompress(&z[..cut], dflags(), false, &mut out).unwrap();
    assert_eq!(d.end, StreamEnd::EndOfInput);
    assert_eq!(&out[..d.output_size], &first[..]);
    assert_eq!(
        code_of(decompress(
            &z[..cut],
            dflags() | DecompressFlags::CHECK_EOB,
            false,
            &mut out
        )),
        15
    );
    // Cut inside a block: always 15.
    assert_eq!(code_of(decompress(&z[..cut / 2], dflags(), false, &mut out)), 15);
    // Trailing garbage after the final block is ignored.
    let mut tail = z.clone();
    tail.extend_from_slice(&[0xff; 9]);
    let d = decompress(&tail, dflags() | DecompressFlags::CHECK_EOB, false, &mut out).unwrap();
    assert_eq!(d.output_size, whole.len());
    assert_eq!(d.input_consumed, z.len());
}

#[test]
fn ignore_end_bits_drops_the_top_bits_of_the_last_byte() {
    // QPL ADDF_IGNORE_END_BITS (bits 8:6): the last byte's top bits are not part of the stream.
    // A non-final stored block "abc", then one byte whose low 3 bits (BFINAL=0, BTYPE=00)
    // would start another stored block; its top 5 bits are garbage.
    let z = [0x00, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c', 0b1011_1000];
    let mut out = [0u8; 16];
    let plain = DecompressFlags::ENABLE;
    // All 8 bits read: a stored block header whose LEN is missing, error 15 (bad end).
    assert_eq!(
        decompress(&z, plain, false, &mut out).unwrap_err().error_code(),
        15
    );
    // Only 3 bits of the byte belong to the stream: fewer than 8 bits at a block boundary,
    // the partial stream ends there.
    let d = decompress(&z, plain.with_ignore_end_bits(5), false, &mut out).unwrap();
    assert_eq!(&out[..d.output_size], b"abc");
    assert_eq!(d.end, idxd_deflate::StreamEnd::EndOfInput);
}

#[test]
fn invalid_decompress_flags() {
    let mut out = [0u8; 16];
    let e = decompress(&[0x03, 0x00], DecompressFlags::empty(), false, &mut out).unwrap_err();
    assert_eq!(e.status().code(), 0x30);
    // Bit 13 is not defined (QPL ADDF_*); bit 5 (ADDF_DECOMP_BE) and indexing (12:10) are
    // defined but not modelled.
    for bits in [0x2001, 0x21, 0x0401] {
        let e = decompress(
            &[0x03, 0x00],
            DecompressFlags::from_bits_retain(bits),
            false,
            &mut out,
        )
        .unwrap_err();
        assert_eq!(e.status().code(), 0x30, "{bits:#x}");
    }
    // An empty final fixed block is fine.
    assert_eq!(
        decompress(&[0x03, 0x00], kernel(), false, &mut out)
            .unwrap()
            .output_size,
        0
    );
}

#[test]
fn crc64_gzip_crc32_is_be_plus_invert() {
    // QPL c_operations_op_crc64.rst: gzip's CRC32 = poly 04C11DB700000000, QPL_FLAG_CRC64_BE
    // and QPL_FLAG_CRC64_INV, result in the low half. The catalogue vectors are in
    // tests/crc64_catalogue.rs.
    let data = text(5000);
    assert_eq!(
        crc64(&data, 0x04C1_1DB7_0000_0000, Crc64Flags::BE | Crc64Flags::INVERT),
        crc32fast::hash(&data) as u64
    );
}

#[test]
fn fixed_dist_codes_are_what_the_fixed_aecs_carries() {
    let a = CompressAecs::fixed();
    for (i, c) in fixed_dist_codes().iter().enumerate() {
        assert_eq!(a.dist_code(i).unwrap(), *c);
    }
}
