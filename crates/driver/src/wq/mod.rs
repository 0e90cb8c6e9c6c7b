//! A work queue: submission with credits, completion reaping in any order, and ownership of the
//! memory every request in flight uses (the io_uring model, docs/design.md "Buffer ownership").
//!
//! Every request gets a completion-record slot in DMA memory (64-byte aligned, which suits both
//! DSA's 32-byte and IAA's 64-byte records). A dedicated WQ has exactly as many slots as entries,
//! so the driver can never overfill it (MOVDIR64B has no answer).
//!
//! A request owns the [`DmaBuf`]s its descriptor points at: submission moves them into the slot,
//! and its [`Completion`] gives them back. When a wait gives up (timeout, or a health check
//! that failed) the request is *orphaned*: its ticket is spent, but the slot keeps the buffers
//! until the device writes the record (they then return to their pool) or the WQ is drained or
//! reset. So no buffer is ever handed out again while the device may still write it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use idxd_hw::completion::{DSA_COMPLETION_SIZE, IAA_COMPLETION_SIZE};
use idxd_hw::pci::DeviceKind;
use idxd_hw::portal::{wq_portal_offset, DESC_SLOT, PORTAL_SIZE};
use idxd_hw::submit::RecordMode;
use idxd_hw::{DsaCompletion, DsaOp, IaaCompletion, IaaOp, Limits, Submit};

use crate::managed::{DeviceShared, IntHandles};

mod reap;
use crate::dma::{DmaBuf, DmaPool};
use crate::portal::ENQCMD_RETRIES;
use crate::{DescBytes, DeviceBacking, DriverError, Enqueued, PortalKind};

/// Names one submitted request (the number completions carry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// The right to one request's completion. Not `Copy`: waiting consumes it, so a request is
/// reaped once, and a request given up on (timeout) can never be confused with a later one.
#[must_use = "a request's buffers come back only through its completion"]
#[derive(Debug, PartialEq, Eq)]
pub struct Ticket {
    id: RequestId,
    slot: usize,
}

impl Ticket {
    /// The request's number (what its [`Completion::id`] will say).
    pub fn id(&self) -> RequestId {
        self.id
    }
}

/// A completion record, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Record {
    /// From a DSA.
    Dsa(DsaCompletion),
    /// From an IAA.
    Iaa(IaaCompletion),
}

impl Record {
    /// The status value (`& 0x7f`).
    pub fn status(&self) -> u8 {
        match self {
            Record::Dsa(r) => r.status().code,
            Record::Iaa(r) => r.status().code,
        }
    }
}

/// Why a request ended without a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Abandoned {
    /// The device halted and was reset (or needs a reset): the request will never run, and the
    /// device no longer touches its memory once the reset completed.
    DeviceHalted,
}

/// The outcome of one request, with the memory it owned.
#[derive(Debug)]
pub struct Completion {
    /// The request.
    pub id: RequestId,
    /// Its record, or why there is none.
    pub result: Result<Record, Abandoned>,
    /// For a batch: each member's record, in order (all zero for members not processed).
    pub members: Vec<DsaCompletion>,
    /// The buffers moved in at submission, in the same order, now the caller's again.
    pub buffers: Vec<DmaBuf>,
}

/// A submission the WQ did not take: the error, and the buffers back (the device never saw
/// them).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Rejected {
    /// Why.
    pub error: DriverError,
    /// The buffers that were to move in.
    pub buffers: Vec<DmaBuf>,
}

impl From<Rejected> for DriverError {
    fn from(r: Rejected) -> Self {
        r.error
    }
}

/// What a WQ has seen of requests given up on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WqCounters {
    /// Requests submitted.
    pub submitted: u64,
    /// Requests whose wait gave up (timeout or failed health check): orphaned.
    pub orphaned: u64,
    /// Orphans whose record arrived later; their buffers then went back to their pools.
    pub orphans_reaped: u64,
    /// Orphans released by a drain, abort or reset without a record (the device finished
    /// with them but the record was lost, or the request was dropped).
    pub orphans_released: u64,
    /// Requests completed as abandoned by a halt.
    pub abandoned: u64,
    /// Drains run (`Wq::drain`).
    pub drains: u64,
}

struct BatchMem {
    list: DmaBuf,
    recs: DmaBuf,
    count: usize,
}

struct Slot {
    rec: DmaBuf,
    busy: Option<RequestId>,
    orphan: bool,
    batch: Option<BatchMem>,
    buffers: Vec<DmaBuf>,
}

impl Slot {
    fn take(&mut self) -> (Option<BatchMem>, Vec<DmaBuf>) {
        self.busy = None;
        self.orphan = false;
        (self.batch.take(), std::mem::take(&mut self.buffers))
    }
}

struct Inner {
    slots: Vec<Slot>,
    free: Vec<usize>,
    ready: HashMap<RequestId, Completion>,
    next: u64,
    counters: WqCounters,
    /// Memory of requests abandoned by a halt that was not followed by a reset: the device may
    /// not be done with it, so it is held until a reset completes.
    held: Vec<DmaBuf>,
}

/// One enabled WQ.
pub struct Wq {
    id: u16,
    name: String,
    backing: Arc<dyn DeviceBacking>,
    kind: DeviceKind,
    portal: PortalWriter,
    limits: Limits,
    size: u32,
    pool: Arc<DmaPool>,
    inner: Mutex<Inner>,
    device: Weak<DeviceShared>,
    halted: Arc<AtomicBool>,
    /// Vector -> interrupt handle, on devices that require handles (CMDCAP bit 13).
    int_handles: Option<Arc<IntHandles>>,
}

impl std::fmt::Debug for Wq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wq")
            .field("name", &self.name)
            .field("size", &self.size)
            .field("limits", &self.limits)
            .finish()
    }
}

/// How a WQ is reached.
pub(crate) struct WqParams {
    pub id: u16,
    pub name: String,
    pub backing: Arc<dyn DeviceBacking>,
    pub portal: u64,
    pub portal_kind: PortalKind,
    pub limits: Limits,
    pub size: u32,
    pub device: Weak<DeviceShared>,
    pub halted: Arc<AtomicBool>,
    /// Vector -> interrupt handle (`None`: descriptors carry the vector itself).
    pub int_handles: Option<Arc<IntHandles>>,
}

/// One request to submit: the descriptor builder (given the record's address) and what it owns.
type Build<'a> = Box<dyn FnOnce(u64) -> Result<DescBytes, DriverError> + 'a>;

impl Wq {
    pub(crate) fn new(p: WqParams) -> Result<Self, DriverError> {
        let kind = p.backing.kind();
        // Records, plus room for batch lists and their member records when batches exist.
        let batch_room = if p.limits.max_batch > 0 {
            4 * p.limits.max_batch as usize * 96 + 8192
        } else {
            0
        };
        let pool = DmaPool::new(p.backing.clone(), p.size as usize * 64 + batch_room + 4096, false)?;
        let mut slots = Vec::with_capacity(p.size as usize);
        for _ in 0..p.size {
            slots.push(Slot {
                rec: pool.alloc(64, 64)?,
                busy: None,
                orphan: false,
                batch: None,
                buffers: Vec::new(),
            });
        }
        Ok(Wq {
            id: p.id,
            portal: PortalWriter {
                wq: p.name.clone(),
                backing: p.backing.clone(),
                base: p.portal,
                kind: p.portal_kind,
                next: AtomicU64::new(0),
            },
            name: p.name,
            backing: p.backing,
            kind,
            limits: p.limits,
            size: p.size,
            pool,
            inner: Mutex::new(Inner {
                slots,
                free: (0..p.size as usize).rev().collect(),
                ready: HashMap::new(),
                next: 1,
                counters: WqCounters::default(),
                held: Vec::new(),
            }),
            device: p.device,
            halted: p.halted,
            int_handles: p.int_handles,
        })
    }

    /// A WQ that no [`crate::Device`] of this driver manages: a WQ owned by the kernel's idxd
    /// driver, reached through its character device (portal offset 0). There are no device
    /// registers behind it, so no health checks (a halt shows up as timeouts) and no drain:
    /// orphaned requests keep their memory until their records arrive.
    pub fn unmanaged(
        backing: Arc<dyn DeviceBacking>,
        id: u16,
        portal_kind: PortalKind,
        limits: Limits,
        size: u32,
    ) -> Result<Self, DriverError> {
        Wq::new(WqParams {
            id,
            name: backing.describe(),
            backing,
            portal: 0,
            portal_kind,
            limits,
            size,
            device: Weak::new(),
            halted: Arc::new(AtomicBool::new(false)),
            int_handles: None,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// WQ index.
    pub fn id(&self) -> u16 {
        self.id
    }

    /// A name for messages (`emu:iaa-spr/wq0`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// DSA or IAA.
    pub fn kind(&self) -> DeviceKind {
        self.kind
    }

    /// Entries (the most requests in flight at once).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// The WQ's transfer and batch limits.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The backing, for allocating DMA memory that requests on this WQ use.
    pub fn backing(&self) -> &Arc<dyn DeviceBacking> {
        &self.backing
    }

    /// Requests submitted and not yet reaped (orphans included).
    pub fn in_flight(&self) -> usize {
        let g = self.lock();
        g.slots.len() - g.free.len()
    }

    /// Orphaned requests whose records have not arrived yet (their slots and buffers are held).
    pub fn orphans(&self) -> usize {
        self.lock().slots.iter().filter(|s| s.orphan).count()
    }

    /// Slots free for new requests.
    pub fn free_slots(&self) -> usize {
        self.lock().free.len()
    }

    /// Counters of submitted, orphaned and abandoned requests.
    pub fn counters(&self) -> WqCounters {
        self.lock().counters
    }

    fn record_size(&self) -> usize {
        match self.kind {
            DeviceKind::Dsa => DSA_COMPLETION_SIZE,
            DeviceKind::Iaa => IAA_COMPLETION_SIZE,
        }
    }

    fn check_usable(&self) -> Result<(), DriverError> {
        if self.halted.load(Ordering::Acquire) {
            return Err(self.halted_error());
        }
        Ok(())
    }

    fn halted_error(&self) -> DriverError {
        DriverError::Halted {
            reset: idxd_hw::regs::ResetType::Software,
        }
    }

    fn submit_locked(
        &self,
        g: &mut Inner,
        build: Build<'_>,
        batch: Option<BatchMem>,
        buffers: Vec<DmaBuf>,
    ) -> Result<Ticket, Rejected> {
        // Orphans whose records arrived free their slots here, so a full WQ of late
        // completions does not refuse work.
        if g.free.is_empty() {
            self.reap_locked(g);
        }
        let Some(slot) = g.free.pop() else {
            return Err(Rejected {
                error: DriverError::QueueFull {
                    wq: self.name.clone(),
                },
                buffers,
            });
        };
        let rec_iova = g.slots[slot].rec.iova();
        let desc = match build(rec_iova) {
            Ok(d) => d,
            Err(error) => {
                g.free.push(slot);
                return Err(Rejected { error, buffers });
            }
        };
        if let Err(error) = g.slots[slot].rec.store_release_u8(0, 0) {
            g.free.push(slot);
            return Err(Rejected { error, buffers });
        }
        let id = RequestId(g.next);
        g.next += 1;
        // The memory moves into the slot before the device can see the descriptor.
        let s = &mut g.slots[slot];
        s.busy = Some(id);
        s.orphan = false;
        s.batch = batch;
        s.buffers = buffers;
        match self.portal.write(&desc) {
            Ok(()) => {
                g.counters.submitted += 1;
                Ok(Ticket { id, slot })
            }
            Err(error) => {
                // Not accepted: the device never saw it.
                let (_, buffers) = g.slots[slot].take();
                g.free.push(slot);
                Err(Rejected { error, buffers })
            }
        }
    }

    /// The descriptor's non-operation part: the driver's record, and the interrupt vector
    /// translated to its handle where the device requires handles.
    fn with_record(&self, s: &Submit, rec: u64) -> Result<Submit, DriverError> {
        let interrupt = match (s.interrupt, &self.int_handles) {
            (Some(v), Some(h)) => Some(h.translate(v)?),
            (i, _) => i,
        };
        Ok(Submit {
            completion_addr: rec,
            record: RecordMode::Always,
            interrupt,
            ..*s
        })
    }

    /// Submits a DSA operation that owns `buffers` until its completion. `s` gives interrupt,
    /// fence, block-on-fault and cache control; the completion record is the driver's.
    pub fn submit_dsa(&self, op: &DsaOp, s: &Submit, buffers: Vec<DmaBuf>) -> Result<Ticket, Rejected> {
        if self.kind != DeviceKind::Dsa {
            return Err(Rejected {
                error: DriverError::Unsupported("DSA operations on an IAA WQ"),
                buffers,
            });
        }
        if let Err(error) = self.check_usable() {
            return Err(Rejected { error, buffers });
        }
        let build: Build<'_> = Box::new(|rec| {
            Ok(DescBytes(
                op.build(&self.with_record(s, rec)?, &self.limits)?.to_bytes(),
            ))
        });
        self.submit_locked(&mut self.lock(), build, None, buffers)
    }

    /// Submits an IAA operation that owns `buffers` until its completion.
    pub fn submit_iaa(&self, op: &IaaOp, s: &Submit, buffers: Vec<DmaBuf>) -> Result<Ticket, Rejected> {
        self.submit_iaa_many(vec![(*op, buffers)], s)
            .pop()
            .expect("one result per operation")
    }

    /// Submits several IAA operations taking the WQ lock once: one result per operation (a
    /// failure does not stop the others). The runtime's per-batch submission path.
    pub fn submit_iaa_many(
        &self,
        ops: Vec<(IaaOp, Vec<DmaBuf>)>,
        s: &Submit,
    ) -> Vec<Result<Ticket, Rejected>> {
        let refuse = |error: &dyn Fn() -> DriverError, ops: Vec<(IaaOp, Vec<DmaBuf>)>| {
            ops.into_iter()
                .map(|(_, buffers)| {
                    Err(Rejected {
                        error: error(),
                        buffers,
                    })
                })
                .collect()
        };
        if self.kind != DeviceKind::Iaa {
            return refuse(&|| DriverError::Unsupported("IAA operations on a DSA WQ"), ops);
        }
        if self.check_usable().is_err() {
            return refuse(&|| self.halted_error(), ops);
        }
        let mut g = self.lock();
        ops.into_iter()
            .map(|(op, buffers)| {
                let build: Build<'_> = Box::new(move |rec| {
                    Ok(DescBytes(
                        op.build(&self.with_record(s, rec)?, &self.limits)?.to_bytes(),
                    ))
                });
                self.submit_locked(&mut g, build, None, buffers)
            })
            .collect()
    }

    /// Submits a DSA batch: the members are written to a descriptor list in DMA memory, each
    /// with its own record; the completion carries every member's record and gives back
    /// `buffers` (everything the members point at).
    pub fn submit_batch(&self, ops: &[(DsaOp, Submit)], buffers: Vec<DmaBuf>) -> Result<Ticket, Rejected> {
        match self.batch_memory(ops) {
            Ok((list, recs)) => {
                if let Err(error) = self.check_usable() {
                    return Err(Rejected { error, buffers });
                }
                let (n, list_iova) = (ops.len(), list.iova());
                let build: Build<'_> = Box::new(move |rec| {
                    let b = DsaOp::Batch {
                        list_addr: list_iova,
                        count: n as u32,
                    };
                    Ok(DescBytes(b.build(&Submit::polled(rec), &self.limits)?.to_bytes()))
                });
                let mem = BatchMem { list, recs, count: n };
                self.submit_locked(&mut self.lock(), build, Some(mem), buffers)
            }
            Err(error) => Err(Rejected { error, buffers }),
        }
    }

    fn batch_memory(&self, ops: &[(DsaOp, Submit)]) -> Result<(DmaBuf, DmaBuf), DriverError> {
        if self.kind != DeviceKind::Dsa {
            return Err(DriverError::Unsupported("batches on an IAA WQ"));
        }
        let n = ops.len();
        if n < 2 || n as u32 > self.limits.max_batch {
            return Err(idxd_hw::BuildError::BatchCount {
                count: n as u32,
                max: self.limits.max_batch,
            }
            .into());
        }
        let mut list = self.pool.alloc(64 * n, 64)?;
        let recs = self.pool.alloc(32 * n, 64)?;
        for (i, (op, s)) in ops.iter().enumerate() {
            if matches!(op, DsaOp::Batch { .. }) {
                return Err(DriverError::Unsupported("a batch inside a batch"));
            }
            let member = self.with_record(s, recs.iova() + 32 * i as u64)?;
            list.write(64 * i, &op.build(&member, &self.limits)?.to_bytes())?;
        }
        Ok((list, recs))
    }

    /// The BAR2 offset of this WQ's unlimited portal.
    pub fn portal_offset(id: u16) -> u64 {
        wq_portal_offset(id)
    }
}

/// Writes descriptors to one WQ's portal: 64-byte offsets rotating over the portal page, and
/// ENQCMD retried [`ENQCMD_RETRIES`] times while the WQ answers retry.
struct PortalWriter {
    wq: String,
    backing: Arc<dyn DeviceBacking>,
    base: u64,
    kind: PortalKind,
    next: AtomicU64,
}

impl PortalWriter {
    fn write(&self, desc: &DescBytes) -> Result<(), DriverError> {
        let off = self.base + self.next.fetch_add(DESC_SLOT, Ordering::Relaxed) % PORTAL_SIZE;
        for _ in 0..=ENQCMD_RETRIES {
            match self.backing.submit(off, desc, self.kind)? {
                Enqueued::Accepted => return Ok(()),
                Enqueued::Retry => std::hint::spin_loop(),
            }
        }
        Err(DriverError::QueueFull { wq: self.wq.clone() })
    }
}
