//! Instruction counts of the runtime's per-request overhead: `Context::compress` of one page
//! (256 bytes and 4 KiB of text) with lz4, beside the same lz4 call made directly. The
//! difference is what the runtime adds (validation, job set-up, statistics, the result vector).
//!
//! Needs valgrind and the runner of the same version as the `iai-callgrind` dev-dependency
//! (not run by `.ci/run`):
//!
//! ```sh
//! cargo install iai-callgrind-runner --version 0.16.1
//! cargo bench -p idxd-cli --bench runtime_overhead_iai
//! ```

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use idxd_runtime::{Algorithm, Context, RuntimeBuilder};

fn text(len: usize) -> Vec<u8> {
    b"{\"id\": 42, \"name\": \"request\", \"status\": \"ok\", \"items\": [1, 2, 3]} "
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

struct ViaRuntime {
    ctx: Context,
    page: Vec<u8>,
    out: Vec<u8>,
}

fn via_runtime(len: usize) -> ViaRuntime {
    let rt = RuntimeBuilder::new()
        .algorithm(Algorithm::Lz4)
        .build()
        .expect("lz4 runtime");
    let mut ctx = rt.context();
    let page = text(len);
    let mut out = vec![0u8; 2 * len + 64];
    // Warm the context (first-use allocations) outside the measurement.
    let _ = ctx.compress(&[&page], &mut [&mut out]);
    ViaRuntime { ctx, page, out }
}

struct Direct {
    page: Vec<u8>,
    out: Vec<u8>,
}

fn direct(len: usize) -> Direct {
    Direct {
        page: text(len),
        out: vec![0u8; lz4_flex::block::get_maximum_output_size(len)],
    }
}

#[library_benchmark]
#[bench::page_256(args = (256), setup = via_runtime)]
#[bench::page_4k(args = (4096), setup = via_runtime)]
fn runtime_lz4(mut s: ViaRuntime) -> usize {
    let r = s.ctx.compress(&[black_box(&s.page[..])], &mut [&mut s.out[..]]);
    black_box(r.into_iter().next().and_then(Result::ok).unwrap_or(0))
}

#[library_benchmark]
#[bench::page_256(args = (256), setup = direct)]
#[bench::page_4k(args = (4096), setup = direct)]
fn direct_lz4(mut s: Direct) -> usize {
    black_box(lz4_flex::block::compress_into(black_box(&s.page), &mut s.out).unwrap_or(0))
}

library_benchmark_group!(name = per_request; benchmarks = runtime_lz4, direct_lz4);
main!(library_benchmark_groups = per_request);
