//! Discovery on fake sysfs trees: PCI functions and kernel-owned devices and WQs.

mod sysfs_fake;

use idxd_driver::sysfs::{self, Bdf, WqType};
use idxd_driver::DriverError;
use idxd_hw::pci::DeviceKind;
use idxd_hw::tables::WqMode;
use sysfs_fake::FakeTree;

fn machine() -> FakeTree {
    let t = FakeTree::new();
    t.pci("0000:6a:01.0", 0x8086, 0x0b25, "0")
        .group("0000:6a:01.0", 17)
        .bind("0000:6a:01.0", "idxd");
    t.pci("0000:6a:02.0", 0x8086, 0x0cfe, "-1")
        .group("0000:6a:02.0", 18)
        .bind("0000:6a:02.0", "vfio-pci");
    t.pci("0000:e7:02.0", 0x8086, 0x1216, "1");
    // Not ours: another Intel function, a GPU, and an entry that is not a PCI address.
    t.pci("0000:00:00.0", 0x8086, 0x09a2, "0")
        .bind("0000:00:00.0", "pcieport");
    t.pci("0000:17:00.0", 0x10de, 0x0b25, "0");
    t.write("sys/bus/pci/devices/not-a-bdf/vendor", "0x8086\n");
    t
}

#[test]
fn lists_dsa_and_iaa_functions_only_sorted() {
    let t = machine();
    let f = sysfs::list_pci_functions(t.root()).unwrap();
    let bdfs: Vec<String> = f.iter().map(|f| f.bdf.to_string()).collect();
    assert_eq!(bdfs, ["0000:6a:01.0", "0000:6a:02.0", "0000:e7:02.0"]);

    let dsa = &f[0];
    assert_eq!(
        (dsa.vendor, dsa.device, dsa.kind),
        (0x8086, 0x0b25, DeviceKind::Dsa)
    );
    assert_eq!(dsa.part, "DSA (Sapphire Rapids / Granite Rapids)");
    assert_eq!(dsa.numa_node, Some(0));
    assert_eq!(dsa.iommu_group, Some(17));
    assert_eq!(dsa.driver.as_deref(), Some("idxd"));
    assert_eq!(dsa.sysfs_path, t.path("sys/bus/pci/devices/0000:6a:01.0"));

    let iaa = &f[1];
    assert_eq!(iaa.kind, DeviceKind::Iaa);
    assert_eq!(iaa.numa_node, None, "-1 means no node");
    assert_eq!(iaa.driver.as_deref(), Some("vfio-pci"));

    let unbound = &f[2];
    assert_eq!(unbound.part, "IAA (Diamond Rapids)");
    assert_eq!(
        (unbound.numa_node, unbound.iommu_group, unbound.driver.as_deref()),
        (Some(1), None, None)
    );

    // Serializes with the address as a string (for `idxd list --json`).
    let j = serde_json::to_value(dsa).unwrap();
    assert_eq!(j["bdf"], "0000:6a:01.0");
    assert_eq!(j["kind"], "dsa");
}

#[test]
fn one_function_by_address() {
    let t = machine();
    assert_eq!(
        sysfs::pci_function(t.root(), "0000:6a:02.0").unwrap().iommu_group,
        Some(18)
    );
    assert!(matches!(
        sysfs::pci_function(t.root(), "0000:6a:09.0"),
        Err(DriverError::NoDevice { .. })
    ));
    match sysfs::pci_function(t.root(), "0000:17:00.0") {
        Err(e @ DriverError::NotAccelerator { vendor: 0x10de, .. }) => {
            assert!(e.to_string().contains("10de:0b25"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        sysfs::pci_function(t.root(), "6a:02.0"),
        Err(DriverError::InvalidBdf { .. })
    ));
    assert_eq!(
        sysfs::current_driver(t.root(), "0000:6a:02.0")
            .unwrap()
            .as_deref(),
        Some("vfio-pci")
    );
    assert_eq!(sysfs::current_driver(t.root(), "0000:e7:02.0").unwrap(), None);
}

#[test]
fn no_pci_bus_means_no_functions() {
    let t = tempfile::tempdir().unwrap();
    assert!(sysfs::list_pci_functions(t.path()).unwrap().is_empty());
    assert!(sysfs::list_kernel_devices(t.path()).unwrap().is_empty());
}

#[test]
fn malformed_pci_attributes_name_the_file() {
    for (attr, content) in [("vendor", "intel"), ("device", "0x1_0000"), ("numa_node", "zero")] {
        let t = machine();
        let d = FakeTree::pci_dir("0000:6a:01.0");
        t.write(&format!("{d}/{attr}"), content);
        match sysfs::list_pci_functions(t.root()) {
            Err(DriverError::Parse { path, content: c }) => {
                assert!(path.ends_with(attr), "{}", path.display());
                assert_eq!(c, content);
            }
            other => panic!("{attr}: {other:?}"),
        }
    }
    // An IOMMU group link whose name is not a number.
    let t = machine();
    t.link(
        &format!("{}/iommu_group", FakeTree::pci_dir("0000:6a:01.0")),
        "../../../kernel/iommu_groups/x7",
    );
    let e = sysfs::list_pci_functions(t.root()).unwrap_err();
    assert!(
        matches!(&e, DriverError::Parse { path, .. } if path.ends_with("iommu_group")),
        "{e:?}"
    );
}

#[test]
fn iommu_group_members_and_their_drivers() {
    let t = machine();
    t.pci("0000:6a:02.1", 0x8086, 0x09a2, "0")
        .group("0000:6a:02.1", 18)
        .bind("0000:6a:02.1", "pcieport");
    let m = sysfs::iommu_group_members(t.root(), 18).unwrap();
    let got: Vec<(&str, Option<&str>)> = m.iter().map(|m| (m.bdf.as_str(), m.driver.as_deref())).collect();
    assert_eq!(
        got,
        [
            ("0000:6a:02.0", Some("vfio-pci")),
            ("0000:6a:02.1", Some("pcieport"))
        ]
    );
    assert!(sysfs::iommu_group_members(t.root(), 99).unwrap().is_empty());
}

fn kernel_machine() -> FakeTree {
    let t = FakeTree::new();
    t.pci("0000:6a:01.0", 0x8086, 0x0b25, "0")
        .bind("0000:6a:01.0", "idxd");
    t.pci("0000:6a:02.0", 0x8086, 0x0cfe, "0")
        .bind("0000:6a:02.0", "idxd");
    t.idxd_device(
        "0000:6a:01.0",
        "dsa0",
        &[
            ("state", "enabled"),
            ("numa_node", "0"),
            ("max_batch_size", "1024"),
            ("max_transfer_size", "2147483648"),
        ],
    );
    t.idxd_wq(
        "0000:6a:01.0",
        "dsa0",
        "wq0.1",
        &[
            ("mode", "shared"),
            ("size", "64"),
            ("type", "user"),
            ("state", "enabled"),
            ("name", "app"),
            ("threshold", "60"),
        ],
    );
    t.idxd_wq(
        "0000:6a:01.0",
        "dsa0",
        "wq0.0",
        &[
            ("mode", "dedicated"),
            ("size", "16"),
            ("type", "kernel"),
            ("state", "enabled"),
            ("name", "dmaengine"),
            ("max_transfer_size", "2097152"),
            ("max_batch_size", "32"),
            ("priority", "10"),
            ("threshold", "0"),
        ],
    );
    // Only some attributes: the rest read as None.
    t.idxd_device(
        "0000:6a:02.0",
        "iax1",
        &[("state", "enabled"), ("numa_node", "-1")],
    );
    t.idxd_wq(
        "0000:6a:02.0",
        "iax1",
        "wq1.0",
        &[("mode", "dedicated"), ("type", "user"), ("name", "")],
    );
    // Other dsa-bus objects, and a WQ whose device is not there.
    t.idxd_device("0000:6a:01.0", "engine0.0", &[]);
    t.idxd_device("0000:6a:01.0", "group0.0", &[]);
    t.idxd_wq("0000:6a:01.0", "dsa0", "wq5.0", &[("mode", "shared")]);
    t
}

#[test]
fn kernel_devices_and_wqs() {
    let t = kernel_machine();
    let d = sysfs::list_kernel_devices(t.root()).unwrap();
    assert_eq!(
        d.iter().map(|d| d.name.as_str()).collect::<Vec<_>>(),
        ["dsa0", "iax1"]
    );

    let dsa = &d[0];
    assert_eq!(
        (dsa.kind, dsa.id, dsa.state.as_deref()),
        (DeviceKind::Dsa, 0, Some("enabled"))
    );
    assert_eq!(
        (dsa.numa_node, dsa.max_batch_size, dsa.max_transfer_size),
        (Some(0), Some(1024), Some(1 << 31))
    );
    assert_eq!(dsa.pci, Some(Bdf::parse("0000:6a:01.0").unwrap()));
    assert_eq!(
        dsa.wqs.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(),
        ["wq0.0", "wq0.1"]
    );

    let w = &dsa.wqs[0];
    assert_eq!((w.device_id, w.wq_id, w.kind), (0, 0, DeviceKind::Dsa));
    assert_eq!(
        (w.mode, w.size, w.wq_type),
        (Some(WqMode::Dedicated), Some(16), Some(WqType::Kernel))
    );
    assert_eq!(
        (w.state.as_deref(), w.label.as_deref()),
        (Some("enabled"), Some("dmaengine"))
    );
    assert_eq!(
        (w.max_transfer_size, w.max_batch_size, w.priority, w.threshold),
        (Some(2 << 20), Some(32), Some(10), Some(0))
    );
    assert_eq!(w.char_dev, t.path("dev/dsa/wq0.0"));
    assert!(w.is_enabled());

    let s = &dsa.wqs[1];
    assert_eq!(
        (s.mode, s.wq_type, s.threshold),
        (Some(WqMode::Shared), Some(WqType::User), Some(60))
    );
    assert_eq!(s.priority, None);

    let iax = &d[1];
    assert_eq!((iax.kind, iax.id, iax.numa_node), (DeviceKind::Iaa, 1, None));
    assert_eq!((iax.max_batch_size, iax.max_transfer_size), (None, None));
    assert_eq!(iax.pci, Some(Bdf::parse("0000:6a:02.0").unwrap()));
    let w = &iax.wqs[0];
    assert_eq!(w.char_dev, t.path("dev/iax/wq1.0"));
    assert_eq!(
        (w.size, w.state.as_deref(), w.label.as_deref()),
        (None, None, None)
    );
    assert!(!w.is_enabled());

    let j = serde_json::to_value(&d).unwrap();
    assert_eq!(j[0]["pci"], "0000:6a:01.0");
    assert_eq!(j[0]["wqs"][1]["mode"], "shared");
    assert_eq!(j[0]["wqs"][0]["wq_type"], "kernel");
    assert!(j[1]["wqs"][0]["size"].is_null());
}

#[test]
fn kernel_wq_by_name() {
    let t = kernel_machine();
    let w = sysfs::kernel_wq(t.root(), "wq1.0").unwrap();
    assert_eq!(w.kind, DeviceKind::Iaa);
    let e = sysfs::kernel_wq(t.root(), "wq9.9").unwrap_err();
    match &e {
        DriverError::NoKernelWq { name, known, .. } => {
            assert_eq!(name, "wq9.9");
            assert_eq!(known, &["wq0.0", "wq0.1", "wq1.0"]);
        }
        other => panic!("{other:?}"),
    }
    let e = e.to_string();
    assert!(e.contains("wq9.9") && e.contains("wq0.0, wq0.1, wq1.0"), "{e}");
}

#[test]
fn malformed_kernel_attributes_name_the_file() {
    for (obj, attr, content) in [
        ("dsa0/wq0.0", "mode", "sharded"),
        ("dsa0/wq0.0", "type", "userspace"),
        ("dsa0/wq0.0", "size", "sixteen"),
        ("dsa0/wq0.0", "priority", "-1"),
        ("dsa0", "max_transfer_size", "2G"),
        ("dsa0", "numa_node", ""),
    ] {
        let t = kernel_machine();
        t.write(
            &format!("{}/{obj}/{attr}", FakeTree::pci_dir("0000:6a:01.0")),
            content,
        );
        match sysfs::list_kernel_devices(t.root()) {
            Err(e @ DriverError::Parse { .. }) => {
                let DriverError::Parse { path, .. } = &e else {
                    unreachable!()
                };
                assert!(
                    path.ends_with(format!("{}/{attr}", obj.rsplit('/').next().unwrap())),
                    "{}",
                    path.display()
                );
                assert!(e.to_string().contains(attr), "{e}");
            }
            other => panic!("{obj}/{attr}: {other:?}"),
        }
    }
}

#[test]
fn device_without_pci_in_its_path() {
    let t = FakeTree::new();
    // A device directory that is not a link (odd, but must not fail): no PCI address.
    t.write("sys/bus/dsa/devices/dsa3/state", "disabled\n");
    let d = sysfs::list_kernel_devices(t.root()).unwrap();
    assert_eq!(
        (d[0].id, d[0].pci, d[0].state.as_deref()),
        (3, None, Some("disabled"))
    );
}
