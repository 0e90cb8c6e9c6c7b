//! Concurrency and fault injection: several submitters on dedicated and shared WQs, every
//! descriptor completes exactly once or is reported in SWERR; a 100k-descriptor injection run in
//! which every record is what the injected fault implies.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Drv, WqSpec};
use idxd_emu::device::{EmuConfig, PortalResult, SubmitKind};
use idxd_emu::inject::{Fault, InjectConfig};
use idxd_hw::regs::{wq_mask_operand, Command};
use idxd_hw::tables::WqMode;
use idxd_hw::{DsaCompletion, DsaOp, Limits, Submit};

const SRC: u64 = 0x10_0000;
const DST: u64 = 0x20_0000;
const REC: u64 = 0x40_0000;
const T: Duration = Duration::from_secs(10);

/// Each thread owns a dedicated WQ and a ring of record slots; every descriptor copies a
/// unique 8-byte tag; at the end every tag is in place and the device counted each once.
#[test]
fn dedicated_wqs_from_several_threads() {
    const THREADS: u16 = 4;
    const PER: u64 = 5_000;
    const RING: u64 = 16;
    let specs: Vec<WqSpec> = (0..THREADS).map(|w| WqSpec::dedicated(w, 16)).collect();
    let d = Arc::new(Drv::new("dsa-spr", EmuConfig::default()));
    d.bring_up(&specs);
    d.map(SRC, (THREADS as usize) * (PER as usize) * 8, true);
    d.map(DST, (THREADS as usize) * (PER as usize) * 8, true);
    d.map(REC, (THREADS as usize) * (RING as usize) * 32, true);
    for t in 0..THREADS as u64 {
        let tags: Vec<u8> = (0..PER).flat_map(|i| ((t << 32) | i).to_le_bytes()).collect();
        d.write_mem(SRC + t * PER * 8, &tags);
    }
    let lim = Limits::from_shifts(31, 10);
    let handles: Vec<_> = (0..THREADS)
        .map(|w| {
            let d = d.clone();
            std::thread::spawn(move || {
                let t = w as u64;
                for i in 0..PER {
                    let slot = REC + (t * RING + i % RING) * 32;
                    if i >= RING {
                        assert_eq!(
                            d.wait_status(slot, T),
                            Some(1),
                            "descriptor {} of thread {t}",
                            i - RING
                        );
                    }
                    d.write_mem(slot, &[0; 32]);
                    let off = (t * PER + i) * 8;
                    let desc = DsaOp::Memmove {
                        src: SRC + off,
                        dst: DST + off,
                        len: 8,
                    }
                    .build(&Submit::polled(slot), &lim)
                    .unwrap();
                    assert_eq!(d.submit(w, &desc.to_bytes()), PortalResult::Accepted);
                }
                for k in 0..RING {
                    assert_eq!(d.wait_status(REC + (t * RING + k) * 32, T), Some(1));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let total = THREADS as u64 * PER;
    assert_eq!(
        d.read_mem(DST, total as usize * 8),
        d.read_mem(SRC, total as usize * 8)
    );
    let c = d.dev.counters();
    assert_eq!(c.opcode(3), total, "every descriptor accepted once");
    assert_eq!(c.status(1), total, "every descriptor completed once");
    assert_eq!(c.dropped + c.swerr, 0);
}

/// Two threads share one shared WQ through ENQCMD and retry when it is full; accepted ==
/// completed, and the limited portal refuses above the threshold.
#[test]
fn shared_wq_with_enqcmd_retries() {
    const PER: u64 = 4_000;
    let cfg = EmuConfig {
        pasid_enabled: true,
        ..Default::default()
    };
    let d = Arc::new(Drv::new("iaa-spr", cfg));
    let spec = WqSpec {
        wq: 0,
        group: 0,
        size: 8,
        mode: WqMode::Shared,
        priority: 5,
        threshold: 4,
    };
    d.bring_up(&[spec]);
    d.map(REC, 2 * PER as usize * 64, true);
    let lim = Limits::from_shifts(31, 0);
    let handles: Vec<_> = (0..2u64)
        .map(|t| {
            let d = d.clone();
            std::thread::spawn(move || {
                let mut retries = 0u64;
                for i in 0..PER {
                    let rec = REC + (t * PER + i) * 64;
                    let desc = idxd_hw::IaaOp::Noop
                        .build(&Submit::polled(rec), &lim)
                        .unwrap()
                        .to_bytes();
                    let mut tries = 0;
                    while d.dev.portal_write(0, &desc, SubmitKind::Enqcmd).unwrap() == PortalResult::Retry {
                        retries += 1;
                        tries += 1;
                        assert!(tries < 10_000_000, "never accepted");
                        std::thread::yield_now();
                    }
                }
                retries
            })
        })
        .collect();
    let retries: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(d.cmd_err(Command::DrainWq, wq_mask_operand(0)), 0);
    for i in 0..2 * PER {
        assert_eq!(d.read_mem(REC + i * 64, 1)[0], 1, "record {i}");
    }
    let c = d.dev.counters();
    assert_eq!(c.status(1), 2 * PER);
    assert_eq!(c.retries, retries);
    assert_eq!(c.swerr, 0);
}

#[test]
fn limited_portal_threshold_and_dedicated_overfill() {
    // Every descriptor is slow, so each accepted one keeps occupying the WQ (queued or running
    // on one of the engines) while the next portal write is answered.
    let inject = InjectConfig {
        schedule: (0..8)
            .map(|s| (s, Fault::Slow(Duration::from_millis(300))))
            .collect(),
        ..Default::default()
    };
    let cfg = EmuConfig {
        pasid_enabled: true,
        inject,
        ..Default::default()
    };
    let d = Drv::new("iaa-spr", cfg);
    let shared = WqSpec {
        wq: 0,
        group: 0,
        size: 4,
        mode: WqMode::Shared,
        priority: 1,
        threshold: 2,
    };
    d.bring_up(&[shared]);
    d.map(REC, 4096, true);
    let lim = Limits::from_shifts(31, 0);
    let desc = |i: u64| {
        idxd_hw::IaaOp::Noop
            .build(&Submit::polled(REC + 64 * i), &lim)
            .unwrap()
            .to_bytes()
    };
    let limited = 0x1000;
    let r: Vec<_> = (0..3)
        .map(|i| d.dev.portal_write(limited, &desc(i), SubmitKind::Enqcmd).unwrap())
        .collect();
    assert_eq!(
        r,
        [
            PortalResult::Accepted,
            PortalResult::Accepted,
            PortalResult::Retry
        ],
        "threshold 2 on the limited portal"
    );
    let r: Vec<_> = (2..5)
        .map(|i| d.dev.portal_write(0, &desc(i), SubmitKind::Enqcmd).unwrap())
        .collect();
    assert_eq!(
        r,
        [
            PortalResult::Accepted,
            PortalResult::Accepted,
            PortalResult::Retry
        ],
        "size 4 on the unlimited portal"
    );

    // Dedicated: a MOVDIR64B beyond the WQ size is dropped and recorded in SWERR. The first two
    // descriptors are slow, so both are still occupying the WQ (queued or running on one of the
    // engines) when the third arrives.
    let slow = Fault::Slow(Duration::from_millis(300));
    let inject = InjectConfig {
        schedule: vec![(0, slow), (1, slow)],
        ..Default::default()
    };
    let d = Drv::new(
        "dsa-spr",
        EmuConfig {
            inject,
            ..Default::default()
        },
    );
    d.bring_up(&[WqSpec::dedicated(0, 2)]);
    d.map(REC, 4096, true);
    let lim = Limits::from_shifts(31, 10);
    for i in 0..3u64 {
        let desc = DsaOp::Noop
            .build(&Submit::polled(REC + 32 * i), &lim)
            .unwrap()
            .to_bytes();
        assert_eq!(d.submit(0, &desc), PortalResult::Accepted);
    }
    assert_eq!(d.cmd_err(Command::DrainWq, wq_mask_operand(0)), 0);
    let got: Vec<u8> = (0..3).map(|i| d.read_mem(REC + 32 * i, 1)[0]).collect();
    assert_eq!(got, [1, 1, 0], "the third descriptor was dropped");
    let e = idxd_hw::regs::SwErr::decode(std::array::from_fn(|i| {
        d.dev.read64(idxd_hw::regs::off::SWERR + 8 * i as u64)
    }));
    assert_eq!(e.error, idxd_emu::device::swerr_code::WQ_FULL);
    assert_eq!(d.dev.counters().dropped, 1);
}

/// 100k (1563 windows of 64) memmoves with page faults, hardware errors, watchdogs, lost records and slow engines
/// injected at random; every record is checked against what the injection implies.
#[test]
fn fault_injection_100k() {
    const N: u64 = 1563 * 64;
    const WINDOW: u64 = 64;
    const LEN: u32 = 256;
    let inject = InjectConfig {
        seed: 0x1dd,
        page_fault: 0.03,
        hardware_error: 0.01,
        watchdog: 0.01,
        output_overflow: 0.01,
        no_completion: 0.01,
        slow: Some((0.0005, Duration::from_micros(200))),
        schedule: vec![],
        ..Default::default()
    };
    let d = Drv::new(
        "dsa-spr",
        EmuConfig {
            inject: inject.clone(),
            ..Default::default()
        },
    );
    d.bring_up(&[WqSpec::dedicated(0, WINDOW as u16)]);
    d.map(SRC, LEN as usize, true);
    d.map(DST, WINDOW as usize * LEN as usize, true);
    d.map(REC, WINDOW as usize * 32, true);
    let src: Vec<u8> = (0..LEN).map(|i| i as u8 ^ 0x5a).collect();
    d.write_mem(SRC, &src);
    let lim = Limits::from_shifts(31, 10);
    // Outcomes seen: [success, page fault, hardware error or watchdog, no completion].
    let mut seen = [0u64; 4];
    for base in (0..N).step_by(WINDOW as usize) {
        d.write_mem(REC, &[0; WINDOW as usize * 32]);
        d.write_mem(DST, &vec![0; WINDOW as usize * LEN as usize]);
        for k in 0..WINDOW {
            let desc = DsaOp::Memmove {
                src: SRC,
                dst: DST + k * LEN as u64,
                len: LEN,
            }
            .build(&Submit::polled(REC + 32 * k), &lim)
            .unwrap();
            d.submit(0, &desc.to_bytes());
        }
        assert_eq!(d.cmd_err(Command::DrainWq, wq_mask_operand(0)), 0);
        for k in 0..WINDOW {
            let seq = base + k;
            let rec = DsaCompletion::from_bytes(&d.record::<32>(REC + 32 * k));
            let dst = d.read_mem(DST + k * LEN as u64, LEN as usize);
            match inject.decide(seq, LEN) {
                None | Some(Fault::Slow(_)) | Some(Fault::OutputOverflow) => {
                    seen[0] += 1;
                    assert_eq!(rec.status, 1, "seq {seq}");
                    assert_eq!(dst, src, "seq {seq}");
                }
                Some(Fault::PageFault { at_offset }) => {
                    seen[1] += 1;
                    assert_eq!(rec.status, 0x03, "seq {seq}");
                    assert_eq!(rec.fault_addr, SRC + at_offset as u64, "seq {seq}");
                    assert!(rec.bytes_completed <= at_offset, "seq {seq}");
                    let done = rec.bytes_completed as usize;
                    assert_eq!(
                        dst[..done],
                        src[..done],
                        "seq {seq}: the completed part is copied"
                    );
                }
                Some(Fault::HardwareError) | Some(Fault::Watchdog) => {
                    seen[2] += 1;
                    assert_eq!(rec.status, 0x20, "seq {seq}");
                }
                Some(Fault::NoCompletion) => {
                    seen[3] += 1;
                    assert_eq!(rec.status, 0, "seq {seq}: the record is never written");
                }
                Some(other) => unreachable!("not injected here: {other:?}"),
            }
        }
    }
    assert!(seen.iter().all(|&c| c > 0), "every outcome occurs: {seen:?}");
    assert_eq!(
        seen.iter().sum::<u64>(),
        N,
        "every descriptor is accounted for once"
    );
    assert!(seen[1] > 2000 && seen[2] > 1000 && seen[3] > 500, "{seen:?}");
    let c = d.dev.counters();
    assert_eq!(c.opcode(3), N);
    assert_eq!(c.no_record, seen[3]);
}
