//! The frontend's error paths, reached by faults of the emulated IAA (one scheduled fault at a
//! known descriptor), with the software fallback off and on.
//!
//! Descriptor numbers: a store of one page is its compression (0) and the verification of it
//! (1, verify-after-compress is on by default); the next decompression (load or writeback) is 2.
//! Each case checks the frontend counter, and the emulator counter that proves the fault hit
//! ([`fault_evidence`]: the fault's completion status, a withheld record, a corrupted output),
//! and the runtime's side: with the fallback off the error reaches zswap; with it on the
//! runtime redid the request in software (`fallbacks`) and zswap saw nothing.

use idxd_testutil as common;

use common::{emu_counters, fallbacks, fault_evidence, faults_seen, iaa_scheduled, orphaned, PAGE};
use idxd_emu::inject::Fault;
use idxd_zswap::{PageSource, RejectReason, Zswap, ZswapConfig, ZswapError, ZswapStats};

fn text() -> Vec<u8> {
    (0..PAGE).map(|i| b"zswap fault path "[(i / 3) % 17]).collect()
}

const DEVICE_FAULTS: [Fault; 5] = [
    Fault::PageFault { at_offset: 100 },
    Fault::HardwareError,
    Fault::Watchdog,
    Fault::NoCompletion,
    Fault::CorruptOutput,
];

/// Faults on decompression the runtime can see (a corrupted decompress output too: see
/// `decompress_corrupt_output_is_caught`).
const DECOMPRESS_FAULTS: [Fault; 5] = [
    Fault::PageFault { at_offset: 100 },
    Fault::HardwareError,
    Fault::Watchdog,
    Fault::NoCompletion,
    Fault::OutputOverflow,
];

fn no_writeback() -> ZswapConfig {
    ZswapConfig {
        swap_slots: 64,
        shrinker_enabled: false,
        ..Default::default()
    }
}

/// Where a fault went: evidence on the device, orphans, fallbacks, runtime errors.
fn trace(z: &Zswap, f: Fault) -> String {
    let rt = z.runtime();
    format!(
        "{f:?}: evidence {} orphaned {} fallbacks {} faults_seen {} emu {:?} stats {:?}",
        fault_evidence(rt, f),
        orphaned(rt),
        fallbacks(&rt.stats()),
        faults_seen(&rt.stats()),
        emu_counters(rt).by_status,
        z.stats()
    )
}

#[test]
fn compress_faults_reject_compress_fail_without_fallback() {
    for f in DEVICE_FAULTS {
        let z = Zswap::new(iaa_scheduled(vec![(0, f)], false), no_writeback(), None).unwrap();
        let r = z.store(3, &text());
        println!("{} -> {r:?}", trace(&z, f));
        assert_eq!(fault_evidence(z.runtime(), f), 1, "{f:?} reached the device");
        assert!(
            matches!(r, Err(ZswapError::Rejected(RejectReason::CompressFail))),
            "{f:?}: {r:?}"
        );
        let s = z.stats();
        assert_eq!((s.reject_compress_fail, s.stored_pages), (1, 0), "{f:?}");
        assert_eq!(fallbacks(&z.runtime().stats()), 0);
        assert!(
            faults_seen(&z.runtime().stats()) >= 1,
            "{f:?}: the runtime counted the error"
        );
        if f == Fault::NoCompletion {
            assert_eq!(orphaned(z.runtime()), 1, "the lost completion was orphaned");
        }
        // The device works again: the same store succeeds.
        z.store(3, &text()).unwrap();
    }
}

#[test]
fn compress_faults_are_absorbed_with_fallback() {
    for f in DEVICE_FAULTS {
        let z = Zswap::new(iaa_scheduled(vec![(0, f)], true), no_writeback(), None).unwrap();
        let r = z.store(3, &text());
        println!("{} -> {r:?}", trace(&z, f));
        assert_eq!(fault_evidence(z.runtime(), f), 1, "{f:?} reached the device");
        r.unwrap();
        assert_eq!(z.stats().reject_compress_fail, 0);
        assert_eq!(fallbacks(&z.runtime().stats()), 1, "{f:?}: redone in software");
        let mut page = vec![0u8; PAGE];
        z.load(3, &mut page).unwrap();
        assert_eq!(page, text(), "{f:?}");
    }
}

#[test]
fn decompress_faults_without_fallback_count_and_keep_the_entry() {
    for f in DECOMPRESS_FAULTS {
        let z = Zswap::new(iaa_scheduled(vec![(2, f)], false), no_writeback(), None).unwrap();
        z.store(3, &text()).unwrap();
        let mut page = vec![0u8; PAGE];
        let r = z.load(3, &mut page);
        println!("{} -> {r:?}", trace(&z, f));
        assert_eq!(fault_evidence(z.runtime(), f), 1, "{f:?} reached the device");
        assert!(matches!(r, Err(ZswapError::Io { offset: 3, .. })), "{f:?}: {r:?}");
        assert_eq!(z.stats().decompress_fail, 1, "{f:?}");
        assert!(z.contains(3), "a failed load keeps the entry");
        // Retried, the load succeeds with the right data.
        z.load(3, &mut page).unwrap();
        assert_eq!(page, text(), "{f:?}");
        assert_eq!(
            z.stats(),
            ZswapStats {
                decompress_fail: 1,
                ..Default::default()
            }
        );
    }
}

#[test]
fn decompress_faults_are_absorbed_with_fallback() {
    for f in DECOMPRESS_FAULTS {
        let z = Zswap::new(iaa_scheduled(vec![(2, f)], true), no_writeback(), None).unwrap();
        z.store(3, &text()).unwrap();
        let mut page = vec![0u8; PAGE];
        let r = z.load(3, &mut page);
        println!("{} -> {r:?}", trace(&z, f));
        assert_eq!(fault_evidence(z.runtime(), f), 1, "{f:?} reached the device");
        r.unwrap();
        assert_eq!(page, text(), "{f:?}");
        assert_eq!(z.stats().decompress_fail, 0);
        assert_eq!(fallbacks(&z.runtime().stats()), 1, "{f:?}: redone in software");
    }
}

#[test]
fn writeback_decompress_fault() {
    for fallback in [false, true] {
        for f in [Fault::HardwareError, Fault::PageFault { at_offset: 10 }] {
            let cfg = ZswapConfig {
                swap_slots: 64,
                shrinker_enabled: false,
                ..Default::default()
            };
            let z = Zswap::new(
                iaa_scheduled(vec![(2, f)], fallback),
                cfg,
                Some(tempfile::tempfile().unwrap()),
            )
            .unwrap();
            z.store(3, &text()).unwrap();
            let r = z.writeback(1);
            println!("fallback {fallback} {} -> {r:?}", trace(&z, f));
            assert_eq!(fault_evidence(z.runtime(), f), 1, "{f:?} reached the device");
            let s = z.stats();
            // Either way the page ends up written back.
            assert_eq!((r.written_back, s.written_back_pages, s.stored_pages), (1, 1, 0));
            if fallback {
                assert_eq!((r.failed, s.reject_reclaim_fail), (0, 0));
                assert_eq!(fallbacks(&z.runtime().stats()), 1);
            } else {
                // The failed attempt kept the entry (rotated), the next one wrote it.
                assert_eq!((r.failed, s.reject_reclaim_fail), (1, 1));
                assert_eq!(fallbacks(&z.runtime().stats()), 0);
                assert!(faults_seen(&z.runtime().stats()) >= 1);
            }
            let mut page = vec![0u8; PAGE];
            assert_eq!(z.swap_in(3, &mut page).unwrap(), PageSource::SwapFile);
            assert_eq!(page, text());
        }
    }
}

#[test]
fn compress_overflow_is_poor_not_fail() {
    // An output overflow on compress means "does not compress": refused as poor without
    // writeback, stored raw with it; never redone in software.
    for fallback in [false, true] {
        let f = Fault::OutputOverflow;
        let z = Zswap::new(iaa_scheduled(vec![(0, f)], fallback), no_writeback(), None).unwrap();
        let r = z.store(3, &text());
        println!("fallback {fallback} {} -> {r:?}", trace(&z, f));
        assert_eq!(fault_evidence(z.runtime(), f), 1);
        assert!(
            matches!(r, Err(ZswapError::Rejected(RejectReason::CompressPoor))),
            "{r:?}"
        );
        assert_eq!(z.stats().reject_compress_poor, 1);
        let z = Zswap::new(
            iaa_scheduled(vec![(0, f)], fallback),
            ZswapConfig {
                swap_slots: 64,
                shrinker_enabled: false,
                ..Default::default()
            },
            Some(tempfile::tempfile().unwrap()),
        )
        .unwrap();
        z.store(3, &text()).unwrap();
        assert_eq!(z.stats().stored_incompressible_pages, 1);
        assert_eq!(z.entry_len(3), Some(PAGE));
    }
}

/// The runtime checks the CRC-32 of every device decompression's output against the record:
/// one wrong byte fails the load (fallback off: `decompress_fail`) or is redone in software.
#[test]
fn decompress_corrupt_output_is_caught() {
    for fallback in [false, true] {
        let f = Fault::CorruptOutput;
        let z = Zswap::new(iaa_scheduled(vec![(2, f)], fallback), no_writeback(), None).unwrap();
        z.store(3, &text()).unwrap();
        let mut page = vec![0u8; PAGE];
        let r = z.load(3, &mut page);
        assert_eq!(fault_evidence(z.runtime(), f), 1);
        assert_eq!(r.is_err(), !fallback, "fallback {fallback}: {r:?}");
        match r {
            Ok(()) => assert!(page == text(), "fallback {fallback}: wrong data returned as good"),
            Err(e) => {
                assert!(!fallback, "{e}");
                assert_eq!(z.stats().decompress_fail, 1);
            }
        }
    }
}
