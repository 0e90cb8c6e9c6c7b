//! The vfio backing's parts that run without VFIO: BAR0 register access over ordinary memory
//! (bounds and alignment), decoding of VFIO_IOMMU_GET_INFO answers, eventfd interrupt waits.

use std::time::{Duration, Instant};

use idxd_driver::backing::vfio::{parse_iommu_info, wait_eventfd, IommuInfo, Mmio};
use idxd_driver::error::IommuInfoError;
use idxd_driver::RegisterAccess;
use vfio_bindings::bindings::vfio as vb;
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

fn mmio(len: usize) -> Mmio {
    Mmio::new(memmap2::MmapOptions::new().len(len).map_anon().unwrap().into())
}

fn info(flags: u32, pgsizes: u64, caps: &[(u16, u32, Vec<u8>)]) -> Vec<u8> {
    // Header, then each capability at the next 8-byte boundary, chained in order.
    let mut b = vec![0u8; 24];
    b[4..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..16].copy_from_slice(&pgsizes.to_ne_bytes());
    let mut prev_next: Option<usize> = None;
    for (id, ver, body) in caps {
        let off = b.len();
        match prev_next {
            None => b[16..20].copy_from_slice(&(off as u32).to_ne_bytes()),
            Some(p) => b[p..p + 4].copy_from_slice(&(off as u32).to_ne_bytes()),
        }
        b.extend_from_slice(&u32::from(*id).to_ne_bytes()[..2]);
        b.extend_from_slice(&(*ver as u16).to_ne_bytes());
        prev_next = Some(b.len());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(body);
        while b.len() % 8 != 0 {
            b.push(0);
        }
    }
    b
}

fn ranges_body(r: &[(u64, u64)]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(r.len() as u32).to_ne_bytes());
    v.extend_from_slice(&0u32.to_ne_bytes());
    for (s, e) in r {
        v.extend_from_slice(&s.to_ne_bytes());
        v.extend_from_slice(&e.to_ne_bytes());
    }
    v
}

#[test]
fn bar_accesses_are_bounds_and_alignment_checked() {
    let m = mmio(0x1000);
    m.write32(0x0, 0x100);
    m.write64(0x10, 0x40_915f_010f);
    assert_eq!(m.read32(0x0), 0x100);
    assert_eq!(m.read64(0x10), 0x40_915f_010f);
    assert_eq!(m.read32(0x10), 0x915f_010f);
    m.write32(0xffc, 7);
    assert_eq!(m.try_read32(0xffc).unwrap(), 7);
    assert_eq!(m.try_read64(0xff8).unwrap() >> 32, 7);
    for off in [0x1000, 0xffe, 0x2, u64::MAX - 3, u64::MAX] {
        assert!(m.try_read32(off).is_err(), "{off:#x}");
        assert!(m.try_write32(off, 1).is_err(), "{off:#x}");
        assert_eq!(m.read32(off), u32::MAX);
    }
    for off in [0xffc, 0x1000, 0x4, u64::MAX - 7] {
        assert!(m.try_read64(off).is_err(), "{off:#x}");
        assert!(m.try_write64(off, 1).is_err(), "{off:#x}");
        assert_eq!(m.read64(off), u64::MAX);
    }
    // Refused writes change nothing.
    m.write64(0xffc, u64::MAX);
    assert_eq!(m.read32(0xffc), 7);
    let e = m.try_read32(0x1000).unwrap_err().to_string();
    assert!(e.contains("0x1000") && e.contains("BAR"), "{e}");
}

#[test]
fn iommu_info_capability_chain() {
    let caps = vb::VFIO_IOMMU_INFO_PGSIZES | vb::VFIO_IOMMU_INFO_CAPS;
    let ranges = [(0, 0xfedf_ffff), (0xfef0_0000, 0xff_ffff_ffff)];
    // A migration capability (id 2) first, then the IOVA ranges (id 1).
    let b = info(
        caps,
        0x4020_1000,
        &[(2, 1, vec![0; 16]), (1, 1, ranges_body(&ranges))],
    );
    let i = parse_iommu_info(&b).unwrap();
    assert_eq!(i.page, 4096);
    assert_eq!(i.ranges.as_deref(), Some(&ranges[..]));
    // No capabilities: page size only.
    let i = parse_iommu_info(&info(vb::VFIO_IOMMU_INFO_PGSIZES, 0x20_0000, &[])).unwrap();
    assert_eq!(
        i,
        IommuInfo {
            page: 0x20_0000,
            ranges: None
        }
    );
    assert_eq!(parse_iommu_info(&info(0, 0, &[])).unwrap().page, 4096);
}

#[test]
fn malformed_iommu_info_is_an_error_not_a_panic() {
    let caps = vb::VFIO_IOMMU_INFO_CAPS;
    assert_eq!(parse_iommu_info(&[0; 8]), Err(IommuInfoError::Short { len: 8 }));
    // Truncated range list.
    let mut b = info(
        caps,
        0,
        &[(1, 1, ranges_body(&[(0x1000, 0x1fff), (0x3000, 0x3fff)]))],
    );
    b.truncate(b.len() - 8);
    let e = parse_iommu_info(&b).unwrap_err();
    assert!(
        matches!(
            e,
            IommuInfoError::RangeBeyond {
                index: 1,
                count: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("beyond"), "{e}");
    // A huge count.
    let mut b = info(caps, 0, &[(1, 1, ranges_body(&[(0x1000, 0x1fff)]))]);
    b[32..36].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert!(
        matches!(
            parse_iommu_info(&b),
            Err(IommuInfoError::RangeBeyond { index: 1, count, .. }) if count == u32::MAX as usize
        ),
        "{:?}",
        parse_iommu_info(&b)
    );
    // A cap offset pointing into the header, past the end, or a loop.
    let mut b = info(caps, 0, &[(2, 1, vec![0; 8])]);
    b[16..20].copy_from_slice(&8u32.to_ne_bytes());
    assert_eq!(
        parse_iommu_info(&b),
        Err(IommuInfoError::BadCapabilityOffset { off: 8 })
    );
    b[16..20].copy_from_slice(&4096u32.to_ne_bytes());
    assert_eq!(
        parse_iommu_info(&b),
        Err(IommuInfoError::CapabilityBeyond {
            off: 4096,
            len: b.len()
        })
    );
    b[16..20].copy_from_slice(&24u32.to_ne_bytes());
    b[28..32].copy_from_slice(&24u32.to_ne_bytes());
    let e = parse_iommu_info(&b).unwrap_err();
    assert!(matches!(e, IommuInfoError::ChainDoesNotEnd { .. }), "{e:?}");
    assert!(e.to_string().contains("does not end"), "{e}");
}

#[test]
fn eventfd_wait_counts_and_times_out() {
    let fd = EventFd::new(EFD_NONBLOCK).unwrap();
    let t = Instant::now();
    assert_eq!(wait_eventfd(&fd, Duration::from_millis(20)).unwrap(), 0);
    assert!(t.elapsed() >= Duration::from_millis(20));
    fd.write(3).unwrap();
    assert_eq!(wait_eventfd(&fd, Duration::from_secs(5)).unwrap(), 3);
    assert_eq!(wait_eventfd(&fd, Duration::ZERO).unwrap(), 0);
}
