//! `idxd bench zswap|zram|ops`: throughput (GB/s, pages/s), per-folio latency percentiles,
//! compression ratio, rejects and fallbacks, CPU time per page; `--compare KEY=V1,V2` sweeps.
//!
//! Without `--corpus` the pages come from the runtime's built-in corpus
//! ([`idxd_runtime::corpus::builtin`]): per 100 pages, 15 zero pages, 30 text pages (JSON- and
//! log-like words and numbers), 47 heap-like pages (objects of one size class: header word,
//! pointers, small integers, zero padding) and 8 incompressible pages (random bytes). Its
//! deflate ratio on non-zero pages is within the range of the shared corpus (`py.pages`,
//! `node.pages`: heaps of real Python and Node processes), which the runtime's tests check.

mod measure;
mod ops;
mod plot;
mod report;
mod zram;
mod zswap;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use idxd_emu::device::EmuConfig;
use idxd_runtime::corpus::{self, PAGE};
use idxd_runtime::{Algorithm, IaaMode, Runtime};
use serde::Serialize;

pub use measure::Phase;

use crate::input;
use crate::spec::Spec;
use crate::DeviceArg;

/// Pages of the built-in corpus by default (16 MiB): a run of a few seconds.
pub const DEFAULT_PAGES: usize = 4096;

/// What `bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum What {
    /// zswap store of every folio, then load of every stored page (checked).
    Zswap,
    /// zram write of every folio, then read back (checked).
    Zram,
    /// The raw operations: compress/decompress (IAA, software), copy/CRC32C/same-filled (DSA).
    Ops,
}

/// A folio size: 4k, 16k, 64k, ..., 2m.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Folio(pub usize);

impl FromStr for Folio {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim().to_ascii_lowercase();
        let (num, mult) = match t.strip_suffix('k') {
            Some(n) => (n, 1024),
            None => match t.strip_suffix('m') {
                Some(n) => (n, 1 << 20),
                None => (t.as_str(), 1),
            },
        };
        let bytes = num.parse::<usize>().ok().and_then(|n| n.checked_mul(mult));
        match bytes {
            Some(b) if (PAGE..=2 << 20).contains(&b) && b % PAGE == 0 && (b / PAGE).is_power_of_two() => {
                Ok(Folio(b / PAGE))
            }
            _ => Err(format!(
                "`{s}` is not a folio size (a power of two from 4k to 2m: 4k, 64k, 2m)"
            )),
        }
    }
}

impl fmt::Display for Folio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0 * PAGE;
        if b >= 1 << 20 {
            write!(f, "{}m", b >> 20)
        } else {
            write!(f, "{}k", b >> 10)
        }
    }
}

/// What a `--compare` sweep varies.
#[derive(Clone, Debug, PartialEq)]
pub enum Sweep {
    /// Runtime/frontend batch size.
    Batch(Vec<usize>),
    /// Threads.
    Threads(Vec<usize>),
    /// Folio size.
    Folio(Vec<Folio>),
    /// Device.
    Device(Vec<Spec>),
}

impl FromStr for Sweep {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let Some((key, vals)) = s.split_once('=') else {
            return Err(format!(
                "`{s}` is not a sweep (KEY=V1,V2,...: batch=1,8, threads=1,2, folio=4k,64k, device=emu:iaa-spr,sw:zstd)"
            ));
        };
        let vals: Vec<&str> = vals.split(',').map(str::trim).filter(|v| !v.is_empty()).collect();
        if vals.is_empty() {
            return Err(format!("`{s}`: no values to compare"));
        }
        let nums = |what: &str, max: usize| -> Result<Vec<usize>, String> {
            vals.iter()
                .map(|v| match v.parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => Err(format!("`{v}` is not a {what} (1..={max})")),
                })
                .collect()
        };
        Ok(match key.trim() {
            "batch" => Sweep::Batch(nums("batch size", 512)?),
            "threads" => Sweep::Threads(nums("thread count", 256)?),
            "folio" => Sweep::Folio(vals.iter().map(|v| v.parse()).collect::<Result<_, _>>()?),
            "device" => Sweep::Device(vals.iter().map(|v| v.parse()).collect::<Result<_, _>>()?),
            k => return Err(format!("cannot compare `{k}` (batch, threads, folio or device)")),
        })
    }
}

/// `idxd bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// zswap, zram, or ops.
    #[arg(value_enum, value_name = "zswap|zram|ops")]
    pub what: What,
    #[command(flatten)]
    pub device: DeviceArg,
    /// A `*.pages` file (concatenated 4 KiB pages, as `idxd corpus capture` writes) or a
    /// directory of them; default: the built-in corpus.
    #[arg(long, value_name = "PATH")]
    pub corpus: Option<PathBuf>,
    /// Pages to use: the size of the built-in corpus (default 4096 = 16 MiB), or the first N
    /// pages of --corpus (default: all).
    #[arg(long, value_name = "N")]
    pub pages: Option<usize>,
    /// Folio size for zswap/zram: 4k, 64k, 2m (any power of two in between).
    #[arg(long, default_value = "4k", value_name = "SIZE")]
    pub folio: Folio,
    /// Pages per runtime call (zswap store batch, zram batch, ops call).
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub batch: u16,
    /// Threads submitting work.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Asynchronous stores/compressions (a bounded queue served by --threads workers).
    #[arg(long = "async")]
    pub asynchronous: bool,
    /// Override the compression algorithm (e.g. deflate-iaa-dynamic on an emulated IAA).
    #[arg(long, value_name = "ALG")]
    pub algorithm: Option<Algorithm>,
    /// Skip verify-after-compress (on by default for device codecs, as in iaa_crypto: every
    /// fresh device output is decompressed and its CRC compared).
    #[arg(long = "no-verify")]
    pub no_verify: bool,
    /// Run once per value and print a row each: batch=1,8 | threads=1,2 | folio=4k,64k |
    /// device=emu:iaa-spr,sw:zstd.
    #[arg(long, value_name = "KEY=V1,V2")]
    pub compare: Option<Sweep>,
    /// Write everything measured as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write a bar chart of throughput per run (SVG).
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct RunCfg {
    /// What to measure.
    pub what: What,
    /// The device.
    pub spec: Spec,
    /// Explicit algorithm.
    pub algorithm: Option<Algorithm>,
    /// Folio.
    pub folio: Folio,
    /// Batch.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// Asynchronous.
    pub asynchronous: bool,
    /// Verify mode.
    pub verify: bool,
    /// The row label (`batch=8`), or empty for a single run.
    pub label: String,
}

impl RunCfg {
    /// The runtime this run compresses with.
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        self.spec
            .compression_builder(self.algorithm, EmuConfig::default())?
            .verify(self.verify)
            .batch_size(self.batch)
            .build()
            .with_context(|| format!("opening {}", self.spec))
    }

    /// `deflate-iaa`, `zstd-1`, ... (or the DSA operations).
    pub fn algorithm_name(&self) -> String {
        match (&self.spec, self.algorithm) {
            (Spec::Emu { .. }, _)
                if self
                    .spec
                    .profile()
                    .is_some_and(|p| p.kind == idxd_hw::DeviceKind::Dsa) =>
            {
                "dsa".into()
            }
            (_, Some(a)) => a.to_string(),
            (Spec::Sw { alg }, None) => alg.to_string(),
            (_, None) => Algorithm::Iaa(IaaMode::Fixed).to_string(),
        }
    }
}

/// The pages a run works on, contiguous.
pub struct Corpus {
    /// Concatenated pages.
    pub data: Vec<u8>,
    /// Where they came from.
    pub source: String,
}

impl Corpus {
    /// Pages in the corpus.
    pub fn pages(&self) -> usize {
        self.data.len() / PAGE
    }

    /// Page `i`.
    pub fn page(&self, i: usize) -> &[u8] {
        &self.data[i * PAGE..(i + 1) * PAGE]
    }

    /// Pages `[first, first + n)`.
    pub fn span(&self, first: usize, n: usize) -> &[u8] {
        &self.data[first * PAGE..(first + n) * PAGE]
    }
}

fn load_corpus(path: Option<&Path>, pages: Option<usize>) -> anyhow::Result<Corpus> {
    if pages == Some(0) {
        bail!("--pages must be at least 1");
    }
    // Every size below is checked against the memory limit before anything is allocated.
    let want = match pages {
        Some(n) => Some(input::check_pages_memory("--pages", n as u64, PAGE as u64)?),
        None => None,
    };
    let Some(path) = path else {
        let n = pages.unwrap_or(DEFAULT_PAGES);
        let data: Vec<u8> = corpus::builtin(n, 0x1dd).concat();
        return Ok(Corpus {
            data,
            source: "built-in corpus (15% zero, 30% text, 47% heap-like, 8% random pages)".into(),
        });
    };
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut f: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("{}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "pages"))
            .collect();
        f.sort();
        if f.is_empty() {
            bail!("{}: no *.pages file in the directory", path.display());
        }
        f
    } else {
        vec![path.to_path_buf()]
    };
    let limit = input::memory_limit();
    let mut data = Vec::new();
    for f in &files {
        let have = data.len() as u64;
        let d = match want {
            // Only the pages asked for are read, however long the file.
            Some(w) => input::read_prefix(f, w - have)?,
            None => input::read_bounded(f, limit - have).map_err(|e| {
                e.context(format!(
                    "the corpus is limited to {} in memory (half of this machine's memory, at most {}): pass --pages",
                    input::human_bytes(limit),
                    input::human_bytes(input::MAX_MEMORY_BYTES)
                ))
            })?,
        };
        if d.is_empty() || d.len() % PAGE != 0 {
            bail!(
                "{}: {} bytes is not a whole number of 4 KiB pages",
                f.display(),
                d.len()
            );
        }
        // The first file is the corpus itself (no copy, so the memory limit holds for the peak).
        if data.is_empty() {
            data = d;
        } else {
            data.try_reserve(d.len())
                .with_context(|| format!("cannot allocate {} bytes for the corpus", have + d.len() as u64))?;
            data.extend_from_slice(&d);
        }
        if want.is_some_and(|w| data.len() as u64 >= w) {
            break;
        }
    }
    Ok(Corpus {
        source: path.display().to_string(),
        data,
    })
}

/// Everything one run measured.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunResult {
    /// The row label.
    pub label: String,
    /// Device spec.
    pub device: String,
    /// Algorithm.
    pub algorithm: String,
    /// Folio size.
    pub folio: String,
    /// Batch size.
    pub batch: usize,
    /// Threads.
    pub threads: usize,
    /// Asynchronous mode.
    pub asynchronous: bool,
    /// Pages offered.
    pub pages: u64,
    /// The phases.
    pub phases: Vec<Phase>,
    /// Uncompressed / compressed bytes of what the codec compressed (None without compression).
    pub ratio: Option<f64>,
    /// Uncompressed bytes stored / memory the frontend holds for them (allocator included).
    pub memory_ratio: Option<f64>,
    /// Pages (or folios, for zswap) refused or stored uncompressed, by reason.
    pub rejects: std::collections::BTreeMap<String, u64>,
    /// Requests redone in software after a device failure.
    pub fallbacks: u64,
    /// Errors by kind, from the runtime's counters.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// The frontend's own counters (zswap debugfs, zram mm_stat/io_stat).
    pub frontend: serde_json::Value,
    /// The runtime's counters per codec.
    pub runtime: Vec<report::CodecJson>,
    /// Each device's health (halts, recoveries, requests given up on and how they came back).
    pub device_health: Vec<String>,
}

impl RunResult {
    /// Total rejects.
    pub fn reject_total(&self) -> u64 {
        self.rejects.values().sum()
    }
}

fn configs(a: &BenchArgs) -> Vec<RunCfg> {
    let base = RunCfg {
        what: a.what,
        spec: a.device.device.clone(),
        algorithm: a.algorithm,
        folio: a.folio,
        batch: a.batch as usize,
        threads: a.threads as usize,
        asynchronous: a.asynchronous,
        verify: !a.no_verify,
        label: String::new(),
    };
    let with = |f: &dyn Fn(&mut RunCfg), label: String| {
        let mut c = base.clone();
        f(&mut c);
        c.label = label;
        c
    };
    match &a.compare {
        None => vec![base.clone()],
        Some(Sweep::Batch(v)) => v
            .iter()
            .map(|&b| with(&|c| c.batch = b, format!("batch={b}")))
            .collect(),
        Some(Sweep::Threads(v)) => v
            .iter()
            .map(|&t| with(&|c| c.threads = t, format!("threads={t}")))
            .collect(),
        Some(Sweep::Folio(v)) => v
            .iter()
            .map(|&f| with(&|c| c.folio = f, format!("folio={f}")))
            .collect(),
        Some(Sweep::Device(v)) => v
            .iter()
            .map(|s| with(&|c| c.spec = s.clone(), s.to_string()))
            .collect(),
    }
}

/// `idxd bench`.
pub fn bench(a: &BenchArgs) -> anyhow::Result<ExitCode> {
    // Output paths first: a run is not wasted on a path that cannot be written.
    if let Some(p) = &a.json {
        input::check_writable(p, "--json")?;
    }
    if let Some(p) = &a.plot {
        input::check_writable(p, "--plot")?;
    }
    let corpus = load_corpus(a.corpus.as_deref(), a.pages)?;
    let cfgs = configs(a);
    let mut results = Vec::new();
    for cfg in &cfgs {
        if matches!(cfg.what, What::Zswap | What::Zram) && corpus.pages() < cfg.folio.0 {
            bail!("{} pages is less than one {} folio", corpus.pages(), cfg.folio);
        }
        let label = if cfg.label.is_empty() {
            format!("{:?} {}", cfg.what, cfg.spec).to_lowercase()
        } else {
            cfg.label.clone()
        };
        let r = match cfg.what {
            What::Zswap => zswap::run(cfg, &corpus, &label),
            What::Zram => zram::run(cfg, &corpus, &label),
            What::Ops => ops::run(cfg, &corpus, &label),
        }
        .with_context(|| {
            if cfg.label.is_empty() {
                format!("bench {:?}", cfg.what).to_lowercase()
            } else {
                format!("bench {:?} ({})", cfg.what, cfg.label).to_lowercase()
            }
        })?;
        results.push(r);
    }
    report::print(a, &corpus, &results);
    if let Some(p) = &a.json {
        report::write_json(p, a, &corpus, &results)?;
    }
    if let Some(p) = &a.plot {
        plot::write(p, a, &results)?;
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folio_sizes() {
        assert_eq!("4k".parse::<Folio>().unwrap(), Folio(1));
        assert_eq!("64K".parse::<Folio>().unwrap(), Folio(16));
        assert_eq!("2m".parse::<Folio>().unwrap(), Folio(512));
        assert_eq!(Folio(16).to_string(), "64k");
        assert_eq!(Folio(512).to_string(), "2m");
        for bad in [
            "3k",
            "4m",
            "1k",
            "x",
            "",
            "12k",
            "18014398509481984k",
            "17592186044416m",
        ] {
            assert!(bad.parse::<Folio>().is_err(), "{bad}");
        }
    }

    #[test]
    fn sweeps() {
        assert_eq!("batch=1,8".parse::<Sweep>().unwrap(), Sweep::Batch(vec![1, 8]));
        assert_eq!(
            "threads=1, 2".parse::<Sweep>().unwrap(),
            Sweep::Threads(vec![1, 2])
        );
        assert_eq!(
            "folio=4k,64k".parse::<Sweep>().unwrap(),
            Sweep::Folio(vec![Folio(1), Folio(16)])
        );
        assert!(matches!(
            "device=emu:iaa-spr,sw:lz4".parse::<Sweep>().unwrap(),
            Sweep::Device(v) if v.len() == 2
        ));
        for bad in ["batch", "batch=", "batch=0", "speed=1", "folio=3k", "device=x"] {
            assert!(bad.parse::<Sweep>().is_err(), "{bad}");
        }
    }

    #[test]
    fn corpus_files_must_be_whole_pages() {
        let dir = std::env::temp_dir().join(format!("idxd-cli-corpus-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("a.pages");
        std::fs::write(&f, vec![1u8; 3 * PAGE]).unwrap();
        let c = load_corpus(Some(&f), Some(2)).unwrap();
        assert_eq!(c.pages(), 2);
        assert_eq!(load_corpus(Some(&dir), None).unwrap().pages(), 3);
        std::fs::write(&f, vec![1u8; PAGE + 1]).unwrap();
        assert!(load_corpus(Some(&f), None).is_err());
        assert_eq!(load_corpus(None, Some(10)).unwrap().pages(), 10);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
