//! DMA memory: regions mapped for the device, carved into aligned buffers.
//!
//! A [`DmaRegion`] is anonymous (or hugetlb) memory made reachable by the device through its
//! backing. A [`DmaPool`] hands out [`DmaBuf`]s from it. Memory the device may write is never
//! exposed as a Rust slice: a buffer is read and written by copying (`write`, `read`,
//! `load_acquire_u8` for a completion record's status byte), and a buffer is owned by one
//! request at a time: it moves into the request and comes back with the completion.

use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use memmap2::{MmapMut, MmapOptions};

use crate::error::{DmaError, DmaObject};
use crate::{DeviceBacking, DriverError};

/// Smallest allocation granule and alignment (a descriptor, an IAA record).
pub const GRANULE: usize = 64;

/// Memory mapped for a device.
pub struct DmaRegion {
    base: NonNull<u8>,
    len: usize,
    iova: u64,
    backing: Arc<dyn DeviceBacking>,
    _map: MmapMut,
}

// SAFETY: the region is plain memory; all access goes through raw-pointer copies with bounds
// checks in `DmaBuf`, and the mapping itself is immutable after construction.
unsafe impl Send for DmaRegion {}
// SAFETY: as above: shared references only perform bounds-checked raw copies and atomic loads.
unsafe impl Sync for DmaRegion {}

impl std::fmt::Debug for DmaRegion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaRegion")
            .field("len", &self.len)
            .field("iova", &format_args!("{:#x}", self.iova))
            .finish()
    }
}

impl DmaRegion {
    /// `len` bytes (rounded up to 4 KiB) of anonymous memory, or of 2 MiB huge pages when
    /// `hugetlb`, mapped read-write for the device.
    pub fn new(backing: Arc<dyn DeviceBacking>, len: usize, hugetlb: bool) -> Result<Self, DriverError> {
        let page = if hugetlb { 2 << 20 } else { 4096 };
        let len = len.max(1).div_ceil(page) * page;
        let mut opts = MmapOptions::new();
        opts.len(len);
        if hugetlb {
            opts.huge(Some(21));
        }
        let mut map = opts
            .map_anon()
            .map_err(|source| DmaError::MapFailed { len, hugetlb, source })?;
        let base = NonNull::new(map.as_mut_ptr()).ok_or(DmaError::NullMapping { len })?;
        // SAFETY: `map` lives in the region, which unmaps from the device (Drop) before the
        // memory is released; the range is exactly the mapping and writable.
        let iova = unsafe { backing.dma_map(base.as_ptr(), len, true)? };
        Ok(DmaRegion {
            base,
            len,
            iova,
            backing,
            _map: map,
        })
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region is empty (never: regions are at least one page).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device address of the first byte.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    fn check(&self, off: usize, len: usize) -> Result<(), DriverError> {
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(DmaError::OutOfBounds {
                object: DmaObject::Region,
                off,
                len,
                size: self.len,
            }
            .into());
        }
        Ok(())
    }

    fn write(&self, off: usize, data: &[u8]) -> Result<(), DriverError> {
        self.check(off, data.len())?;
        // SAFETY: bounds checked above; the memory is ours and mapped; a copy never creates a
        // reference to memory the device may be writing.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.base.as_ptr().add(off), data.len()) };
        Ok(())
    }

    fn read(&self, off: usize, out: &mut [u8]) -> Result<(), DriverError> {
        self.check(off, out.len())?;
        // SAFETY: bounds checked above; see `write`.
        unsafe { std::ptr::copy_nonoverlapping(self.base.as_ptr().add(off), out.as_mut_ptr(), out.len()) };
        Ok(())
    }

    fn fill(&self, off: usize, len: usize, v: u8) -> Result<(), DriverError> {
        self.check(off, len)?;
        // SAFETY: bounds checked above.
        unsafe { std::ptr::write_bytes(self.base.as_ptr().add(off), v, len) };
        Ok(())
    }

    fn load_acquire_u8(&self, off: usize) -> Result<u8, DriverError> {
        self.check(off, 1)?;
        // SAFETY: in bounds; the byte is the status byte of a completion record that the device
        // writes last with a release store; AtomicU8 has the alignment of u8.
        let a = unsafe { AtomicU8::from_ptr(self.base.as_ptr().add(off)) };
        Ok(a.load(Ordering::Acquire))
    }

    fn store_release_u8(&self, off: usize, v: u8) -> Result<(), DriverError> {
        self.check(off, 1)?;
        // SAFETY: in bounds; see `load_acquire_u8`.
        let a = unsafe { AtomicU8::from_ptr(self.base.as_ptr().add(off)) };
        a.store(v, Ordering::Release);
        Ok(())
    }
}

impl Drop for DmaRegion {
    fn drop(&mut self) {
        if let Err(e) = self.backing.dma_unmap(self.iova, self.len) {
            tracing::warn!("unmapping DMA region at {:#x}: {e}", self.iova);
        }
    }
}

/// Buffers carved from one region (first fit, 64-byte granules, coalescing on free).
pub struct DmaPool {
    region: DmaRegion,
    free: Mutex<BTreeMap<usize, usize>>,
}

impl std::fmt::Debug for DmaPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaPool")
            .field("region", &self.region)
            .field("free_bytes", &self.free_bytes())
            .finish()
    }
}

impl DmaPool {
    /// A pool over a new region of `len` bytes.
    pub fn new(backing: Arc<dyn DeviceBacking>, len: usize, hugetlb: bool) -> Result<Arc<Self>, DriverError> {
        let region = DmaRegion::new(backing, len, hugetlb)?;
        let mut free = BTreeMap::new();
        free.insert(0, region.len());
        Ok(Arc::new(DmaPool {
            region,
            free: Mutex::new(free),
        }))
    }

    /// Bytes not allocated.
    pub fn free_bytes(&self) -> usize {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).values().sum()
    }

    /// A zeroed buffer of `len` bytes aligned to `align` (a power of two; at least 64).
    pub fn alloc(self: &Arc<Self>, len: usize, align: usize) -> Result<DmaBuf, DriverError> {
        let align = align.max(GRANULE);
        if !align.is_power_of_two() || len == 0 {
            return Err(DmaError::BadAllocation { len, align }.into());
        }
        let Some(size) = len.checked_next_multiple_of(GRANULE) else {
            return Err(DmaError::BadAllocation { len, align }.into());
        };
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let base_iova = self.region.iova() as usize;
        let found = free.iter().find_map(|(&start, &flen)| {
            // Align the device address (the region's IOVA is page aligned).
            let a = (base_iova + start).checked_next_multiple_of(align)? - base_iova;
            (a.checked_add(size)? <= start + flen).then_some((start, flen, a))
        });
        let Some((start, flen, a)) = found else {
            return Err(DmaError::PoolExhausted {
                wanted: size,
                free: free.values().sum(),
            }
            .into());
        };
        free.remove(&start);
        if a > start {
            free.insert(start, a - start);
        }
        if a + size < start + flen {
            free.insert(a + size, start + flen - (a + size));
        }
        drop(free);
        self.region.fill(a, size, 0)?;
        Ok(DmaBuf {
            pool: self.clone(),
            off: a,
            len,
            size,
        })
    }

    fn release(&self, off: usize, size: usize) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let (mut start, mut len) = (off, size);
        if let Some((&ps, &pl)) = free.range(..start).next_back() {
            if ps + pl == start {
                free.remove(&ps);
                start = ps;
                len += pl;
            }
        }
        if let Some(&nl) = free.get(&(off + size)) {
            free.remove(&(off + size));
            len += nl;
        }
        free.insert(start, len);
    }
}

/// A buffer in DMA memory. Dropping it returns the memory to its pool; only drop it when no
/// request the device may still be working on uses it.
pub struct DmaBuf {
    pool: Arc<DmaPool>,
    off: usize,
    len: usize,
    size: usize,
}

impl std::fmt::Debug for DmaBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmaBuf")
            .field("iova", &format_args!("{:#x}", self.iova()))
            .field("len", &self.len)
            .finish()
    }
}

impl DmaBuf {
    /// The device address of the first byte.
    pub fn iova(&self) -> u64 {
        self.pool.region.iova() + self.off as u64
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty (never: allocations are at least one byte).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, off: usize, len: usize) -> Result<(), DriverError> {
        if off.checked_add(len).is_none_or(|end| end > self.len) {
            return Err(DmaError::OutOfBounds {
                object: DmaObject::Buffer,
                off,
                len,
                size: self.len,
            }
            .into());
        }
        Ok(())
    }

    /// Copies `data` into the buffer at `off`.
    pub fn write(&mut self, off: usize, data: &[u8]) -> Result<(), DriverError> {
        self.check(off, data.len())?;
        self.pool.region.write(self.off + off, data)
    }

    /// Copies `out.len()` bytes at `off` out of the buffer.
    pub fn read(&self, off: usize, out: &mut [u8]) -> Result<(), DriverError> {
        self.check(off, out.len())?;
        self.pool.region.read(self.off + off, out)
    }

    /// Copies `len` bytes at `off` into a new vector.
    pub fn read_vec(&self, off: usize, len: usize) -> Result<Vec<u8>, DriverError> {
        let mut v = vec![0u8; len];
        self.read(off, &mut v)?;
        Ok(v)
    }

    /// Sets `len` bytes at `off` to `v`.
    pub fn fill(&mut self, off: usize, len: usize, v: u8) -> Result<(), DriverError> {
        self.check(off, len)?;
        self.pool.region.fill(self.off + off, len, v)
    }

    /// Acquire load of one byte (a completion record's status byte).
    pub fn load_acquire_u8(&self, off: usize) -> Result<u8, DriverError> {
        self.check(off, 1)?;
        self.pool.region.load_acquire_u8(self.off + off)
    }

    /// Release store of one byte (clearing a status byte before reuse).
    pub fn store_release_u8(&mut self, off: usize, v: u8) -> Result<(), DriverError> {
        self.check(off, 1)?;
        self.pool.region.store_release_u8(self.off + off, v)
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        self.pool.release(self.off, self.size);
    }
}

#[cfg(all(test, feature = "emu"))]
mod tests {
    use super::*;
    use crate::backing::emu::EmuBacking;

    fn pool(len: usize) -> Arc<DmaPool> {
        let b = EmuBacking::from_profile("dsa-spr", Default::default()).unwrap();
        DmaPool::new(Arc::new(b), len, false).unwrap()
    }

    #[test]
    fn bad_allocations_are_typed() {
        let p = pool(4096);
        for (len, align) in [(0, 64), (64, 96), (usize::MAX, 64), (64, 1 << 63)] {
            match p.alloc(len, align) {
                Err(DriverError::Dma(DmaError::BadAllocation { len: l, .. })) => assert_eq!(l, len),
                // An alignment that is a power of two but beyond any address fits nowhere.
                Err(DriverError::Dma(DmaError::PoolExhausted { .. })) => assert_eq!(align, 1 << 63),
                other => panic!("{len} {align}: {other:?}"),
            }
        }
    }

    #[test]
    fn exhaustion_names_what_was_wanted_and_free() {
        let p = pool(4096);
        let _a = p.alloc(4000, 64).unwrap();
        let e = p.alloc(100, 64).unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::Dma(DmaError::PoolExhausted {
                    wanted: 128,
                    free: 64
                })
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("pool exhausted: 128 bytes wanted, 64 free"),
            "{e}"
        );
    }

    #[test]
    fn out_of_bounds_access_is_typed() {
        let p = pool(4096);
        let mut b = p.alloc(100, 64).unwrap();
        let e = b.write(90, &[0; 11]).unwrap_err();
        assert!(
            matches!(
                e,
                DriverError::Dma(DmaError::OutOfBounds {
                    object: DmaObject::Buffer,
                    off: 90,
                    len: 11,
                    size: 100
                })
            ),
            "{e:?}"
        );
        assert!(
            e.to_string()
                .contains("access 90+11 outside a buffer of 100 bytes"),
            "{e}"
        );
        let e = b.read_vec(usize::MAX, 1).unwrap_err();
        assert!(
            matches!(e, DriverError::Dma(DmaError::OutOfBounds { .. })),
            "{e:?}"
        );
    }
}
