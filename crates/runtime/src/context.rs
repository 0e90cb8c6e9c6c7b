//! A per-thread context: its codec (with its own device staging, records and library
//! contexts), the software fallback, and the statistics it feeds.

use std::sync::Arc;
use std::time::Instant;

use crate::codec::{Codec, Job};
use crate::error::{ErrorKind, OffloadError};
use crate::software::{inflate_into, DeflateCodec};
use crate::stats::CodecStats;

/// A per-thread context. `Send`, not shared: each thread makes its own.
pub struct Context {
    codec: Option<Box<dyn Codec>>,
    broken: Option<OffloadError>,
    soft: DeflateCodec,
    inflater: flate2::Decompress,
    fallback: bool,
    is_device: bool,
    max_request: usize,
    comp_stats: Arc<CodecStats>,
    decomp_stats: Arc<CodecStats>,
    fb_stats: Arc<CodecStats>,
}

/// Device errors after which a request is worth redoing in software.
///
/// Decompression: every device error, as iaa_crypto does (it falls back to software deflate on
/// any device decompress failure). Software inflate then decides: a page that fits comes back
/// whole (an output overflow, 0x0b, on a page that fits is a device-side failure), and a stream
/// that is really corrupt fails there too, as `Corrupt`. Compression: failures of the device,
/// not of the input (an incompressible page stays `DoesNotFit`: zswap's compress_poor).
fn device_side(k: ErrorKind, decompress: bool) -> bool {
    if decompress {
        return k != ErrorKind::InvalidRequest;
    }
    match k {
        ErrorKind::QueueFull | ErrorKind::DeviceHalted | ErrorKind::Timeout | ErrorKind::DeviceError => true,
        ErrorKind::PageFault { .. } | ErrorKind::Corrupt => true,
        ErrorKind::Unsupported | ErrorKind::DoesNotFit | ErrorKind::InvalidRequest => false,
    }
}

/// The statistics a context feeds.
pub(crate) struct ContextStats {
    pub compress: Arc<CodecStats>,
    pub decompress: Arc<CodecStats>,
    pub fallback: Arc<CodecStats>,
}

impl Context {
    /// A context over `codec` (or, when it could not be set up, one that fails every request
    /// with that error, or redoes it in software when `fallback`).
    pub(crate) fn new(
        codec: Result<Box<dyn Codec>, OffloadError>,
        fallback: bool,
        is_device: bool,
        max_request: usize,
        stats: ContextStats,
    ) -> Self {
        let (codec, broken) = match codec {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e)),
        };
        Context {
            codec,
            broken,
            soft: DeflateCodec::new(1),
            inflater: flate2::Decompress::new(false),
            fallback,
            is_device,
            max_request,
            comp_stats: stats.compress,
            decomp_stats: stats.decompress,
            fb_stats: stats.fallback,
        }
    }

    /// Hands jobs to the codec (or fails them all when it could not be set up).
    fn dispatch(&mut self, jobs: &mut [Job<'_>], decompress: bool) {
        match (&mut self.codec, &self.broken) {
            (Some(c), _) if decompress => c.decompress(jobs),
            (Some(c), _) => c.compress(jobs),
            (None, b) => {
                let e = b
                    .clone()
                    .unwrap_or_else(|| OffloadError::new(ErrorKind::DeviceError, "runtime"));
                jobs.iter_mut().for_each(|j| j.result = Some(Err(e.clone())));
            }
        }
    }

    fn run(
        &mut self,
        srcs: &[&[u8]],
        dsts: &mut [&mut [u8]],
        decompress: bool,
    ) -> Vec<Result<usize, OffloadError>> {
        let n = srcs.len().min(dsts.len());
        let start = Instant::now();
        let mut jobs: Vec<Job<'_>> = srcs
            .iter()
            .zip(dsts.iter_mut())
            .map(|(s, d)| Job::new(s, d))
            .collect();
        // The same refusal whatever the backend: nothing to do, or nowhere to put it.
        for j in jobs.iter_mut() {
            if j.src.is_empty() || j.dst.is_empty() {
                j.result = Some(Err(OffloadError::new(ErrorKind::InvalidRequest, "runtime")
                    .with_detail(format!(
                        "{} bytes in, {} bytes of room",
                        j.src.len(),
                        j.dst.len()
                    ))));
            }
        }
        if jobs.iter().all(|j| j.result.is_none()) {
            self.dispatch(&mut jobs, decompress);
        } else {
            // Only the requests that passed the check go to the codec.
            let mut slots = Vec::new();
            let mut todo: Vec<Job<'_>> = Vec::new();
            for (k, j) in jobs.iter_mut().enumerate() {
                if j.result.is_none() {
                    todo.push(Job::new(j.src, &mut *j.dst));
                    slots.push(k);
                }
            }
            self.dispatch(&mut todo, decompress);
            let done: Vec<_> = todo.into_iter().map(|j| j.result).collect();
            for (k, r) in slots.into_iter().zip(done) {
                jobs[k].result = r;
            }
        }
        let mut fell_back = 0u64;
        if self.is_device && self.fallback {
            for j in jobs.iter_mut() {
                // Beyond the device's staging size: the input, or (decompress) room for output
                // the device could not use.
                let too_big = (j.src.len() > self.max_request && !j.dst.is_empty())
                    || (decompress
                        && j.dst.len() > self.max_request
                        && matches!(&j.result, Some(Err(e)) if e.kind == ErrorKind::DoesNotFit));
                // (A codec that could not be set up reports DeviceError, a device-side kind.)
                let redo = too_big || matches!(&j.result, Some(Err(e)) if device_side(e.kind, decompress));
                if redo {
                    fell_back += 1;
                    j.result = Some(if decompress {
                        inflate_into(&mut self.inflater, j.src, j.dst, "fallback")
                    } else {
                        let mut one = [Job::new(j.src, &mut *j.dst)];
                        self.soft.compress(&mut one);
                        one[0].result.take().expect("software codec sets every result")
                    });
                }
            }
        }
        let results: Vec<Result<usize, OffloadError>> = jobs
            .into_iter()
            .map(|j| {
                j.result
                    .unwrap_or_else(|| Err(OffloadError::new(ErrorKind::InvalidRequest, "runtime")))
            })
            .collect();
        let (mut bin, mut bout) = (0u64, 0u64);
        let mut errs = Vec::new();
        for (r, s) in results.iter().zip(srcs) {
            match r {
                Ok(m) => {
                    bin += s.len() as u64;
                    bout += *m as u64;
                }
                Err(e) => errs.push(e.kind),
            }
        }
        let st = if decompress {
            &self.decomp_stats
        } else {
            &self.comp_stats
        };
        st.record(n as u64, bin, bout, start.elapsed().as_nanos() as u64, &errs);
        if fell_back > 0 {
            st.fallback(fell_back);
            self.fb_stats.record(fell_back, 0, 0, 0, &[]);
        }
        results
    }

    /// Compresses `srcs[i]` into `dsts[i]`: one result per request, in order (the output
    /// length, or the error of that request alone).
    pub fn compress(&mut self, srcs: &[&[u8]], dsts: &mut [&mut [u8]]) -> Vec<Result<usize, OffloadError>> {
        self.run(srcs, dsts, false)
    }

    /// Decompresses `srcs[i]` into `dsts[i]`.
    pub fn decompress(&mut self, srcs: &[&[u8]], dsts: &mut [&mut [u8]]) -> Vec<Result<usize, OffloadError>> {
        self.run(srcs, dsts, true)
    }

    /// The codec's name.
    pub fn codec_name(&self) -> &'static str {
        self.codec.as_ref().map_or("unavailable", |c| c.name())
    }
}
