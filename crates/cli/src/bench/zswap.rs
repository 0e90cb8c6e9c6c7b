//! `bench zswap`: every folio stored (compressed through the runtime in store batches), then
//! every page of the stored folios loaded and compared with the original.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use idxd_zswap::{AsyncStore, StoreOutcome, Zswap, ZswapConfig, ZswapError};

use super::measure::{run_phase, Phase, Progress, Recorder};
use super::report::runtime_json;
use super::{Corpus, RunCfg, RunResult};
use crate::rusage::CpuTime;

/// Runs one configuration.
pub fn run(cfg: &RunCfg, corpus: &Corpus, label: &str) -> anyhow::Result<RunResult> {
    let rt = cfg.runtime()?;
    let fp = cfg.folio.0;
    let folios = corpus.pages() / fp;
    let pages = folios * fp;
    let zcfg = ZswapConfig {
        // Room for everything: the bench measures compression, not the pool limit.
        memory_bytes: ((pages * 4096 * 8) as u64).max(1 << 30),
        max_pool_percent: 50,
        shrinker_enabled: false,
        batch_size: cfg.batch,
        swap_slots: (pages as u64).max(1024),
        ..Default::default()
    };
    let z = Arc::new(Zswap::new(rt.clone(), zcfg, None).context("creating zswap")?);
    let progress = Progress::new(2 * pages as u64, label);
    let stored: Arc<Vec<AtomicBool>> = Arc::new((0..folios).map(|_| AtomicBool::new(false)).collect());
    let units: Vec<usize> = (0..folios).collect();
    let store = if cfg.asynchronous {
        async_store(cfg, corpus, &z, &stored, &progress)?
    } else {
        run_phase("store", &units, cfg.threads, &progress, |k| {
            match z.store((k * fp) as u64, corpus.span(k * fp, fp)) {
                Ok(()) => stored[k].store(true, Ordering::Relaxed),
                Err(ZswapError::Rejected(_)) => {}
                Err(e) => return Err(e).with_context(|| format!("store of folio {k}")),
            }
            Ok(fp as u64)
        })?
    };
    let after_store = z.stats();
    let kept: Vec<usize> = (0..folios)
        .filter(|&k| stored[k].load(Ordering::Relaxed))
        .collect();
    let load = run_phase("load", &kept, cfg.threads, &progress, |k| {
        let mut page = vec![0u8; 4096];
        for i in 0..fp {
            let p = k * fp + i;
            z.load(p as u64, &mut page)
                .with_context(|| format!("load of page {p}"))?;
            if page != corpus.page(p) {
                bail!("page {p} came back different from what was stored");
            }
        }
        Ok(fp as u64)
    })?;
    progress.finish();
    let (runtime, fallbacks, errors) = runtime_json(&rt.stats());
    let comp = rt.stats().get(&format!("{}/compress", codec_name(&rt)));
    let s = after_store;
    let rejects = [
        ("compress_poor", s.reject_compress_poor),
        ("compress_fail", s.reject_compress_fail),
        ("alloc_fail", s.reject_alloc_fail),
        ("pool_limit_hit", s.pool_limit_hit),
    ]
    .into_iter()
    .filter(|(_, v)| *v > 0)
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let frontend: serde_json::Map<String, serde_json::Value> = s
        .fields()
        .iter()
        .map(|(k, v)| (k.to_string(), (*v).into()))
        .collect();
    Ok(RunResult {
        label: label.to_string(),
        device: cfg.spec.to_string(),
        algorithm: rt.algorithm_name(),
        folio: cfg.folio.to_string(),
        batch: cfg.batch,
        threads: cfg.threads,
        asynchronous: cfg.asynchronous,
        pages: pages as u64,
        phases: vec![store, load],
        ratio: (comp.bytes_out > 0).then(|| comp.bytes_in as f64 / comp.bytes_out as f64),
        memory_ratio: (s.pool_total_size > 0)
            .then(|| (s.stored_pages * 4096) as f64 / s.pool_total_size as f64),
        rejects,
        fallbacks,
        errors,
        frontend: frontend.into(),
        runtime,
        device_health: super::report::health_lines(&rt),
    })
}

/// The runtime's codec name (`deflate-iaa`, `zstd`, ...), as its statistics key it.
pub fn codec_name(rt: &idxd_runtime::Runtime) -> String {
    rt.stats()
        .codecs
        .iter()
        .filter_map(|(k, _)| k.strip_suffix("/compress"))
        .find(|k| *k != "fallback")
        .map(str::to_string)
        .unwrap_or_else(|| rt.algorithm_name())
}

/// Stores through the asynchronous queue: latency from submission to callback.
fn async_store(
    cfg: &RunCfg,
    corpus: &Corpus,
    z: &Arc<Zswap>,
    stored: &Arc<Vec<AtomicBool>>,
    progress: &Progress,
) -> anyhow::Result<Phase> {
    let fp = cfg.folio.0;
    let folios = stored.len();
    progress.label("store (async)");
    let rec = Arc::new(Recorder::default());
    let q = AsyncStore::new(z.clone(), cfg.threads, 256).context("starting the asynchronous store")?;
    let cpu0 = CpuTime::now();
    let t0 = Instant::now();
    for k in 0..folios {
        let (rec, stored, progress) = (rec.clone(), stored.clone(), progress.clone());
        let start = Instant::now();
        q.submit(
            (k * fp) as u64,
            corpus.span(k * fp, fp).to_vec(),
            Box::new(move |_, _, outcome| {
                rec.done(start);
                if outcome == StoreOutcome::Stored {
                    stored[k].store(true, Ordering::Relaxed);
                }
                progress.inc(fp as u64);
            }),
        )
        .with_context(|| format!("asynchronous store of folio {k}"))?;
    }
    q.finish();
    let wall = t0.elapsed();
    Ok(Phase::new(
        "store",
        (folios * fp) as u64,
        wall,
        rec.take(),
        CpuTime::now().since(&cpu0),
    ))
}
