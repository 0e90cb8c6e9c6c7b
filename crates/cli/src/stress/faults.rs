//! `--faults`: the fault mix injected into an emulated device.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use idxd_emu::inject::{Fault, InjectConfig};

/// How long a `slow` descriptor makes its engine wait.
pub const SLOW: Duration = Duration::from_millis(2);

/// Most halts scheduled, whatever --pages says (the emulator looks the schedule up linearly).
pub const MAX_HALTS: u64 = 10_000;

/// Descriptors a page costs at most, for the halt schedule's bound (compress, its verification,
/// decompress, and retries after faults).
pub const DESCRIPTORS_PER_PAGE: u64 = 4;

/// A parsed `--faults` value: probabilities per kind and a halt period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultMix {
    /// Probability of a page fault.
    pub page_fault: f64,
    /// Probability of a hardware error.
    pub hardware_error: f64,
    /// Probability of an engine watchdog timeout.
    pub watchdog: f64,
    /// Probability of an output overflow.
    pub output_overflow: f64,
    /// Probability that no completion record is written.
    pub no_completion: f64,
    /// Probability of one wrong output byte.
    pub corrupt_output: f64,
    /// Probability of a slow engine ([`SLOW`]).
    pub slow: f64,
    /// A halt every this many descriptors.
    pub halt_every: Option<u64>,
}

const KINDS: &str =
    "all, page_fault, hardware_error, watchdog, output_overflow, no_completion, corrupt_output, slow, halt";

impl FaultMix {
    fn probabilities(&self) -> [(&'static str, f64); 7] {
        [
            ("page_fault", self.page_fault),
            ("hardware_error", self.hardware_error),
            ("watchdog", self.watchdog),
            ("output_overflow", self.output_overflow),
            ("no_completion", self.no_completion),
            ("corrupt_output", self.corrupt_output),
            ("slow", self.slow),
        ]
    }

    fn set(&mut self, kind: &str, p: f64) -> Result<(), String> {
        let slot = match kind {
            "page_fault" => &mut self.page_fault,
            "hardware_error" => &mut self.hardware_error,
            "watchdog" => &mut self.watchdog,
            "output_overflow" => &mut self.output_overflow,
            "no_completion" => &mut self.no_completion,
            "corrupt_output" => &mut self.corrupt_output,
            "slow" => &mut self.slow,
            "all" => {
                for k in [
                    "page_fault",
                    "hardware_error",
                    "watchdog",
                    "output_overflow",
                    "no_completion",
                    "corrupt_output",
                    "slow",
                ] {
                    self.set(k, p)?;
                }
                return Ok(());
            }
            other => return Err(format!("unknown fault kind `{other}` ({KINDS})")),
        };
        *slot = p;
        Ok(())
    }

    /// Whether anything is injected.
    pub fn is_active(&self) -> bool {
        self.halt_every.is_some() || self.probabilities().iter().any(|(_, p)| *p > 0.0)
    }

    /// The emulator's configuration for a run of `pages` pages: the probabilities, and halts at
    /// descriptors N, 2N, ... up to [`DESCRIPTORS_PER_PAGE`] per page (at most [`MAX_HALTS`]).
    pub fn inject(&self, seed: u64, pages: u64) -> InjectConfig {
        let schedule = match self.halt_every {
            Some(n) => {
                let bound = pages.saturating_mul(DESCRIPTORS_PER_PAGE);
                let halts = (bound / n).min(MAX_HALTS);
                (1..=halts).map(|k| (k * n, Fault::Halt)).collect()
            }
            None => Vec::new(),
        };
        InjectConfig {
            seed,
            page_fault: self.page_fault,
            hardware_error: self.hardware_error,
            watchdog: self.watchdog,
            output_overflow: self.output_overflow,
            no_completion: self.no_completion,
            corrupt_output: self.corrupt_output,
            slow: (self.slow > 0.0).then_some((self.slow, SLOW)),
            schedule,
        }
    }
}

impl FromStr for FaultMix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut m = FaultMix::default();
        let items: Vec<&str> = s.split(',').map(str::trim).filter(|i| !i.is_empty()).collect();
        if items.is_empty() {
            return Err(format!("no faults in `{s}` (KIND=P,...: {KINDS})"));
        }
        for item in items {
            let Some((k, v)) = item.split_once('=') else {
                return Err(format!("`{item}` is not KIND=P (all=0.01, halt=1/1000)"));
            };
            let (k, v) = (k.trim(), v.trim());
            if k == "halt" {
                let n = v
                    .strip_prefix("1/")
                    .and_then(|n| n.trim().parse::<u64>().ok())
                    .filter(|n| *n >= 2);
                match n {
                    Some(n) => m.halt_every = Some(n),
                    None => {
                        return Err(format!(
                            "halt={v}: a halt period is 1/N with N >= 2 descriptors (halt=1/1000)"
                        ))
                    }
                }
                continue;
            }
            let p = match v.parse::<f64>() {
                Ok(p) if (0.0..=1.0).contains(&p) => p,
                _ => return Err(format!("{k}={v}: a probability is a number from 0 to 1")),
            };
            m.set(k, p)?;
        }
        let sum: f64 = m.probabilities().iter().map(|(_, p)| p).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "the fault probabilities add up to {sum}, more than 1 (one draw per descriptor picks at most one fault)"
            ));
        }
        Ok(m)
    }
}

impl fmt::Display for FaultMix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts: Vec<String> = self
            .probabilities()
            .iter()
            .filter(|(_, p)| *p > 0.0)
            .map(|(k, p)| format!("{k}={p}"))
            .collect();
        if let Some(n) = self.halt_every {
            parts.push(format!("halt=1/{n}"));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mixes_and_refuses_nonsense() {
        let m: FaultMix = "all=0.01,halt=1/1000".parse().unwrap();
        assert_eq!(m.page_fault, 0.01);
        assert_eq!(m.corrupt_output, 0.01);
        assert_eq!(m.slow, 0.01);
        assert_eq!(m.halt_every, Some(1000));
        let c = m.inject(3, 1000);
        assert_eq!(c.schedule.len(), 4, "{:?}", c.schedule);
        assert_eq!(c.schedule[1], (2000, Fault::Halt));
        assert_eq!(c.slow, Some((0.01, SLOW)));
        assert!(c.is_active());
        assert_eq!(m.inject(3, u64::MAX).schedule.len() as u64, MAX_HALTS);
        let m: FaultMix = "page_fault=0.5, slow=0.1".parse().unwrap();
        assert_eq!((m.page_fault, m.slow, m.watchdog), (0.5, 0.1, 0.0));
        assert_eq!(m.to_string(), "page_fault=0.5,slow=0.1");
        for bad in [
            "",
            "all",
            "all=2",
            "all=-1",
            "all=x",
            "frob=0.1",
            "halt=1000",
            "halt=1/1",
            "halt=1/x",
            "halt=2/10",
            "all=0.2",
        ] {
            assert!(bad.parse::<FaultMix>().is_err(), "{bad}");
        }
        assert!(!FaultMix::default().is_active());
    }
}
