//! Timing: phases run over threads with a latency per unit of work (a folio, or a call),
//! CPU time from getrusage, and a progress bar on stderr for runs longer than a second.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::rusage::CpuTime;

/// Latency percentiles of one phase, in microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Units timed.
    pub samples: usize,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: f64,
    /// 90th percentile.
    pub p90_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Largest.
    pub max_us: f64,
}

impl Latency {
    /// Percentiles of `ns` (sorted here), nearest rank.
    pub fn of(mut ns: Vec<u64>) -> Self {
        if ns.is_empty() {
            return Latency::default();
        }
        ns.sort_unstable();
        let n = ns.len();
        let q = |p: f64| {
            let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
            ns[rank - 1] as f64 / 1e3
        };
        Latency {
            samples: n,
            mean_us: ns.iter().sum::<u64>() as f64 / n as f64 / 1e3,
            p50_us: q(0.50),
            p90_us: q(0.90),
            p99_us: q(0.99),
            p999_us: q(0.999),
            max_us: ns[n - 1] as f64 / 1e3,
        }
    }
}

/// One measured phase (store, load, compress, copy, ...).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Phase {
    /// Its name.
    pub name: String,
    /// Pages processed.
    pub pages: u64,
    /// Bytes processed (uncompressed).
    pub bytes: u64,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Uncompressed GB (1e9 bytes) per second.
    pub gb_per_s: f64,
    /// Pages per second.
    pub pages_per_s: f64,
    /// Per-unit latency (a folio for the frontends, a call for `ops`).
    pub latency: Latency,
    /// User CPU seconds of the whole process (device emulation included).
    pub cpu_user_s: f64,
    /// System CPU seconds.
    pub cpu_sys_s: f64,
    /// (user + system) CPU microseconds per page.
    pub cpu_us_per_page: f64,
}

impl Phase {
    /// Builds the phase's figures.
    pub fn new(name: &str, pages: u64, wall: Duration, lat: Vec<u64>, cpu: CpuTime) -> Self {
        let s = wall.as_secs_f64().max(1e-9);
        let bytes = pages * 4096;
        Phase {
            name: name.to_string(),
            pages,
            bytes,
            seconds: s,
            gb_per_s: bytes as f64 / s / 1e9,
            pages_per_s: pages as f64 / s,
            latency: Latency::of(lat),
            cpu_user_s: cpu.user.as_secs_f64(),
            cpu_sys_s: cpu.sys.as_secs_f64(),
            cpu_us_per_page: if pages == 0 {
                0.0
            } else {
                cpu.total().as_secs_f64() * 1e6 / pages as f64
            },
        }
    }
}

/// A progress bar that appears only on a terminal and only once the run has lasted a second.
/// Clones share the bar.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    tty: bool,
    shown: Arc<AtomicBool>,
}

impl Progress {
    /// `total` units (pages), with `label` in front.
    pub fn new(total: u64, label: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        if let Ok(style) =
            ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} pages ({percent}%), eta {eta}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_string());
        Progress {
            bar,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            shown: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Adds `n` units done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
        if self.tty
            && !self.shown.load(Ordering::Relaxed)
            && self.start.elapsed() > Duration::from_secs(1)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Changes the label (the phase).
    pub fn label(&self, label: &str) {
        self.bar.set_message(label.to_string());
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if self.shown.load(Ordering::Relaxed) {
            self.bar.finish_and_clear();
        }
    }
}

/// Runs `units` units of work over `threads` threads (unit `k` on thread `k % threads`), each
/// timed; `work(k)` returns the pages it processed. The first error stops the phase.
pub fn run_phase<F>(
    name: &str,
    units: &[usize],
    threads: usize,
    progress: &Progress,
    work: F,
) -> anyhow::Result<Phase>
where
    F: Fn(usize) -> anyhow::Result<u64> + Sync,
{
    run_phase_with(name, units, threads, progress, || Ok(()), |_, k| work(k))
}

/// [`run_phase`] with per-thread state made by `init` on each thread (a runtime context).
pub fn run_phase_with<S, I, F>(
    name: &str,
    units: &[usize],
    threads: usize,
    progress: &Progress,
    init: I,
    work: F,
) -> anyhow::Result<Phase>
where
    S: Send,
    I: Fn() -> anyhow::Result<S> + Sync,
    F: Fn(&mut S, usize) -> anyhow::Result<u64> + Sync,
{
    progress.label(name);
    let threads = threads.max(1);
    let failed = AtomicBool::new(false);
    // State first, so that its cost (device contexts, DMA memory) stays out of the timing.
    let states: Vec<S> = (0..threads).map(|_| init()).collect::<anyhow::Result<_>>()?;
    let cpu0 = CpuTime::now();
    let t0 = Instant::now();
    let results: Vec<anyhow::Result<(u64, Vec<u64>)>> = std::thread::scope(|s| {
        let handles: Vec<_> = states
            .into_iter()
            .enumerate()
            .map(|(t, mut state)| {
                let (work, failed) = (&work, &failed);
                s.spawn(move || -> anyhow::Result<(u64, Vec<u64>)> {
                    let mut lat = Vec::with_capacity(units.len() / threads + 1);
                    let mut pages = 0;
                    for &k in units.iter().skip(t).step_by(threads) {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        let start = Instant::now();
                        match work(&mut state, k) {
                            Ok(n) => {
                                lat.push(start.elapsed().as_nanos() as u64);
                                pages += n;
                                progress.inc(n);
                            }
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                    Ok((pages, lat))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow!("a benchmark thread panicked")))
            })
            .collect()
    });
    let wall = t0.elapsed();
    let cpu = CpuTime::now().since(&cpu0);
    let mut pages = 0;
    let mut lat = Vec::new();
    for r in results {
        let (p, l) = r?;
        pages += p;
        lat.extend(l);
    }
    Ok(Phase::new(name, pages, wall, lat, cpu))
}

/// Latencies recorded from callbacks (asynchronous phases).
#[derive(Default)]
pub struct Recorder {
    lat: Mutex<Vec<u64>>,
}

impl Recorder {
    /// Records the time since `start`.
    pub fn done(&self, start: Instant) {
        let ns = start.elapsed().as_nanos() as u64;
        self.lat.lock().unwrap_or_else(|e| e.into_inner()).push(ns);
    }

    /// Every latency recorded.
    pub fn take(&self) -> Vec<u64> {
        std::mem::take(&mut *self.lat.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let l = Latency::of((1..=1000).map(|x| x * 1000).collect());
        assert_eq!(
            (l.p50_us, l.p90_us, l.p99_us, l.max_us),
            (500.0, 900.0, 990.0, 1000.0)
        );
        assert_eq!(Latency::of(vec![]).samples, 0);
        assert_eq!(Latency::of(vec![7000]).p999_us, 7.0);
    }

    #[test]
    fn phases_run_every_unit_once_over_threads() {
        let seen = Mutex::new(Vec::new());
        let units: Vec<usize> = (0..100).collect();
        let p = Progress::new(100, "t");
        let ph = run_phase("x", &units, 3, &p, |k| {
            seen.lock().unwrap().push(k);
            Ok(2)
        })
        .unwrap();
        let mut s = seen.into_inner().unwrap();
        s.sort();
        assert_eq!(s, units);
        assert_eq!((ph.pages, ph.latency.samples), (200, 100));
        let e = run_phase("x", &units, 2, &p, |k| {
            if k == 50 {
                anyhow::bail!("unit 50 failed")
            }
            Ok(1)
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "unit 50 failed");
    }
}
