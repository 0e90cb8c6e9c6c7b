//! One zspage: a chain of page-sized allocations holding the objects of one class, and the
//! free list threaded through the free objects' headers.

use crate::{PAGE_SIZE, ZS_HANDLE_SIZE};

/// One page of pool memory.
pub(crate) type Page = Box<[u8; PAGE_SIZE]>;

/// End of a free list.
pub(crate) const NONE: u32 = u32::MAX;

/// Header tag of an allocated object (`OBJ_ALLOCATED_TAG`).
const ALLOCATED: u64 = 1;

/// A page of zeros, or `None` when the allocator cannot provide one.
fn new_page() -> Option<Page> {
    let mut v: Vec<u8> = Vec::new();
    v.try_reserve_exact(PAGE_SIZE).ok()?;
    v.resize(PAGE_SIZE, 0);
    v.into_boxed_slice().try_into().ok()
}

/// What an object's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Header {
    /// Allocated, owned by the handle at this index of the pool's table.
    Allocated(u32),
    /// Free; the next free object of the zspage (or [`NONE`]).
    Free(u32),
}

impl Header {
    fn encode(self) -> u64 {
        match self {
            Header::Allocated(h) => (u64::from(h) << 1) | ALLOCATED,
            Header::Free(next) => u64::from(next) << 1,
        }
    }

    fn decode(v: u64) -> Self {
        let x = (v >> 1) as u32;
        if v & ALLOCATED != 0 {
            Header::Allocated(x)
        } else {
            Header::Free(x)
        }
    }
}

/// A zspage of one class.
#[derive(Debug)]
pub(crate) struct Zspage {
    pages: Vec<Page>,
    /// Object size of the class.
    size: usize,
    /// Objects the zspage holds.
    capacity: u32,
    /// A huge class: one object filling the page, no header.
    huge: bool,
    /// Objects allocated.
    inuse: u32,
    /// First free object, or [`NONE`].
    first_free: u32,
    /// The owner of a huge zspage's object (its page has no room for a header).
    huge_owner: u32,
}

impl Zspage {
    /// A zspage of `pages` fresh pages for objects of `size` bytes, every object free; `None`
    /// when the memory cannot be had.
    pub fn new(pages: usize, size: usize, capacity: usize, huge: bool) -> Option<Self> {
        let mut v = Vec::new();
        v.try_reserve_exact(pages).ok()?;
        for _ in 0..pages {
            v.push(new_page()?);
        }
        let capacity = u32::try_from(capacity).ok()?;
        let mut z = Zspage {
            pages: v,
            size,
            capacity,
            huge,
            inuse: 0,
            first_free: 0,
            huge_owner: NONE,
        };
        if !huge {
            // The free list runs through the objects in order: 0 -> 1 -> ... -> NONE.
            for i in 0..capacity {
                let next = if i + 1 < capacity { i + 1 } else { NONE };
                z.set_header(i, Header::Free(next));
            }
        }
        Some(z)
    }

    /// Pages held.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Objects allocated.
    pub fn inuse(&self) -> u32 {
        self.inuse
    }

    /// Whether every object is allocated.
    pub fn is_full(&self) -> bool {
        self.inuse == self.capacity
    }

    /// Byte offset of object `obj`'s payload in the chain.
    fn payload_offset(&self, obj: u32) -> usize {
        let start = obj as usize * self.size;
        if self.huge {
            start
        } else {
            start + ZS_HANDLE_SIZE
        }
    }

    /// Copies bytes of the chain, from `off` on, into `out` (across page boundaries).
    fn copy_out(&self, mut off: usize, out: &mut [u8]) {
        let mut done = 0;
        while done < out.len() {
            let (p, o) = (off / PAGE_SIZE, off % PAGE_SIZE);
            let n = (PAGE_SIZE - o).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.pages[p][o..o + n]);
            done += n;
            off += n;
        }
    }

    /// Copies `data` into the chain from `off` on (across page boundaries).
    fn copy_in(&mut self, mut off: usize, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            let (p, o) = (off / PAGE_SIZE, off % PAGE_SIZE);
            let n = (PAGE_SIZE - o).min(data.len() - done);
            self.pages[p][o..o + n].copy_from_slice(&data[done..done + n]);
            done += n;
            off += n;
        }
    }

    /// The header of object `obj` (a huge zspage keeps its owner aside).
    pub fn header(&self, obj: u32) -> Header {
        if self.huge {
            return if self.inuse == 0 {
                Header::Free(NONE)
            } else {
                Header::Allocated(self.huge_owner)
            };
        }
        let mut b = [0u8; ZS_HANDLE_SIZE];
        self.copy_out(obj as usize * self.size, &mut b);
        Header::decode(u64::from_le_bytes(b))
    }

    fn set_header(&mut self, obj: u32, h: Header) {
        if self.huge {
            if let Header::Allocated(owner) = h {
                self.huge_owner = owner;
            }
            return;
        }
        self.copy_in(obj as usize * self.size, &h.encode().to_le_bytes());
    }

    /// Takes the first free object for handle `owner`; `None` when full.
    pub fn alloc(&mut self, owner: u32) -> Option<u32> {
        if self.is_full() || self.first_free == NONE {
            return None;
        }
        let obj = self.first_free;
        self.first_free = match self.header(obj) {
            Header::Free(next) => next,
            // A free-list entry is always free; treat a corrupt one as the end of the list.
            Header::Allocated(_) => NONE,
        };
        if self.huge {
            self.first_free = NONE;
        }
        self.set_header(obj, Header::Allocated(owner));
        self.inuse += 1;
        Some(obj)
    }

    /// Puts object `obj` back on the free list.
    pub fn free(&mut self, obj: u32) {
        let next = self.first_free;
        self.set_header(obj, Header::Free(next));
        if self.huge {
            self.huge_owner = NONE;
        }
        self.first_free = obj;
        self.inuse -= 1;
    }

    /// Writes an object's payload.
    pub fn write(&mut self, obj: u32, data: &[u8]) {
        let off = self.payload_offset(obj);
        self.copy_in(off, data);
    }

    /// Reads an object's payload (`out.len()` bytes).
    pub fn read(&self, obj: u32, out: &mut [u8]) {
        self.copy_out(self.payload_offset(obj), out);
    }

    /// The allocated objects and their owners, in object order.
    pub fn allocated(&self) -> Vec<(u32, u32)> {
        (0..self.capacity)
            .filter_map(|i| match self.header(i) {
                Header::Allocated(h) => Some((i, h)),
                Header::Free(_) => None,
            })
            .collect()
    }

    /// The raw bytes of the chain (for tests that look at where an object landed).
    #[cfg(test)]
    pub fn bytes(&self) -> Vec<u8> {
        self.pages.iter().flat_map(|p| p.iter().copied()).collect()
    }
}
