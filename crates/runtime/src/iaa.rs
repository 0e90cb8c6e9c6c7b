//! The IAA codec: deflate on a device (real or emulated), up to N descriptors in flight per
//! context, polled together. Staging buffers, AECS and completion records are the context's own
//! (allocated once, in the device's DMA memory); the WQ lock is taken once per batch to submit
//! and once per polling round to reap.

use std::sync::Arc;
use std::time::Duration;

use idxd_driver::{Abandoned, DmaBuf, DmaPool, DriverError, Record, Ticket, Wq};
use idxd_hw::{
    AecsWrite, AnalyticsError, CompressAecs, CompressFlags, DecompressFlags, EndProcessing, IaaCompletion,
    IaaOp, IaaStatus, Submit,
};

use crate::codec::{Codec, Job};
use crate::error::{ErrorKind, OffloadError};

/// Fixed (the kernel's) or dynamic (IAA 1.0 two-pass) Huffman tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IaaMode {
    /// RFC 1951 fixed codes: one pass.
    Fixed,
    /// Statistics, a software-built length-limited table and header, then the compress pass.
    Dynamic,
}

/// Options of the IAA codec.
#[derive(Clone, Copy, Debug)]
pub struct IaaOptions {
    /// Fixed or dynamic.
    pub mode: IaaMode,
    /// Descriptors in flight per context.
    pub batch: usize,
    /// Largest request handled on the device (larger ones go to software).
    pub max_request: usize,
    /// Decompress every fresh output (output suppressed) and compare CRCs.
    pub verify: bool,
    /// How long to wait for a completion.
    pub timeout: Duration,
}

struct Lane {
    wq: Arc<Wq>,
    src: DmaBuf,
    dst: DmaBuf,
    aecs: DmaBuf,
}

/// One context's view of the device(s).
pub struct IaaCodec {
    name: &'static str,
    opts: IaaOptions,
    /// Compress lanes and decompress lanes (the same WQs unless the runtime splits them).
    comp: Vec<Lane>,
    decomp: Vec<Lane>,
    next: usize,
}

impl IaaCodec {
    /// A codec over `comp_wqs` (compress) and `decomp_wqs` (decompress), with `opts.batch`
    /// staging lanes spread over each list.
    pub fn new(
        comp_wqs: &[Arc<Wq>],
        decomp_wqs: &[Arc<Wq>],
        opts: IaaOptions,
        start: usize,
    ) -> Result<Self, DriverError> {
        let fixed = CompressAecs::fixed();
        let lanes = |wqs: &[Arc<Wq>]| -> Result<Vec<Lane>, DriverError> {
            let mut pools: Vec<(usize, Arc<DmaPool>)> = Vec::new();
            let mut out = Vec::new();
            for i in 0..opts.batch.max(1) {
                let k = (start + i) % wqs.len();
                let wq = wqs[k].clone();
                let pool = match pools.iter().find(|(j, _)| *j == k) {
                    Some((_, p)) => p.clone(),
                    None => {
                        let per = 2 * opts.max_request + 4096;
                        let p = DmaPool::new(wq.backing().clone(), per * opts.batch.max(1) + 65536, false)?;
                        pools.push((k, p.clone()));
                        p
                    }
                };
                let mut aecs = pool.alloc(2 * idxd_hw::aecs::COMPRESS_AECS_SIZE, 64)?;
                aecs.write(0, fixed.as_bytes())?;
                out.push(Lane {
                    wq,
                    src: pool.alloc(opts.max_request, 64)?,
                    dst: pool.alloc(opts.max_request, 64)?,
                    aecs,
                });
            }
            Ok(out)
        };
        let name = match opts.mode {
            IaaMode::Fixed => "deflate-iaa",
            IaaMode::Dynamic => "deflate-iaa-dynamic",
        };
        Ok(IaaCodec {
            name,
            opts,
            comp: lanes(comp_wqs)?,
            decomp: lanes(decomp_wqs)?,
            next: start,
        })
    }

    fn err(&self, kind: ErrorKind, r: Option<&IaaCompletion>) -> OffloadError {
        OffloadError {
            kind,
            backend: self.name,
            status: r.map(|r| r.status),
            error_code: r.map(|r| r.error_code),
            detail: None,
        }
    }

    /// Requests the device cannot take (the runtime sends them to software when it falls back).
    fn refuse(&self, j: &Job<'_>) -> Option<OffloadError> {
        (j.src.is_empty() || j.dst.is_empty() || j.src.len() > self.opts.max_request).then(|| {
            self.err(ErrorKind::InvalidRequest, None).with_detail(format!(
                "{} bytes in, {} bytes of room (device requests: 1..={} bytes)",
                j.src.len(),
                j.dst.len(),
                self.opts.max_request
            ))
        })
    }

    /// Maps a record to the runtime's error kinds.
    fn classify(&self, r: &IaaCompletion, compress: bool) -> OffloadError {
        let st = r.status().code;
        let kind = match IaaStatus::from_code(st) {
            Some(IaaStatus::AnalyticsError) => match AnalyticsError::from_code(r.error_code) {
                Some(AnalyticsError::CompressOutputOverflow) | Some(AnalyticsError::OutputOverflow) => {
                    ErrorKind::DoesNotFit
                }
                Some(AnalyticsError::DistanceTooFar) => ErrorKind::Unsupported,
                Some(AnalyticsError::Timeout) => ErrorKind::Timeout,
                _ if compress => ErrorKind::InvalidRequest,
                _ => ErrorKind::Corrupt,
            },
            Some(IaaStatus::OutbufOverflow) => ErrorKind::DoesNotFit,
            Some(IaaStatus::PageFaultIr) => ErrorKind::PageFault { addr: r.fault_addr },
            Some(IaaStatus::Watchdog) | Some(IaaStatus::PrsTimeout) => ErrorKind::Timeout,
            Some(IaaStatus::HwErr1) | Some(IaaStatus::HwErrDrb) => ErrorKind::DeviceError,
            _ => ErrorKind::InvalidRequest,
        };
        self.err(kind, Some(r))
    }

    fn driver_err(&self, e: &DriverError) -> OffloadError {
        let kind = match e {
            DriverError::QueueFull { .. } => ErrorKind::QueueFull,
            DriverError::Halted { .. } => ErrorKind::DeviceHalted,
            DriverError::Timeout { .. } => ErrorKind::Timeout,
            DriverError::Build(_) => ErrorKind::InvalidRequest,
            _ => ErrorKind::DeviceError,
        };
        self.err(kind, None).with_detail(e.to_string())
    }

    fn record(&self, c: Result<idxd_driver::Completion, DriverError>) -> Result<IaaCompletion, OffloadError> {
        match c {
            Ok(c) => match c.result {
                Ok(Record::Iaa(r)) => Ok(r),
                Ok(Record::Dsa(_)) => Err(self
                    .err(ErrorKind::InvalidRequest, None)
                    .with_detail("DSA record on an IAA WQ")),
                Err(Abandoned::DeviceHalted) => Err(self.err(ErrorKind::DeviceHalted, None)),
            },
            Err(e) => Err(self.driver_err(&e)),
        }
    }

    /// Submits one op per lane-job pair, grouped by WQ so each WQ is locked once.
    fn submit(&self, lanes: &[Lane], ops: &[(usize, IaaOp)]) -> Vec<Result<Ticket, DriverError>> {
        let mut out: Vec<Option<Result<Ticket, DriverError>>> = (0..ops.len()).map(|_| None).collect();
        let mut done = vec![false; ops.len()];
        for i in 0..ops.len() {
            if done[i] {
                continue;
            }
            let wq = &lanes[ops[i].0].wq;
            let group: Vec<usize> = (i..ops.len())
                .filter(|&k| !done[k] && Arc::ptr_eq(&lanes[ops[k].0].wq, wq))
                .collect();
            let batch: Vec<IaaOp> = group.iter().map(|&k| ops[k].1).collect();
            for (k, r) in group.iter().zip(wq.submit_iaa_many(&batch, &Submit::default())) {
                done[*k] = true;
                out[*k] = Some(r);
            }
        }
        out.into_iter().map(|r| r.expect("every op submitted")).collect()
    }

    /// Submits `ops` (lane, op) and waits for them: one record or error per op, in order.
    fn run_ops(&self, lanes: &[Lane], ops: &[(usize, IaaOp)]) -> Vec<Result<IaaCompletion, OffloadError>> {
        let tickets: Vec<(usize, Result<Ticket, DriverError>)> =
            ops.iter().map(|(l, _)| *l).zip(self.submit(lanes, ops)).collect();
        self.wait(lanes, &tickets)
    }

    /// Copies a successful job's output from the lane's staging buffer into `dst`.
    fn copy_out(&self, lane: &Lane, r: &IaaCompletion, dst: &mut [u8]) -> Result<usize, OffloadError> {
        let n = r.output_size as usize;
        if n > dst.len() {
            return Err(self.err(ErrorKind::DoesNotFit, Some(r)));
        }
        lane.dst
            .read(0, &mut dst[..n])
            .map(|_| n)
            .map_err(|e| self.driver_err(&e))
    }

    fn wait(
        &self,
        lanes: &[Lane],
        tickets: &[(usize, Result<Ticket, DriverError>)],
    ) -> Vec<Result<IaaCompletion, OffloadError>> {
        let mut out: Vec<Option<Result<IaaCompletion, OffloadError>>> =
            (0..tickets.len()).map(|_| None).collect();
        for (i, (lane, t)) in tickets.iter().enumerate() {
            if out[i].is_some() {
                continue;
            }
            let Ok(_) = t else {
                out[i] = Some(Err(self.driver_err(t.as_ref().expect_err("checked"))));
                continue;
            };
            let wq = &lanes[*lane].wq;
            let group: Vec<usize> = (i..tickets.len())
                .filter(|&k| {
                    out[k].is_none() && tickets[k].1.is_ok() && Arc::ptr_eq(&lanes[tickets[k].0].wq, wq)
                })
                .collect();
            let ts: Vec<Ticket> = group
                .iter()
                .map(|&k| *tickets[k].1.as_ref().expect("ok"))
                .collect();
            for (k, c) in group.iter().zip(wq.wait_many(&ts, self.opts.timeout)) {
                out[*k] = Some(self.record(c));
            }
        }
        out.into_iter().map(|r| r.expect("every ticket waited")).collect()
    }
}

impl Codec for IaaCodec {
    fn name(&self) -> &'static str {
        self.name
    }

    fn batch_size(&self) -> usize {
        self.opts.batch
    }

    fn compress(&mut self, jobs: &mut [Job<'_>]) {
        for chunk in jobs.chunks_mut(self.comp.len()) {
            let mut ops = Vec::with_capacity(chunk.len());
            let base = self.next;
            self.next = self.next.wrapping_add(chunk.len());
            for (i, j) in chunk.iter_mut().enumerate() {
                let li = (base + i) % self.comp.len();
                if let Some(e) = self.refuse(j) {
                    j.result = Some(Err(e));
                    continue;
                }
                let lane = &mut self.comp[li];
                let staged = lane.src.write(0, j.src).and_then(|_| match self.opts.mode {
                    IaaMode::Fixed => Ok(()),
                    // The statistics pass starts from an empty AECS.
                    IaaMode::Dynamic => lane.aecs.write(0, CompressAecs::new().as_bytes()),
                });
                if let Err(e) = staged {
                    j.result = Some(Err(self.driver_err(&e)));
                    continue;
                }
                let max_dst = j.dst.len().min(self.opts.max_request) as u32;
                ops.push((
                    i,
                    li,
                    IaaOp::Compress {
                        src: lane.src.iova(),
                        len: j.src.len() as u32,
                        dst: lane.dst.iova(),
                        max_dst,
                        aecs: lane.aecs.iova(),
                        aecs_size: idxd_hw::aecs::COMPRESS_AECS_SIZE as u32,
                        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
                        crc32c: false,
                        aecs_write: AecsWrite::Never,
                        aecs_select: false,
                    },
                ));
            }
            if self.opts.mode == IaaMode::Dynamic {
                ops = self.statistics_pass(chunk, ops);
            }
            let sub: Vec<(usize, IaaOp)> = ops.iter().map(|(_, l, op)| (*l, *op)).collect();
            let records = self.run_ops(&self.comp, &sub);
            let mut verify = Vec::new();
            for ((i, li, _), rec) in ops.iter().zip(records) {
                let j = &mut chunk[*i];
                j.result = Some(match rec {
                    Ok(r) if r.status().code == IaaStatus::Success.code() => {
                        let n = self.copy_out(&self.comp[*li], &r, j.dst);
                        if let Ok(n) = n {
                            verify.push((*i, *li, n, r.crc));
                        }
                        n
                    }
                    Ok(r) => Err(self.classify(&r, true)),
                    Err(e) => Err(e),
                });
            }
            if self.opts.verify && !verify.is_empty() {
                self.verify(chunk, &verify);
            }
        }
    }

    fn decompress(&mut self, jobs: &mut [Job<'_>]) {
        for chunk in jobs.chunks_mut(self.decomp.len()) {
            let mut ops = Vec::with_capacity(chunk.len());
            let base = self.next;
            self.next = self.next.wrapping_add(chunk.len());
            for (i, j) in chunk.iter_mut().enumerate() {
                let li = (base + i) % self.decomp.len();
                if let Some(e) = self.refuse(j) {
                    j.result = Some(Err(e));
                    continue;
                }
                let lane = &mut self.decomp[li];
                if let Err(e) = lane.src.write(0, j.src) {
                    j.result = Some(Err(self.driver_err(&e)));
                    continue;
                }
                let max_dst = j.dst.len().min(self.opts.max_request) as u32;
                ops.push((
                    i,
                    li,
                    IaaOp::Decompress {
                        src: lane.src.iova(),
                        len: j.src.len() as u32,
                        dst: lane.dst.iova(),
                        max_dst,
                        flags: DecompressFlags::empty(),
                        crc32c: false,
                    },
                ));
            }
            let sub: Vec<(usize, IaaOp)> = ops.iter().map(|(_, l, op)| (*l, *op)).collect();
            let records = self.run_ops(&self.decomp, &sub);
            for ((i, li, _), rec) in ops.iter().zip(records) {
                let j = &mut chunk[*i];
                j.result = Some(match rec {
                    Ok(r) if r.status().code == IaaStatus::Success.code() => {
                        self.copy_out(&self.decomp[*li], &r, j.dst)
                    }
                    Ok(r) => Err(self.classify(&r, false)),
                    Err(e) => Err(e),
                });
            }
        }
    }
}

impl IaaCodec {
    /// Dynamic mode, the IAA 1.0 way: a statistics-mode compress job per request on the
    /// device (histograms written back into the lane's AECS), a length-limited Huffman table
    /// and the dynamic block header built in software from them
    /// ([`idxd_emu::engine::aecs_from_statistics`]), written into the AECS for the compress
    /// pass. Returns the compress ops whose statistics pass succeeded; the others get their
    /// error.
    fn statistics_pass(
        &mut self,
        chunk: &mut [Job<'_>],
        ops: Vec<(usize, usize, IaaOp)>,
    ) -> Vec<(usize, usize, IaaOp)> {
        let stats: Vec<(usize, IaaOp)> = ops
            .iter()
            .map(|(_, li, op)| {
                let mut s = *op;
                if let IaaOp::Compress {
                    flags, aecs_write, ..
                } = &mut s
                {
                    *flags = CompressFlags::STATS_MODE.with_end_processing(EndProcessing::Eob);
                    *aecs_write = AecsWrite::Always;
                }
                (*li, s)
            })
            .collect();
        let records = self.run_ops(&self.comp, &stats);
        let mut keep = Vec::with_capacity(ops.len());
        for ((i, li, op), rec) in ops.into_iter().zip(records) {
            let built = match rec {
                Ok(r) if r.status().code == IaaStatus::Success.code() => {
                    let lane = &mut self.comp[li];
                    let mut img = vec![0u8; idxd_hw::aecs::COMPRESS_AECS_SIZE];
                    lane.aecs
                        .read(0, &mut img)
                        .map_err(|e| self.driver_err(&e))
                        .and_then(|_| {
                            CompressAecs::from_bytes(&img).map_err(|e| {
                                self.err(ErrorKind::DeviceError, Some(&r))
                                    .with_detail(e.to_string())
                            })
                        })
                        .and_then(|stats| {
                            let (aecs, _) = idxd_emu::engine::aecs_from_statistics(&stats);
                            self.comp[li]
                                .aecs
                                .write(0, aecs.as_bytes())
                                .map_err(|e| self.driver_err(&e))
                        })
                }
                Ok(r) => Err(self.classify(&r, true)),
                Err(e) => Err(e),
            };
            match built {
                Ok(()) => keep.push((i, li, op)),
                Err(e) => chunk[i].result = Some(Err(e)),
            }
        }
        keep
    }

    /// Verify-after-compress: decompress each fresh output with output suppressed and compare
    /// the CRC of what it would produce with the CRC the compress job reported.
    fn verify(&mut self, chunk: &mut [Job<'_>], items: &[(usize, usize, usize, u32)]) {
        let ops: Vec<(usize, IaaOp)> = items
            .iter()
            .map(|&(_, li, n, _)| {
                let lane = &self.comp[li];
                (
                    li,
                    IaaOp::Decompress {
                        src: lane.dst.iova(),
                        len: n as u32,
                        dst: 0,
                        max_dst: 0,
                        flags: DecompressFlags::SUPPRESS_OUTPUT,
                        crc32c: false,
                    },
                )
            })
            .collect();
        let records = self.run_ops(&self.comp, &ops);
        for (&(i, _, _, crc), rec) in items.iter().zip(records) {
            let bad = match rec {
                Ok(r) if r.status().code == 1 && r.crc == crc => None,
                Ok(r) if r.status().code == 1 => Some(
                    self.err(ErrorKind::Corrupt, Some(&r))
                        .with_detail("verify: CRC of the decompressed output differs"),
                ),
                Ok(r) => Some(
                    self.classify(&r, false)
                        .with_detail("verify-after-compress failed"),
                ),
                Err(e) => Some(e.with_detail("verify-after-compress could not run")),
            };
            if let Some(e) = bad {
                chunk[i].result = Some(Err(e));
            }
        }
    }
}
