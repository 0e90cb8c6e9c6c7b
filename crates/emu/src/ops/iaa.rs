//! The IAA operations: noop, drain, memmove, compress, decompress, CRC64.
//!
//! IAA never completes partially: a page fault anywhere (source, AECS, destination) ends the
//! job with status 0x03 on a read or 0x83 on a write (QPL `AD_STATUS_READ_PAGE_FAULT`,
//! `AD_STATUS_WRITE_PAGE_FAULT`) and the faulting address; the rest of the record is zero.
//! Output already written before the fault stays in memory.
//!
//! The source is read into a scratch buffer and the output written from one (the engine works
//! on slices).
//!
//! # Compress and its AECS (docs/hardware.md, "Compress and the AECS")
//! - With "read src2 as AECS" the job starts from the AECS in memory; without it, from the
//!   default state: RFC 1951 fixed codes, CRC and XOR 0, empty accumulator (public sources are
//!   silent; this is the state the fixed-mode AECS has apart from its block header).
//! - Double buffering (QPL `hw_iaa_aecs_compress_get_aecs_ptr`, `qpl_hw_check_job.cpp`):
//!   `src2_size` is the size of one copy; the job reads copy `sel` (bit 22) at
//!   `src2 + sel * src2_size` and writes the AECS back into copy `!sel`.
//! - Statistics mode reads and writes no AECS and writes the 1280-byte histogram to the
//!   destination (QPL `hw_iaa_descriptor_init_statistic_collector`).
//! - Write-back: "always" writes the AECS after the engine ran (successful or not: the engine
//!   leaves the starting state in place on an error), "on overflow" only after error 25.
//! - Output overflow: status 0x0a, error 25, `output_size` = bytes the engine wrote.
//!
//! # Decompress
//! Overflow: status 0x0b with `output_size` = bytes produced (all of `max_dst_size`), those
//! bytes written. Analytics errors: status 0x0a with the engine's error code and the bytes it
//! produced. `bytes_completed`: source bytes consumed (on success; the engine does not say on
//! failure, so it is 0 then).

use idxd_deflate::EngineError;
use idxd_hw::aecs::{COMPRESS_AECS_SIZE, HISTOGRAM_SIZE};
use idxd_hw::{
    AnalyticsError, CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, DescFlags, IaaCompletion,
    IaaDesc, IaaOpcode, IaaStatus,
};

use super::mem::{at, scratch, Dev};
use super::validate;
use super::{Completed, ExecCtx, Injection, Tail};
use crate::iommu::Fault;

/// Alignment of an IAA completion record.
use idxd_hw::iaa_ops::IAA_RECORD_ALIGN as RECORD_ALIGN;

/// Why a job stopped without a record of its own.
enum Stop {
    Fault(Fault),
    NoMemory,
}

impl From<Fault> for Stop {
    fn from(f: Fault) -> Self {
        Stop::Fault(f)
    }
}

pub(super) fn run(ctx: &ExecCtx, d: &IaaDesc) -> Completed {
    let flags = d.flags();
    let tail = Tail {
        flags,
        record_addr: d.completion_addr,
        int_handle: d.int_handle,
        opcode: d.opcode_raw(),
        pasid: d.pasid(),
        privileged: d.privileged(),
        batch_index: None,
    };
    let mut rec = IaaCompletion::default();
    if flags.intersects(DescFlags::CRAV | DescFlags::RCR) && d.completion_addr % RECORD_ALIGN != 0 {
        rec.status = IaaStatus::CraAlign.code();
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, true);
    }
    if let Err(r) = validate::iaa(ctx, d) {
        rec.status = r.status;
        rec.invalid_flags = r.invalid_flags;
        rec.error_code = r.error_code;
        return tail.complete(&rec.to_bytes(), (0, 0), r.invalid_flags, None, false);
    }
    let Some(op) = IaaOpcode::from_code(d.opcode_raw()) else {
        rec.status = IaaStatus::BadOpcode.code();
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, false);
    };
    match ctx.inject {
        Some(Injection::HardwareError) => rec.status = IaaStatus::HwErr1.code(),
        Some(Injection::Watchdog) => rec.status = IaaStatus::Watchdog.code(),
        _ => {}
    }
    if rec.status != 0 {
        return tail.complete(&rec.to_bytes(), (0, 0), 0, None, false);
    }
    let poison = match ctx.inject {
        Some(Injection::PageFault { at_offset }) if d.src1_size != 0 => Some(Fault {
            addr: at(d.src1_addr, (at_offset as u64).min(d.src1_size as u64 - 1)),
            write: false,
        }),
        _ => None,
    };
    let overflow = ctx.inject == Some(Injection::OutputOverflow);
    let dev = Dev::new(ctx.mem, poison);
    let r = match op {
        IaaOpcode::Noop | IaaOpcode::Drain => Ok(()),
        IaaOpcode::Memmove => memmove(&dev, d, &mut rec),
        IaaOpcode::Compress => compress(&dev, d, overflow, &mut rec),
        IaaOpcode::Decompress => decompress(&dev, d, overflow, &mut rec),
        IaaOpcode::Crc64 => crc64(&dev, d, &mut rec),
        _ => {
            rec.status = IaaStatus::BadOpcode.code();
            Ok(())
        }
    };
    let fault = match r {
        Ok(()) => {
            if rec.status == 0 {
                rec.status = IaaStatus::Success.code();
            }
            None
        }
        Err(Stop::Fault(f)) => {
            rec = IaaCompletion {
                status: IaaStatus::PageFault.code() | if f.write { 0x80 } else { 0 },
                fault_addr: f.addr,
                ..Default::default()
            };
            Some(f)
        }
        Err(Stop::NoMemory) => {
            rec = IaaCompletion {
                status: IaaStatus::HwErr1.code(),
                ..Default::default()
            };
            None
        }
    };
    tail.complete(&rec.to_bytes(), dev.counters(), 0, fault, false)
}

/// Buffers up to this size are allocated without first checking the mapping (the read or
/// write finds a fault anyway, and the check would cost a second IOMMU walk per job).
const UNCHECKED_SCRATCH: usize = 64 * 1024;

/// Reads `len` bytes at `addr` into a new buffer. A large range is checked before anything is
/// allocated, so a descriptor that declares a huge source over a small mapping costs a fault,
/// not an allocation of its declared size.
fn read_all(dev: &Dev, addr: u64, len: usize) -> Result<Vec<u8>, Stop> {
    if len > UNCHECKED_SCRATCH {
        dev.check(addr, len, false)?;
    }
    let mut v = scratch(len).ok_or(Stop::NoMemory)?;
    dev.read(addr, &mut v)?;
    Ok(v)
}

fn memmove(dev: &Dev, d: &IaaDesc, rec: &mut IaaCompletion) -> Result<(), Stop> {
    // The whole source is read before anything is written: memmove semantics where GENCAP
    // allows overlapping buffers (validation refuses them otherwise).
    let data = read_all(dev, d.src1_addr, d.src1_size as usize)?;
    dev.write(d.dst_addr, &data)?;
    rec.bytes_completed = d.src1_size;
    Ok(())
}

/// The AECS a compress job starts from when it reads none.
fn default_aecs() -> CompressAecs {
    let mut a = CompressAecs::fixed();
    // Nothing valid in the accumulator: no block header is emitted.
    let _ = a.set_accumulator(&[], 0);
    a
}

fn compress(dev: &Dev, d: &IaaDesc, overflow: bool, rec: &mut IaaCompletion) -> Result<(), Stop> {
    let flags = d.flags();
    let input = read_all(dev, d.src1_addr, d.src1_size as usize)?;
    let cflags = CompressFlags::from_bits_retain(d.op_flags);
    let stats = cflags.contains(CompressFlags::STATS_MODE);
    let copy = d.src2_size as u64;
    let (rd_off, wr_off) = if flags.contains(DescFlags::AECS_SELECT) {
        (copy, 0)
    } else {
        (0, copy)
    };
    let mut aecs = if flags.contains(DescFlags::RD_SRC2_AECS) && !stats {
        let raw = read_all(dev, at(d.src2_addr, rd_off), COMPRESS_AECS_SIZE)?;
        CompressAecs::from_bytes(&raw).map_err(|_| Stop::NoMemory)?
    } else {
        default_aecs()
    };
    let room = if stats {
        (d.max_dst_size as usize).min(HISTOGRAM_SIZE)
    } else {
        compress_room(d)
    };
    let mut out = scratch(mapped_room(dev, d.dst_addr, room)).ok_or(Stop::NoMemory)?;
    let result = if overflow {
        Err(EngineError::Analytics {
            code: AnalyticsError::CompressOutputOverflow,
            produced: 0,
        })
    } else {
        idxd_deflate::compress(
            &input,
            &mut aecs,
            cflags,
            flags.contains(DescFlags::CRC_RFC3720),
            &mut out,
        )
    };
    let write_back = |aecs: &CompressAecs| dev.write(at(d.src2_addr, wr_off), aecs.as_bytes());
    match result {
        Ok(done) => {
            dev.write(d.dst_addr, &out[..done.output_size.min(out.len())])?;
            if flags.contains(DescFlags::WR_SRC2_AECS_ALWAYS) && !stats {
                write_back(&aecs)?;
            }
            rec.bytes_completed = d.src1_size;
            rec.output_size = done.output_size as u32;
            rec.output_bits = done.output_bits;
            rec.crc = done.crc;
            rec.xor_csum = done.xor_checksum;
        }
        Err(e) => {
            let produced = e.produced().min(out.len());
            dev.write(d.dst_addr, &out[..produced])?;
            let is_overflow = e.analytics_error() == Some(AnalyticsError::CompressOutputOverflow);
            if !stats
                && (flags.contains(DescFlags::WR_SRC2_AECS_ALWAYS)
                    || (is_overflow && flags.contains(DescFlags::WR_SRC2_AECS_OVERFLOW)))
            {
                write_back(&aecs)?;
            }
            rec.status = e.status().code();
            rec.error_code = e.error_code();
            rec.output_size = produced as u32;
        }
    }
    Ok(())
}

/// Scratch room for a compress job's output: `max_dst_size`, but no more than the job can
/// produce (a deflate code is at most 15 bits plus extra bits, under 2 bytes per input byte;
/// plus the 256-byte accumulator and the end processing), so a large `max_dst_size` does not
/// cost a large allocation.
fn compress_room(d: &IaaDesc) -> usize {
    (d.max_dst_size as u64).min(d.src1_size as u64 * 2 + 1024) as usize
}

/// `room` bytes of output at `dst`, cut to what is mapped writable there plus one byte: output
/// that reaches past the mapping then faults on its first unmapped byte when written, as the
/// device's would, and a large declared destination over a small mapping costs no allocation.
fn mapped_room(dev: &Dev, dst: u64, room: usize) -> usize {
    if room <= UNCHECKED_SCRATCH {
        return room;
    }
    match dev.check(dst, room, true) {
        Ok(()) => room,
        Err(f) => (f.addr.saturating_sub(dst) as usize).saturating_add(1).min(room),
    }
}

/// Scratch room for a decompress job's output: `max_dst_size`, but no more than deflate can
/// expand to (a 258-byte match costs at least 2 bits: 1032 bytes per input byte).
fn decompress_room(d: &IaaDesc) -> usize {
    (d.max_dst_size as u64).min(d.src1_size as u64 * 1032 + 1024) as usize
}

fn decompress(dev: &Dev, d: &IaaDesc, overflow: bool, rec: &mut IaaCompletion) -> Result<(), Stop> {
    let flags = DecompressFlags::from_bits_retain(d.op_flags);
    let crc32c = d.flags().contains(DescFlags::CRC_RFC3720);
    let suppress = flags.contains(DecompressFlags::SUPPRESS_OUTPUT);
    let input = read_all(dev, d.src1_addr, d.src1_size as usize)?;
    let room = if suppress {
        0
    } else {
        mapped_room(dev, d.dst_addr, decompress_room(d))
    };
    let mut out = scratch(room).ok_or(Stop::NoMemory)?;
    let mut result = idxd_deflate::decompress(&input, flags, crc32c, &mut out);
    if overflow && !suppress {
        // An injected overflow: the job as if its destination held half of its output.
        if let Ok(done) = &result {
            let half = (done.output_size / 2).min(out.len());
            result = match idxd_deflate::decompress(&input, flags, crc32c, &mut out[..half]) {
                Ok(_) => Err(EngineError::OutputOverflow { produced: half }),
                r => r,
            };
        }
    }
    match result {
        Ok(done) => {
            if !suppress {
                dev.write(d.dst_addr, &out[..done.output_size.min(out.len())])?;
            }
            rec.bytes_completed = done.input_consumed as u32;
            rec.output_size = done.output_size as u32;
            rec.crc = done.crc;
            rec.xor_csum = done.xor_checksum;
        }
        Err(e) => {
            let produced = e.produced();
            if !suppress {
                dev.write(d.dst_addr, &out[..produced.min(out.len())])?;
            }
            rec.status = e.status().code();
            rec.error_code = e.error_code();
            rec.output_size = produced as u32;
        }
    }
    Ok(())
}

fn crc64(dev: &Dev, d: &IaaDesc, rec: &mut IaaCompletion) -> Result<(), Stop> {
    let data = read_all(dev, d.src1_addr, d.src1_size as usize)?;
    rec.set_crc64(idxd_deflate::crc64(
        &data,
        d.crc64_poly(),
        Crc64Flags::from_bits_retain(d.op_flags),
    ));
    rec.bytes_completed = d.src1_size;
    Ok(())
}
