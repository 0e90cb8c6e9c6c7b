//! `bench ops`: the raw operations through the runtime, `--batch` pages per call.
//! IAA or software: compress every page (room: one page, as zswap gives), then decompress
//! every compressed page and compare. DSA: copy, CRC32C and same-filled detection of every
//! page, each result checked against software.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use anyhow::{bail, Context as _};
use idxd_emu::device::EmuConfig;
use idxd_runtime::corpus::PAGE;
use idxd_runtime::{AsyncCompressor, Callback, DsaOutput, DsaRequest, ErrorKind, RuntimeBuilder};

use super::measure::{run_phase_with, Phase, Progress, Recorder};
use super::report::runtime_json;
use super::zswap::codec_name;
use super::{Corpus, RunCfg, RunResult};
use crate::rusage::CpuTime;
use crate::spec::Spec;

/// Runs one configuration.
pub fn run(cfg: &RunCfg, corpus: &Corpus, label: &str) -> anyhow::Result<RunResult> {
    if let Some(p) = cfg.spec.profile() {
        if p.kind == idxd_hw::DeviceKind::Dsa {
            return dsa(cfg, corpus, label);
        }
    }
    codec(cfg, corpus, label)
}

/// Each page's compressed bytes, or why not, set once.
type Outputs = Arc<Vec<OnceLock<Result<Vec<u8>, ErrorKind>>>>;

fn calls(pages: usize, batch: usize) -> Vec<Vec<usize>> {
    (0..pages)
        .collect::<Vec<_>>()
        .chunks(batch.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

fn result(cfg: &RunCfg, label: &str, pages: usize, phases: Vec<Phase>) -> RunResult {
    RunResult {
        label: label.to_string(),
        device: cfg.spec.to_string(),
        algorithm: cfg.algorithm_name(),
        folio: cfg.folio.to_string(),
        batch: cfg.batch,
        threads: cfg.threads,
        asynchronous: cfg.asynchronous,
        pages: pages as u64,
        phases,
        ..Default::default()
    }
}

fn codec(cfg: &RunCfg, corpus: &Corpus, label: &str) -> anyhow::Result<RunResult> {
    let rt = cfg.runtime()?;
    let n = corpus.pages();
    let out: Outputs = Arc::new((0..n).map(|_| OnceLock::new()).collect());
    let progress = Progress::new(2 * n as u64, label);
    let batches = calls(n, cfg.batch);
    let units: Vec<usize> = (0..batches.len()).collect();
    let compress = if cfg.asynchronous {
        async_compress(cfg, &rt, corpus, &out, &progress)?
    } else {
        run_phase_with(
            "compress",
            &units,
            cfg.threads,
            &progress,
            || Ok((rt.context(), vec![vec![0u8; PAGE]; cfg.batch])),
            |(ctx, scratch), k| {
                let b = &batches[k];
                let srcs: Vec<&[u8]> = b.iter().map(|&i| corpus.page(i)).collect();
                let mut dsts: Vec<&mut [u8]> = scratch
                    .iter_mut()
                    .take(b.len())
                    .map(|v| v.as_mut_slice())
                    .collect();
                let res = ctx.compress(&srcs, &mut dsts);
                for (j, (r, &i)) in res.into_iter().zip(b).enumerate() {
                    let _ = out[i].set(r.map(|len| dsts[j][..len].to_vec()).map_err(|e| e.kind));
                }
                Ok(b.len() as u64)
            },
        )?
    };
    let ok: Vec<usize> = (0..n).filter(|&i| matches!(out[i].get(), Some(Ok(_)))).collect();
    let dbatches = calls(ok.len(), cfg.batch);
    let dunits: Vec<usize> = (0..dbatches.len()).collect();
    let decompress = run_phase_with(
        "decompress",
        &dunits,
        cfg.threads,
        &progress,
        || Ok((rt.context(), vec![vec![0u8; PAGE]; cfg.batch])),
        |(ctx, scratch), k| {
            let pages: Vec<usize> = dbatches[k].iter().map(|&j| ok[j]).collect();
            let srcs: Vec<&[u8]> = pages
                .iter()
                .map(|&i| match out[i].get() {
                    Some(Ok(v)) => v.as_slice(),
                    _ => &[],
                })
                .collect();
            let mut dsts: Vec<&mut [u8]> = scratch
                .iter_mut()
                .take(pages.len())
                .map(|v| v.as_mut_slice())
                .collect();
            let res = ctx.decompress(&srcs, &mut dsts);
            for ((r, &i), d) in res.into_iter().zip(&pages).zip(&dsts) {
                match r {
                    Ok(PAGE) if &d[..] == corpus.page(i) => {}
                    Ok(len) => bail!("page {i}: decompressed to {len} bytes that differ from the original"),
                    Err(e) => bail!("page {i}: decompress failed: {e}"),
                }
            }
            Ok(pages.len() as u64)
        },
    )?;
    progress.finish();
    let stats = rt.stats();
    let (runtime, fallbacks, errors) = runtime_json(&stats);
    let comp = stats.get(&format!("{}/compress", codec_name(&rt)));
    let mut r = result(cfg, label, n, vec![compress, decompress]);
    r.algorithm = rt.algorithm_name();
    r.ratio = (comp.bytes_out > 0).then(|| comp.bytes_in as f64 / comp.bytes_out as f64);
    let poor = (0..n)
        .filter(|&i| matches!(out[i].get(), Some(Err(ErrorKind::DoesNotFit))))
        .count() as u64;
    let failed = (0..n).filter(|&i| matches!(out[i].get(), Some(Err(_)))).count() as u64 - poor;
    for (k, v) in [("does_not_fit", poor), ("compress_failed", failed)] {
        if v > 0 {
            r.rejects.insert(k.into(), v);
        }
    }
    r.fallbacks = fallbacks;
    r.errors = errors;
    r.runtime = runtime;
    r.device_health = super::report::health_lines(&rt);
    Ok(r)
}

fn async_compress(
    cfg: &RunCfg,
    rt: &idxd_runtime::Runtime,
    corpus: &Corpus,
    out: &Outputs,
    progress: &Progress,
) -> anyhow::Result<Phase> {
    progress.label("compress (async)");
    let n = corpus.pages();
    let rec = Arc::new(Recorder::default());
    let q = AsyncCompressor::new(rt, cfg.threads, 256);
    let mut ctx = rt.context();
    let mut scratch = vec![0u8; PAGE];
    let cpu0 = CpuTime::now();
    let t0 = Instant::now();
    for i in 0..n {
        let (rec, out, progress) = (rec.clone(), out.clone(), progress.clone());
        let start = Instant::now();
        let cb: Callback = Box::new(move |_, r| {
            rec.done(start);
            let _ = out[i].set(r.map_err(|e| e.kind));
            progress.inc(1);
        });
        if let Err((src, cb)) = q.submit(corpus.page(i).to_vec(), PAGE, cb) {
            // The queue is full: compress in the caller, as the kernel does.
            let r = ctx.compress(&[&src], &mut [&mut scratch[..]]);
            let r = r.into_iter().next().context("no result")?;
            cb(src, r.map(|len| scratch[..len].to_vec()));
        }
    }
    q.shutdown();
    Ok(Phase::new(
        "compress",
        n as u64,
        t0.elapsed(),
        rec.take(),
        CpuTime::now().since(&cpu0),
    ))
}

enum DsaDone {
    Crc(u32),
    Same(Option<u64>),
}

fn dsa(cfg: &RunCfg, corpus: &Corpus, label: &str) -> anyhow::Result<RunResult> {
    if cfg.asynchronous {
        bail!("bench ops on a DSA has no asynchronous mode");
    }
    let Spec::Emu { profile } = &cfg.spec else {
        bail!("{} is not an emulated DSA", cfg.spec);
    };
    let rt = RuntimeBuilder::new()
        .dsa_device(idxd_runtime::DeviceSpec::Emulated {
            profile: profile.clone(),
            config: EmuConfig::default(),
        })
        .batch_size(cfg.batch)
        .build()
        .with_context(|| format!("opening {}", cfg.spec))?;
    let n = corpus.pages();
    let batches = calls(n, cfg.batch);
    let units: Vec<usize> = (0..batches.len()).collect();
    let progress = Progress::new(3 * n as u64, label);
    let init = || {
        let c = rt.dsa_context().context("DSA context")?;
        if !c.is_device() {
            bail!("the runtime gave a software DSA context");
        }
        Ok((c, vec![vec![0u8; PAGE]; cfg.batch]))
    };
    let copy = run_phase_with(
        "copy",
        &units,
        cfg.threads,
        &progress,
        init,
        |(ctx, scratch), k| {
            let b = &batches[k];
            let mut reqs: Vec<DsaRequest<'_>> = b
                .iter()
                .zip(scratch.iter_mut())
                .map(|(&i, d)| DsaRequest::Copy {
                    src: corpus.page(i),
                    dst: d.as_mut_slice(),
                })
                .collect();
            let res = ctx.run(&mut reqs);
            drop(reqs);
            for ((r, &i), d) in res.into_iter().zip(b).zip(scratch.iter()) {
                match r {
                    Ok(DsaOutput::Done(PAGE)) if d.as_slice() == corpus.page(i) => {}
                    other => bail!("copy of page {i}: {other:?}"),
                }
            }
            Ok(b.len() as u64)
        },
    )?;
    let got: Vec<OnceLock<DsaDone>> = (0..2 * n).map(|_| OnceLock::new()).collect();
    let crc = run_phase_with("crc32c", &units, cfg.threads, &progress, init, |(ctx, _), k| {
        let b = &batches[k];
        let mut reqs: Vec<DsaRequest<'_>> = b
            .iter()
            .map(|&i| DsaRequest::Crc32c {
                src: corpus.page(i),
                seed: 0,
            })
            .collect();
        for (r, &i) in ctx.run(&mut reqs).into_iter().zip(b) {
            match r {
                Ok(DsaOutput::Crc(c)) => {
                    let _ = got[i].set(DsaDone::Crc(c));
                }
                other => bail!("CRC32C of page {i}: {other:?}"),
            }
        }
        Ok(b.len() as u64)
    })?;
    let same = run_phase_with(
        "same-filled",
        &units,
        cfg.threads,
        &progress,
        init,
        |(ctx, _), k| {
            let b = &batches[k];
            let mut reqs: Vec<DsaRequest<'_>> = b
                .iter()
                .map(|&i| DsaRequest::SameFilled { page: corpus.page(i) })
                .collect();
            for (r, &i) in ctx.run(&mut reqs).into_iter().zip(b) {
                match r {
                    Ok(DsaOutput::SameFilled(v)) => {
                        let _ = got[n + i].set(DsaDone::Same(v));
                    }
                    other => bail!("same-filled check of page {i}: {other:?}"),
                }
            }
            Ok(b.len() as u64)
        },
    )?;
    progress.finish();
    // Check against software, outside the timing.
    let mut soft = RuntimeBuilder::new().build()?.dsa_context()?;
    for i in 0..n {
        let p = corpus.page(i);
        let want = soft.run(&mut [
            DsaRequest::Crc32c { src: p, seed: 0 },
            DsaRequest::SameFilled { page: p },
        ]);
        match (got[i].get(), &want[0]) {
            (Some(DsaDone::Crc(c)), Ok(DsaOutput::Crc(w))) if c == w => {}
            _ => bail!("CRC32C of page {i} differs from software"),
        }
        match (got[n + i].get(), &want[1]) {
            (Some(DsaDone::Same(v)), Ok(DsaOutput::SameFilled(w))) if v == w => {}
            _ => bail!("same-filled result of page {i} differs from software"),
        }
    }
    let mut r = result(cfg, label, n, vec![copy, crc, same]);
    let same_pages = (0..n)
        .filter(|&i| matches!(got[n + i].get(), Some(DsaDone::Same(Some(_)))))
        .count() as u64;
    r.frontend = serde_json::json!({ "same_filled_pages": same_pages });
    Ok(r)
}
