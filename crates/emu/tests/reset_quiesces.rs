//! After a reset or an abort completes, no descriptor accepted before it writes memory: a real
//! device's Reset Device and Abort WQ leave nothing running, and the driver hands the memory of
//! abandoned requests back to their owners once the reset completed (docs/design.md, "Buffer
//! ownership"). A slow engine used to run its descriptor after the reset, about 80 ms later.

use std::time::{Duration, Instant};

use idxd_emu::device::EmuConfig;
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_emu::testkit::MiniDriver;
use idxd_hw::regs::{Cmd, Command};
use idxd_hw::{DsaOp, Limits, Submit};

const SRC: u64 = 0x10_0000;
const DST: u64 = 0x20_0000;
const REC: u64 = 0x30_0000;
const SLOW: Duration = Duration::from_millis(150);

fn slow_memmove(cmd: Cmd) {
    let inject = InjectConfig {
        schedule: vec![(0, Fault::Slow(SLOW))],
        ..Default::default()
    };
    let d = MiniDriver::up(
        "dsa-spr",
        EmuConfig {
            inject,
            ..Default::default()
        },
        8,
    );
    d.map(SRC, 4096, false);
    d.map(DST, 4096, true);
    d.map(REC, 4096, true);
    d.write_mem(SRC, &[0xa5; 4096]);
    let desc = DsaOp::Memmove {
        src: SRC,
        dst: DST,
        len: 4096,
    }
    .build(&Submit::polled(REC), &Limits::from_shifts(31, 10))
    .unwrap()
    .to_bytes();
    d.submit(0, &desc);
    // The engine has picked it and sleeps; the command arrives meanwhile.
    std::thread::sleep(Duration::from_millis(20));
    let t = Instant::now();
    let sts = d.cmd(cmd);
    assert_eq!(sts.error, 0, "{cmd:?}");
    let took = t.elapsed();
    // Past the time the slow descriptor would have run.
    std::thread::sleep(SLOW * 2);
    let written = d.read_mem(DST, 4096).iter().filter(|&&b| b != 0).count();
    assert_eq!(
        written, 0,
        "{cmd:?}: the destination was written after the command completed"
    );
    assert_eq!(
        d.read_mem(REC, 1),
        vec![0],
        "{cmd:?}: no record for an aborted descriptor"
    );
    assert!(
        took < SLOW,
        "{cmd:?} took {took:?}: it should stop the slow descriptor, not wait it out"
    );
}

#[test]
fn reset_device_leaves_no_descriptor_running() {
    slow_memmove(Cmd::new(Command::ResetDevice));
}

#[test]
fn abort_wq_leaves_no_descriptor_running() {
    slow_memmove(Cmd::wq(Command::AbortWq, 0));
}
