//! The size-class table: classes every [`ZS_SIZE_CLASS_DELTA`] bytes, the pages per zspage
//! that waste the least, merging of neighbours with the same shape, the huge class threshold.

use crate::{
    PAGE_SIZE, ZS_HANDLE_SIZE, ZS_MAX_PAGES_PER_ZSPAGE, ZS_MIN_ALLOC_SIZE, ZS_SIZE_CLASSES,
    ZS_SIZE_CLASS_DELTA,
};

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

    /// The class at raw index `index` (a merged class's own index maps to itself).
    pub(crate) fn by_index(&self, index: usize) -> ClassInfo {
        self.classes[index]
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
}
