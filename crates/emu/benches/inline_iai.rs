//! Instruction counts of one descriptor through the inline emulator: a no-op and a 4 KiB
//! memmove, portal write to record read. Needs valgrind and the runner of the same version as
//! the `iai-callgrind` dev-dependency:
//!
//! ```sh
//! cargo install iai-callgrind-runner --version 0.16.1
//! cargo bench -p idxd-emu --bench inline_iai
//! ```

use std::hint::black_box;

use iai_callgrind::{library_benchmark, library_benchmark_group, main};
use idxd_emu::device::{EmuConfig, ExecMode, SubmitKind};
use idxd_emu::testkit::{MiniDriver, WqSpec};
use idxd_hw::{DsaOp, Limits, Submit};

const SRC: u64 = 0x10_0000;
const DST: u64 = 0x20_0000;
const REC: u64 = 0x30_0000;

struct Prepared {
    drv: MiniDriver,
    desc: [u8; 64],
}

fn prepare(op: &str) -> Prepared {
    let drv = MiniDriver::new(
        "dsa-spr",
        EmuConfig {
            mode: ExecMode::Inline,
            ..Default::default()
        },
    );
    drv.bring_up(&[WqSpec::dedicated(0, 32)]);
    drv.map(SRC, 4096, true);
    drv.map(DST, 4096, true);
    drv.map(REC, 4096, true);
    drv.write_mem(SRC, &[0x5a; 4096]);
    let lim = Limits::from_shifts(31, 10);
    let op = match op {
        "noop" => DsaOp::Noop,
        _ => DsaOp::Memmove {
            src: SRC,
            dst: DST,
            len: 4096,
        },
    };
    let desc = op
        .build(&Submit::polled(REC), &lim)
        .expect("valid descriptor")
        .to_bytes();
    Prepared { drv, desc }
}

#[library_benchmark]
#[bench::noop(args = ("noop"), setup = prepare)]
#[bench::memmove_4k(args = ("memmove"), setup = prepare)]
fn submit_and_reap(p: Prepared) -> (u8, Prepared) {
    p.drv
        .dev
        .portal_write(0, black_box(&p.desc), SubmitKind::Movdir64b)
        .expect("portal");
    let status = p.drv.dev.iommu().cpu_load_acquire_u8(REC).expect("mapped");
    (black_box(status), p)
}

library_benchmark_group!(name = inline_emulator; benchmarks = submit_and_reap);
main!(library_benchmark_groups = inline_emulator);
