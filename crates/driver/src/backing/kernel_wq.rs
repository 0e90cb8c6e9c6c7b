//! A WQ owned by the kernel's idxd driver, opened as `/dev/{dsa,iax}/wqD.Q`.
//!
//! The kernel configured and enabled the device; this backing only submits. Opening the char
//! device binds the process's address space to the device (SVA: the kernel sets IA32_PASID), so
//! descriptors carry plain virtual addresses: [`DeviceBacking::dma_map`] returns the address
//! itself. The portal is the one page the char device maps, written with ENQCMD on a shared WQ
//! and MOVDIR64B on a dedicated one. No registers, no PCI config, no interrupts, no reset.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use idxd_hw::pci::DeviceKind;
use idxd_hw::tables::WqMode;

use super::{DescBytes, DeviceBacking, Enqueued, PortalKind, RegisterAccess};
use crate::error::DmaError;
use crate::portal::{CpuFeatures, Portal, PortalMemory, WriteOnlyMap, PORTAL_PAGE};
use crate::sysfs::{KernelWq, WqType};
use crate::DriverError;

/// A kernel-owned user WQ.
#[derive(Debug)]
pub struct KernelWqBacking {
    // Declared before `file`: the mapping goes first on drop.
    portal: Portal,
    _file: File,
    path: PathBuf,
    kind: DeviceKind,
    mode: WqMode,
}

impl KernelWqBacking {
    /// Opens a WQ found by [`crate::sysfs::list_kernel_devices`], checking this CPU's
    /// instructions.
    pub fn open(wq: &KernelWq) -> Result<Self, DriverError> {
        Self::open_with(wq, CpuFeatures::detect())
    }

    /// As [`KernelWqBacking::open`] with the CPU's instructions given (tests inject them).
    /// Refuses a WQ that is not a user WQ, whose mode is unknown, or that the CPU cannot submit
    /// to, before touching the char device.
    pub fn open_with(wq: &KernelWq, cpu: CpuFeatures) -> Result<Self, DriverError> {
        let cfg = |reason: String| DriverError::Config {
            field: format!("WQ {}", wq.name),
            reason,
        };
        match wq.wq_type {
            Some(WqType::User) | None => {}
            Some(t) => {
                return Err(cfg(format!(
                    "type is {t:?}, not user: only user WQs have a character device ({})",
                    wq.sysfs_path.display()
                )))
            }
        }
        let Some(mode) = wq.mode else {
            return Err(cfg(format!(
                "mode unknown ({} has no mode attribute)",
                wq.sysfs_path.display()
            )));
        };
        Self::open_path(&wq.char_dev, wq.kind, mode, cpu)
    }

    /// Opens the char device at `path` for a WQ of `kind` in `mode`.
    pub fn open_path(
        path: &Path,
        kind: DeviceKind,
        mode: WqMode,
        cpu: CpuFeatures,
    ) -> Result<Self, DriverError> {
        let name = format!("wq:{}", path.display());
        let pkind = match mode {
            WqMode::Dedicated => PortalKind::Movdir64b,
            WqMode::Shared => PortalKind::Enqcmd,
        };
        cpu.require(pkind, &name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| {
                let hint = match e.kind() {
                    std::io::ErrorKind::NotFound => " (is the WQ enabled, of type user, and idxd loaded?)",
                    std::io::ErrorKind::PermissionDenied => " (check the char device's permissions)",
                    _ => "",
                };
                DriverError::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(e.kind(), format!("{e}{hint}")),
                }
            })?;
        let map = WriteOnlyMap::new(&file, PORTAL_PAGE, 0, path).map_err(|e| match e {
            DriverError::Io { path, source } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                DriverError::Io {
                    path,
                    source: std::io::Error::new(
                        source.kind(),
                        format!(
                            "{source} (the kernel refuses direct user submission on parts affected by \
                         INTEL-SA-01084 unless the process has CAP_SYS_RAWIO)"
                        ),
                    ),
                }
            }
            other => other,
        })?;
        let portal = Portal::new(PortalMemory::WriteOnly(map), pkind, name, cpu)?;
        Ok(KernelWqBacking {
            portal,
            _file: file,
            path: path.to_path_buf(),
            kind,
            mode,
        })
    }

    /// The char device.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Dedicated or shared.
    pub fn mode(&self) -> WqMode {
        self.mode
    }

    /// The instruction submissions use.
    pub fn portal_kind(&self) -> PortalKind {
        self.portal.kind()
    }
}

impl DeviceBacking for KernelWqBacking {
    fn describe(&self) -> String {
        format!("wq:{}", self.path.display())
    }

    fn kind(&self) -> DeviceKind {
        self.kind
    }

    fn registers(&self) -> Option<&dyn RegisterAccess> {
        None
    }

    fn pci_read16(&self, _off: u16) -> Result<u16, DriverError> {
        Err(DriverError::Unsupported(
            "PCI configuration access on a kernel-owned WQ",
        ))
    }

    fn pci_write16(&self, _off: u16, _v: u16) -> Result<(), DriverError> {
        Err(DriverError::Unsupported(
            "PCI configuration access on a kernel-owned WQ",
        ))
    }

    /// `portal_off` is the offset in the WQ's portal page (0..4096, 64-byte aligned).
    fn submit(&self, portal_off: u64, desc: &DescBytes, kind: PortalKind) -> Result<Enqueued, DriverError> {
        self.portal.write_at(portal_off, desc, kind)
    }

    /// Shared virtual addressing: the device uses the process's own addresses.
    unsafe fn dma_map(&self, host: *mut u8, len: usize, _writable: bool) -> Result<u64, DriverError> {
        if host.is_null() || len == 0 {
            return Err(DmaError::BadMapRequest {
                backing: self.describe(),
                addr: host as usize,
                len,
            }
            .into());
        }
        Ok(host as u64)
    }

    fn dma_unmap(&self, _dev_addr: u64, _len: usize) -> Result<(), DriverError> {
        Ok(())
    }

    fn wait_interrupt(&self, _vector: u16, _timeout: Duration) -> Result<u64, DriverError> {
        Err(DriverError::Unsupported(
            "interrupts on a user WQ (poll the completion records)",
        ))
    }

    fn function_reset(&self) -> Result<(), DriverError> {
        Err(DriverError::Unsupported(
            "function reset of a kernel-owned device",
        ))
    }
}
