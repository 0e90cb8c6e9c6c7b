//! Descriptor validation, before anything executes, in a fixed order:
//!
//! 1. opcode not in OPCAP, not enabled in the WQ's operation configuration, or not
//!    implemented by this emulator (DIF, the IAA analytics operations): 0x10; a batch inside a
//!    batch: 0x10 (docs/hardware.md, "Batches");
//! 2. privileged bit on a WQ that does not accept privileged descriptors: 0x1d;
//! 3. flags the operation does not allow: 0x11, the offending bits reported as invalid flags;
//! 4. (IAA) undefined operation flags (bytes 38-39): 0x30;
//! 5. non-zero reserved fields: 0x12;
//! 6. transfer size 0 or above the WQ's maximum: 0x13 (batch: count outside [2, max]: 0x14);
//! 7. operation-specific checks: batch list alignment 0x18, dualcast destinations 0x17, delta
//!    record sizes 0x15, address alignment 0x1c (IAA: AECS address or size not a multiple of
//!    32), overlapping buffers 0x16, IAA AECS copy shorter than 1568 (analytics error 24).
//!
//! No source gives an order (docs/hardware.md, "Validation order"); this checks what makes it unreadable
//! (opcode, privilege, flags) before its fields, and fields before their relations.
//! The completion record alignment (0x1b) is checked by the callers before all of these,
//! because it decides whether any record can be written.

use idxd_hw::aecs::{AECS_ALIGN, COMPRESS_AECS_SIZE};
use idxd_hw::desc::dsa_off;
use idxd_hw::dsa_ops::{BATCH_LIST_ALIGN, DELTA_ENTRY_SIZE, DELTA_MAX_TRANSFER};
use idxd_hw::flags::COMMON_FLAGS_MASK;
use idxd_hw::{
    AnalyticsError, Crc64Flags, DecompressFlags, DescFlags, DsaDesc, DsaOpcode, DsaStatus, IaaDesc,
    IaaOpcode, IaaStatus,
};

use super::ExecCtx;

/// Why a descriptor is refused: the record's status, invalid flags and (IAA) error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    pub status: u8,
    pub invalid_flags: u32,
    pub error_code: u8,
}

fn reject(status: u8) -> Reject {
    Reject {
        status,
        invalid_flags: 0,
        error_code: 0,
    }
}

/// Whether `[a, a + alen)` and `[b, b + blen)` share a byte (empty ranges share none).
pub(crate) fn overlap(a: u64, alen: u64, b: u64, blen: u64) -> bool {
    alen != 0 && blen != 0 && (a as u128) < b as u128 + blen as u128 && (b as u128) < a as u128 + alen as u128
}

/// Flag bit 6 is not defined on either device.
const UNDEFINED_COMMON: u32 = 0x40;

/// The flags every operation of `ctx`'s device accepts (bits 15:0), before per-op additions.
fn common_flags(ctx: &ExecCtx) -> u32 {
    let g = &ctx.caps.gencap;
    let mut allowed = COMMON_FLAGS_MASK & !UNDEFINED_COMMON & !DescFlags::CHECK_RESULT.bits();
    // Block-on-fault only where the WQ enables it (and GENCAP supports it): else 0x11.
    if !ctx.wq.block_on_fault {
        allowed &= !DescFlags::BLOCK_ON_FAULT.bits();
    }
    // Destination read-back only with GENCAP bit 8.
    if !g.dest_readback {
        allowed &= !DescFlags::DEST_READBACK.bits();
    }
    // Cache control only with GENCAP bit 2 or 3.
    if !g.cache_control_mem && !g.cache_control_cache {
        allowed &= !DescFlags::CACHE_CONTROL.bits();
    }
    allowed
}

fn opcode_ok(ctx: &ExecCtx, op: u8, implemented: bool) -> Result<(), Reject> {
    if !implemented || !ctx.caps.supports(op) || !ctx.wq.op_enabled(op) {
        return Err(reject(DsaStatus::BadOpcode.code()));
    }
    Ok(())
}

fn flags_ok(raw: u32, allowed: u32) -> Result<(), Reject> {
    let bad = raw & !allowed;
    if bad != 0 {
        return Err(Reject {
            status: DsaStatus::InvalidFlags.code(),
            invalid_flags: bad,
            error_code: 0,
        });
    }
    Ok(())
}

/// How a DSA operation uses the transfer-size field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    Unused,
    Bytes,
    /// A create/apply delta transfer: also a multiple of 8 and at most 512 KiB.
    Delta,
    /// A batch's descriptor count.
    Count,
}

/// Which descriptor fields a DSA operation uses; the others are reserved (must be zero).
struct DsaSpec {
    src: bool,
    dst: bool,
    size: Size,
    /// Flags beyond the common ones.
    extra_flags: u32,
    /// Bit `i`: byte `40 + i` of the operation-specific area is used.
    op_bytes: u32,
}

fn dsa_spec(op: DsaOpcode) -> Option<DsaSpec> {
    use DsaOpcode as O;
    let check = DescFlags::CHECK_RESULT.bits();
    let seed = DescFlags::CRC_SEED_FROM_ADDR.bits();
    let s = |src, dst, size, extra_flags, op_bytes| {
        Some(DsaSpec {
            src,
            dst,
            size,
            extra_flags,
            op_bytes,
        })
    };
    match op {
        O::Noop | O::Drain => s(false, false, Size::Unused, 0, 0),
        O::Batch => s(true, false, Size::Count, 0, 0),
        O::Memmove | O::Fill => s(true, true, Size::Bytes, 0, 0),
        // expected_res at +40.
        O::Compare | O::ComparePattern => s(true, true, Size::Bytes, check, 0x1),
        // delta_addr +40..48, max_delta_size +48..52, expected_res_mask +56.
        O::CreateDelta => s(true, true, Size::Delta, check, 0x1_0fff),
        // delta_rec_size +40..44.
        O::ApplyDelta => s(true, true, Size::Delta, 0, 0xf),
        // dest2 +40..48.
        O::Dualcast => s(true, true, Size::Bytes, 0, 0xff),
        // crc_seed +40..44, seed_addr +48..56 (crc_rsvd +44..48 reserved).
        O::CrcGen => s(true, false, Size::Bytes, seed, 0xff0f),
        O::CopyCrc => s(true, true, Size::Bytes, seed, 0xff0f),
        O::CacheFlush => s(false, true, Size::Bytes, 0, 0),
        O::DifCheck | O::DifInsert | O::DifStrip | O::DifUpdate | O::TranslFetch | O::DixGen => None,
    }
}

/// Validates a DSA descriptor (`in_batch`: it is a batch member).
pub(crate) fn dsa(ctx: &ExecCtx, d: &DsaDesc, in_batch: bool) -> Result<(), Reject> {
    let raw_op = d.opcode_raw();
    let op = DsaOpcode::from_code(raw_op);
    let spec = op.and_then(dsa_spec);
    // 1. Opcode. A batch inside a batch is refused as an unsupported opcode (docs/hardware.md, "Batches").
    opcode_ok(ctx, raw_op, spec.is_some())?;
    let (Some(op), Some(spec)) = (op, spec) else {
        return Err(reject(DsaStatus::BadOpcode.code()));
    };
    if in_batch && op == DsaOpcode::Batch {
        return Err(reject(DsaStatus::BadOpcode.code()));
    }
    // 2. Privilege.
    if d.privileged() && !ctx.wq.privileged {
        return Err(reject(DsaStatus::PrivBad.code()));
    }
    // 3. Flags. Block-on-fault is reserved in a batch descriptor (docs/hardware.md, "Batches"); cache flush
    // uses the cache-control bit as "do not invalidate", whatever GENCAP says.
    let mut allowed = common_flags(ctx) | spec.extra_flags;
    match op {
        DsaOpcode::Batch => allowed &= !DescFlags::BLOCK_ON_FAULT.bits(),
        DsaOpcode::CacheFlush => allowed |= DescFlags::CACHE_CONTROL.bits(),
        _ => {}
    }
    flags_ok(d.flags_raw(), allowed)?;
    // 4. Reserved fields.
    dsa_reserved(d, op, &spec)?;
    // 5. Sizes.
    let len = d.xfer_size as u64;
    match spec.size {
        Size::Unused => {}
        Size::Bytes | Size::Delta => {
            if len == 0 || len > ctx.wq.max_transfer {
                return Err(reject(DsaStatus::XferErange.code()));
            }
            // Delta offsets are 16-bit in 8-byte units: a multiple of 8, at most 512 KiB.
            if spec.size == Size::Delta && (len % 8 != 0 || len > DELTA_MAX_TRANSFER as u64) {
                return Err(reject(DsaStatus::XferErange.code()));
            }
        }
        Size::Count => {
            if d.xfer_size < 2 || d.xfer_size > ctx.wq.max_batch {
                return Err(reject(DsaStatus::DescCntErange.code()));
            }
        }
    }
    // 6. Operation-specific relations.
    dsa_specific(ctx, d, op)
}

fn dsa_reserved(d: &DsaDesc, op: DsaOpcode, spec: &DsaSpec) -> Result<(), Reject> {
    let rsvd = || Err(reject(DsaStatus::NonZeroReserved.code()));
    if d.dword0_reserved() != 0 || d.rsvd1 != 0 {
        return rsvd();
    }
    if (!spec.src && d.src_addr != 0)
        || (!spec.dst && d.dst_addr != 0)
        || (spec.size == Size::Unused && d.xfer_size != 0)
    {
        return rsvd();
    }
    if d.op_specific
        .iter()
        .enumerate()
        .any(|(i, &b)| b != 0 && spec.op_bytes >> i & 1 == 0)
    {
        return rsvd();
    }
    let flags = d.flags();
    match op {
        // The expected result is 0 or 1: bits 7:1 are reserved.
        DsaOpcode::Compare | DsaOpcode::ComparePattern if d.op_u8(dsa_off::EXPECTED_RES) > 1 => rsvd(),
        // The expected-result mask has a bit per possible result (0, 1, 2): bits 7:3 reserved.
        DsaOpcode::CreateDelta if d.op_u8(dsa_off::EXPECTED_RES_MASK) > 7 => rsvd(),
        // Without "seed from address", the seed address is unused.
        DsaOpcode::CrcGen | DsaOpcode::CopyCrc
            if !flags.contains(DescFlags::CRC_SEED_FROM_ADDR) && d.op_u64(dsa_off::SEED_ADDR) != 0 =>
        {
            rsvd()
        }
        _ => Ok(()),
    }
}

fn dsa_specific(ctx: &ExecCtx, d: &DsaDesc, op: DsaOpcode) -> Result<(), Reject> {
    let len = d.xfer_size as u64;
    let fail = |s: DsaStatus| Err(reject(s.code()));
    match op {
        DsaOpcode::Batch if d.src_addr % BATCH_LIST_ALIGN != 0 => fail(DsaStatus::DescListAlign),
        DsaOpcode::Memmove if !ctx.caps.gencap.overlap_copy && overlap(d.src_addr, len, d.dst_addr, len) => {
            fail(DsaStatus::OverlapBuffers)
        }
        DsaOpcode::CopyCrc if overlap(d.src_addr, len, d.dst_addr, len) => fail(DsaStatus::OverlapBuffers),
        DsaOpcode::CrcGen | DsaOpcode::CopyCrc
            if d.flags().contains(DescFlags::CRC_SEED_FROM_ADDR) && d.op_u64(dsa_off::SEED_ADDR) % 4 != 0 =>
        {
            fail(DsaStatus::AddrAlign)
        }
        DsaOpcode::Dualcast => {
            let dst2 = d.op_u64(dsa_off::DEST2);
            if d.dst_addr & 0xfff != dst2 & 0xfff {
                return fail(DsaStatus::DualcastAlign);
            }
            if overlap(d.src_addr, len, d.dst_addr, len)
                || overlap(d.src_addr, len, dst2, len)
                || overlap(d.dst_addr, len, dst2, len)
            {
                return fail(DsaStatus::OverlapBuffers);
            }
            Ok(())
        }
        DsaOpcode::CreateDelta => {
            let max = d.op_u32(dsa_off::MAX_DELTA_SIZE);
            if max == 0 || max % DELTA_ENTRY_SIZE != 0 {
                return fail(DsaStatus::DrErange);
            }
            let delta = d.op_u64(dsa_off::DELTA_ADDR);
            if delta % 8 != 0 {
                return fail(DsaStatus::AddrAlign);
            }
            if overlap(delta, max as u64, d.src_addr, len) || overlap(delta, max as u64, d.dst_addr, len) {
                return fail(DsaStatus::OverlapBuffers);
            }
            Ok(())
        }
        DsaOpcode::ApplyDelta => {
            let size = d.op_u32(dsa_off::DELTA_REC_SIZE) as u64;
            // A delta record has at most one entry per 8-byte word of the destination.
            if size == 0 || size % DELTA_ENTRY_SIZE as u64 != 0 || size > len / 8 * DELTA_ENTRY_SIZE as u64 {
                return fail(DsaStatus::DrErange);
            }
            if overlap(d.src_addr, size, d.dst_addr, len) {
                return fail(DsaStatus::OverlapBuffers);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether the emulator executes DSA operation `op` (the others complete with 0x10).
pub(crate) fn dsa_implemented(op: DsaOpcode) -> bool {
    dsa_spec(op).is_some()
}

/// Whether the emulator executes IAA operation `op` (the others complete with 0x10).
pub(crate) fn iaa_implemented(op: Option<IaaOpcode>) -> bool {
    use IaaOpcode as O;
    matches!(
        op,
        Some(O::Noop | O::Drain | O::Memmove | O::Decompress | O::Compress | O::Crc64)
    )
}

/// The AECS flags of a compress descriptor.
pub(crate) fn aecs_flags() -> DescFlags {
    DescFlags::RD_SRC2_AECS | DescFlags::WR_SRC2_AECS_ALWAYS | DescFlags::WR_SRC2_AECS_OVERFLOW
}

/// The bytes of src2 a compress job touches: the copy it reads (copy `sel`, each copy
/// `src2_size` bytes) and, when it writes the AECS back, copy `!sel` (QPL
/// `hw_iaa_aecs_compress_get_aecs_ptr`). Both copies when either the select bit or a
/// write-back flag is set, else the first.
pub(crate) fn aecs_footprint(d: &IaaDesc) -> u64 {
    let f = d.flags();
    let both = f.intersects(
        DescFlags::AECS_SELECT | DescFlags::WR_SRC2_AECS_ALWAYS | DescFlags::WR_SRC2_AECS_OVERFLOW,
    );
    d.src2_size as u64 * if both { 2 } else { 1 }
}

/// Whether a compress descriptor is in statistics mode (which reads and writes no AECS).
fn stats_mode(d: &IaaDesc) -> bool {
    d.op_flags & idxd_hw::CompressFlags::STATS_MODE.bits() != 0
}

/// The compress flags the emulated device accepts: those the engine models, and nothing
/// gated by IAACAP (dictionary, header generation), which no profile of this emulator
/// advertises (firmware-mocks/iaa-gnr.toml).
fn compress_flags_ok(op_flags: u16) -> bool {
    op_flags & !idxd_hw::CompressFlags::MODELLED_MASK == 0
}

/// Validates an IAA descriptor.
pub(crate) fn iaa(ctx: &ExecCtx, d: &IaaDesc) -> Result<(), Reject> {
    use IaaOpcode as O;
    let raw_op = d.opcode_raw();
    let op = IaaOpcode::from_code(raw_op);
    // 1. Opcode.
    opcode_ok(ctx, raw_op, iaa_implemented(op))?;
    let Some(op) = op else {
        return Err(reject(IaaStatus::BadOpcode.code()));
    };
    // 2. Privilege.
    if d.privileged() && !ctx.wq.privileged {
        return Err(reject(IaaStatus::PrivBad.code()));
    }
    // 3. Flags. Fence and check-result have no meaning on IAA (no batch, no predicate).
    let mut allowed = common_flags(ctx) & !DescFlags::FENCE.bits();
    match op {
        O::Compress => allowed |= (aecs_flags() | DescFlags::CRC_RFC3720 | DescFlags::AECS_SELECT).bits(),
        // No decompress AECS is modelled (the engine keeps no state between jobs), so reading
        // src2 as an AECS is refused rather than silently ignored.
        O::Decompress => allowed |= DescFlags::CRC_RFC3720.bits(),
        _ => {}
    }
    flags_ok(d.flags_raw(), allowed)?;
    // 4. Operation flags.
    let bad_op_flags = match op {
        O::Compress => !compress_flags_ok(d.op_flags),
        O::Decompress => {
            d.op_flags & !DecompressFlags::MODELLED_MASK != 0
                || d.op_flags & DecompressFlags::ENABLE.bits() == 0
        }
        O::Crc64 => d.op_flags & !(Crc64Flags::INVERT | Crc64Flags::BE).bits() != 0,
        _ => false,
    };
    if bad_op_flags {
        return Err(reject(IaaStatus::InvalidCompFlag.code()));
    }
    // 5. Reserved fields.
    iaa_reserved(d, op)?;
    // 6. Sizes.
    let size = |s: IaaStatus| Err(reject(s.code()));
    let max = ctx.wq.max_transfer;
    if matches!(op, O::Memmove | O::Compress | O::Decompress | O::Crc64)
        && (d.src1_size == 0 || d.src1_size as u64 > max)
    {
        return size(IaaStatus::InvalidSize);
    }
    let suppress = d.op_flags & DecompressFlags::SUPPRESS_OUTPUT.bits() != 0;
    match op {
        O::Compress if d.max_dst_size == 0 || d.max_dst_size as u64 > max => {
            return size(IaaStatus::InvalidSize)
        }
        O::Decompress if (d.max_dst_size == 0 && !suppress) || d.max_dst_size as u64 > max => {
            return size(IaaStatus::InvalidSize)
        }
        _ => {}
    }
    // 7. Operation-specific relations.
    iaa_specific(ctx, d, op)
}

fn iaa_reserved(d: &IaaDesc, op: IaaOpcode) -> Result<(), Reject> {
    use IaaOpcode as O;
    let flags = d.flags();
    let uses_src2 = op == O::Compress && flags.intersects(aecs_flags()) && !stats_mode(d);
    let (src1, dst, max_dst, src2, tail, op_flags) = match op {
        O::Noop | O::Drain => (false, false, false, false, false, false),
        O::Memmove => (true, true, false, false, false, false),
        O::Compress => (true, true, true, uses_src2, false, true),
        O::Decompress => (true, true, true, false, false, true),
        // Bytes 56..64 hold the polynomial.
        O::Crc64 => (true, false, false, false, true, true),
        _ => (false, false, false, false, false, false),
    };
    let bad = d.dword0_reserved() != 0
        || (!src1 && (d.src1_addr != 0 || d.src1_size != 0))
        || (!dst && d.dst_addr != 0)
        || (!max_dst && d.max_dst_size != 0)
        || (!src2 && (d.src2_addr != 0 || d.src2_size != 0))
        || (!tail && (d.filter_flags != 0 || d.num_inputs != 0))
        || (!op_flags && d.op_flags != 0);
    if bad {
        return Err(reject(IaaStatus::NonZeroReserved.code()));
    }
    Ok(())
}

fn iaa_specific(ctx: &ExecCtx, d: &IaaDesc, op: IaaOpcode) -> Result<(), Reject> {
    use IaaOpcode as O;
    let len = d.src1_size as u64;
    let overlapping = || Err(reject(IaaStatus::OverlapBuffers.code()));
    match op {
        O::Memmove if !ctx.caps.gencap.overlap_copy && overlap(d.src1_addr, len, d.dst_addr, len) => {
            overlapping()
        }
        O::Compress | O::Decompress => {
            let out = d.max_dst_size as u64;
            if overlap(d.src1_addr, len, d.dst_addr, out) {
                return overlapping();
            }
            if op == O::Compress && d.flags().intersects(aecs_flags()) && !stats_mode(d) {
                // QPL AD_STATUS_MISALIGNED_ADDRESS: "the AECS address or size was not a
                // multiple of 32 bytes".
                if d.src2_addr % AECS_ALIGN != 0 || d.src2_size as u64 % AECS_ALIGN != 0 {
                    return Err(reject(IaaStatus::AddrAlign.code()));
                }
                // src2_size is one copy (QPL passes HW_AECS_COMPRESSION_SIZE with or without
                // the select bit).
                if (d.src2_size as u64) < COMPRESS_AECS_SIZE as u64 {
                    return Err(Reject {
                        status: IaaStatus::AnalyticsError.code(),
                        invalid_flags: 0,
                        error_code: AnalyticsError::Src2TooShort.code(),
                    });
                }
                let aecs_len = aecs_footprint(d);
                if overlap(d.src2_addr, aecs_len, d.src1_addr, len)
                    || overlap(d.src2_addr, aecs_len, d.dst_addr, out)
                {
                    return overlapping();
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_handles_edges_and_the_top_of_the_space() {
        assert!(overlap(0, 10, 9, 10));
        assert!(!overlap(0, 10, 10, 10));
        assert!(!overlap(0, 0, 0, 10), "empty ranges overlap nothing");
        assert!(overlap(u64::MAX - 5, 10, u64::MAX - 1, 10));
        assert!(!overlap(u64::MAX - 5, 5, u64::MAX, 1));
        assert!(overlap(5, 1, 0, u64::MAX));
    }
}
