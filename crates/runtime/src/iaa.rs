//! The IAA codec: deflate on a device (real or emulated), up to N descriptors in flight per
//! context, polled together.
//!
//! Every request owns its staging (source, destination and AECS buffers in the device's DMA
//! memory) while it is in flight: the staging moves into the WQ at submission and comes back
//! with the completion (docs/design.md, "Buffer ownership"). A request the codec gives up on
//! (timeout) leaves its staging with the WQ until the device is done with it, and the next
//! request takes other staging, so a late write by the device never lands in memory that a
//! newer request uses. Staging is recycled through per-WQ free lists (no zeroing on reuse).

use std::sync::Arc;
use std::time::Duration;

use idxd_driver::{Abandoned, Completion, DmaBuf, DmaPool, DriverError, Record, Rejected, Ticket, Wq};
use idxd_hw::aecs::{Histogram, COMPRESS_AECS_SIZE, HISTOGRAM_SIZE};
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

/// One request's device memory: what it reads, what the device writes, and the AECS.
struct Staging {
    src: DmaBuf,
    dst: DmaBuf,
    aecs: DmaBuf,
}

impl Staging {
    fn into_buffers(self) -> Vec<DmaBuf> {
        vec![self.src, self.dst, self.aecs]
    }

    /// Back from a completion or a refused submission (the order `into_buffers` gave).
    fn from_buffers(mut b: Vec<DmaBuf>) -> Option<Staging> {
        if b.len() != 3 {
            return None;
        }
        let aecs = b.pop()?;
        let dst = b.pop()?;
        let src = b.pop()?;
        Some(Staging { src, dst, aecs })
    }
}

/// One WQ, the DMA pool its staging comes from, and staging not in use.
struct WqLane {
    wq: Arc<Wq>,
    pool: Arc<DmaPool>,
    spare: Vec<Staging>,
}

/// One request of a pass: which job, which lane, the operation and its staging.
struct Item {
    job: usize,
    lane: usize,
    op: IaaOp,
    staging: Staging,
}

/// The end of a pass for one request: the record with the staging back, or an error (the
/// staging then stays with the WQ, or was released).
type Done = (usize, usize, Result<(IaaCompletion, Staging), OffloadError>);

/// One context's view of the device(s).
pub struct IaaCodec {
    name: &'static str,
    opts: IaaOptions,
    /// Compress lanes and decompress lanes (the same WQs unless the runtime splits them).
    comp: Vec<WqLane>,
    decomp: Vec<WqLane>,
    next: usize,
}

/// Which lanes a pass uses.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Compress,
    Decompress,
}

impl IaaCodec {
    /// A codec over `comp_wqs` (compress) and `decomp_wqs` (decompress): one lane per WQ, each
    /// with a DMA pool sized for this context's share of `opts.batch` requests in flight plus
    /// as many again for requests given up on.
    pub fn new(
        comp_wqs: &[Arc<Wq>],
        decomp_wqs: &[Arc<Wq>],
        opts: IaaOptions,
        start: usize,
    ) -> Result<Self, DriverError> {
        let per_wq = |n: usize| opts.batch.max(1).div_ceil(n.max(1));
        let lanes = |wqs: &[Arc<Wq>]| -> Result<Vec<WqLane>, DriverError> {
            let sets = 2 * per_wq(wqs.len()) + 2;
            wqs.iter()
                .map(|wq| {
                    let pool = DmaPool::new(
                        wq.backing().clone(),
                        sets * Self::staging_bytes(opts.max_request) + 4096,
                        false,
                    )?;
                    Ok(WqLane {
                        wq: wq.clone(),
                        pool,
                        spare: Vec::new(),
                    })
                })
                .collect()
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

    fn staging_bytes(max_request: usize) -> usize {
        let round = |n: usize| n.div_ceil(64) * 64;
        2 * round(max_request) + round(2 * COMPRESS_AECS_SIZE)
    }

    fn lanes(&mut self, side: Side) -> &mut Vec<WqLane> {
        match side {
            Side::Compress => &mut self.comp,
            Side::Decompress => &mut self.decomp,
        }
    }

    /// Staging for a new request on `lane`: a spare one, or new memory from the lane's pool
    /// (with the fixed-code AECS in place).
    fn take_staging(&mut self, side: Side, lane: usize) -> Result<Staging, OffloadError> {
        let (max, name) = (self.opts.max_request, self.name);
        let l = &mut self.lanes(side)[lane];
        if let Some(s) = l.spare.pop() {
            return Ok(s);
        }
        // Staging held by requests given up on whose records never came (lost completions):
        // a drain proves the device is done with it and gives it back to the pool.
        if l.pool.free_bytes() < Self::staging_bytes(max) && l.wq.orphans() > 0 {
            let _ = l.wq.drain();
        }
        let fresh = || -> Result<Staging, DriverError> {
            let mut aecs = l.pool.alloc(2 * COMPRESS_AECS_SIZE, 64)?;
            aecs.write(0, CompressAecs::fixed().as_bytes())?;
            Ok(Staging {
                src: l.pool.alloc(max, 64)?,
                dst: l.pool.alloc(max, 64)?,
                aecs,
            })
        };
        fresh().map_err(|e| {
            // Staging is exhausted when requests given up on still hold theirs: no room, as
            // when the WQ itself is full.
            let held = l.wq.orphans();
            let kind = if held > 0 {
                ErrorKind::QueueFull
            } else {
                ErrorKind::of_driver(&e)
            };
            OffloadError::new(kind, name).with_detail(format!(
                "no staging memory on {} ({held} requests given up on still hold theirs): {e}",
                l.wq.name()
            ))
        })
    }

    fn give_back(&mut self, side: Side, lane: usize, s: Staging) {
        self.lanes(side)[lane].spare.push(s);
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

    fn driver_err(&self, e: &DriverError) -> OffloadError {
        OffloadError::from_driver(e, self.name)
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
                Some(AnalyticsError::CompressOutputOverflow) => ErrorKind::DoesNotFit,
                Some(AnalyticsError::DistanceTooFar) => ErrorKind::Unsupported,
                Some(AnalyticsError::Timeout) => ErrorKind::Timeout,
                _ if compress => ErrorKind::InvalidRequest,
                _ => ErrorKind::Corrupt,
            },
            Some(IaaStatus::OutbufOverflow) => ErrorKind::DoesNotFit,
            // QPL hw_status.h: 0x03 read fault, 0x83 write fault (bit 7 is masked off above);
            // QPL touches `fault_addr` and resubmits.
            Some(IaaStatus::PageFault) => ErrorKind::PageFault { addr: r.fault_addr },
            Some(IaaStatus::Watchdog) | Some(IaaStatus::PrsTimeout) => ErrorKind::Timeout,
            Some(IaaStatus::HwErr1) | Some(IaaStatus::HwErrDrb) => ErrorKind::DeviceError,
            _ => ErrorKind::InvalidRequest,
        };
        self.err(kind, Some(r))
    }

    /// A completion's record and staging. An abandoned request (halt) gives its staging back
    /// too: the reset that abandoned it also stopped the device using it.
    fn finish(
        &mut self,
        side: Side,
        lane: usize,
        c: Completion,
    ) -> Result<(IaaCompletion, Staging), OffloadError> {
        let staging = Staging::from_buffers(c.buffers);
        let rec = match c.result {
            Ok(Record::Iaa(r)) => Ok(r),
            Ok(Record::Dsa(_)) => Err(self
                .err(ErrorKind::InvalidRequest, None)
                .with_detail("DSA record on an IAA WQ")),
            Err(Abandoned::DeviceHalted) => Err(self.err(ErrorKind::DeviceHalted, None)),
        };
        match (rec, staging) {
            (Ok(r), Some(s)) => Ok((r, s)),
            (Ok(_), None) => Err(self
                .err(ErrorKind::DeviceError, None)
                .with_detail("a completion came back without its staging")),
            (Err(e), s) => {
                if let Some(s) = s {
                    self.give_back(side, lane, s);
                }
                Err(e)
            }
        }
    }

    /// Submits every item (grouped by WQ, one lock each), then waits for them (one polling
    /// loop per WQ). One result per item, grouped by WQ (each names its job).
    fn run_pass(&mut self, side: Side, items: Vec<Item>) -> Vec<Done> {
        let nlanes = self.lanes(side).len();
        let n = items.len();
        let mut by_lane: Vec<Vec<Item>> = (0..nlanes).map(|_| Vec::new()).collect();
        for it in items {
            let l = it.lane;
            by_lane[l].push(it);
        }
        // Submit on every WQ first, so the engines work while the others are being filled.
        let mut submitted: Vec<Vec<(usize, Result<Ticket, Rejected>)>> = Vec::with_capacity(nlanes);
        for (l, its) in by_lane.into_iter().enumerate() {
            let jobs: Vec<usize> = its.iter().map(|it| it.job).collect();
            let ops: Vec<(IaaOp, Vec<DmaBuf>)> = its
                .into_iter()
                .map(|it| (it.op, it.staging.into_buffers()))
                .collect();
            let wq = self.lanes(side)[l].wq.clone();
            // Slots held by requests given up on: drain to get back those whose records were
            // lost (the others come back by themselves when their records arrive).
            if wq.free_slots() < ops.len() && wq.orphans() > 0 {
                let _ = wq.drain();
            }
            let res = if ops.is_empty() {
                Vec::new()
            } else {
                wq.submit_iaa_many(ops, &Submit::default())
            };
            submitted.push(jobs.into_iter().zip(res).collect());
        }
        let mut done: Vec<Done> = Vec::with_capacity(n);
        for (l, subs) in submitted.into_iter().enumerate() {
            let mut tickets = Vec::new();
            let mut waiting = Vec::new();
            for (job, r) in subs {
                match r {
                    Ok(t) => {
                        tickets.push(t);
                        waiting.push(job);
                    }
                    Err(rej) => {
                        let e = self.driver_err(&rej.error);
                        if let Some(s) = Staging::from_buffers(rej.buffers) {
                            self.give_back(side, l, s);
                        }
                        done.push((job, l, Err(e)));
                    }
                }
            }
            if tickets.is_empty() {
                continue;
            }
            let wq = self.lanes(side)[l].wq.clone();
            for (job, c) in waiting.into_iter().zip(wq.wait_many(tickets, self.opts.timeout)) {
                // On an error the request was orphaned: its staging stays with the WQ.
                let r = c
                    .map_err(|e| self.driver_err(&e))
                    .and_then(|c| self.finish(side, l, c));
                done.push((job, l, r));
            }
        }
        done
    }

    /// Copies a successful job's output out of its staging.
    fn copy_out(&self, s: &Staging, r: &IaaCompletion, dst: &mut [u8]) -> Result<usize, OffloadError> {
        let n = r.output_size as usize;
        if n > dst.len() || n > s.dst.len() {
            return Err(self.err(ErrorKind::DoesNotFit, Some(r)));
        }
        s.dst
            .read(0, &mut dst[..n])
            .map(|_| n)
            .map_err(|e| self.driver_err(&e))
    }

    /// A decompression's record carries the CRC-32 of the output the device produced: the
    /// bytes actually read back must have it. A mismatch (memory that changed between the
    /// device's write and the copy, or a device that reports success over wrong output) fails
    /// the request as `Corrupt`, so the fallback redoes it in software.
    fn check_output_crc(&self, rec: &IaaCompletion, out: &[u8]) -> Result<usize, OffloadError> {
        let got = crc32fast::hash(out);
        if got == rec.crc {
            Ok(out.len())
        } else {
            Err(self.err(ErrorKind::Corrupt, Some(rec)).with_detail(format!(
                "decompressed output has CRC-32 {got:#010x}, the device reported {:#010x}",
                rec.crc
            )))
        }
    }

    /// Takes staging for each job and writes its input; jobs that cannot be staged get their
    /// error. Returns (job, lane, staging).
    fn stage(&mut self, side: Side, jobs: &mut [Job<'_>]) -> Vec<(usize, usize, Staging)> {
        let nlanes = self.lanes(side).len();
        let base = self.next;
        self.next = self.next.wrapping_add(jobs.len());
        let mut out = Vec::with_capacity(jobs.len());
        for (i, j) in jobs.iter_mut().enumerate() {
            if let Some(e) = self.refuse(j) {
                j.result = Some(Err(e));
                continue;
            }
            let lane = (base + i) % nlanes;
            let staged = self
                .take_staging(side, lane)
                .and_then(|mut s| s.src.write(0, j.src).map(|_| s).map_err(|e| self.driver_err(&e)));
            match staged {
                Ok(s) => out.push((i, lane, s)),
                Err(e) => j.result = Some(Err(e)),
            }
        }
        out
    }

    /// The compress pass, or (`stats`) the statistics pass: the histogram goes to the
    /// request's `dst` staging with `max_dst` = 1280 and no AECS is read or written (QPL
    /// `hw_iaa_descriptor_init_statistic_collector`).
    fn compress_op(&self, j: &Job<'_>, s: &Staging, stats: bool) -> IaaOp {
        if stats {
            return IaaOp::Compress {
                src: s.src.iova(),
                len: j.src.len() as u32,
                dst: s.dst.iova(),
                max_dst: HISTOGRAM_SIZE as u32,
                aecs: 0,
                aecs_size: 0,
                // The EOB the compress pass appends is counted.
                flags: CompressFlags::STATS_MODE.with_end_processing(EndProcessing::Eob),
                crc32c: false,
                aecs_write: AecsWrite::Never,
                aecs_select: false,
            };
        }
        IaaOp::Compress {
            src: s.src.iova(),
            len: j.src.len() as u32,
            dst: s.dst.iova(),
            max_dst: j.dst.len().min(self.opts.max_request) as u32,
            aecs: s.aecs.iova(),
            aecs_size: COMPRESS_AECS_SIZE as u32,
            flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
            crc32c: false,
            aecs_write: AecsWrite::Never,
            aecs_select: false,
        }
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
        for chunk in jobs.chunks_mut(self.opts.batch.max(1)) {
            let mut staged = self.stage(Side::Compress, chunk);
            if self.opts.mode == IaaMode::Dynamic {
                staged = self.statistics_pass(chunk, staged);
            }
            let items = staged
                .into_iter()
                .map(|(job, lane, staging)| Item {
                    job,
                    lane,
                    op: self.compress_op(&chunk[job], &staging, false),
                    staging,
                })
                .collect();
            let mut written = Vec::new();
            for (job, lane, r) in self.run_pass(Side::Compress, items) {
                let j = &mut chunk[job];
                match r {
                    Ok((rec, s)) if rec.status().code == IaaStatus::Success.code() => {
                        match self.copy_out(&s, &rec, j.dst) {
                            Ok(n) => {
                                j.result = Some(Ok(n));
                                written.push((job, lane, n, rec.crc, s));
                            }
                            Err(e) => {
                                j.result = Some(Err(e));
                                self.give_back(Side::Compress, lane, s);
                            }
                        }
                    }
                    Ok((rec, s)) => {
                        j.result = Some(Err(self.classify(&rec, true)));
                        self.give_back(Side::Compress, lane, s);
                    }
                    Err(e) => j.result = Some(Err(e)),
                }
            }
            if self.opts.verify && !written.is_empty() {
                self.verify(chunk, written);
            } else {
                for (_, lane, _, _, s) in written {
                    self.give_back(Side::Compress, lane, s);
                }
            }
        }
    }

    fn decompress(&mut self, jobs: &mut [Job<'_>]) {
        for chunk in jobs.chunks_mut(self.opts.batch.max(1)) {
            let items = self
                .stage(Side::Decompress, chunk)
                .into_iter()
                .map(|(job, lane, s)| Item {
                    job,
                    lane,
                    op: IaaOp::Decompress {
                        src: s.src.iova(),
                        len: chunk[job].src.len() as u32,
                        dst: s.dst.iova(),
                        max_dst: chunk[job].dst.len().min(self.opts.max_request) as u32,
                        flags: DecompressFlags::empty(),
                        crc32c: false,
                    },
                    staging: s,
                })
                .collect();
            for (job, lane, r) in self.run_pass(Side::Decompress, items) {
                let j = &mut chunk[job];
                j.result = Some(match r {
                    Ok((rec, s)) => {
                        let out = if rec.status().code == IaaStatus::Success.code() {
                            self.copy_out(&s, &rec, j.dst)
                                .and_then(|n| self.check_output_crc(&rec, &j.dst[..n]))
                        } else {
                            Err(self.classify(&rec, false))
                        };
                        self.give_back(Side::Decompress, lane, s);
                        out
                    }
                    Err(e) => Err(e),
                });
            }
        }
    }
}

impl IaaCodec {
    /// Dynamic mode, the IAA 1.0 way: a statistics-mode compress job per request on the
    /// device (the 1280-byte histogram written to the request's `dst` staging, no AECS), a
    /// length-limited Huffman table and the dynamic block header built in software from it
    /// ([`idxd_deflate::aecs_from_statistics`]), written into the request's AECS for the
    /// compress pass. Returns the requests whose statistics pass succeeded; the others get
    /// their error.
    fn statistics_pass(
        &mut self,
        chunk: &mut [Job<'_>],
        staged: Vec<(usize, usize, Staging)>,
    ) -> Vec<(usize, usize, Staging)> {
        let mut items = Vec::with_capacity(staged.len());
        let mut keep = Vec::with_capacity(staged.len());
        for (job, lane, mut s) in staged {
            if s.dst.len() < HISTOGRAM_SIZE {
                // No room for the histogram (max_request below 1280): fixed codes instead.
                match s.aecs.write(0, CompressAecs::fixed().as_bytes()) {
                    Ok(()) => keep.push((job, lane, s)),
                    Err(e) => {
                        chunk[job].result = Some(Err(self.driver_err(&e)));
                        self.give_back(Side::Compress, lane, s);
                    }
                }
                continue;
            }
            items.push(Item {
                job,
                lane,
                op: self.compress_op(&chunk[job], &s, true),
                staging: s,
            });
        }
        for (job, lane, r) in self.run_pass(Side::Compress, items) {
            let built = match r {
                Ok((rec, s)) if rec.status().code == IaaStatus::Success.code() => {
                    self.tables_from_statistics(&rec, s)
                }
                Ok((rec, s)) => {
                    self.give_back(Side::Compress, lane, s);
                    Err(self.classify(&rec, true))
                }
                Err(e) => Err(e),
            };
            match built {
                Ok(s) => keep.push((job, lane, s)),
                Err(e) => chunk[job].result = Some(Err(e)),
            }
        }
        keep
    }

    /// Reads the histogram the device wrote to the request's `dst` staging and writes the
    /// tables and header built from it into the request's AECS.
    fn tables_from_statistics(&self, rec: &IaaCompletion, mut s: Staging) -> Result<Staging, OffloadError> {
        let mut img = vec![0u8; HISTOGRAM_SIZE];
        s.dst.read(0, &mut img).map_err(|e| self.driver_err(&e))?;
        let stats = Histogram::from_bytes(&img).map_err(|e| {
            self.err(ErrorKind::DeviceError, Some(rec))
                .with_detail(e.to_string())
        })?;
        let (aecs, _) = idxd_deflate::aecs_from_statistics(&stats);
        s.aecs
            .write(0, aecs.as_bytes())
            .map_err(|e| self.driver_err(&e))?;
        Ok(s)
    }

    /// Verify-after-compress: decompress each fresh output with output suppressed and compare
    /// the CRC of what it would produce with the CRC the compress job reported.
    fn verify(&mut self, chunk: &mut [Job<'_>], written: Vec<(usize, usize, usize, u32, Staging)>) {
        // The CRC each compress job reported, by job.
        let mut crcs = vec![0u32; chunk.len()];
        let items = written
            .into_iter()
            .map(|(job, lane, n, crc, s)| {
                crcs[job] = crc;
                Item {
                    job,
                    lane,
                    op: IaaOp::Decompress {
                        src: s.dst.iova(),
                        len: n as u32,
                        dst: 0,
                        max_dst: 0,
                        flags: DecompressFlags::SUPPRESS_OUTPUT,
                        crc32c: false,
                    },
                    staging: s,
                }
            })
            .collect();
        for (job, lane, r) in self.run_pass(Side::Compress, items) {
            let crc = crcs[job];
            let bad = match r {
                Ok((rec, s)) => {
                    self.give_back(Side::Compress, lane, s);
                    if rec.status().code != IaaStatus::Success.code() {
                        // The device's own output does not decompress: it is corrupt (and the
                        // request worth redoing in software), whatever analytics error says
                        // so; failures of the device itself keep their kind.
                        let mut e = self.classify(&rec, false);
                        if !matches!(
                            e.kind,
                            ErrorKind::Timeout
                                | ErrorKind::PageFault { .. }
                                | ErrorKind::DeviceError
                                | ErrorKind::DeviceHalted
                                | ErrorKind::QueueFull
                        ) {
                            e.kind = ErrorKind::Corrupt;
                        }
                        Some(e.with_detail("verify-after-compress failed"))
                    } else if rec.crc != crc {
                        Some(
                            self.err(ErrorKind::Corrupt, Some(&rec))
                                .with_detail("verify: CRC of the decompressed output differs"),
                        )
                    } else {
                        None
                    }
                }
                Err(e) => Some(e.with_detail("verify-after-compress could not run")),
            };
            if let Some(e) = bad {
                chunk[job].result = Some(Err(e));
            }
        }
    }
}
