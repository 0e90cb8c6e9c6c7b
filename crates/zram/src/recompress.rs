//! Recompression with secondary algorithms (priorities 1 to 3), as the kernel's
//! `recompress_store` does: pick idle and/or huge slots above a size threshold, try the
//! secondary algorithms in priority order until one lands the page in a smaller size class,
//! and mark the page incompressible when even the last one cannot.
//!
//! A crate-private `Recompressor` runs one pass ([`Zram::recompress`]) through a few device
//! methods: it walks the slots (`Zram::lock_slots`), reads a page (`Zram::read_slot`),
//! compresses it (`Zram::compress_page`) and swaps the smaller object in
//! (`Zram::store_recompressed`).

use idxd_zsmalloc::{SizeClasses, PAGE_SIZE};

use crate::device::Zram;
use crate::error::ZramError;
use crate::slot::Slot;

/// Which slots to recompress (`type=`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RecompressMode {
    /// No `type=`: every slot in the pool.
    #[default]
    All,
    /// `type=idle`.
    Idle,
    /// `type=huge`.
    Huge,
    /// `type=huge_idle`.
    HugeIdle,
}

/// Parameters of one recompression pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecompressParams {
    /// Slot selection.
    pub mode: RecompressMode,
    /// `threshold=`: only objects of at least this many bytes, and only results below it
    /// (0: none).
    pub threshold: usize,
    /// `max_pages=`: at most this many pages tried (0: no limit).
    pub max_pages: u64,
    /// `priority=`: only this secondary algorithm (1 to 3).
    pub priority: Option<u8>,
    /// `algo=`: only the secondary algorithm of this name.
    pub algo: Option<String>,
}

impl std::str::FromStr for RecompressParams {
    type Err = ZramError;
    /// The kernel's syntax: space-separated `type=`, `threshold=`, `max_pages=`, `priority=`,
    /// `algo=`.
    fn from_str(s: &str) -> Result<Self, ZramError> {
        let mut p = RecompressParams::default();
        for kv in s.split_whitespace() {
            let bad = || ZramError::InvalidArgument(format!("recompress parameter {kv:?}"));
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            match k {
                "type" => {
                    p.mode = match v {
                        "idle" => RecompressMode::Idle,
                        "huge" => RecompressMode::Huge,
                        "huge_idle" => RecompressMode::HugeIdle,
                        _ => return Err(bad()),
                    }
                }
                "threshold" => p.threshold = v.parse().map_err(|_| bad())?,
                "max_pages" => p.max_pages = v.parse().map_err(|_| bad())?,
                "priority" => p.priority = Some(v.parse().map_err(|_| bad())?),
                "algo" => p.algo = Some(v.to_string()),
                _ => return Err(bad()),
            }
        }
        Ok(p)
    }
}

/// What a pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecompressReport {
    /// Slots that were tried.
    pub tried: u64,
    /// Slots now held by a secondary algorithm in a smaller class.
    pub recompressed: u64,
    /// Slots marked incompressible by this pass.
    pub marked_incompressible: u64,
}

/// One recompression pass: the parameters checked and resolved against the device's
/// algorithms (the priorities `prio_start..prio_max` to try).
pub(crate) struct Recompressor<'a> {
    zram: &'a Zram,
    params: &'a RecompressParams,
    /// Number of algorithms, the primary one included.
    num_active: usize,
    prio_start: usize,
    prio_max: usize,
    classes: SizeClasses,
}

impl<'a> Recompressor<'a> {
    /// Checks `params` against `zram`'s algorithms.
    pub(crate) fn new(zram: &'a Zram, params: &'a RecompressParams) -> Result<Self, ZramError> {
        if params.threshold > PAGE_SIZE {
            return Err(ZramError::InvalidArgument(format!(
                "threshold {}",
                params.threshold
            )));
        }
        let num_active = zram.algorithm_count();
        let mut prio_start = 1usize;
        let mut prio_max = num_active;
        if let Some(name) = &params.algo {
            let p = (1..num_active)
                .find(|&i| zram.runtime(i).is_some_and(|r| r.algorithm_name() == *name))
                .ok_or_else(|| ZramError::InvalidArgument(format!("no secondary algorithm {name}")))?;
            prio_start = p;
            prio_max = p + 1;
        }
        if let Some(p) = params.priority {
            prio_start = p as usize;
            prio_max = prio_start + 1;
        }
        prio_max = prio_max.min(num_active);
        if prio_start == 0 || prio_start >= prio_max {
            return Err(ZramError::InvalidArgument("no secondary algorithm to use".into()));
        }
        Ok(Recompressor {
            zram,
            params,
            num_active,
            prio_start,
            prio_max,
            classes: SizeClasses::new(),
        })
    }

    /// Runs the pass over every slot, in index order, until `max_pages` were tried.
    pub(crate) fn run(&self) -> Result<RecompressReport, ZramError> {
        let mut report = RecompressReport::default();
        let mut budget = self.params.max_pages;
        let mut page = vec![0u8; PAGE_SIZE];
        let mut buf = vec![0u8; PAGE_SIZE];
        for mut s in self.zram.lock_slots() {
            if !self.selects(&s) {
                continue;
            }
            self.zram.read_slot(&s, &mut page)?;
            s.idle = false;
            report.tried += 1;
            let found = self.try_secondaries(&page, s.obj_size(), s.priority(), &mut buf)?;
            match found {
                // Every algorithm up to the last one failed to shrink it.
                None if self.prio_max >= self.num_active => {
                    s.incompressible = true;
                    report.marked_incompressible += 1;
                }
                None => {}
                Some((len, prio)) => {
                    self.zram.store_recompressed(&mut s, &buf[..len], prio)?;
                    report.recompressed += 1;
                }
            }
            budget = budget.saturating_sub(1);
            if self.params.max_pages != 0 && budget == 0 {
                break;
            }
        }
        Ok(report)
    }

    /// Whether the pass takes this slot: selected by the mode, in the pool, not marked
    /// incompressible, held by an algorithm below the ones to try, at least `threshold` bytes.
    fn selects(&self, s: &Slot) -> bool {
        let take = match self.params.mode {
            RecompressMode::All => true,
            RecompressMode::Idle => s.idle,
            RecompressMode::Huge => s.is_huge(),
            RecompressMode::HugeIdle => s.idle && s.is_huge(),
        };
        take && s.in_pool()
            && !s.incompressible
            && (s.priority() as usize) < self.prio_max
            && s.obj_size() >= self.params.threshold
    }

    /// Tries the secondary algorithms above `cur_prio` in priority order on `page` (stored now
    /// in `old_len` bytes); the first result in a smaller size class (and below `threshold`,
    /// when set) is left in `buf`: its length and priority.
    fn try_secondaries(
        &self,
        page: &[u8],
        old_len: usize,
        cur_prio: u8,
        buf: &mut [u8],
    ) -> Result<Option<(usize, u8)>, ZramError> {
        let class_old = self.classes.lookup_class_index(old_len);
        let threshold = self.params.threshold;
        for prio in self.prio_start.max(cur_prio as usize + 1)..self.prio_max {
            match self.zram.compress_page(prio, page, buf)? {
                Some(len)
                    if len > 0
                        && self.classes.lookup_class_index(len) < class_old
                        && (threshold == 0 || len < threshold) =>
                {
                    return Ok(Some((len, prio as u8)));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

/// Number of slots held by each algorithm priority (0 primary) in the pool (huge pages,
/// stored raw, are not counted).
pub(crate) fn priority_histogram(zram: &Zram) -> Vec<u64> {
    let mut h = vec![0u64; zram.algorithm_count()];
    for s in zram.lock_slots() {
        if s.in_pool() && !s.is_huge() {
            if let Some(x) = h.get_mut(s.priority() as usize) {
                *x += 1;
            }
        }
    }
    h
}
