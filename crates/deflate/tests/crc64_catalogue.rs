//! CRC64 operation against the CRC catalogue, through idxd-deflate directly.

use idxd_deflate::crc64;
use idxd_hw::Crc64Flags;

#[path = "support/crc64_catalogue.rs"]
mod catalogue;
use catalogue::*;

fn flags(reflected: bool, inverted: bool) -> Crc64Flags {
    let mut f = Crc64Flags::empty();
    f.set(Crc64Flags::BE, reflected);
    f.set(Crc64Flags::INVERT, inverted);
    f
}

#[test]
fn every_catalogue_entry_with_its_flags() {
    let mut bad = Vec::new();
    for &(name, width, poly, refl, inv, check) in CATALOGUE {
        let got = crc64(b"123456789", left_justified(width, poly), flags(refl, inv));
        let want = placed(width, refl, check);
        if got != want {
            bad.push(format!("{name}: got {got:#018x}, want {want:#018x}"));
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_flag_combination_is_covered() {
    for refl in [false, true] {
        for inv in [false, true] {
            assert!(
                CATALOGUE.iter().any(|e| e.3 == refl && e.4 == inv),
                "no vector for BE={refl} INVERT={inv}"
            );
        }
    }
}

#[test]
fn qpl_flag_bits() {
    // QPL own_hw_definitions.h: ADC64F_INVCRC = 1 << 14, ADC64F_BE = 1 << 15.
    assert_eq!(Crc64Flags::INVERT.bits(), 1 << 14);
    assert_eq!(Crc64Flags::BE.bits(), 1 << 15);
}
