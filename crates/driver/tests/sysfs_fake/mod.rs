//! A fake sysfs/dev tree in a temporary directory, laid out as the kernel does: real objects
//! under `sys/devices/...`, bus views under `sys/bus/...` as relative symbolic links.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

pub struct FakeTree {
    dir: tempfile::TempDir,
}

impl FakeTree {
    pub fn new() -> Self {
        let t = FakeTree {
            dir: tempfile::tempdir().unwrap(),
        };
        t.write("sys/bus/pci/drivers_probe", "");
        t
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, content: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn link(&self, rel: &str, target: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        let _ = fs::remove_file(&p);
        symlink(target, p).unwrap();
    }

    /// `sys/devices/pci0000:<bus>/<bdf>`, relative to the root.
    pub fn pci_dir(bdf: &str) -> String {
        format!("sys/devices/pci{}:{}/{bdf}", &bdf[..4], &bdf[5..7])
    }

    /// A PCI function with vendor, device and numa_node, listed on the PCI bus, unbound.
    pub fn pci(&self, bdf: &str, vendor: u16, device: u16, numa: &str) -> &Self {
        let d = Self::pci_dir(bdf);
        self.write(&format!("{d}/vendor"), &format!("0x{vendor:04x}\n"));
        self.write(&format!("{d}/device"), &format!("0x{device:04x}\n"));
        self.write(&format!("{d}/numa_node"), &format!("{numa}\n"));
        self.write(&format!("{d}/driver_override"), "(null)\n");
        self.link(
            &format!("sys/bus/pci/devices/{bdf}"),
            &format!("../../../devices/pci{}:{}/{bdf}", &bdf[..4], &bdf[5..7]),
        );
        self
    }

    /// Puts the function in IOMMU group `group`.
    pub fn group(&self, bdf: &str, group: u32) -> &Self {
        let d = Self::pci_dir(bdf);
        fs::create_dir_all(self.path(&format!("sys/kernel/iommu_groups/{group}/devices"))).unwrap();
        self.link(
            &format!("{d}/iommu_group"),
            &format!("../../../kernel/iommu_groups/{group}"),
        );
        self.link(
            &format!("sys/kernel/iommu_groups/{group}/devices/{bdf}"),
            &format!("../../../../{}", &d[4..]),
        );
        self
    }

    /// Binds the function to `driver` (the driver's directory gets empty bind/unbind files).
    pub fn bind(&self, bdf: &str, driver: &str) -> &Self {
        self.write(&format!("sys/bus/pci/drivers/{driver}/unbind"), "");
        self.write(&format!("sys/bus/pci/drivers/{driver}/bind"), "");
        self.link(
            &format!("{}/driver", Self::pci_dir(bdf)),
            &format!("../../../bus/pci/drivers/{driver}"),
        );
        self
    }

    pub fn unbind(&self, bdf: &str) -> &Self {
        fs::remove_file(self.path(&format!("{}/driver", Self::pci_dir(bdf)))).unwrap();
        self
    }

    /// An idxd device (`dsa0`, `iax1`) under the PCI function, listed on the dsa bus, with
    /// attributes `attrs`.
    pub fn idxd_device(&self, bdf: &str, name: &str, attrs: &[(&str, &str)]) -> &Self {
        let d = format!("{}/{name}", Self::pci_dir(bdf));
        fs::create_dir_all(self.path(&d)).unwrap();
        for (k, v) in attrs {
            self.write(&format!("{d}/{k}"), &format!("{v}\n"));
        }
        self.link(
            &format!("sys/bus/dsa/devices/{name}"),
            &format!("../../../{}", &d[4..]),
        );
        self
    }

    /// A WQ `wq` of device `dev` (on PCI function `bdf`) with attributes `attrs`.
    pub fn idxd_wq(&self, bdf: &str, dev: &str, wq: &str, attrs: &[(&str, &str)]) -> &Self {
        let d = format!("{}/{dev}/{wq}", Self::pci_dir(bdf));
        fs::create_dir_all(self.path(&d)).unwrap();
        for (k, v) in attrs {
            self.write(&format!("{d}/{k}"), &format!("{v}\n"));
        }
        self.link(
            &format!("sys/bus/dsa/devices/{wq}"),
            &format!("../../../{}", &d[4..]),
        );
        self
    }

    /// A stand-in for a WQ char device (a regular file: never submit to it).
    pub fn char_dev(&self, rel: &str) -> PathBuf {
        self.write(rel, "");
        self.path(rel)
    }
}
