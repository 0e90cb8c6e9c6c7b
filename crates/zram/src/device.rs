//! The device: a table of 4 KiB slots, block I/O at 512-byte sector granularity (partial pages
//! by read-modify-write), discard, the memory limit and the stat files.

use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use idxd_runtime::{ContextPool, ErrorKind, Runtime};
use idxd_zsmalloc::{Handle, ZsPool, PAGE_SIZE};

use crate::backing::{BackingDevice, IdleMark, WbLimit, WritebackMode};
use crate::error::{CodecError, ZramError};
use crate::recompress::{self, RecompressParams, RecompressReport, Recompressor};
use crate::slot::{fill, same_filled, Data, Slot};
use crate::stats::{add, get, sub, BdStat, Counters, DebugStat, IoStat, MmStat};

/// Sector size of the block interface.
pub const SECTOR_SIZE: u64 = 512;
const PAGE: u64 = PAGE_SIZE as u64;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A page ready to be put in a slot.
enum Prepared {
    Same(u64),
    Compressed(Box<[u8]>, u8),
    Huge(Box<[u8]>),
}

/// What [`crate::ZramBuilder`] hands the device.
pub(crate) struct DeviceParams {
    pub disksize: u64,
    pub comps: Vec<Runtime>,
    pub backing: Option<File>,
    pub mem_limit: u64,
    pub huge_class_size: usize,
    pub batch_size: usize,
    pub writeback_compressed: bool,
}

/// A zram-style compressed RAM block device. `Sync`: share it between threads.
pub struct Zram {
    disksize: u64,
    slots: Vec<Mutex<Slot>>,
    /// [0] the primary algorithm, then the secondary ones by priority.
    comps: Vec<ContextPool>,
    pool: Mutex<ZsPool>,
    huge_class_size: usize,
    limit_pages: AtomicU64,
    batch_size: usize,
    backing: Option<BackingDevice>,
    wb_limit: Mutex<WbLimit>,
    writeback_compressed: bool,
    counters: Counters,
}

impl std::fmt::Debug for Zram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zram")
            .field("disksize", &self.disksize)
            .field("comp_algorithm", &self.comp_algorithm())
            .field("mm_stat", &self.mm_stat())
            .finish()
    }
}

impl Zram {
    pub(crate) fn new(b: DeviceParams) -> Self {
        let disksize = b.disksize.div_ceil(PAGE) * PAGE;
        let nr = (disksize / PAGE) as usize;
        Zram {
            disksize,
            slots: (0..nr).map(|_| Mutex::new(Slot::default())).collect(),
            comps: b.comps.into_iter().map(ContextPool::new).collect(),
            pool: Mutex::new(ZsPool::new(None)),
            huge_class_size: b.huge_class_size,
            limit_pages: AtomicU64::new(b.mem_limit.div_ceil(PAGE)),
            batch_size: b.batch_size,
            backing: b.backing.map(|f| BackingDevice::new(f, nr as u64)),
            wb_limit: Mutex::new(WbLimit::default()),
            writeback_compressed: b.writeback_compressed,
            counters: Counters::default(),
        }
    }

    /// Device size in bytes (whole pages).
    pub fn disksize(&self) -> u64 {
        self.disksize
    }

    /// Number of 4 KiB slots.
    pub fn nr_pages(&self) -> u64 {
        self.slots.len() as u64
    }

    /// `comp_algorithm`: the primary algorithm, in brackets as the kernel shows the selected one.
    pub fn comp_algorithm(&self) -> String {
        format!("[{}]", self.comps[0].runtime().algorithm_name())
    }

    /// `recomp_algorithm`: one `#prio: name` line per secondary algorithm.
    pub fn recomp_algorithm(&self) -> String {
        self.comps
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, c)| format!("#{i}: {}\n", c.runtime().algorithm_name()))
            .collect()
    }

    /// The runtime of algorithm `prio` (0 primary, 1 to 3 secondary).
    pub fn runtime(&self, prio: usize) -> Option<&idxd_runtime::Runtime> {
        self.comps.get(prio).map(|c| c.runtime())
    }

    /// Number of algorithms: the primary one and the secondary ones.
    pub(crate) fn algorithm_count(&self) -> usize {
        self.comps.len()
    }

    /// The size at or above which compressed pages are stored raw.
    pub fn huge_class_size(&self) -> usize {
        self.huge_class_size
    }

    /// Sets `mem_limit` in bytes (0: none).
    pub fn set_mem_limit(&self, bytes: u64) {
        self.limit_pages.store(bytes.div_ceil(PAGE), Ordering::Relaxed);
    }

    /// Resets `mem_used_max` to the current usage.
    pub fn reset_mem_used_max(&self) {
        let cur = lock(&self.pool).total_pages();
        self.counters.max_used_pages.store(cur, Ordering::Relaxed);
    }

    /// Compacts the pool; returns the pages freed.
    pub fn compact(&self) -> u64 {
        lock(&self.pool).compact()
    }

    // ---- recompression (crate::recompress) --------------------------------------------------

    /// One recompression pass over the device.
    pub fn recompress(&self, params: &RecompressParams) -> Result<RecompressReport, ZramError> {
        Recompressor::new(self, params)?.run()
    }

    /// Number of slots held by each algorithm priority (0 primary) in the pool.
    pub fn priority_histogram(&self) -> Vec<u64> {
        recompress::priority_histogram(self)
    }

    // ---- stat files -------------------------------------------------------------------------

    /// `mm_stat`.
    pub fn mm_stat(&self) -> MmStat {
        let c = &self.counters;
        let (pages, compacted) = {
            let p = lock(&self.pool);
            (p.total_pages(), p.pages_compacted())
        };
        MmStat {
            orig_data_size: get(&c.pages_stored) * PAGE,
            compr_data_size: get(&c.compr_data_size),
            mem_used_total: pages * PAGE,
            mem_limit: self.limit_pages.load(Ordering::Relaxed) * PAGE,
            mem_used_max: get(&c.max_used_pages).max(pages) * PAGE,
            same_pages: get(&c.same_pages),
            pages_compacted: compacted,
            huge_pages: get(&c.huge_pages),
            huge_pages_since: get(&c.huge_pages_since),
        }
    }

    /// `io_stat`.
    pub fn io_stat(&self) -> IoStat {
        let c = &self.counters;
        IoStat {
            failed_reads: get(&c.failed_reads),
            failed_writes: get(&c.failed_writes),
            invalid_io: get(&c.invalid_io),
            notify_free: get(&c.notify_free),
        }
    }

    /// `bd_stat`.
    pub fn bd_stat(&self) -> BdStat {
        let c = &self.counters;
        BdStat {
            bd_count: get(&c.bd_count),
            bd_reads: get(&c.bd_reads),
            bd_writes: get(&c.bd_writes),
        }
    }

    /// `debug_stat`.
    pub fn debug_stat(&self) -> DebugStat {
        DebugStat {
            writestall: 0,
            miss_free: get(&self.counters.miss_free),
        }
    }

    /// Successful read and write requests so far (the block layer's `stat` reads and writes).
    pub fn io_counts(&self) -> (u64, u64) {
        (get(&self.counters.num_reads), get(&self.counters.num_writes))
    }

    // ---- block I/O ----------------------------------------------------------------------------

    fn check_io(&self, sector: u64, len: u64) -> Result<(), ZramError> {
        let ok = len % SECTOR_SIZE == 0
            && sector
                .checked_mul(SECTOR_SIZE)
                .and_then(|s| s.checked_add(len))
                .is_some_and(|end| end <= self.disksize);
        if ok {
            Ok(())
        } else {
            add(&self.counters.invalid_io, 1);
            Err(ZramError::InvalidIo {
                sector,
                len,
                disksize: self.disksize,
            })
        }
    }

    /// Reads `buf.len()` bytes (whole sectors) from `sector`.
    pub fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), ZramError> {
        self.check_io(sector, buf.len() as u64)?;
        let start = sector * SECTOR_SIZE;
        let mut page = vec![0u8; PAGE_SIZE];
        let mut done = 0usize;
        while done < buf.len() {
            let pos = start + done as u64;
            let index = pos / PAGE;
            let off = (pos % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(buf.len() - done);
            let res = {
                let mut slot = lock(&self.slots[index as usize]);
                let r = if n == PAGE_SIZE {
                    self.read_slot(&slot, &mut buf[done..done + n])
                } else {
                    self.read_slot(&slot, &mut page).map(|()| {
                        buf[done..done + n].copy_from_slice(&page[off..off + n]);
                    })
                };
                if r.is_ok() {
                    slot.accessed();
                }
                r
            };
            if let Err(e) = res {
                add(&self.counters.failed_reads, 1);
                return Err(e);
            }
            done += n;
        }
        add(&self.counters.num_reads, 1);
        Ok(())
    }

    /// Writes `data` (whole sectors) at `sector`. Whole pages are compressed in batches;
    /// partial pages are read, modified and written back under the slot's lock.
    pub fn write(&self, sector: u64, data: &[u8]) -> Result<(), ZramError> {
        self.check_io(sector, data.len() as u64)?;
        let res = self.write_inner(sector * SECTOR_SIZE, data);
        match res {
            Ok(()) => add(&self.counters.num_writes, 1),
            Err(_) => add(&self.counters.failed_writes, 1),
        }
        res
    }

    fn write_inner(&self, start: u64, data: &[u8]) -> Result<(), ZramError> {
        let mut full: Vec<(u64, &[u8])> = Vec::with_capacity(self.batch_size);
        let mut done = 0usize;
        while done < data.len() {
            let pos = start + done as u64;
            let index = pos / PAGE;
            let off = (pos % PAGE) as usize;
            let n = (PAGE_SIZE - off).min(data.len() - done);
            let chunk = &data[done..done + n];
            if n == PAGE_SIZE {
                full.push((index, chunk));
                if full.len() == self.batch_size {
                    self.write_full_pages(&full)?;
                    full.clear();
                }
            } else {
                self.write_partial(index, off, chunk)?;
            }
            done += n;
        }
        if !full.is_empty() {
            self.write_full_pages(&full)?;
        }
        Ok(())
    }

    fn write_full_pages(&self, pages: &[(u64, &[u8])]) -> Result<(), ZramError> {
        let srcs: Vec<&[u8]> = pages.iter().map(|p| p.1).collect();
        let prepared = self.prepare(&srcs);
        for ((index, _), p) in pages.iter().zip(prepared) {
            let p = p?;
            let handle = self.alloc_for(&p)?;
            let mut slot = lock(&self.slots[*index as usize]);
            self.install(&mut slot, p, handle);
        }
        Ok(())
    }

    fn write_partial(&self, index: u64, off: usize, chunk: &[u8]) -> Result<(), ZramError> {
        let mut slot = lock(&self.slots[index as usize]);
        let mut page = vec![0u8; PAGE_SIZE];
        self.read_slot(&slot, &mut page)?;
        page[off..off + chunk.len()].copy_from_slice(chunk);
        let p = self
            .prepare(&[&page[..]])
            .pop()
            .unwrap_or(Err(ZramError::Compress {
                prio: 0,
                source: CodecError::NoResult,
            }))?;
        let handle = self.alloc_for(&p)?;
        self.install(&mut slot, p, handle);
        Ok(())
    }

    /// Frees every whole page inside the range (partial pages at either end are left alone, as
    /// the kernel does); each freed page counts in `notify_free`.
    pub fn discard(&self, sector: u64, len: u64) -> Result<(), ZramError> {
        self.check_io(sector, len)?;
        let start = sector * SECTOR_SIZE;
        let first = start.div_ceil(PAGE);
        let end = (start + len) / PAGE;
        for index in first..end {
            let mut slot = lock(&self.slots[index as usize]);
            self.free_slot(&mut slot);
            add(&self.counters.notify_free, 1);
        }
        Ok(())
    }

    /// Zeroes a range: whole pages are freed as by a discard (they read back as zeros, and
    /// count in `notify_free`), partial pages are written.
    pub fn write_zeroes(&self, sector: u64, len: u64) -> Result<(), ZramError> {
        self.check_io(sector, len)?;
        let start = sector * SECTOR_SIZE;
        let end = start + len;
        let first = start.div_ceil(PAGE) * PAGE;
        let last = end / PAGE * PAGE;
        if first >= last {
            let zeros = vec![0u8; len as usize];
            return self.write(sector, &zeros);
        }
        if start < first {
            self.write(sector, &vec![0u8; (first - start) as usize])?;
        }
        for index in first / PAGE..last / PAGE {
            let mut slot = lock(&self.slots[index as usize]);
            self.free_slot(&mut slot);
            add(&self.counters.notify_free, 1);
        }
        if last < end {
            self.write(last / SECTOR_SIZE, &vec![0u8; (end - last) as usize])?;
        }
        Ok(())
    }

    /// The swap layer's slot-free notification: frees the slot unless it is locked right now
    /// (then `miss_free` counts it).
    pub fn slot_free_notify(&self, index: u64) -> Result<bool, ZramError> {
        let slot = self.slots.get(index as usize).ok_or_else(|| {
            ZramError::InvalidArgument(format!("slot {index} past {} slots", self.slots.len()))
        })?;
        add(&self.counters.notify_free, 1);
        match slot.try_lock() {
            Ok(mut s) => {
                self.free_slot(&mut s);
                Ok(true)
            }
            Err(_) => {
                add(&self.counters.miss_free, 1);
                Ok(false)
            }
        }
    }

    // ---- page level -----------------------------------------------------------------------------

    /// Same-filled detection, then one runtime call for the rest of the pages.
    fn prepare(&self, pages: &[&[u8]]) -> Vec<Result<Prepared, ZramError>> {
        let mut out: Vec<Option<Result<Prepared, ZramError>>> = Vec::with_capacity(pages.len());
        let mut todo: Vec<(usize, &[u8])> = Vec::new();
        for (i, p) in pages.iter().enumerate() {
            match same_filled(p) {
                Some(v) => out.push(Some(Ok(Prepared::Same(v)))),
                None => {
                    out.push(None);
                    todo.push((i, p));
                }
            }
        }
        if !todo.is_empty() {
            let srcs: Vec<&[u8]> = todo.iter().map(|t| t.1).collect();
            for (k, r) in self.compress_with(0, &srcs).into_iter().enumerate() {
                out[todo[k].0] = Some(r);
            }
        }
        out.into_iter()
            .map(|o| {
                o.unwrap_or(Err(ZramError::Compress {
                    prio: 0,
                    source: CodecError::NoResult,
                }))
            })
            .collect()
    }

    /// Compresses with algorithm `prio`: a result at or above the huge class size, or one that
    /// does not fit in a page, becomes a huge (raw) page.
    fn compress_with(&self, prio: usize, srcs: &[&[u8]]) -> Vec<Result<Prepared, ZramError>> {
        let Some(pool) = self.comps.get(prio) else {
            return srcs
                .iter()
                .map(|_| {
                    Err(ZramError::Compress {
                        prio,
                        source: CodecError::NoAlgorithm(prio),
                    })
                })
                .collect();
        };
        let mut bufs: Vec<Vec<u8>> = vec![vec![0u8; PAGE_SIZE]; srcs.len()];
        let results = {
            let mut dsts: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
            pool.get().compress(srcs, &mut dsts)
        };
        srcs.iter()
            .enumerate()
            .map(|(i, src)| match results.get(i) {
                Some(Ok(len)) if *len > 0 && *len < self.huge_class_size => {
                    Ok(Prepared::Compressed(bufs[i][..*len].into(), prio as u8))
                }
                Some(Ok(_)) => Ok(Prepared::Huge((*src).into())),
                Some(Err(e)) if e.kind == ErrorKind::DoesNotFit => Ok(Prepared::Huge((*src).into())),
                Some(Err(e)) => Err(ZramError::Compress {
                    prio,
                    source: CodecError::Runtime(e.clone()),
                }),
                None => Err(ZramError::Compress {
                    prio,
                    source: CodecError::NoResult,
                }),
            })
            .collect()
    }

    /// Allocates pool memory for a prepared page, enforcing `mem_limit` as the kernel does
    /// (after the allocation: over the limit, the object is freed and -ENOMEM returned).
    fn alloc_for(&self, p: &Prepared) -> Result<Option<Handle>, ZramError> {
        let data: &[u8] = match p {
            Prepared::Same(_) => return Ok(None),
            Prepared::Compressed(d, _) | Prepared::Huge(d) => d,
        };
        let mut pool = lock(&self.pool);
        let h = pool.store(data).map_err(|_| ZramError::NoMemory)?;
        let pages = pool.total_pages();
        self.counters.max_used_pages.fetch_max(pages, Ordering::Relaxed);
        let limit = self.limit_pages.load(Ordering::Relaxed);
        if limit != 0 && pages > limit {
            let _ = pool.free(h);
            return Err(ZramError::NoMemory);
        }
        Ok(Some(h))
    }

    /// Puts a prepared page in a locked slot, freeing what was there.
    fn install(&self, slot: &mut Slot, p: Prepared, handle: Option<Handle>) {
        self.free_slot(slot);
        let c = &self.counters;
        slot.data = match (p, handle) {
            (Prepared::Same(v), _) => {
                add(&c.same_pages, 1);
                Data::Same(v)
            }
            (Prepared::Compressed(data, prio), Some(handle)) => {
                add(&c.compr_data_size, data.len() as u64);
                Data::Pool {
                    handle,
                    len: data.len() as u32,
                    prio,
                    huge: false,
                }
            }
            (Prepared::Huge(data), Some(handle)) => {
                add(&c.compr_data_size, PAGE);
                add(&c.huge_pages, 1);
                add(&c.huge_pages_since, 1);
                Data::Pool {
                    handle,
                    len: data.len() as u32,
                    prio: 0,
                    huge: true,
                }
            }
            // A pool page without a handle cannot happen (alloc_for gives one).
            (_, None) => return,
        };
        add(&c.pages_stored, 1);
        slot.accessed();
    }

    /// zram_free_page: releases whatever the slot holds and clears its flags.
    fn free_slot(&self, slot: &mut Slot) {
        slot.ac_time = None;
        slot.idle = false;
        slot.incompressible = false;
        let c = &self.counters;
        match std::mem::take(&mut slot.data) {
            Data::Empty => return,
            Data::Same(_) => sub(&c.same_pages, 1),
            Data::Pool {
                handle, len, huge, ..
            } => {
                let _ = lock(&self.pool).free(handle);
                sub(&c.compr_data_size, if huge { PAGE } else { u64::from(len) });
                if huge {
                    sub(&c.huge_pages, 1);
                }
            }
            Data::Backing { block, .. } => {
                if let Some(b) = &self.backing {
                    b.release(block);
                }
                sub(&c.bd_count, 1);
            }
        }
        sub(&c.pages_stored, 1);
    }

    /// Every slot in index order, each locked in turn when the iterator reaches it (and
    /// unlocked when the caller drops the guard).
    pub(crate) fn lock_slots(&self) -> impl Iterator<Item = MutexGuard<'_, Slot>> {
        self.slots.iter().map(lock)
    }

    /// Compresses one page with algorithm `prio` into `buf` and returns the compressed
    /// length, or `None` when the result does not fit in `buf`. No huge-page rule applies
    /// (recompression compares size classes itself).
    pub(crate) fn compress_page(
        &self,
        prio: usize,
        page: &[u8],
        buf: &mut [u8],
    ) -> Result<Option<usize>, ZramError> {
        let err = |source| ZramError::Compress { prio, source };
        let pool = self.comps.get(prio).ok_or(err(CodecError::NoAlgorithm(prio)))?;
        let r = pool.get().compress(&[page], &mut [buf]);
        match r.into_iter().next() {
            Some(Ok(len)) => Ok(Some(len)),
            Some(Err(e)) if e.kind == ErrorKind::DoesNotFit => Ok(None),
            Some(Err(e)) => Err(err(CodecError::Runtime(e))),
            None => Err(err(CodecError::NoResult)),
        }
    }

    /// Replaces what a locked pool slot holds with `data`, the page recompressed by
    /// secondary algorithm `prio`: the new object is stored first (without the `mem_limit`
    /// check of writes), then the old one is freed, which also clears the slot's flags and
    /// access time.
    pub(crate) fn store_recompressed(&self, slot: &mut Slot, data: &[u8], prio: u8) -> Result<(), ZramError> {
        let handle = lock(&self.pool).store(data).map_err(|_| ZramError::NoMemory)?;
        self.free_slot(slot);
        add(&self.counters.compr_data_size, data.len() as u64);
        add(&self.counters.pages_stored, 1);
        slot.data = Data::Pool {
            len: data.len() as u32,
            handle,
            prio,
            huge: false,
        };
        Ok(())
    }

    /// Reads a locked slot into one page.
    pub(crate) fn read_slot(&self, slot: &Slot, page: &mut [u8]) -> Result<(), ZramError> {
        match &slot.data {
            Data::Empty => {
                page.fill(0);
                Ok(())
            }
            Data::Same(v) => {
                fill(page, *v);
                Ok(())
            }
            Data::Pool {
                handle, huge: true, ..
            } => {
                lock(&self.pool).read(*handle, page)?;
                Ok(())
            }
            Data::Pool { handle, prio, .. } => {
                let mut buf = [0u8; PAGE_SIZE];
                let n = lock(&self.pool).read(*handle, &mut buf)?;
                self.decompress_with(*prio as usize, &buf[..n], page)
            }
            Data::Backing { block, comp } => {
                let b = self.backing.as_ref().ok_or(ZramError::NoBackingDevice)?;
                add(&self.counters.bd_reads, 1);
                match comp {
                    None => b.read_block(*block, page),
                    Some((len, prio)) => {
                        let mut buf = vec![0u8; PAGE_SIZE];
                        b.read_block(*block, &mut buf)?;
                        let len = (*len as usize).min(PAGE_SIZE);
                        self.decompress_with(*prio as usize, &buf[..len], page)
                    }
                }
            }
        }
    }

    fn decompress_with(&self, prio: usize, data: &[u8], page: &mut [u8]) -> Result<(), ZramError> {
        let err = |source| ZramError::Decompress { prio, source };
        let pool = self.comps.get(prio).ok_or(err(CodecError::NoAlgorithm(prio)))?;
        let r = pool.get().decompress(&[data], &mut [&mut *page]);
        match r.into_iter().next() {
            Some(Ok(n)) if n == PAGE_SIZE => Ok(()),
            Some(Ok(n)) => Err(err(CodecError::NotAPage(n))),
            Some(Err(e)) => Err(err(CodecError::Runtime(e))),
            None => Err(err(CodecError::NoResult)),
        }
    }
}

impl Zram {
    // ---- idle marking and writeback ---------------------------------------------------------

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
                    handle,
                    prio,
                    huge: false,
                    ..
                } if self.writeback_compressed => {
                    page.fill(0);
                    let n = match lock(&self.pool).read(*handle, &mut page) {
                        Ok(n) => n,
                        Err(e) => {
                            self.refund();
                            return Err(e.into());
                        }
                    };
                    Some((n as u32, *prio))
                }
                _ => {
                    if let Err(e) = self.read_slot(&s, &mut page) {
                        self.refund();
                        return Err(e);
                    }
                    None
                }
            };
            let block = match backing.write_page(&page) {
                Ok(b) => b,
                Err(e) => {
                    self.refund();
                    return Err(e);
                }
            };
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
