//! The device fd's regions: BAR0 as registers, PCI configuration space, region mapping.

use std::os::unix::fs::FileExt;

use vfio_bindings::bindings::vfio as vb;

use super::ioctl::{Fd, VFIO_DEVICE_GET_REGION_INFO};
use crate::backing::RegisterAccess;
use crate::error::VfioError;
use crate::DriverError;

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
    pub(super) fn mappable(&self) -> bool {
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
            Err(DriverError::RegisterOutOfRange {
                offset: off,
                width,
                bar_len: self.len(),
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

pub(super) fn region(device: &Fd, index: u32) -> Result<Region, DriverError> {
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
            VFIO_DEVICE_GET_REGION_INFO(),
            &mut ri,
        )?
    };
    Ok(Region {
        flags: ri.flags,
        size: ri.size,
        offset: ri.offset,
    })
}

pub(super) fn read_config16(device: &Fd, config: &Region, off: u16) -> Result<u16, DriverError> {
    check_config(config, off)?;
    let mut b = [0u8; 2];
    device
        .file
        .read_exact_at(&mut b, config.offset + u64::from(off))
        .map_err(|e| DriverError::io(&device.path, e))?;
    Ok(u16::from_le_bytes(b))
}

pub(super) fn write_config16(device: &Fd, config: &Region, off: u16, v: u16) -> Result<(), DriverError> {
    check_config(config, off)?;
    device
        .file
        .write_all_at(&v.to_le_bytes(), config.offset + u64::from(off))
        .map_err(|e| DriverError::io(&device.path, e))
}

pub(super) fn check_config(config: &Region, off: u16) -> Result<(), DriverError> {
    if off % 2 != 0 || u64::from(off) + 2 > config.size {
        return Err(DriverError::ConfigSpaceOutOfRange {
            offset: off,
            len: config.size,
        });
    }
    Ok(())
}

pub(super) fn map_region(device: &Fd, r: &Region, what: &str) -> Result<memmap2::MmapRaw, DriverError> {
    let len = usize::try_from(r.size).map_err(|_| VfioError::RegionTooLarge {
        region: what.to_string(),
        size: r.size,
    })?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let e = check_config(&r, 256).unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::ConfigSpaceOutOfRange {
                    offset: 256,
                    len: 256
                }
            ),
            "{e:?}"
        );
    }
}
