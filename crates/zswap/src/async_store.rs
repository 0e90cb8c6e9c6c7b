//! The asynchronous store (what reviewers asked of kcompressd): the enabled and pool-limit
//! checks run synchronously in the caller, so their answer is known at once; an admitted folio
//! is queued on a bounded FIFO and the call returns; worker threads compress and store it and
//! report the outcome by callback (stored, or refused and written to the swap file). A full
//! FIFO means the caller runs the store itself.
//!
//! Queued folios are visible to the cache (read-your-writes): [`Zswap::load`] and
//! [`Zswap::swap_in`] of a queued page return it (and take it out of the queued store, loads
//! being exclusive), [`Zswap::invalidate`] and newer stores of an offset cancel the queued page
//! there. When a worker runs a store, the enabled and pool-limit checks run again (a refusal
//! counts `pool_limit_hit` and goes to the swap file as a synchronous one does).

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TrySendError};

use crate::error::{ConfigError, ZswapError};
use crate::zswap::{Queued, StoreOutcome, Zswap};

/// Called once per accepted submission with the offset, the folio (given back) and its fate.
pub type StoreCallback = Box<dyn FnOnce(u64, Vec<u8>, StoreOutcome) + Send>;

/// How a submission was handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dispatch {
    /// Queued: the callback runs later on a worker thread.
    Queued,
    /// Refused by the synchronous checks (disabled, pool limit): the folio went to the swap
    /// file and the callback has already run.
    RejectedNow,
    /// The queue was full: the store ran in the caller and the callback has already run.
    Synchronous,
}

struct Job {
    q: Arc<Queued>,
    cb: StoreCallback,
}

impl Job {
    fn run(self, z: &Zswap) {
        let offset = self.q.offset;
        let (folio, outcome) = z.run_queued(self.q);
        (self.cb)(offset, folio, outcome);
    }
}

/// Worker threads and a bounded queue in front of a [`Zswap`].
pub struct AsyncStore {
    zswap: Arc<Zswap>,
    tx: Option<Sender<Job>>,
    workers: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for AsyncStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncStore")
            .field("workers", &self.workers.len())
            .field("queued", &self.queued())
            .finish()
    }
}

impl AsyncStore {
    /// `workers` threads (at least 1) serving a FIFO of `depth` folios (kcompressd: 256).
    pub fn new(zswap: Arc<Zswap>, workers: usize, depth: usize) -> Result<Self, ZswapError> {
        if workers == 0 || depth == 0 {
            return Err(ConfigError::AsyncStore { workers, depth }.into());
        }
        let (tx, rx) = crossbeam_channel::bounded::<Job>(depth);
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let z = Arc::clone(&zswap);
            let rx: Receiver<Job> = rx.clone();
            let name = format!("zswap-async-{i}");
            let h = std::thread::Builder::new()
                .name(name.clone())
                .spawn(move || {
                    for job in rx.iter() {
                        job.run(&z);
                    }
                })
                .map_err(|source| ZswapError::Spawn { name, source })?;
            handles.push(h);
        }
        Ok(AsyncStore {
            zswap,
            tx: Some(tx),
            workers: handles,
        })
    }

    /// The cache behind the queue.
    pub fn zswap(&self) -> &Arc<Zswap> {
        &self.zswap
    }

    /// Folios waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.as_ref().map_or(0, |t| t.len())
    }

    /// Submits a folio. Invalid input (length, offsets) is an error and the callback is
    /// dropped unrun; otherwise the callback runs exactly once.
    pub fn submit(&self, offset: u64, folio: Vec<u8>, cb: StoreCallback) -> Result<Dispatch, ZswapError> {
        let z = &self.zswap;
        let pages = z.check_folio(offset, &folio)?;
        if let Err(reason) = z.admit(offset, pages) {
            // This (newer) folio supersedes what is queued at its offsets.
            z.cancel_queued(offset, pages);
            let outcome = z.swap_out_rejected(offset, &folio, reason);
            cb(offset, folio, outcome);
            return Ok(Dispatch::RejectedNow);
        }
        let job = Job {
            q: z.queue(offset, folio),
            cb,
        };
        let job = match self.tx.as_ref() {
            Some(tx) => match tx.try_send(job) {
                Ok(()) => return Ok(Dispatch::Queued),
                Err(TrySendError::Full(j)) | Err(TrySendError::Disconnected(j)) => j,
            },
            None => job,
        };
        job.run(z);
        Ok(Dispatch::Synchronous)
    }

    /// Waits for every queued folio to complete and stops the workers.
    pub fn finish(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx = None;
        for h in self.workers.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for AsyncStore {
    fn drop(&mut self) {
        self.shutdown();
    }
}
