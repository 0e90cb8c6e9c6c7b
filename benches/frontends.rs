//! Wall-clock throughput of the frontends on corpus pages: zswap store + load of every folio
//! (4 KiB and 64 KiB folios) and zram write + read, each with software lz4 and with the emulated
//! IAA. Uses ../shared/corpus when present, else the built-in mix. Not run by `.ci/run`:
//!
//! ```sh
//! cargo bench -p idxd-cli --bench frontends
//! # a short run:
//! cargo bench -p idxd-cli --bench frontends -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use idxd_runtime::corpus::{builtin, shared_pages, PAGE};
use idxd_runtime::{Algorithm, IaaMode, Runtime, RuntimeBuilder};
use idxd_zram::{ZramBuilder, SECTOR_SIZE};
use idxd_zswap::{Zswap, ZswapConfig};

const PAGES: usize = 1024;

fn corpus() -> Vec<u8> {
    let pages = match shared_pages() {
        Some(p) => {
            let step = (p.len() / PAGES).max(1);
            p.into_iter().step_by(step).take(PAGES).collect()
        }
        None => builtin(PAGES, 0x1dd),
    };
    pages.concat()
}

fn runtimes() -> Vec<(&'static str, Runtime)> {
    vec![
        (
            "lz4",
            RuntimeBuilder::new()
                .algorithm(Algorithm::Lz4)
                .build()
                .expect("lz4"),
        ),
        (
            "emu-iaa",
            RuntimeBuilder::new()
                .algorithm(Algorithm::Iaa(IaaMode::Fixed))
                .build()
                .expect("emulated IAA"),
        ),
    ]
}

fn zswap(c: &mut Criterion) {
    let data = corpus();
    let pages = data.len() / PAGE;
    let mut g = c.benchmark_group("zswap store+load");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for (name, rt) in runtimes() {
        for folio in [1usize, 16] {
            let z = Zswap::new(
                rt.clone(),
                ZswapConfig {
                    shrinker_enabled: false,
                    swap_slots: pages as u64,
                    ..Default::default()
                },
                None,
            )
            .expect("zswap");
            let mut page = vec![0u8; PAGE];
            g.bench_function(BenchmarkId::new(name, format!("{}k folios", folio * 4)), |b| {
                b.iter(|| {
                    for (k, f) in data.chunks_exact(folio * PAGE).enumerate() {
                        if z.store((k * folio) as u64, f).is_ok() {
                            for i in 0..folio {
                                let _ = z.load((k * folio + i) as u64, &mut page);
                            }
                        }
                    }
                    black_box(&page);
                })
            });
        }
    }
    g.finish();
}

fn zram(c: &mut Criterion) {
    let data = corpus();
    let mut g = c.benchmark_group("zram write+read");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    for (name, rt) in runtimes() {
        let z = ZramBuilder::new(data.len() as u64, rt).build().expect("zram");
        let mut back = vec![0u8; 16 * PAGE];
        g.bench_function(BenchmarkId::new(name, "64k writes"), |b| {
            b.iter(|| {
                for (k, f) in data.chunks_exact(16 * PAGE).enumerate() {
                    let sector = (k * 16 * PAGE) as u64 / SECTOR_SIZE;
                    z.write(sector, f).expect("write");
                    z.read(sector, &mut back).expect("read");
                }
                black_box(&back);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, zswap, zram);
criterion_main!(benches);
