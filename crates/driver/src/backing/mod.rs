//! How the driver reaches a device: the [`DeviceBacking`] trait and its three implementations
//! (vfio-pci, kernel-owned WQ character devices, the in-process emulator).
//!
//! Everything above this trait (bring-up, submission, completion, error handling) is the same
//! code whatever the backing.

use std::time::Duration;

use idxd_hw::pci::DeviceKind;

use crate::DriverError;

#[cfg(feature = "emu")]
pub mod emu;
#[cfg(target_os = "linux")]
pub mod kernel_wq;
#[cfg(target_os = "linux")]
pub mod vfio;

/// A 64-byte descriptor image, aligned as MOVDIR64B and ENQCMD require of their source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct DescBytes(pub [u8; 64]);

impl Default for DescBytes {
    fn default() -> Self {
        DescBytes([0; 64])
    }
}

/// How a descriptor is written to a portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalKind {
    /// MOVDIR64B: posted, no answer (dedicated WQs; the driver keeps credits).
    Movdir64b,
    /// ENQCMD: the device accepts or asks to retry (shared WQs).
    Enqcmd,
}

/// The device's answer to a portal write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// Accepted (MOVDIR64B always reports this: the write is posted).
    Accepted,
    /// Not accepted (ENQCMD): retry later.
    Retry,
}

/// BAR0 register access. Implementations use 32/64-bit volatile accesses only.
pub trait RegisterAccess: Send + Sync {
    /// 32-bit read at a BAR0 offset.
    fn read32(&self, off: u64) -> u32;
    /// 64-bit read at a BAR0 offset.
    fn read64(&self, off: u64) -> u64;
    /// 32-bit write at a BAR0 offset.
    fn write32(&self, off: u64, v: u32);
    /// 64-bit write at a BAR0 offset.
    fn write64(&self, off: u64, v: u64);
}

/// One way of reaching a DSA or IAA.
pub trait DeviceBacking: Send + Sync {
    /// A name for messages and listings: `emu:iaa-spr`, `vfio:0000:6a:02.0`, `wq:/dev/iax/wq1.0`.
    fn describe(&self) -> String;

    /// DSA or IAA.
    fn kind(&self) -> DeviceKind;

    /// BAR0, when the driver owns the registers (vfio-pci, emulator). Kernel-owned WQs have
    /// none: the kernel configured the device, and sysfs describes it.
    fn registers(&self) -> Option<&dyn RegisterAccess>;

    /// Reads 16 bits of PCI configuration space.
    fn pci_read16(&self, off: u16) -> Result<u16, DriverError>;

    /// Writes 16 bits of PCI configuration space.
    fn pci_write16(&self, off: u16, v: u16) -> Result<(), DriverError>;

    /// Writes a descriptor to the portal at BAR2 offset `portal_off` (for a kernel-owned WQ,
    /// the offset into its mapped portal page).
    fn submit(&self, portal_off: u64, desc: &DescBytes, kind: PortalKind) -> Result<Enqueued, DriverError>;

    /// Makes `len` bytes of host memory at `host` reachable by the device and returns the
    /// address descriptors must use for it (an IOVA, or the virtual address itself under SVA).
    ///
    /// # Safety
    /// `host..host + len` must be valid, writable when `writable`, and stay so until
    /// [`DeviceBacking::dma_unmap`] is called with the returned address, because the device
    /// may read and write it at any time in between.
    unsafe fn dma_map(&self, host: *mut u8, len: usize, writable: bool) -> Result<u64, DriverError>;

    /// Undoes a [`DeviceBacking::dma_map`].
    fn dma_unmap(&self, dev_addr: u64, len: usize) -> Result<(), DriverError>;

    /// Waits up to `timeout` for interrupts on MSI-X vector `vector`; returns how many arrived
    /// (0 on timeout). Backings without interrupts return [`DriverError::Unsupported`].
    fn wait_interrupt(&self, vector: u16, timeout: Duration) -> Result<u64, DriverError>;

    /// Function-level reset (the only way out of a halt that needs more than a software reset).
    fn function_reset(&self) -> Result<(), DriverError>;
}
