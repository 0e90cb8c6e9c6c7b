//! `bench zram`: every folio written to a zram device sized for the corpus (whole pages
//! compressed through the runtime in batches, same-filled pages kept as their value), then
//! read back and compared.

use anyhow::{bail, Context};
use idxd_zram::{ZramBuilder, SECTOR_SIZE};

use super::measure::{run_phase, Progress};
use super::report::runtime_json;
use super::zswap::codec_name;
use super::{Corpus, RunCfg, RunResult};

/// Runs one configuration.
pub fn run(cfg: &RunCfg, corpus: &Corpus, label: &str) -> anyhow::Result<RunResult> {
    if cfg.asynchronous {
        bail!("zram has no asynchronous mode (bench zswap --async, bench ops --async)");
    }
    let rt = cfg.runtime()?;
    let fp = cfg.folio.0;
    let folios = corpus.pages() / fp;
    let pages = folios * fp;
    let zram = ZramBuilder::new((pages * 4096) as u64, rt.clone())
        .batch_size(cfg.batch)
        .build()
        .context("creating the zram device")?;
    let sectors_per_page = 4096 / SECTOR_SIZE as usize;
    let progress = Progress::new(2 * pages as u64, label);
    let units: Vec<usize> = (0..folios).collect();
    let write = run_phase("write", &units, cfg.threads, &progress, |k| {
        zram.write((k * fp * sectors_per_page) as u64, corpus.span(k * fp, fp))
            .with_context(|| format!("write of folio {k}"))?;
        Ok(fp as u64)
    })?;
    let mm = zram.mm_stat();
    let read = run_phase("read", &units, cfg.threads, &progress, |k| {
        let mut buf = vec![0u8; fp * 4096];
        zram.read((k * fp * sectors_per_page) as u64, &mut buf)
            .with_context(|| format!("read of folio {k}"))?;
        if buf != corpus.span(k * fp, fp) {
            bail!("folio {k} came back different from what was written");
        }
        Ok(fp as u64)
    })?;
    progress.finish();
    let io = zram.io_stat();
    let (runtime, fallbacks, errors) = runtime_json(&rt.stats());
    let comp = rt.stats().get(&format!("{}/compress", codec_name(&rt)));
    let rejects = [("huge_pages", mm.huge_pages), ("failed_writes", io.failed_writes)]
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let frontend = serde_json::json!({
        "orig_data_size": mm.orig_data_size,
        "compr_data_size": mm.compr_data_size,
        "mem_used_total": mm.mem_used_total,
        "same_pages": mm.same_pages,
        "huge_pages": mm.huge_pages,
        "failed_reads": io.failed_reads,
        "failed_writes": io.failed_writes,
    });
    Ok(RunResult {
        label: label.to_string(),
        device: cfg.spec.to_string(),
        algorithm: rt.algorithm_name(),
        folio: cfg.folio.to_string(),
        batch: cfg.batch,
        threads: cfg.threads,
        asynchronous: false,
        pages: pages as u64,
        phases: vec![write, read],
        ratio: (comp.bytes_out > 0).then(|| comp.bytes_in as f64 / comp.bytes_out as f64),
        memory_ratio: (mm.mem_used_total > 0).then(|| mm.orig_data_size as f64 / mm.mem_used_total as f64),
        rejects,
        fallbacks,
        errors,
        frontend,
        runtime,
        device_health: super::report::health_lines(&rt),
    })
}
