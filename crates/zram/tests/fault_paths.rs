//! zram's error paths reached by faults of the emulated IAA (one scheduled fault at a known
//! descriptor), with the software fallback off and on. A one-page write is its compression
//! (descriptor 0) and the verification of it (1); the next decompression is 2.
//!
//! Counters: `failed_writes` / `failed_reads` (io_stat), `bd_writes` (bd_stat) for writeback;
//! the emulator's completion status of the fault ([`fault_evidence`]), the runtime's fallback
//! and error counts.

use idxd_testutil as common;

use common::{fallbacks, fault_evidence, faults_seen, iaa_scheduled, orphaned, PAGE};
use idxd_emu::inject::Fault;
use idxd_zram::{WritebackMode, ZramBuilder, ZramError};

fn text() -> Vec<u8> {
    (0..PAGE).map(|i| b"zram fault path "[(i / 3) % 16]).collect()
}

const FAULTS: [Fault; 4] = [
    Fault::PageFault { at_offset: 100 },
    Fault::HardwareError,
    Fault::Watchdog,
    Fault::NoCompletion,
];

#[test]
fn compress_faults_fail_writes_only_without_fallback() {
    for fallback in [false, true] {
        for f in FAULTS.into_iter().chain([Fault::CorruptOutput]) {
            let z = ZramBuilder::new(16 * PAGE as u64, iaa_scheduled(vec![(0, f)], fallback))
                .build()
                .unwrap();
            let r = z.write(8, &text());
            let rt = z.runtime(0).unwrap();
            assert_eq!(fault_evidence(rt, f), 1, "{f:?} reached the device");
            if f == Fault::NoCompletion {
                assert_eq!(orphaned(rt), 1);
            }
            if fallback {
                r.unwrap();
                assert_eq!(z.io_stat().failed_writes, 0);
                assert_eq!(fallbacks(&rt.stats()), 1, "{f:?}");
            } else {
                assert!(matches!(r, Err(ZramError::Compress { .. })), "{f:?}: {r:?}");
                assert_eq!(z.io_stat().failed_writes, 1, "{f:?}");
                assert_eq!(fallbacks(&rt.stats()), 0);
                assert!(faults_seen(&rt.stats()) >= 1);
                z.write(8, &text()).unwrap();
            }
            let mut page = vec![0u8; PAGE];
            z.read(8, &mut page).unwrap();
            assert_eq!(page, text(), "{f:?}");
        }
    }
}

#[test]
fn decompress_faults_fail_reads_only_without_fallback() {
    for fallback in [false, true] {
        for f in FAULTS.into_iter().chain([Fault::OutputOverflow]) {
            let z = ZramBuilder::new(16 * PAGE as u64, iaa_scheduled(vec![(2, f)], fallback))
                .build()
                .unwrap();
            z.write(8, &text()).unwrap();
            let mut page = vec![0u8; PAGE];
            let r = z.read(8, &mut page);
            let rt = z.runtime(0).unwrap();
            assert_eq!(fault_evidence(rt, f), 1, "{f:?} reached the device");
            if fallback {
                r.unwrap();
                assert_eq!(z.io_stat().failed_reads, 0);
                assert_eq!(fallbacks(&rt.stats()), 1, "{f:?}");
            } else {
                assert!(r.is_err(), "{f:?}");
                assert_eq!(z.io_stat().failed_reads, 1, "{f:?}");
                // The runtime counted the error (an overflow counts as "does not fit").
                let errors: u64 = rt
                    .stats()
                    .codecs
                    .iter()
                    .flat_map(|(_, c)| c.errors.iter().map(|e| e.1))
                    .sum();
                assert!(errors >= 1, "{f:?}");
                // The slot is intact: a retry reads it.
                z.read(8, &mut page).unwrap();
            }
            assert_eq!(page, text(), "{f:?}");
        }
    }
}

#[test]
fn writeback_with_a_decompress_fault() {
    for fallback in [false, true] {
        let f = Fault::HardwareError;
        let z = ZramBuilder::new(16 * PAGE as u64, iaa_scheduled(vec![(2, f)], fallback))
            .backing_file(tempfile::tempfile().unwrap())
            .build()
            .unwrap();
        z.write(8, &text()).unwrap();
        let r = z.writeback(WritebackMode::PageIndex(1));
        assert_eq!(fault_evidence(z.runtime(0).unwrap(), f), 1);
        if fallback {
            assert_eq!(r.unwrap(), 1);
            assert_eq!(z.bd_stat().bd_writes, 1);
        } else {
            assert!(r.is_err(), "{r:?}");
            assert_eq!(z.bd_stat().bd_writes, 0, "nothing written");
            assert_eq!(z.writeback(WritebackMode::PageIndex(1)).unwrap(), 1, "retried");
        }
        let mut page = vec![0u8; PAGE];
        z.read(8, &mut page).unwrap();
        assert_eq!(page, text());
    }
}
