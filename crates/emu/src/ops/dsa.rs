//! The DSA operations.
//!
//! # Page faults
//! DSA completes partially: on a fault the record says status 3 (bit 7 set for a write
//! fault), the faulting address, and `bytes_completed`, the bytes fully processed before the
//! fault, so software can resubmit the remainder. What `bytes_completed` counts:
//! - memmove: bytes copied from the start; for a descending copy (overlapping buffers with
//!   the destination above the source, `result` = 1 as on hardware) the bytes copied *at the
//!   end* of the buffers;
//! - fill, dualcast, copy with CRC: bytes written (to both destinations, for dualcast);
//! - compare, compare pattern: bytes compared; CRC generate: bytes read, with the CRC of those
//!   bytes in `crc_val` (resubmit the rest with it as the seed);
//! - create delta: bytes compared (a multiple of 8) with `delta_rec_size` the delta bytes
//!   written; apply delta: bytes of the *delta record* applied;
//! - cache flush: bytes of the range that translate.
//!
//! Block-on-fault (where the WQ allows it): the emulator has no page-request service that
//! could resolve a fault, so a fault with block-on-fault set completes exactly as without it.
//!
//! # CRC32C (CRC generate, copy with CRC)
//! The result is the standard CRC-32C (RFC 3720) continued from the seed taken as a finished
//! CRC: the seed is inverted into the register and the result inverted out, so seed 0 gives
//! the usual CRC-32C of the data (0xE3069283 for "123456789") and
//! `crc(seed = crc(a), b) == crc(a ++ b)`. This is what SPDK's driver expects of the hardware
//! (it compares `crc_val ^ !0` with a CRC started from `!seed`; docs/hardware.md, "DSA CRC32C"); headers are
//! silent. The value sits in the low 32 bits of `crc_val`.

use idxd_deflate::crc32c;
use idxd_hw::desc::dsa_off;
use idxd_hw::{DescFlags, DsaCompletion, DsaDesc, DsaOpcode, DsaStatus};

use super::mem::{at, scratch, Dev};
use super::stream::{copy_descending, sink, stream, Flow, Partial, StreamEnd, CHUNK};
use super::validate::{self, overlap};
use super::{batch, delta, Completed, ExecCtx, Injection, Tail};
use crate::iommu::Fault;

/// Alignment of a DSA completion record.
use idxd_hw::dsa_ops::DSA_RECORD_ALIGN as RECORD_ALIGN;

/// Runs one DSA descriptor (`batch_index`: its index when it is a batch member; members never
/// get the injection).
pub(super) fn run(ctx: &ExecCtx, d: &DsaDesc, batch_index: Option<u16>) -> Completed {
    let flags = d.flags();
    let tail = Tail {
        flags,
        record_addr: d.completion_addr,
        int_handle: d.int_handle,
        opcode: d.opcode_raw(),
        pasid: d.pasid(),
        privileged: d.privileged(),
        batch_index,
    };
    let mut rec = DsaCompletion::default();
    // The record alignment comes first: it decides whether any record can be written.
    if flags.intersects(DescFlags::CRAV | DescFlags::RCR) && d.completion_addr % RECORD_ALIGN != 0 {
        rec.status = DsaStatus::CraAlign.code();
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, true);
    }
    if let Err(r) = validate::dsa(ctx, d, batch_index.is_some()) {
        rec.status = r.status;
        if r.status == DsaStatus::InvalidFlags.code() {
            rec.set_op_u32(r.invalid_flags);
        }
        return tail.complete(&rec.to_bytes(), (0, 0), r.invalid_flags, None, false);
    }
    let Some(op) = DsaOpcode::from_code(d.opcode_raw()) else {
        // Unreachable: validation accepted the opcode.
        rec.status = DsaStatus::BadOpcode.code();
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, false);
    };
    let inject = if batch_index.is_none() { ctx.inject } else { None };
    if matches!(inject, Some(Injection::HardwareError | Injection::Watchdog)) {
        // DSA has no watchdog status: both report a hardware error, nothing done.
        rec.status = DsaStatus::HwErr1.code();
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, false);
    }
    let dev = Dev::new(ctx.mem, poison(inject, d, op));
    if op == DsaOpcode::Batch {
        return batch::run(ctx, d, &dev, &tail);
    }
    let fault = match execute(&dev, d, op, &mut rec) {
        Ok(()) => None,
        Err(StreamEnd::Fault(p)) => {
            rec.status = DsaStatus::PageFaultNoBof.code() | if p.fault.write { 0x80 } else { 0 };
            rec.bytes_completed = p.done as u32;
            rec.fault_addr = p.fault.addr;
            Some(p.fault)
        }
        Err(StreamEnd::NoMemory) => {
            rec = DsaCompletion {
                status: DsaStatus::HwErr1.code(),
                ..Default::default()
            };
            None
        }
    };
    tail.complete(&rec.to_bytes(), dev.counters(), 0, fault, false)
}

/// Where an injected page fault lands for this operation (see [`Injection::PageFault`]).
fn poison(inject: Option<Injection>, d: &DsaDesc, op: DsaOpcode) -> Option<Fault> {
    let Some(Injection::PageFault { at_offset }) = inject else {
        return None;
    };
    let len = d.xfer_size as u64;
    let (base, size, write) = match op {
        DsaOpcode::Noop | DsaOpcode::Drain => return None,
        DsaOpcode::Batch => (d.src_addr, len * 64, false),
        DsaOpcode::ApplyDelta => (d.src_addr, d.op_u32(dsa_off::DELTA_REC_SIZE) as u64, false),
        DsaOpcode::Fill => (d.dst_addr, len, true),
        DsaOpcode::CacheFlush => (d.dst_addr, len, false),
        _ => (d.src_addr, len, false),
    };
    (size != 0).then(|| Fault {
        addr: at(base, (at_offset as u64).min(size - 1)),
        write,
    })
}

/// Executes a validated, non-batch operation; success and predicate statuses are set here,
/// faults are returned.
fn execute(dev: &Dev, d: &DsaDesc, op: DsaOpcode, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    rec.status = DsaStatus::Success.code();
    match op {
        DsaOpcode::Noop | DsaOpcode::Drain => Ok(()),
        DsaOpcode::Memmove => memmove(dev, d, rec),
        DsaOpcode::Fill => fill(dev, d),
        DsaOpcode::Compare | DsaOpcode::ComparePattern => compare(dev, d, op, rec),
        DsaOpcode::CrcGen | DsaOpcode::CopyCrc => crc(dev, d, op, rec),
        DsaOpcode::Dualcast => dualcast(dev, d),
        DsaOpcode::CreateDelta => delta::create(dev, d, rec),
        DsaOpcode::ApplyDelta => delta::apply(dev, d, rec),
        DsaOpcode::CacheFlush => {
            // Nothing to flush in an emulator; the range must still translate (a read-type
            // access: flushing needs no write permission).
            let len = d.xfer_size as usize;
            dev.check(d.dst_addr, len, false).map_err(|fault| {
                Partial {
                    done: fault.addr.saturating_sub(d.dst_addr),
                    fault,
                }
                .into()
            })
        }
        // Validation refuses the rest; report it as the hardware would an unknown opcode.
        _ => {
            rec.status = DsaStatus::BadOpcode.code();
            Ok(())
        }
    }
}

/// The status of an operation with a result: "success with false predicate" when check-result
/// is set and the result is not the expected one.
pub(super) fn predicate_status(d: &DsaDesc, matches_expectation: bool) -> u8 {
    if d.flags().contains(DescFlags::CHECK_RESULT) && !matches_expectation {
        DsaStatus::SuccessPred.code()
    } else {
        DsaStatus::Success.code()
    }
}

fn memmove(dev: &Dev, d: &DsaDesc, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    let (src, dst, len) = (d.src_addr, d.dst_addr, d.xfer_size as u64);
    if dst > src && overlap(src, len, dst, len) {
        // memmove semantics: copy from the top down; `result` 1 says so (the direction
        // decides what `bytes_completed` counts after a fault).
        rec.result = 1;
        return copy_descending(dev, src, dst, len);
    }
    // Ascending: each chunk is read before it is written, and a destination below the source
    // only overwrites source bytes already read.
    stream(dev, src, len, CHUNK, 1, |off, b| {
        sink(dev, dst, off, b).map(|_| Flow::Continue)
    })
    .map(drop)
}

fn fill(dev: &Dev, d: &DsaDesc) -> Result<(), StreamEnd> {
    let len = d.xfer_size as u64;
    let pattern = d.src_addr.to_le_bytes();
    let mut buf = scratch((len as usize).min(CHUNK)).ok_or(StreamEnd::NoMemory)?;
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern[i % 8];
    }
    // CHUNK is a multiple of 8, so every chunk starts at pattern byte 0.
    let mut off = 0u64;
    while off < len {
        let n = ((len - off) as usize).min(CHUNK);
        sink(dev, d.dst_addr, off, &buf[..n])?;
        off += n as u64;
    }
    Ok(())
}

fn compare(dev: &Dev, d: &DsaDesc, op: DsaOpcode, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    let len = d.xfer_size as u64;
    let pattern = d.dst_addr.to_le_bytes();
    let with_buffer = op == DsaOpcode::Compare;
    let mut other =
        scratch(if with_buffer { (len as usize).min(CHUNK) } else { 0 }).ok_or(StreamEnd::NoMemory)?;
    let mut diff = None;
    stream(dev, d.src_addr, len, CHUNK, 1, |off, a| {
        let (k, fault) = if with_buffer {
            let base = at(d.dst_addr, off);
            let b = &mut other[..a.len()];
            match dev.read(base, b) {
                Ok(()) => (a.len(), None),
                Err(f) => ((f.addr.saturating_sub(base) as usize).min(a.len()), Some(f)),
            }
        } else {
            (a.len(), None)
        };
        let first = if with_buffer {
            a[..k].iter().zip(&other[..k]).position(|(x, y)| x != y)
        } else {
            a.iter()
                .enumerate()
                .position(|(i, x)| *x != pattern[(off as usize + i) % 8])
        };
        if let Some(i) = first {
            diff = Some(off + i as u64);
            return Ok(Flow::Stop);
        }
        match fault {
            Some(fault) => Err(Partial {
                done: off + k as u64,
                fault,
            }),
            None => Ok(Flow::Continue),
        }
    })?;
    rec.result = diff.is_some() as u8;
    rec.bytes_completed = diff.unwrap_or(0) as u32;
    rec.status = predicate_status(d, rec.result == d.op_u8(dsa_off::EXPECTED_RES));
    Ok(())
}

fn crc(dev: &Dev, d: &DsaDesc, op: DsaOpcode, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    let mut crc = if d.flags().contains(DescFlags::CRC_SEED_FROM_ADDR) {
        let mut seed = [0u8; 4];
        dev.read(d.op_u64(dsa_off::SEED_ADDR), &mut seed)
            .map_err(|fault| Partial { done: 0, fault })?;
        u32::from_le_bytes(seed)
    } else {
        d.op_u32(dsa_off::CRC_SEED)
    };
    let copy = op == DsaOpcode::CopyCrc;
    let r = stream(dev, d.src_addr, d.xfer_size as u64, CHUNK, 1, |off, b| {
        if copy {
            if let Err(p) = sink(dev, d.dst_addr, off, b) {
                crc = crc32c(crc, &b[..(p.done - off) as usize]);
                return Err(p);
            }
        }
        crc = crc32c(crc, b);
        Ok(Flow::Continue)
    });
    // Also after a fault: the CRC of the bytes processed, to seed the resubmission.
    rec.set_crc_val(crc as u64);
    r.map(drop)
}

fn dualcast(dev: &Dev, d: &DsaDesc) -> Result<(), StreamEnd> {
    let dst2 = d.op_u64(dsa_off::DEST2);
    stream(dev, d.src_addr, d.xfer_size as u64, CHUNK, 1, |off, b| {
        let r1 = sink(dev, d.dst_addr, off, b);
        let k1 = match r1 {
            Ok(n) => n,
            Err(p) => (p.done - off) as usize,
        };
        // The second destination gets what the first got; the earlier fault wins.
        match (r1, sink(dev, dst2, off, &b[..k1])) {
            (_, Err(p2)) => Err(p2),
            (Err(p1), Ok(_)) => Err(p1),
            (Ok(_), Ok(_)) => Ok(Flow::Continue),
        }
    })
    .map(drop)
}
