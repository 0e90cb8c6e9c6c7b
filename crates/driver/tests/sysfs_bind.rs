//! Binding to and from vfio-pci on fake sysfs trees. The kernel's side (the driver link moving
//! after drivers_probe) is played by the test itself, so both outcomes of the check are covered.

mod sysfs_fake;

use idxd_driver::sysfs;
use idxd_driver::DriverError;
use sysfs_fake::FakeTree;

const DSA: &str = "0000:6a:01.0";

fn tree(driver: Option<&str>) -> FakeTree {
    let t = FakeTree::new();
    t.pci(DSA, 0x8086, 0x0b25, "0").group(DSA, 17);
    if let Some(d) = driver {
        t.bind(DSA, d);
    }
    t.write("sys/bus/pci/drivers/vfio-pci/unbind", "");
    t
}

fn override_of(t: &FakeTree) -> String {
    t.read(&format!("{}/driver_override", FakeTree::pci_dir(DSA)))
}

#[test]
fn bind_writes_override_unbind_probe_then_checks() {
    let t = tree(Some("idxd"));
    // The fake kernel does not move the link: the check reports who holds the function.
    let e = sysfs::bind_vfio(t.root(), DSA).unwrap_err();
    match &e {
        DriverError::WrongDriver {
            bdf,
            expected,
            actual,
        } => {
            assert_eq!(
                (bdf.as_str(), *expected, actual.as_deref()),
                (DSA, "vfio-pci", Some("idxd"))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.to_string(), "0000:6a:01.0 is bound to idxd, not vfio-pci");
    assert_eq!(override_of(&t), "vfio-pci");
    assert_eq!(t.read("sys/bus/pci/drivers/idxd/unbind"), DSA);
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), DSA);
}

#[test]
fn bind_succeeds_when_the_kernel_moves_the_function() {
    let t = tree(Some("idxd"));
    sysfs::request_vfio_bind(t.root(), DSA).unwrap();
    // What the kernel does on drivers_probe with the override set.
    t.bind(DSA, "vfio-pci");
    sysfs::verify_driver(t.root(), DSA, "vfio-pci").unwrap();
    // And now bind_vfio is a no-op that succeeds (no unbind from vfio-pci).
    t.write("sys/bus/pci/drivers_probe", "");
    sysfs::bind_vfio(t.root(), DSA).unwrap();
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), "");
    assert_eq!(t.read("sys/bus/pci/drivers/vfio-pci/unbind"), "");
}

#[test]
fn bind_of_an_unbound_function_skips_unbind_and_hints_at_the_module() {
    let t = tree(None);
    let e = sysfs::bind_vfio(t.root(), DSA).unwrap_err();
    assert!(
        matches!(&e, DriverError::WrongDriver { actual: None, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("no driver") && e.to_string().contains("vfio-pci module"),
        "{e}"
    );
    assert_eq!(override_of(&t), "vfio-pci");
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), DSA);
}

#[test]
fn bind_refuses_bad_addresses_and_other_devices_without_writing() {
    let t = tree(Some("idxd"));
    t.pci("0000:17:00.0", 0x10de, 0x2330, "0")
        .bind("0000:17:00.0", "nvidia");
    t.pci("0000:00:04.0", 0x8086, 0x0b00, "0")
        .bind("0000:00:04.0", "ioatdma");
    for bad in [
        "0000:6a:01",
        "0000:6a:01.0\n",
        "6a:01.0",
        "0000:6a:1.0",
        "zzzz:6a:01.0",
    ] {
        let e = sysfs::bind_vfio(t.root(), bad).unwrap_err();
        assert!(matches!(e, DriverError::InvalidBdf { .. }), "{bad:?}: {e:?}");
        assert!(e.to_string().contains("dddd:bb:dd.f"), "{e}");
    }
    for other in ["0000:17:00.0", "0000:00:04.0"] {
        let e = sysfs::bind_vfio(t.root(), other).unwrap_err();
        assert!(matches!(e, DriverError::NotAccelerator { .. }), "{e:?}");
        assert!(e.to_string().contains("not a DSA or IAA"), "{e}");
        assert_eq!(
            t.read(&format!("{}/driver_override", FakeTree::pci_dir(other))),
            "(null)\n"
        );
    }
    let e = sysfs::bind_vfio(t.root(), "0000:6a:09.0").unwrap_err();
    assert!(matches!(e, DriverError::NoDevice { .. }), "{e:?}");
    assert!(sysfs::unbind_vfio(t.root(), "0000:17:00.0").is_err());
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), "");
    assert_eq!(t.read("sys/bus/pci/drivers/idxd/unbind"), "");
}

#[test]
fn missing_override_attribute_is_an_error_naming_it() {
    let t = tree(Some("idxd"));
    std::fs::remove_file(t.path(&format!("{}/driver_override", FakeTree::pci_dir(DSA)))).unwrap();
    let e = sysfs::bind_vfio(t.root(), DSA).unwrap_err();
    assert!(
        matches!(&e, DriverError::Io { path, .. } if path.ends_with("driver_override")),
        "{e:?}"
    );
    assert!(
        !t.path(&format!("{}/driver_override", FakeTree::pci_dir(DSA)))
            .exists(),
        "no file created"
    );
}

#[test]
fn unbind_gives_the_function_back() {
    let t = tree(Some("vfio-pci"));
    t.write(
        &format!("{}/driver_override", FakeTree::pci_dir(DSA)),
        "vfio-pci\n",
    );
    sysfs::unbind_vfio(t.root(), DSA).unwrap();
    assert_eq!(override_of(&t), "\n");
    assert_eq!(t.read("sys/bus/pci/drivers/vfio-pci/unbind"), DSA);
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), DSA);
    // The kernel would now bind idxd; the test plays that and checks it.
    t.bind(DSA, "idxd");
    sysfs::verify_driver(t.root(), DSA, "idxd").unwrap();
    assert!(sysfs::verify_driver(t.root(), DSA, "vfio-pci").is_err());
}

#[test]
fn unbind_when_not_on_vfio() {
    // Already with idxd: only the override is cleared.
    let t = tree(Some("idxd"));
    sysfs::unbind_vfio(t.root(), DSA).unwrap();
    assert_eq!(override_of(&t), "\n");
    assert_eq!(t.read("sys/bus/pci/drivers/idxd/unbind"), "");
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), "");
    // Unbound: cleared and probed.
    let t = tree(None);
    sysfs::unbind_vfio(t.root(), DSA).unwrap();
    assert_eq!(t.read("sys/bus/pci/drivers_probe"), DSA);
}

#[test]
fn a_denylisted_part_names_vfio_pci_disable_denylist() {
    // vfio_pci.c vfio_pci_dev_in_denylist: 8086:0b25 (and 0cfe) are refused unless
    // disable_denylist=1. The fake kernel leaves the function unbound, as vfio-pci does.
    let t = tree(None);
    t.write(sysfs::DISABLE_DENYLIST_PARAM, "N\n");
    let e = sysfs::bind_vfio(t.root(), DSA).unwrap_err();
    match &e {
        DriverError::VfioDenylisted {
            bdf,
            vendor,
            device,
            value,
            ..
        } => assert_eq!(
            (bdf.as_str(), *vendor, *device, value.as_str()),
            (DSA, 0x8086, 0x0b25, "N")
        ),
        other => panic!("{other:?}"),
    }
    let msg = e.to_string();
    assert!(msg.contains("disable_denylist=1"), "{msg}");
    assert!(
        msg.contains("/sys/module/vfio_pci/parameters/disable_denylist"),
        "{msg}"
    );
    assert!(msg.contains("INTEL-SA-01084"), "{msg}");
    // With the denylist lifted (Y), a failed bind is reported as before.
    t.write(sysfs::DISABLE_DENYLIST_PARAM, "Y\n");
    assert!(matches!(
        sysfs::bind_vfio(t.root(), DSA).unwrap_err(),
        DriverError::WrongDriver { .. }
    ));
    // A part that is not on the denylist never gets the denylist error.
    let t = FakeTree::new();
    t.pci(DSA, 0x8086, 0x11fb, "0").group(DSA, 17);
    t.write(sysfs::DISABLE_DENYLIST_PARAM, "N\n");
    assert!(matches!(
        sysfs::bind_vfio(t.root(), DSA).unwrap_err(),
        DriverError::WrongDriver { .. }
    ));
}
