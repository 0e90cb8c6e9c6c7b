//! A work queue: submission with credits, completion reaping in any order.
//!
//! Every request gets a completion-record slot in DMA memory (64-byte aligned, which suits both
//! DSA's 32-byte and IAA's 64-byte records). A dedicated WQ has exactly as many slots as entries,
//! so the driver can never overfill it (MOVDIR64B has no answer). A request keeps its slot (and,
//! for a batch, its descriptor list and member records) until its completion is reaped or the
//! device halts; the memory is never reused while the device may still write it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use idxd_hw::completion::{DSA_COMPLETION_SIZE, IAA_COMPLETION_SIZE};
use idxd_hw::pci::DeviceKind;
use idxd_hw::profile::PORTAL_STRIDE;
use idxd_hw::submit::RecordMode;
use idxd_hw::{DsaCompletion, DsaOp, IaaCompletion, IaaOp, Limits, Submit};

use crate::device::DeviceShared;
use crate::dma::{DmaBuf, DmaPool};
use crate::{DescBytes, DeviceBacking, DriverError, Enqueued, PortalKind};

/// Identifies one submitted request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ticket(pub u64);

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
    /// The device halted; the request was abandoned by the device.
    DeviceHalted,
}

/// The outcome of one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// The request.
    pub ticket: Ticket,
    /// Its record, or why there is none.
    pub result: Result<Record, Abandoned>,
    /// For a batch: each member's record, in order (all zero for members not processed).
    pub members: Vec<DsaCompletion>,
}

struct Slot {
    rec: DmaBuf,
    busy: Option<Ticket>,
    batch: Option<(DmaBuf, DmaBuf, usize)>,
}

struct Inner {
    slots: Vec<Slot>,
    free: Vec<usize>,
    ready: VecDeque<Completion>,
    next: u64,
}

/// One enabled WQ.
pub struct Wq {
    id: u16,
    name: String,
    backing: Arc<dyn DeviceBacking>,
    kind: DeviceKind,
    portal: u64,
    portal_kind: PortalKind,
    limits: Limits,
    size: u32,
    pool: Arc<DmaPool>,
    inner: Mutex<Inner>,
    rotation: AtomicU64,
    device: Weak<DeviceShared>,
    halted: Arc<AtomicBool>,
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
}

/// Retries of an ENQCMD the WQ refuses, as the kernel does.
pub const ENQCMD_RETRIES: u32 = 32;

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
                batch: None,
            });
        }
        Ok(Wq {
            id: p.id,
            name: p.name,
            backing: p.backing,
            kind,
            portal: p.portal,
            portal_kind: p.portal_kind,
            limits: p.limits,
            size: p.size,
            pool,
            inner: Mutex::new(Inner {
                slots,
                free: (0..p.size as usize).rev().collect(),
                ready: VecDeque::new(),
                next: 1,
            }),
            rotation: AtomicU64::new(0),
            device: p.device,
            halted: p.halted,
        })
    }

    /// A WQ that no [`crate::Device`] of this driver manages: a WQ owned by the kernel's idxd
    /// driver, reached through its character device (portal offset 0). There are no device
    /// registers behind it, so no health checks: a halt shows up as timeouts.
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

    /// Requests submitted and not yet reaped.
    pub fn in_flight(&self) -> usize {
        let g = self.lock();
        g.slots.len() - g.free.len()
    }

    /// Slots free for new requests.
    pub fn free_slots(&self) -> usize {
        self.lock().free.len()
    }

    fn record_size(&self) -> usize {
        match self.kind {
            DeviceKind::Dsa => DSA_COMPLETION_SIZE,
            DeviceKind::Iaa => IAA_COMPLETION_SIZE,
        }
    }

    fn check_usable(&self) -> Result<(), DriverError> {
        if self.halted.load(Ordering::Acquire) {
            return Err(DriverError::Halted {
                reset: idxd_hw::regs::ResetType::Software,
            });
        }
        Ok(())
    }

    fn take_slot(&self, g: &mut Inner) -> Result<usize, DriverError> {
        g.free.pop().ok_or_else(|| DriverError::QueueFull {
            wq: self.name.clone(),
        })
    }

    fn portal_write(&self, desc: &DescBytes) -> Result<Enqueued, DriverError> {
        let rot = self.rotation.fetch_add(64, Ordering::Relaxed) % 0x1000;
        let off = self.portal + rot;
        let mut tries = 0;
        loop {
            match self.backing.submit(off, desc, self.portal_kind)? {
                Enqueued::Accepted => return Ok(Enqueued::Accepted),
                Enqueued::Retry if tries < ENQCMD_RETRIES => {
                    tries += 1;
                    std::hint::spin_loop();
                }
                Enqueued::Retry => return Ok(Enqueued::Retry),
            }
        }
    }

    fn submit_bytes(
        &self,
        build: impl FnOnce(u64) -> Result<DescBytes, DriverError>,
        batch: Option<(DmaBuf, DmaBuf, usize)>,
    ) -> Result<Ticket, DriverError> {
        self.check_usable()?;
        let mut g = self.lock();
        self.submit_locked(&mut g, build, batch)
    }

    fn submit_locked(
        &self,
        g: &mut Inner,
        build: impl FnOnce(u64) -> Result<DescBytes, DriverError>,
        batch: Option<(DmaBuf, DmaBuf, usize)>,
    ) -> Result<Ticket, DriverError> {
        let slot = self.take_slot(g)?;
        let rec_iova = g.slots[slot].rec.iova();
        let desc = match build(rec_iova) {
            Ok(d) => d,
            Err(e) => {
                g.free.push(slot);
                return Err(e);
            }
        };
        g.slots[slot].rec.store_release_u8(0, 0)?;
        let t = Ticket(g.next);
        g.next += 1;
        g.slots[slot].busy = Some(t);
        g.slots[slot].batch = batch;
        let undo = |g: &mut Inner| {
            g.slots[slot].busy = None;
            g.slots[slot].batch = None;
            g.free.push(slot);
        };
        match self.portal_write(&desc) {
            Ok(Enqueued::Accepted) => Ok(t),
            Ok(Enqueued::Retry) => {
                undo(g);
                Err(DriverError::QueueFull {
                    wq: self.name.clone(),
                })
            }
            Err(e) => {
                undo(g);
                Err(e)
            }
        }
    }

    fn submit_for(&self, s: &Submit) -> Submit {
        Submit {
            record: RecordMode::Always,
            ..*s
        }
    }

    /// Builds a descriptor whose completion record is the slot's, and submits it.
    fn submit_built(
        &self,
        s: &Submit,
        build: impl FnOnce(&Submit) -> Result<[u8; 64], idxd_hw::BuildError>,
    ) -> Result<Ticket, DriverError> {
        let s = self.submit_for(s);
        self.submit_bytes(
            |rec| {
                Ok(DescBytes(build(&Submit {
                    completion_addr: rec,
                    ..s
                })?))
            },
            None,
        )
    }

    /// Submits a DSA operation. `s` gives interrupt, fence, block-on-fault and cache control;
    /// the completion record is the driver's.
    pub fn submit_dsa(&self, op: &DsaOp, s: &Submit) -> Result<Ticket, DriverError> {
        if self.kind != DeviceKind::Dsa {
            return Err(DriverError::Unsupported("DSA operations on an IAA WQ"));
        }
        self.submit_built(s, |s| Ok(op.build(s, &self.limits)?.to_bytes()))
    }

    /// Submits an IAA operation.
    pub fn submit_iaa(&self, op: &IaaOp, s: &Submit) -> Result<Ticket, DriverError> {
        if self.kind != DeviceKind::Iaa {
            return Err(DriverError::Unsupported("IAA operations on a DSA WQ"));
        }
        self.submit_built(s, |s| Ok(op.build(s, &self.limits)?.to_bytes()))
    }

    /// Submits a DSA batch: the members are written to a descriptor list in DMA memory, each
    /// with its own record; the completion carries every member's record.
    pub fn submit_batch(&self, ops: &[(DsaOp, Submit)]) -> Result<Ticket, DriverError> {
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
            let member = Submit {
                completion_addr: recs.iova() + 32 * i as u64,
                record: RecordMode::Always,
                ..*s
            };
            list.write(64 * i, &op.build(&member, &self.limits)?.to_bytes())?;
        }
        let list_iova = list.iova();
        self.submit_bytes(
            |rec| {
                let b = DsaOp::Batch {
                    list_addr: list_iova,
                    count: n as u32,
                };
                Ok(DescBytes(b.build(&Submit::polled(rec), &self.limits)?.to_bytes()))
            },
            Some((list, recs, n)),
        )
    }

    /// Submits several IAA operations taking the WQ lock once: one result per operation (a
    /// failure does not stop the others). The runtime's per-batch submission path.
    pub fn submit_iaa_many(&self, ops: &[IaaOp], s: &Submit) -> Vec<Result<Ticket, DriverError>> {
        if self.kind != DeviceKind::Iaa {
            return ops
                .iter()
                .map(|_| Err(DriverError::Unsupported("IAA operations on a DSA WQ")))
                .collect();
        }
        if self.check_usable().is_err() {
            return ops.iter().map(|_| Err(self.halted_error())).collect();
        }
        let s = self.submit_for(s);
        let mut g = self.lock();
        ops.iter()
            .map(|op| {
                self.submit_locked(
                    &mut g,
                    |rec| {
                        Ok(DescBytes(
                            op.build(
                                &Submit {
                                    completion_addr: rec,
                                    ..s
                                },
                                &self.limits,
                            )?
                            .to_bytes(),
                        ))
                    },
                    None,
                )
            })
            .collect()
    }

    fn halted_error(&self) -> DriverError {
        DriverError::Halted {
            reset: idxd_hw::regs::ResetType::Software,
        }
    }

    /// Waits for several requests, reaping with one lock per polling round; one result per
    /// ticket, in the order given.
    pub fn wait_many(&self, tickets: &[Ticket], timeout: Duration) -> Vec<Result<Completion, DriverError>> {
        let mut out: Vec<Option<Result<Completion, DriverError>>> =
            (0..tickets.len()).map(|_| None).collect();
        let start = Instant::now();
        let mut last_check = start;
        let mut spins = 0u32;
        loop {
            let mut pending = 0;
            {
                let mut g = self.lock();
                self.reap_locked(&mut g);
                for (i, t) in tickets.iter().enumerate() {
                    if out[i].is_some() {
                        continue;
                    }
                    if let Some(pos) = g.ready.iter().position(|c| c.ticket == *t) {
                        out[i] = g.ready.remove(pos).map(Ok);
                    } else if !g.slots.iter().any(|s| s.busy == Some(*t)) {
                        out[i] = Some(Err(DriverError::Config {
                            field: "ticket".into(),
                            reason: format!("{t:?} is not in flight on {}", self.name),
                        }));
                    } else {
                        pending += 1;
                    }
                }
            }
            if pending == 0 {
                return out
                    .into_iter()
                    .map(|r| r.expect("every ticket resolved"))
                    .collect();
            }
            let now = Instant::now();
            if now.duration_since(last_check) >= Duration::from_millis(1) {
                last_check = now;
                if let Some(dev) = self.device.upgrade() {
                    if let Err(e) = dev.check_health() {
                        let again = |e: &DriverError| match e {
                            DriverError::Halted { reset } => DriverError::Halted { reset: *reset },
                            other => DriverError::Config {
                                field: "device health".into(),
                                reason: other.to_string(),
                            },
                        };
                        // Abandoned requests were queued as completions: pick them up next round;
                        // requests still pending get the error.
                        let mut g = self.lock();
                        self.reap_locked(&mut g);
                        for (i, t) in tickets.iter().enumerate() {
                            if out[i].is_none() {
                                out[i] = match g.ready.iter().position(|c| c.ticket == *t) {
                                    Some(pos) => g.ready.remove(pos).map(Ok),
                                    None => Some(Err(again(&e))),
                                };
                            }
                        }
                        return out
                            .into_iter()
                            .map(|r| r.expect("every ticket resolved"))
                            .collect();
                    }
                }
            }
            if now.duration_since(start) >= timeout {
                return out
                    .into_iter()
                    .map(|r| {
                        r.unwrap_or(Err(DriverError::Timeout {
                            what: "a completion record",
                            ms: timeout.as_millis() as u64,
                        }))
                    })
                    .collect();
            }
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if spins < 256 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }

    /// Collects every request that has completed, in whatever order the device finished them.
    pub fn poll(&self) -> Vec<Completion> {
        let mut g = self.lock();
        self.reap_locked(&mut g);
        g.ready.drain(..).collect()
    }

    fn reap_locked(&self, g: &mut Inner) {
        let rs = self.record_size();
        for i in 0..g.slots.len() {
            let Some(t) = g.slots[i].busy else { continue };
            if g.slots[i].rec.load_acquire_u8(0).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; IAA_COMPLETION_SIZE];
            if g.slots[i].rec.read(0, &mut buf[..rs]).is_err() {
                continue;
            }
            let record = match self.kind {
                DeviceKind::Dsa => {
                    Record::Dsa(DsaCompletion::from_bytes(buf[..32].try_into().expect("32 bytes")))
                }
                DeviceKind::Iaa => Record::Iaa(IaaCompletion::from_bytes(&buf)),
            };
            let members = match g.slots[i].batch.take() {
                Some((_list, recs, n)) => (0..n)
                    .map(|k| {
                        let mut m = [0u8; 32];
                        let _ = recs.read(32 * k, &mut m);
                        DsaCompletion::from_bytes(&m)
                    })
                    .collect(),
                None => Vec::new(),
            };
            g.slots[i].busy = None;
            g.free.push(i);
            g.ready.push_back(Completion {
                ticket: t,
                result: Ok(record),
                members,
            });
        }
    }

    /// Waits for one request, polling with backoff (spin, then yield, then sleep), checking the
    /// device's health while it waits. Completions of other requests found meanwhile are kept
    /// for [`Wq::poll`]. On timeout the request stays in flight (its memory is not reused).
    pub fn wait(&self, t: Ticket, timeout: Duration) -> Result<Completion, DriverError> {
        self.wait_many(&[t], timeout)
            .pop()
            .expect("one result per ticket")
    }

    /// Waits for one request by sleeping on its completion interrupt instead of polling: the
    /// request must have been submitted with `Submit { interrupt: Some(vector), .. }`. Each
    /// wake-up reaps (interrupts of other requests on the same vector are fine: their
    /// completions are kept for [`Wq::poll`]); the device's health is checked on every wake-up
    /// and at least every 10 ms.
    pub fn wait_interrupt(
        &self,
        t: Ticket,
        vector: u16,
        timeout: Duration,
    ) -> Result<Completion, DriverError> {
        let start = Instant::now();
        loop {
            {
                let mut g = self.lock();
                self.reap_locked(&mut g);
                if let Some(pos) = g.ready.iter().position(|c| c.ticket == t) {
                    return Ok(g.ready.remove(pos).expect("position is valid"));
                }
                if !g.slots.iter().any(|s| s.busy == Some(t)) {
                    return Err(DriverError::Config {
                        field: "ticket".into(),
                        reason: format!("{t:?} is not in flight on {}", self.name),
                    });
                }
            }
            if let Some(dev) = self.device.upgrade() {
                dev.check_health()?;
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(DriverError::Timeout {
                    what: "a completion interrupt",
                    ms: timeout.as_millis() as u64,
                });
            }
            self.backing
                .wait_interrupt(vector, left.min(Duration::from_millis(10)))?;
        }
    }

    /// Waits for every request in flight (see [`Wq::wait`]).
    pub fn wait_all(&self, timeout: Duration) -> Result<Vec<Completion>, DriverError> {
        let tickets: Vec<Ticket> = self.lock().slots.iter().filter_map(|s| s.busy).collect();
        let mut out = self.poll();
        let rest: Vec<Ticket> = tickets
            .into_iter()
            .filter(|t| !out.iter().any(|c| c.ticket == *t))
            .collect();
        for r in self.wait_many(&rest, timeout) {
            out.push(r?);
        }
        Ok(out)
    }

    /// Every request in flight ends as abandoned (the device halted and dropped them).
    pub(crate) fn abandon_all(&self) {
        let mut g = self.lock();
        self.reap_locked(&mut g);
        for i in 0..g.slots.len() {
            if let Some(t) = g.slots[i].busy.take() {
                let members = g.slots[i]
                    .batch
                    .take()
                    .map(|(_, _, n)| vec![DsaCompletion::default(); n])
                    .unwrap_or_default();
                g.free.push(i);
                g.ready.push_back(Completion {
                    ticket: t,
                    result: Err(Abandoned::DeviceHalted),
                    members,
                });
            }
        }
    }

    /// The BAR2 offset of this WQ's unlimited portal.
    pub fn portal_offset(id: u16) -> u64 {
        id as u64 * PORTAL_STRIDE
    }
}
