//! Opening kernel-owned WQs on fake trees. The char devices here are regular files: these tests
//! check refusals and the parts of the backing that do not submit, and never submit.

mod sysfs_fake;

use std::time::Duration;

use idxd_driver::backing::kernel_wq::KernelWqBacking;
use idxd_driver::portal::CpuFeatures;
use idxd_driver::sysfs::{self, KernelWq};
use idxd_driver::{DescBytes, DeviceBacking, DriverError, PortalKind};
use idxd_hw::pci::DeviceKind;
use idxd_hw::tables::WqMode;
use sysfs_fake::FakeTree;

fn tree() -> FakeTree {
    let t = FakeTree::new();
    t.pci("0000:6a:01.0", 0x8086, 0x0b25, "0")
        .bind("0000:6a:01.0", "idxd");
    t.pci("0000:6a:02.0", 0x8086, 0x0cfe, "0")
        .bind("0000:6a:02.0", "idxd");
    t.idxd_device("0000:6a:01.0", "dsa0", &[("state", "enabled")]);
    t.idxd_wq(
        "0000:6a:01.0",
        "dsa0",
        "wq0.0",
        &[("mode", "shared"), ("type", "user"), ("state", "enabled")],
    );
    t.idxd_wq(
        "0000:6a:01.0",
        "dsa0",
        "wq0.1",
        &[("mode", "dedicated"), ("type", "kernel"), ("state", "enabled")],
    );
    t.idxd_wq("0000:6a:01.0", "dsa0", "wq0.2", &[("type", "user")]);
    t.idxd_device("0000:6a:02.0", "iax1", &[("state", "enabled")]);
    t.idxd_wq(
        "0000:6a:02.0",
        "iax1",
        "wq1.0",
        &[("mode", "dedicated"), ("type", "user"), ("state", "enabled")],
    );
    t
}

fn wq(t: &FakeTree, name: &str) -> KernelWq {
    sysfs::kernel_wq(t.root(), name).unwrap()
}

#[test]
fn missing_char_device_names_the_path() {
    let t = tree();
    let w = wq(&t, "wq1.0");
    let e = KernelWqBacking::open_with(&w, CpuFeatures::ALL).unwrap_err();
    match &e {
        DriverError::Io { path, .. } => assert_eq!(path, &t.path("dev/iax/wq1.0")),
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("dev/iax/wq1.0") && msg.contains("enabled"), "{msg}");
}

#[test]
fn cpu_without_the_instruction_is_refused_first() {
    let t = tree();
    // Dedicated IAA WQ: MOVDIR64B. Refused before the (missing) char device is even opened.
    let e = KernelWqBacking::open_with(&wq(&t, "wq1.0"), CpuFeatures::NONE).unwrap_err();
    match &e {
        DriverError::CpuLacks { instruction, bit, wq } => {
            assert_eq!((*instruction, *bit), ("MOVDIR64B", 28));
            assert!(wq.ends_with("dev/iax/wq1.0") && wq.starts_with("wq:"), "{wq}");
        }
        other => panic!("{other:?}"),
    }
    // Shared DSA WQ: ENQCMD, even with the char device present and MOVDIR64B available.
    t.char_dev("dev/dsa/wq0.0");
    let e = KernelWqBacking::open_with(
        &wq(&t, "wq0.0"),
        CpuFeatures {
            movdir64b: true,
            enqcmd: false,
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            e,
            DriverError::CpuLacks {
                instruction: "ENQCMD",
                bit: 29,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("wq0.0"), "{e}");
}

#[test]
fn kernel_type_and_unknown_mode_are_refused() {
    let t = tree();
    let e = KernelWqBacking::open_with(&wq(&t, "wq0.1"), CpuFeatures::ALL).unwrap_err();
    assert!(
        matches!(e, DriverError::Config { .. }) && e.to_string().contains("not user"),
        "{e}"
    );
    let e = KernelWqBacking::open_with(&wq(&t, "wq0.2"), CpuFeatures::ALL).unwrap_err();
    assert!(e.to_string().contains("mode unknown"), "{e}");
}

// Opens over a regular file standing in for the char device (with an injected capability set)
// to check everything but submission. Only refused submissions are attempted: a real one would
// execute MOVDIR64B/ENQCMD against ordinary memory.
#[test]
fn backing_over_a_stand_in_char_device() {
    let t = tree();
    let path = t.char_dev("dev/iax/wq1.0");
    let b = KernelWqBacking::open_with(&wq(&t, "wq1.0"), CpuFeatures::ALL).unwrap();
    assert_eq!(b.describe(), format!("wq:{}", path.display()));
    assert_eq!(b.kind(), DeviceKind::Iaa);
    assert_eq!(b.mode(), WqMode::Dedicated);
    assert_eq!(b.portal_kind(), PortalKind::Movdir64b);
    assert!(b.registers().is_none());
    assert!(matches!(b.pci_read16(4), Err(DriverError::Unsupported(_))));
    assert!(matches!(b.pci_write16(4, 6), Err(DriverError::Unsupported(_))));
    assert!(matches!(
        b.wait_interrupt(0, Duration::ZERO),
        Err(DriverError::Unsupported(_))
    ));
    assert!(matches!(b.function_reset(), Err(DriverError::Unsupported(_))));

    let mut buf = vec![0u8; 4096];
    // SAFETY: SVA mapping is the identity and never hands the memory to a device here.
    let a = unsafe { b.dma_map(buf.as_mut_ptr(), buf.len(), true) }.unwrap();
    assert_eq!(a, buf.as_ptr() as u64);
    b.dma_unmap(a, buf.len()).unwrap();
    // SAFETY: refused before anything is mapped.
    assert!(unsafe { b.dma_map(std::ptr::null_mut(), 64, true) }.is_err());

    let d = DescBytes([0; 64]);
    for off in [4096, 8, 1 << 20] {
        assert!(
            matches!(
                b.submit(off, &d, PortalKind::Movdir64b),
                Err(DriverError::Config { .. })
            ),
            "{off}"
        );
    }
    let e = b.submit(0, &d, PortalKind::Enqcmd).unwrap_err();
    assert!(e.to_string().contains("dedicated"), "{e}");
}

#[test]
fn open_by_path_with_this_cpu() {
    let t = tree();
    let p = t.path("dev/dsa/wq0.0");
    let cpu = CpuFeatures::detect();
    match KernelWqBacking::open_path(&p, DeviceKind::Dsa, WqMode::Shared, cpu) {
        Err(DriverError::CpuLacks {
            instruction: "ENQCMD",
            ..
        }) => assert!(!cpu.enqcmd),
        Err(DriverError::Io { path, .. }) => assert_eq!(path, p),
        other => panic!("{other:?}"),
    }
}
