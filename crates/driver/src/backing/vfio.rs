//! A DSA/IAA bound to vfio-pci: the whole PCI function in this process.
//!
//! Open sequence (legacy container/group VFIO): the function's IOMMU group from sysfs, the group
//! file `/dev/vfio/<group>` (must be viable: every function in the group bound to vfio-pci), the
//! container `/dev/vfio/vfio` (API version, Type1v2 IOMMU), group into container, IOMMU type
//! set, the IOVA ranges and page size the IOMMU reports, the device fd, its regions; then Memory
//! Space Enable and Bus Master Enable in PCI COMMAND, BAR0 (registers) and BAR2 (portals) mapped
//! over the device fd, and one eventfd per MSI-X vector. DMA mappings go through the container at
//! IOVAs from a first-fit [`IovaAllocator`]. FLR is VFIO_DEVICE_RESET. Submission is MOVDIR64B
//! only: a vfio-pci driver has no PASID, so shared WQs (ENQCMD) are refused.
//!
//! The ioctls are issued here with libc and `vfio-bindings` structures rather than through
//! `vfio-ioctls`: its config-space and reset calls swallow errors, its group path is fixed to
//! `/dev/vfio`, it has no VFIO_IOMMU_GET_INFO, and its device drop unwraps sysfs reads.
//!
//! Trust model: the process gets the whole device, including its DMA to every IOVA it maps.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use idxd_hw::pci::{DeviceKind, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY};
use vfio_bindings::bindings::vfio as vb;
use vmm_sys_util::eventfd::{EventFd, EFD_CLOEXEC, EFD_NONBLOCK};

use super::{DescBytes, DeviceBacking, Enqueued, PortalKind, RegisterAccess};
use crate::iova::{IovaAllocator, DEFAULT_RANGE};
use crate::portal::{CpuFeatures, Portal, PortalMemory};
use crate::sysfs::{self, Bdf, VFIO_PCI};
use crate::DriverError;

// --- ioctl numbers: all VFIO ioctls are _IO(';', 100 + n) -----------------------------------

const fn vfio_io(n: u32) -> libc::c_ulong {
    ((vb::VFIO_TYPE as libc::c_ulong) << 8) | (vb::VFIO_BASE + n) as libc::c_ulong
}
const VFIO_GET_API_VERSION: libc::c_ulong = vfio_io(0);
const VFIO_CHECK_EXTENSION: libc::c_ulong = vfio_io(1);
const VFIO_SET_IOMMU: libc::c_ulong = vfio_io(2);
const VFIO_GROUP_GET_STATUS: libc::c_ulong = vfio_io(3);
const VFIO_GROUP_SET_CONTAINER: libc::c_ulong = vfio_io(4);
const VFIO_GROUP_GET_DEVICE_FD: libc::c_ulong = vfio_io(6);
const VFIO_DEVICE_GET_INFO: libc::c_ulong = vfio_io(7);
const VFIO_DEVICE_GET_REGION_INFO: libc::c_ulong = vfio_io(8);
const VFIO_DEVICE_GET_IRQ_INFO: libc::c_ulong = vfio_io(9);
const VFIO_DEVICE_SET_IRQS: libc::c_ulong = vfio_io(10);
const VFIO_DEVICE_RESET: libc::c_ulong = vfio_io(11);
const VFIO_IOMMU_GET_INFO: libc::c_ulong = vfio_io(12);
const VFIO_IOMMU_MAP_DMA: libc::c_ulong = vfio_io(13);
const VFIO_IOMMU_UNMAP_DMA: libc::c_ulong = vfio_io(14);

/// Most MSI-X vectors this backing wires to eventfds (DSA has 9, IAA similar).
pub const MAX_VECTORS: u32 = 256;

/// An open file and the path it was opened from (for errors).
#[derive(Debug)]
struct Fd {
    file: File,
    path: PathBuf,
}

impl Fd {
    fn open(path: PathBuf, hint: &str) -> Result<Fd, DriverError> {
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => Ok(Fd { file, path }),
            Err(e) => {
                let msg = format!("{e}{hint}");
                Err(DriverError::Io {
                    path,
                    source: std::io::Error::new(e.kind(), msg),
                })
            }
        }
    }

    fn err(&self, ioctl: &'static str) -> DriverError {
        DriverError::Ioctl {
            ioctl,
            path: self.path.clone(),
            source: std::io::Error::last_os_error(),
        }
    }

    /// An ioctl whose argument is a plain value.
    fn ioctl_val(
        &self,
        name: &'static str,
        req: libc::c_ulong,
        arg: libc::c_ulong,
    ) -> Result<libc::c_int, DriverError> {
        // SAFETY: the VFIO ioctls issued through this helper (GET_API_VERSION, CHECK_EXTENSION,
        // SET_IOMMU, DEVICE_RESET) take an integer argument or none and touch no user memory;
        // the fd is open.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), req as _, arg) };
        if r < 0 {
            Err(self.err(name))
        } else {
            Ok(r)
        }
    }

    /// An ioctl whose argument points at `arg`.
    ///
    /// # Safety
    /// `arg` must point at memory laid out as the ioctl `req` expects, at least as large as the
    /// `argsz` it declares, valid for reads and writes for the duration of the call.
    unsafe fn ioctl_ptr<T>(
        &self,
        name: &'static str,
        req: libc::c_ulong,
        arg: *mut T,
    ) -> Result<libc::c_int, DriverError> {
        // SAFETY: forwarded to the caller: `arg` is valid for what `req` reads and writes.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), req as _, arg) };
        if r < 0 {
            Err(self.err(name))
        } else {
            Ok(r)
        }
    }
}

/// A VFIO region (BAR or config space) of the device fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// Region flags (VFIO_REGION_INFO_FLAG_*).
    pub flags: u32,
    /// Size in bytes.
    pub size: u64,
    /// Offset in the device fd.
    pub offset: u64,
}

impl Region {
    fn mappable(&self) -> bool {
        let need =
            vb::VFIO_REGION_INFO_FLAG_READ | vb::VFIO_REGION_INFO_FLAG_WRITE | vb::VFIO_REGION_INFO_FLAG_MMAP;
        self.flags & need == need && self.size > 0
    }
}

/// BAR0 as registers: 32/64-bit volatile accesses at aligned, bounds-checked offsets.
///
/// The [`RegisterAccess`] methods cannot fail: an access outside the BAR or misaligned is logged
/// and dropped, and a read then returns all ones (as a PCI read that nothing answers). The
/// `try_` methods report it instead.
#[derive(Debug)]
pub struct Mmio {
    map: memmap2::MmapRaw,
}

impl Mmio {
    /// Registers over a mapping (BAR0 in production; ordinary memory in tests).
    pub fn new(map: memmap2::MmapRaw) -> Self {
        Mmio { map }
    }

    /// Mapped length.
    pub fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// True for an empty mapping.
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The address of a `width`-byte register at `off`, when aligned and inside the BAR.
    pub fn check(&self, off: u64, width: u64) -> Result<usize, DriverError> {
        let ok = off % width == 0 && off.checked_add(width).is_some_and(|e| e <= self.len());
        if ok {
            Ok(off as usize)
        } else {
            Err(DriverError::Config {
                field: "BAR0 offset".into(),
                reason: format!(
                    "{off:#x} is not a {width}-byte-aligned register inside the {:#x}-byte BAR",
                    self.len()
                ),
            })
        }
    }

    /// Checked 32-bit read.
    pub fn try_read32(&self, off: u64) -> Result<u32, DriverError> {
        let o = self.check(off, 4)?;
        // SAFETY: `o` is 4-byte aligned with 4 bytes of the live mapping behind it (checked);
        // device registers are read with a single volatile load.
        Ok(unsafe { std::ptr::read_volatile(self.map.as_mut_ptr().add(o).cast::<u32>()) })
    }

    /// Checked 64-bit read.
    pub fn try_read64(&self, off: u64) -> Result<u64, DriverError> {
        let o = self.check(off, 8)?;
        // SAFETY: 8-byte aligned, in bounds of the live mapping (checked); one volatile load.
        Ok(unsafe { std::ptr::read_volatile(self.map.as_mut_ptr().add(o).cast::<u64>()) })
    }

    /// Checked 32-bit write.
    pub fn try_write32(&self, off: u64, v: u32) -> Result<(), DriverError> {
        let o = self.check(off, 4)?;
        // SAFETY: 4-byte aligned, in bounds of the live writable mapping (checked); one volatile
        // store, as device registers need.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(o).cast::<u32>(), v) };
        Ok(())
    }

    /// Checked 64-bit write.
    pub fn try_write64(&self, off: u64, v: u64) -> Result<(), DriverError> {
        let o = self.check(off, 8)?;
        // SAFETY: 8-byte aligned, in bounds of the live writable mapping (checked); one volatile
        // store.
        unsafe { std::ptr::write_volatile(self.map.as_mut_ptr().add(o).cast::<u64>(), v) };
        Ok(())
    }
}

impl RegisterAccess for Mmio {
    fn read32(&self, off: u64) -> u32 {
        self.try_read32(off).unwrap_or_else(|e| {
            tracing::error!("{e}");
            u32::MAX
        })
    }
    fn read64(&self, off: u64) -> u64 {
        self.try_read64(off).unwrap_or_else(|e| {
            tracing::error!("{e}");
            u64::MAX
        })
    }
    fn write32(&self, off: u64, v: u32) {
        if let Err(e) = self.try_write32(off, v) {
            tracing::error!("{e}");
        }
    }
    fn write64(&self, off: u64, v: u64) {
        if let Err(e) = self.try_write64(off, v) {
            tracing::error!("{e}");
        }
    }
}

/// What VFIO_IOMMU_GET_INFO reported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IommuInfo {
    /// Smallest IOMMU page size.
    pub page: u64,
    /// Usable IOVA ranges, inclusive ends, when the kernel reports them.
    pub ranges: Option<Vec<(u64, u64)>>,
}

/// Decodes a VFIO_IOMMU_GET_INFO answer (`struct vfio_iommu_type1_info` and its capability
/// chain). Never reads outside `buf`; a malformed chain is an error naming what is wrong.
pub fn parse_iommu_info(buf: &[u8]) -> Result<IommuInfo, String> {
    let u32_at = |o: usize| {
        buf.get(o..o + 4)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        buf.get(o..o + 8)
            .map(|b| u64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    };
    const INFO: usize = std::mem::size_of::<vb::vfio_iommu_type1_info>();
    if buf.len() < INFO {
        return Err(format!(
            "answer of {} bytes, shorter than vfio_iommu_type1_info",
            buf.len()
        ));
    }
    let flags = u32_at(4).unwrap_or(0);
    let pgsizes = u64_at(8).unwrap_or(0);
    let page = if flags & vb::VFIO_IOMMU_INFO_PGSIZES != 0 && pgsizes != 0 {
        1u64 << pgsizes.trailing_zeros()
    } else {
        4096
    };
    let mut ranges = None;
    if flags & vb::VFIO_IOMMU_INFO_CAPS != 0 {
        let mut off = u32_at(16).unwrap_or(0) as usize;
        let mut hops = 0;
        while off != 0 {
            hops += 1;
            if hops > 64 {
                return Err("capability chain does not end".into());
            }
            if off < INFO || off % 4 != 0 {
                return Err(format!(
                    "capability at offset {off} is inside the header or misaligned"
                ));
            }
            let (Some(id_ver), Some(next)) = (u32_at(off), u32_at(off + 4)) else {
                return Err(format!(
                    "capability header at {off} beyond the {}-byte answer",
                    buf.len()
                ));
            };
            let id = id_ver & 0xffff;
            if id == vb::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE {
                let n = u32_at(off + 8).ok_or_else(|| format!("IOVA-range capability at {off} truncated"))?
                    as usize;
                let mut v = Vec::with_capacity(n.min(64));
                for i in 0..n {
                    let at = off + 16 + i * 16;
                    match (u64_at(at), u64_at(at + 8)) {
                        (Some(s), Some(e)) => v.push((s, e)),
                        _ => {
                            return Err(format!(
                                "IOVA range {i} of {n} beyond the {}-byte answer",
                                buf.len()
                            ))
                        }
                    }
                }
                ranges = Some(v);
            }
            off = next as usize;
        }
    }
    Ok(IommuInfo { page, ranges })
}

#[derive(Debug)]
struct Mapping {
    iova: u64,
    size: u64,
    len: usize,
}

#[derive(Debug)]
struct DmaState {
    iova: IovaAllocator,
    /// Device address handed out -> the IOMMU mapping behind it.
    maps: BTreeMap<u64, Mapping>,
}

/// A DSA/IAA owned through vfio-pci.
#[derive(Debug)]
pub struct VfioBacking {
    // Mappings first: they must go before the device fd closes.
    bar0: Mmio,
    portal: Option<Portal>,
    irqs: Vec<EventFd>,
    dma: Mutex<DmaState>,
    config: Region,
    device_flags: u32,
    device: Fd,
    _group: Fd,
    container: Fd,
    bdf: Bdf,
    group_id: u32,
    kind: DeviceKind,
}

impl VfioBacking {
    /// Opens the DSA/IAA at `bdf` (already bound to vfio-pci) under `root` (`/` in production).
    pub fn open(root: &Path, bdf: &str) -> Result<Self, DriverError> {
        Self::open_with(root, bdf, CpuFeatures::detect())
    }

    /// As [`VfioBacking::open`] with the CPU's instructions given. A CPU without MOVDIR64B
    /// still opens (registers, DMA and interrupts work) but every submission fails with
    /// [`DriverError::CpuLacks`].
    pub fn open_with(root: &Path, bdf: &str, cpu: CpuFeatures) -> Result<Self, DriverError> {
        let f = sysfs::pci_function(root, bdf)?;
        let name = f.bdf.to_string();
        if f.driver.as_deref() != Some(VFIO_PCI) {
            return Err(DriverError::WrongDriver {
                bdf: name,
                expected: VFIO_PCI,
                actual: f.driver,
            });
        }
        let Some(group_id) = f.iommu_group else {
            return Err(DriverError::Vfio(format!(
                "{name} has no IOMMU group ({} missing): enable the IOMMU (intel_iommu=on)",
                f.sysfs_path.join("iommu_group").display()
            )));
        };
        let vfio_dir = root.join("dev/vfio");
        let group = Fd::open(
            vfio_dir.join(group_id.to_string()),
            " (is the vfio-pci module loaded and the device bound to it?)",
        )?;
        let container = Fd::open(vfio_dir.join("vfio"), " (is the vfio module loaded?)")?;

        let v = container.ioctl_val("VFIO_GET_API_VERSION", VFIO_GET_API_VERSION, 0)?;
        if v as u32 != vb::VFIO_API_VERSION {
            return Err(DriverError::Vfio(format!(
                "{}: API version {v}, expected {}",
                container.path.display(),
                vb::VFIO_API_VERSION
            )));
        }
        if container.ioctl_val(
            "VFIO_CHECK_EXTENSION",
            VFIO_CHECK_EXTENSION,
            vb::VFIO_TYPE1v2_IOMMU.into(),
        )? != 1
        {
            return Err(DriverError::Vfio(format!(
                "{}: the Type1v2 IOMMU is not available",
                container.path.display()
            )));
        }

        let mut status = vb::vfio_group_status {
            argsz: std::mem::size_of::<vb::vfio_group_status>() as u32,
            flags: 0,
        };
        // SAFETY: `status` is a vfio_group_status with argsz set, live for the call.
        unsafe { group.ioctl_ptr("VFIO_GROUP_GET_STATUS", VFIO_GROUP_GET_STATUS, &mut status)? };
        if status.flags & vb::VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(DriverError::GroupNotViable {
                group: group_id,
                detail: not_viable_detail(root, group_id, status.flags),
            });
        }
        let mut cfd: libc::c_int = container.file.as_raw_fd();
        // SAFETY: GROUP_SET_CONTAINER reads one int (the container fd) from the pointer.
        unsafe { group.ioctl_ptr("VFIO_GROUP_SET_CONTAINER", VFIO_GROUP_SET_CONTAINER, &mut cfd)? };
        container.ioctl_val("VFIO_SET_IOMMU", VFIO_SET_IOMMU, vb::VFIO_TYPE1v2_IOMMU.into())?;
        let iommu = iommu_info(&container).unwrap_or_else(|e| {
            tracing::warn!("{e}; using the default IOVA range");
            IommuInfo {
                page: 4096,
                ranges: None,
            }
        });
        let ranges = iommu.ranges.clone().unwrap_or_else(|| vec![DEFAULT_RANGE]);
        let iova = IovaAllocator::new(&ranges, iommu.page);

        let cname = CString::new(name.clone()).map_err(|_| DriverError::InvalidBdf { bdf: name.clone() })?;
        // SAFETY: GROUP_GET_DEVICE_FD reads a NUL-terminated string, which `cname` is, live for
        // the call.
        let dfd = unsafe {
            group.ioctl_ptr(
                "VFIO_GROUP_GET_DEVICE_FD",
                VFIO_GROUP_GET_DEVICE_FD,
                cname.as_ptr().cast_mut(),
            )?
        };
        // SAFETY: the ioctl returned a new fd that nothing else owns.
        let dfile = unsafe { File::from_raw_fd(dfd) };
        let device = Fd {
            file: dfile,
            path: PathBuf::from(format!("{} ({name})", group.path.display())),
        };

        let mut info = vb::vfio_device_info {
            argsz: std::mem::size_of::<vb::vfio_device_info>() as u32,
            ..Default::default()
        };
        // SAFETY: `info` is a vfio_device_info with argsz set, live for the call.
        unsafe { device.ioctl_ptr("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO, &mut info)? };
        if info.flags & vb::VFIO_DEVICE_FLAGS_PCI == 0 || info.num_regions <= vb::VFIO_PCI_CONFIG_REGION_INDEX
        {
            return Err(DriverError::Vfio(format!(
                "{name}: not a PCI device to VFIO (flags {:#x})",
                info.flags
            )));
        }
        let bar0 = region(&device, vb::VFIO_PCI_BAR0_REGION_INDEX)?;
        let bar2 = region(&device, vb::VFIO_PCI_BAR2_REGION_INDEX)?;
        let config = region(&device, vb::VFIO_PCI_CONFIG_REGION_INDEX)?;
        for (i, r) in [(0, bar0), (2, bar2)] {
            if !r.mappable() {
                return Err(DriverError::Vfio(format!(
                    "{name}: BAR{i} cannot be mapped (flags {:#x}, size {:#x})",
                    r.flags, r.size
                )));
            }
        }

        let cmd = read_config16(&device, &config, PCI_COMMAND)?;
        write_config16(
            &device,
            &config,
            PCI_COMMAND,
            cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
        )?;

        let bar0_map = map_region(&device, &bar0, "BAR0")?;
        let bar2_map = map_region(&device, &bar2, "BAR2")?;
        let irqs = enable_msix(&device, &name)?;

        let portal = match Portal::new(
            PortalMemory::Mmap(bar2_map),
            PortalKind::Movdir64b,
            format!("vfio:{name}"),
            cpu,
        ) {
            Ok(p) => Some(p),
            Err(e @ DriverError::CpuLacks { .. }) => {
                tracing::warn!("{e}: submissions will be refused");
                None
            }
            Err(e) => return Err(e),
        };
        Ok(VfioBacking {
            bar0: Mmio::new(bar0_map),
            portal,
            irqs,
            dma: Mutex::new(DmaState {
                iova,
                maps: BTreeMap::new(),
            }),
            config,
            device_flags: info.flags,
            device,
            _group: group,
            container,
            bdf: f.bdf,
            group_id,
            kind: f.kind,
        })
    }

    /// The function's address.
    pub fn bdf(&self) -> Bdf {
        self.bdf
    }

    /// Its IOMMU group.
    pub fn iommu_group(&self) -> u32 {
        self.group_id
    }

    /// MSI-X vectors wired to eventfds.
    pub fn msix_vectors(&self) -> usize {
        self.irqs.len()
    }

    /// BAR0 as registers.
    pub fn bar0(&self) -> &Mmio {
        &self.bar0
    }

    fn dma(&self) -> MutexGuard<'_, DmaState> {
        self.dma.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn not_viable_detail(root: &Path, group: u32, flags: u32) -> String {
    let others = match sysfs::iommu_group_members(root, group) {
        Ok(m) => m
            .into_iter()
            .filter(|m| m.driver.as_deref().is_some_and(|d| d != VFIO_PCI))
            .map(|m| format!("{} ({})", m.bdf, m.driver.unwrap_or_default()))
            .collect::<Vec<_>>(),
        Err(_) => Vec::new(),
    };
    if others.is_empty() {
        format!("group status flags {flags:#x}")
    } else {
        format!(
            "group status flags {flags:#x}; bound elsewhere: {}",
            others.join(", ")
        )
    }
}

fn iommu_info(container: &Fd) -> Result<IommuInfo, DriverError> {
    const INFO: usize = std::mem::size_of::<vb::vfio_iommu_type1_info>();
    // u64 words keep the buffer 8-byte aligned, as the structures need.
    let mut words = vec![0u64; INFO / 8];
    let mut argsz = INFO as u32;
    for _ in 0..2 {
        words.resize((argsz as usize).div_ceil(8), 0);
        words.iter_mut().for_each(|w| *w = 0);
        // argsz is the first u32 of the structure.
        words[0] = u64::from_ne_bytes({
            let mut b = [0u8; 8];
            b[..4].copy_from_slice(&argsz.to_ne_bytes());
            b
        });
        // SAFETY: `words` holds at least `argsz` bytes, 8-byte aligned, and argsz (first u32)
        // tells the kernel how much it may write; it is live for the call.
        unsafe { container.ioctl_ptr("VFIO_IOMMU_GET_INFO", VFIO_IOMMU_GET_INFO, words.as_mut_ptr())? };
        let need = (words[0].to_ne_bytes()[..4])
            .try_into()
            .map(u32::from_ne_bytes)
            .unwrap_or(argsz);
        if need <= argsz {
            break;
        }
        argsz = need.min(1 << 20);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    let len = (argsz as usize).min(bytes.len());
    parse_iommu_info(&bytes[..len])
        .map_err(|e| DriverError::Vfio(format!("{}: VFIO_IOMMU_GET_INFO: {e}", container.path.display())))
}

fn region(device: &Fd, index: u32) -> Result<Region, DriverError> {
    let mut ri = vb::vfio_region_info {
        argsz: std::mem::size_of::<vb::vfio_region_info>() as u32,
        index,
        ..Default::default()
    };
    // SAFETY: `ri` is a vfio_region_info with argsz and index set, live for the call; the
    // kernel writes at most argsz bytes.
    unsafe {
        device.ioctl_ptr(
            "VFIO_DEVICE_GET_REGION_INFO",
            VFIO_DEVICE_GET_REGION_INFO,
            &mut ri,
        )?
    };
    Ok(Region {
        flags: ri.flags,
        size: ri.size,
        offset: ri.offset,
    })
}

fn read_config16(device: &Fd, config: &Region, off: u16) -> Result<u16, DriverError> {
    check_config(config, off)?;
    let mut b = [0u8; 2];
    device
        .file
        .read_exact_at(&mut b, config.offset + u64::from(off))
        .map_err(|e| DriverError::io(&device.path, e))?;
    Ok(u16::from_le_bytes(b))
}

fn write_config16(device: &Fd, config: &Region, off: u16, v: u16) -> Result<(), DriverError> {
    check_config(config, off)?;
    device
        .file
        .write_all_at(&v.to_le_bytes(), config.offset + u64::from(off))
        .map_err(|e| DriverError::io(&device.path, e))
}

fn check_config(config: &Region, off: u16) -> Result<(), DriverError> {
    if off % 2 != 0 || u64::from(off) + 2 > config.size {
        return Err(DriverError::Config {
            field: "PCI config offset".into(),
            reason: format!(
                "{off:#x} is not an aligned 16-bit register inside {:#x} bytes of config space",
                config.size
            ),
        });
    }
    Ok(())
}

fn map_region(device: &Fd, r: &Region, what: &str) -> Result<memmap2::MmapRaw, DriverError> {
    let len = usize::try_from(r.size)
        .map_err(|_| DriverError::Vfio(format!("{what} of {:#x} bytes too large", r.size)))?;
    memmap2::MmapOptions::new()
        .offset(r.offset)
        .len(len)
        .map_raw(&device.file)
        .map_err(|e| {
            DriverError::io(
                &device.path,
                std::io::Error::new(
                    e.kind(),
                    format!("mmap of {what} ({len:#x} bytes at {:#x}): {e}", r.offset),
                ),
            )
        })
}

fn enable_msix(device: &Fd, name: &str) -> Result<Vec<EventFd>, DriverError> {
    let mut ii = vb::vfio_irq_info {
        argsz: std::mem::size_of::<vb::vfio_irq_info>() as u32,
        index: vb::VFIO_PCI_MSIX_IRQ_INDEX,
        ..Default::default()
    };
    // SAFETY: `ii` is a vfio_irq_info with argsz and index set, live for the call.
    unsafe { device.ioctl_ptr("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO, &mut ii)? };
    let n = ii.count.min(MAX_VECTORS);
    if n == 0 {
        return Err(DriverError::Vfio(format!("{name}: no MSI-X vectors")));
    }
    let mut fds = Vec::with_capacity(n as usize);
    for _ in 0..n {
        fds.push(
            EventFd::new(EFD_NONBLOCK | EFD_CLOEXEC)
                .map_err(|e| DriverError::Vfio(format!("eventfd: {e}")))?,
        );
    }
    // struct vfio_irq_set is five u32 followed by the data: here one fd (s32) per vector.
    let mut set: Vec<u32> = vec![
        (5 + n) * 4,
        vb::VFIO_IRQ_SET_DATA_EVENTFD | vb::VFIO_IRQ_SET_ACTION_TRIGGER,
        vb::VFIO_PCI_MSIX_IRQ_INDEX,
        0,
        n,
    ];
    set.extend(fds.iter().map(|f| f.as_raw_fd() as u32));
    // SAFETY: `set` is a vfio_irq_set header (argsz, flags, index, start, count) followed by
    // `count` fds, exactly argsz bytes, 4-byte aligned, live for the call.
    unsafe { device.ioctl_ptr("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS, set.as_mut_ptr())? };
    Ok(fds)
}

impl DeviceBacking for VfioBacking {
    fn describe(&self) -> String {
        format!("vfio:{}", self.bdf)
    }

    fn kind(&self) -> DeviceKind {
        self.kind
    }

    fn registers(&self) -> Option<&dyn RegisterAccess> {
        Some(&self.bar0)
    }

    fn pci_read16(&self, off: u16) -> Result<u16, DriverError> {
        read_config16(&self.device, &self.config, off)
    }

    fn pci_write16(&self, off: u16, v: u16) -> Result<(), DriverError> {
        write_config16(&self.device, &self.config, off, v)
    }

    /// `portal_off` is a BAR2 offset (WQ n at `n * 0x4000`), 64-byte aligned.
    fn submit(&self, portal_off: u64, desc: &DescBytes, kind: PortalKind) -> Result<Enqueued, DriverError> {
        if kind == PortalKind::Enqcmd {
            return Err(DriverError::Unsupported(
                "ENQCMD (shared WQs need a PASID, which a vfio-pci driver does not have: configure dedicated WQs)",
            ));
        }
        match &self.portal {
            Some(p) => p.write_at(portal_off, desc, kind),
            None => {
                let (instruction, bit) = crate::portal::instruction(kind);
                Err(DriverError::CpuLacks {
                    instruction,
                    bit,
                    wq: format!("vfio:{}", self.bdf),
                })
            }
        }
    }

    unsafe fn dma_map(&self, host: *mut u8, len: usize, writable: bool) -> Result<u64, DriverError> {
        if host.is_null() || len == 0 {
            return Err(DriverError::Dma(format!("cannot map {len} bytes at {host:p}")));
        }
        let mut g = self.dma();
        let page = g.iova.page();
        let addr = host as u64;
        let start = addr & !(page - 1);
        let lead = addr - start;
        let size = lead
            .checked_add(len as u64)
            .and_then(|l| g.iova.reserved_len(l).ok())
            .ok_or_else(|| DriverError::Dma(format!("length {len:#x} at {host:p} overflows")))?;
        let iova = g
            .iova
            .alloc(size, 1)
            .map_err(|e| DriverError::Dma(format!("{}: {e}", self.describe())))?;
        let mut m = vb::vfio_iommu_type1_dma_map {
            argsz: std::mem::size_of::<vb::vfio_iommu_type1_dma_map>() as u32,
            flags: vb::VFIO_DMA_MAP_FLAG_READ | if writable { vb::VFIO_DMA_MAP_FLAG_WRITE } else { 0 },
            vaddr: start,
            iova,
            size,
        };
        // SAFETY: `m` is a vfio_iommu_type1_dma_map with argsz set, live for the call. The
        // pages it maps are the caller's (dma_map's contract: valid until dma_unmap); the kernel
        // pins them, and the IOVA range is ours alone (from the allocator).
        if let Err(e) = unsafe {
            self.container
                .ioctl_ptr("VFIO_IOMMU_MAP_DMA", VFIO_IOMMU_MAP_DMA, &mut m)
        } {
            let _ = g.iova.free(iova, size);
            return Err(e);
        }
        g.maps.insert(iova + lead, Mapping { iova, size, len });
        Ok(iova + lead)
    }

    fn dma_unmap(&self, dev_addr: u64, len: usize) -> Result<(), DriverError> {
        let mut g = self.dma();
        let Some(m) = g.maps.get(&dev_addr) else {
            return Err(DriverError::Dma(format!(
                "{}: {dev_addr:#x} is not a mapped DMA address",
                self.describe()
            )));
        };
        if m.len != len {
            return Err(DriverError::Dma(format!(
                "{}: {dev_addr:#x} was mapped with {:#x} bytes, not {len:#x}",
                self.describe(),
                m.len
            )));
        }
        let (iova, size) = (m.iova, m.size);
        let mut u = vb::vfio_iommu_type1_dma_unmap {
            argsz: std::mem::size_of::<vb::vfio_iommu_type1_dma_unmap>() as u32,
            iova,
            size,
            ..Default::default()
        };
        // SAFETY: `u` is a vfio_iommu_type1_dma_unmap with argsz set (no bitmap data: flags 0),
        // live for the call; the kernel writes back the unmapped size.
        unsafe {
            self.container
                .ioctl_ptr("VFIO_IOMMU_UNMAP_DMA", VFIO_IOMMU_UNMAP_DMA, &mut u)?
        };
        if u.size != size {
            tracing::warn!(
                "{}: unmapped {:#x} of {size:#x} bytes at IOVA {iova:#x}",
                self.describe(),
                u.size
            );
        }
        g.maps.remove(&dev_addr);
        g.iova
            .free(iova, size)
            .map_err(|e| DriverError::Dma(e.to_string()))
    }

    fn wait_interrupt(&self, vector: u16, timeout: Duration) -> Result<u64, DriverError> {
        let Some(fd) = self.irqs.get(usize::from(vector)) else {
            return Err(DriverError::Config {
                field: "interrupt vector".into(),
                reason: format!("{vector} >= {} MSI-X vectors", self.irqs.len()),
            });
        };
        wait_eventfd(fd, timeout).map_err(|e| DriverError::io(&self.device.path, e))
    }

    fn function_reset(&self) -> Result<(), DriverError> {
        if self.device_flags & vb::VFIO_DEVICE_FLAGS_RESET == 0 {
            return Err(DriverError::Unsupported(
                "function reset (VFIO reports no reset method for this device)",
            ));
        }
        self.device
            .ioctl_val("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET, 0)
            .map(|_| ())
    }
}

/// Waits up to `timeout` for the eventfd to count, then takes the count (0 on timeout).
pub fn wait_eventfd(fd: &EventFd, timeout: Duration) -> std::io::Result<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up so a short remainder still waits instead of spinning.
        let ms = libc::c_int::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX);
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, live for the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            if Instant::now() >= deadline {
                return Ok(0);
            }
            continue;
        }
        match fd.read() {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_linux_vfio_h() {
        // _IO(';', 100 + n): ';' = 0x3b.
        assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
        assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
        assert_eq!(VFIO_DEVICE_SET_IRQS, 0x3b6e);
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
        assert_eq!(VFIO_IOMMU_GET_INFO, 0x3b70);
        assert_eq!(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
    }

    #[test]
    fn config_offsets_are_checked() {
        let r = Region {
            flags: 3,
            size: 256,
            offset: 7 << 40,
        };
        assert!(check_config(&r, 4).is_ok());
        assert!(check_config(&r, 254).is_ok());
        assert!(check_config(&r, 255).is_err());
        assert!(check_config(&r, 256).is_err());
        assert!(check_config(&r, 5).is_err());
    }
}
