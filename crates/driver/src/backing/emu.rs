//! The in-process emulator as a backing: registers, portals and interrupts go straight to an
//! [`EmuDevice`]; DMA mappings go into its IOMMU at IOVAs this backing allocates.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use idxd_emu::device::{EmuConfig, EmuDevice, PortalResult, SubmitKind};
use idxd_hw::pci::DeviceKind;
use idxd_hw::Profile;

use super::{DescBytes, DeviceBacking, Enqueued, PortalKind, RegisterAccess};
use crate::DriverError;

/// First IOVA handed out (leaves page 0 unmapped so a null address faults).
const IOVA_BASE: u64 = 0x1_0000_0000;

/// What a submit hook ([`EmuBacking::with_submit_hook`]) makes of a descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hooked {
    /// Hand it to the emulated device's portal as usual.
    Forward,
    /// Do not: answer the portal write with this instead (the hook played the device).
    Answer(Enqueued),
}

/// A function that sees every descriptor written to the portal before the device does.
pub type SubmitHook = Box<dyn Fn(&EmuDevice, &DescBytes) -> Hooked + Send + Sync>;

/// An emulated device used through the driver.
pub struct EmuBacking {
    dev: Arc<EmuDevice>,
    next_iova: AtomicU64,
    hook: Option<SubmitHook>,
}

impl std::fmt::Debug for EmuBacking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmuBacking")
            .field("device", &self.describe())
            .finish()
    }
}

impl EmuBacking {
    /// Wraps an emulated device.
    pub fn new(dev: Arc<EmuDevice>) -> Self {
        EmuBacking {
            dev,
            next_iova: AtomicU64::new(IOVA_BASE),
            hook: None,
        }
    }

    /// The same backing with `hook` seeing every descriptor before the device: tests that
    /// watch what the driver submits, or that play a device answering with records of their
    /// choosing, without writing a whole [`DeviceBacking`].
    pub fn with_submit_hook(mut self, hook: SubmitHook) -> Self {
        self.hook = Some(hook);
        self
    }

    /// An emulated device from a built-in profile (`iaa-spr`, `dsa-spr`, ...).
    pub fn from_profile(name: &str, cfg: EmuConfig) -> Result<Self, DriverError> {
        let p = Profile::builtin(name)?;
        Ok(Self::new(Arc::new(EmuDevice::new(p, cfg))))
    }

    /// The emulated device (for tests that inspect counters or inject faults).
    pub fn device(&self) -> &Arc<EmuDevice> {
        &self.dev
    }
}

impl RegisterAccess for EmuBacking {
    fn read32(&self, off: u64) -> u32 {
        self.dev.read32(off)
    }
    fn read64(&self, off: u64) -> u64 {
        self.dev.read64(off)
    }
    fn write32(&self, off: u64, v: u32) {
        self.dev.write32(off, v)
    }
    fn write64(&self, off: u64, v: u64) {
        self.dev.write64(off, v)
    }
}

impl DeviceBacking for EmuBacking {
    fn describe(&self) -> String {
        format!("emu:{}", self.dev.profile().name)
    }

    fn kind(&self) -> DeviceKind {
        self.dev.kind()
    }

    fn registers(&self) -> Option<&dyn RegisterAccess> {
        Some(self)
    }

    fn pci_read16(&self, off: u16) -> Result<u16, DriverError> {
        Ok(self.dev.pci_read16(off))
    }

    fn pci_write16(&self, off: u16, v: u16) -> Result<(), DriverError> {
        self.dev.pci_write16(off, v);
        Ok(())
    }

    fn submit(&self, portal_off: u64, desc: &DescBytes, kind: PortalKind) -> Result<Enqueued, DriverError> {
        if let Some(Hooked::Answer(e)) = self.hook.as_ref().map(|h| h(&self.dev, desc)) {
            return Ok(e);
        }
        let k = match kind {
            PortalKind::Movdir64b => SubmitKind::Movdir64b,
            PortalKind::Enqcmd => SubmitKind::Enqcmd,
        };
        Ok(match self.dev.portal_write(portal_off, &desc.0, k)? {
            PortalResult::Accepted => Enqueued::Accepted,
            PortalResult::Retry => Enqueued::Retry,
        })
    }

    unsafe fn dma_map(&self, host: *mut u8, len: usize, writable: bool) -> Result<u64, DriverError> {
        // Page-granular IOVAs, like an IOMMU: round the slot up to 4 KiB.
        let slot = (len as u64).div_ceil(4096).max(1) * 4096;
        let iova = self.next_iova.fetch_add(slot, Ordering::Relaxed);
        // SAFETY: the caller guarantees host..host+len stays valid (and writable when asked)
        // until dma_unmap, which is exactly the contract of Iommu::map.
        unsafe { self.dev.iommu().map(iova, host, len, writable)? };
        Ok(iova)
    }

    fn dma_unmap(&self, dev_addr: u64, len: usize) -> Result<(), DriverError> {
        Ok(self.dev.iommu().unmap(dev_addr, len)?)
    }

    fn wait_interrupt(&self, vector: u16, timeout: Duration) -> Result<u64, DriverError> {
        let n = self.dev.irq(vector).ok_or_else(|| DriverError::NoSuchVector {
            backing: self.describe(),
            vector,
            vectors: self.dev.msix_vectors() as usize,
        })?;
        Ok(n.wait(timeout))
    }

    fn function_reset(&self) -> Result<(), DriverError> {
        self.dev.function_reset();
        Ok(())
    }
}
