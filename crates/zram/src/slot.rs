//! One 4 KiB slot of the device and what it can hold (the kernel's table entry and flags).

use std::time::Instant;

use idxd_zsmalloc::Handle;

/// Contents of a slot.
#[derive(Debug, Default)]
pub(crate) enum Data {
    /// Never written or freed: reads as zeros.
    #[default]
    Empty,
    /// ZRAM_SAME: every `u64` word of the page equals this value; no memory allocated.
    Same(u64),
    /// In the pool (`len` bytes behind `handle`): compressed with algorithm `prio` (0 primary,
    /// 1 to 3 secondary), or the page itself when `huge` (ZRAM_HUGE).
    Pool {
        handle: Handle,
        len: u32,
        prio: u8,
        huge: bool,
    },
    /// ZRAM_WB: on the backing file at `block`; `comp` is (length, priority) when the block
    /// holds compressed bytes (`writeback_compressed`).
    Backing { block: u64, comp: Option<(u32, u8)> },
}

/// A slot with its flags.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub data: Data,
    /// ZRAM_IDLE.
    pub idle: bool,
    /// ZRAM_INCOMPRESSIBLE: no secondary algorithm shrank it; never tried again.
    pub incompressible: bool,
    /// Last access (read or write).
    pub ac_time: Option<Instant>,
}

impl Slot {
    pub fn allocated(&self) -> bool {
        !matches!(self.data, Data::Empty)
    }

    pub fn is_same(&self) -> bool {
        matches!(self.data, Data::Same(_))
    }

    pub fn is_wb(&self) -> bool {
        matches!(self.data, Data::Backing { .. })
    }

    /// Held in the pool (compressed or huge).
    pub fn in_pool(&self) -> bool {
        matches!(self.data, Data::Pool { .. })
    }

    pub fn is_huge(&self) -> bool {
        matches!(self.data, Data::Pool { huge: true, .. })
    }

    /// Stored size as the kernel's obj_size (a page for huge, 0 when not in the pool).
    pub fn obj_size(&self) -> usize {
        match &self.data {
            Data::Pool { len, .. } => *len as usize,
            _ => 0,
        }
    }

    pub fn priority(&self) -> u8 {
        match &self.data {
            Data::Pool { prio, .. } => *prio,
            _ => 0,
        }
    }

    /// zram_accessed: a read or write clears ZRAM_IDLE and stamps the access time.
    pub fn accessed(&mut self) {
        self.idle = false;
        self.ac_time = Some(Instant::now());
    }
}

/// The value of a same-filled page (all `u64` words equal), if it is one.
pub(crate) fn same_filled(page: &[u8]) -> Option<u64> {
    let mut words = page.chunks_exact(8).map(|c| {
        let mut b = [0u8; 8];
        b.copy_from_slice(c);
        u64::from_ne_bytes(b)
    });
    let first = words.next()?;
    words.all(|w| w == first).then_some(first)
}

/// Fills a page with a same-filled value.
pub(crate) fn fill(page: &mut [u8], value: u64) {
    let b = value.to_ne_bytes();
    for c in page.chunks_exact_mut(8) {
        c.copy_from_slice(&b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_filled_detection() {
        let mut p = vec![0u8; 4096];
        assert_eq!(same_filled(&p), Some(0));
        fill(&mut p, 0x0102_0304_0506_0708);
        assert_eq!(same_filled(&p), Some(0x0102_0304_0506_0708));
        p[4095] ^= 1;
        assert_eq!(same_filled(&p), None);
        let q = vec![0xabu8; 4096];
        assert_eq!(same_filled(&q), Some(u64::from_ne_bytes([0xab; 8])));
    }
}
