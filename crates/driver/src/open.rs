//! Opening a device from a spec: `emu:<profile>[@node<N>]` (the in-process emulator, feature
//! `emu`), `vfio:<BDF>` (a device bound to vfio-pci) or `wq:<path>` (a WQ owned by the kernel's
//! idxd driver). The runtime and the CLI both open devices through here: one place reads the
//! capability registers, chooses a default configuration, brings the device up and finds its
//! NUMA node.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

use idxd_hw::pci::DeviceKind;
use idxd_hw::{Capabilities, Limits};

use crate::managed::read_cap_registers;
use crate::{BringUpOptions, Device, DeviceBacking, DeviceConfig, DriverError, Wq};

#[cfg(feature = "emu")]
pub use idxd_emu::device::{EmuConfig, EmuDevice, ExecMode};
#[cfg(feature = "emu")]
pub use idxd_emu::inject::{Fault, InjectConfig};

/// A device to open.
#[derive(Clone, Debug)]
pub enum DeviceSpec {
    /// An in-process emulated device from a built-in profile.
    #[cfg(feature = "emu")]
    Emulated {
        /// Profile name (`iaa-spr`, ...).
        profile: String,
        /// Execution mode and fault injection.
        config: EmuConfig,
    },
    /// An emulated device that reports itself on a given NUMA node (placement tests,
    /// multi-node setups).
    #[cfg(feature = "emu")]
    EmulatedOnNode {
        /// Profile name.
        profile: String,
        /// Execution mode and fault injection.
        config: EmuConfig,
        /// The node it reports.
        node: u32,
    },
    /// A device bound to vfio-pci.
    Vfio {
        /// PCI address (`0000:6a:02.0`).
        bdf: String,
    },
    /// A WQ owned by the kernel's idxd driver (`/dev/iax/wq1.0`).
    KernelWq {
        /// Its character device.
        path: PathBuf,
    },
}

/// Why a spec string was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    /// No `kind:` prefix.
    #[error("`{0}` is not a device spec (emu:<profile>[@node<N>], vfio:<BDF>, wq:<path>)")]
    NoKind(String),
    /// A prefix other than emu, vfio, wq.
    #[error("unknown device kind `{0}:` (emu:<profile>[@node<N>], vfio:<BDF>, wq:<path>)")]
    UnknownKind(String),
    /// `emu:` in a build without the emulator.
    #[error("`{0}`: this build has no emulator (feature `emu`)")]
    NoEmulator(String),
    /// A profile that is not built in.
    #[error("no built-in profile `{name}` (known: {known})")]
    UnknownProfile {
        /// What was asked for.
        name: String,
        /// The built-in profiles.
        known: String,
    },
    /// `@node` not followed by a number.
    #[error("`{0}` is not a NUMA node (expected @node<N>, e.g. @node1)")]
    BadNode(String),
    /// Not a PCI address.
    #[error("`{0}` is not a PCI address (dddd:bb:dd.f, e.g. 0000:6a:02.0)")]
    BadBdf(String),
    /// Not a WQ character device path.
    #[error("`{0}` is not a WQ device path (e.g. /dev/iax/wq1.0)")]
    BadWqPath(String),
}

fn profile_names() -> String {
    idxd_hw::profile::BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for DeviceSpec {
    type Err = SpecError;

    /// Parses `emu:<profile>[@node<N>]`, `vfio:<BDF>`, `wq:<path>` (emulated devices get the
    /// default [`EmuConfig`]).
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (kind, rest) = s.split_once(':').ok_or_else(|| SpecError::NoKind(s.into()))?;
        match kind {
            "emu" => {
                let (profile, node) = match rest.split_once('@') {
                    Some((p, n)) => {
                        let node = n
                            .strip_prefix("node")
                            .and_then(|d| d.parse::<u32>().ok())
                            .ok_or_else(|| SpecError::BadNode(n.into()))?;
                        (p, Some(node))
                    }
                    None => (rest, None),
                };
                if !idxd_hw::profile::BUILTIN.iter().any(|(n, _)| *n == profile) {
                    return Err(SpecError::UnknownProfile {
                        name: profile.into(),
                        known: profile_names(),
                    });
                }
                emulated(profile, node).ok_or_else(|| SpecError::NoEmulator(s.into()))
            }
            "vfio" => crate::sysfs::Bdf::parse(rest)
                .map(|b| DeviceSpec::Vfio { bdf: b.to_string() })
                .map_err(|_| SpecError::BadBdf(rest.into())),
            "wq" => {
                let name = Path::new(rest).file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.starts_with("wq") && name.contains('.') {
                    Ok(DeviceSpec::KernelWq { path: rest.into() })
                } else {
                    Err(SpecError::BadWqPath(rest.into()))
                }
            }
            other => Err(SpecError::UnknownKind(other.into())),
        }
    }
}

#[cfg(feature = "emu")]
fn emulated(profile: &str, node: Option<u32>) -> Option<DeviceSpec> {
    let config = EmuConfig::default();
    Some(match node {
        None => DeviceSpec::Emulated {
            profile: profile.into(),
            config,
        },
        Some(node) => DeviceSpec::EmulatedOnNode {
            profile: profile.into(),
            config,
            node,
        },
    })
}

#[cfg(not(feature = "emu"))]
fn emulated(_profile: &str, _node: Option<u32>) -> Option<DeviceSpec> {
    None
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "emu")]
            DeviceSpec::Emulated { profile, .. } => write!(f, "emu:{profile}"),
            #[cfg(feature = "emu")]
            DeviceSpec::EmulatedOnNode { profile, node, .. } => write!(f, "emu:{profile}@node{node}"),
            DeviceSpec::Vfio { bdf } => write!(f, "vfio:{bdf}"),
            DeviceSpec::KernelWq { path } => write!(f, "wq:{}", path.display()),
        }
    }
}

impl DeviceSpec {
    /// The same spec with another emulator configuration (no change for real devices).
    #[cfg(feature = "emu")]
    pub fn with_emu_config(self, c: EmuConfig) -> Self {
        match self {
            DeviceSpec::Emulated { profile, .. } => DeviceSpec::Emulated { profile, config: c },
            DeviceSpec::EmulatedOnNode { profile, node, .. } => DeviceSpec::EmulatedOnNode {
                profile,
                config: c,
                node,
            },
            other => other,
        }
    }
}

/// How [`open`] brings a device up.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// The filesystem root sysfs and /dev are read under (`/`; tests use fake trees).
    pub root: PathBuf,
    /// WQs of the default configuration ([`DeviceConfig::dedicated`]).
    pub wqs: u16,
    /// A configuration to use instead of the default.
    pub config: Option<DeviceConfig>,
    /// Halt recovery.
    pub bring_up: BringUpOptions,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            root: PathBuf::from("/"),
            wqs: 2,
            config: None,
            bring_up: BringUpOptions::default(),
        }
    }
}

/// A device whose registers this process owns (vfio-pci or the emulator), not brought up yet:
/// what `idxd info` shows, and the first step of [`open`].
pub struct Backed {
    backing: Arc<dyn DeviceBacking>,
    caps: Capabilities,
    part: String,
    node: u32,
    name: String,
    #[cfg(feature = "emu")]
    emulated: Option<Arc<EmuDevice>>,
}

impl fmt::Debug for Backed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backed")
            .field("name", &self.name)
            .field("part", &self.part)
            .field("node", &self.node)
            .finish()
    }
}

impl Backed {
    /// Opens the backing of `spec` and reads its capabilities. Kernel-owned WQs have no
    /// registers: [`DriverError::Unsupported`].
    pub fn open(spec: &DeviceSpec, root: &Path) -> Result<Backed, DriverError> {
        match spec {
            #[cfg(feature = "emu")]
            DeviceSpec::Emulated { profile, config } => Self::emulated(profile, config, None),
            #[cfg(feature = "emu")]
            DeviceSpec::EmulatedOnNode {
                profile,
                config,
                node,
            } => Self::emulated(profile, config, Some(*node)),
            DeviceSpec::Vfio { bdf } => {
                let f = crate::sysfs::pci_function(root, bdf)?;
                let b = Arc::new(crate::backing::vfio::VfioBacking::open(root, bdf)?);
                let mut d = Self::from_backing(b, format!("vfio:{bdf}"), f.numa_node.unwrap_or(0))?;
                d.part = idxd_hw::pci::part_name(f.vendor, f.device, Some(d.caps.version)).unwrap_or(f.part);
                Ok(d)
            }
            DeviceSpec::KernelWq { .. } => Err(DriverError::Unsupported(
                "register access to a kernel-owned WQ (the kernel configured it)",
            )),
        }
    }

    #[cfg(feature = "emu")]
    fn emulated(profile: &str, config: &EmuConfig, node: Option<u32>) -> Result<Backed, DriverError> {
        let mut p = idxd_hw::Profile::builtin(profile)?;
        if let Some(n) = node {
            p.numa_node = n;
        }
        let part = p.part_name();
        let node = p.numa_node;
        let emu = Arc::new(EmuDevice::new(p, config.clone()));
        let b = Arc::new(crate::backing::emu::EmuBacking::new(emu.clone()));
        let mut d = Self::from_backing(b, format!("emu:{profile}@node{node}"), node)?;
        d.part = part;
        d.emulated = Some(emu);
        Ok(d)
    }

    /// Any backing with registers (a test's wrapper around the emulator, say).
    pub fn from_backing(
        backing: Arc<dyn DeviceBacking>,
        name: String,
        node: u32,
    ) -> Result<Backed, DriverError> {
        let r = backing.registers().ok_or(DriverError::Unsupported(
            "opening a device whose backing gives no register access",
        ))?;
        let caps = Capabilities::decode(backing.kind(), &read_cap_registers(r))
            .map_err(DriverError::BadCapabilities)?;
        let part = caps.kind.to_string();
        Ok(Backed {
            backing,
            caps,
            part,
            node,
            name,
            #[cfg(feature = "emu")]
            emulated: None,
        })
    }

    /// The backing.
    pub fn backing(&self) -> &Arc<dyn DeviceBacking> {
        &self.backing
    }

    /// The capabilities it reports.
    pub fn caps(&self) -> &Capabilities {
        &self.caps
    }

    /// The part's name (`IAA 1.0 (Sapphire Rapids)`, ...).
    pub fn part(&self) -> &str {
        &self.part
    }

    /// Brings it up with `config`, or with [`DeviceConfig::dedicated`] over `wqs` WQs.
    pub fn bring_up(
        &self,
        config: Option<&DeviceConfig>,
        wqs: u16,
        opts: BringUpOptions,
    ) -> Result<OpenDevice, DriverError> {
        let cfg = match config {
            Some(c) => c.clone(),
            None => DeviceConfig::dedicated(&self.caps, wqs),
        };
        let dev = Device::bring_up(self.backing.clone(), &cfg, opts)?;
        Ok(OpenDevice {
            wqs: dev.wqs(),
            device: Some(dev),
            kind: self.caps.kind,
            node: self.node,
            name: self.name.clone(),
            #[cfg(feature = "emu")]
            emulated: self.emulated.clone(),
        })
    }
}

/// An opened device and its WQs.
pub struct OpenDevice {
    device: Option<Device>,
    wqs: Vec<Arc<Wq>>,
    kind: DeviceKind,
    node: u32,
    name: String,
    #[cfg(feature = "emu")]
    emulated: Option<Arc<EmuDevice>>,
}

impl fmt::Debug for OpenDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenDevice")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("node", &self.node)
            .field("wqs", &self.wqs.len())
            .finish()
    }
}

impl OpenDevice {
    /// The device, when this driver brought it up (`None` for a kernel-owned WQ).
    pub fn device(&self) -> Option<&Device> {
        self.device.as_ref()
    }

    /// Its WQs.
    pub fn wqs(&self) -> &[Arc<Wq>] {
        &self.wqs
    }

    /// DSA or IAA.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// The NUMA node it sits on.
    pub fn node(&self) -> u32 {
        self.node
    }

    /// A name for messages (`emu:iaa-spr@node0`, `vfio:0000:6a:02.0`, `wq:/dev/iax/wq1.0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The emulated device behind it, when it is one (its counters show where work went).
    #[cfg(feature = "emu")]
    pub fn emulated(&self) -> Option<&Arc<EmuDevice>> {
        self.emulated.as_ref()
    }

    /// Drains, resets and disables the device (nothing to do for a kernel-owned WQ).
    pub fn teardown(self) -> Result<(), DriverError> {
        drop(self.wqs);
        match self.device {
            Some(d) => d.teardown(),
            None => Ok(()),
        }
    }
}

/// Opens `spec`: brings a vfio or emulated device up (with `opts.config` or the default
/// dedicated configuration), or opens a kernel-owned WQ with the limits its sysfs gives.
pub fn open(spec: &DeviceSpec, opts: &OpenOptions) -> Result<OpenDevice, DriverError> {
    match spec {
        DeviceSpec::KernelWq { path } => open_kernel_wq(path, &opts.root),
        _ => Backed::open(spec, &opts.root)?.bring_up(opts.config.as_ref(), opts.wqs, opts.bring_up),
    }
}

fn open_kernel_wq(path: &Path, root: &Path) -> Result<OpenDevice, DriverError> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| SpecError::BadWqPath(path.display().to_string()))?;
    let wq = crate::sysfs::kernel_wq(root, name)?;
    let node = crate::sysfs::list_kernel_devices(root)?
        .into_iter()
        .find(|d| d.id == wq.device_id && d.kind == wq.kind)
        .and_then(|d| d.numa_node)
        .unwrap_or(0);
    let b = Arc::new(crate::backing::kernel_wq::KernelWqBacking::open(&wq)?);
    let portal = b.portal_kind();
    let limits = Limits {
        max_transfer: wq.max_transfer_size.unwrap_or(1 << 21),
        max_batch: wq.max_batch_size.unwrap_or(0),
    };
    let w = Arc::new(Wq::unmanaged(
        b,
        wq.wq_id as u16,
        portal,
        limits,
        wq.size.unwrap_or(16),
    )?);
    Ok(OpenDevice {
        device: None,
        wqs: vec![w],
        kind: wq.kind,
        node,
        name: format!("wq:{}", path.display()),
        #[cfg(feature = "emu")]
        emulated: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_print_back() {
        for s in ["vfio:0000:6a:02.0", "wq:/dev/iax/wq1.0"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
        #[cfg(feature = "emu")]
        for s in ["emu:iaa-spr", "emu:dsa-spr@node1"] {
            assert_eq!(s.parse::<DeviceSpec>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        assert_eq!(
            "iaa".parse::<DeviceSpec>().unwrap_err(),
            SpecError::NoKind("iaa".into())
        );
        assert_eq!(
            "pci:0000:00:00.0".parse::<DeviceSpec>().unwrap_err(),
            SpecError::UnknownKind("pci".into())
        );
        assert!(matches!(
            "emu:iaa-xyz".parse::<DeviceSpec>().unwrap_err(),
            SpecError::UnknownProfile { .. }
        ));
        assert_eq!(
            "emu:iaa-spr@1".parse::<DeviceSpec>().unwrap_err(),
            SpecError::BadNode("1".into())
        );
        assert_eq!(
            "vfio:6a:02".parse::<DeviceSpec>().unwrap_err(),
            SpecError::BadBdf("6a:02".into())
        );
        assert_eq!(
            "wq:/dev/iax".parse::<DeviceSpec>().unwrap_err(),
            SpecError::BadWqPath("/dev/iax".into())
        );
    }

    #[cfg(feature = "emu")]
    #[test]
    fn an_emulated_device_opens_on_its_node_with_the_default_configuration() {
        let d = open(&"emu:iaa-spr@node3".parse().unwrap(), &OpenOptions::default()).unwrap();
        assert_eq!(d.node(), 3);
        assert_eq!(d.kind(), DeviceKind::Iaa);
        assert_eq!(d.wqs().len(), 2);
        assert!(d.emulated().is_some());
        d.teardown().unwrap();
    }
}
