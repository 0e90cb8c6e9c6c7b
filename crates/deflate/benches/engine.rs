//! Throughput of the IAA engine beside libdeflate level 1 and zlib level 1 (4 KiB window), page
//! by page, on the shared corpus (generated pages when it is missing).
//!
//! `cargo bench -p idxd-deflate --bench engine -- --warm-up-time 1 --measurement-time 3`
//! `ENGINE_BENCH_PAGES=N` picks how many pages per corpus file (default 256, spread evenly).

#[path = "../tests/engine_support/mod.rs"]
mod engine_support;

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use idxd_deflate::{
    compress, compress_page_dynamic, compress_page_fixed, decompress, dynamic_aecs, page_flags,
};
use idxd_hw::{CompressAecs, DecompressFlags};
use libdeflater::{CompressionLvl, Compressor, Decompressor};

use engine_support::{pages, PAGE};

const ROOM: usize = 2 * PAGE;

fn load() -> Vec<Vec<u8>> {
    let per_file = std::env::var("ENGINE_BENCH_PAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let (p, source) = pages(Some(per_file));
    eprintln!("engine bench: {} pages from {source}", p.len());
    p
}

fn zlib1(c: &mut Compress, page: &[u8], out: &mut [u8]) -> usize {
    c.reset();
    let before = c.total_out();
    c.compress(page, out, FlushCompress::Finish).expect("zlib");
    (c.total_out() - before) as usize
}

fn zlib_inflate(d: &mut Decompress, z: &[u8], out: &mut [u8]) -> usize {
    d.reset(false);
    d.decompress(z, out, FlushDecompress::Finish)
        .expect("zlib inflate");
    d.total_out() as usize
}

fn ratios(pages: &[Vec<u8>]) {
    let mut out = vec![0u8; ROOM];
    let raw: usize = pages.iter().map(|p| p.len()).sum();
    let mut lz = Compressor::new(CompressionLvl::new(1).expect("level 1"));
    let mut z = Compress::new_with_window_bits(Compression::new(1), false, 12);
    let (mut f, mut d, mut l, mut zz) = (0, 0, 0, 0);
    for p in pages {
        f += compress_page_fixed(p, false, &mut out)
            .map(|r| r.output_size)
            .unwrap_or(ROOM);
        d += compress_page_dynamic(p, false, &mut out)
            .map(|r| r.output_size)
            .unwrap_or(ROOM);
        l += lz.deflate_compress(p, &mut out).unwrap_or(ROOM);
        zz += zlib1(&mut z, p, &mut out);
    }
    let r = |n: usize| raw as f64 / n as f64;
    eprintln!(
        "ratios: engine fixed {:.3}, engine dynamic {:.3}, libdeflate L1 {:.3}, zlib L1 wb12 {:.3}",
        r(f),
        r(d),
        r(l),
        r(zz)
    );
}

fn bench(c: &mut Criterion) {
    let pages = load();
    ratios(&pages);
    let raw: u64 = pages.iter().map(|p| p.len() as u64).sum();
    let mut out = vec![0u8; ROOM];

    let mut g = c.benchmark_group("compress");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("engine_fixed", |b| {
        let mut aecs = CompressAecs::fixed();
        let fixed = CompressAecs::fixed();
        b.iter(|| {
            for p in &pages {
                aecs.clone_from(&fixed);
                black_box(
                    compress(p, &mut aecs, page_flags(), false, &mut out)
                        .map(|r| r.output_size)
                        .ok(),
                );
            }
        })
    });
    g.bench_function("engine_dynamic", |b| {
        b.iter(|| {
            for p in &pages {
                let mut aecs = dynamic_aecs(p);
                black_box(
                    compress(p, &mut aecs, page_flags(), false, &mut out)
                        .map(|r| r.output_size)
                        .ok(),
                );
            }
        })
    });
    g.bench_function("libdeflate_l1", |b| {
        let mut lz = Compressor::new(CompressionLvl::new(1).expect("level 1"));
        b.iter(|| {
            for p in &pages {
                black_box(lz.deflate_compress(p, &mut out).ok());
            }
        })
    });
    g.bench_function("zlib_l1_wb12", |b| {
        let mut z = Compress::new_with_window_bits(Compression::new(1), false, 12);
        b.iter(|| {
            for p in &pages {
                black_box(zlib1(&mut z, p, &mut out));
            }
        })
    });
    g.finish();

    // Inflate the same streams with each decoder: the engine's dynamic-mode output (valid for
    // all three: a 4 KiB window).
    let streams: Vec<Vec<u8>> = pages
        .iter()
        .map(|p| {
            let n = compress_page_dynamic(p, false, &mut out)
                .expect("compress")
                .output_size;
            out[..n].to_vec()
        })
        .collect();
    let flags = DecompressFlags::ENABLE | DecompressFlags::STOP_ON_EOB | DecompressFlags::CHECK_EOB;
    let mut back = vec![0u8; PAGE];
    let mut g = c.benchmark_group("inflate");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("engine", |b| {
        b.iter(|| {
            for s in &streams {
                black_box(decompress(s, flags, false, &mut back).map(|r| r.output_size).ok());
            }
        })
    });
    g.bench_function("libdeflate", |b| {
        let mut d = Decompressor::new();
        b.iter(|| {
            for s in &streams {
                black_box(d.deflate_decompress(s, &mut back).ok());
            }
        })
    });
    g.bench_function("zlib", |b| {
        let mut d = Decompress::new_with_window_bits(false, 15);
        b.iter(|| {
            for s in &streams {
                black_box(zlib_inflate(&mut d, s, &mut back));
            }
        })
    });
    g.finish();

    // The record checksums alone: the engine's CRC32 (crc32fast inside, so close to the
    // crc32fast row), its table-driven CRC32C, and crc32fast itself (carry-less multiplication
    // where the CPU has it).
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Bytes(raw));
    g.bench_function("engine_crc32", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(idxd_deflate::crc32(0, p));
            }
        })
    });
    g.bench_function("engine_crc32c_table", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(idxd_deflate::crc32c(0, p));
            }
        })
    });
    g.bench_function("crc32fast", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(crc32fast::hash(p));
            }
        })
    });
    g.bench_function("engine_xor16", |b| {
        b.iter(|| {
            for p in &pages {
                black_box(idxd_deflate::xor16(p));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
