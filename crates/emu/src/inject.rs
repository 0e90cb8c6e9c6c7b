//! Deterministic fault injection.
//!
//! Every descriptor the device accepts gets a sequence number; whether and how it misbehaves is
//! a pure function of the seed, that number and the configuration, so a run with one submitter
//! is reproducible, and a test can compute what each record must say.

use std::time::Duration;

/// What happens to one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fault {
    /// A page fault reading the source at this byte offset (DSA completes partially, IAA does not).
    PageFault {
        /// Byte offset into the source where the fault hits.
        at_offset: u32,
    },
    /// An uncorrectable hardware error (status 0x20).
    HardwareError,
    /// The engine watchdog fires (IAA status 0x24; DSA reports a hardware error).
    Watchdog,
    /// The output does not fit (IAA compress: analytics error 25; decompress: status 0x0b).
    OutputOverflow,
    /// The descriptor runs but its completion record is never written.
    NoCompletion,
    /// The engine takes this long before running the descriptor.
    Slow(Duration),
    /// The operation succeeds and writes its record, but one byte of its output is wrong (a
    /// silent data error, which verify-after-compress exists to catch).
    CorruptOutput,
    /// The device halts when this descriptor reaches an engine: GENSTS halted, SWERR recorded,
    /// every queued and in-flight descriptor abandoned.
    Halt,
}

/// Per-descriptor probabilities (0.0..=1.0) and an explicit schedule; the schedule wins.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct InjectConfig {
    /// Seed of the decision function.
    pub seed: u64,
    /// Probability of a page fault.
    pub page_fault: f64,
    /// Probability of a hardware error.
    pub hardware_error: f64,
    /// Probability of a watchdog timeout.
    pub watchdog: f64,
    /// Probability of an output overflow (IAA).
    pub output_overflow: f64,
    /// Probability that the record is never written.
    pub no_completion: f64,
    /// Probability that a successful operation's output has one wrong byte.
    pub corrupt_output: f64,
    /// Probability and duration of a slow engine.
    pub slow: Option<(f64, Duration)>,
    /// Explicit faults by descriptor sequence number (0-based, in acceptance order).
    pub schedule: Vec<(u64, Fault)>,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl InjectConfig {
    /// Nothing injected.
    pub fn none() -> Self {
        Self::default()
    }

    /// The fault (if any) for descriptor number `seq` whose source is `src_len` bytes long.
    pub fn decide(&self, seq: u64, src_len: u32) -> Option<Fault> {
        if let Some((_, f)) = self.schedule.iter().find(|(s, _)| *s == seq) {
            return Some(*f);
        }
        let h = splitmix64(self.seed ^ splitmix64(seq));
        // One uniform draw in [0, 1) picks at most one fault; a second picks the offset.
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        let offset = if src_len == 0 {
            0
        } else {
            (splitmix64(h) % src_len as u64) as u32
        };
        let mut edge = 0.0;
        let table = [
            (self.page_fault, Fault::PageFault { at_offset: offset }),
            (self.hardware_error, Fault::HardwareError),
            (self.watchdog, Fault::Watchdog),
            (self.output_overflow, Fault::OutputOverflow),
            (self.no_completion, Fault::NoCompletion),
            (self.corrupt_output, Fault::CorruptOutput),
        ];
        for (p, f) in table {
            edge += p;
            if u < edge {
                return Some(f);
            }
        }
        if let Some((p, d)) = self.slow {
            if u < edge + p {
                return Some(Fault::Slow(d));
            }
        }
        None
    }

    /// Whether anything can ever be injected (lets the hot path skip `decide`).
    pub fn is_active(&self) -> bool {
        !self.schedule.is_empty()
            || self.page_fault > 0.0
            || self.hardware_error > 0.0
            || self.watchdog > 0.0
            || self.output_overflow > 0.0
            || self.no_completion > 0.0
            || self.corrupt_output > 0.0
            || self.slow.is_some_and(|(p, _)| p > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_close_to_the_asked_rates() {
        let c = InjectConfig {
            seed: 7,
            page_fault: 0.1,
            hardware_error: 0.05,
            ..Default::default()
        };
        let a: Vec<_> = (0..10_000).map(|s| c.decide(s, 4096)).collect();
        let b: Vec<_> = (0..10_000).map(|s| c.decide(s, 4096)).collect();
        assert_eq!(a, b);
        let pf = a
            .iter()
            .filter(|f| matches!(f, Some(Fault::PageFault { .. })))
            .count();
        let hw = a
            .iter()
            .filter(|f| matches!(f, Some(Fault::HardwareError)))
            .count();
        assert!((800..1200).contains(&pf), "{pf}");
        assert!((350..650).contains(&hw), "{hw}");
        assert!(a.iter().all(|f| match f {
            Some(Fault::PageFault { at_offset }) => *at_offset < 4096,
            _ => true,
        }));
        let s = InjectConfig {
            schedule: vec![(3, Fault::Halt)],
            ..Default::default()
        };
        assert_eq!(s.decide(3, 1), Some(Fault::Halt));
        assert_eq!(s.decide(4, 1), None);
        assert!(!InjectConfig::none().is_active());
    }
}
