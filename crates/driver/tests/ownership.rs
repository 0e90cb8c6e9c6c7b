//! A request owns its DMA buffers while the device may use them (docs/design.md, "Buffer
//! ownership"): after a wait gives up, the buffers stay with the WQ until the record arrives or
//! the WQ is drained, and nothing handed out meanwhile overlaps them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use idxd_driver::backing::emu::EmuBacking;
use idxd_driver::{BringUpOptions, Device, DeviceConfig, DmaPool, DriverError};
use idxd_emu::device::EmuConfig;
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_hw::{IaaOp, Submit};

const SLOW: Duration = Duration::from_millis(300);

/// An emulated device whose descriptors meet `schedule` (by sequence number), brought up with
/// `wqs` dedicated WQs.
fn scheduled(
    profile: &str,
    schedule: Vec<(u64, Fault)>,
    wqs: u16,
    opts: BringUpOptions,
) -> (Device, Arc<EmuBacking>) {
    let inject = InjectConfig {
        schedule,
        ..Default::default()
    };
    let b = Arc::new(
        EmuBacking::from_profile(
            profile,
            EmuConfig {
                inject,
                ..Default::default()
            },
        )
        .unwrap(),
    );
    let caps = b.device().profile().caps;
    let dev = Device::bring_up(b.clone(), &DeviceConfig::dedicated(&caps, wqs), opts).unwrap();
    (dev, b)
}

fn slow_first(profile: &str) -> (Device, Arc<EmuBacking>) {
    scheduled(
        profile,
        vec![(0, Fault::Slow(SLOW))],
        1,
        BringUpOptions::default(),
    )
}

fn overlaps(a: (u64, usize), b: (u64, usize)) -> bool {
    a.0 < b.0 + b.1 as u64 && b.0 < a.0 + a.1 as u64
}

#[test]
fn a_timed_out_request_keeps_its_buffers_until_its_record_arrives() {
    let (dev, b) = slow_first("iaa-spr");
    let wq = dev.wq(0).unwrap();
    let pool = DmaPool::new(wq.backing().clone(), 64 * 1024, false).unwrap();
    let total = pool.free_bytes();
    let mut src = pool.alloc(4096, 64).unwrap();
    src.write(0, &[0x5a; 4096]).unwrap();
    let dst = pool.alloc(4096, 64).unwrap();
    let dst_range = (dst.iova(), 4096);
    let op = IaaOp::Memmove {
        src: src.iova(),
        dst: dst.iova(),
        len: 4096,
    };
    let t = wq.submit_iaa(&op, &Submit::default(), vec![src, dst]).unwrap();
    let e = wq.wait(t, Duration::from_millis(20)).unwrap_err();
    assert!(matches!(e, DriverError::Timeout { .. }), "{e}");
    // Orphaned: the slot and both buffers are held.
    assert_eq!((wq.orphans(), wq.counters().orphaned), (1, 1));
    assert_eq!(
        pool.free_bytes(),
        total - 8192,
        "the orphan's buffers are not back in the pool"
    );
    // Everything handed out while the device may still write the destination is elsewhere.
    let fresh: Vec<_> = (0..14).map(|_| pool.alloc(4096, 64).unwrap()).collect();
    assert!(
        pool.alloc(4096, 64).is_err(),
        "the pool is full: only the orphan's 8 KiB are missing"
    );
    for f in &fresh {
        assert!(
            !overlaps((f.iova(), 4096), dst_range),
            "{f:?} overlaps the in-flight destination"
        );
    }
    drop(fresh);
    // The slow descriptor finishes; the next reap releases the orphan.
    let until = Instant::now() + SLOW * 3;
    while b.device().counters().status(1) == 0 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(b.device().counters().status(1), 1, "the slow memmove completed");
    assert!(wq.poll().is_empty(), "an orphan's completion is not handed out");
    let c = wq.counters();
    assert_eq!((wq.orphans(), c.orphans_reaped), (0, 1));
    assert_eq!(pool.free_bytes(), total);
    dev.teardown().unwrap();
}

#[test]
fn a_drain_releases_orphans_whose_records_were_lost() {
    let (dev, _b) = scheduled(
        "dsa-spr",
        vec![(0, Fault::NoCompletion)],
        1,
        BringUpOptions::default(),
    );
    let wq = dev.wq(0).unwrap();
    let pool = DmaPool::new(wq.backing().clone(), 8192, false).unwrap();
    let total = pool.free_bytes();
    let buf = pool.alloc(4096, 64).unwrap();
    let op = idxd_hw::DsaOp::Fill {
        pattern: 7,
        dst: buf.iova(),
        len: 4096,
    };
    let t = wq.submit_dsa(&op, &Submit::default(), vec![buf]).unwrap();
    assert!(wq.wait(t, Duration::from_millis(50)).is_err());
    assert_eq!(wq.orphans(), 1);
    assert_eq!(pool.free_bytes(), total - 4096);
    // The record never comes; a drain proves the device is done with the memory.
    assert_eq!(wq.drain().unwrap(), 1);
    assert_eq!(wq.orphans(), 0);
    assert_eq!(wq.counters().orphans_released, 1);
    assert_eq!(pool.free_bytes(), total);
    assert_eq!(wq.free_slots(), wq.size() as usize);
    dev.teardown().unwrap();
}

#[test]
fn a_refused_submission_gives_its_buffers_back() {
    let (dev, _b) = slow_first("dsa-spr");
    let wq = dev.wq(0).unwrap();
    let pool = DmaPool::new(wq.backing().clone(), 4096, false).unwrap();
    let buf = pool.alloc(64, 64).unwrap();
    let iova = buf.iova();
    // An IAA operation on a DSA WQ is refused before the device sees it.
    let r = wq
        .submit_iaa(&IaaOp::Noop, &Submit::default(), vec![buf])
        .unwrap_err();
    assert!(matches!(r.error, DriverError::Unsupported(_)), "{}", r.error);
    assert_eq!(r.buffers.len(), 1);
    assert_eq!(r.buffers[0].iova(), iova);
    dev.teardown().unwrap();
}

fn halting_device(auto_recover: bool) -> (Device, Arc<DmaPool>) {
    // Two WQs in one group, so the slow descriptor and the halting one run on different
    // engines: the slow one is still running when the device halts.
    let schedule = vec![(0, Fault::Slow(Duration::from_millis(100))), (1, Fault::Halt)];
    let (dev, _b) = scheduled("dsa-spr", schedule, 2, BringUpOptions { auto_recover });
    let pool = DmaPool::new(dev.wq(0).unwrap().backing().clone(), 16384, false).unwrap();
    (dev, pool)
}

/// Submits a slow fill (owning a buffer) on WQ 0 and a halting noop on WQ 1; returns what the
/// wait for the fill said and the pool's free bytes afterwards.
fn halt_with_a_request_running(
    dev: &Device,
    pool: &Arc<DmaPool>,
) -> (Result<idxd_driver::Completion, DriverError>, usize) {
    let (w0, w1) = (dev.wq(0).unwrap(), dev.wq(1).unwrap());
    let buf = pool.alloc(4096, 64).unwrap();
    let fill = idxd_hw::DsaOp::Fill {
        pattern: 0x77,
        dst: buf.iova(),
        len: 4096,
    };
    let t = w0.submit_dsa(&fill, &Submit::default(), vec![buf]).unwrap();
    std::thread::sleep(Duration::from_millis(10));
    let h = w1
        .submit_dsa(&idxd_hw::DsaOp::Noop, &Submit::default(), Vec::new())
        .unwrap();
    let _ = w1.wait(h, Duration::from_secs(2));
    let r = w0.wait(t, Duration::from_secs(2));
    (r, pool.free_bytes())
}

#[test]
fn a_halt_with_recovery_gives_buffers_back_after_the_reset() {
    let (dev, pool) = halting_device(true);
    let total = pool.free_bytes();
    let (r, free) = halt_with_a_request_running(&dev, &pool);
    let c = r.expect("the request completes as abandoned");
    assert_eq!(c.result, Err(idxd_driver::Abandoned::DeviceHalted));
    assert_eq!(c.buffers.len(), 1, "the reset completed: the buffer comes back");
    drop(c);
    assert_eq!(free, total - 4096);
    assert_eq!(pool.free_bytes(), total);
    dev.teardown().unwrap();
}

#[test]
fn a_halt_without_reset_keeps_the_buffers_of_requests_that_may_still_run() {
    let (dev, pool) = halting_device(false);
    let total = pool.free_bytes();
    let (r, free) = halt_with_a_request_running(&dev, &pool);
    match r {
        Ok(c) => {
            assert_eq!(c.result, Err(idxd_driver::Abandoned::DeviceHalted));
            assert!(c.buffers.is_empty(), "no reset yet: the WQ keeps the buffer");
        }
        Err(e) => assert!(matches!(e, DriverError::Halted { .. }), "{e}"),
    }
    assert_eq!(free, total - 4096, "the buffer is held, not back in the pool");
    assert_eq!(dev.wq(0).unwrap().counters().abandoned, 1);
}
