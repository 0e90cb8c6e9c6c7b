//! DSA-backed operations through the same per-request-result API: copy, fill, compare,
//! CRC32C and same-filled page detection. With a DSA device each call becomes one batch
//! descriptor (members staged in the context's DMA memory); without one, software does it.

use std::sync::Arc;
use std::time::Duration;

use idxd_driver::{DmaBuf, DmaPool, DriverError, Record, Wq};
use idxd_hw::{CrcSeed, DsaCompletion, DsaOp, DsaStatus, Submit};

use crate::error::{ErrorKind, OffloadError};

/// One DSA request.
pub enum DsaRequest<'a> {
    /// Copy `src` into `dst` (same length).
    Copy {
        /// Source.
        src: &'a [u8],
        /// Destination.
        dst: &'a mut [u8],
    },
    /// Fill `dst` with an 8-byte pattern.
    Fill {
        /// Destination.
        dst: &'a mut [u8],
        /// Pattern.
        pattern: u64,
    },
    /// Compare two buffers of the same length.
    Compare {
        /// First.
        a: &'a [u8],
        /// Second.
        b: &'a [u8],
    },
    /// CRC32C of `src`, continuing from `seed` (0 for a fresh CRC).
    Crc32c {
        /// Source.
        src: &'a [u8],
        /// Seed.
        seed: u32,
    },
    /// Whether a page is one 8-byte value repeated (zram's same-filled pages; zero pages too).
    SameFilled {
        /// The page (a multiple of 8 bytes).
        page: &'a [u8],
    },
}

/// The result of one DSA request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DsaOutput {
    /// Bytes copied or filled.
    Done(usize),
    /// `None` when equal, else the offset of the first difference.
    Compared(Option<usize>),
    /// The CRC32C.
    Crc(u32),
    /// `Some(value)` when the page is that value repeated.
    SameFilled(Option<u64>),
}

fn crc32c_sw(seed: u32, data: &[u8]) -> u32 {
    crc32c::crc32c_append(seed, data)
}

fn software(r: &mut DsaRequest<'_>) -> Result<DsaOutput, OffloadError> {
    let bad = |m: &str| {
        Err(OffloadError::new(ErrorKind::InvalidRequest, "dsa-software").with_detail(m.to_string()))
    };
    match r {
        DsaRequest::Copy { src, dst } => {
            if src.len() != dst.len() {
                return bad("copy: lengths differ");
            }
            dst.copy_from_slice(src);
            Ok(DsaOutput::Done(src.len()))
        }
        DsaRequest::Fill { dst, pattern } => {
            let p = pattern.to_le_bytes();
            for (i, b) in dst.iter_mut().enumerate() {
                *b = p[i % 8];
            }
            Ok(DsaOutput::Done(dst.len()))
        }
        DsaRequest::Compare { a, b } => {
            if a.len() != b.len() {
                return bad("compare: lengths differ");
            }
            Ok(DsaOutput::Compared(
                a.iter().zip(b.iter()).position(|(x, y)| x != y),
            ))
        }
        DsaRequest::Crc32c { src, seed } => Ok(DsaOutput::Crc(crc32c_sw(*seed, src))),
        DsaRequest::SameFilled { page } => {
            if page.is_empty() || page.len() % 8 != 0 {
                return bad("same-filled: length must be a non-zero multiple of 8");
            }
            let first = u64::from_le_bytes(page[..8].try_into().expect("8 bytes"));
            Ok(DsaOutput::SameFilled(
                page.chunks_exact(8)
                    .all(|c| c == first.to_le_bytes())
                    .then_some(first),
            ))
        }
    }
}

/// One request's device memory (two buffers of the context's maximum size).
struct Stage {
    a: DmaBuf,
    b: DmaBuf,
}

/// A per-thread DSA context.
///
/// Each request's staging moves into the WQ with its descriptor (a batch takes all of them)
/// and comes back with the completion; after a timeout it stays with the WQ until the device
/// is done, and later requests take other staging (docs/design.md, "Buffer ownership").
pub struct DsaContext {
    wq: Option<Arc<Wq>>,
    pool: Option<Arc<DmaPool>>,
    spare: Vec<Stage>,
    batch: usize,
    max: usize,
    timeout: Duration,
}

impl DsaContext {
    /// Software only.
    pub fn software() -> Self {
        DsaContext {
            wq: None,
            pool: None,
            spare: Vec::new(),
            batch: 1,
            max: 0,
            timeout: Duration::from_secs(1),
        }
    }

    /// On a DSA WQ, with staging for up to `batch` requests of at most `max` bytes each in
    /// flight (and as many again held by requests given up on).
    pub fn on_device(wq: Arc<Wq>, batch: usize, max: usize, timeout: Duration) -> Result<Self, DriverError> {
        let batch = batch.clamp(1, wq.limits().max_batch.max(1) as usize);
        let max = max.div_ceil(64) * 64;
        let pool = DmaPool::new(wq.backing().clone(), 2 * batch * 2 * max + 4096, false)?;
        Ok(DsaContext {
            wq: Some(wq),
            pool: Some(pool),
            spare: Vec::new(),
            batch,
            max,
            timeout,
        })
    }

    /// Whether a device does the work.
    pub fn is_device(&self) -> bool {
        self.wq.is_some()
    }

    /// Runs every request: one result each, in order.
    pub fn run(&mut self, reqs: &mut [DsaRequest<'_>]) -> Vec<Result<DsaOutput, OffloadError>> {
        let Some(wq) = self.wq.clone() else {
            return reqs.iter_mut().map(software).collect();
        };
        let mut out = Vec::with_capacity(reqs.len());
        for chunk in reqs.chunks_mut(self.batch) {
            out.extend(self.run_chunk(&wq, chunk));
        }
        out
    }

    fn dev_err(kind: ErrorKind, rec: Option<&DsaCompletion>, detail: String) -> OffloadError {
        OffloadError {
            kind,
            backend: "dsa",
            status: rec.map(|r| r.status),
            error_code: None,
            detail: Some(detail),
        }
    }

    fn take_stage(&mut self) -> Result<Stage, DriverError> {
        if let Some(s) = self.spare.pop() {
            return Ok(s);
        }
        let pool = self
            .pool
            .as_ref()
            .ok_or(DriverError::Unsupported("DSA staging without a device"))?;
        Ok(Stage {
            a: pool.alloc(self.max, 64)?,
            b: pool.alloc(self.max, 64)?,
        })
    }

    /// Stages one request: its operation, or why it cannot go to the device.
    fn stage(&self, r: &DsaRequest<'_>, st: &mut Stage) -> Result<DsaOp, OffloadError> {
        let too_big = |n: usize| n == 0 || n > self.max;
        let dev = |e: DriverError| Self::dev_err(ErrorKind::DeviceError, None, e.to_string());
        match r {
            DsaRequest::Copy { src, dst } if src.len() == dst.len() && !too_big(src.len()) => {
                st.a.write(0, src).map_err(dev)?;
                Ok(DsaOp::Memmove {
                    src: st.a.iova(),
                    dst: st.b.iova(),
                    len: src.len() as u32,
                })
            }
            DsaRequest::Fill { dst, pattern } if !too_big(dst.len()) => Ok(DsaOp::Fill {
                pattern: *pattern,
                dst: st.b.iova(),
                len: dst.len() as u32,
            }),
            DsaRequest::Compare { a, b } if a.len() == b.len() && !too_big(a.len()) => {
                st.a.write(0, a).map_err(dev)?;
                st.b.write(0, b).map_err(dev)?;
                Ok(DsaOp::Compare {
                    src1: st.a.iova(),
                    src2: st.b.iova(),
                    len: a.len() as u32,
                    expected: None,
                })
            }
            DsaRequest::Crc32c { src, seed } if !too_big(src.len()) => {
                st.a.write(0, src).map_err(dev)?;
                Ok(DsaOp::CrcGen {
                    src: st.a.iova(),
                    len: src.len() as u32,
                    seed: CrcSeed::Value(*seed),
                })
            }
            DsaRequest::SameFilled { page } if !too_big(page.len()) && page.len() % 8 == 0 => {
                let first = u64::from_le_bytes(page[..8].try_into().expect("8 bytes"));
                st.a.write(0, page).map_err(dev)?;
                Ok(DsaOp::ComparePattern {
                    src: st.a.iova(),
                    pattern: first,
                    len: page.len() as u32,
                    expected: None,
                })
            }
            _ => Err(OffloadError::new(ErrorKind::InvalidRequest, "dsa").with_detail(
                "lengths differ, are zero, are not a multiple of 8, or exceed the staging size",
            )),
        }
    }

    fn run_chunk(
        &mut self,
        wq: &Arc<Wq>,
        reqs: &mut [DsaRequest<'_>],
    ) -> Vec<Result<DsaOutput, OffloadError>> {
        let mut ops = Vec::new();
        let mut idx = Vec::new();
        let mut bufs = Vec::new();
        let mut results: Vec<Option<Result<DsaOutput, OffloadError>>> =
            (0..reqs.len()).map(|_| None).collect();
        for (i, r) in reqs.iter().enumerate() {
            let mut st = match self.take_stage() {
                Ok(s) => s,
                Err(e) => {
                    results[i] = Some(Err(map_driver(&e)));
                    continue;
                }
            };
            match self.stage(r, &mut st) {
                Ok(op) => {
                    ops.push((op, Submit::default()));
                    idx.push(i);
                    bufs.push(st.a);
                    bufs.push(st.b);
                }
                Err(e) => {
                    results[i] = Some(Err(e));
                    self.spare.push(st);
                }
            }
        }
        let abandoned = || Self::dev_err(ErrorKind::DeviceHalted, None, "abandoned by a halt".into());
        let submitted = match ops.len() {
            0 => None,
            1 => Some(wq.submit_dsa(&ops[0].0, &ops[0].1, bufs)),
            _ => Some(wq.submit_batch(&ops, bufs)),
        };
        // Each device request's outcome, and the stages that came back with the completion (in
        // submission order; none when the request was orphaned).
        let (members, stages): (Vec<Result<DsaCompletion, OffloadError>>, Vec<Stage>) = match submitted {
            None => (Vec::new(), Vec::new()),
            Some(Err(rej)) => {
                self.spare.extend(stages_of(rej.buffers));
                (
                    ops.iter().map(|_| Err(map_driver(&rej.error))).collect(),
                    Vec::new(),
                )
            }
            // On a wait error the request is orphaned: its staging stays with the WQ.
            Some(Ok(t)) => match wq.wait(t, self.timeout) {
                Err(e) => (ops.iter().map(|_| Err(map_driver(&e))).collect(), Vec::new()),
                Ok(c) => {
                    let recs: Vec<_> = match (&c.result, ops.len()) {
                        (Ok(Record::Dsa(r)), 1) => vec![Ok(*r)],
                        (Ok(_), _) if c.members.len() == ops.len() => {
                            c.members.iter().map(|m| Ok(*m)).collect()
                        }
                        _ => ops.iter().map(|_| Err(abandoned())).collect(),
                    };
                    (recs, stages_of(c.buffers))
                }
            },
        };
        for (k, m) in members.into_iter().enumerate() {
            let i = idx[k];
            results[i] = Some(m.and_then(|rec| match stages.get(k) {
                Some(st) => Self::finish(st, &mut reqs[i], &rec),
                None => Err(Self::dev_err(
                    ErrorKind::DeviceError,
                    Some(&rec),
                    "staging lost".into(),
                )),
            }));
        }
        self.spare.extend(stages);
        results
            .into_iter()
            .map(|r| r.expect("every request resolved"))
            .collect()
    }

    fn finish(stage: &Stage, r: &mut DsaRequest<'_>, rec: &DsaCompletion) -> Result<DsaOutput, OffloadError> {
        let st = rec.status();
        if st.code != DsaStatus::Success.code() {
            let kind = match DsaStatus::from_code(st.code) {
                Some(DsaStatus::PageFaultNoBof) => ErrorKind::PageFault { addr: rec.fault_addr },
                Some(DsaStatus::HwErr1) | Some(DsaStatus::HwErrDrb) => ErrorKind::DeviceError,
                Some(DsaStatus::None) => ErrorKind::Timeout,
                _ => ErrorKind::InvalidRequest,
            };
            return Err(Self::dev_err(
                kind,
                Some(rec),
                format!("status {:#04x}", rec.status),
            ));
        }
        let dev = |e: DriverError| Self::dev_err(ErrorKind::DeviceError, Some(rec), e.to_string());
        match r {
            DsaRequest::Copy { dst, .. } | DsaRequest::Fill { dst, .. } => {
                stage.b.read(0, dst).map_err(dev)?;
                Ok(DsaOutput::Done(dst.len()))
            }
            DsaRequest::Compare { .. } => Ok(DsaOutput::Compared(
                (rec.result != 0).then_some(rec.bytes_completed as usize),
            )),
            DsaRequest::Crc32c { .. } => Ok(DsaOutput::Crc(rec.crc_val() as u32)),
            DsaRequest::SameFilled { page } => {
                let first = u64::from_le_bytes(page[..8].try_into().expect("8 bytes"));
                Ok(DsaOutput::SameFilled((rec.result == 0).then_some(first)))
            }
        }
    }
}

/// Stages from buffers that came back (a, b, a, b, ...), in order.
fn stages_of(bufs: Vec<DmaBuf>) -> Vec<Stage> {
    let mut it = bufs.into_iter();
    let mut out = Vec::new();
    while let (Some(a), Some(b)) = (it.next(), it.next()) {
        out.push(Stage { a, b });
    }
    out
}

fn map_driver(e: &DriverError) -> OffloadError {
    OffloadError::from_driver(e, "dsa")
}
