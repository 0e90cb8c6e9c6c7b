//! Device counters: descriptors by opcode, completions by status, bytes in and out.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one device, updated by the engines with relaxed atomics.
#[derive(Debug)]
pub struct Counters {
    by_opcode: [AtomicU64; 256],
    by_status: [AtomicU64; 128],
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    swerr: AtomicU64,
    dropped: AtomicU64,
    retries: AtomicU64,
    no_record: AtomicU64,
    corrupted: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            by_opcode: std::array::from_fn(|_| AtomicU64::new(0)),
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            swerr: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            no_record: AtomicU64::new(0),
            corrupted: AtomicU64::new(0),
        }
    }
}

/// A copy of the counters at one moment.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    /// Descriptors accepted, by opcode (only non-zero entries).
    pub by_opcode: Vec<(u8, u64)>,
    /// Completions executed, by status value (only non-zero entries).
    pub by_status: Vec<(u8, u64)>,
    /// Bytes the engines read.
    pub bytes_in: u64,
    /// Bytes the engines wrote (records excluded).
    pub bytes_out: u64,
    /// Software errors recorded (including overflowed ones).
    pub swerr: u64,
    /// Descriptors dropped at the portal (disabled WQ, full dedicated WQ, wrong portal type).
    pub dropped: u64,
    /// ENQCMD submissions answered with "retry".
    pub retries: u64,
    /// Descriptors whose record was deliberately not written (fault injection).
    pub no_record: u64,
    /// Successful operations whose output got one wrong byte (fault injection).
    pub corrupted: u64,
}

impl Counters {
    pub(crate) fn accepted(&self, opcode: u8) {
        self.by_opcode[opcode as usize].fetch_add(1, Relaxed);
    }
    pub(crate) fn completed(&self, status: u8, bytes_in: u64, bytes_out: u64) {
        self.by_status[(status & 0x7f) as usize].fetch_add(1, Relaxed);
        self.bytes_in.fetch_add(bytes_in, Relaxed);
        self.bytes_out.fetch_add(bytes_out, Relaxed);
    }
    pub(crate) fn swerr(&self) {
        self.swerr.fetch_add(1, Relaxed);
    }
    pub(crate) fn dropped(&self) {
        self.dropped.fetch_add(1, Relaxed);
    }
    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }
    pub(crate) fn no_record(&self) {
        self.no_record.fetch_add(1, Relaxed);
    }
    pub(crate) fn corrupted(&self) {
        self.corrupted.fetch_add(1, Relaxed);
    }

    /// Reads every counter.
    pub fn snapshot(&self) -> CounterSnapshot {
        let nz = |a: &[AtomicU64]| -> Vec<(u8, u64)> {
            a.iter()
                .enumerate()
                .map(|(i, c)| (i as u8, c.load(Relaxed)))
                .filter(|(_, c)| *c != 0)
                .collect()
        };
        CounterSnapshot {
            by_opcode: nz(&self.by_opcode),
            by_status: nz(&self.by_status),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            swerr: self.swerr.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            retries: self.retries.load(Relaxed),
            no_record: self.no_record.load(Relaxed),
            corrupted: self.corrupted.load(Relaxed),
        }
    }
}

impl CounterSnapshot {
    /// Completions with status `s`.
    pub fn status(&self, s: u8) -> u64 {
        self.by_status
            .iter()
            .find(|(k, _)| *k == s)
            .map_or(0, |(_, v)| *v)
    }
    /// Descriptors accepted with opcode `op`.
    pub fn opcode(&self, op: u8) -> u64 {
        self.by_opcode
            .iter()
            .find(|(k, _)| *k == op)
            .map_or(0, |(_, v)| *v)
    }
}
