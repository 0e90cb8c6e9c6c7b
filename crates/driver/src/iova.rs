//! IOVA allocation for the vfio backing: first fit over the ranges the IOMMU accepts.
//!
//! The ranges come from VFIO_IOMMU_GET_INFO's IOVA-range capability when the kernel reports it,
//! else [`DEFAULT_RANGE`]. The x86 MSI window (`0xfee0_0000..=0xfeef_ffff`) is always cut out:
//! a DMA write there is an interrupt message, not memory. Everything is kept in units of the
//! IOMMU's smallest page size.

use std::collections::BTreeMap;

/// The range used when the kernel does not report one: [1 GiB, 65 GiB), inclusive end.
/// Starts above the low legacy area and far from address 0 (so a null address faults).
pub const DEFAULT_RANGE: (u64, u64) = (1 << 30, (1 << 30) + (64 << 30) - 1);
/// The x86 interrupt-message window, inclusive.
pub const MSI_WINDOW: (u64, u64) = (0xfee0_0000, 0xfeef_ffff);
/// Mappings this large or larger get 2 MiB-aligned IOVAs (so the IOMMU can use large pages).
pub const LARGE: u64 = 2 << 20;

/// Why an IOVA operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IovaError {
    /// No free range is large enough.
    #[error("IOVA space exhausted: {len:#x} bytes asked, {free:#x} free (fragmented or full)")]
    Exhausted {
        /// Bytes asked for (rounded up to pages).
        len: u64,
        /// Bytes free in all.
        free: u64,
    },
    /// A zero length, or one that overflows.
    #[error("invalid IOVA length {0:#x}")]
    BadLength(u64),
    /// Alignment not a power of two.
    #[error("IOVA alignment {0:#x} is not a power of two")]
    BadAlign(u64),
    /// Freeing something that is not allocated (double free or a wrong address).
    #[error("IOVA {iova:#x}+{len:#x} is not allocated (double free or wrong address)")]
    NotAllocated {
        /// Start.
        iova: u64,
        /// Length.
        len: u64,
    },
}

/// First-fit allocator of IOVA ranges.
#[derive(Clone, Debug)]
pub struct IovaAllocator {
    /// Free ranges: start -> end (exclusive), disjoint, coalesced.
    free: BTreeMap<u64, u64>,
    page: u64,
}

impl IovaAllocator {
    /// An allocator over `ranges` (inclusive ends, as VFIO reports them) in units of `page`
    /// (a power of two; anything else is taken as 4 KiB). Ranges are trimmed to whole pages,
    /// overlaps merged, the MSI window and page 0 removed.
    pub fn new(ranges: &[(u64, u64)], page: u64) -> Self {
        let page = if page.is_power_of_two() { page } else { 4096 };
        let mut a = IovaAllocator {
            free: BTreeMap::new(),
            page,
        };
        for &(start, end_incl) in ranges {
            if end_incl < start {
                continue;
            }
            let start = start.max(page);
            let Some(s) = round_up(start, page) else { continue };
            // Exclusive end, rounded down to a page; an end at u64::MAX loses its last page.
            let e = end_incl.saturating_add(1) & !(page - 1);
            if s < e {
                a.insert_free(s, e);
            }
        }
        let msi_start = MSI_WINDOW.0 & !(page - 1);
        let msi_end = round_up(MSI_WINDOW.1 + 1, page).unwrap_or(u64::MAX);
        a.remove_range(msi_start, msi_end);
        a
    }

    /// The allocator over [`DEFAULT_RANGE`] with 4 KiB pages.
    pub fn with_default_range() -> Self {
        Self::new(&[DEFAULT_RANGE], 4096)
    }

    /// The page size.
    pub fn page(&self) -> u64 {
        self.page
    }

    /// Bytes free in all.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|(s, e)| e - s).sum()
    }

    /// The free ranges, `(start, end_exclusive)`.
    pub fn free_ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.free.iter().map(|(s, e)| (*s, *e))
    }

    /// The length `alloc(len)` actually reserves: `len` rounded up to whole pages.
    pub fn reserved_len(&self, len: u64) -> Result<u64, IovaError> {
        if len == 0 {
            return Err(IovaError::BadLength(len));
        }
        round_up(len, self.page).ok_or(IovaError::BadLength(len))
    }

    /// Reserves `len` bytes (rounded up to pages) at the lowest address aligned to `align`
    /// (raised to the page size, and to 2 MiB for lengths of 2 MiB or more).
    pub fn alloc(&mut self, len: u64, align: u64) -> Result<u64, IovaError> {
        if !align.is_power_of_two() {
            return Err(IovaError::BadAlign(align));
        }
        let len = self.reserved_len(len)?;
        let mut align = align.max(self.page);
        if len >= LARGE {
            align = align.max(LARGE);
        }
        let hit = self.free.iter().find_map(|(&s, &e)| {
            let a = round_up(s, align)?;
            let end = a.checked_add(len)?;
            (end <= e).then_some(a)
        });
        match hit {
            Some(a) => {
                self.remove_range(a, a + len);
                Ok(a)
            }
            None => Err(IovaError::Exhausted {
                len,
                free: self.free_bytes(),
            }),
        }
    }

    /// Returns `len` bytes at `iova` (as given to and returned by [`IovaAllocator::alloc`]).
    /// Freeing anything that overlaps free space is refused and changes nothing.
    pub fn free(&mut self, iova: u64, len: u64) -> Result<(), IovaError> {
        let bad = IovaError::NotAllocated { iova, len };
        let len = self.reserved_len(len).map_err(|_| bad.clone())?;
        let end = iova.checked_add(len).ok_or(bad.clone())?;
        if iova % self.page != 0 {
            return Err(bad);
        }
        // Overlap with the free range starting at or before iova, or any starting inside.
        if let Some((_, &e)) = self.free.range(..=iova).next_back() {
            if e > iova {
                return Err(bad);
            }
        }
        if self.free.range(iova..end).next().is_some() {
            return Err(bad);
        }
        self.insert_free(iova, end);
        Ok(())
    }

    /// Adds [s, e) to the free set, merging neighbours and overlaps.
    fn insert_free(&mut self, mut s: u64, mut e: u64) {
        if let Some((&ps, &pe)) = self.free.range(..=s).next_back() {
            if pe >= s {
                s = ps;
                e = e.max(pe);
                self.free.remove(&ps);
            }
        }
        loop {
            let next = self.free.range(s..).next().map(|(&ns, &ne)| (ns, ne));
            match next {
                Some((ns, ne)) if ns <= e => {
                    e = e.max(ne);
                    self.free.remove(&ns);
                }
                _ => break,
            }
        }
        self.free.insert(s, e);
    }

    /// Removes [s, e) from the free set, splitting ranges as needed.
    fn remove_range(&mut self, s: u64, e: u64) {
        let hit: Vec<(u64, u64)> = self
            .free
            .range(..e)
            .filter(|(&fs, &fe)| fe > s && fs < e)
            .map(|(&fs, &fe)| (fs, fe))
            .collect();
        for (fs, fe) in hit {
            self.free.remove(&fs);
            if fs < s {
                self.free.insert(fs, s);
            }
            if fe > e {
                self.free.insert(e, fe);
            }
        }
    }
}

fn round_up(v: u64, align: u64) -> Option<u64> {
    Some(v.checked_add(align - 1)? & !(align - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    fn overlaps_msi(a: u64, len: u64) -> bool {
        a <= MSI_WINDOW.1 && a + len > MSI_WINDOW.0
    }

    #[test]
    fn first_fit_page_granular() {
        let mut a = IovaAllocator::with_default_range();
        assert_eq!(a.alloc(1, 1).unwrap(), GIB);
        assert_eq!(a.alloc(4096, 4096).unwrap(), GIB + 4096);
        assert_eq!(a.alloc(4097, 1).unwrap(), GIB + 8192);
        assert_eq!(a.alloc(100, 1).unwrap(), GIB + 16384);
        assert_eq!(a.reserved_len(4097).unwrap(), 8192);
    }

    #[test]
    fn alignment() {
        let mut a = IovaAllocator::with_default_range();
        a.alloc(4096, 1).unwrap();
        let x = a.alloc(4096, 64 * 1024).unwrap();
        assert_eq!(x % (64 * 1024), 0);
        assert_eq!(x, GIB + 64 * 1024);
        // The gap left before the aligned block is still used first fit.
        assert_eq!(a.alloc(4096, 1).unwrap(), GIB + 4096);
        // Large mappings are 2 MiB aligned.
        let big = a.alloc(2 * MIB, 1).unwrap();
        assert_eq!(big % (2 * MIB), 0);
        assert_eq!(a.alloc(4096, 3), Err(IovaError::BadAlign(3)));
        assert_eq!(a.alloc(0, 1), Err(IovaError::BadLength(0)));
        assert!(matches!(a.alloc(u64::MAX, 1), Err(IovaError::BadLength(_))));
    }

    #[test]
    fn exhaustion_then_free_and_reuse() {
        let mut a = IovaAllocator::new(&[(0x10000, 0x13fff)], 4096);
        assert_eq!(a.free_bytes(), 0x4000);
        let p: Vec<u64> = (0..4).map(|_| a.alloc(4096, 1).unwrap()).collect();
        assert_eq!(p, vec![0x10000, 0x11000, 0x12000, 0x13000]);
        assert_eq!(a.alloc(1, 1), Err(IovaError::Exhausted { len: 4096, free: 0 }));
        a.free(0x11000, 4096).unwrap();
        a.free(0x12000, 10).unwrap();
        // Freed neighbours coalesce: an 8 KiB request fits again.
        assert_eq!(a.alloc(8192, 1).unwrap(), 0x11000);
        a.free(0x10000, 4096).unwrap();
        a.free(0x13000, 4096).unwrap();
        a.free(0x11000, 8192).unwrap();
        assert_eq!(a.free_ranges().collect::<Vec<_>>(), vec![(0x10000, 0x14000)]);
        assert_eq!(a.alloc(0x4000, 1).unwrap(), 0x10000);
    }

    #[test]
    fn double_free_and_wild_free_are_refused() {
        let mut a = IovaAllocator::new(&[(0x10000, 0x1ffff)], 4096);
        let x = a.alloc(8192, 1).unwrap();
        a.free(x, 8192).unwrap();
        assert!(matches!(a.free(x, 8192), Err(IovaError::NotAllocated { .. })));
        let y = a.alloc(4096, 1).unwrap();
        // Partly free: refused, nothing changes.
        let before: Vec<_> = a.free_ranges().collect();
        assert!(a.free(y, 8192).is_err());
        assert!(a.free(y + 1, 4096).is_err());
        assert!(a.free(u64::MAX - 4095, 4096).is_err());
        assert_eq!(before, a.free_ranges().collect::<Vec<_>>());
        a.free(y, 4096).unwrap();
    }

    #[test]
    fn msi_window_is_never_handed_out() {
        // A range straddling the window: [0xfed0_0000, 0xff00_0000).
        let mut a = IovaAllocator::new(&[(0xfed0_0000, 0xfeff_ffff)], 4096);
        assert_eq!(a.free_bytes(), 2 * MIB);
        let mut got = Vec::new();
        while let Ok(x) = a.alloc(64 * 1024, 1) {
            assert!(!overlaps_msi(x, 64 * 1024), "{x:#x}");
            got.push(x);
        }
        assert_eq!(got.len(), 32);
        // A block larger than the piece below the window goes above it.
        let mut a = IovaAllocator::new(&[(0xfed0_0000, 0xfeff_ffff)], 4096);
        assert_eq!(
            a.alloc(MIB + 4096, 1),
            Err(IovaError::Exhausted {
                len: MIB + 4096,
                free: 2 * MIB
            })
        );
        assert_eq!(a.alloc(MIB, 1).unwrap(), 0xfed0_0000);
        assert_eq!(a.alloc(MIB, 1).unwrap(), 0xfef0_0000);
        // The default range contains the window too.
        let d = IovaAllocator::with_default_range();
        assert_eq!(d.free_bytes(), 64 * GIB - MIB);
        assert!(d.free_ranges().all(|(s, e)| !overlaps_msi(s, e - s)));
    }

    #[test]
    fn big_allocations_skip_the_window() {
        let mut a = IovaAllocator::with_default_range();
        let v: Vec<u64> = (0..3).map(|_| a.alloc(GIB, 1).unwrap()).collect();
        // The third GiB below 4 GiB holds the MSI window, so the third block goes above it
        // (2 MiB aligned).
        assert_eq!(v, vec![GIB, 2 * GIB, 0xff00_0000]);
        assert!(v.iter().all(|&x| !overlaps_msi(x, GIB)));
        // Small blocks still fill the space below the window first.
        assert_eq!(a.alloc(4096, 1).unwrap(), 3 * GIB);
    }

    #[test]
    fn reported_ranges_are_trimmed_and_merged() {
        let a = IovaAllocator::new(&[(0, 0xfff), (0x1001, 0x3000), (0x2000, 0x5fff), (9, 3)], 4096);
        // Page 0 dropped, 0x1001 rounded up to 0x2000, 0x3000 (inclusive) rounded down; merged.
        assert_eq!(a.free_ranges().collect::<Vec<_>>(), vec![(0x2000, 0x6000)]);
        let a = IovaAllocator::new(&[(0, u64::MAX)], 4096);
        assert_eq!(
            a.free_ranges().collect::<Vec<_>>(),
            vec![(0x1000, 0xfee0_0000), (0xfef0_0000, 0xffff_ffff_ffff_f000)]
        );
        let a = IovaAllocator::new(&[(0x10000, 0x1ffff)], 3);
        assert_eq!(a.page(), 4096);
    }
}
