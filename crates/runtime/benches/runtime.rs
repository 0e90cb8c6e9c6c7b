//! Runtime throughput on corpus pages, all in one run:
//! - software codecs through the runtime beside direct calls of the same library (target:
//!   runtime >= 0.97x direct);
//! - 1 vs 2 threads (target >= 1.8x on a machine with two free cores);
//! - the emulated IAA path at batch sizes 1, 4, 8, 16.
//!
//! `cargo bench -p idxd-runtime --bench runtime` (add `-- --warm-up-time 1 --measurement-time 3`
//! for a short run). Uses ../shared/corpus when present, else the built-in mix.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flate2::{Compress, Compression, FlushCompress};
use idxd_runtime::corpus::{pages_or_builtin, PAGE};
use idxd_runtime::{Algorithm, IaaMode, RuntimeBuilder};

const N: usize = 256;

fn pages() -> Vec<Vec<u8>> {
    let (all, _) = pages_or_builtin(4096);
    // Non-zero pages, spread over the corpus.
    let nz: Vec<Vec<u8>> = all.into_iter().filter(|p| p.iter().any(|&b| b != 0)).collect();
    let step = (nz.len() / N).max(1);
    nz.into_iter().step_by(step).take(N).collect()
}

fn software(c: &mut Criterion) {
    let pages = pages();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut g = c.benchmark_group("software");
    g.throughput(Throughput::Bytes((pages.len() * PAGE) as u64));
    for alg in [
        Algorithm::Zstd { level: 1 },
        Algorithm::Lz4,
        Algorithm::Deflate { level: 1 },
    ] {
        let rt = RuntimeBuilder::new().algorithm(alg).build().unwrap();
        let mut ctx = rt.context();
        let mut outs = vec![vec![0u8; PAGE]; pages.len()];
        g.bench_function(BenchmarkId::new("runtime", alg.to_string()), |b| {
            b.iter(|| {
                let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                black_box(ctx.compress(&srcs, &mut dsts));
            })
        });
        let mut out = vec![0u8; PAGE];
        match alg {
            Algorithm::Zstd { level } => {
                let mut z = zstd::bulk::Compressor::new(level).unwrap();
                g.bench_function(BenchmarkId::new("direct", alg.to_string()), |b| {
                    b.iter(|| {
                        for p in &srcs {
                            black_box(z.compress_to_buffer(p, &mut out[..]).ok());
                        }
                    })
                });
            }
            Algorithm::Lz4 => {
                let mut scratch = vec![0u8; lz4_flex::block::get_maximum_output_size(PAGE)];
                g.bench_function(BenchmarkId::new("direct", alg.to_string()), |b| {
                    b.iter(|| {
                        for p in &srcs {
                            let n = lz4_flex::block::compress_into(p, &mut scratch).unwrap();
                            if n <= PAGE {
                                out[..n].copy_from_slice(&scratch[..n]);
                            }
                            black_box(n);
                        }
                    })
                });
            }
            _ => {
                let mut z = Compress::new_with_window_bits(Compression::new(1), false, 12);
                g.bench_function(BenchmarkId::new("direct", alg.to_string()), |b| {
                    b.iter(|| {
                        for p in &srcs {
                            z.reset();
                            black_box(z.compress(p, &mut out, FlushCompress::Finish).ok());
                        }
                    })
                });
            }
        }
    }
    g.finish();
}

fn threads(c: &mut Criterion) {
    let pages = pages();
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Zstd { level: 1 })
        .build()
        .unwrap();
    let mut g = c.benchmark_group("threads");
    g.throughput(Throughput::Bytes((2 * pages.len() * PAGE) as u64));
    for t in [1usize, 2] {
        g.bench_function(BenchmarkId::new("zstd-1", t), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for k in 0..t {
                        let rt = rt.clone();
                        let pages = &pages;
                        s.spawn(move || {
                            let mut ctx = rt.context();
                            let mut outs = vec![vec![0u8; PAGE]; pages.len()];
                            // The same total work (2 x N pages) split over t threads.
                            let share = 2 / t;
                            for _ in 0..iters {
                                for _ in 0..share {
                                    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
                                    let mut dsts: Vec<&mut [u8]> =
                                        outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                                    black_box(ctx.compress(&srcs, &mut dsts));
                                }
                            }
                            black_box(k);
                        });
                    }
                });
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn iaa(c: &mut Criterion) {
    let pages: Vec<Vec<u8>> = pages().into_iter().take(64).collect();
    let srcs: Vec<&[u8]> = pages.iter().map(|p| p.as_slice()).collect();
    let mut g = c.benchmark_group("iaa-emulated");
    g.throughput(Throughput::Bytes((pages.len() * PAGE) as u64));
    for batch in [1usize, 4, 8, 16] {
        let rt = RuntimeBuilder::new()
            .algorithm(Algorithm::Iaa(IaaMode::Fixed))
            .batch_size(batch)
            .build()
            .unwrap();
        let mut ctx = rt.context();
        let mut outs = vec![vec![0u8; PAGE]; pages.len()];
        g.bench_function(BenchmarkId::new("compress", batch), |b| {
            b.iter(|| {
                let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                black_box(ctx.compress(&srcs, &mut dsts));
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = software, threads, iaa
}
criterion_main!(benches);
