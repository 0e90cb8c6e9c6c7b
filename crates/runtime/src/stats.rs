//! Statistics per codec (and device): requests, bytes in and out, errors by kind, fallbacks,
//! and a latency histogram. Counters are relaxed atomics updated once per batch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use crate::error::ErrorKind;

/// Latency buckets: bucket `i` counts requests that took [2^i, 2^(i+1)) nanoseconds.
pub const LATENCY_BUCKETS: usize = 40;

/// Live counters of one codec.
#[derive(Debug)]
pub struct CodecStats {
    requests: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    errors: [AtomicU64; 9],
    fallbacks: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS],
}

impl Default for CodecStats {
    fn default() -> Self {
        CodecStats {
            requests: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            errors: std::array::from_fn(|_| AtomicU64::new(0)),
            fallbacks: AtomicU64::new(0),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl CodecStats {
    /// Records a batch: `n` requests, bytes in and out of the successful ones, each request's
    /// latency (the batch's), and the errors.
    pub fn record(&self, n: u64, bytes_in: u64, bytes_out: u64, latency_ns: u64, errors: &[ErrorKind]) {
        self.requests.fetch_add(n, Relaxed);
        self.bytes_in.fetch_add(bytes_in, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
        for e in errors {
            self.errors[e.index()].fetch_add(1, Relaxed);
        }
        let b = (64 - latency_ns.max(1).leading_zeros() as usize - 1).min(LATENCY_BUCKETS - 1);
        self.latency[b].fetch_add(n, Relaxed);
    }

    /// Counts requests that went to the software fallback.
    pub fn fallback(&self, n: u64) {
        self.fallbacks.fetch_add(n, Relaxed);
    }

    fn snapshot(&self) -> CodecSnapshot {
        CodecSnapshot {
            requests: self.requests.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            errors: ErrorKind::ALL
                .iter()
                .map(|k| (k.name(), self.errors[k.index()].load(Relaxed)))
                .filter(|(_, v)| *v != 0)
                .collect(),
            fallbacks: self.fallbacks.load(Relaxed),
            latency_ns_log2: self.latency.iter().map(|c| c.load(Relaxed)).collect(),
        }
    }
}

/// A copy of one codec's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodecSnapshot {
    /// Requests.
    pub requests: u64,
    /// Input bytes of successful requests.
    pub bytes_in: u64,
    /// Output bytes of successful requests.
    pub bytes_out: u64,
    /// Errors by kind name (only non-zero).
    pub errors: Vec<(&'static str, u64)>,
    /// Requests served by the software fallback.
    pub fallbacks: u64,
    /// Latency histogram, log2 nanosecond buckets.
    pub latency_ns_log2: Vec<u64>,
}

impl CodecSnapshot {
    /// Errors of one kind.
    pub fn errors_of(&self, k: ErrorKind) -> u64 {
        self.errors
            .iter()
            .find(|(n, _)| *n == k.name())
            .map_or(0, |(_, v)| *v)
    }

    /// The latency below which `q` (0..=1) of requests fall, in nanoseconds (bucket upper bound).
    pub fn latency_quantile_ns(&self, q: f64) -> u64 {
        let total: u64 = self.latency_ns_log2.iter().sum();
        if total == 0 {
            return 0;
        }
        let want = (q.clamp(0.0, 1.0) * total as f64).ceil() as u64;
        let mut acc = 0;
        for (i, c) in self.latency_ns_log2.iter().enumerate() {
            acc += c;
            if acc >= want.max(1) {
                return 1u64 << (i + 1);
            }
        }
        1u64 << LATENCY_BUCKETS
    }
}

/// Counters of every codec of a runtime.
#[derive(Debug, Default)]
pub struct Stats {
    codecs: Mutex<BTreeMap<String, Arc<CodecStats>>>,
}

impl Stats {
    /// The counters of `name`, created on first use (once per context, not per request).
    pub fn codec(&self, name: &str) -> Arc<CodecStats> {
        self.codecs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Every codec's counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            codecs: self
                .codecs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .map(|(k, v)| (k.clone(), v.snapshot()))
                .collect(),
        }
    }
}

/// Counters of every codec at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// By codec name (`deflate-iaa/compress`, `zstd/decompress`, `fallback/compress`, ...).
    pub codecs: Vec<(String, CodecSnapshot)>,
}

impl StatsSnapshot {
    /// One codec's counters (zero when it never ran).
    pub fn get(&self, name: &str) -> CodecSnapshot {
        self.codecs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
}
