//! PCI identity of the DSA and IAA parts.

use crate::regs::Version;

/// Intel's PCI vendor id.
pub const VENDOR_INTEL: u16 = 0x8086;

/// PCI COMMAND register offset in configuration space.
pub const PCI_COMMAND: u16 = 0x04;
/// COMMAND bit 1: memory space enable.
pub const PCI_COMMAND_MEMORY: u16 = 1 << 1;
/// COMMAND bit 2: bus master enable.
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// Which accelerator a function is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// Data Streaming Accelerator.
    Dsa,
    /// In-Memory Analytics Accelerator.
    Iaa,
}

impl DeviceKind {
    /// "dsa" or "iax", as the kernel names the devices (dsa0, iax1).
    pub const fn kernel_prefix(self) -> &'static str {
        match self {
            DeviceKind::Dsa => "dsa",
            DeviceKind::Iaa => "iax",
        }
    }
}

impl core::fmt::Display for DeviceKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            DeviceKind::Dsa => "DSA",
            DeviceKind::Iaa => "IAA",
        })
    }
}

/// A known device id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownId {
    /// PCI device id (vendor 0x8086).
    pub device: u16,
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// Platform.
    pub platform: &'static str,
}

/// Every DSA/IAA device id this project knows.
pub const KNOWN_IDS: &[KnownId] = &[
    KnownId {
        device: 0x0b25,
        kind: DeviceKind::Dsa,
        platform: "Sapphire Rapids / Granite Rapids",
    },
    KnownId {
        device: 0x11fb,
        kind: DeviceKind::Dsa,
        platform: "Granite Rapids-D",
    },
    KnownId {
        device: 0x1212,
        kind: DeviceKind::Dsa,
        platform: "Diamond Rapids",
    },
    KnownId {
        device: 0x0cfe,
        kind: DeviceKind::Iaa,
        platform: "Sapphire Rapids",
    },
    KnownId {
        device: 0x1216,
        kind: DeviceKind::Iaa,
        platform: "Diamond Rapids",
    },
    KnownId {
        device: 0xb02d,
        kind: DeviceKind::Iaa,
        platform: "Panther Lake",
    },
    KnownId {
        device: 0xfd2d,
        kind: DeviceKind::Iaa,
        platform: "Wildcat Lake",
    },
];

/// Looks up a vendor:device pair.
pub fn lookup(vendor: u16, device: u16) -> Option<&'static KnownId> {
    if vendor != VENDOR_INTEL {
        return None;
    }
    KNOWN_IDS.iter().find(|k| k.device == device)
}

/// Names the part from its PCI id and VERSION register, e.g. "DSA 1.0 (Sapphire Rapids)".
/// `version` may be `None` when BAR0 cannot be read (a function bound to another driver).
pub fn part_name(vendor: u16, device: u16, version: Option<Version>) -> Option<String> {
    let k = lookup(vendor, device)?;
    let platform = match (k.device, version.map(|v| v.major)) {
        (0x0b25, Some(1)) => "Sapphire Rapids",
        (0x0b25, Some(2)) | (0x0cfe, Some(2)) => "Granite Rapids",
        _ => k.platform,
    };
    Some(match version {
        Some(v) => format!("{} {} ({})", k.kind, v, platform),
        None => format!("{} ({})", k.kind, platform),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let v1 = Some(Version { major: 1, minor: 0 });
        assert_eq!(
            part_name(0x8086, 0x0b25, v1).unwrap(),
            "DSA 1.0 (Sapphire Rapids)"
        );
        assert_eq!(
            part_name(0x8086, 0x0b25, Some(Version { major: 2, minor: 0 })).unwrap(),
            "DSA 2.0 (Granite Rapids)"
        );
        assert_eq!(
            part_name(0x8086, 0x0cfe, v1).unwrap(),
            "IAA 1.0 (Sapphire Rapids)"
        );
        assert_eq!(part_name(0x8086, 0x1216, None).unwrap(), "IAA (Diamond Rapids)");
        assert_eq!(part_name(0x8086, 0x1234, v1), None);
        assert_eq!(part_name(0x10de, 0x0b25, v1), None);
        assert_eq!(lookup(0x8086, 0xfd2d).unwrap().kind, DeviceKind::Iaa);
    }
}

/// PCI ids of DSA/IAA parts that vfio-pci refuses to bind unless loaded with
/// `disable_denylist=1` (Linux `drivers/vfio/pci/vfio_pci.c`, `vfio_pci_dev_in_denylist`, since
/// commit 95feb3160eef: the Sapphire Rapids DSA and IAA, because of the erratum behind Intel
/// advisory INTEL-SA-01084). The kernel's list also holds QAT devices, which are not ours.
pub const VFIO_PCI_DENYLIST: [(u16, u16); 2] = [(0x8086, 0x0b25), (0x8086, 0x0cfe)];

/// Whether vfio-pci refuses `vendor:device` by default ([`VFIO_PCI_DENYLIST`]).
pub fn vfio_pci_denylisted(vendor: u16, device: u16) -> bool {
    VFIO_PCI_DENYLIST.contains(&(vendor, device))
}

#[cfg(test)]
mod denylist_tests {
    use super::*;

    #[test]
    fn spr_dsa_and_iaa_are_denylisted() {
        assert!(vfio_pci_denylisted(0x8086, 0x0b25) && vfio_pci_denylisted(0x8086, 0x0cfe));
        assert!(!vfio_pci_denylisted(0x8086, 0x11fb) && !vfio_pci_denylisted(0x8086, 0x1212));
    }
}
