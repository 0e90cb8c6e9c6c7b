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

mod container;
mod device;
mod ioctl;
mod irq;

use std::collections::BTreeMap;
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use idxd_hw::pci::{DeviceKind, PCI_COMMAND, PCI_COMMAND_MASTER, PCI_COMMAND_MEMORY};
use vfio_bindings::bindings::vfio as vb;
use vmm_sys_util::eventfd::EventFd;

pub use container::{parse_iommu_info, IommuInfo};
pub use device::{Mmio, Region};
pub use irq::{wait_eventfd, MAX_VECTORS};

use super::{DescBytes, DeviceBacking, Enqueued, PortalKind, RegisterAccess};
use crate::error::{DmaError, VfioError};
use crate::iova::{IovaAllocator, DEFAULT_RANGE};
use crate::portal::{CpuFeatures, Portal, PortalMemory};
use crate::sysfs::{self, Bdf, VFIO_PCI};
use crate::DriverError;
use container::{iommu_info, DmaState, Mapping};
use device::{map_region, read_config16, region, write_config16};
use ioctl::*;
use irq::enable_msix;

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
            return Err(VfioError::NoIommuGroup {
                bdf: name,
                path: f.sysfs_path.join("iommu_group"),
            }
            .into());
        };
        let vfio_dir = root.join("dev/vfio");
        let group = Fd::open(
            vfio_dir.join(group_id.to_string()),
            " (is the vfio-pci module loaded and the device bound to it?)",
        )?;
        let container = Fd::open(vfio_dir.join("vfio"), " (is the vfio module loaded?)")?;

        let v = container.ioctl_val("VFIO_GET_API_VERSION", VFIO_GET_API_VERSION(), 0)?;
        if v as u32 != vb::VFIO_API_VERSION {
            return Err(VfioError::ApiVersion {
                path: container.path.clone(),
                got: v,
                expected: vb::VFIO_API_VERSION,
            }
            .into());
        }
        if container.ioctl_val(
            "VFIO_CHECK_EXTENSION",
            VFIO_CHECK_EXTENSION(),
            vb::VFIO_TYPE1v2_IOMMU.into(),
        )? != 1
        {
            return Err(VfioError::NoIommuType {
                path: container.path.clone(),
                iommu: "Type1v2",
            }
            .into());
        }

        let mut status = vb::vfio_group_status {
            argsz: std::mem::size_of::<vb::vfio_group_status>() as u32,
            flags: 0,
        };
        // SAFETY: `status` is a vfio_group_status with argsz set, live for the call.
        unsafe { group.ioctl_ptr("VFIO_GROUP_GET_STATUS", VFIO_GROUP_GET_STATUS(), &mut status)? };
        if status.flags & vb::VFIO_GROUP_FLAGS_VIABLE == 0 {
            return Err(DriverError::GroupNotViable {
                group: group_id,
                detail: not_viable_detail(root, group_id, status.flags),
            });
        }
        let mut cfd: libc::c_int = container.file.as_raw_fd();
        // SAFETY: GROUP_SET_CONTAINER reads one int (the container fd) from the pointer.
        unsafe { group.ioctl_ptr("VFIO_GROUP_SET_CONTAINER", VFIO_GROUP_SET_CONTAINER(), &mut cfd)? };
        container.ioctl_val("VFIO_SET_IOMMU", VFIO_SET_IOMMU(), vb::VFIO_TYPE1v2_IOMMU.into())?;
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
                VFIO_GROUP_GET_DEVICE_FD(),
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
        unsafe { device.ioctl_ptr("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO(), &mut info)? };
        if info.flags & vb::VFIO_DEVICE_FLAGS_PCI == 0 || info.num_regions <= vb::VFIO_PCI_CONFIG_REGION_INDEX
        {
            return Err(VfioError::NotPci {
                bdf: name,
                flags: info.flags,
                regions: info.num_regions,
            }
            .into());
        }
        let bar0 = region(&device, vb::VFIO_PCI_BAR0_REGION_INDEX)?;
        let bar2 = region(&device, vb::VFIO_PCI_BAR2_REGION_INDEX)?;
        let config = region(&device, vb::VFIO_PCI_CONFIG_REGION_INDEX)?;
        for (i, r) in [(0, bar0), (2, bar2)] {
            if !r.mappable() {
                return Err(VfioError::BarNotMappable {
                    bdf: name,
                    bar: i,
                    flags: r.flags,
                    size: r.size,
                }
                .into());
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
            return Err(DmaError::BadMapRequest {
                backing: self.describe(),
                addr: host as usize,
                len,
            }
            .into());
        }
        let mut g = self.dma();
        let page = g.iova.page();
        let addr = host as u64;
        let start = addr & !(page - 1);
        let lead = addr - start;
        let size = lead
            .checked_add(len as u64)
            .and_then(|l| g.iova.reserved_len(l).ok())
            .ok_or_else(|| DmaError::LengthOverflow {
                backing: self.describe(),
                addr: host as usize,
                len,
            })?;
        let iova = g.iova.alloc(size, 1).map_err(|source| DmaError::Iova {
            backing: self.describe(),
            source,
        })?;
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
                .ioctl_ptr("VFIO_IOMMU_MAP_DMA", VFIO_IOMMU_MAP_DMA(), &mut m)
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
            return Err(DmaError::NotMapped {
                backing: self.describe(),
                dev_addr,
            }
            .into());
        };
        if m.len != len {
            return Err(DmaError::LengthMismatch {
                backing: self.describe(),
                dev_addr,
                mapped: m.len,
                len,
            }
            .into());
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
                .ioctl_ptr("VFIO_IOMMU_UNMAP_DMA", VFIO_IOMMU_UNMAP_DMA(), &mut u)?
        };
        if u.size != size {
            tracing::warn!(
                "{}: unmapped {:#x} of {size:#x} bytes at IOVA {iova:#x}",
                self.describe(),
                u.size
            );
        }
        g.maps.remove(&dev_addr);
        g.iova.free(iova, size).map_err(|source| {
            DmaError::Iova {
                backing: self.describe(),
                source,
            }
            .into()
        })
    }

    fn wait_interrupt(&self, vector: u16, timeout: Duration) -> Result<u64, DriverError> {
        let Some(fd) = self.irqs.get(usize::from(vector)) else {
            return Err(DriverError::NoSuchVector {
                backing: self.describe(),
                vector,
                vectors: self.irqs.len(),
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
            .ioctl_val("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET(), 0)
            .map(|_| ())
    }
}
