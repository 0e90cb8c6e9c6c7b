//! The pool: per-class zspages, the handle table, allocation, reads and writes through the
//! zspages' memory, freeing and compaction.

use std::collections::BTreeSet;

use crate::class::{ClassInfo, SizeClasses};
use crate::zspage::Zspage;
use crate::{PAGE_SIZE, ZS_HANDLE_SIZE, ZS_SIZE_CLASSES};

/// An allocated object: an entry of the pool's indirection table (index and generation, so a
/// handle freed and reused is not mistaken for its successor).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Handle(u64);

impl Handle {
    fn new(index: u32, generation: u32) -> Self {
        Handle((u64::from(generation) << 32) | u64::from(index))
    }

    fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }

    fn generation(self) -> u32 {
        (self.0 >> 32) as u32
    }
}

/// Errors of the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// Zero bytes or more than a page.
    #[error("invalid allocation size {0}")]
    InvalidSize(usize),
    /// The pool may not grow past its page capacity, or the system allocator refused a page.
    #[error("pool out of memory")]
    NoMemory,
    /// A handle this pool did not hand out (or already freed).
    #[error("unknown handle")]
    BadHandle,
    /// A write whose length is not the object's.
    #[error("write of {given} bytes to an object of {len} bytes")]
    LengthMismatch {
        /// The object's length.
        len: usize,
        /// The length written.
        given: usize,
    },
    /// A read into a buffer shorter than the object.
    #[error("buffer of {given} bytes for an object of {len} bytes")]
    BufferTooSmall {
        /// The object's length.
        len: usize,
        /// The buffer's length.
        given: usize,
    },
}

/// Where a handle's object is (zsmalloc's `obj`: zspage and object index), and its length.
#[derive(Clone, Copy, Debug)]
struct Loc {
    class: u16,
    zspage: u32,
    obj: u32,
    len: u16,
}

#[derive(Debug, Default)]
struct TableEntry {
    generation: u32,
    loc: Option<Loc>,
}

#[derive(Debug, Default)]
struct ClassState {
    zspages: Vec<Option<Zspage>>,
    free_ids: Vec<u32>,
    /// (in use, id) of zspages neither empty nor full.
    partial: BTreeSet<(u32, u32)>,
    objs: u64,
    /// Zspages held.
    live: u64,
}

impl ClassState {
    /// Files zspage `id` under its new use count.
    fn refile(&mut self, id: u32, before: u32, after: u32, capacity: u32) {
        self.partial.remove(&(before, id));
        if after > 0 && after < capacity {
            self.partial.insert((after, id));
        }
    }
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

/// The allocator.
#[derive(Debug)]
pub struct ZsPool {
    classes: SizeClasses,
    state: Vec<ClassState>,
    table: Vec<TableEntry>,
    free_handles: Vec<u32>,
    objects: usize,
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
            table: Vec::new(),
            free_handles: Vec::new(),
            objects: 0,
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

    /// Pages held, counted by walking every zspage's page chain (what [`Self::total_pages`]
    /// keeps as a running figure).
    pub fn pages_held(&self) -> u64 {
        self.state
            .iter()
            .flat_map(|st| st.zspages.iter().flatten())
            .map(|z| z.page_count() as u64)
            .sum()
    }

    /// Objects allocated.
    pub fn objects(&self) -> usize {
        self.objects
    }

    /// Pages freed by compaction so far.
    pub fn pages_compacted(&self) -> u64 {
        self.pages_compacted
    }

    fn loc(&self, handle: Handle) -> Result<Loc, PoolError> {
        self.table
            .get(handle.index())
            .filter(|e| e.generation == handle.generation())
            .and_then(|e| e.loc)
            .ok_or(PoolError::BadHandle)
    }

    fn zspage(&self, loc: Loc) -> Result<&Zspage, PoolError> {
        self.state[loc.class as usize].zspages[loc.zspage as usize]
            .as_ref()
            .ok_or(PoolError::BadHandle)
    }

    fn zspage_mut(&mut self, loc: Loc) -> Result<&mut Zspage, PoolError> {
        self.state[loc.class as usize].zspages[loc.zspage as usize]
            .as_mut()
            .ok_or(PoolError::BadHandle)
    }

    /// A free table index (the handle is not valid until its entry gets a location).
    fn take_table_index(&mut self) -> Result<u32, PoolError> {
        if let Some(i) = self.free_handles.pop() {
            return Ok(i);
        }
        let i = u32::try_from(self.table.len()).map_err(|_| PoolError::NoMemory)?;
        self.table.try_reserve(1).map_err(|_| PoolError::NoMemory)?;
        self.table.push(TableEntry::default());
        Ok(i)
    }

    /// Allocates an object of `len` bytes (its contents are unspecified until written).
    pub fn alloc(&mut self, len: usize) -> Result<Handle, PoolError> {
        if len == 0 || len > PAGE_SIZE {
            return Err(PoolError::InvalidSize(len));
        }
        let class = self.classes.class_for_alloc(len);
        let capacity = class.objs_per_zspage as u32;
        // Pick the zspage first (it may fail) and the table index after.
        let fullest = self.state[class.index].partial.iter().next_back().copied();
        let id = match fullest {
            Some((_, id)) => id,
            None => {
                let ppz = class.pages_per_zspage as u64;
                if let Some(max) = self.max_pages {
                    if self.total_pages + ppz > max {
                        return Err(PoolError::NoMemory);
                    }
                }
                let zs = Zspage::new(
                    class.pages_per_zspage,
                    class.size,
                    class.objs_per_zspage,
                    class.huge,
                )
                .ok_or(PoolError::NoMemory)?;
                let st = &mut self.state[class.index];
                let id = match st.free_ids.pop() {
                    Some(id) => {
                        st.zspages[id as usize] = Some(zs);
                        id
                    }
                    None => {
                        st.zspages.push(Some(zs));
                        (st.zspages.len() - 1) as u32
                    }
                };
                st.live += 1;
                self.total_pages += ppz;
                id
            }
        };
        let index = match self.take_table_index() {
            Ok(i) => i,
            Err(e) => {
                self.release_if_empty(class, id);
                return Err(e);
            }
        };
        let st = &mut self.state[class.index];
        let placed = st.zspages[id as usize].as_mut().and_then(|z| {
            let before = z.inuse();
            z.alloc(index).map(|obj| (obj, before, z.inuse()))
        });
        let Some((obj, before, after)) = placed else {
            // A partial or fresh zspage always has a free object.
            self.free_handles.push(index);
            self.release_if_empty(class, id);
            return Err(PoolError::NoMemory);
        };
        st.refile(id, before, after, capacity);
        st.objs += 1;
        self.objects += 1;
        let entry = &mut self.table[index as usize];
        entry.loc = Some(Loc {
            class: class.index as u16,
            zspage: id,
            obj,
            len: len as u16,
        });
        Ok(Handle::new(index, entry.generation))
    }

    /// Gives a zspage with no objects back (after a failed allocation).
    fn release_if_empty(&mut self, class: ClassInfo, id: u32) {
        let st = &mut self.state[class.index];
        if st.zspages[id as usize].as_ref().is_some_and(|z| z.inuse() == 0) {
            st.zspages[id as usize] = None;
            st.free_ids.push(id);
            st.live -= 1;
            self.total_pages -= class.pages_per_zspage as u64;
        }
    }

    /// Allocates an object holding `data`.
    pub fn store(&mut self, data: &[u8]) -> Result<Handle, PoolError> {
        let h = self.alloc(data.len())?;
        self.write(h, data)?;
        Ok(h)
    }

    /// Writes an object's bytes (`data` must be as long as the object).
    pub fn write(&mut self, handle: Handle, data: &[u8]) -> Result<(), PoolError> {
        let loc = self.loc(handle)?;
        if data.len() != loc.len as usize {
            return Err(PoolError::LengthMismatch {
                len: loc.len as usize,
                given: data.len(),
            });
        }
        self.zspage_mut(loc)?.write(loc.obj, data);
        Ok(())
    }

    /// Copies an object into `out[..len]`; returns its length.
    pub fn read(&self, handle: Handle, out: &mut [u8]) -> Result<usize, PoolError> {
        let loc = self.loc(handle)?;
        let len = loc.len as usize;
        let Some(dst) = out.get_mut(..len) else {
            return Err(PoolError::BufferTooSmall {
                len,
                given: out.len(),
            });
        };
        self.zspage(loc)?.read(loc.obj, dst);
        Ok(len)
    }

    /// An object's length.
    pub fn obj_len(&self, handle: Handle) -> Result<usize, PoolError> {
        Ok(self.loc(handle)?.len as usize)
    }

    /// Frees an object.
    pub fn free(&mut self, handle: Handle) -> Result<(), PoolError> {
        let loc = self.loc(handle)?;
        let class = self.classes.by_index(loc.class as usize);
        let st = &mut self.state[loc.class as usize];
        let Some(zs) = st.zspages[loc.zspage as usize].as_mut() else {
            return Err(PoolError::BadHandle);
        };
        let before = zs.inuse();
        zs.free(loc.obj);
        let after = zs.inuse();
        st.refile(loc.zspage, before, after, class.objs_per_zspage as u32);
        st.objs -= 1;
        if after == 0 {
            st.zspages[loc.zspage as usize] = None;
            st.free_ids.push(loc.zspage);
            st.live -= 1;
            self.total_pages -= class.pages_per_zspage as u64;
        }
        let entry = &mut self.table[handle.index()];
        entry.loc = None;
        entry.generation = entry.generation.wrapping_add(1);
        self.free_handles.push(handle.index() as u32);
        self.objects -= 1;
        Ok(())
    }

    /// Compacts every class; returns the pages freed by this call.
    pub fn compact(&mut self) -> u64 {
        let mut freed = 0;
        for index in 0..ZS_SIZE_CLASSES {
            let class = self.classes.by_index(index);
            if class.index != index || class.huge {
                continue;
            }
            freed += self.compact_class(class);
        }
        self.pages_compacted += freed;
        freed
    }

    /// Moves objects from the least used zspages of a class into the most used ones while the
    /// free objects of its partial zspages add up to a whole zspage; frees the emptied ones.
    fn compact_class(&mut self, class: ClassInfo) -> u64 {
        let capacity = class.objs_per_zspage as u32;
        let mut buf = vec![0u8; class.size];
        let mut freed = 0;
        let st = &mut self.state[class.index];
        while let (Some(&src_key), Some(&dst_key)) = (st.partial.first(), st.partial.last()) {
            if src_key.1 == dst_key.1 {
                break;
            }
            // Free object slots exist only in partial zspages (full ones have none, empty ones
            // are released at once): the class's free slots are its capacity less its objects.
            let free = st.live * u64::from(capacity) - st.objs;
            if free < u64::from(capacity) {
                break;
            }
            let (src_id, dst_id) = (src_key.1, dst_key.1);
            // Take the source out so that both zspages can be borrowed.
            let Some(mut src) = st.zspages[src_id as usize].take() else {
                break;
            };
            let Some(dst) = st.zspages[dst_id as usize].as_mut() else {
                st.zspages[src_id as usize] = Some(src);
                break;
            };
            let dst_before = dst.inuse();
            for (obj, owner) in src.allocated() {
                let Some(entry) = self.table.get_mut(owner as usize) else {
                    continue;
                };
                let Some(loc) = entry.loc.as_mut() else {
                    continue;
                };
                let Some(new_obj) = dst.alloc(owner) else {
                    break;
                };
                // The payload moves; the header (the owner) was written by `alloc`.
                let len = loc.len as usize;
                debug_assert!(len + ZS_HANDLE_SIZE <= class.size);
                src.read(obj, &mut buf[..len]);
                dst.write(new_obj, &buf[..len]);
                src.free(obj);
                loc.zspage = dst_id;
                loc.obj = new_obj;
            }
            let dst_after = dst.inuse();
            st.refile(dst_id, dst_before, dst_after, capacity);
            let src_after = src.inuse();
            st.refile(src_id, src_key.0, src_after, capacity);
            if src_after == 0 {
                st.free_ids.push(src_id);
                st.live -= 1;
                freed += class.pages_per_zspage as u64;
                drop(src);
            } else {
                st.zspages[src_id as usize] = Some(src);
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
                (st.live > 0).then_some(ClassStat {
                    class: c,
                    objs: st.objs,
                    zspages: st.live,
                })
            })
            .collect()
    }

    /// The zspage and object index a handle's object is at (for tests of placement).
    #[cfg(test)]
    fn placement(&self, handle: Handle) -> Option<(u32, u32)> {
        self.loc(handle).ok().map(|l| (l.zspage, l.obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn pattern(seed: u32, len: usize) -> Vec<u8> {
        (0..len).map(|i| (seed as usize * 31 + i * 7 + 1) as u8).collect()
    }

    fn zspage_bytes(p: &ZsPool, class: usize, id: u32) -> Vec<u8> {
        p.state[class].zspages[id as usize]
            .as_ref()
            .map(|z| z.bytes())
            .unwrap_or_default()
    }

    #[test]
    fn objects_live_in_the_zspage_pages_and_straddle_boundaries() {
        let mut p = ZsPool::new(None);
        // 40 bytes + the 8-byte header: the 48-byte class, 256 objects in 3 pages.
        let c = p.classes().class_for_alloc(40);
        assert_eq!((c.size, c.pages_per_zspage, c.objs_per_zspage), (48, 3, 256));
        let hs: Vec<Handle> = (0..256u32).map(|i| p.store(&pattern(i, 40)).unwrap()).collect();
        assert_eq!((p.total_pages(), p.pages_held()), (3, 3));
        // Object 85 starts at 85 * 48 = 4080: its header fills 4080..4088 of page 0, its
        // payload 4088..4128 straddles pages 0 and 1 (8 bytes, then 32).
        assert_eq!(p.placement(hs[85]), Some((0, 85)));
        let bytes = zspage_bytes(&p, c.index, 0);
        assert_eq!(bytes.len(), 3 * PAGE_SIZE);
        assert_eq!(&bytes[4088..4128], &pattern(85, 40)[..]);
        let header = u64::from_le_bytes(bytes[4080..4088].try_into().unwrap());
        assert_eq!(header, ((hs[85].index() as u64) << 1) | 1);
        // Object 170 (8160..8208) straddles pages 1 and 2.
        assert_eq!(&bytes[8168..8208], &pattern(170, 40)[..]);
        let mut out = [0u8; 64];
        for (i, h) in hs.iter().enumerate() {
            assert_eq!(p.read(*h, &mut out), Ok(40));
            assert_eq!(&out[..40], &pattern(i as u32, 40)[..], "object {i}");
        }
        // A write goes to the pages too.
        p.write(hs[85], &[0xee; 40]).unwrap();
        assert_eq!(&zspage_bytes(&p, c.index, 0)[4088..4128], &[0xee; 40][..]);
    }

    #[test]
    fn a_huge_object_fills_its_page() {
        let mut p = ZsPool::new(None);
        let page = pattern(9, PAGE_SIZE);
        let h = p.store(&page).unwrap();
        let c = p.classes().class_for_alloc(PAGE_SIZE);
        assert!(c.huge);
        assert_eq!(zspage_bytes(&p, c.index, 0), page);
        assert_eq!(p.total_pages(), 1);
        p.free(h).unwrap();
        assert_eq!((p.total_pages(), p.pages_held()), (0, 0));
    }

    #[test]
    fn compaction_moves_object_bytes() {
        let mut p = ZsPool::new(None);
        let c = p.classes().class_for_alloc(20);
        assert_eq!((c.size, c.pages_per_zspage, c.objs_per_zspage), (32, 1, 128));
        let hs: Vec<Handle> = (0..256u32).map(|i| p.store(&pattern(i, 20)).unwrap()).collect();
        // Keep 10 objects in zspage 0 and 100 in zspage 1: the 10 move into zspage 1.
        for (i, h) in hs.iter().enumerate() {
            if (10..128).contains(&i) || i >= 228 {
                p.free(*h).unwrap();
            }
        }
        assert_eq!(p.placement(hs[3]), Some((0, 3)));
        assert_eq!(p.compact(), 1);
        assert_eq!((p.total_pages(), p.pages_held()), (1, 1));
        let (z, obj) = p.placement(hs[3]).unwrap();
        assert_eq!(z, 1);
        let bytes = zspage_bytes(&p, c.index, 1);
        let at = obj as usize * 32;
        assert_eq!(&bytes[at + 8..at + 28], &pattern(3, 20)[..]);
        assert_eq!(
            u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
            ((hs[3].index() as u64) << 1) | 1
        );
    }
}
