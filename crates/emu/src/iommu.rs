//! The emulated device's IOMMU: I/O virtual addresses (IOVAs) to host memory.
//!
//! The device reaches memory only through an [`Iommu`]. The driver maps IOVA ranges onto host
//! memory it owns ([`Iommu::map`]) or asks the IOMMU for memory of its own
//! ([`Iommu::map_owned`]); either kind of mapping is read-only or read-write for the device.
//!
//! - Device accesses ([`Iommu::read`], [`Iommu::write`]) honour the read-only bit and fault at
//!   the first byte that does not translate; the bytes before it have been transferred (DSA
//!   completes partially). An access may span any number of adjacent mappings.
//! - CPU accesses ([`Iommu::cpu_read`], [`Iommu::cpu_write`]) translate the same way but ignore
//!   the read-only bit: the CPU may write what the device may only read.
//! - Completion records: [`Iommu::write_record`] writes everything but the status byte first and
//!   the status byte last with a release store; [`Iommu::cpu_load_acquire_u8`] polls it.
//!
//! Memory the device writes is never handed out as a Rust slice: every access copies. Mappings
//! live in a `BTreeMap` keyed by their first IOVA behind an `RwLock`: a lookup is `O(log n)`
//! per mapping an access touches, accesses from many threads run in parallel, and a mapping
//! cannot disappear while an access that started before its unmap is still copying (unmap
//! takes the write lock, so it waits for the copy to finish; after it returns the device never
//! touches that memory again).
//!
//! A mapping must end at or below `u64::MAX` (its exclusive end must be representable), so the
//! last byte of the IOVA space is never mapped. Addresses never wrap: an access that would run
//! past the end of the IOVA space faults at the first byte that is not mapped.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::BTreeMap;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::EmuError;

/// Alignment of the memory [`Iommu::map_owned`] allocates.
pub const OWNED_ALIGN: usize = 4096;

/// An access that did not translate: the first faulting IOVA and the access direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[error("IOMMU fault at {addr:#x} on {}", if *write { "write" } else { "read" })]
pub struct Fault {
    /// The first byte of the access that is not mapped (or not writable, for a write).
    pub addr: u64,
    /// Whether the access was a write.
    pub write: bool,
}

/// One IOVA range and the host memory behind it.
struct Mapping {
    len: u64,
    host: NonNull<u8>,
    writable: bool,
    /// `Some` when the IOMMU allocated the memory (freed when the mapping is dropped).
    owned: Option<Layout>,
}

// SAFETY: a Mapping is a description of memory (a pointer and a length), not a borrow of it;
// the memory is either owned by the mapping or guaranteed valid by the caller of `Iommu::map`
// until unmap, from any thread. All accesses through the pointer happen while the IOMMU's lock
// is held, so moving the description to another thread is sound.
unsafe impl Send for Mapping {}
// SAFETY: shared references to a Mapping only read its fields; the memory behind `host` is
// accessed with explicit copies and atomics under the IOMMU's read lock, never through `&`
// references to the bytes.
unsafe impl Sync for Mapping {}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(layout) = self.owned {
            // SAFETY: `host` was returned by `alloc_zeroed(layout)` in `map_owned` with exactly
            // this layout, and the mapping is dropped only after it left the table (or never
            // entered it), so no access can be using the memory any more.
            unsafe { dealloc(self.host.as_ptr(), layout) }
        }
    }
}

/// The emulated IOMMU (see the module documentation).
pub struct Iommu {
    maps: RwLock<BTreeMap<u64, Mapping>>,
}

impl Default for Iommu {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Iommu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let maps = self.maps_read();
        let mut l = f.debug_list();
        for (iova, m) in maps.iter() {
            l.entry(&format_args!(
                "{iova:#x}+{:#x}{}",
                m.len,
                if m.writable { " rw" } else { " ro" }
            ));
        }
        l.finish()
    }
}

/// Who accesses memory and how, which decides whether the read-only bit applies and what a
/// fault says.
#[derive(Clone, Copy)]
enum Access {
    DeviceRead,
    DeviceWrite,
    CpuRead,
    CpuWrite,
}

impl Access {
    const fn needs_writable(self) -> bool {
        matches!(self, Access::DeviceWrite)
    }
    const fn is_write(self) -> bool {
        matches!(self, Access::DeviceWrite | Access::CpuWrite)
    }
}

/// Walks `[iova, iova + len)` in ascending order, mapping by mapping, calling
/// `f(host, offset_in_access, n)` for each translated piece. Stops at the first byte that does
/// not translate (or, when `need_write`, lies in a read-only mapping) and returns its address.
///
/// Every piece lies inside one live mapping of `maps`; the caller holds the lock that keeps it
/// alive while `f` uses the pointer.
fn walk(
    maps: &BTreeMap<u64, Mapping>,
    iova: u64,
    len: usize,
    need_write: bool,
    mut f: impl FnMut(*mut u8, usize, usize),
) -> Result<(), u64> {
    let end = iova as u128 + len as u128;
    let mut cur = iova as u128;
    while cur < end {
        // `cur` is below 2^64: it starts at `iova` and only advances to the end of a mapping,
        // and every mapping ends at or below u64::MAX.
        let c = cur as u64;
        let Some((&start, m)) = maps.range(..=c).next_back() else {
            return Err(c);
        };
        let m_end = start as u128 + m.len as u128;
        if cur >= m_end || (need_write && !m.writable) {
            return Err(c);
        }
        let n = (end.min(m_end) - cur) as usize;
        let host = m.host.as_ptr().wrapping_add((c - start) as usize);
        f(host, (cur - iova as u128) as usize, n);
        cur += n as u128;
    }
    Ok(())
}

/// The highest address of `[iova, iova + len)` that does not translate, if any.
fn last_bad(maps: &BTreeMap<u64, Mapping>, iova: u64, len: usize, need_write: bool) -> Option<u64> {
    let begin = iova as u128;
    let end = begin + len as u128;
    if end > u64::MAX as u128 {
        // u64::MAX itself is inside the access and is never mapped.
        return (len != 0).then_some(u64::MAX);
    }
    let mut cur_end = end;
    while cur_end > begin {
        let last = (cur_end - 1) as u64;
        match maps.range(..=last).next_back() {
            Some((&s, m)) if s as u128 + m.len as u128 > last as u128 && (!need_write || m.writable) => {
                cur_end = (s as u128).max(begin);
            }
            _ => return Some(last),
        }
    }
    None
}

impl Iommu {
    /// An IOMMU with nothing mapped.
    pub fn new() -> Self {
        Iommu {
            maps: RwLock::new(BTreeMap::new()),
        }
    }

    fn maps_read(&self) -> RwLockReadGuard<'_, BTreeMap<u64, Mapping>> {
        // A panic while the lock was held cannot leave the table inconsistent (it is only
        // modified by single BTreeMap calls), so a poisoned lock is still usable.
        self.maps.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn maps_write(&self) -> RwLockWriteGuard<'_, BTreeMap<u64, Mapping>> {
        self.maps.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Maps `[iova, iova + len)` onto the host memory at `host`, writable by the device when
    /// `writable`.
    ///
    /// Refused: a zero length, a range that runs past `u64::MAX` (or a host range that wraps),
    /// a null pointer, and any overlap with an existing mapping.
    ///
    /// # Safety
    /// `host..host + len` must be valid for reads and writes until [`Iommu::unmap`] of this
    /// range has returned (or the IOMMU is dropped), and must not be accessed through Rust
    /// references while the device may access it (another thread may copy into it at any time
    /// through this IOMMU; use raw-pointer or atomic accesses, or the `cpu_*` methods).
    pub unsafe fn map(&self, iova: u64, host: *mut u8, len: usize, writable: bool) -> Result<(), EmuError> {
        let host = NonNull::new(host).ok_or(EmuError::NullHost { iova })?;
        if (host.as_ptr() as usize).checked_add(len).is_none() {
            return Err(EmuError::Wraparound {
                iova,
                len: len as u64,
            });
        }
        self.insert(
            iova,
            Mapping {
                len: len as u64,
                host,
                writable,
                owned: None,
            },
        )
    }

    /// Maps `[iova, iova + len)` onto zeroed memory that the IOMMU allocates (aligned to
    /// [`OWNED_ALIGN`]) and frees on [`Iommu::unmap`]. Refused as [`Iommu::map`] refuses.
    pub fn map_owned(&self, iova: u64, len: usize, writable: bool) -> Result<(), EmuError> {
        check_range(iova, len)?;
        let layout = Layout::from_size_align(len, OWNED_ALIGN)
            .map_err(|_| EmuError::OutOfMemory { len: len as u64 })?;
        // SAFETY: `layout` has a non-zero size (checked above).
        let ptr = unsafe { alloc_zeroed(layout) };
        let host = NonNull::new(ptr).ok_or(EmuError::OutOfMemory { len: len as u64 })?;
        // From here the Mapping owns the allocation: dropping it (also when insert refuses it)
        // frees the memory.
        self.insert(
            iova,
            Mapping {
                len: len as u64,
                host,
                writable,
                owned: Some(layout),
            },
        )
    }

    fn insert(&self, iova: u64, m: Mapping) -> Result<(), EmuError> {
        let len = m.len;
        check_range(iova, len as usize)?;
        let end = iova + len; // checked by check_range
        let mut maps = self.maps_write();
        if let Some((&s, prev)) = maps.range(..=iova).next_back() {
            if s as u128 + prev.len as u128 > iova as u128 {
                return Err(EmuError::Overlap {
                    iova,
                    len,
                    existing: s,
                });
            }
        }
        if let Some((&s, _)) = maps.range(iova..end).next() {
            return Err(EmuError::Overlap {
                iova,
                len,
                existing: s,
            });
        }
        maps.insert(iova, m);
        Ok(())
    }

    /// Removes the mapping `[iova, iova + len)`, which must be exactly one earlier mapping.
    /// IOMMU-owned memory is freed. When this returns no device access uses the range any more.
    pub fn unmap(&self, iova: u64, len: usize) -> Result<(), EmuError> {
        let removed = {
            let mut maps = self.maps_write();
            match maps.get(&iova) {
                Some(m) if m.len == len as u64 => maps.remove(&iova),
                _ => None,
            }
        };
        // The mapping (and owned memory) is dropped here, outside the lock: nobody can reach
        // it any more.
        removed.map(drop).ok_or(EmuError::NotMapped {
            iova,
            len: len as u64,
        })
    }

    /// Number of mappings.
    pub fn mappings(&self) -> usize {
        self.maps_read().len()
    }

    fn read_as(&self, iova: u64, buf: &mut [u8], access: Access) -> Result<(), Fault> {
        let maps = self.maps_read();
        let dst = buf.as_mut_ptr();
        walk(&maps, iova, buf.len(), access.needs_writable(), |host, off, n| {
            // SAFETY: `host..host + n` lies inside a live mapping (the read lock keeps it
            // mapped, and the map contract keeps the memory valid), `off + n <= buf.len()`, and
            // `ptr::copy` tolerates the (contract-violating but possible) case where `buf`
            // itself lies in mapped memory.
            unsafe { std::ptr::copy(host, dst.add(off), n) }
        })
        .map_err(|addr| Fault {
            addr,
            write: access.is_write(),
        })
    }

    fn write_as(&self, iova: u64, data: &[u8], access: Access) -> Result<(), Fault> {
        let maps = self.maps_read();
        let src = data.as_ptr();
        walk(
            &maps,
            iova,
            data.len(),
            access.needs_writable(),
            |host, off, n| {
                // SAFETY: as in `read_as`, with the roles swapped: `host..host + n` is valid mapped
                // memory and `off + n <= data.len()`.
                unsafe { std::ptr::copy(src.add(off), host, n) }
            },
        )
        .map_err(|addr| Fault {
            addr,
            write: access.is_write(),
        })
    }

    /// A device read of `buf.len()` bytes at `iova`. On a fault, `buf[..fault.addr - iova]`
    /// holds the bytes before the faulting one.
    pub fn read(&self, iova: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.read_as(iova, buf, Access::DeviceRead)
    }

    /// A device write of `data` at `iova`. A read-only mapping faults. On a fault, the bytes
    /// before the faulting one have been written (as DSA does before it reports a fault).
    pub fn write(&self, iova: u64, data: &[u8]) -> Result<(), Fault> {
        self.write_as(iova, data, Access::DeviceWrite)
    }

    /// Checks that the device could read (or, with `write`, write) every byte of
    /// `[iova, iova + len)`, without transferring anything. Returns the first faulting byte.
    pub fn check(&self, iova: u64, len: usize, write: bool) -> Result<(), Fault> {
        let maps = self.maps_read();
        walk(&maps, iova, len, write, |_, _, _| {}).map_err(|addr| Fault { addr, write })
    }

    /// The *highest* faulting byte of a device access to `[iova, iova + len)`, if any (what a
    /// descending copy meets first).
    pub fn last_fault(&self, iova: u64, len: usize, write: bool) -> Option<Fault> {
        let maps = self.maps_read();
        last_bad(&maps, iova, len, write).map(|addr| Fault { addr, write })
    }

    /// A CPU read through the IOMMU's translation (for tests and the software side).
    pub fn cpu_read(&self, iova: u64, buf: &mut [u8]) -> Result<(), Fault> {
        self.read_as(iova, buf, Access::CpuRead)
    }

    /// A CPU read into a new vector.
    pub fn cpu_read_vec(&self, iova: u64, len: usize) -> Result<Vec<u8>, Fault> {
        let mut v = vec![0u8; len];
        self.cpu_read(iova, &mut v)?;
        Ok(v)
    }

    /// A CPU write through the IOMMU's translation; the read-only bit does not apply (the CPU
    /// may write what the device may only read).
    pub fn cpu_write(&self, iova: u64, data: &[u8]) -> Result<(), Fault> {
        self.write_as(iova, data, Access::CpuWrite)
    }

    /// Writes a completion record: `bytes[1..]` first, then the status byte `bytes[0]` with a
    /// release store, so that a poller that sees a non-zero status with an acquire load
    /// ([`Iommu::cpu_load_acquire_u8`]) sees the whole record. Nothing is written when any
    /// byte of the record does not translate for a device write.
    pub fn write_record(&self, iova: u64, bytes: &[u8]) -> Result<(), Fault> {
        let Some((&status, rest)) = bytes.split_first() else {
            return Ok(());
        };
        let maps = self.maps_read();
        let fault = |addr| Fault { addr, write: true };
        walk(&maps, iova, bytes.len(), true, |_, _, _| {}).map_err(fault)?;
        // `iova + 1` cannot overflow: the whole record translated, so `iova` < u64::MAX.
        let src = rest.as_ptr();
        walk(&maps, iova + 1, rest.len(), true, |host, off, n| {
            // SAFETY: `host..host + n` is live, writable mapped memory (checked above, and the
            // read lock keeps it mapped); `off + n <= rest.len()`.
            unsafe { std::ptr::copy(src.add(off), host, n) }
        })
        .map_err(fault)?;
        let mut status_ptr = None;
        walk(&maps, iova, 1, true, |host, _, _| status_ptr = Some(host)).map_err(fault)?;
        if let Some(p) = status_ptr {
            // SAFETY: `p` points at one live, mapped byte (alignment 1 suffices for AtomicU8);
            // the reference does not outlive this statement, during which the read lock keeps
            // the memory mapped. Concurrent accessors of a status byte use atomics
            // (`cpu_load_acquire_u8`), as the record protocol requires.
            unsafe { AtomicU8::from_ptr(p) }.store(status, Ordering::Release);
        }
        Ok(())
    }

    /// An acquire load of the byte at `iova` (a completion record's status byte): once it reads
    /// non-zero, the rest of the record written by [`Iommu::write_record`] is visible.
    pub fn cpu_load_acquire_u8(&self, iova: u64) -> Result<u8, Fault> {
        let maps = self.maps_read();
        let mut ptr = None;
        walk(&maps, iova, 1, false, |host, _, _| ptr = Some(host))
            .map_err(|addr| Fault { addr, write: false })?;
        match ptr {
            // SAFETY: `p` points at one live, mapped byte; the reference does not outlive this
            // statement, during which the read lock keeps the memory mapped.
            Some(p) => Ok(unsafe { AtomicU8::from_ptr(p) }.load(Ordering::Acquire)),
            None => Err(Fault {
                addr: iova,
                write: false,
            }),
        }
    }
}

/// A mapping must be non-empty and end at or below u64::MAX.
fn check_range(iova: u64, len: usize) -> Result<(), EmuError> {
    if len == 0 {
        return Err(EmuError::ZeroLength { iova });
    }
    if iova.checked_add(len as u64).is_none() {
        return Err(EmuError::Wraparound {
            iova,
            len: len as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_memory_is_zeroed_aligned_and_freed() {
        let m = Iommu::new();
        m.map_owned(0x1000, 8192, true).unwrap();
        assert_eq!(m.cpu_read_vec(0x1000, 8192).unwrap(), vec![0u8; 8192]);
        m.write(0x1ffe, &[1, 2, 3, 4]).unwrap();
        assert_eq!(m.cpu_read_vec(0x1ffe, 4).unwrap(), [1, 2, 3, 4]);
        assert_eq!(m.mappings(), 1);
        assert!(matches!(m.unmap(0x1000, 4096), Err(EmuError::NotMapped { .. })));
        m.unmap(0x1000, 8192).unwrap();
        assert_eq!(m.mappings(), 0);
        assert_eq!(
            m.read(0x1000, &mut [0u8; 1]),
            Err(Fault {
                addr: 0x1000,
                write: false
            })
        );
    }

    #[test]
    fn last_fault_finds_the_highest_hole() {
        let m = Iommu::new();
        m.map_owned(0x1000, 0x100, true).unwrap();
        m.map_owned(0x1200, 0x100, false).unwrap();
        assert_eq!(m.last_fault(0x1000, 0x300, false).unwrap().addr, 0x11ff);
        assert_eq!(m.last_fault(0x1000, 0x301, false).unwrap().addr, 0x1300);
        assert_eq!(m.last_fault(0x1200, 0x100, true).unwrap().addr, 0x12ff);
        assert_eq!(m.last_fault(0x1200, 0x100, false), None);
        assert_eq!(m.last_fault(u64::MAX - 3, 8, false).unwrap().addr, u64::MAX);
        assert_eq!(m.last_fault(0, 0, false), None);
    }

    #[test]
    fn ranges_are_checked() {
        let m = Iommu::new();
        assert!(matches!(
            m.map_owned(0, 0, true),
            Err(EmuError::ZeroLength { .. })
        ));
        assert!(matches!(
            m.map_owned(u64::MAX - 1, 2, true),
            Err(EmuError::Wraparound { .. })
        ));
        m.map_owned(u64::MAX - 4096, 4096, true).unwrap();
        assert_eq!(m.read(u64::MAX - 1, &mut [0u8; 1]), Ok(()));
        assert_eq!(
            m.read(u64::MAX - 1, &mut [0u8; 2]),
            Err(Fault {
                addr: u64::MAX,
                write: false
            })
        );
    }
}
