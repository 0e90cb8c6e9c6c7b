//! Property tests: whatever the input, decompress ends in success or a hardware status/error
//! code without panicking or writing outside its buffer; compress/decompress round trips under
//! every flag combination that makes sense; overflow behaves as the hardware's.

mod engine_support;

use engine_support::{zlib_deflate, zlib_inflate, Bits};
use idxd_deflate::{
    compress, compress_page_dynamic, compress_page_fixed, crc32, crc32c, decompress, dynamic_aecs, xor16,
    CompressDone, DecompressDone, EngineError,
};
use idxd_hw::{AnalyticsError, CompressAecs, CompressFlags, DecompressFlags, EndProcessing};
use proptest::prelude::*;

const CANARY: u8 = 0xA5;

/// Inputs: random, repetitive, small-alphabet, and runs.
fn data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..3000),
        (prop::collection::vec(any::<u8>(), 1..24), 1..300usize).prop_map(|(p, n)| p.repeat(n)),
        prop::collection::vec(0u8..4, 0..6000),
        prop::collection::vec((any::<u8>(), 1..300usize), 0..40)
            .prop_map(|runs| runs.into_iter().flat_map(|(b, n)| vec![b; n]).collect()),
    ]
}

/// Decompress flag sets a driver may use (ENABLE always set).
fn dflags() -> impl Strategy<Value = DecompressFlags> {
    (0u16..32).prop_map(|bits| {
        let mut f = DecompressFlags::ENABLE;
        for (i, flag) in [
            DecompressFlags::FLUSH_OUTPUT,
            DecompressFlags::STOP_ON_EOB,
            DecompressFlags::CHECK_EOB,
            DecompressFlags::SELECT_FINAL_EOB,
            DecompressFlags::SUPPRESS_OUTPUT,
        ]
        .into_iter()
        .enumerate()
        {
            if bits >> i & 1 != 0 {
                f |= flag;
            }
        }
        f
    })
}

/// Runs decompress into a canary-guarded buffer and checks that the outcome is one a
/// completion record can carry and that nothing was written past `max`.
fn run_checked(
    input: &[u8],
    flags: DecompressFlags,
    max: usize,
) -> Result<(DecompressDone, Vec<u8>), EngineError> {
    let mut buf = vec![CANARY; max + 64];
    let r = decompress(input, flags, false, &mut buf[..max]);
    assert!(buf[max..].iter().all(|&b| b == CANARY), "wrote past max_dst_size");
    let suppress = flags.contains(DecompressFlags::SUPPRESS_OUTPUT);
    if suppress {
        assert!(
            buf[..max].iter().all(|&b| b == CANARY),
            "wrote with output suppressed"
        );
    }
    match r {
        Ok(d) => {
            assert!(suppress || d.output_size <= max);
            assert!(d.input_consumed <= input.len());
            buf.truncate(if suppress { 0 } else { d.output_size });
            Ok((d, buf))
        }
        Err(e) => {
            match e.status().code() {
                0x0a => assert!(AnalyticsError::from_code(e.error_code()).is_some(), "{e}"),
                0x0b => assert!(!suppress && e.produced() == max, "{e}"),
                other => panic!("unexpected status {other:#x} for valid flags"),
            }
            assert!(suppress || e.produced() <= max);
            Err(e)
        }
    }
}

fn page_compress(data: &[u8], dynamic: bool, crc32c: bool) -> (CompressDone, Vec<u8>) {
    let mut out = vec![0u8; data.len() * 2 + 64];
    let d = if dynamic {
        compress_page_dynamic(data, crc32c, &mut out)
    } else {
        compress_page_fixed(data, crc32c, &mut out)
    }
    .expect("room enough");
    out.truncate(d.output_size);
    (d, out)
}

#[derive(Clone, Debug)]
enum Mutation {
    Truncate(usize),
    FlipBit(usize),
    SetByte(usize, u8),
    Splice(usize, Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Truncate),
        any::<usize>().prop_map(Mutation::FlipBit),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, v)| Mutation::Splice(i, v)),
    ]
}

fn mutate(mut s: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if s.is_empty() {
            break;
        }
        let n = s.len();
        match m {
            Mutation::Truncate(i) => s.truncate(i % n),
            Mutation::FlipBit(i) => s[(i / 8) % n] ^= 1 << (i % 8),
            Mutation::SetByte(i, v) => s[i % n] = *v,
            Mutation::Splice(i, v) => {
                let at = i % n;
                s.splice(at..at, v.iter().copied());
            }
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_end_in_a_record_outcome(input in prop::collection::vec(any::<u8>(), 0..600),
                                            flags in dflags(), max in 0usize..5000) {
        let _ = run_checked(&input, flags, max);
    }

    #[test]
    fn mutated_streams_end_in_a_record_outcome(data in data(), dynamic in any::<bool>(),
                                               muts in prop::collection::vec(mutation(), 1..4),
                                               flags in dflags()) {
        let (_, s) = page_compress(&data, dynamic, false);
        let bad = mutate(s, &muts);
        let _ = run_checked(&bad, flags, data.len() + 100);
    }

    #[test]
    fn truncated_streams_fail_with_15(data in prop::collection::vec(any::<u8>(), 1..2000),
                                      dynamic in any::<bool>(), cut in any::<usize>()) {
        let (_, s) = page_compress(&data, dynamic, false);
        // Cutting one byte or more off a one-block stream always ends inside the block (and
        // leaves at least 8 bits, so it is not an empty, block-aligned input).
        let cut = 1 + cut % (s.len() - 1).max(1);
        prop_assume!(cut < s.len());
        let r = run_checked(&s[..cut], DecompressFlags::ENABLE, data.len());
        let e = r.expect_err("a truncated stream cannot succeed");
        prop_assert_eq!(e.error_code(), 15);
    }

    #[test]
    fn adversarial_dynamic_headers(hlit in 0u32..32, hdist in 0u32..32, hclen in 0u32..16,
                                   cl in prop::collection::vec(0u32..8, 19),
                                   tail in prop::collection::vec(any::<u8>(), 0..400),
                                   flags in dflags()) {
        let mut b = Bits::default();
        b.put(1, 1).put(2, 2).put(hlit, 5).put(hdist, 5).put(hclen, 4);
        for &l in &cl[..(hclen + 4) as usize] {
            b.put(l, 3);
        }
        let mut s = b.bytes;
        s.extend_from_slice(&tail);
        let _ = run_checked(&s, flags, 3000);
    }

    #[test]
    fn stored_blocks_with_oversize_lengths(len in any::<u16>(), nlen_ok in any::<bool>(), nlen in any::<u16>(),
                                           body in prop::collection::vec(any::<u8>(), 0..300)) {
        let nlen = if nlen_ok { !len } else { nlen };
        let mut s = vec![0x01];
        s.extend_from_slice(&len.to_le_bytes());
        s.extend_from_slice(&nlen.to_le_bytes());
        s.extend_from_slice(&body);
        match run_checked(&s, DecompressFlags::ENABLE, 70_000) {
            Ok((d, out)) => {
                prop_assert!(len == !nlen && (len as usize) <= body.len());
                prop_assert_eq!(&out[..], &body[..len as usize]);
                prop_assert_eq!(d.output_size, len as usize);
            }
            Err(e) if len != !nlen => prop_assert_eq!(e.error_code(), 14),
            Err(e) => prop_assert_eq!(e.error_code(), 15),
        }
    }

    #[test]
    fn round_trip_pages(data in data(), dynamic in any::<bool>(), use_crc32c in any::<bool>(), flags in dflags()) {
        let (c, s) = page_compress(&data, dynamic, use_crc32c);
        prop_assert_eq!(c.crc, if use_crc32c { crc32c(0, &data) } else { crc32(0, &data) });
        prop_assert_eq!(c.xor_checksum, xor16(&data));
        prop_assert_eq!(zlib_inflate(&s, data.len()).unwrap(), data.clone());
        let mut out = vec![0u8; data.len()];
        let d = decompress(&s, flags, use_crc32c, &mut out).unwrap();
        prop_assert_eq!(d.output_size, data.len());
        prop_assert_eq!(d.crc, c.crc);
        prop_assert_eq!(d.xor_checksum, c.xor_checksum);
        prop_assert_eq!(d.input_consumed, s.len());
        if !flags.contains(DecompressFlags::SUPPRESS_OUTPUT) {
            prop_assert_eq!(out, data);
        }
    }

    #[test]
    fn round_trip_every_end_processing(data in data(), dynamic in any::<bool>(), end in 1u16..4,
                                       flush in any::<bool>(), final_header in any::<bool>()) {
        // A header in the accumulator, final or not, then each end processing, flushed or not
        // (an unflushed job's pending bits are what the next job would emit: append them).
        let mut aecs = if dynamic { dynamic_aecs(&data) } else { CompressAecs::fixed() };
        if !final_header {
            let mut acc = aecs.accumulator().to_vec();
            acc[0] &= !1;
            let n = aecs.accumulator_bits();
            aecs.set_accumulator(&acc, n).unwrap();
        }
        let ep = EndProcessing::from_bits(end);
        let flags = CompressFlags::empty().with_end_processing(ep)
            | if flush { CompressFlags::FLUSH_OUTPUT } else { CompressFlags::empty() };
        let mut out = vec![0u8; data.len() * 2 + 64];
        let c = compress(&data, &mut aecs, flags, false, &mut out).unwrap();
        let mut s = out[..c.output_size].to_vec();
        if c.pending_bits > 0 {
            prop_assert!(!flush);
            s.push(c.pending);
        }
        prop_assert_eq!(aecs.accumulator_bits(), c.pending_bits as u32);
        let complete = final_header || ep == EndProcessing::EobFinalStored;
        let check = DecompressFlags::ENABLE | DecompressFlags::CHECK_EOB;
        let mut back = vec![0u8; data.len()];
        match decompress(&s, check, false, &mut back) {
            Ok(d) => {
                prop_assert!(complete);
                prop_assert_eq!(d.output_size, data.len());
                prop_assert_eq!(&back, &data);
            }
            Err(e) => {
                prop_assert!(!complete);
                prop_assert_eq!(e.error_code(), 15);
                // Without CHECK_EOB the partial stream is fine.
                let d = decompress(&s, DecompressFlags::ENABLE, false, &mut back).unwrap();
                prop_assert_eq!(d.output_size, data.len());
                prop_assert_eq!(&back, &data);
            }
        }
    }

    #[test]
    fn chained_compress_jobs(data in data(), split in any::<usize>()) {
        let split = if data.is_empty() { 0 } else { (split % data.len()) & !1 };
        let mut aecs = CompressAecs::fixed();
        let mut out = vec![0u8; data.len() * 2 + 64];
        let a = compress(&data[..split], &mut aecs, CompressFlags::empty(), false, &mut out).unwrap();
        let mut s = out[..a.output_size].to_vec();
        let flags = CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob);
        let b = compress(&data[split..], &mut aecs, flags, false, &mut out).unwrap();
        s.extend_from_slice(&out[..b.output_size]);
        prop_assert_eq!(b.crc, crc32(0, &data));
        prop_assert_eq!(b.xor_checksum, xor16(&data));
        prop_assert_eq!(zlib_inflate(&s, data.len()).unwrap(), data);
    }

    #[test]
    fn compress_overflow(data in prop::collection::vec(any::<u8>(), 1..3000), dynamic in any::<bool>(),
                         frac in 0.0f64..1.0) {
        let (c, _) = page_compress(&data, dynamic, false);
        let max = ((c.output_size as f64) * frac) as usize;
        let mut aecs = if dynamic { dynamic_aecs(&data) } else { CompressAecs::fixed() };
        let before = aecs.clone();
        let mut buf = vec![CANARY; c.output_size + 64];
        let flags = CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob);
        let e = compress(&data, &mut aecs, flags, false, &mut buf[..max]).unwrap_err();
        prop_assert_eq!(e.error_code(), 25);
        prop_assert!(buf[max..].iter().all(|&b| b == CANARY));
        prop_assert_eq!(aecs, before);
    }

    #[test]
    fn decompress_overflow_then_success(data in prop::collection::vec(any::<u8>(), 1..3000)
                                              .prop_map(|v| v.repeat(2)),
                                        dynamic in any::<bool>(), frac in 0.0f64..1.0) {
        let (_, s) = page_compress(&data, dynamic, false);
        let max = ((data.len() as f64) * frac) as usize;
        let e = run_checked(&s, DecompressFlags::ENABLE | DecompressFlags::CHECK_EOB, max).unwrap_err();
        prop_assert_eq!(e.status().code(), 0x0b);
        prop_assert_eq!(e.produced(), max);
        let mut out = vec![0u8; max];
        let _ = decompress(&s, DecompressFlags::ENABLE, false, &mut out);
        prop_assert_eq!(&out[..], &data[..max]);
        let (d, out) = run_checked(&s, DecompressFlags::ENABLE | DecompressFlags::CHECK_EOB, data.len()).unwrap();
        prop_assert_eq!(d.output_size, data.len());
        prop_assert_eq!(out, data);
    }

    #[test]
    fn zlib_4k_window_streams_inflate(data in data(), level in 0u32..10) {
        let z = zlib_deflate(&data, level, 12);
        let (d, out) = run_checked(&z, DecompressFlags::ENABLE | DecompressFlags::CHECK_EOB, data.len()).unwrap();
        prop_assert_eq!(d.output_size, data.len());
        prop_assert_eq!(out, data);
    }
}
