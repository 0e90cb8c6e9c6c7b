//! The public face: [`Zswap`] ties the cache ([`Cache`]) to writeback ([`Writeback`]) and runs
//! the swap-out and swap-in paths, the background shrinker and the parameters.

use std::collections::HashMap;
use std::fs::File;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use idxd_runtime::Runtime;
use idxd_zsmalloc::PAGE_SIZE;

use crate::cache::{lock, Cache};
use crate::config::{ZswapConfig, MAX_FOLIO_PAGES};
use crate::error::{ConfigError, RejectReason, ZswapError};
use crate::stats::{ZswapParams, ZswapStats};
use crate::writeback::{ShrinkReport, Writeback};

/// Where a page read by [`Zswap::swap_in`] came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSource {
    /// The zswap pool (the entry is gone now: loads are exclusive).
    Zswap,
    /// The swap file (never stored, written back, or rejected and swapped out).
    SwapFile,
}

/// What became of a folio handed to [`Zswap::swap_out`] or the asynchronous store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOutcome {
    /// Every page is in the pool.
    Stored,
    /// zswap refused it; the folio was written to the swap file.
    SwappedOut(RejectReason),
    /// zswap refused it and there is no swap file: the caller keeps the data.
    Rejected(RejectReason),
    /// zswap refused it and writing the swap file failed (with this kind of error): the
    /// caller keeps the data.
    SwapFailed(RejectReason, std::io::ErrorKind),
    /// (Asynchronous store only.) Every page of the folio was loaded, invalidated or stored
    /// again while it waited in the queue: nothing of it was left to store.
    Superseded,
}

/// A folio admitted to the asynchronous store and not stored yet. Its pages are in
/// [`Zswap`]'s queued map until the store lands: loads find them there (read-your-writes),
/// invalidations and newer stores of an offset take that page out (so the store skips it).
#[derive(Debug)]
pub(crate) struct Queued {
    pub offset: u64,
    pub folio: Vec<u8>,
}

/// Shared state (the background shrinker and the asynchronous store hold it too).
#[derive(Debug)]
struct Inner {
    cfg: ZswapConfig,
    cache: Cache,
    writeback: Writeback,
    /// Pages of queued folios by offset. Lock order: this, then the cache's locks; a queued
    /// store lands (entries inserted, pages taken out) under it, so a load sees a page either
    /// here or in the cache.
    queued: Mutex<HashMap<u64, Arc<Queued>>>,
    /// Whether `queued` may hold anything: set under its lock whenever it changes, so that
    /// loads, stores and invalidates without an asynchronous store in flight never take that
    /// lock (it is one lock for the whole cache).
    any_queued: AtomicBool,
}

/// A zswap-style compressed cache in front of an (optional) swap file.
///
/// `Zswap` is `Sync`: share it (e.g. in an `Arc`) and store and load different offsets from
/// many threads. Each call borrows a runtime context for its whole folio or page.
pub struct Zswap {
    inner: Arc<Inner>,
    worker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Zswap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zswap").field("stats", &self.stats()).finish()
    }
}

impl Zswap {
    /// A cache compressing through `rt`, writing back to `swap` (when given).
    ///
    /// The swap file is extended (sparsely) to `cfg.swap_slots` pages; slot `offset` lives at
    /// byte `offset * 4096`.
    pub fn new(rt: Runtime, cfg: ZswapConfig, swap: Option<File>) -> Result<Self, ZswapError> {
        cfg.validate()?;
        let writeback = Writeback::new(swap, cfg.swap_slots, cfg.writeback_enabled, cfg.shrinker_enabled)?;
        let cache = Cache::new(rt, &cfg, writeback.possible());
        let inner = Arc::new(Inner {
            cfg,
            cache,
            writeback,
            queued: Mutex::new(HashMap::new()),
            any_queued: AtomicBool::new(false),
        });
        let worker = if inner.writeback.has_shrinker() {
            let w = Arc::clone(&inner);
            let name = "zswap-shrink";
            Some(
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || w.writeback.run_shrinker(&w.cache))
                    .map_err(|source| ZswapError::Spawn {
                        name: name.into(),
                        source,
                    })?,
            )
        } else {
            None
        };
        Ok(Zswap { inner, worker })
    }

    /// Stores a folio of 1 to 512 pages at `offset..offset + pages`, all or nothing: on any
    /// refusal every entry at those offsets (old ones included) is dropped and the reason is
    /// returned; the caller then writes the folio to swap (see [`Zswap::swap_out`]).
    pub fn store(&self, offset: u64, folio: &[u8]) -> Result<(), ZswapError> {
        let pages = self.check_folio(offset, folio)?;
        self.cancel_queued(offset, pages);
        self.admit(offset, pages).map_err(ZswapError::Rejected)?;
        self.store_pages(offset, folio).map_err(ZswapError::Rejected)
    }

    /// Loads the page at `offset` into `page` (one page long) and drops the entry (exclusive
    /// load). `NotFound` when absent; `Io` (entry kept, `decompress_fail` counted) when the
    /// data cannot be decompressed.
    pub fn load(&self, offset: u64, page: &mut [u8]) -> Result<(), ZswapError> {
        let slots = self.inner.cfg.swap_slots;
        if page.len() == PAGE_SIZE && offset >= slots {
            return Err(ZswapError::OutOfRange {
                offset,
                end: offset.saturating_add(1),
                slots,
            });
        }
        if page.len() == PAGE_SIZE && self.load_queued(offset, page) {
            return Ok(());
        }
        self.inner.cache.load(offset, page)
    }

    /// Drops the entry at `offset`, and the page of a queued store there (which then is not
    /// stored); returns whether there was either.
    pub fn invalidate(&self, offset: u64) -> bool {
        if offset >= self.inner.cfg.swap_slots {
            return false;
        }
        let queued = self.cancel_queued(offset, 1);
        self.inner.cache.invalidate(offset) || queued
    }

    /// Whether an entry (or the page of a queued store) exists at `offset`.
    pub fn contains(&self, offset: u64) -> bool {
        offset < self.inner.cfg.swap_slots
            && ((self.maybe_queued() && lock(&self.inner.queued).contains_key(&offset))
                || self.inner.cache.contains(offset))
    }

    /// Stored length of the entry at `offset` (page size for a raw entry).
    pub fn entry_len(&self, offset: u64) -> Option<usize> {
        if offset >= self.inner.cfg.swap_slots {
            return None;
        }
        self.inner.cache.entry_len(offset)
    }

    /// The swap-out path: store in zswap, else write the folio to the swap file.
    pub fn swap_out(&self, offset: u64, folio: &[u8]) -> Result<StoreOutcome, ZswapError> {
        let pages = self.check_folio(offset, folio)?;
        self.cancel_queued(offset, pages);
        let res = match self.admit(offset, pages) {
            Ok(()) => self.store_pages(offset, folio),
            Err(r) => Err(r),
        };
        Ok(match res {
            Ok(()) => StoreOutcome::Stored,
            Err(reason) => self.swap_out_rejected(offset, folio, reason),
        })
    }

    /// The swap-in path: load from zswap, else read the swap file.
    pub fn swap_in(&self, offset: u64, page: &mut [u8]) -> Result<PageSource, ZswapError> {
        match self.load(offset, page) {
            Ok(()) => Ok(PageSource::Zswap),
            Err(ZswapError::NotFound(_)) => {
                let swap = self.inner.writeback.swap().ok_or(ZswapError::NotFound(offset))?;
                swap.read_page(offset, page)?;
                Ok(PageSource::SwapFile)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes entries back, oldest first with a second chance, until the pool is at or below
    /// the accept threshold (what the kernel's shrink worker does after a limit hit).
    pub fn shrink(&self) -> ShrinkReport {
        self.inner.writeback.shrink(&self.inner.cache)
    }

    /// Writes back up to `n` entries regardless of the pool size.
    pub fn writeback(&self, n: usize) -> ShrinkReport {
        self.inner.writeback.writeback_n(&self.inner.cache, n)
    }

    /// Compacts the pool; returns the pages freed.
    pub fn compact(&self) -> u64 {
        self.inner.cache.compact()
    }

    /// Every counter.
    pub fn stats(&self) -> ZswapStats {
        let i = &self.inner;
        i.cache
            .counters()
            .snapshot(i.cache.pool_pages(), i.writeback.counters())
    }

    /// The module parameters.
    pub fn params(&self) -> ZswapParams {
        let c = &self.inner.cache;
        ZswapParams {
            enabled: c.enabled(),
            compressor: c.runtime().algorithm_name(),
            max_pool_percent: c.max_pool_percent(),
            accept_threshold_percent: c.accept_threshold_percent(),
            shrinker_enabled: self.worker.is_some(),
        }
    }

    /// Sets `enabled`.
    pub fn set_enabled(&self, on: bool) {
        self.inner.cache.set_enabled(on);
    }

    /// Sets `max_pool_percent` (0 to 100).
    pub fn set_max_pool_percent(&self, pct: u32) -> Result<(), ZswapError> {
        if pct > 100 {
            return Err(ConfigError::MaxPoolPercent(pct).into());
        }
        self.inner.cache.set_max_pool_percent(pct);
        Ok(())
    }

    /// Sets `accept_threshold_percent` (0 to 100).
    pub fn set_accept_threshold_percent(&self, pct: u32) -> Result<(), ZswapError> {
        if pct > 100 {
            return Err(ConfigError::AcceptThresholdPercent(pct).into());
        }
        self.inner.cache.set_accept_threshold_percent(pct);
        Ok(())
    }

    /// The pool limit in pages.
    pub fn max_pages(&self) -> u64 {
        self.inner.cache.max_pages()
    }

    /// The accept threshold in pages.
    pub fn accept_thr_pages(&self) -> u64 {
        self.inner.cache.accept_thr_pages()
    }

    /// The configuration this cache was built with.
    pub fn config(&self) -> &ZswapConfig {
        &self.inner.cfg
    }

    /// The runtime underneath.
    pub fn runtime(&self) -> &Runtime {
        self.inner.cache.runtime()
    }

    /// Validates a folio; returns its page count.
    pub(crate) fn check_folio(&self, offset: u64, folio: &[u8]) -> Result<u64, ZswapError> {
        if folio.is_empty() || folio.len() % PAGE_SIZE != 0 || folio.len() / PAGE_SIZE > MAX_FOLIO_PAGES {
            return Err(ZswapError::InvalidLength {
                len: folio.len(),
                what: "1 to 512 whole pages",
            });
        }
        let pages = (folio.len() / PAGE_SIZE) as u64;
        let slots = self.inner.cfg.swap_slots;
        match offset.checked_add(pages) {
            Some(end) if end <= slots => Ok(pages),
            _ => Err(ZswapError::OutOfRange {
                offset,
                end: offset.saturating_add(pages),
                slots,
            }),
        }
    }

    /// Wakes the shrinker after a refusal at the pool limit (or any refusal while the pool is
    /// full), then passes the result on.
    fn kick_on_refusal<T>(&self, r: Result<T, RejectReason>) -> Result<T, RejectReason> {
        if matches!(r, Err(RejectReason::PoolLimit)) || (r.is_err() && self.inner.cache.is_full()) {
            self.inner.writeback.kick();
        }
        r
    }

    /// The synchronous checks (enabled, pool limit).
    pub(crate) fn admit(&self, offset: u64, pages: u64) -> Result<(), RejectReason> {
        self.kick_on_refusal(self.inner.cache.admit(offset, pages))
    }

    /// Compresses and stores an admitted folio.
    fn store_pages(&self, offset: u64, folio: &[u8]) -> Result<(), RejectReason> {
        self.kick_on_refusal(self.inner.cache.store_pages(offset, folio))
    }

    /// Puts an admitted folio's pages in the queued map (replacing older queued pages there).
    pub(crate) fn queue(&self, offset: u64, folio: Vec<u8>) -> Arc<Queued> {
        let q = Arc::new(Queued { offset, folio });
        let pages = (q.folio.len() / PAGE_SIZE) as u64;
        let mut m = lock(&self.inner.queued);
        for o in offset..offset + pages {
            m.insert(o, Arc::clone(&q));
        }
        self.settle(&m);
        q
    }

    /// Whether a queued store may exist (false: none does, without taking the lock).
    fn maybe_queued(&self) -> bool {
        self.inner.any_queued.load(Ordering::Acquire)
    }

    /// Records, under the queued map's lock, whether it holds anything.
    fn settle(&self, m: &HashMap<u64, Arc<Queued>>) {
        self.inner.any_queued.store(!m.is_empty(), Ordering::Release);
    }

    /// Takes the pages at `offset..offset + pages` out of queued stores; returns whether there
    /// were any.
    pub(crate) fn cancel_queued(&self, offset: u64, pages: u64) -> bool {
        if !self.maybe_queued() {
            return false;
        }
        let mut m = lock(&self.inner.queued);
        let mut any = false;
        for o in offset..offset.saturating_add(pages) {
            any |= m.remove(&o).is_some();
        }
        self.settle(&m);
        any
    }

    /// An exclusive load from a queued store: the page is copied out and taken from the queued
    /// folio (an older entry at the offset is stale: dropped too).
    fn load_queued(&self, offset: u64, page: &mut [u8]) -> bool {
        if !self.maybe_queued() {
            return false;
        }
        let mut m = lock(&self.inner.queued);
        let Some(q) = m.remove(&offset) else {
            return false;
        };
        self.settle(&m);
        let at = (offset - q.offset) as usize * PAGE_SIZE;
        page.copy_from_slice(&q.folio[at..at + PAGE_SIZE]);
        self.inner.cache.invalidate(offset);
        true
    }

    /// Runs a queued store: the limits are checked again (a refusal counted as the synchronous
    /// path counts it), then the pages still queued are compressed and stored; pages loaded,
    /// invalidated or stored again meanwhile are skipped. Gives the folio back.
    pub(crate) fn run_queued(&self, q: Arc<Queued>) -> (Vec<u8>, StoreOutcome) {
        let pages = (q.folio.len() / PAGE_SIZE) as u64;
        let owns = |m: &HashMap<u64, Arc<Queued>>, o: u64| m.get(&o).is_some_and(|e| Arc::ptr_eq(e, &q));
        let live = {
            let m = lock(&self.inner.queued);
            (q.offset..q.offset + pages).any(|o| owns(&m, o))
        };
        let outcome = if !live {
            StoreOutcome::Superseded
        } else {
            let cache = &self.inner.cache;
            let res = self
                .kick_on_refusal(cache.check_admission())
                .and_then(|()| self.kick_on_refusal(cache.compress_folio(&q.folio)));
            match res {
                Ok(objs) => {
                    let mut m = lock(&self.inner.queued);
                    cache.commit(q.offset, objs, |o| owns(&m, o) && m.remove(&o).is_some());
                    self.settle(&m);
                    StoreOutcome::Stored
                }
                Err(reason) => self.reject_queued(&q, reason),
            }
        };
        let folio = Arc::try_unwrap(q).map_or_else(|q| q.folio.clone(), |q| q.folio);
        (folio, outcome)
    }

    /// A refused queued store: the pages still queued go to the swap file (if any), and the
    /// stale entries at their offsets are dropped, as the synchronous path does.
    fn reject_queued(&self, q: &Arc<Queued>, reason: RejectReason) -> StoreOutcome {
        let swap = self.inner.writeback.swap();
        let mut outcome = match swap {
            None => StoreOutcome::Rejected(reason),
            Some(_) => StoreOutcome::SwappedOut(reason),
        };
        let mut m = lock(&self.inner.queued);
        for (o, page) in (q.offset..).zip(q.folio.chunks_exact(PAGE_SIZE)) {
            if !m.get(&o).is_some_and(|e| Arc::ptr_eq(e, q)) {
                continue;
            }
            // The page goes to the swap file before it leaves the map: a load finds it in one.
            if let Some(swap) = swap {
                if let Err(kind) = write_swap(swap, o, page) {
                    outcome = StoreOutcome::SwapFailed(reason, kind);
                }
            }
            m.remove(&o);
            self.inner.cache.invalidate(o);
        }
        self.settle(&m);
        outcome
    }

    /// After a refusal: the folio goes to the swap file, if there is one.
    pub(crate) fn swap_out_rejected(&self, offset: u64, folio: &[u8], reason: RejectReason) -> StoreOutcome {
        match self.inner.writeback.swap() {
            None => StoreOutcome::Rejected(reason),
            Some(swap) => match write_swap(swap, offset, folio) {
                Ok(()) => StoreOutcome::SwappedOut(reason),
                Err(kind) => StoreOutcome::SwapFailed(reason, kind),
            },
        }
    }
}

/// Writes pages to the swap file; a failure as the I/O error kind a `StoreOutcome` carries.
fn write_swap(swap: &crate::writeback::SwapFile, offset: u64, data: &[u8]) -> Result<(), std::io::ErrorKind> {
    swap.write_pages(offset, data).map_err(|e| match e {
        ZswapError::SwapFile { source, .. } => source.kind(),
        _ => std::io::ErrorKind::Other,
    })
}

impl Drop for Zswap {
    fn drop(&mut self) {
        if let Some(h) = self.worker.take() {
            self.inner.writeback.stop();
            let _ = h.join();
        }
    }
}
