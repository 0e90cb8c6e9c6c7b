//! The analytics error code of each kind of malformed deflate stream, on hand-made streams.

mod engine_support;

use engine_support::Bits;
use idxd_deflate::{decompress, DecompressDone, EngineError, WINDOW};
use idxd_hw::DecompressFlags;

fn dflags() -> DecompressFlags {
    DecompressFlags::ENABLE
}

fn kernel() -> DecompressFlags {
    DecompressFlags::ENABLE
        | DecompressFlags::FLUSH_OUTPUT
        | DecompressFlags::STOP_ON_EOB
        | DecompressFlags::CHECK_EOB
}

/// The analytics error code of a failed decompress, panicking on success.
fn code_of(r: Result<DecompressDone, EngineError>) -> u8 {
    match r {
        Ok(d) => panic!("expected an error, got {d:?}"),
        Err(e) => {
            assert_eq!(e.status().code(), 0x0a, "{e}");
            e.error_code()
        }
    }
}

fn inflate_code(stream: &[u8]) -> u8 {
    let mut out = vec![0u8; 1 << 16];
    code_of(decompress(stream, dflags(), false, &mut out))
}

#[test]
fn block_level_errors() {
    // Block type 11.
    assert_eq!(inflate_code(&[0b111]), 13);
    // Stored: LEN != ~NLEN.
    assert_eq!(inflate_code(&[0x01, 0x05, 0x00, 0x00, 0x00, 1, 2, 3, 4, 5]), 14);
    // Stored, truncated data and truncated LEN.
    assert_eq!(inflate_code(&[0x01, 0x05, 0x00, 0xfa, 0xff, b'a', b'b']), 15);
    assert_eq!(inflate_code(&[0x01, 0x05]), 15);
    // A correct stored block.
    let mut out = [0u8; 8];
    let d = decompress(
        &[0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'],
        kernel(),
        false,
        &mut out,
    )
    .unwrap();
    assert_eq!(&out[..d.output_size], b"abc");
}

#[test]
fn symbol_level_errors_in_fixed_blocks() {
    let fixed = || {
        let mut b = Bits::default();
        b.put(1, 1).put(1, 2);
        b
    };
    // Length symbol 286: 16 "bad length".
    let mut b = fixed();
    b.fixed_ll(b'a' as u32).fixed_ll(286).fixed_ll(256);
    assert_eq!(inflate_code(&b.bytes), 16);
    // Distance symbol 30: 12.
    let mut b = fixed();
    b.fixed_ll(b'a' as u32).fixed_ll(257).code(30, 5).fixed_ll(256);
    assert_eq!(inflate_code(&b.bytes), 12);
    // A match before any output: 18.
    let mut b = fixed();
    b.fixed_match(3, 1).fixed_ll(256);
    assert_eq!(inflate_code(&b.bytes), 18);
    // Distance 4097 after 5000 literals: 17; distance 4096 is fine.
    for (dist, want) in [(4097u32, Some(17u8)), (4096, None)] {
        let mut b = fixed();
        for i in 0..5000u32 {
            b.fixed_ll(i % 251);
        }
        b.fixed_match(10, dist).fixed_ll(256);
        let mut out = vec![0u8; 6000];
        let r = decompress(&b.bytes, kernel(), false, &mut out);
        match want {
            Some(c) => assert_eq!(code_of(r), c),
            None => assert_eq!(r.unwrap().output_size, 5010),
        }
    }
    assert_eq!(WINDOW, 4096);
}

/// Writes a dynamic header with the given code-length code lengths (in CL_ORDER order) and
/// the code-length symbols (as (code, len) pairs plus extra bits) the caller supplies.
fn dyn_header(hlit: u32, hdist: u32, cl_in_order: &[u32]) -> Bits {
    let mut b = Bits::default();
    b.put(1, 1)
        .put(2, 2)
        .put(hlit, 5)
        .put(hdist, 5)
        .put(cl_in_order.len() as u32 - 4, 4);
    for &l in cl_in_order {
        b.put(l, 3);
    }
    b
}

#[test]
fn dynamic_header_errors() {
    // HLIT = 30 (287 codes): 35. HDIST = 30 (31 codes): 36. QPL hw_status.h
    // AD_ERROR_CODE_TOO_MANY_LL_CODES / _D_CODES; QPL's inflate_errors.cpp expects 235 / 236
    // (QPL_STS_TOO_MANY_*_CODES_ERR = 200 + code) on the hardware path for these headers.
    assert_eq!(inflate_code(&dyn_header(30, 0, &[1, 1, 1, 1]).bytes), 35);
    assert_eq!(inflate_code(&dyn_header(0, 30, &[1, 1, 1, 1]).bytes), 36);
    assert_eq!(inflate_code(&dyn_header(31, 31, &[1, 1, 1, 1]).bytes), 35);
    // Code-length code: all zero, over-subscribed, incomplete: 8.
    assert_eq!(inflate_code(&dyn_header(0, 0, &[0, 0, 0, 0]).bytes), 8);
    assert_eq!(inflate_code(&dyn_header(0, 0, &[1, 1, 1, 0]).bytes), 8);
    assert_eq!(inflate_code(&dyn_header(0, 0, &[2, 2, 2, 0]).bytes), 8);

    // CL code: symbols 16, 17, 18 and 0 with 2-bit codes; canonical order is by symbol, so
    // 0 = 00, 16 = 01, 17 = 10, 18 = 11.
    let cl = [2, 2, 2, 2];
    // First symbol is 16: 3.
    let mut b = dyn_header(0, 0, &cl);
    b.code(0b01, 2).put(0, 2);
    assert_eq!(inflate_code(&b.bytes), 3);
    // A repeat running past the end (258 lengths: 18 x 138 then 18 x 138): 9.
    let mut b = dyn_header(0, 0, &cl);
    b.code(0b11, 2).put(127, 7).code(0b11, 2).put(127, 7);
    assert_eq!(inflate_code(&b.bytes), 9);
    // All literal/length lengths zero (138 + 119 zeros), one zero distance length: 5.
    let mut b = dyn_header(0, 0, &cl);
    b.code(0b11, 2)
        .put(127, 7)
        .code(0b11, 2)
        .put(119 - 11, 7)
        .code(0b00, 2);
    assert_eq!(inflate_code(&b.bytes), 5);

    // CL code with symbols 1, 2, 0, 18 usable: order positions 16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1
    // lengths: 18 -> 2, 0 -> 2, 2 -> 2, 1 -> 2 (codes by symbol order 0,1,2,18: 00,01,10,11).
    let mut order_lens = [0u32; 18];
    order_lens[2] = 2; // 18
    order_lens[3] = 2; // 0
    order_lens[15] = 2; // 2
    order_lens[17] = 2; // 1
    let sym = |b: &mut Bits, s: u32| {
        let code = match s {
            0 => 0b00,
            1 => 0b01,
            2 => 0b10,
            _ => 0b11,
        };
        b.code(code, 2);
    };
    // 257 literal/length lengths then 1 distance length.
    let lengths = |ll: &[u32], d: u32| {
        let mut b = dyn_header(0, 0, &order_lens);
        for &l in ll {
            sym(&mut b, l);
        }
        sym(&mut b, d);
        b
    };
    // LL: three codes of length 1: over-subscribed: 9.
    let mut ll = vec![0u32; 257];
    ll[0] = 1;
    ll[1] = 1;
    ll[256] = 1;
    assert_eq!(inflate_code(&lengths(&ll, 1).bytes), 9);
    // LL: two codes of length 2: incomplete: 9.
    let mut ll = vec![0u32; 257];
    ll[0] = 2;
    ll[256] = 2;
    assert_eq!(inflate_code(&lengths(&ll, 1).bytes), 9);
    // LL without an EOB code: 9.
    let mut ll = vec![0u32; 257];
    ll[0] = 1;
    ll[1] = 1;
    assert_eq!(inflate_code(&lengths(&ll, 1).bytes), 9);
    // Distance code of one 2-bit length: incomplete: 10.
    let mut ll = vec![0u32; 257];
    ll[0] = 1;
    ll[256] = 1;
    assert_eq!(inflate_code(&lengths(&ll, 2).bytes), 10);
    // A valid header: literal 0 = "0", EOB = "1", one distance code of length 1 (allowed).
    let mut b = lengths(&ll, 1);
    b.code(0, 1).code(0, 1).code(1, 1);
    let mut out = [0u8; 4];
    let d = decompress(&b.bytes, kernel(), false, &mut out).unwrap();
    assert_eq!(&out[..d.output_size], &[0, 0]);
    // No distance codes at all is fine until a match needs one: length 3 (257) has no code,
    // so use a tree with 257: literal 0 = 0, EOB = 10, 257 = 11.
    let mut ll = vec![0u32; 258];
    ll[0] = 1;
    ll[256] = 2;
    ll[257] = 2;
    let mut b = dyn_header(1, 0, &order_lens);
    for &l in &ll {
        sym(&mut b, l);
    }
    sym(&mut b, 0);
    b.code(0, 1).code(0b11, 2).code(0b10, 2).put(0, 32);
    assert_eq!(inflate_code(&b.bytes), 12);
    // An undefined code-length code pattern (single one-bit CL code, bit pattern 1): 2.
    let mut single = [0u32; 4];
    single[3] = 1; // symbol 0 has the only code, "0"
    let mut b = dyn_header(0, 0, &single);
    b.code(1, 1).put(0, 32);
    assert_eq!(inflate_code(&b.bytes), 2);
    // The same pattern at the very end of the input reads as a truncated stream.
    let mut b = dyn_header(0, 0, &single);
    b.code(1, 1);
    assert_eq!(inflate_code(&b.bytes), 15);
}
