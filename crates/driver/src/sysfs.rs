//! Discovery and binding through sysfs.
//!
//! Every function takes the filesystem root (`/` in production) so tests run on fake trees built
//! in a temporary directory: PCI functions under `root/sys/bus/pci/devices`, kernel-owned DSA/IAA
//! devices and WQs under `root/sys/bus/dsa/devices`, WQ character devices under `root/dev`.
//!
//! Parsing is defensive: a missing optional attribute reads as `None`, a malformed one is a
//! [`DriverError::Parse`] naming the file, and nothing here panics on odd content.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use idxd_hw::pci::{self, DeviceKind};
use idxd_hw::tables::WqMode;

use crate::DriverError;

/// The driver a function must be bound to for [`crate::backing::vfio`].
pub const VFIO_PCI: &str = "vfio-pci";
/// The kernel's DSA/IAA driver.
pub const IDXD: &str = "idxd";

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

fn read_ids(path: &Path) -> Result<Option<(u16, u16)>, DriverError> {
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

fn read_function(path: &Path, bdf: Bdf, vendor: u16, device: u16) -> Result<PciFunction, DriverError> {
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

/// The driver `bdf` is bound to now (`None` when unbound).
pub fn current_driver(root: &Path, bdf: &str) -> Result<Option<String>, DriverError> {
    let bdf = Bdf::parse(bdf)?;
    let path = pci_device_dir(root, &bdf);
    if !path.exists() {
        return Err(DriverError::NoDevice {
            bdf: bdf.to_string(),
            path,
        });
    }
    link_basename(&path.join("driver"))
}

/// Checks that `bdf` is bound to `expected`; [`DriverError::WrongDriver`] otherwise.
pub fn verify_driver(root: &Path, bdf: &str, expected: &'static str) -> Result<(), DriverError> {
    let actual = current_driver(root, bdf)?;
    if actual.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(DriverError::WrongDriver {
            bdf: bdf.to_string(),
            expected,
            actual,
        })
    }
}

/// The writes that hand a DSA/IAA function to vfio-pci: `vfio-pci` into `driver_override`,
/// the address into the current driver's `unbind` (when bound), then into
/// `root/sys/bus/pci/drivers_probe`. Does not check the outcome: see [`verify_driver`]. A function
/// already bound to vfio-pci is left alone (unbinding it would wait for its user to close it).
pub fn request_vfio_bind(root: &Path, bdf: &str) -> Result<(), DriverError> {
    let f = pci_function(root, bdf)?;
    if f.driver.as_deref() == Some(VFIO_PCI) {
        return Ok(());
    }
    let name = f.bdf.to_string();
    write_attr(&f.sysfs_path.join("driver_override"), VFIO_PCI)?;
    if f.driver.is_some() {
        write_attr(&f.sysfs_path.join("driver/unbind"), &name)?;
    }
    write_attr(&root.join("sys/bus/pci/drivers_probe"), &name)
}

/// Binds a DSA/IAA function to vfio-pci ([`request_vfio_bind`]) and checks that it took
/// ([`verify_driver`]): when it did not, the error says which driver holds the function now
/// (none usually means the vfio-pci module is not loaded).
pub fn bind_vfio(root: &Path, bdf: &str) -> Result<(), DriverError> {
    request_vfio_bind(root, bdf)?;
    verify_driver(root, bdf, VFIO_PCI)
}

/// Gives a DSA/IAA function back to the kernel (idxd): clears `driver_override`, unbinds it from
/// vfio-pci when bound there, and asks the kernel to probe it again. Which driver takes it then
/// is the kernel's choice (idxd when loaded): [`current_driver`] tells.
pub fn unbind_vfio(root: &Path, bdf: &str) -> Result<(), DriverError> {
    let f = pci_function(root, bdf)?;
    let name = f.bdf.to_string();
    write_attr(&f.sysfs_path.join("driver_override"), "\n")?;
    match f.driver.as_deref() {
        Some(VFIO_PCI) => write_attr(&f.sysfs_path.join("driver/unbind"), &name)?,
        // Already with another driver: clearing the override is all there is to do.
        Some(_) => return Ok(()),
        None => {}
    }
    write_attr(&root.join("sys/bus/pci/drivers_probe"), &name)
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

fn ser_mode<S: serde::Serializer>(m: &Option<WqMode>, s: S) -> Result<S::Ok, S::Error> {
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

fn read_kernel_device(
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
fn device_bdf(path: &Path) -> Result<Option<Bdf>, DriverError> {
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

fn read_kernel_wq(
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

// --- attribute helpers ------------------------------------------------------------------------

/// Names in a directory, sorted; a missing directory has none.
fn dir_names(dir: &Path) -> Result<Vec<String>, DriverError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DriverError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DriverError::io(dir, e))?;
        if let Some(n) = entry.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A trimmed attribute; `None` when the file does not exist.
fn read_opt(path: &Path) -> Result<Option<String>, DriverError> {
    match fs::read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) => Err(parse_err(path, &String::from_utf8_lossy(e.as_bytes()))),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

fn write_attr(path: &Path, value: &str) -> Result<(), DriverError> {
    // sysfs attributes take one write(2) of the whole value; no `create`, so a missing
    // attribute is an error rather than a new file (truncation is a no-op on sysfs).
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| DriverError::io(path, e))?;
    io::Write::write_all(&mut f, value.as_bytes()).map_err(|e| DriverError::io(path, e))
}

fn read_link_opt(path: &Path) -> Result<Option<PathBuf>, DriverError> {
    match fs::read_link(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // Not a symbolic link (EINVAL): nothing to learn from its target.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

/// The last component of a symbolic link's target; `None` when there is no link.
fn link_basename(path: &Path) -> Result<Option<String>, DriverError> {
    match fs::read_link(path) {
        Ok(t) => match t.file_name().and_then(|n| n.to_str()) {
            Some(n) => Ok(Some(n.to_string())),
            None => Err(parse_err(path, &t.to_string_lossy())),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

fn parse_err(path: &Path, content: &str) -> DriverError {
    let mut content = content.to_string();
    if content.len() > 64 {
        let mut cut = 64;
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        content.truncate(cut);
        content.push('…');
    }
    DriverError::Parse {
        path: path.to_path_buf(),
        content,
    }
}

fn parse_hex_u16(path: &Path, s: &str) -> Result<u16, DriverError> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(parse_err(path, s));
    }
    u16::from_str_radix(digits, 16).map_err(|_| parse_err(path, s))
}

fn parse_num<T: FromStr>(path: &Path, s: &str) -> Result<T, DriverError> {
    s.parse::<T>().map_err(|_| parse_err(path, s))
}

fn opt_num<T: FromStr>(path: &Path) -> Result<Option<T>, DriverError> {
    read_opt(path)?.map(|s| parse_num(path, &s)).transpose()
}

fn read_numa(path: &Path) -> Result<Option<u32>, DriverError> {
    match read_opt(path)? {
        None => Ok(None),
        Some(s) => {
            let n: i64 = parse_num(path, &s)?;
            Ok(u32::try_from(n).ok())
        }
    }
}

/// A decimal index without sign or leading `+` (`0`, `12`).
fn parse_index(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
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

    #[test]
    fn hex_ids() {
        let p = Path::new("x");
        assert_eq!(parse_hex_u16(p, "0x8086").unwrap(), 0x8086);
        assert_eq!(parse_hex_u16(p, "0b25").unwrap(), 0x0b25);
        assert!(parse_hex_u16(p, "0x").is_err());
        assert!(parse_hex_u16(p, "0x18086").is_err());
        assert!(parse_hex_u16(p, "0x+123").is_err());
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("+1"), None);
        assert_eq!(parse_index(""), None);
    }
}
