//! The device's view of memory while one descriptor runs: the IOMMU, an injected fault, and
//! byte counters.

use std::cell::Cell;

use crate::iommu::{Fault, Iommu};

/// `base + off`, saturating: an address past the end of the IOVA space becomes `u64::MAX`,
/// which is never mapped, so the access faults instead of wrapping.
pub(crate) fn at(base: u64, off: u64) -> u64 {
    base.saturating_add(off)
}

/// Memory for one descriptor.
pub(crate) struct Dev<'a> {
    mmu: &'a Iommu,
    /// An injected fault: accesses in this direction that cover `addr` fault there.
    poison: Option<Fault>,
    read: Cell<u64>,
    written: Cell<u64>,
}

impl<'a> Dev<'a> {
    pub fn new(mmu: &'a Iommu, poison: Option<Fault>) -> Self {
        Dev {
            mmu,
            poison,
            read: Cell::new(0),
            written: Cell::new(0),
        }
    }

    /// The poisoned address inside `[iova, iova + len)` for an access in direction `write`.
    fn poisoned(&self, iova: u64, len: usize, write: bool) -> Option<u64> {
        let p = self.poison?;
        let inside = p.write == write && p.addr >= iova && (p.addr as u128) < iova as u128 + len as u128;
        inside.then_some(p.addr)
    }

    /// Bytes read and written so far.
    pub fn counters(&self) -> (u64, u64) {
        (self.read.get(), self.written.get())
    }

    /// A device read; on a fault `buf[..fault.addr - iova]` holds the bytes before it.
    pub fn read(&self, iova: u64, buf: &mut [u8]) -> Result<(), Fault> {
        let limit = self.poisoned(iova, buf.len(), false);
        let n = limit.map_or(buf.len(), |p| (p - iova) as usize);
        let r = self.mmu.read(iova, &mut buf[..n]);
        let good = match r {
            Ok(()) => n as u64,
            Err(f) => f.addr.saturating_sub(iova),
        };
        self.read.set(self.read.get() + good);
        r?;
        match limit {
            Some(addr) => Err(Fault { addr, write: false }),
            None => Ok(()),
        }
    }

    /// A device write; on a fault the bytes before it are written.
    pub fn write(&self, iova: u64, data: &[u8]) -> Result<(), Fault> {
        let limit = self.poisoned(iova, data.len(), true);
        let n = limit.map_or(data.len(), |p| (p - iova) as usize);
        let r = self.mmu.write(iova, &data[..n]);
        let good = match r {
            Ok(()) => n as u64,
            Err(f) => f.addr.saturating_sub(iova),
        };
        self.written.set(self.written.get() + good);
        r?;
        match limit {
            Some(addr) => Err(Fault { addr, write: true }),
            None => Ok(()),
        }
    }

    /// Whether the whole range translates for an access in direction `write` (first fault).
    pub fn check(&self, iova: u64, len: usize, write: bool) -> Result<(), Fault> {
        self.mmu.check(iova, len, write)?;
        match self.poisoned(iova, len, write) {
            Some(addr) => Err(Fault { addr, write }),
            None => Ok(()),
        }
    }

    /// The highest faulting byte of `[iova, iova + len)` in direction `write`, if any.
    pub fn last_fault(&self, iova: u64, len: usize, write: bool) -> Option<Fault> {
        let real = self.mmu.last_fault(iova, len, write);
        let inj = self.poisoned(iova, len, write).map(|addr| Fault { addr, write });
        match (real, inj) {
            (Some(a), Some(b)) => Some(if a.addr >= b.addr { a } else { b }),
            (a, b) => a.or(b),
        }
    }
}

/// A scratch buffer of `len` zero bytes, or `None` when the allocation fails (the caller
/// reports a hardware error instead of aborting the process).
pub(crate) fn scratch(len: usize) -> Option<Vec<u8>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).ok()?;
    v.resize(len, 0);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poison_applies_to_its_direction_and_counts_good_bytes() {
        let m = Iommu::new();
        m.map_owned(0x1000, 0x100, true).unwrap();
        let dev = Dev::new(
            &m,
            Some(Fault {
                addr: 0x1010,
                write: false,
            }),
        );
        let mut b = [0u8; 32];
        assert_eq!(
            dev.read(0x1000, &mut b),
            Err(Fault {
                addr: 0x1010,
                write: false
            })
        );
        assert_eq!(dev.read(0x1011, &mut b), Ok(()));
        assert_eq!(
            dev.write(0x1000, &b),
            Ok(()),
            "a read poison does not affect writes"
        );
        assert_eq!(dev.counters(), (16 + 32, 32));
        assert_eq!(
            dev.check(0x1000, 0x100, false),
            Err(Fault {
                addr: 0x1010,
                write: false
            })
        );
        assert_eq!(dev.check(0x1000, 0x100, true), Ok(()));
        // A real fault below the poison wins for ascending accesses; the higher one for
        // descending ones.
        assert_eq!(
            dev.read(0x1008, &mut [0u8; 0x200]),
            Err(Fault {
                addr: 0x1010,
                write: false
            })
        );
        assert_eq!(
            dev.last_fault(0x1000, 0x200, false),
            Some(Fault {
                addr: 0x11ff,
                write: false
            })
        );
        assert_eq!(
            dev.last_fault(0x1000, 0x20, false),
            Some(Fault {
                addr: 0x1010,
                write: false
            })
        );
        let w = Dev::new(
            &m,
            Some(Fault {
                addr: 0x1004,
                write: true,
            }),
        );
        assert_eq!(
            w.write(0x1000, &[1; 8]),
            Err(Fault {
                addr: 0x1004,
                write: true
            })
        );
        assert_eq!(m.cpu_read_vec(0x1000, 8).unwrap(), [1, 1, 1, 1, 0, 0, 0, 0]);
        assert_eq!(w.counters(), (0, 4));
    }

    #[test]
    fn addresses_saturate() {
        assert_eq!(at(u64::MAX - 1, 5), u64::MAX);
        assert_eq!(at(10, 5), 15);
        assert_eq!(scratch(3), Some(vec![0, 0, 0]));
    }
}
