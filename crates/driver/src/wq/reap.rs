//! Reaping and waiting: records turned into completions, waits that give up orphan their
//! requests, drains and halts that release what the device no longer touches.

use std::time::{Duration, Instant};

use idxd_hw::completion::{DSA_COMPLETION_SIZE, IAA_COMPLETION_SIZE};
use idxd_hw::pci::DeviceKind;
use idxd_hw::{DsaCompletion, IaaCompletion};

use super::{Abandoned, BatchMem, Completion, Inner, Record, Ticket, Wq};
use crate::DriverError;

impl Wq {
    /// Turns every slot whose record has arrived into a completion; orphans' completions are
    /// dropped here (their buffers go back to their pools).
    pub(super) fn reap_locked(&self, g: &mut Inner) {
        let rs = self.record_size();
        for i in 0..g.slots.len() {
            let Some(id) = g.slots[i].busy else { continue };
            if g.slots[i].rec.load_acquire_u8(0).unwrap_or(0) == 0 {
                continue;
            }
            let mut buf = [0u8; IAA_COMPLETION_SIZE];
            if g.slots[i].rec.read(0, &mut buf[..rs]).is_err() {
                continue;
            }
            let record = match self.kind {
                DeviceKind::Dsa => Record::Dsa(DsaCompletion::from_bytes(
                    buf[..DSA_COMPLETION_SIZE].try_into().expect("32 bytes"),
                )),
                DeviceKind::Iaa => Record::Iaa(IaaCompletion::from_bytes(&buf)),
            };
            let orphan = g.slots[i].orphan;
            let (batch, buffers) = g.slots[i].take();
            g.free.push(i);
            if orphan {
                g.counters.orphans_reaped += 1;
                continue;
            }
            let members = batch.map(|b| member_records(&b)).unwrap_or_default();
            g.ready.insert(
                id,
                Completion {
                    id,
                    result: Ok(record),
                    members,
                    buffers,
                },
            );
        }
    }

    /// Gives up on requests: their slots keep the memory until the record arrives or the WQ is
    /// drained or reset.
    fn orphan_locked(&self, g: &mut Inner, t: &Ticket) {
        if g.slots[t.slot].busy == Some(t.id) && !g.slots[t.slot].orphan {
            g.slots[t.slot].orphan = true;
            g.counters.orphaned += 1;
        }
    }

    /// Where a ticket stands: done, still in flight, or unknown (already collected by
    /// [`Wq::poll`] or [`Wq::wait_all`]).
    fn take_ready(&self, g: &mut Inner, t: &Ticket) -> Option<Result<Completion, DriverError>> {
        if let Some(c) = g.ready.remove(&t.id) {
            return Some(Ok(c));
        }
        (g.slots[t.slot].busy != Some(t.id)).then(|| {
            Err(DriverError::NotInFlight {
                request: t.id.0,
                wq: self.name.clone(),
            })
        })
    }

    /// Waits for several requests, reaping with one lock per polling round; one result per
    /// ticket, in the order given. Requests still pending when the timeout passes (or when a
    /// health check fails) are orphaned and get the error.
    pub fn wait_many(&self, tickets: Vec<Ticket>, timeout: Duration) -> Vec<Result<Completion, DriverError>> {
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
                    if out[i].is_none() {
                        out[i] = self.take_ready(&mut g, t);
                        pending += usize::from(out[i].is_none());
                    }
                }
            }
            if pending == 0 {
                break;
            }
            let now = Instant::now();
            let mut failed = None;
            if now.duration_since(last_check) >= Duration::from_millis(1) {
                last_check = now;
                if let Some(dev) = self.device.upgrade() {
                    // A halt completes every request in flight as abandoned: the next round
                    // collects them.
                    failed = dev.check_health().err();
                }
            }
            if failed.is_none() && now.duration_since(start) >= timeout {
                failed = Some(DriverError::Timeout {
                    what: "a completion record",
                    ms: timeout.as_millis() as u64,
                });
            }
            if let Some(e) = failed {
                let e = e.for_each_request();
                let mut g = self.lock();
                self.reap_locked(&mut g);
                for (i, t) in tickets.iter().enumerate() {
                    if out[i].is_none() {
                        out[i] = self.take_ready(&mut g, t);
                    }
                    if out[i].is_none() {
                        self.orphan_locked(&mut g, t);
                        out[i] = Some(Err(e()));
                    }
                }
                break;
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
        out.into_iter()
            .map(|r| r.expect("every ticket resolved"))
            .collect()
    }

    /// Collects every request that has completed, in whatever order the device finished them
    /// (their tickets are then spent).
    pub fn poll(&self) -> Vec<Completion> {
        let mut g = self.lock();
        self.reap_locked(&mut g);
        g.ready.drain().map(|(_, c)| c).collect()
    }

    /// Waits for one request, polling with backoff (spin, then yield, then sleep), checking the
    /// device's health while it waits. Completions of other requests found meanwhile are kept
    /// for their own waits. On timeout the request is orphaned (see the module docs).
    pub fn wait(&self, t: Ticket, timeout: Duration) -> Result<Completion, DriverError> {
        self.wait_many(vec![t], timeout)
            .pop()
            .expect("one result per ticket")
    }

    /// Waits for one request by sleeping on its completion interrupt instead of polling: the
    /// request must have been submitted with `Submit { interrupt: Some(vector), .. }`. Each
    /// wake-up reaps (interrupts of other requests on the same vector are fine); the device's
    /// health is checked on every wake-up and at least every 10 ms. On timeout the request is
    /// orphaned.
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
                if let Some(r) = self.take_ready(&mut g, &t) {
                    return r;
                }
            }
            let left = timeout.saturating_sub(start.elapsed());
            let failed = match self.device.upgrade().map(|d| d.check_health()) {
                Some(Err(e)) => Some(e),
                _ if left.is_zero() => Some(DriverError::Timeout {
                    what: "a completion interrupt",
                    ms: timeout.as_millis() as u64,
                }),
                _ => self
                    .backing
                    .wait_interrupt(vector, left.min(Duration::from_millis(10)))
                    .err(),
            };
            if let Some(e) = failed {
                let mut g = self.lock();
                self.reap_locked(&mut g);
                if let Some(r) = self.take_ready(&mut g, &t) {
                    return r;
                }
                self.orphan_locked(&mut g, &t);
                return Err(e);
            }
        }
    }

    /// Waits for every request in flight that is not orphaned (see [`Wq::wait`]); their
    /// tickets are then spent.
    pub fn wait_all(&self, timeout: Duration) -> Result<Vec<Completion>, DriverError> {
        let tickets: Vec<Ticket> = {
            let mut g = self.lock();
            self.reap_locked(&mut g);
            g.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.orphan)
                .filter_map(|(slot, s)| s.busy.map(|id| Ticket { id, slot }))
                .collect()
        };
        let mut out = self.poll();
        for r in self.wait_many(tickets, timeout) {
            out.push(r?);
        }
        Ok(out)
    }

    /// Drains the WQ (Drain WQ: the device finishes everything submitted so far), then reaps.
    /// Orphans still without a record afterwards lost it: the device is done with their memory,
    /// so they are released. Returns how many orphans were released. Only for WQs of a
    /// [`crate::Device`] (unmanaged WQs have no command register).
    pub fn drain(&self) -> Result<usize, DriverError> {
        let dev = self.device.upgrade().ok_or(DriverError::Unsupported(
            "draining a WQ this driver does not manage",
        ))?;
        dev.drain_wq(self.id)?;
        let mut g = self.lock();
        self.reap_locked(&mut g);
        let mut released = 0;
        for i in 0..g.slots.len() {
            if g.slots[i].busy.is_some() && g.slots[i].orphan {
                drop(g.slots[i].take());
                g.free.push(i);
                released += 1;
            }
        }
        g.counters.orphans_released += released as u64;
        g.counters.drains += 1;
        Ok(released)
    }

    /// Every request in flight ends as abandoned (the device halted). After a completed reset
    /// (`reset_done`) the device no longer touches their memory: each completion gives its
    /// buffers back, orphans are released, and buffers held from an earlier halt without reset
    /// are released too. Without a reset each completion comes back without its buffers, which
    /// the WQ holds until a later reset.
    pub(crate) fn abandon_all(&self, reset_done: bool) {
        let mut g = self.lock();
        self.reap_locked(&mut g);
        if reset_done {
            g.held.clear();
        }
        for i in 0..g.slots.len() {
            let Some(id) = g.slots[i].busy else { continue };
            let orphan = g.slots[i].orphan;
            let (batch, mut buffers) = g.slots[i].take();
            let count = batch.as_ref().map(|b| b.count);
            if !reset_done {
                g.held.append(&mut buffers);
                if let Some(b) = batch {
                    g.held.push(b.list);
                    g.held.push(b.recs);
                }
            }
            g.free.push(i);
            if orphan {
                g.counters.orphans_released += 1;
                continue;
            }
            g.counters.abandoned += 1;
            let members = count
                .map(|n| vec![DsaCompletion::default(); n])
                .unwrap_or_default();
            g.ready.insert(
                id,
                Completion {
                    id,
                    result: Err(Abandoned::DeviceHalted),
                    members,
                    buffers,
                },
            );
        }
    }
}

fn member_records(b: &BatchMem) -> Vec<DsaCompletion> {
    (0..b.count)
        .map(|k| {
            let mut m = [0u8; DSA_COMPLETION_SIZE];
            let _ = b.recs.read(DSA_COMPLETION_SIZE * k, &mut m);
            DsaCompletion::from_bytes(&m)
        })
        .collect()
}
