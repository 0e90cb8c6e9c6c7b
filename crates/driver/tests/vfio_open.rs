//! The vfio backing without VFIO: every way opening fails before a device is reached, each with
//! an error naming what is missing. (Nothing here can reach a real device: the fake tree's
//! /dev/vfio entries are absent or regular files, on which VFIO ioctls fail with ENOTTY.)

mod sysfs_fake;

use idxd_driver::backing::vfio::VfioBacking;
use idxd_driver::error::VfioError;
use idxd_driver::portal::CpuFeatures;
use idxd_driver::DriverError;
use sysfs_fake::FakeTree;

const IAA: &str = "0000:6a:02.0";

fn tree() -> FakeTree {
    let t = FakeTree::new();
    t.pci(IAA, 0x8086, 0x0cfe, "0")
        .group(IAA, 42)
        .bind(IAA, "vfio-pci");
    t
}

fn open(t: &FakeTree, bdf: &str) -> DriverError {
    VfioBacking::open_with(t.root(), bdf, CpuFeatures::ALL).unwrap_err()
}

#[test]
fn no_vfio_group_node_names_it() {
    let t = tree();
    let e = open(&t, IAA);
    match &e {
        DriverError::Io { path, .. } => assert_eq!(path, &t.path("dev/vfio/42")),
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains("dev/vfio/42") && e.to_string().contains("vfio-pci"),
        "{e}"
    );
}

#[test]
fn no_container_names_dev_vfio_vfio() {
    let t = tree();
    t.write("dev/vfio/42", "");
    let e = open(&t, IAA);
    match &e {
        DriverError::Io { path, .. } => assert_eq!(path, &t.path("dev/vfio/vfio")),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("dev/vfio/vfio"), "{e}");
}

#[test]
fn files_that_are_not_vfio_fail_the_first_ioctl() {
    let t = tree();
    t.write("dev/vfio/42", "");
    t.write("dev/vfio/vfio", "");
    let e = open(&t, IAA);
    match &e {
        DriverError::Ioctl { ioctl, path, source } => {
            assert_eq!(*ioctl, "VFIO_GET_API_VERSION");
            assert_eq!(path, &t.path("dev/vfio/vfio"));
            assert_eq!(source.raw_os_error(), Some(libc::ENOTTY));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn device_not_on_vfio_pci() {
    let t = tree();
    t.bind(IAA, "idxd");
    let e = open(&t, IAA);
    assert!(
        matches!(&e, DriverError::WrongDriver { expected: "vfio-pci", actual: Some(a), .. } if a == "idxd"),
        "{e:?}"
    );
}

#[test]
fn device_without_iommu_group() {
    let t = FakeTree::new();
    t.pci(IAA, 0x8086, 0x0cfe, "0").bind(IAA, "vfio-pci");
    let e = open(&t, IAA);
    match &e {
        DriverError::Vfio(VfioError::NoIommuGroup { bdf, path }) => {
            assert_eq!(bdf, IAA);
            assert!(path.ends_with("iommu_group"), "{}", path.display());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains("no IOMMU group") && e.to_string().contains("intel_iommu=on"),
        "{e}"
    );
}

#[test]
fn addresses_are_checked() {
    let t = tree();
    assert!(matches!(open(&t, "0000:6a:02"), DriverError::InvalidBdf { .. }));
    assert!(matches!(open(&t, "0000:6a:03.0"), DriverError::NoDevice { .. }));
    t.pci("0000:17:00.0", 0x10de, 0x2330, "0")
        .group("0000:17:00.0", 43)
        .bind("0000:17:00.0", "vfio-pci");
    assert!(matches!(
        open(&t, "0000:17:00.0"),
        DriverError::NotAccelerator { .. }
    ));
}
