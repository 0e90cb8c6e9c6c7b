//! `idxd stress`: N pages through zswap, zram or the bare runtime, from several threads, on any
//! device, optionally with faults injected into an emulated device; every page is hashed on its
//! way in and checked on its way back.
//!
//! Each thread takes batches of `--batch` pages in turn. A batch is built from the built-in
//! corpus (cycled, every page stamped with its index so that a page returned for another
//! offset is caught), stored (zswap: one folio; zram: one write; runtime: one compress call)
//! and loaded back (zswap: page by page; zram: one read; runtime: one decompress call). Each
//! thread cycles through its own region of slots, so slots are overwritten again and again
//! while memory stays bounded however many pages run.
//!
//! The run fails (exit status 1) when a page comes back wrong, a request is lost (no outcome,
//! or a stored page is gone), or a batch hangs: a watchdog thread ends the run when a batch
//! has run longer than `--hang-ms`.

mod faults;
mod pages;

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use idxd_emu::device::EmuConfig;
use idxd_runtime::corpus::PAGE;
use idxd_runtime::Runtime;
use idxd_zram::{CodecError, Zram, ZramBuilder, ZramError, SECTOR_SIZE};
use idxd_zswap::{DecodeError, RejectReason, Zswap, ZswapConfig, ZswapError};
use serde::Serialize;

pub use faults::FaultMix;
use pages::{hash, PageGen};

use crate::spec::Spec;
use crate::DeviceArg;

/// Most pages of one run (pages are generated batch by batch, so this bounds time, not memory).
pub const MAX_PAGES: u64 = 1 << 40;

/// Batches each thread's slot region holds before it wraps around.
const REGION_BATCHES: usize = 256;

/// Completion timeout on emulated devices unless --timeout-ms says otherwise: a descriptor
/// whose record never comes costs this long.
const EMU_TIMEOUT_MS: u64 = 10;

/// Which frontend the pages go through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Frontend {
    /// zswap: store a folio, load every page back (exclusive loads).
    Zswap,
    /// zram: write pages, read them back.
    Zram,
    /// The runtime alone: compress a batch, decompress it.
    Runtime,
}

/// `idxd stress`.
#[derive(Args, Debug)]
pub struct StressArgs {
    /// Where the pages go.
    #[arg(long, value_enum, default_value = "zswap", value_name = "zswap|zram|runtime")]
    pub frontend: Frontend,
    #[command(flatten)]
    pub device: DeviceArg,
    /// Pages to run through (each stored and loaded once).
    #[arg(long, default_value_t = 100_000, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=MAX_PAGES))]
    pub pages: u64,
    /// Threads submitting work.
    #[arg(long, default_value_t = 2, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: u16,
    /// Pages per batch (zswap folio, zram write, runtime call).
    #[arg(long, default_value_t = 8, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=512))]
    pub batch: u16,
    /// Faults injected into an emulated device: all=P (every probability kind), page_fault=P,
    /// hardware_error=P, watchdog=P, output_overflow=P, no_completion=P, corrupt_output=P,
    /// slow=P (2 ms), halt=1/N (a halt every N descriptors).
    #[arg(long, value_name = "KIND=P,...")]
    pub faults: Option<FaultMix>,
    /// Seed of the corpus and of the fault draws.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub seed: u64,
    /// A batch running longer than this is a hang (the run fails).
    #[arg(long, default_value_t = 10_000, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub hang_ms: u64,
    /// The runtime's completion timeout (default 10 ms on emulated devices, 1 s otherwise).
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub timeout_ms: Option<u64>,
    /// Skip verify-after-compress (then corrupt_output faults must show as wrong pages).
    #[arg(long = "no-verify")]
    pub no_verify: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// An outcome: (phase, kind).
type Key = (&'static str, &'static str);

/// What one thread saw.
#[derive(Debug, Default)]
struct Tally {
    outcomes: BTreeMap<Key, u64>,
    pages: u64,
    wrong: u64,
    lost: u64,
    hangs: u64,
    batches: u64,
    longest: Duration,
    first_wrong: Option<u64>,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(*k).or_default() += v;
        }
        self.pages += other.pages;
        self.wrong += other.wrong;
        self.lost += other.lost;
        self.hangs += other.hangs;
        self.batches += other.batches;
        self.longest = self.longest.max(other.longest);
        self.first_wrong = match (self.first_wrong, other.first_wrong) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// One batch's outcomes, kept in reused storage.
#[derive(Default)]
struct Batch {
    outcomes: Vec<(Key, u64)>,
    wrong: u64,
    lost: u64,
    first_wrong: Option<u64>,
}

impl Batch {
    fn clear(&mut self) {
        self.outcomes.clear();
        self.wrong = 0;
        self.lost = 0;
        self.first_wrong = None;
    }
    fn out(&mut self, phase: &'static str, kind: &'static str, n: u64) {
        match self.outcomes.iter_mut().find(|(k, _)| *k == (phase, kind)) {
            Some((_, v)) => *v += n,
            None => self.outcomes.push(((phase, kind), n)),
        }
    }
    fn wrong(&mut self, page: u64) {
        self.wrong += 1;
        self.first_wrong.get_or_insert(page);
    }
    fn fold_into(&self, t: &mut Tally) {
        for (k, v) in &self.outcomes {
            *t.outcomes.entry(*k).or_default() += v;
        }
        t.wrong += self.wrong;
        t.lost += self.lost;
        t.first_wrong = t.first_wrong.or(self.first_wrong);
    }
}

enum Front {
    Zswap(Zswap),
    Zram(Box<Zram>),
    Runtime,
}

/// Per-thread buffers, allocated once.
struct Bufs {
    input: Vec<u8>,
    out: Vec<u8>,
    comp: Vec<u8>,
    hashes: Vec<u64>,
    /// zram: the hash of what each slot of the thread's region holds.
    slot_hash: Vec<u64>,
    ok: Vec<(usize, usize)>,
}

fn reject_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::Disabled => "rejected_disabled",
        RejectReason::PoolLimit => "rejected_pool_limit",
        RejectReason::CompressPoor => "rejected_compress_poor",
        RejectReason::CompressFail => "rejected_compress_fail",
        RejectReason::AllocFail => "rejected_alloc_fail",
    }
}

fn zswap_error_name(e: &ZswapError) -> &'static str {
    match e {
        ZswapError::Rejected(r) => reject_name(*r),
        ZswapError::NotFound(_) => "not_found",
        ZswapError::Io { source, .. } => match source {
            DecodeError::Runtime(o) => o.kind.name(),
            DecodeError::NotAPage(_) => "not_a_page",
            DecodeError::NoResult => "no_result",
            DecodeError::Pool(_) => "pool",
        },
        ZswapError::Busy(_) => "busy",
        ZswapError::InvalidLength { .. } => "invalid_length",
        ZswapError::OutOfRange { .. } => "out_of_range",
        _ => "other_error",
    }
}

fn codec_error_name(e: &CodecError) -> &'static str {
    match e {
        CodecError::Runtime(o) => o.kind.name(),
        CodecError::NotAPage(_) => "not_a_page",
        CodecError::NoResult => "no_result",
        CodecError::NoAlgorithm(_) => "no_algorithm",
    }
}

fn zram_error_name(e: &ZramError) -> &'static str {
    match e {
        ZramError::Compress { source, .. } | ZramError::Decompress { source, .. } => codec_error_name(source),
        ZramError::NoMemory => "no_memory",
        ZramError::InvalidIo { .. } => "invalid_io",
        ZramError::Pool(_) => "pool",
        _ => "other_error",
    }
}

/// Everything the runtime's and devices' counters say after the run.
#[derive(Debug, Default, Serialize)]
struct DeviceReport {
    /// Requests the codecs saw (compress and decompress, fallback excluded).
    requests: u64,
    /// Of those, requests redone by the software fallback.
    fallbacks: u64,
    /// Share of requests the device completed itself (None without a device).
    device_share: Option<f64>,
    /// Request errors by kind, as the runtime counted them (before fallback).
    runtime_errors: BTreeMap<String, u64>,
    /// Halts seen and recoveries from them.
    halts: u64,
    recoveries: u64,
    software_errors: u64,
    /// Requests given up on, and how their slots came back.
    orphaned: u64,
    orphans_reaped: u64,
    orphans_released: u64,
    abandoned: u64,
    drains: u64,
    in_flight_at_end: u64,
    /// The emulator's own counts of what it injected (emulated devices only).
    emulator: Option<EmuReport>,
}

#[derive(Debug, Default, Serialize)]
struct EmuReport {
    descriptors: u64,
    /// Completions by status (success excluded), by name.
    error_completions: BTreeMap<String, u64>,
    records_withheld: u64,
    outputs_corrupted: u64,
    software_errors: u64,
}

fn device_report(rt: &Runtime, has_device: bool) -> DeviceReport {
    let mut r = DeviceReport::default();
    for (name, c) in rt.stats().codecs {
        if name.starts_with("fallback/") {
            continue;
        }
        r.requests += c.requests;
        r.fallbacks += c.fallbacks;
        for (k, v) in c.errors {
            *r.runtime_errors.entry(k.to_string()).or_default() += v;
        }
    }
    r.device_share = (has_device && r.requests > 0)
        .then(|| r.requests.saturating_sub(r.fallbacks) as f64 / r.requests as f64);
    for h in rt.health() {
        r.halts += h.halts;
        r.recoveries += h.recoveries;
        r.software_errors += h.software_errors;
        r.orphaned += h.orphaned;
        r.orphans_reaped += h.orphans_reaped;
        r.orphans_released += h.orphans_released;
        r.abandoned += h.abandoned;
        r.drains += h.drains;
        r.in_flight_at_end += h.in_flight;
    }
    for d in rt.devices() {
        if let Some(e) = d.emulated() {
            let c = e.counters();
            let em = r.emulator.get_or_insert_with(EmuReport::default);
            em.descriptors += c.by_opcode.iter().map(|(_, n)| n).sum::<u64>();
            for (st, n) in c.by_status {
                if st == 1 {
                    continue;
                }
                let name = idxd_hw::status::IaaStatus::from_code(st)
                    .map_or_else(|| format!("status {st:#04x}"), |s| s.to_string());
                *em.error_completions.entry(name).or_default() += n;
            }
            em.records_withheld += c.no_record;
            em.outputs_corrupted += c.corrupted;
            em.software_errors += c.swerr;
        }
    }
    r
}

/// The report, text or JSON.
#[derive(Debug, Serialize)]
struct Report {
    frontend: Frontend,
    device: String,
    algorithm: String,
    faults: String,
    pages: u64,
    pages_done: u64,
    threads: u16,
    batch: u16,
    seconds: f64,
    pages_per_second: f64,
    /// Outcomes by phase (store/write/compress, load/read/decompress) and kind.
    outcomes: BTreeMap<String, BTreeMap<String, u64>>,
    wrong_pages: u64,
    first_wrong_page: Option<u64>,
    lost_requests: u64,
    hangs: u64,
    hang_bound_ms: u64,
    longest_batch_ms: f64,
    /// Pages that came back and matched their hash.
    checked_pages: u64,
    device_report: DeviceReport,
    /// Pass: nothing wrong, lost or hung, and pages were checked.
    ok: bool,
    /// Why the run failed.
    failures: Vec<String>,
    /// Why the run stopped early, if it did.
    stopped: Option<String>,
}

impl Report {
    fn print(&self, json: bool) {
        if json {
            if let Err(e) = crate::output::print_json(self) {
                eprintln!("idxd: {e:#}");
            }
            return;
        }
        let d = &self.device_report;
        println!(
            "stress {:?} on {} ({}): {} pages, {} threads, batch {}, faults {}",
            self.frontend, self.device, self.algorithm, self.pages, self.threads, self.batch, self.faults
        );
        println!(
            "  time             {:.1} s ({:.0} pages/s){}",
            self.seconds,
            self.pages_per_second,
            if self.pages_done < self.pages {
                format!(", {} pages done", self.pages_done)
            } else {
                String::new()
            }
        );
        let order = ["store", "write", "compress", "load", "read", "decompress"];
        let mut phases: Vec<_> = self.outcomes.iter().collect();
        phases.sort_by_key(|(p, _)| order.iter().position(|o| o == p));
        for (phase, kinds) in phases {
            let list: Vec<String> = kinds.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("  {phase:<16} {}", list.join(", "));
        }
        println!(
            "  wrong pages      {}{}",
            self.wrong_pages,
            self.first_wrong_page
                .map_or_else(String::new, |p| format!(" (first: page {p})"))
        );
        println!("  lost requests    {}", self.lost_requests);
        println!(
            "  hangs            {} (longest batch {:.1} ms, bound {} ms)",
            self.hangs, self.longest_batch_ms, self.hang_bound_ms
        );
        match d.device_share {
            Some(s) => println!(
                "  device share     {:.2}% of {} requests ({} redone by the fallback)",
                100.0 * s,
                d.requests,
                d.fallbacks
            ),
            None => println!("  device share     - ({} requests, no device)", d.requests),
        }
        if !d.runtime_errors.is_empty() {
            let list: Vec<String> = d.runtime_errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("  runtime errors   {}", list.join(", "));
        }
        println!(
            "  halts            {} halts, {} recoveries, {} software errors, {} requests abandoned",
            d.halts, d.recoveries, d.software_errors, d.abandoned
        );
        println!(
            "  slots recovered  {} orphaned: {} reaped, {} released by {} drains; {} in flight at the end",
            d.orphaned, d.orphans_reaped, d.orphans_released, d.drains, d.in_flight_at_end
        );
        if let Some(e) = &d.emulator {
            let mut list: Vec<String> = e
                .error_completions
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            list.push(format!("records withheld {}", e.records_withheld));
            list.push(format!("outputs corrupted {}", e.outputs_corrupted));
            println!(
                "  emulator         {} descriptors; {}",
                e.descriptors,
                list.join(", ")
            );
        }
        if let Some(s) = &self.stopped {
            println!("  stopped          {s}");
        }
        println!("  checked pages    {}", self.checked_pages);
        if self.ok {
            println!("result: ok (no page wrong, lost or hung)");
        } else {
            println!("result: FAILED ({})", self.failures.join(", "));
        }
    }
}

/// Shared state of a run.
struct Run<'a> {
    a: &'a StressArgs,
    rt: Runtime,
    front: Front,
    gen: PageGen,
    next: AtomicU64,
    stop: AtomicBool,
    /// Per thread: when its current batch started (ms since `t0`, plus 1), 0 when idle.
    busy: Vec<AtomicU64>,
    /// Per thread: the first page of its current batch.
    busy_page: Vec<AtomicU64>,
    tallies: Vec<Mutex<Tally>>,
    region: usize,
    t0: Instant,
}

impl Run<'_> {
    fn ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    fn worker(&self, t: usize) {
        let a = self.a;
        let batch = a.batch as usize;
        let zero_hash = hash(&[0u8; PAGE]);
        let mut b = Bufs {
            input: vec![0; batch * PAGE],
            out: vec![0; batch * PAGE],
            comp: vec![0; batch * PAGE],
            hashes: vec![0; batch],
            slot_hash: if matches!(self.front, Front::Zram(_)) {
                vec![zero_hash; self.region]
            } else {
                Vec::new()
            },
            ok: Vec::with_capacity(batch),
        };
        let mut ctx = matches!(self.front, Front::Runtime).then(|| self.rt.context());
        let mut bt = Batch::default();
        let mut cursor = 0usize;
        let hang = Duration::from_millis(a.hang_ms);
        loop {
            if self.stop.load(Relaxed) {
                break;
            }
            let first = self.next.fetch_add(batch as u64, Relaxed);
            if first >= a.pages {
                break;
            }
            let n = (a.pages - first).min(batch as u64) as usize;
            for j in 0..n {
                let p = &mut b.input[j * PAGE..(j + 1) * PAGE];
                self.gen.fill(first + j as u64, p);
                b.hashes[j] = hash(p);
            }
            let local = cursor;
            cursor = (cursor + batch) % self.region;
            let slot0 = (t * self.region + local) as u64;
            bt.clear();
            self.busy_page[t].store(first, Relaxed);
            self.busy[t].store(self.ms() + 1, Relaxed);
            let start = Instant::now();
            match &self.front {
                Front::Zswap(z) => zswap_batch(z, &mut b, &mut bt, first, slot0, n),
                Front::Zram(z) => zram_batch(z, &mut b, &mut bt, first, slot0, local, n),
                Front::Runtime => {
                    if let Some(ctx) = ctx.as_mut() {
                        runtime_batch(ctx, &mut b, &mut bt, first, n)
                    }
                }
            }
            let took = start.elapsed();
            self.busy[t].store(0, Relaxed);
            let mut tally = self.tallies[t].lock().unwrap_or_else(PoisonError::into_inner);
            bt.fold_into(&mut tally);
            tally.pages += n as u64;
            tally.batches += 1;
            tally.longest = tally.longest.max(took);
            if took > hang {
                tally.hangs += 1;
            }
        }
    }

    /// Watches the workers until `done`; on a batch running past the bound, reports and exits.
    fn watchdog(&self, done: &AtomicBool) {
        let bound = self.a.hang_ms;
        while !done.load(Relaxed) {
            std::thread::sleep(Duration::from_millis(20));
            let now = self.ms() + 1;
            for (t, since) in self.busy.iter().enumerate() {
                let s = since.load(Relaxed);
                if s != 0 && now.saturating_sub(s) > bound {
                    self.stop.store(true, Relaxed);
                    let first = self.busy_page[t].load(Relaxed);
                    let why = format!(
                        "thread {t}'s batch of pages {first}.. has run for {} ms (bound {bound} ms): hang",
                        now - s
                    );
                    let r = self.report(1, Some(why.clone()));
                    r.print(self.a.json);
                    eprintln!("idxd: stress: {why}");
                    std::process::exit(1);
                }
            }
        }
    }

    fn report(&self, extra_hangs: u64, stopped: Option<String>) -> Report {
        let a = self.a;
        let mut t = Tally::default();
        for m in &self.tallies {
            // A worker holds its lock only to fold a batch in; a hung one holds none.
            t.add(&m.lock().unwrap_or_else(PoisonError::into_inner));
        }
        t.hangs += extra_hangs;
        // Every page must have an outcome in the first phase (store, write, compress).
        if stopped.is_none() {
            let first_phase: u64 = t
                .outcomes
                .iter()
                .filter(|((p, _), _)| matches!(*p, "store" | "write" | "compress"))
                .map(|(_, v)| v)
                .sum();
            t.lost += a.pages.saturating_sub(first_phase);
        }
        let secs = self.t0.elapsed().as_secs_f64();
        let mut outcomes: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        for ((p, k), v) in &t.outcomes {
            outcomes
                .entry(p.to_string())
                .or_default()
                .insert(k.to_string(), *v);
        }
        // Pages that made the round trip and matched their hash.
        let checked: u64 = t
            .outcomes
            .iter()
            .filter(|((p, k), _)| matches!(*p, "load" | "read" | "decompress") && *k == "ok")
            .map(|(_, v)| v)
            .sum();
        let mut failures = Vec::new();
        if t.wrong > 0 {
            failures.push(format!("{} wrong pages", t.wrong));
        }
        if t.lost > 0 {
            failures.push(format!("{} lost requests", t.lost));
        }
        if t.hangs > 0 {
            failures.push(format!("{} hangs", t.hangs));
        }
        if checked == 0 {
            // A run that checked nothing proves nothing (a device refusing every request).
            failures.push("no page came back to be checked".into());
        }
        if let Some(s) = &stopped {
            failures.push(format!("stopped: {s}"));
        }
        let ok = failures.is_empty();
        Report {
            frontend: a.frontend,
            device: a.device.device.to_string(),
            algorithm: self.rt.algorithm_name(),
            faults: a
                .faults
                .as_ref()
                .map_or_else(|| "none".into(), ToString::to_string),
            pages: a.pages,
            pages_done: t.pages,
            threads: a.threads,
            batch: a.batch,
            seconds: secs,
            pages_per_second: t.pages as f64 / secs.max(1e-9),
            outcomes,
            wrong_pages: t.wrong,
            first_wrong_page: t.first_wrong,
            lost_requests: t.lost,
            hangs: t.hangs,
            hang_bound_ms: a.hang_ms,
            longest_batch_ms: t.longest.as_secs_f64() * 1e3,
            checked_pages: checked,
            device_report: device_report(&self.rt, !matches!(a.device.device, Spec::Sw { .. })),
            ok,
            failures,
            stopped,
        }
    }
}

fn zswap_batch(z: &Zswap, b: &mut Bufs, bt: &mut Batch, first: u64, slot0: u64, n: usize) {
    let stored = match z.store(slot0, &b.input[..n * PAGE]) {
        Ok(()) => {
            bt.out("store", "stored", n as u64);
            true
        }
        Err(e) => {
            bt.out("store", zswap_error_name(&e), n as u64);
            false
        }
    };
    for j in 0..n {
        let page = &mut b.out[j * PAGE..(j + 1) * PAGE];
        let slot = slot0 + j as u64;
        match z.load(slot, page) {
            Ok(()) if !stored => {
                // A refused folio leaves nothing behind: this is a stale entry.
                bt.out("load", "stale", 1);
                bt.wrong(first + j as u64);
            }
            Ok(()) if hash(page) != b.hashes[j] => {
                bt.out("load", "wrong", 1);
                bt.wrong(first + j as u64);
            }
            Ok(()) => bt.out("load", "ok", 1),
            Err(ZswapError::NotFound(_)) if !stored => bt.out("load", "not_stored", 1),
            Err(ZswapError::NotFound(_)) => {
                bt.out("load", "not_found", 1);
                bt.lost += 1;
            }
            Err(e) => {
                bt.out("load", zswap_error_name(&e), 1);
                // The entry is kept after a failed load: drop it so the slot starts clean.
                z.invalidate(slot);
            }
        }
    }
}

fn zram_batch(z: &Zram, b: &mut Bufs, bt: &mut Batch, first: u64, slot0: u64, local: usize, n: usize) {
    let spp = (PAGE as u64) / SECTOR_SIZE;
    let written = match z.write(slot0 * spp, &b.input[..n * PAGE]) {
        Ok(()) => {
            bt.out("write", "ok", n as u64);
            true
        }
        Err(e) => {
            bt.out("write", zram_error_name(&e), n as u64);
            false
        }
    };
    // One read for the batch; after a failure, page by page, so each page gets its outcome.
    let whole = z.read(slot0 * spp, &mut b.out[..n * PAGE]).is_ok();
    for j in 0..n {
        let page = &mut b.out[j * PAGE..(j + 1) * PAGE];
        if !whole {
            if let Err(e) = z.read((slot0 + j as u64) * spp, page) {
                bt.out("read", zram_error_name(&e), 1);
                if !written {
                    // Unknown content now: whatever comes next is checked against the new page.
                    b.slot_hash[local + j] = b.hashes[j];
                }
                continue;
            }
        }
        let h = hash(page);
        if h == b.hashes[j] {
            bt.out("read", "ok", 1);
            b.slot_hash[local + j] = h;
        } else if !written && h == b.slot_hash[local + j] {
            // The write failed before this page: the slot kept what it had.
            bt.out("read", "unchanged", 1);
        } else {
            bt.out("read", "wrong", 1);
            bt.wrong(first + j as u64);
        }
    }
}

fn runtime_batch(ctx: &mut idxd_runtime::Context, b: &mut Bufs, bt: &mut Batch, first: u64, n: usize) {
    let results = {
        let srcs: Vec<&[u8]> = b.input.chunks_exact(PAGE).take(n).collect();
        let mut dsts: Vec<&mut [u8]> = b.comp.chunks_exact_mut(PAGE).take(n).collect();
        ctx.compress(&srcs, &mut dsts)
    };
    if results.len() < n {
        bt.lost += (n - results.len()) as u64;
    }
    b.ok.clear();
    for (j, r) in results.iter().take(n).enumerate() {
        match r {
            Ok(len) if *len > 0 && *len <= PAGE => {
                bt.out("compress", "ok", 1);
                b.ok.push((j, *len));
            }
            Ok(_) => {
                bt.out("compress", "bad_length", 1);
                bt.wrong(first + j as u64);
            }
            Err(e) => bt.out("compress", e.kind.name(), 1),
        }
    }
    if b.ok.is_empty() {
        return;
    }
    let results = {
        let comp = &b.comp;
        let srcs: Vec<&[u8]> =
            b.ok.iter()
                .map(|&(j, len)| &comp[j * PAGE..j * PAGE + len])
                .collect();
        let mut dsts: Vec<&mut [u8]> = b.out.chunks_exact_mut(PAGE).take(srcs.len()).collect();
        ctx.decompress(&srcs, &mut dsts)
    };
    if results.len() < b.ok.len() {
        bt.lost += (b.ok.len() - results.len()) as u64;
    }
    for (k, r) in results.iter().take(b.ok.len()).enumerate() {
        let j = b.ok[k].0;
        match r {
            Ok(len) if *len == PAGE && hash(&b.out[k * PAGE..(k + 1) * PAGE]) == b.hashes[j] => {
                bt.out("decompress", "ok", 1)
            }
            Ok(_) => {
                bt.out("decompress", "wrong", 1);
                bt.wrong(first + j as u64);
            }
            Err(e) => bt.out("decompress", e.kind.name(), 1),
        }
    }
}

fn runtime(a: &StressArgs, faults: &FaultMix) -> anyhow::Result<Runtime> {
    let spec = &a.device.device;
    let timeout = a
        .timeout_ms
        .or(matches!(spec, Spec::Emu { .. }).then_some(EMU_TIMEOUT_MS));
    let emu = EmuConfig {
        inject: faults.inject(a.seed, a.pages),
        ..Default::default()
    };
    let mut b = spec
        .compression_builder(None, emu)?
        .verify(!a.no_verify)
        .batch_size(a.batch as usize);
    if let Some(ms) = timeout {
        b = b.timeout(Duration::from_millis(ms));
    }
    b.build().with_context(|| format!("opening {spec}"))
}

/// `idxd stress`.
pub fn stress(a: &StressArgs) -> anyhow::Result<ExitCode> {
    let faults = a.faults.clone().unwrap_or_default();
    if faults.is_active() && !matches!(a.device.device, Spec::Emu { .. }) {
        bail!(
            "--faults needs an emulated device (emu:iaa-spr): {} cannot be made to fail on purpose",
            a.device.device
        );
    }
    let rt = runtime(a, &faults)?;
    let threads = a.threads as usize;
    let region = a.batch as usize * REGION_BATCHES;
    let slots = (threads * region) as u64;
    let front = match a.frontend {
        Frontend::Zswap => Front::Zswap(
            Zswap::new(
                rt.clone(),
                ZswapConfig {
                    memory_bytes: 1 << 40,
                    max_pool_percent: 100,
                    shrinker_enabled: false,
                    writeback_enabled: false,
                    batch_size: a.batch as usize,
                    swap_slots: slots,
                    ..Default::default()
                },
                None,
            )
            .context("creating zswap")?,
        ),
        Frontend::Zram => Front::Zram(Box::new(
            ZramBuilder::new(slots * PAGE as u64, rt.clone())
                .batch_size(a.batch as usize)
                .build()
                .context("creating the zram device")?,
        )),
        Frontend::Runtime => Front::Runtime,
    };
    let run = Run {
        a,
        rt,
        front,
        gen: PageGen::new(a.seed),
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        busy: (0..threads).map(|_| AtomicU64::new(0)).collect(),
        busy_page: (0..threads).map(|_| AtomicU64::new(0)).collect(),
        tallies: (0..threads).map(|_| Mutex::new(Tally::default())).collect(),
        region,
        t0: Instant::now(),
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let run = &run;
                std::thread::Builder::new()
                    .name(format!("stress-{t}"))
                    .spawn_scoped(s, move || run.worker(t))
                    .context("starting a worker thread")
            })
            .collect::<anyhow::Result<_>>()?;
        let dog = std::thread::Builder::new()
            .name("stress-watchdog".into())
            .spawn_scoped(s, || run.watchdog(&done))
            .context("starting the watchdog thread")?;
        let mut panicked = false;
        for w in workers {
            panicked |= w.join().is_err();
        }
        done.store(true, Relaxed);
        let _ = dog.join();
        if panicked {
            bail!("a worker thread panicked");
        }
        Ok(())
    })?;
    let r = run.report(0, None);
    r.print(a.json);
    Ok(if r.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
