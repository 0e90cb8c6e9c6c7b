//! `idxd-zsmalloc`: a user-space zsmalloc, the allocator under the kernel's zswap and zram.
//!
//! The compressed objects live in the allocator's own pages, as in Linux:
//!
//! - classes every [`ZS_SIZE_CLASS_DELTA`] bytes from [`ZS_MIN_ALLOC_SIZE`] to [`PAGE_SIZE`];
//! - a class's zspage chains 1 to [`ZS_MAX_PAGES_PER_ZSPAGE`] real page-sized allocations (the
//!   count that wastes the least, zsmalloc's `get_pages_per_zspage`); object `i` of a zspage
//!   sits at byte `i * size` of the chain and may straddle a page boundary;
//! - neighbouring classes with the same pages-per-zspage and objects-per-zspage are merged into
//!   the larger one; classes of one object in one page are "huge";
//! - every object of a non-huge class starts with a [`ZS_HANDLE_SIZE`]-byte header: the handle
//!   that owns it (tagged allocated), or the link to the next free object of its zspage (the
//!   free list lives in the zspage's memory); a huge object fills its page and its zspage
//!   remembers the owner instead (Linux keeps it in `page->index`);
//! - a [`Handle`] is an index into an indirection table (zsmalloc's handle -> obj), so objects
//!   can move under it;
//! - an allocation goes to the fullest zspage of its class with a free slot, or a new zspage; a
//!   zspage whose last object is freed gives its pages back; [`ZsPool::compact`] copies objects
//!   from the least used zspages into the most used ones, updates the table and frees the
//!   emptied zspages.
//!
//! [`ZsPool::total_pages`] is therefore the number of pages the pool holds, what zswap reports
//! as `pool_total_size` and zram as `mem_used_total` (both times [`PAGE_SIZE`]).
//!
//! ```
//! use idxd_zsmalloc::{ZsPool, PAGE_SIZE};
//!
//! let mut pool = ZsPool::new(None);
//! let h = pool.store(b"compressed bytes").unwrap();
//! assert_eq!(pool.total_pages(), 1);
//! let mut out = [0u8; PAGE_SIZE];
//! let n = pool.read(h, &mut out).unwrap();
//! assert_eq!(&out[..n], b"compressed bytes");
//! pool.free(h).unwrap();
//! assert_eq!(pool.total_pages(), 0);
//! ```

mod class;
mod pool;
mod zspage;

pub use class::{ClassInfo, SizeClasses};
pub use pool::{ClassStat, Handle, PoolError, ZsPool};

/// The page size of the pool.
pub const PAGE_SIZE: usize = 4096;
/// Smallest size class.
pub const ZS_MIN_ALLOC_SIZE: usize = 32;
/// Step between size classes (`PAGE_SIZE >> CLASS_BITS`).
pub const ZS_SIZE_CLASS_DELTA: usize = 16;
/// Bytes of the header in front of every object of a non-huge class (the owning handle).
pub const ZS_HANDLE_SIZE: usize = 8;
/// Longest zspage chain (`CONFIG_ZSMALLOC_CHAIN_SIZE`, 8 by default since Linux 6.3).
pub const ZS_MAX_PAGES_PER_ZSPAGE: usize = 8;
/// Number of size classes.
pub const ZS_SIZE_CLASSES: usize = (PAGE_SIZE - ZS_MIN_ALLOC_SIZE).div_ceil(ZS_SIZE_CLASS_DELTA) + 1;
