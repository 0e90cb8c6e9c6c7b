//! Completion records read back by the driver and mapped by the runtime: a backing that answers
//! every descriptor with arbitrary record bytes (what a faulty or hostile device could write).
//! Invariants: no panic, no hang; every request gets one outcome; a success never claims more
//! output than the destination has room for.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use idxd_driver::backing::emu::EmuBacking;
use idxd_driver::{
    Backed, BringUpOptions, DescBytes, DeviceBacking, DriverError, Enqueued, PortalKind, RegisterAccess,
};
use idxd_emu::device::EmuConfig;
use idxd_hw::pci::DeviceKind;
use idxd_runtime::{Algorithm, IaaMode, Runtime, RuntimeBuilder};

/// A device whose every completion record is the next 64 bytes of a script.
struct Scripted {
    inner: EmuBacking,
    script: Mutex<(Vec<u8>, usize)>,
}

impl Scripted {
    fn next_record(&self) -> [u8; 64] {
        let mut g = self.script.lock().unwrap_or_else(|e| e.into_inner());
        let mut rec = [0u8; 64];
        let (bytes, pos) = &mut *g;
        for b in rec.iter_mut() {
            *b = bytes.get(*pos).copied().unwrap_or(0);
            *pos = (*pos + 1) % bytes.len().max(1);
        }
        // A record is complete once its status byte is non-zero.
        if rec[0] == 0 {
            rec[0] = 1;
        }
        rec
    }
}

impl RegisterAccess for Scripted {
    fn read32(&self, off: u64) -> u32 {
        self.inner.read32(off)
    }
    fn read64(&self, off: u64) -> u64 {
        self.inner.read64(off)
    }
    fn write32(&self, off: u64, v: u32) {
        self.inner.write32(off, v)
    }
    fn write64(&self, off: u64, v: u64) {
        self.inner.write64(off, v)
    }
}

impl DeviceBacking for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn kind(&self) -> DeviceKind {
        self.inner.kind()
    }
    fn registers(&self) -> Option<&dyn RegisterAccess> {
        Some(self)
    }
    fn pci_read16(&self, off: u16) -> Result<u16, DriverError> {
        self.inner.pci_read16(off)
    }
    fn pci_write16(&self, off: u16, v: u16) -> Result<(), DriverError> {
        self.inner.pci_write16(off, v)
    }
    fn submit(&self, _portal_off: u64, desc: &DescBytes, _kind: PortalKind) -> Result<Enqueued, DriverError> {
        let rec_addr = u64::from_le_bytes(desc.0[8..16].try_into().expect("8 bytes"));
        let rec = self.next_record();
        let iommu = self.inner.device().iommu();
        // The body first, the status byte last, as a device writes it.
        let _ = iommu.cpu_write(rec_addr + 1, &rec[1..]);
        let _ = iommu.cpu_write(rec_addr, &rec[..1]);
        Ok(Enqueued::Accepted)
    }
    unsafe fn dma_map(&self, host: *mut u8, len: usize, writable: bool) -> Result<u64, DriverError> {
        // SAFETY: the caller's guarantee (valid until unmapped) is passed on unchanged.
        unsafe { self.inner.dma_map(host, len, writable) }
    }
    fn dma_unmap(&self, dev_addr: u64, len: usize) -> Result<(), DriverError> {
        self.inner.dma_unmap(dev_addr, len)
    }
    fn wait_interrupt(&self, vector: u16, timeout: Duration) -> Result<u64, DriverError> {
        self.inner.wait_interrupt(vector, timeout)
    }
    fn function_reset(&self) -> Result<(), DriverError> {
        self.inner.function_reset()
    }
}

fn runtime() -> &'static (Arc<Scripted>, Runtime) {
    static RT: OnceLock<(Arc<Scripted>, Runtime)> = OnceLock::new();
    RT.get_or_init(|| {
        let s = Arc::new(Scripted {
            inner: EmuBacking::from_profile("iaa-spr", EmuConfig::default()).expect("built-in profile"),
            script: Mutex::new((Vec::new(), 0)),
        });
        let dev = Backed::from_backing(s.clone(), "scripted".into(), 0)
            .expect("registers")
            .bring_up(None, 1, BringUpOptions::default())
            .expect("bring-up");
        let rt = RuntimeBuilder::new()
            .algorithm(Algorithm::Iaa(IaaMode::Fixed))
            .opened_device(dev)
            .batch_size(4)
            // The records themselves reach the callers: no software redo, no verify pass.
            .fallback(false)
            .verify(false)
            .timeout(Duration::from_millis(20))
            .build()
            .expect("runtime");
        (s, rt)
    })
}

/// One fuzz case: the records the device will write, in order.
pub fn records_one(data: &[u8]) {
    let (s, rt) = runtime();
    *s.script.lock().unwrap_or_else(|e| e.into_inner()) = (data.to_vec(), 0);
    let mut ctx = rt.context();
    let page: Vec<u8> = (0..4096u32).map(|i| (i / 16) as u8).collect();
    let srcs = [&page[..]; 4];
    for room in [4096usize, 100] {
        let mut outs = vec![vec![0u8; room]; 4];
        let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let r = ctx.compress(&srcs, &mut dsts);
        assert_eq!(r.len(), 4);
        for x in &r {
            if let Ok(n) = x {
                assert!(*n <= room, "compress claims {n} bytes in {room}");
            }
        }
        let mut backs = vec![vec![0u8; room]; 4];
        let mut b: Vec<&mut [u8]> = backs.iter_mut().map(|o| o.as_mut_slice()).collect();
        let comp: Vec<&[u8]> = outs.iter().map(|o| &o[..64.min(o.len())]).collect();
        let r = ctx.decompress(&comp, &mut b);
        assert_eq!(r.len(), 4);
        for x in &r {
            if let Ok(n) = x {
                assert!(*n <= room, "decompress claims {n} bytes in {room}");
            }
        }
    }
}
