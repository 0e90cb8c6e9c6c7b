//! Devices and WQs owned by the kernel's idxd driver (`root/sys/bus/dsa/devices`).

use std::path::{Path, PathBuf};

use idxd_hw::pci::DeviceKind;
use idxd_hw::tables::WqMode;

use super::attr::*;
use super::Bdf;
use crate::DriverError;

/// How a kernel-owned WQ is used (its `type` attribute).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WqType {
    /// Not configured.
    None,
    /// Used by kernel clients (dmaengine, iaa_crypto); no character device.
    Kernel,
    /// Opened by user space through `/dev/{dsa,iax}/wqD.Q`.
    User,
    /// Assigned to a mediated device (older kernels).
    Mdev,
}

/// A WQ the kernel's idxd driver owns.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelWq {
    /// `wqD.Q`.
    pub name: String,
    /// The device's kind (its char device lives under `dev/dsa` or `dev/iax`).
    pub kind: DeviceKind,
    /// Device id `D`.
    pub device_id: u32,
    /// WQ index `Q`.
    pub wq_id: u32,
    /// Dedicated (MOVDIR64B) or shared (ENQCMD).
    #[serde(serialize_with = "ser_mode")]
    pub mode: Option<WqMode>,
    /// WQ size in entries.
    pub size: Option<u32>,
    /// user, kernel or none.
    pub wq_type: Option<WqType>,
    /// `enabled`, `disabled`, ... as the kernel says.
    pub state: Option<String>,
    /// The `name` attribute (the client's label).
    pub label: Option<String>,
    /// Largest transfer in bytes.
    pub max_transfer_size: Option<u64>,
    /// Largest batch in descriptors.
    pub max_batch_size: Option<u32>,
    /// Priority, 1..=15.
    pub priority: Option<u32>,
    /// Shared-WQ threshold (limited portal).
    pub threshold: Option<u32>,
    /// `root/dev/dsa/wqD.Q` or `root/dev/iax/wqD.Q` (exists only for enabled user WQs).
    pub char_dev: PathBuf,
    /// `root/sys/bus/dsa/devices/wqD.Q`.
    pub sysfs_path: PathBuf,
}

impl KernelWq {
    /// True when the kernel reports the WQ enabled.
    pub fn is_enabled(&self) -> bool {
        self.state.as_deref() == Some("enabled")
    }
}

/// A DSA/IAA device the kernel's idxd driver owns (`dsaN`, `iaxN`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelDevice {
    /// `dsaN` or `iaxN`.
    pub name: String,
    /// DSA or IAA.
    pub kind: DeviceKind,
    /// N.
    pub id: u32,
    /// `enabled`, `disabled`, `halted`, ... as the kernel says.
    pub state: Option<String>,
    /// NUMA node (`None` for -1 or absent).
    pub numa_node: Option<u32>,
    /// Largest batch in descriptors.
    pub max_batch_size: Option<u32>,
    /// Largest transfer in bytes.
    pub max_transfer_size: Option<u64>,
    /// The PCI function, from the device's sysfs path when it shows one.
    pub pci: Option<Bdf>,
    /// Its WQs, by index.
    pub wqs: Vec<KernelWq>,
    /// `root/sys/bus/dsa/devices/<name>`.
    pub sysfs_path: PathBuf,
}

pub(super) fn ser_mode<S: serde::Serializer>(m: &Option<WqMode>, s: S) -> Result<S::Ok, S::Error> {
    match m {
        Some(WqMode::Dedicated) => s.serialize_some("dedicated"),
        Some(WqMode::Shared) => s.serialize_some("shared"),
        None => s.serialize_none(),
    }
}

/// `root/sys/bus/dsa/devices`.
pub fn dsa_bus_dir(root: &Path) -> PathBuf {
    root.join("sys/bus/dsa/devices")
}

/// Every device and WQ on the kernel's dsa bus (both DSA and IAA live there), sorted by id. No
/// bus directory (idxd not loaded) means none. A WQ whose device is missing is skipped.
pub fn list_kernel_devices(root: &Path) -> Result<Vec<KernelDevice>, DriverError> {
    let dir = dsa_bus_dir(root);
    let names = dir_names(&dir)?;
    let mut devices = Vec::new();
    for name in &names {
        let (kind, rest) = if let Some(r) = name.strip_prefix("dsa") {
            (DeviceKind::Dsa, r)
        } else if let Some(r) = name.strip_prefix("iax") {
            (DeviceKind::Iaa, r)
        } else {
            continue;
        };
        let Some(id) = parse_index(rest) else {
            continue;
        };
        devices.push(read_kernel_device(&dir.join(name), name, kind, id)?);
    }
    for name in &names {
        let Some((d, q)) = name.strip_prefix("wq").and_then(|r| r.split_once('.')) else {
            continue;
        };
        let (Some(device_id), Some(wq_id)) = (parse_index(d), parse_index(q)) else {
            continue;
        };
        let Some(dev) = devices.iter_mut().find(|x| x.id == device_id) else {
            tracing::warn!(
                "{}: no device {device_id} on the dsa bus; skipped",
                dir.join(name).display()
            );
            continue;
        };
        let wq = read_kernel_wq(root, &dir.join(name), name, dev.kind, device_id, wq_id)?;
        dev.wqs.push(wq);
    }
    devices.sort_by_key(|d| d.id);
    for d in &mut devices {
        d.wqs.sort_by_key(|w| w.wq_id);
    }
    Ok(devices)
}

/// The kernel-owned WQ called `name` (`wq1.0`), or [`DriverError::NoKernelWq`] naming what
/// exists.
pub fn kernel_wq(root: &Path, name: &str) -> Result<KernelWq, DriverError> {
    let devices = list_kernel_devices(root)?;
    let all: Vec<&KernelWq> = devices.iter().flat_map(|d| d.wqs.iter()).collect();
    if let Some(w) = all.iter().find(|w| w.name == name) {
        return Ok((*w).clone());
    }
    Err(DriverError::NoKernelWq {
        name: name.to_string(),
        dir: dsa_bus_dir(root),
        known: all.iter().map(|w| w.name.clone()).collect(),
    })
}

pub(super) fn read_kernel_device(
    path: &Path,
    name: &str,
    kind: DeviceKind,
    id: u32,
) -> Result<KernelDevice, DriverError> {
    Ok(KernelDevice {
        name: name.to_string(),
        kind,
        id,
        state: read_opt(&path.join("state"))?,
        numa_node: read_numa(&path.join("numa_node"))?,
        max_batch_size: opt_num(&path.join("max_batch_size"))?,
        max_transfer_size: opt_num(&path.join("max_transfer_size"))?,
        pci: device_bdf(path)?,
        wqs: Vec::new(),
        sysfs_path: path.to_path_buf(),
    })
}

/// The PCI address in the target of the device's bus link (`.../0000:6a:01.0/dsa0`), or else in
/// the target of its `device` link.
pub(super) fn device_bdf(path: &Path) -> Result<Option<Bdf>, DriverError> {
    let from_target = |t: &Path| {
        t.components()
            .filter_map(|c| c.as_os_str().to_str())
            .filter_map(|c| Bdf::parse(c).ok())
            .next_back()
    };
    if let Some(t) = read_link_opt(path)? {
        if let Some(b) = from_target(&t) {
            return Ok(Some(b));
        }
    }
    Ok(read_link_opt(&path.join("device"))?.and_then(|t| from_target(&t)))
}

pub(super) fn read_kernel_wq(
    root: &Path,
    path: &Path,
    name: &str,
    kind: DeviceKind,
    device_id: u32,
    wq_id: u32,
) -> Result<KernelWq, DriverError> {
    let mode = match read_opt(&path.join("mode"))? {
        None => None,
        Some(m) => Some(match m.as_str() {
            "dedicated" => WqMode::Dedicated,
            "shared" => WqMode::Shared,
            _ => return Err(parse_err(&path.join("mode"), &m)),
        }),
    };
    let wq_type = match read_opt(&path.join("type"))? {
        None => None,
        Some(t) => Some(match t.as_str() {
            "none" => WqType::None,
            "kernel" => WqType::Kernel,
            "user" => WqType::User,
            "mdev" => WqType::Mdev,
            _ => return Err(parse_err(&path.join("type"), &t)),
        }),
    };
    Ok(KernelWq {
        name: name.to_string(),
        kind,
        device_id,
        wq_id,
        mode,
        size: opt_num(&path.join("size"))?,
        wq_type,
        state: read_opt(&path.join("state"))?,
        label: read_opt(&path.join("name"))?.filter(|s| !s.is_empty()),
        max_transfer_size: opt_num(&path.join("max_transfer_size"))?,
        max_batch_size: opt_num(&path.join("max_batch_size"))?,
        priority: opt_num(&path.join("priority"))?,
        threshold: opt_num(&path.join("threshold"))?,
        char_dev: root.join("dev").join(kind.kernel_prefix()).join(name),
        sysfs_path: path.to_path_buf(),
    })
}
