//! A model of zsmalloc's accounting: size classes, zspages, fullness, compaction.
//!
//! The data itself lives with the caller (one boxed slice per object); this model decides how
//! many whole pages the kernel's allocator would hold for the same objects, which is what
//! `pool_total_size` (zswap) and `mem_used_total` (zram) report. It follows zsmalloc:
//!
//! - classes every [`ZS_SIZE_CLASS_DELTA`] bytes from [`ZS_MIN_ALLOC_SIZE`] to [`PAGE_SIZE`];
//! - [`ZS_HANDLE_SIZE`] bytes are added to every request before the class lookup;
//! - a class's zspage chains 1 to [`ZS_MAX_PAGES_PER_ZSPAGE`] pages, the count that wastes the
//!   least (zsmalloc's `get_pages_per_zspage`);
//! - neighbouring classes with the same pages-per-zspage and objects-per-zspage are merged into
//!   the larger one; classes of one object in one page are "huge";
//! - an allocation goes to the fullest zspage of its class with a free slot, or a new zspage;
//!   a zspage whose last object is freed is returned; compaction moves objects from the least
//!   used zspages into the most used ones and counts the pages it frees.

use std::collections::{BTreeSet, HashMap};

/// The page size the model allocates.
pub const PAGE_SIZE: usize = 4096;
/// Smallest size class.
pub const ZS_MIN_ALLOC_SIZE: usize = 32;
/// Step between size classes (`PAGE_SIZE >> CLASS_BITS`).
pub const ZS_SIZE_CLASS_DELTA: usize = 16;
/// Bytes zs_malloc adds to every request for the object's handle.
pub const ZS_HANDLE_SIZE: usize = 8;
/// Longest zspage chain (`CONFIG_ZSMALLOC_CHAIN_SIZE`, 8 by default since Linux 6.3).
pub const ZS_MAX_PAGES_PER_ZSPAGE: usize = 8;
/// Number of size classes.
pub const ZS_SIZE_CLASSES: usize = (PAGE_SIZE - ZS_MIN_ALLOC_SIZE).div_ceil(ZS_SIZE_CLASS_DELTA) + 1;

/// One (merged) size class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassInfo {
    /// Index of the class after merging (what `zs_lookup_class_index` returns).
    pub index: usize,
    /// Object size of the class in bytes.
    pub size: usize,
    /// Pages chained in one zspage.
    pub pages_per_zspage: usize,
    /// Objects one zspage holds.
    pub objs_per_zspage: usize,
    /// One object per one-page zspage: data stored as is.
    pub huge: bool,
}

fn pages_per_zspage(size: usize) -> usize {
    let mut max_usedpc = 0;
    let mut best = 1;
    for i in 1..=ZS_MAX_PAGES_PER_ZSPAGE {
        let zspage_size = i * PAGE_SIZE;
        let waste = zspage_size % size;
        let usedpc = (zspage_size - waste) * 100 / zspage_size;
        if usedpc > max_usedpc {
            max_usedpc = usedpc;
            best = i;
        }
    }
    best
}

fn size_class_index(size: usize) -> usize {
    let idx = if size > ZS_MIN_ALLOC_SIZE {
        (size - ZS_MIN_ALLOC_SIZE).div_ceil(ZS_SIZE_CLASS_DELTA)
    } else {
        0
    };
    idx.min(ZS_SIZE_CLASSES - 1)
}

/// The class table of a pool.
#[derive(Clone, Debug)]
pub struct SizeClasses {
    /// Per raw index, the merged class it maps to.
    classes: Vec<ClassInfo>,
    huge_class_size: usize,
}

impl Default for SizeClasses {
    fn default() -> Self {
        Self::new()
    }
}

impl SizeClasses {
    /// Builds the table as `zs_create_pool` does (largest class first, merging down).
    pub fn new() -> Self {
        let mut classes = vec![
            ClassInfo {
                index: 0,
                size: 0,
                pages_per_zspage: 0,
                objs_per_zspage: 0,
                huge: false
            };
            ZS_SIZE_CLASSES
        ];
        let mut huge_class_size = 0;
        let mut prev: Option<ClassInfo> = None;
        for i in (0..ZS_SIZE_CLASSES).rev() {
            let size = (ZS_MIN_ALLOC_SIZE + i * ZS_SIZE_CLASS_DELTA).min(PAGE_SIZE);
            let ppz = pages_per_zspage(size);
            let objs = ppz * PAGE_SIZE / size;
            if ppz != 1 && objs != 1 && huge_class_size == 0 {
                huge_class_size = size - (ZS_HANDLE_SIZE - 1);
            }
            if let Some(p) = prev {
                if p.pages_per_zspage == ppz && p.objs_per_zspage == objs {
                    classes[i] = p;
                    continue;
                }
            }
            let c = ClassInfo {
                index: i,
                size,
                pages_per_zspage: ppz,
                objs_per_zspage: objs,
                huge: ppz == 1 && objs == 1,
            };
            classes[i] = c;
            prev = Some(c);
        }
        SizeClasses {
            classes,
            huge_class_size,
        }
    }

    /// The class an allocation of `len` bytes lands in (the handle size added).
    pub fn class_for_alloc(&self, len: usize) -> ClassInfo {
        self.classes[size_class_index(len + ZS_HANDLE_SIZE)]
    }

    /// `zs_lookup_class_index`: the merged class index for an object of `len` bytes, without
    /// the handle size (what zram compares when recompressing).
    pub fn lookup_class_index(&self, len: usize) -> usize {
        self.classes[size_class_index(len)].index
    }

    /// `zs_huge_class_size`: objects of this many bytes or more land in a huge class.
    pub fn huge_class_size(&self) -> usize {
        self.huge_class_size
    }

    /// The distinct classes, smallest first.
    pub fn distinct(&self) -> Vec<ClassInfo> {
        let mut v: Vec<ClassInfo> = Vec::new();
        for c in &self.classes {
            if v.last().map(|l| l.index) != Some(c.index) {
                v.push(*c);
            }
        }
        v
    }
}

/// An allocated object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(u64);

/// Allocation errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Zero bytes or more than a page.
    #[error("invalid allocation size {0}")]
    InvalidSize(usize),
    /// The pool may not grow past its page capacity.
    #[error("pool out of memory")]
    NoMemory,
    /// A handle this pool did not hand out (or already freed).
    #[error("unknown handle")]
    BadHandle,
}

#[derive(Clone, Copy, Debug)]
struct Loc {
    class: usize,
    zspage: u32,
    slot: u32,
}

#[derive(Debug, Default)]
struct Zspage {
    objs: Vec<u64>,
}

#[derive(Debug, Default)]
struct ClassState {
    zspages: Vec<Option<Zspage>>,
    free_ids: Vec<u32>,
    /// (in use, id) of zspages neither empty nor full.
    partial: BTreeSet<(u32, u32)>,
    objs: u64,
}

/// Per-class figures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassStat {
    /// The class.
    pub class: ClassInfo,
    /// Objects allocated.
    pub objs: u64,
    /// Zspages held.
    pub zspages: u64,
}

/// The allocator model.
#[derive(Debug)]
pub struct ZsPool {
    classes: SizeClasses,
    state: Vec<ClassState>,
    handles: HashMap<u64, Loc>,
    next_handle: u64,
    total_pages: u64,
    max_pages: Option<u64>,
    pages_compacted: u64,
}

impl Default for ZsPool {
    fn default() -> Self {
        Self::new(None)
    }
}

impl ZsPool {
    /// A pool that may grow to `max_pages` pages (`None`: unbounded).
    pub fn new(max_pages: Option<u64>) -> Self {
        let mut state = Vec::with_capacity(ZS_SIZE_CLASSES);
        state.resize_with(ZS_SIZE_CLASSES, ClassState::default);
        ZsPool {
            classes: SizeClasses::new(),
            state,
            handles: HashMap::new(),
            next_handle: 1,
            total_pages: 0,
            max_pages,
            pages_compacted: 0,
        }
    }

    /// The class table.
    pub fn classes(&self) -> &SizeClasses {
        &self.classes
    }

    /// Pages held (`zs_get_total_pages`).
    pub fn total_pages(&self) -> u64 {
        self.total_pages
    }

    /// Objects allocated.
    pub fn objects(&self) -> usize {
        self.handles.len()
    }

    /// Pages freed by compaction so far.
    pub fn pages_compacted(&self) -> u64 {
        self.pages_compacted
    }

    /// Allocates an object of `len` bytes.
    pub fn alloc(&mut self, len: usize) -> Result<Handle, PoolError> {
        if len == 0 || len > PAGE_SIZE {
            return Err(PoolError::InvalidSize(len));
        }
        let class = self.classes.class_for_alloc(len);
        let st = &mut self.state[class.index];
        let id = match st.partial.iter().next_back().copied() {
            Some(key) => {
                st.partial.remove(&key);
                key.1
            }
            None => {
                let ppz = class.pages_per_zspage as u64;
                if let Some(max) = self.max_pages {
                    if self.total_pages + ppz > max {
                        return Err(PoolError::NoMemory);
                    }
                }
                self.total_pages += ppz;
                match st.free_ids.pop() {
                    Some(id) => {
                        st.zspages[id as usize] = Some(Zspage::default());
                        id
                    }
                    None => {
                        st.zspages.push(Some(Zspage::default()));
                        (st.zspages.len() - 1) as u32
                    }
                }
            }
        };
        let h = self.next_handle;
        self.next_handle += 1;
        let Some(zs) = st.zspages[id as usize].as_mut() else {
            return Err(PoolError::BadHandle);
        };
        zs.objs.push(h);
        let inuse = zs.objs.len() as u32;
        if (inuse as usize) < class.objs_per_zspage {
            st.partial.insert((inuse, id));
        }
        st.objs += 1;
        self.handles.insert(
            h,
            Loc {
                class: class.index,
                zspage: id,
                slot: inuse - 1,
            },
        );
        Ok(Handle(h))
    }

    /// Frees an object.
    pub fn free(&mut self, handle: Handle) -> Result<(), PoolError> {
        let loc = self.handles.remove(&handle.0).ok_or(PoolError::BadHandle)?;
        let class = self.state_class(loc.class);
        let st = &mut self.state[loc.class];
        let Some(zs) = st.zspages[loc.zspage as usize].as_mut() else {
            return Err(PoolError::BadHandle);
        };
        let before = zs.objs.len() as u32;
        zs.objs.swap_remove(loc.slot as usize);
        if let Some(&moved) = zs.objs.get(loc.slot as usize) {
            if let Some(l) = self.handles.get_mut(&moved) {
                l.slot = loc.slot;
            }
        }
        let after = before - 1;
        st.partial.remove(&(before, loc.zspage));
        st.objs -= 1;
        if after == 0 {
            st.zspages[loc.zspage as usize] = None;
            st.free_ids.push(loc.zspage);
            self.total_pages -= class.pages_per_zspage as u64;
        } else {
            st.partial.insert((after, loc.zspage));
        }
        Ok(())
    }

    fn state_class(&self, index: usize) -> ClassInfo {
        // Every merged index maps to itself in the raw table.
        self.classes.classes[index]
    }

    /// Compacts every class; returns the pages freed by this call.
    pub fn compact(&mut self) -> u64 {
        let mut freed = 0;
        for index in 0..ZS_SIZE_CLASSES {
            let class = self.classes.classes[index];
            if class.index != index {
                continue;
            }
            freed += self.compact_class(class);
        }
        self.pages_compacted += freed;
        freed
    }

    fn compact_class(&mut self, class: ClassInfo) -> u64 {
        let mut freed = 0;
        let st = &mut self.state[class.index];
        while let (Some(&src_key), Some(&dst_key)) = (st.partial.iter().next(), st.partial.iter().next_back())
        {
            if src_key.1 == dst_key.1 {
                break;
            }
            // Only worth it when the free slots add up to a whole zspage.
            let used: u64 = st.partial.iter().map(|k| k.0 as u64).sum();
            let cap = st.partial.len() as u64 * class.objs_per_zspage as u64;
            if cap - used < class.objs_per_zspage as u64 {
                break;
            }
            st.partial.remove(&src_key);
            st.partial.remove(&dst_key);
            let (src_id, dst_id) = (src_key.1 as usize, dst_key.1 as usize);
            let mut moved = Vec::new();
            {
                let Some(mut src) = st.zspages[src_id].take() else {
                    break;
                };
                let Some(dst) = st.zspages[dst_id].as_mut() else {
                    st.zspages[src_id] = Some(src);
                    break;
                };
                while dst.objs.len() < class.objs_per_zspage {
                    let Some(h) = src.objs.pop() else { break };
                    dst.objs.push(h);
                    moved.push((h, (dst.objs.len() - 1) as u32));
                }
                let dst_len = dst.objs.len();
                if dst_len < class.objs_per_zspage {
                    st.partial.insert((dst_len as u32, dst_key.1));
                }
                if src.objs.is_empty() {
                    st.free_ids.push(src_key.1);
                    freed += class.pages_per_zspage as u64;
                } else {
                    st.partial.insert((src.objs.len() as u32, src_key.1));
                    st.zspages[src_id] = Some(src);
                }
            }
            for (h, slot) in moved {
                if let Some(l) = self.handles.get_mut(&h) {
                    l.zspage = dst_key.1;
                    l.slot = slot;
                }
            }
        }
        self.total_pages -= freed;
        freed
    }

    /// Per-class figures for classes that hold objects.
    pub fn class_stats(&self) -> Vec<ClassStat> {
        self.classes
            .distinct()
            .into_iter()
            .filter_map(|c| {
                let st = &self.state[c.index];
                let zspages = st.zspages.iter().filter(|z| z.is_some()).count() as u64;
                (zspages > 0).then_some(ClassStat {
                    class: c,
                    objs: st.objs,
                    zspages,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_table_matches_zsmalloc() {
        let c = SizeClasses::new();
        assert_eq!(ZS_SIZE_CLASSES, 255);
        // 32-byte class: one page, 128 objects.
        let small = c.class_for_alloc(1);
        assert_eq!(
            (small.size, small.pages_per_zspage, small.objs_per_zspage),
            (32, 1, 128)
        );
        // A raw page is huge: one object in one page.
        let raw = c.class_for_alloc(PAGE_SIZE);
        assert!(raw.huge);
        assert_eq!((raw.size, raw.pages_per_zspage), (PAGE_SIZE, 1));
        // The huge threshold: everything at or above it is huge, everything below is not.
        let h = c.huge_class_size();
        assert!(c.class_for_alloc(h).huge);
        assert!(!c.class_for_alloc(h - 1).huge);
        // With 8-page chains the largest non-huge class is 3632 bytes (9 objects in 8 pages):
        // minus the handle, 3625, as zs_huge_class_size() reports.
        assert_eq!(h, 3625);
        assert_eq!(c.distinct().len(), 123);
        // Merged classes share an index and every class wastes less than one object per zspage.
        for ci in c.distinct() {
            let used = ci.objs_per_zspage * ci.size;
            assert!(ci.pages_per_zspage * PAGE_SIZE - used < ci.size);
        }
    }

    #[test]
    fn alloc_free_and_pages() {
        let mut p = ZsPool::new(None);
        let hs: Vec<Handle> = (0..129).map(|_| p.alloc(20).unwrap()).collect();
        assert_eq!(p.total_pages(), 2);
        p.free(hs[128]).unwrap();
        assert_eq!(p.total_pages(), 1);
        assert_eq!(p.free(hs[128]), Err(PoolError::BadHandle));
        for h in &hs[..128] {
            p.free(*h).unwrap();
        }
        assert_eq!(p.total_pages(), 0);
        assert_eq!(p.alloc(0), Err(PoolError::InvalidSize(0)));
        assert_eq!(p.alloc(PAGE_SIZE + 1), Err(PoolError::InvalidSize(PAGE_SIZE + 1)));
    }

    #[test]
    fn capacity_and_compaction() {
        let mut p = ZsPool::new(Some(2));
        let a = p.alloc(4096).unwrap();
        let _b = p.alloc(4096).unwrap();
        assert_eq!(p.alloc(4096), Err(PoolError::NoMemory));
        p.free(a).unwrap();
        assert!(p.alloc(4096).is_ok());

        let mut p = ZsPool::new(None);
        let hs: Vec<Handle> = (0..128 * 4).map(|_| p.alloc(20).unwrap()).collect();
        assert_eq!(p.total_pages(), 4);
        // Free three quarters of every page: 4 pages hold 128 objects, compaction gets 3 back.
        for (i, h) in hs.iter().enumerate() {
            if i % 4 != 0 {
                p.free(*h).unwrap();
            }
        }
        assert_eq!(p.total_pages(), 4);
        assert_eq!(p.compact(), 3);
        assert_eq!(p.total_pages(), 1);
        assert_eq!(p.pages_compacted(), 3);
        for (i, h) in hs.iter().enumerate() {
            if i % 4 == 0 {
                p.free(*h).unwrap();
            }
        }
        assert_eq!(p.total_pages(), 0);
        assert_eq!(p.objects(), 0);
    }
}
