//! Recompression with secondary algorithms (priorities 1 to 3), as the kernel's
//! `recompress_store` does: pick idle and/or huge slots above a size threshold, try the
//! secondary algorithms in priority order until one lands the page in a smaller size class,
//! and mark the page incompressible when even the last one cannot.

use idxd_runtime::ErrorKind;
use idxd_zsmalloc::{SizeClasses, PAGE_SIZE};

use crate::device::{lock, Zram};
use crate::error::{CodecError, ZramError};
use crate::slot::Data;
use crate::stats::add;

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

impl Zram {
    /// One recompression pass over the device.
    pub fn recompress(&self, params: &RecompressParams) -> Result<RecompressReport, ZramError> {
        if params.threshold > PAGE_SIZE {
            return Err(ZramError::InvalidArgument(format!(
                "threshold {}",
                params.threshold
            )));
        }
        let num_active = self.comps.len();
        let mut prio_start = 1usize;
        let mut prio_max = num_active;
        if let Some(name) = &params.algo {
            let p = (1..num_active)
                .find(|&i| self.comps[i].runtime().algorithm_name() == *name)
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
        let classes = SizeClasses::new();
        let mut report = RecompressReport::default();
        let mut budget = params.max_pages;
        let mut page = vec![0u8; PAGE_SIZE];
        for slot in &self.slots {
            if params.max_pages != 0 && budget == 0 {
                break;
            }
            let mut s = lock(slot);
            let take = match params.mode {
                RecompressMode::All => true,
                RecompressMode::Idle => s.idle,
                RecompressMode::Huge => s.is_huge(),
                RecompressMode::HugeIdle => s.idle && s.is_huge(),
            };
            if !take
                || !matches!(s.data, Data::Pool { .. })
                || s.incompressible
                || s.priority() as usize >= prio_max
            {
                continue;
            }
            let old_len = s.obj_size();
            if old_len < params.threshold {
                continue;
            }
            self.read_slot(&s, &mut page)?;
            s.idle = false;
            report.tried += 1;
            let class_old = classes.lookup_class_index(old_len);
            let mut prio = prio_start.max(s.priority() as usize + 1);
            let mut found: Option<(Box<[u8]>, usize)> = None;
            let mut failed: Option<ZramError> = None;
            let mut buf = vec![0u8; PAGE_SIZE];
            while prio < prio_max {
                let r = self.comps[prio].get().compress(&[&page[..]], &mut [&mut buf[..]]);
                match r.into_iter().next() {
                    Some(Ok(len))
                        if len > 0
                            && classes.lookup_class_index(len) < class_old
                            && (params.threshold == 0 || len < params.threshold) =>
                    {
                        found = Some((buf[..len].into(), prio));
                        break;
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) if e.kind == ErrorKind::DoesNotFit => {}
                    Some(Err(e)) => {
                        failed = Some(ZramError::Compress {
                            prio,
                            source: CodecError::Runtime(e),
                        });
                        break;
                    }
                    None => {
                        failed = Some(ZramError::Compress {
                            prio,
                            source: CodecError::NoResult,
                        });
                        break;
                    }
                }
                prio += 1;
            }
            budget = budget.saturating_sub(1);
            if let Some(e) = failed {
                return Err(e);
            }
            match found {
                None => {
                    if prio >= num_active {
                        s.incompressible = true;
                        report.marked_incompressible += 1;
                    }
                }
                Some((data, prio)) => {
                    let handle = lock(&self.pool).store(&data).map_err(|_| ZramError::NoMemory)?;
                    self.free_slot(&mut s);
                    add(&self.counters.compr_data_size, data.len() as u64);
                    add(&self.counters.pages_stored, 1);
                    s.data = Data::Pool {
                        len: data.len() as u32,
                        handle,
                        prio: prio as u8,
                        huge: false,
                    };
                    report.recompressed += 1;
                }
            }
        }
        Ok(report)
    }

    /// Number of slots held by each algorithm priority (0 primary) in the pool.
    pub fn priority_histogram(&self) -> Vec<u64> {
        let mut h = vec![0u64; self.comps.len()];
        for slot in &self.slots {
            let s = lock(slot);
            if matches!(s.data, Data::Pool { huge: false, .. }) {
                if let Some(x) = h.get_mut(s.priority() as usize) {
                    *x += 1;
                }
            }
        }
        h
    }
}
