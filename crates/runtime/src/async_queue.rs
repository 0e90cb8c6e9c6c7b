//! The asynchronous mode, in the kcompressd spirit: a bounded queue served by worker threads,
//! each with its own context, completion by callback. A full queue hands the request back so
//! the caller can do it synchronously.

use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Sender, TrySendError};

use crate::builder::Runtime;
use crate::error::OffloadError;

/// Called with the input back and the compressed bytes (or the error).
pub type Callback = Box<dyn FnOnce(Vec<u8>, Result<Vec<u8>, OffloadError>) + Send>;

struct Request {
    src: Vec<u8>,
    max_out: usize,
    cb: Callback,
}

/// A bounded compression queue with worker threads.
pub struct AsyncCompressor {
    tx: Option<Sender<Request>>,
    workers: Vec<JoinHandle<()>>,
    depth: usize,
}

impl std::fmt::Debug for AsyncCompressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncCompressor")
            .field("workers", &self.workers.len())
            .field("depth", &self.depth)
            .finish()
    }
}

impl AsyncCompressor {
    /// `workers` threads (each with its own context) serving a queue of `depth` requests. A
    /// worker takes up to the runtime's batch size of queued requests at once.
    pub fn new(rt: &Runtime, workers: usize, depth: usize) -> Self {
        let depth = depth.max(1);
        let (tx, rx) = bounded::<Request>(depth);
        let batch = rt.batch_size().max(1);
        let workers = (0..workers.max(1))
            .filter_map(|i| {
                let rx = rx.clone();
                let rt = rt.clone();
                std::thread::Builder::new()
                    .name(format!("idxd-async-{i}"))
                    .spawn(move || {
                        let mut ctx = rt.context();
                        while let Ok(first) = rx.recv() {
                            let mut reqs = vec![first];
                            while reqs.len() < batch {
                                match rx.try_recv() {
                                    Ok(r) => reqs.push(r),
                                    Err(_) => break,
                                }
                            }
                            let mut outs: Vec<Vec<u8>> = reqs.iter().map(|r| vec![0u8; r.max_out]).collect();
                            let srcs: Vec<&[u8]> = reqs.iter().map(|r| r.src.as_slice()).collect();
                            let mut dsts: Vec<&mut [u8]> =
                                outs.iter_mut().map(|o| o.as_mut_slice()).collect();
                            let results = ctx.compress(&srcs, &mut dsts);
                            drop(srcs);
                            for ((r, mut out), res) in reqs.into_iter().zip(outs).zip(results) {
                                let res = res.map(|n| {
                                    out.truncate(n);
                                    out
                                });
                                (r.cb)(r.src, res);
                            }
                        }
                    })
                    .ok()
            })
            .collect();
        AsyncCompressor {
            tx: Some(tx),
            workers,
            depth,
        }
    }

    /// Queues `src` for compression into at most `max_out` bytes; `cb` runs on a worker thread.
    /// A full queue returns the request so the caller can run it synchronously.
    pub fn submit(&self, src: Vec<u8>, max_out: usize, cb: Callback) -> Result<(), (Vec<u8>, Callback)> {
        let Some(tx) = &self.tx else {
            return Err((src, cb));
        };
        match tx.try_send(Request { src, max_out, cb }) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(r)) | Err(TrySendError::Disconnected(r)) => Err((r.src, r.cb)),
        }
    }

    /// Requests queued and not yet taken by a worker.
    pub fn queued(&self) -> usize {
        self.tx.as_ref().map_or(0, |t| t.len())
    }

    /// The queue's capacity.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Stops accepting requests, lets the workers finish every queued one, and joins them.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

impl Drop for AsyncCompressor {
    fn drop(&mut self) {
        self.stop();
    }
}
