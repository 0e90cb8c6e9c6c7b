//! PCI functions: addresses, identity, driver and IOMMU group, as sysfs lists them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use idxd_hw::pci::{self, DeviceKind};

use super::attr::*;
use crate::DriverError;

/// A PCI address, `dddd:bb:dd.f` in hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bdf {
    /// PCI segment (domain).
    pub domain: u16,
    /// Bus.
    pub bus: u8,
    /// Device, 0..=0x1f.
    pub device: u8,
    /// Function, 0..=7.
    pub function: u8,
}

impl Bdf {
    /// Parses `dddd:bb:dd.f` (hex digits, either case); anything else is
    /// [`DriverError::InvalidBdf`].
    pub fn parse(s: &str) -> Result<Bdf, DriverError> {
        let bad = || DriverError::InvalidBdf { bdf: s.to_string() };
        let b = s.as_bytes();
        if b.len() != 12 || b[4] != b':' || b[7] != b':' || b[10] != b'.' {
            return Err(bad());
        }
        let hex = |r: std::ops::Range<usize>| -> Result<u16, DriverError> {
            let part = &s[r];
            if !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(bad());
            }
            u16::from_str_radix(part, 16).map_err(|_| bad())
        };
        let domain = hex(0..4)?;
        let bus = hex(5..7)?;
        let device = hex(8..10)?;
        let function = hex(11..12)?;
        if device > 0x1f || function > 7 {
            return Err(bad());
        }
        Ok(Bdf {
            domain,
            bus: bus as u8,
            device: device as u8,
            function: function as u8,
        })
    }
}

impl FromStr for Bdf {
    type Err = DriverError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bdf::parse(s)
    }
}

impl fmt::Display for Bdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.device, self.function
        )
    }
}

impl serde::Serialize for Bdf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A DSA or IAA PCI function found in sysfs.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PciFunction {
    /// Its address.
    pub bdf: Bdf,
    /// PCI vendor id (always 0x8086 here).
    pub vendor: u16,
    /// PCI device id.
    pub device: u16,
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// The part, from the PCI id alone (VERSION is not readable from sysfs).
    pub part: String,
    /// NUMA node (`None` when the kernel reports -1 or nothing).
    pub numa_node: Option<u32>,
    /// IOMMU group (`None` without an IOMMU).
    pub iommu_group: Option<u32>,
    /// The bound driver (`idxd`, `vfio-pci`), `None` when unbound.
    pub driver: Option<String>,
    /// `root/sys/bus/pci/devices/<bdf>`.
    pub sysfs_path: PathBuf,
}

/// `root/sys/bus/pci/devices`.
pub fn pci_devices_dir(root: &Path) -> PathBuf {
    root.join("sys/bus/pci/devices")
}

/// `root/sys/bus/pci/devices/<bdf>`.
pub fn pci_device_dir(root: &Path, bdf: &Bdf) -> PathBuf {
    pci_devices_dir(root).join(bdf.to_string())
}

/// Every DSA/IAA function (vendor 0x8086, a device id [`idxd_hw::pci::lookup`] knows), sorted by
/// address. A machine without `sys/bus/pci` has none.
pub fn list_pci_functions(root: &Path) -> Result<Vec<PciFunction>, DriverError> {
    let dir = pci_devices_dir(root);
    let mut out = Vec::new();
    for name in dir_names(&dir)? {
        let Ok(bdf) = Bdf::parse(&name) else {
            continue;
        };
        let path = dir.join(&name);
        let Some((vendor, device)) = read_ids(&path)? else {
            continue;
        };
        if pci::lookup(vendor, device).is_none() {
            continue;
        }
        out.push(read_function(&path, bdf, vendor, device)?);
    }
    out.sort_by_key(|f| f.bdf);
    Ok(out)
}

/// One DSA/IAA function by address: [`DriverError::NoDevice`] when sysfs has no such function,
/// [`DriverError::NotAccelerator`] when it is something else.
pub fn pci_function(root: &Path, bdf: &str) -> Result<PciFunction, DriverError> {
    let bdf = Bdf::parse(bdf)?;
    let path = pci_device_dir(root, &bdf);
    if !path.exists() {
        return Err(DriverError::NoDevice {
            bdf: bdf.to_string(),
            path,
        });
    }
    let Some((vendor, device)) = read_ids(&path)? else {
        return Err(DriverError::NoDevice {
            bdf: bdf.to_string(),
            path: path.join("vendor"),
        });
    };
    if pci::lookup(vendor, device).is_none() {
        return Err(DriverError::NotAccelerator {
            bdf: bdf.to_string(),
            vendor,
            device,
        });
    }
    read_function(&path, bdf, vendor, device)
}

pub(super) fn read_ids(path: &Path) -> Result<Option<(u16, u16)>, DriverError> {
    let vendor = match read_opt(&path.join("vendor"))? {
        Some(v) => parse_hex_u16(&path.join("vendor"), &v)?,
        None => return Ok(None),
    };
    let device = match read_opt(&path.join("device"))? {
        Some(v) => parse_hex_u16(&path.join("device"), &v)?,
        None => return Ok(None),
    };
    Ok(Some((vendor, device)))
}

pub(super) fn read_function(
    path: &Path,
    bdf: Bdf,
    vendor: u16,
    device: u16,
) -> Result<PciFunction, DriverError> {
    let kind = pci::lookup(vendor, device)
        .map(|k| k.kind)
        .unwrap_or(DeviceKind::Dsa);
    let part = pci::part_name(vendor, device, None).unwrap_or_else(|| kind.to_string());
    let numa_node = read_numa(&path.join("numa_node"))?;
    let iommu_group = match link_basename(&path.join("iommu_group"))? {
        Some(g) => Some(parse_num::<u32>(&path.join("iommu_group"), &g)?),
        None => None,
    };
    let driver = link_basename(&path.join("driver"))?;
    Ok(PciFunction {
        bdf,
        vendor,
        device,
        kind,
        part,
        numa_node,
        iommu_group,
        driver,
        sysfs_path: path.to_path_buf(),
    })
}

/// A function in an IOMMU group and the driver it is bound to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GroupMember {
    /// The function's address as sysfs names it.
    pub bdf: String,
    /// Its driver, `None` when unbound.
    pub driver: Option<String>,
}

/// The functions in IOMMU group `group` (`root/sys/kernel/iommu_groups/<group>/devices`), sorted.
/// VFIO only lets a group be used when each of them is bound to vfio-pci (or to no driver).
pub fn iommu_group_members(root: &Path, group: u32) -> Result<Vec<GroupMember>, DriverError> {
    let dir = root
        .join("sys/kernel/iommu_groups")
        .join(group.to_string())
        .join("devices");
    let mut out = Vec::new();
    for name in dir_names(&dir)? {
        let driver = link_basename(&dir.join(&name).join("driver"))?;
        out.push(GroupMember { bdf: name, driver });
    }
    out.sort_by(|a, b| a.bdf.cmp(&b.bdf));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bdf_parse_and_display() {
        let b = Bdf::parse("0000:6a:01.0").unwrap();
        assert_eq!(
            b,
            Bdf {
                domain: 0,
                bus: 0x6a,
                device: 1,
                function: 0
            }
        );
        assert_eq!(b.to_string(), "0000:6a:01.0");
        assert_eq!(Bdf::parse("ABCD:FF:1F.7").unwrap().to_string(), "abcd:ff:1f.7");
        for bad in [
            "",
            "6a:01.0",
            "0000:6a:01",
            "0000:6a:01.8",
            "0000:6a:20.0",
            "0000-6a:01.0",
            "000g:6a:01.0",
            "0000:6a:01.0 ",
            "+000:6a:01.0",
        ] {
            assert!(
                matches!(Bdf::parse(bad), Err(DriverError::InvalidBdf { .. })),
                "{bad:?}"
            );
        }
    }
}
