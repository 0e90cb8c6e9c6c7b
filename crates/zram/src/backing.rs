//! The backing device (a file of 4 KiB blocks with its block allocator) and the writeback
//! policy types: which slots a writeback takes, idle marking, the budget.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::time::Duration;

use idxd_zsmalloc::PAGE_SIZE;

use crate::device::lock;
use crate::error::{BackingOp, ZramError};
use crate::slot::Slot;

/// The backing file: block `b` at byte `b * 4096`, blocks handed out and taken back.
#[derive(Debug)]
pub(crate) struct BackingDevice {
    file: File,
    blocks: Mutex<Blocks>,
}

#[derive(Debug)]
struct Blocks {
    free: Vec<u64>,
    next: u64,
    max: u64,
}

impl BackingDevice {
    /// A device over `file` with room for `max_blocks` blocks.
    pub fn new(file: File, max_blocks: u64) -> Self {
        BackingDevice {
            file,
            blocks: Mutex::new(Blocks {
                free: Vec::new(),
                next: 0,
                max: max_blocks,
            }),
        }
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

    /// Gives a block back.
    pub fn release(&self, block: u64) {
        lock(&self.blocks).free.push(block);
    }

    /// Reads block `block` into `page`.
    pub fn read_block(&self, block: u64, page: &mut [u8]) -> Result<(), ZramError> {
        self.file
            .read_exact_at(page, block * PAGE_SIZE as u64)
            .map_err(|source| ZramError::Backing {
                op: BackingOp::Read,
                block,
                source,
            })
    }

    /// Writes one page to a free block; returns the block.
    pub fn write_page(&self, page: &[u8]) -> Result<u64, ZramError> {
        let Some(block) = self.alloc() else {
            return Err(ZramError::BackingFull {
                blocks: lock(&self.blocks).max,
            });
        };
        if let Err(source) = self.file.write_all_at(page, block * PAGE_SIZE as u64) {
            self.release(block);
            return Err(ZramError::Backing {
                op: BackingOp::Write,
                block,
                source,
            });
        }
        Ok(block)
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
    pub(crate) fn takes(&self, s: &Slot) -> bool {
        match self {
            WritebackMode::Idle => s.idle,
            WritebackMode::Huge => s.is_huge(),
            WritebackMode::HugeIdle => s.idle && s.is_huge(),
            WritebackMode::Incompressible => s.incompressible,
            WritebackMode::PageIndex(_) | WritebackMode::PageRange(..) => true,
        }
    }
}
