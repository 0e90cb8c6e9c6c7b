//! Execution of DSA and IAA descriptors: validation as the hardware does it, then the
//! operation, against memory reached through the [`Iommu`].
//!
//! [`run_dsa`] and [`run_iaa`] are pure functions of the context, the descriptor and the
//! memory: no threads, no device state, deterministic. They return a [`Completed`] that says
//! what the completion record holds and whether to write it; [`finish`] writes it (status byte
//! last) and reports what has to go to SWERR. The one exception to "nothing written before
//! `finish`" is a batch: its members' records are written, in order, while the batch runs (the
//! batch's own record is written by `finish`, after them).
//!
//! # Record and SWERR rules (docs/hardware.md, "Completion records" and "SWERR")
//! - RCR set: the record is always written. CRAV without RCR: only when the status is not
//!   success (status 2, "success with false predicate", counts as not success). Neither: never.
//!   (RCR without CRAV also writes: RCR alone decides. docs/hardware.md does not call that
//!   combination invalid, so it is not refused.)
//! - A record address that is not aligned (32 B DSA, 64 B IAA) when a record may be written:
//!   status 0x1b, reported through SWERR (no record can be written there).
//! - A record address that does not translate when the record is written: status 0x1a through
//!   SWERR ([`finish`]).
//! - An error status (anything but 1 and 2) on a descriptor that asked for no record at all
//!   (neither CRAV nor RCR): reported through SWERR with the status as the error code (the
//!   DSA spec reports errors of descriptors without a valid completion record address there).
//!
//! SWERR entries never carry the WQ index: the caller, which knows it, fills
//! `wq_idx`/`wq_idx_valid`.

// Memory is reached only through the IOMMU's safe interface.
#![forbid(unsafe_code)]

mod batch;
mod delta;
mod dsa;
mod iaa;
mod mem;
mod stream;
mod validate;

use idxd_hw::completion::IAA_COMPLETION_SIZE;
use idxd_hw::regs::SwErr;
use idxd_hw::status::STATUS_MASK;
use idxd_hw::tables::{WqCfg, WqMode};
use idxd_hw::{Capabilities, DescFlags, DsaDesc, DsaStatus, IaaDesc};

use crate::iommu::{Fault, Iommu};

/// What the WQ a descriptor came through allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WqLimits {
    /// Largest transfer size in bytes (`1 << WQCFG.max_xfer_shift`).
    pub max_transfer: u64,
    /// Largest batch (`1 << WQCFG.max_batch_shift`; 0 when batches are not allowed).
    pub max_batch: u32,
    /// Whether descriptors with priv = 1 are accepted: always on a dedicated WQ (the device
    /// runs them with the WQCFG's privilege, whatever the descriptor says: the kernel's vfio
    /// selftest `dsa.c` submits priv = 1 to a dedicated WQ with WQCFG priv = 0 and expects
    /// success, and the kernel's `cdev.c` overwrites priv and PASID only for shared WQs); on a
    /// shared WQ, the WQCFG privileged bit (the emulator's stand-in for the PCIe PASID
    /// capability's Privileged Mode Enable, which DML names as the 0x1d condition).
    pub privileged: bool,
    /// Per-WQ operation enable bitmap (WQCFG dwords 8..15) when WQCAP bit 54 says the device
    /// has one; `None` enables every operation OPCAP lists.
    pub op_config: Option<[u32; 8]>,
    /// Whether block-on-fault may be requested (WQCFG block-on-fault and GENCAP bit 0).
    pub block_on_fault: bool,
}

impl WqLimits {
    /// The limits of a WQ configured as `cfg` on a device with `caps`.
    pub fn from_wqcfg(caps: &Capabilities, cfg: &WqCfg) -> Self {
        WqLimits {
            max_transfer: 1u64 << cfg.max_xfer_shift.min(caps.gencap.max_xfer_shift).min(63),
            max_batch: match cfg.max_batch_shift.min(caps.gencap.max_batch_shift) {
                0 => 0,
                s => 1u32 << s.min(31),
            },
            privileged: cfg.privileged || cfg.mode == WqMode::Dedicated,
            op_config: caps.wqcap.op_config.then_some(cfg.op_config),
            block_on_fault: cfg.block_on_fault && caps.gencap.block_on_fault,
        }
    }

    /// Everything the device allows (GENCAP's limits, every operation, privileged and
    /// block-on-fault accepted where GENCAP allows it).
    pub fn device_max(caps: &Capabilities) -> Self {
        WqLimits {
            max_transfer: caps.max_transfer_size(),
            max_batch: caps.max_batch_size(),
            privileged: true,
            op_config: None,
            block_on_fault: caps.gencap.block_on_fault,
        }
    }

    /// Whether the WQ's operation configuration enables `opcode`.
    pub fn op_enabled(&self, opcode: u8) -> bool {
        match &self.op_config {
            None => true,
            Some(bits) => bits[(opcode / 32) as usize] >> (opcode % 32) & 1 != 0,
        }
    }
}

/// Misbehaviour the caller decided to inject into one descriptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Injection {
    /// The source does not translate at this byte offset (clamped to the last byte of the
    /// source). The "source" is what the operation reads first: the source buffer, the delta
    /// record of apply-delta, the descriptor list of a batch; for fill the destination (a write
    /// fault) and for cache flush the flushed range. No effect on noop and drain.
    PageFault {
        /// Byte offset into the source.
        at_offset: u32,
    },
    /// An uncorrectable hardware error: status 0x20, nothing done (for a batch: no member
    /// runs).
    HardwareError,
    /// The engine watchdog fires: IAA status 0x24; DSA has no watchdog status and reports
    /// 0x20. Nothing done.
    Watchdog,
    /// The output does not fit: IAA compress ends with analytics error 25, decompress with
    /// status 0x0b (output limited to half of what the job produces). Other operations and DSA
    /// ignore it.
    OutputOverflow,
}

/// What executing a descriptor needs.
#[derive(Clone, Copy, Debug)]
pub struct ExecCtx<'a> {
    /// Memory, as the device sees it.
    pub mem: &'a Iommu,
    /// The device's capabilities (OPCAP, GENCAP).
    pub caps: &'a Capabilities,
    /// The limits of the WQ the descriptor came through.
    pub wq: WqLimits,
    /// Injected misbehaviour for this descriptor.
    pub inject: Option<Injection>,
}

/// The result of one descriptor: what to write, where, and what to signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completed {
    /// The record: 32 bytes used for DSA, 64 for IAA (see [`Completed::record_bytes`]).
    pub record: [u8; IAA_COMPLETION_SIZE],
    /// Bytes of `record` that make up the record (32 or 64).
    pub record_len: usize,
    /// Where the record goes.
    pub record_addr: u64,
    /// Whether [`finish`] writes the record (RCR, or CRAV and not success).
    pub write_record: bool,
    /// The interrupt handle when the descriptor asked for a completion interrupt (RCI).
    pub interrupt: Option<u16>,
    /// The status byte, bit 7 (fault on write) included.
    pub status: u8,
    /// Bytes the device read (batch: the list and every member's reads).
    pub bytes_read: u64,
    /// Bytes the device wrote, records excluded.
    pub bytes_written: u64,
    /// An error that goes to SWERR instead of a record (0x1b, or an error without a record).
    pub swerr: Option<SwErr>,
    /// The descriptor's opcode.
    pub opcode: u8,
    /// The descriptor's PASID.
    pub pasid: u32,
    /// The descriptor's privileged bit.
    pub privileged: bool,
    /// Index in its batch, for a batch member.
    pub batch_index: Option<u16>,
    /// Batch only: the interrupt handles the members asked for, in member order (their records
    /// are already written).
    pub member_interrupts: Vec<u16>,
    /// Batch only: SWERR reports of the members (their 0x1a/0x1b and record-less errors).
    pub member_swerrs: Vec<SwErr>,
}

impl Completed {
    /// The record's bytes.
    pub fn record_bytes(&self) -> &[u8] {
        &self.record[..self.record_len]
    }

    /// The status value (`status & 0x7f`).
    pub fn status_code(&self) -> u8 {
        self.status & STATUS_MASK
    }

    fn swerr_for(&self, error: u8, fault: Option<Fault>, invalid_flags: u32) -> SwErr {
        SwErr {
            valid: true,
            desc_valid: true,
            batch: self.batch_index.is_some(),
            batch_idx: self.batch_index.unwrap_or(0),
            fault_rw: fault.is_some_and(|f| f.write),
            fault_addr: fault.map_or(0, |f| f.addr),
            privileged: self.privileged,
            error,
            opcode: self.opcode,
            pasid: self.pasid,
            invalid_flags,
            ..Default::default()
        }
    }
}

/// Whether the emulator executes `opcode` on a `kind` device. Opcodes it does not execute
/// complete with status 0x10 (unsupported opcode), as on hardware without the capability, even
/// when the profile's OPCAP lists them: DSA DIF check/insert/strip/update (0x12..0x15), DIX
/// generate (0x17) and translation fetch (0x0a); IAA zero-compress/decompress (0x48, 0x49,
/// 0x4c, 0x4d) and the analytics operations (scan, set membership, extract, select, RLE burst,
/// find unique, expand: 0x50..0x56).
pub fn executes(kind: idxd_hw::pci::DeviceKind, opcode: u8) -> bool {
    // The validators' own tables of what runs, so the two cannot drift apart.
    match kind {
        idxd_hw::pci::DeviceKind::Dsa => {
            idxd_hw::DsaOpcode::from_code(opcode).is_some_and(validate::dsa_implemented)
        }
        idxd_hw::pci::DeviceKind::Iaa => validate::iaa_implemented(idxd_hw::IaaOpcode::from_code(opcode)),
    }
}

/// Executes a DSA descriptor (see the module documentation).
pub fn run_dsa(ctx: &ExecCtx, desc: &DsaDesc) -> Completed {
    dsa::run(ctx, desc, None)
}

/// Executes an IAA descriptor (see the module documentation).
pub fn run_iaa(ctx: &ExecCtx, desc: &IaaDesc) -> Completed {
    iaa::run(ctx, desc)
}

/// Writes the record of `done` (when it is to be written) with the status byte last, and
/// returns what goes to SWERR: the members' reports of a batch, the descriptor's own report,
/// and a record that does not translate (status 0x1a). Several reports come back as the first
/// one with the overflow bit set, as the SWERR register holds one.
pub fn finish(ctx: &ExecCtx, done: &Completed) -> Result<(), SwErr> {
    let mut first: Option<SwErr> = None;
    let mut more = false;
    let mut report = |e: SwErr| {
        if first.is_none() {
            first = Some(e);
        } else {
            more = true;
        }
    };
    for e in &done.member_swerrs {
        report(*e);
    }
    if let Some(e) = done.swerr {
        report(e);
    }
    if done.write_record {
        if let Err(f) = ctx.mem.write_record(done.record_addr, done.record_bytes()) {
            report(done.swerr_for(DsaStatus::CraXlat.code(), Some(f), 0));
        }
    }
    match first {
        None => Ok(()),
        Some(e) => Err(SwErr {
            overflow: e.overflow || more,
            ..e
        }),
    }
}

/// Completes a descriptor that asked for a completion interrupt (RCI) with a handle the device
/// does not hold, without running it: status 0x19 (invalid interrupt handle) in the record (per
/// the usual record rules), no interrupt, and a SWERR report (registers.h's event-log entry
/// layout carries the handle for error 0x19, so the device logs such descriptors). `None`
/// when the record address is misaligned: the normal path reports that (0x1b) first.
pub(crate) fn refuse_int_handle(iaa: bool, bytes: &[u8; 64]) -> Option<Completed> {
    let u32_at = |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let record_addr = u64::from(u32_at(8)) | u64::from(u32_at(12)) << 32;
    let len = if iaa {
        IAA_COMPLETION_SIZE
    } else {
        idxd_hw::completion::DSA_COMPLETION_SIZE
    };
    if record_addr % len as u64 != 0 {
        return None;
    }
    let tail = Tail {
        flags: DescFlags::from_bits_retain(u32_at(4) & 0x00ff_ffff),
        record_addr,
        int_handle: u16::from_le_bytes([bytes[36], bytes[37]]),
        opcode: bytes[7],
        pasid: u32_at(0) & 0xf_ffff,
        privileged: bytes[3] & 0x80 != 0,
        batch_index: None,
    };
    let mut rec = [0u8; IAA_COMPLETION_SIZE];
    rec[0] = DsaStatus::IntHandleInval.code();
    let mut done = tail.complete(&rec[..len], (0, 0), 0, None, false);
    done.interrupt = None;
    done.swerr = Some(done.swerr_for(DsaStatus::IntHandleInval.code(), None, 0));
    Some(done)
}

/// The common tail of a descriptor: the record flags decide whether the record is written or
/// the status goes to SWERR.
pub(crate) struct Tail {
    pub flags: DescFlags,
    pub record_addr: u64,
    pub int_handle: u16,
    pub opcode: u8,
    pub pasid: u32,
    pub privileged: bool,
    pub batch_index: Option<u16>,
}

impl Tail {
    /// Builds the [`Completed`] of a descriptor whose record is `record` (status byte first).
    pub fn complete(
        &self,
        record: &[u8],
        bytes: (u64, u64),
        invalid_flags: u32,
        fault: Option<Fault>,
        misaligned_record: bool,
    ) -> Completed {
        let mut rec = [0u8; IAA_COMPLETION_SIZE];
        let len = record.len().min(IAA_COMPLETION_SIZE);
        rec[..len].copy_from_slice(&record[..len]);
        let status = rec[0];
        let code = status & STATUS_MASK;
        let crav = self.flags.contains(DescFlags::CRAV);
        let rcr = self.flags.contains(DescFlags::RCR);
        let success = code == DsaStatus::Success.code();
        let is_error = !success && code != DsaStatus::SuccessPred.code();
        let mut done = Completed {
            record: rec,
            record_len: len,
            record_addr: self.record_addr,
            write_record: !misaligned_record && (rcr || (crav && !success)),
            interrupt: self.flags.contains(DescFlags::RCI).then_some(self.int_handle),
            status,
            bytes_read: bytes.0,
            bytes_written: bytes.1,
            swerr: None,
            opcode: self.opcode,
            pasid: self.pasid,
            privileged: self.privileged,
            batch_index: self.batch_index,
            member_interrupts: Vec::new(),
            member_swerrs: Vec::new(),
        };
        if misaligned_record || (is_error && !crav && !rcr) {
            done.swerr = Some(done.swerr_for(code, fault, invalid_flags));
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use idxd_hw::Profile;

    #[test]
    fn wq_limits_from_a_wqcfg() {
        let caps = Profile::builtin("dsa-spr").unwrap().caps;
        let mut cfg = WqCfg {
            max_xfer_shift: 12,
            max_batch_shift: 5,
            privileged: true,
            ..Default::default()
        };
        cfg.op_config[0] = 1 << 3;
        let l = WqLimits::from_wqcfg(&caps, &cfg);
        assert_eq!(
            (l.max_transfer, l.max_batch, l.privileged, l.block_on_fault),
            (4096, 32, true, false)
        );
        // dsa-spr has no per-WQ operation configuration (WQCAP bit 54 clear).
        assert!(l.op_config.is_none() && l.op_enabled(0x20));
        let l = WqLimits {
            op_config: Some(cfg.op_config),
            ..l
        };
        assert!(l.op_enabled(3) && !l.op_enabled(4) && !l.op_enabled(0xff));
        let cfg = WqCfg {
            max_xfer_shift: 31,
            block_on_fault: true,
            ..Default::default()
        };
        let l = WqLimits::from_wqcfg(&caps, &cfg);
        assert_eq!(
            (l.max_transfer, l.max_batch, l.block_on_fault),
            (1 << 31, 0, true)
        );
        let d = WqLimits::device_max(&caps);
        assert_eq!((d.max_transfer, d.max_batch), (1 << 31, 1024));
    }

    #[test]
    fn dedicated_wq_accepts_privileged_descriptors_whatever_wqcfg_says() {
        // vfio selftest dsa.c: dedicated WQ, WQCFG priv = 0, every descriptor priv = 1.
        let caps = Profile::builtin("dsa-spr").unwrap().caps;
        let ded = WqCfg {
            mode: WqMode::Dedicated,
            ..Default::default()
        };
        assert!(WqLimits::from_wqcfg(&caps, &ded).privileged);
        let shared = WqCfg {
            mode: WqMode::Shared,
            ..Default::default()
        };
        assert!(!WqLimits::from_wqcfg(&caps, &shared).privileged);
    }

    #[test]
    fn finish_reports_several_swerrs_as_one_with_overflow() {
        let caps = Profile::builtin("dsa-spr").unwrap().caps;
        let mem = Iommu::new();
        let ctx = ExecCtx {
            mem: &mem,
            caps: &caps,
            wq: WqLimits::device_max(&caps),
            inject: None,
        };
        let tail = Tail {
            flags: DescFlags::CRAV | DescFlags::RCR,
            record_addr: 0x1000,
            int_handle: 0,
            opcode: 3,
            pasid: 7,
            privileged: false,
            batch_index: None,
        };
        let mut done = tail.complete(&[1; 32], (0, 0), 0, None, false);
        assert!(done.write_record && done.swerr.is_none());
        let e = finish(&ctx, &done).unwrap_err();
        assert_eq!(
            (e.error, e.fault_addr, e.pasid, e.overflow),
            (0x1a, 0x1000, 7, false)
        );
        done.member_swerrs.push(SwErr {
            error: 0x13,
            batch: true,
            ..Default::default()
        });
        let e = finish(&ctx, &done).unwrap_err();
        assert_eq!((e.error, e.overflow), (0x13, true));
        mem.map_owned(0x1000, 64, true).unwrap();
        done.member_swerrs.clear();
        assert_eq!(finish(&ctx, &done), Ok(()));
        assert_eq!(mem.cpu_read_vec(0x1000, 32).unwrap(), [1; 32]);
    }
}
