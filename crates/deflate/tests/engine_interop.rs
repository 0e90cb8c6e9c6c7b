//! Interoperability of the engine with zlib on the page corpus (or generated pages when the
//! corpus is missing): engine output inflates with zlib, zlib output with a 4 KiB window
//! inflates with the engine, and zlib output that reaches farther fails with error 17.

mod engine_support;

use engine_support::{pages, zlib_deflate, zlib_inflate, PAGE};
use idxd_deflate::{
    compress_page_dynamic, compress_page_fixed, crc32, decompress, dynamic_aecs_with_choice, xor16,
    TableChoice,
};
use idxd_hw::{AnalyticsError, DecompressFlags, IaaStatus};

/// Output room for a page: incompressible pages expand a little in fixed mode.
const ROOM: usize = 2 * PAGE;

/// Flags for a whole stream of any number of blocks. (The kernel's flags add STOP_ON_EOB,
/// which ends a job at the first end-of-block code: right for IAA's one-block output, not for
/// zlib's, which may split a stream into several blocks.)
fn whole_stream() -> DecompressFlags {
    DecompressFlags::ENABLE | DecompressFlags::FLUSH_OUTPUT | DecompressFlags::CHECK_EOB
}

fn kernel_flags() -> DecompressFlags {
    whole_stream() | DecompressFlags::STOP_ON_EOB
}

#[test]
fn engine_output_inflates_with_zlib_fixed_and_dynamic() {
    let (pages, source) = pages(None);
    let mut out = vec![0u8; ROOM];
    let (mut fixed_total, mut dynamic_total, mut raw_total) = (0usize, 0usize, 0usize);
    let mut choices = [0usize; 3];
    for (i, page) in pages.iter().enumerate() {
        let f = compress_page_fixed(page, false, &mut out).unwrap_or_else(|e| panic!("page {i}: {e}"));
        let back =
            zlib_inflate(&out[..f.output_size], PAGE).unwrap_or_else(|e| panic!("fixed page {i}: {e}"));
        assert!(back == *page, "fixed page {i} differs");
        assert_eq!(f.crc, crc32fast::hash(page));
        assert_eq!(f.xor_checksum, xor16(page));
        fixed_total += f.output_size;

        let d = compress_page_dynamic(page, false, &mut out).unwrap_or_else(|e| panic!("page {i}: {e}"));
        let back =
            zlib_inflate(&out[..d.output_size], PAGE).unwrap_or_else(|e| panic!("dynamic page {i}: {e}"));
        assert!(back == *page, "dynamic page {i} differs");
        // And the engine's own inflate, with the kernel's flags, as a verify-after-compress.
        let mut mine = vec![0u8; PAGE];
        let r = decompress(&out[..d.output_size], kernel_flags(), false, &mut mine).unwrap();
        assert!(
            r.output_size == page.len() && mine == *page && r.crc == d.crc,
            "engine inflate of page {i}"
        );
        assert!(
            d.output_size <= f.output_size,
            "page {i}: dynamic {} > fixed {}",
            d.output_size,
            f.output_size
        );
        dynamic_total += d.output_size;
        raw_total += page.len();
        if i % 16 == 0 {
            let (_, c) = dynamic_aecs_with_choice(page);
            choices[match c {
                TableChoice::Dynamic => 0,
                TableChoice::FixedCheaper => 1,
                TableChoice::FixedHeaderTooBig => 2,
            }] += 1;
        }
    }
    println!(
        "{source}: {} pages, fixed ratio {:.3}, dynamic ratio {:.3} (sampled choices dynamic/fixed-cheaper/too-big {choices:?})",
        pages.len(),
        raw_total as f64 / fixed_total as f64,
        raw_total as f64 / dynamic_total as f64
    );
    assert!(
        dynamic_total < fixed_total,
        "dynamic {dynamic_total} !< fixed {fixed_total}"
    );
}

#[test]
fn zlib_window_12_output_inflates_with_the_engine() {
    let (pages, _) = pages(None);
    let mut back = vec![0u8; PAGE];
    for (i, page) in pages.iter().enumerate() {
        let level = [1, 6, 9][i % 3];
        let z = zlib_deflate(page, level, 12);
        let d = decompress(&z, whole_stream(), false, &mut back).unwrap_or_else(|e| panic!("page {i}: {e}"));
        assert_eq!(d.output_size, PAGE);
        assert!(back == *page, "page {i} differs");
        assert_eq!(d.crc, crc32(0, page));
        assert_eq!(d.input_consumed, z.len());
    }
}

#[test]
fn zlib_output_reaching_beyond_4k_fails_with_error_17() {
    // Several corpus pages back to back give zlib (32 KiB window) distances above 4096.
    let (pages, _) = pages(Some(64));
    let data: Vec<u8> = pages.iter().take(16).flatten().copied().collect();
    // Make sure there is a far repeat whatever the pages are.
    let mut data = data;
    let head = data[..2048].to_vec();
    data.extend_from_slice(&vec![0x5a; 8192]);
    data.extend_from_slice(&head);
    let z = zlib_deflate(&data, 9, 15);
    let mut out = vec![0u8; data.len()];
    let e = decompress(&z, whole_stream(), false, &mut out).unwrap_err();
    assert_eq!(e.status(), IaaStatus::AnalyticsError);
    assert_eq!(e.error_code(), 17);
    assert_eq!(e.analytics_error(), Some(AnalyticsError::DistanceTooFar));
    // The same data with a 4 KiB window is fine.
    let z = zlib_deflate(&data, 9, 12);
    let d = decompress(&z, whole_stream(), false, &mut out).unwrap();
    assert_eq!(d.output_size, data.len());
    assert!(out == data);
}

#[test]
fn libdeflate_output_within_4k_inflates_and_engine_output_inflates_with_libdeflate() {
    let (pages, _) = pages(Some(256));
    let mut c = libdeflater::Compressor::new(libdeflater::CompressionLvl::new(6).unwrap());
    let mut d = libdeflater::Decompressor::new();
    let mut buf = vec![0u8; ROOM];
    let mut back = vec![0u8; PAGE];
    for (i, page) in pages.iter().enumerate() {
        // A single page never needs a distance above 4096.
        let n = c.deflate_compress(page, &mut buf).unwrap();
        let r = decompress(&buf[..n], whole_stream(), false, &mut back)
            .unwrap_or_else(|e| panic!("page {i}: {e}"));
        assert_eq!(r.output_size, PAGE);
        assert!(back == *page);
        let e = compress_page_dynamic(page, false, &mut buf).unwrap();
        let n = d.deflate_decompress(&buf[..e.output_size], &mut back).unwrap();
        assert_eq!(n, PAGE);
        assert!(back == *page);
    }
}
