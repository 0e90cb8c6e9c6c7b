//! Portals, WQ queues and engines: acceptance with MOVDIR64B / ENQCMD semantics, the engines
//! that serve their group's WQs by priority, execution (threaded or inline), delivery of the
//! record and the interrupt, and the device halt.

use std::sync::atomic::Ordering;

use idxd_hw::desc::{DsaDesc, IaaDesc};
use idxd_hw::pci::DeviceKind;
use idxd_hw::portal::{is_limited_portal, wq_of_portal_offset, DESC_SLOT};
use idxd_hw::regs::{DeviceState, GenCtrl, GenSts, IntCause, ResetType, SwErr};
use idxd_hw::tables::{WqCfg, WqMode};
use idxd_hw::DescFlags;

use super::{swerr_code, EmuDevice, ExecMode, Queued, Shared, State};
use crate::inject::Fault;
use crate::ops::{self, Completed, ExecCtx, Injection, WqLimits};
use crate::EmuError;

/// How the CPU wrote the descriptor to the portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitKind {
    /// MOVDIR64B: a posted write with no answer (dedicated WQs).
    Movdir64b,
    /// ENQCMD: the device answers accepted or retry (shared WQs).
    Enqcmd,
}

/// The device's answer to a portal write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortalResult {
    /// Accepted (for MOVDIR64B: posted; a dropped descriptor shows up in SWERR only).
    Accepted,
    /// ENQCMD not accepted: the WQ is full, above its threshold on the limited portal, or
    /// disabled. Try again later.
    Retry,
}

enum Outcome {
    Done {
        done: Box<Completed>,
        ctx_wq: WqLimits,
        write_record: bool,
        injection: Option<Injection>,
    },
    Halt {
        opcode: u8,
    },
    /// The WQ was aborted, reset or halted before the descriptor ran: it ran not at all (no
    /// memory touched), as a real device drops what it had not started.
    Dropped,
}

impl EmuDevice {
    /// A 64-byte write to BAR2 at `bar2_off` (64-byte aligned): WQ `off / 0x4000`, unlimited
    /// portal at +0x0000 (and +0x2000), limited portal at +0x1000 (and +0x3000).
    pub fn portal_write(
        &self,
        bar2_off: u64,
        desc: &[u8; 64],
        kind: SubmitKind,
    ) -> Result<PortalResult, EmuError> {
        let sh = &self.sh;
        if bar2_off % DESC_SLOT != 0 || bar2_off >= sh.profile.bar2_size {
            return Err(EmuError::BadPortal { offset: bar2_off });
        }
        let wq = wq_of_portal_offset(bar2_off) as usize;
        if wq >= sh.caps.num_wqs() as usize {
            return Err(EmuError::BadPortal { offset: bar2_off });
        }
        let limited = is_limited_portal(bar2_off);
        let mut st = sh.lock();
        let enabled = st.gensts.state == DeviceState::Enabled && st.wqs[wq].enabled;
        let swerr = |code: u8| SwErr {
            desc_valid: true,
            wq_idx_valid: true,
            error: code,
            wq_idx: wq as u8,
            opcode: desc[7],
            pasid: u32::from_le_bytes([desc[0], desc[1], desc[2], desc[3]]) & 0xf_ffff,
            privileged: desc[3] & 0x80 != 0,
            ..Default::default()
        };
        if !enabled {
            return Ok(match kind {
                SubmitKind::Movdir64b => {
                    sh.counters.dropped();
                    if st.gensts.state != DeviceState::Halted {
                        sh.record_swerr(&mut st, swerr(swerr_code::WQ_DISABLED));
                    }
                    PortalResult::Accepted
                }
                SubmitKind::Enqcmd => {
                    sh.counters.retry();
                    PortalResult::Retry
                }
            });
        }
        let cfg = st.wqs[wq].cfg;
        let occ = st.wqs[wq].occupancy();
        match (cfg.mode, kind) {
            (WqMode::Dedicated, SubmitKind::Movdir64b) => {
                if occ >= cfg.size as u32 {
                    sh.counters.dropped();
                    sh.record_swerr(&mut st, swerr(swerr_code::WQ_FULL));
                    return Ok(PortalResult::Accepted);
                }
            }
            (WqMode::Shared, SubmitKind::Enqcmd) => {
                if occ >= cfg.size as u32 || (limited && occ >= cfg.threshold as u32) {
                    sh.counters.retry();
                    return Ok(PortalResult::Retry);
                }
            }
            (_, SubmitKind::Movdir64b) => {
                sh.counters.dropped();
                sh.record_swerr(&mut st, swerr(swerr_code::PORTAL_MODE));
                return Ok(PortalResult::Accepted);
            }
            (_, SubmitKind::Enqcmd) => {
                sh.counters.retry();
                sh.record_swerr(&mut st, swerr(swerr_code::PORTAL_MODE));
                return Ok(PortalResult::Retry);
            }
        }
        let q = Queued {
            bytes: *desc,
            seq: sh.seq.fetch_add(1, Ordering::Relaxed),
        };
        sh.counters.accepted(desc[7]);
        match sh.cfg.mode {
            ExecMode::Threads => {
                st.wqs[wq].queue.push_back(q);
                drop(st);
                sh.work_cv.notify_all();
            }
            ExecMode::Inline => {
                st.wqs[wq].in_flight += 1;
                let gen = st.wqs[wq].gen;
                let bad_handle = handle_refused(sh, &st, &q);
                drop(st);
                let out = execute(sh, &cfg, &q, wq, gen, bad_handle);
                let mut st = sh.lock();
                deliver(sh, &mut st, wq, gen, out);
            }
        }
        Ok(PortalResult::Accepted)
    }
}

/// The loop of one engine thread.
pub(super) fn engine_loop(sh: &Shared, e: u8) {
    let mut st = sh.lock();
    loop {
        if st.stop {
            return;
        }
        match pick(&mut st, e) {
            Some((wq, q)) => {
                st.wqs[wq].in_flight += 1;
                let (cfg, gen) = (st.wqs[wq].cfg, st.wqs[wq].gen);
                let bad_handle = handle_refused(sh, &st, &q);
                drop(st);
                let out = execute(sh, &cfg, &q, wq, gen, bad_handle);
                st = sh.lock();
                deliver(sh, &mut st, wq, gen, out);
            }
            None => st = sh.work_cv.wait(st).unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// The next descriptor for engine `e`: from the highest-priority non-empty WQ of its group,
/// round-robin among WQs of equal priority.
fn pick(st: &mut State, e: u8) -> Option<(usize, Queued)> {
    if st.gensts.state != DeviceState::Enabled && st.gensts.state != DeviceState::Draining {
        return None;
    }
    let g = st.engine_group.get(e as usize).copied().flatten()?;
    let n = st.wqs.len();
    let start = st.rr[e as usize];
    let mut best: Option<(u8, usize)> = None;
    for k in 0..n {
        let w = (start + k) % n;
        let run = &st.wqs[w];
        if run.enabled
            && run.group == Some(g)
            && !run.queue.is_empty()
            && best.is_none_or(|(p, _)| run.cfg.priority > p)
        {
            best = Some((run.cfg.priority, w));
        }
    }
    let (_, w) = best?;
    st.rr[e as usize] = (w + 1) % n;
    let q = st.wqs[w].queue.pop_front()?;
    Some((w, q))
}

/// Whether WQ `wq` is still in generation `gen` (no abort, reset or halt since the descriptor
/// was picked).
fn current(sh: &Shared, wq: usize, gen: u64) -> bool {
    sh.lock().wqs[wq].gen == gen
}

/// Whether the descriptor asks for a completion interrupt with a handle this device did not hand
/// out: on a device that hands out handles (CMDCAP bit 13) it is refused with status 0x19,
/// nothing run (docs/hardware.md, "Interrupt handles"). Checked under the state lock the
/// scheduler already holds.
fn handle_refused(sh: &Shared, st: &State, q: &Queued) -> bool {
    sh.requires_int_handles()
        && q.bytes[4] & DescFlags::RCI.bits() as u8 != 0
        && !sh.handle_valid(st, u16::from_le_bytes([q.bytes[36], q.bytes[37]]))
}

/// Runs one descriptor (outside the state lock). An injected slow engine waits in slices and
/// drops the descriptor, untouched, when the WQ is aborted, reset or halted meanwhile; the abort
/// or reset waits for running descriptors (see `commands.rs`), so once it completes no
/// descriptor of the old generation writes memory.
/// `bad_handle`: refused for its interrupt handle ([`handle_refused`]).
fn execute(sh: &Shared, cfg: &WqCfg, q: &Queued, wq_idx: usize, gen: u64, bad_handle: bool) -> Outcome {
    if bad_handle {
        if let Some(done) = ops::refuse_int_handle(sh.profile.kind == DeviceKind::Iaa, &q.bytes) {
            return Outcome::Done {
                done: Box::new(done),
                ctx_wq: WqLimits::from_wqcfg(&sh.caps, cfg),
                write_record: true,
                injection: None,
            };
        }
    }
    let src_len = u32::from_le_bytes([q.bytes[32], q.bytes[33], q.bytes[34], q.bytes[35]]);
    let fault = if sh.cfg.inject.is_active() {
        sh.cfg.inject.decide(q.seq, src_len)
    } else {
        None
    };
    let injection = match fault {
        Some(Fault::Halt) => return Outcome::Halt { opcode: q.bytes[7] },
        Some(Fault::Slow(d)) => {
            let until = std::time::Instant::now() + d;
            loop {
                if !current(sh, wq_idx, gen) {
                    return Outcome::Dropped;
                }
                let left = until.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() {
                    break;
                }
                std::thread::sleep(left.min(std::time::Duration::from_millis(1)));
            }
            None
        }
        Some(Fault::PageFault { at_offset }) => Some(Injection::PageFault { at_offset }),
        Some(Fault::HardwareError) => Some(Injection::HardwareError),
        Some(Fault::Watchdog) => Some(Injection::Watchdog),
        Some(Fault::OutputOverflow) => Some(Injection::OutputOverflow),
        Some(Fault::NoCompletion) | Some(Fault::CorruptOutput) | None => None,
    };
    let wq = WqLimits::from_wqcfg(&sh.caps, cfg);
    let ctx = ExecCtx {
        mem: &sh.iommu,
        caps: &sh.caps,
        wq,
        inject: injection,
    };
    let (done, dst) = match sh.profile.kind {
        DeviceKind::Dsa => {
            let d = DsaDesc::from_bytes(&q.bytes);
            (ops::run_dsa(&ctx, &d), d.dst_addr)
        }
        DeviceKind::Iaa => {
            let d = IaaDesc::from_bytes(&q.bytes);
            (ops::run_iaa(&ctx, &d), d.dst_addr)
        }
    };
    // The bytes of output the operation wrote at its destination (0: an operation whose output
    // this fault does not model, e.g. dualcast, delta records, batches, CRC-only operations).
    let output_len = match sh.profile.kind {
        DeviceKind::Dsa => match idxd_hw::DsaOpcode::from_code(done.opcode) {
            Some(idxd_hw::DsaOpcode::Memmove | idxd_hw::DsaOpcode::Fill | idxd_hw::DsaOpcode::CopyCrc) => {
                done.bytes_written
            }
            _ => 0,
        },
        DeviceKind::Iaa => match idxd_hw::IaaOpcode::from_code(done.opcode) {
            // Compress may also write the AECS back: only the stream counts.
            Some(idxd_hw::IaaOpcode::Compress | idxd_hw::IaaOpcode::Decompress) => {
                u64::from(idxd_hw::IaaCompletion::from_bytes(&done.record).output_size)
            }
            Some(idxd_hw::IaaOpcode::Memmove) => done.bytes_written,
            _ => 0,
        },
    };
    if fault == Some(Fault::CorruptOutput) && done.status == 1 && output_len > 0 {
        // One wrong byte in the middle of the operation's output; the record says success.
        let at = dst + output_len / 2;
        let mut b = [0u8; 1];
        if sh.iommu.read(at, &mut b).is_ok() {
            let _ = sh.iommu.write(at, &[b[0] ^ 0x5a]);
            sh.counters.corrupted();
        }
    }
    Outcome::Done {
        done: Box::new(done),
        ctx_wq: wq,
        write_record: fault != Some(Fault::NoCompletion),
        injection,
    }
}

/// Delivers a result under the lock: the record (status byte last), counters, the interrupt;
/// or abandons it when the WQ was aborted, reset or halted since the descriptor started.
fn deliver(sh: &Shared, st: &mut State, wq: usize, gen: u64, out: Outcome) {
    let run = &mut st.wqs[wq];
    run.in_flight = run.in_flight.saturating_sub(1);
    let current = run.gen == gen;
    match out {
        Outcome::Halt { opcode } if current => halt(sh, st, wq, opcode),
        Outcome::Done {
            done,
            ctx_wq,
            write_record,
            injection,
        } if current => {
            sh.counters
                .completed(done.status, done.bytes_read, done.bytes_written);
            let tag = |e: SwErr| SwErr {
                wq_idx_valid: true,
                wq_idx: wq as u8,
                ..e
            };
            let ctx = ExecCtx {
                mem: &sh.iommu,
                caps: &sh.caps,
                wq: ctx_wq,
                inject: injection,
            };
            let result = if !write_record && done.write_record {
                // Injected: the record is never written (SWERR reports still are).
                sh.counters.no_record();
                ops::finish(
                    &ctx,
                    &Completed {
                        write_record: false,
                        ..(*done).clone()
                    },
                )
            } else {
                ops::finish(&ctx, &done)
            };
            if let Err(e) = result {
                sh.record_swerr(st, tag(e));
            }
            for h in done.member_interrupts.iter().chain(done.interrupt.iter()) {
                // Handles are vector indexes (the emulator's handle for vector N is N); on a
                // device with CMDCAP bit 13 only handles requested with command 13 are valid.
                let valid = !sh.requires_int_handles() || sh.handle_valid(st, *h);
                match sh.irqs.get(*h as usize).filter(|_| valid) {
                    Some(n) => n.signal(),
                    None => {
                        let e = SwErr {
                            desc_valid: true,
                            error: idxd_hw::DsaStatus::IntHandleInval.code(),
                            opcode: done.opcode,
                            ..Default::default()
                        };
                        sh.record_swerr(st, tag(e));
                    }
                }
            }
        }
        _ => {}
    }
    sh.idle_cv.notify_all();
}

/// The device halts: GENSTS halted (a software reset recovers it), SWERR and INTCAUSE say so,
/// every queued descriptor is dropped and every running one abandoned (no records).
fn halt(sh: &Shared, st: &mut State, wq: usize, opcode: u8) {
    st.gensts = GenSts {
        state: DeviceState::Halted,
        reset_type: ResetType::Software,
    };
    for w in st.wqs.iter_mut() {
        w.queue.clear();
    }
    let n = st.wqs.len();
    sh.new_generation(st, 0..n);
    sh.record_swerr(
        st,
        SwErr {
            desc_valid: true,
            wq_idx_valid: true,
            wq_idx: wq as u8,
            opcode,
            error: swerr_code::HALT,
            ..Default::default()
        },
    );
    st.intcause |= IntCause::HALT.bits();
    if GenCtrl::decode(st.genctrl).halt_int_en {
        sh.irqs[0].signal();
    }
    sh.idle_cv.notify_all();
}
