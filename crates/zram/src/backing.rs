//! The backing device: writeback of idle, huge or incompressible pages (or one page by index)
//! under a budget, idle marking, and the block allocator of the backing file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use idxd_zswap::zsmalloc::PAGE_SIZE;

use crate::device::{lock, Zram};
use crate::error::ZramError;
use crate::slot::{Data, Slot};
use crate::stats::add;

/// The backing file: block `b` at byte `b * 4096`.
#[derive(Debug)]
pub(crate) struct Backing {
    file: File,
    blocks: Mutex<Blocks>,
}

#[derive(Debug)]
struct Blocks {
    free: Vec<u64>,
    next: u64,
    max: u64,
}

impl Backing {
    pub fn new(file: File, max_blocks: u64) -> io::Result<Self> {
        Ok(Backing {
            file,
            blocks: Mutex::new(Blocks {
                free: Vec::new(),
                next: 0,
                max: max_blocks,
            }),
        })
    }

    fn alloc(&self) -> Option<u64> {
        let mut b = lock(&self.blocks);
        if let Some(x) = b.free.pop() {
            return Some(x);
        }
        (b.next < b.max).then(|| {
            b.next += 1;
            b.next - 1
        })
    }

    pub fn release(&self, block: u64) {
        lock(&self.blocks).free.push(block);
    }

    pub fn read_block(&self, block: u64, page: &mut [u8]) -> Result<(), ZramError> {
        Ok(self.file.read_exact_at(page, block * PAGE_SIZE as u64)?)
    }

    fn write_block(&self, block: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, block * PAGE_SIZE as u64)
    }
}

/// The writeback budget (`writeback_limit_enable`, `writeback_limit` in 4 KiB pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WbLimit {
    /// Whether the budget applies.
    pub enabled: bool,
    /// Pages that may still be written.
    pub pages: u64,
}

/// Which slots `writeback` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WritebackMode {
    /// `idle`: slots marked idle.
    Idle,
    /// `huge`: incompressible pages stored raw.
    Huge,
    /// `huge_idle`: both.
    HugeIdle,
    /// `incompressible`: slots no secondary algorithm could shrink.
    Incompressible,
    /// `page_index=N`: that slot, whatever its flags.
    PageIndex(u64),
    /// `page_indexes=A-B`: slots A to B inclusive, whatever their flags.
    PageRange(u64, u64),
}

impl std::str::FromStr for WritebackMode {
    type Err = ZramError;
    /// The kernel's syntax: `idle`, `huge`, `huge_idle`, `incompressible`, `page_index=N`,
    /// `page_indexes=A-B`.
    fn from_str(s: &str) -> Result<Self, ZramError> {
        let bad = || ZramError::InvalidArgument(format!("writeback mode {s:?}"));
        Ok(match s.trim() {
            "idle" => WritebackMode::Idle,
            "huge" => WritebackMode::Huge,
            "huge_idle" => WritebackMode::HugeIdle,
            "incompressible" => WritebackMode::Incompressible,
            t => {
                if let Some(n) = t.strip_prefix("page_index=") {
                    WritebackMode::PageIndex(n.parse().map_err(|_| bad())?)
                } else if let Some(r) = t.strip_prefix("page_indexes=") {
                    let (a, b) = r.split_once('-').ok_or_else(bad)?;
                    WritebackMode::PageRange(a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)
                } else {
                    return Err(bad());
                }
            }
        })
    }
}

/// Which slots `mark_idle` marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleMark {
    /// `echo all > idle`.
    All,
    /// `echo N > idle`: slots not accessed for at least this long (others lose the mark).
    OlderThan(Duration),
}

impl WritebackMode {
    fn takes(&self, s: &Slot) -> bool {
        match self {
            WritebackMode::Idle => s.idle,
            WritebackMode::Huge => s.is_huge(),
            WritebackMode::HugeIdle => s.idle && s.is_huge(),
            WritebackMode::Incompressible => s.incompressible,
            WritebackMode::PageIndex(_) | WritebackMode::PageRange(..) => true,
        }
    }
}

impl Zram {
    /// Marks slots idle (allocated ones, not same-filled, not on the backing device).
    pub fn mark_idle(&self, mark: IdleMark) {
        let cutoff = match mark {
            IdleMark::All => None,
            IdleMark::OlderThan(age) => Some(Instant::now().checked_sub(age)),
        };
        for slot in &self.slots {
            let mut s = lock(slot);
            if !s.allocated() || s.is_wb() || s.is_same() {
                continue;
            }
            s.idle = match cutoff {
                None => true,
                // An age longer than the clock's past: nothing is that old.
                Some(None) => false,
                Some(Some(c)) => s.ac_time.is_none_or(|t| t <= c),
            };
        }
    }

    /// Slots marked idle now.
    pub fn idle_pages(&self) -> u64 {
        self.slots.iter().filter(|s| lock(s).idle).count() as u64
    }

    /// Sets `writeback_limit_enable`.
    pub fn set_writeback_limit_enable(&self, on: bool) {
        lock(&self.wb_limit).enabled = on;
    }

    /// Sets `writeback_limit` (pages).
    pub fn set_writeback_limit(&self, pages: u64) {
        lock(&self.wb_limit).pages = pages;
    }

    /// The writeback budget.
    pub fn writeback_limit(&self) -> WbLimit {
        *lock(&self.wb_limit)
    }

    /// Writes the selected slots to the backing file and frees their memory; returns the pages
    /// written. The budget running out is `WritebackLimit` (what was written stays written).
    pub fn writeback(&self, mode: WritebackMode) -> Result<u64, ZramError> {
        let backing = self.backing.as_ref().ok_or(ZramError::NoBackingDevice)?;
        let nr = self.slots.len() as u64;
        let (first, last) = match mode {
            WritebackMode::PageIndex(i) => (i, i),
            WritebackMode::PageRange(a, b) => (a, b),
            _ => (0, nr.saturating_sub(1)),
        };
        if nr == 0 || first > last || last >= nr {
            return Err(ZramError::InvalidArgument(format!(
                "page index {first}-{last} past {nr} slots"
            )));
        }
        let mut written = 0;
        let mut page = vec![0u8; PAGE_SIZE];
        for index in first..=last {
            let mut s = lock(&self.slots[index as usize]);
            if !s.allocated() || s.is_wb() || s.is_same() || !mode.takes(&s) {
                continue;
            }
            {
                let mut lim = lock(&self.wb_limit);
                if lim.enabled {
                    if lim.pages == 0 {
                        return Err(ZramError::WritebackLimit { written });
                    }
                    lim.pages -= 1;
                }
            }
            let comp = match &s.data {
                Data::Pool {
                    data,
                    prio,
                    huge: false,
                    ..
                } if self.writeback_compressed => {
                    page.fill(0);
                    page[..data.len()].copy_from_slice(data);
                    Some((data.len() as u32, *prio))
                }
                _ => {
                    if let Err(e) = self.read_slot(&s, &mut page) {
                        self.refund();
                        return Err(e);
                    }
                    None
                }
            };
            let Some(block) = backing.alloc() else {
                self.refund();
                return Err(ZramError::Io("backing device full".into()));
            };
            if let Err(e) = backing.write_block(block, &page) {
                backing.release(block);
                self.refund();
                return Err(e.into());
            }
            self.free_slot(&mut s);
            s.data = Data::Backing { block, comp };
            let c = &self.counters;
            add(&c.pages_stored, 1);
            add(&c.bd_count, 1);
            add(&c.bd_writes, 1);
            written += 1;
        }
        Ok(written)
    }

    fn refund(&self) {
        let mut lim = lock(&self.wb_limit);
        if lim.enabled {
            lim.pages += 1;
        }
    }
}
