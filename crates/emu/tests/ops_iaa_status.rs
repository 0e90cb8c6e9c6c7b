//! IAA validation: one test per status code the validation produces (exact status byte,
//! error code and invalid flags), and the record rules on IAA.

#[path = "ops_util.rs"]
mod util;

use idxd_hw::{AecsWrite, CompressAecs, Crc64Flags, DescFlags, IaaDesc, IaaOp, IaaOpcode as Op};
use util::*;

/// (status, error code, invalid flags) of the record.
fn status(e: &Env, d: &IaaDesc) -> (u8, u8, u32) {
    let o = e.run_iaa(d);
    (o.rec.status, o.rec.error_code, o.rec.invalid_flags)
}

fn with(mut d: IaaDesc, f: impl FnOnce(&mut IaaDesc)) -> IaaDesc {
    f(&mut d);
    d
}

fn env() -> Env {
    let e = Env::iaa();
    e.put(AECS, CompressAecs::fixed().as_bytes());
    e.put(AECS2, CompressAecs::fixed().as_bytes());
    e
}

fn mv() -> IaaDesc {
    build(IaaOp::Memmove {
        src: SRC,
        dst: DST,
        len: 64,
    })
}

fn comp() -> IaaDesc {
    compress(64, 4096, 1568, page_flags(), AecsWrite::Never, false)
}

fn decomp() -> IaaDesc {
    decompress(SRC, 64, 4096, eob_flags())
}

fn crc() -> IaaDesc {
    build(IaaOp::Crc64 {
        src: SRC,
        len: 64,
        poly: 0x42f0_e1eb_a9ea_3693,
        flags: Crc64Flags::empty(),
    })
}

#[test]
fn s10_unsupported_opcode() {
    let mut e = env();
    // Scan is in OPCAP but not implemented; 0x7f is no opcode; fill is DSA-only.
    assert_eq!(status(&e, &iaa(Op::Scan.code(), SRC, DST, 64)), (0x10, 0, 0));
    assert_eq!(status(&e, &iaa(0x7f, 0, 0, 0)).0, 0x10);
    assert_eq!(status(&e, &iaa(0x04, 0, DST, 64)).0, 0x10);
    // Disabled in the WQ's operation configuration.
    let mut cfg = [u32::MAX; 8];
    cfg[2] &= !(1 << (Op::Compress.code() - 64));
    e.wq.op_config = Some(cfg);
    assert_eq!(status(&e, &comp()).0, 0x10);
    assert_ne!(status(&e, &decomp()).0, 0x10, "decompress stays enabled");
}

#[test]
fn s11_invalid_flags() {
    let mut e = env();
    assert_eq!(status(&e, &iaa_flags(mv(), DescFlags::FENCE)), (0x11, 0, 0x1));
    assert_eq!(
        status(&e, &iaa_flags(mv(), DescFlags::CHECK_RESULT)),
        (0x11, 0, 0x80)
    );
    assert_eq!(
        status(&e, &iaa_flags(comp(), DescFlags::RD_SRC2_2ND)),
        (0x11, 0, 0x2_0000)
    );
    assert_eq!(
        status(&e, &iaa_flags(decomp(), DescFlags::RD_SRC2_AECS)),
        (0x11, 0, 0x1_0000)
    );
    assert_eq!(
        status(&e, &iaa_flags(crc(), DescFlags::CRC_RFC3720)),
        (0x11, 0, 0x20_0000)
    );
    assert_eq!(
        status(&e, &iaa_flags(mv(), DescFlags::BLOCK_ON_FAULT)).0,
        1,
        "iaa-spr allows it"
    );
    e.wq.block_on_fault = false;
    assert_eq!(
        status(&e, &iaa_flags(mv(), DescFlags::BLOCK_ON_FAULT)),
        (0x11, 0, 0x2)
    );
}

#[test]
fn s12_non_zero_reserved_fields() {
    let e = env();
    assert_eq!(status(&e, &with(mv(), |d| d.max_dst_size = 1)).0, 0x12);
    assert_eq!(status(&e, &with(mv(), |d| d.op_flags = 1)).0, 0x12);
    assert_eq!(status(&e, &with(mv(), |d| d.pasid_priv |= 1 << 20)).0, 0x12);
    assert_eq!(
        status(&e, &with(build(IaaOp::Noop), |d| d.src1_addr = SRC)).0,
        0x12
    );
    assert_eq!(status(&e, &with(comp(), |d| d.num_inputs = 1)).0, 0x12);
    assert_eq!(status(&e, &with(decomp(), |d| d.src2_addr = AECS)).0, 0x12);
    assert_eq!(status(&e, &with(crc(), |d| d.dst_addr = DST)).0, 0x12);
}

#[test]
fn s13_invalid_size() {
    let mut e = env();
    assert_eq!(status(&e, &with(mv(), |d| d.src1_size = 0)).0, 0x13);
    assert_eq!(status(&e, &with(comp(), |d| d.max_dst_size = 0)).0, 0x13);
    assert_eq!(status(&e, &with(decomp(), |d| d.max_dst_size = 0)).0, 0x13);
    e.wq.max_transfer = 32;
    assert_eq!(status(&e, &mv()).0, 0x13);
}

#[test]
fn s16_overlapping_buffers() {
    let e = env();
    // IAA 1.0 has no overlapping copy (GENCAP bit 1 clear).
    assert_eq!(status(&e, &with(mv(), |d| d.dst_addr = SRC + 8)).0, 0x16);
    assert_eq!(status(&e, &with(comp(), |d| d.dst_addr = SRC + 32)).0, 0x16);
    assert_eq!(status(&e, &with(comp(), |d| d.src2_addr = DST + 1024)).0, 0x16);
    assert_eq!(status(&e, &with(decomp(), |d| d.dst_addr = SRC + 63)).0, 0x16);
}

#[test]
fn s1b_record_misaligned_goes_to_swerr() {
    let e = env();
    let o = e.run_iaa(&with(mv(), |d| d.completion_addr = rec(0) + 32));
    assert!(!o.done.write_record);
    assert_eq!((o.done.status, o.fin.unwrap_err().error), (0x1b, 0x1b));
}

#[test]
fn s1c_aecs_misaligned() {
    let e = env();
    assert_eq!(status(&e, &with(comp(), |d| d.src2_addr = AECS + 16)).0, 0x1c);
}

#[test]
fn s1d_privileged_request_refused() {
    let mut e = env();
    assert_eq!(status(&e, &with(mv(), |d| d.set_pasid(0, true))).0, 1);
    e.wq.privileged = false;
    assert_eq!(status(&e, &with(mv(), |d| d.set_pasid(0, true))).0, 0x1d);
}

#[test]
fn s30_invalid_operation_flags() {
    let e = env();
    // Bit 9 is undefined (QPL ADCF_*); bit 5 (ADCF_COMP_BE) is defined but not modelled.
    assert_eq!(status(&e, &with(comp(), |d| d.op_flags |= 0x200)).0, 0x30);
    assert_eq!(status(&e, &with(comp(), |d| d.op_flags |= 0x20)).0, 0x30);
    // Literals only (ADCF_GEN_LITS, bit 4) is accepted.
    assert_eq!(status(&e, &with(comp(), |d| d.op_flags |= 0x10)).0, 1);
    assert_eq!(
        status(&e, &with(decomp(), |d| d.op_flags &= !1)).0,
        0x30,
        "decompress needs ENABLE"
    );
    assert_eq!(status(&e, &with(decomp(), |d| d.op_flags |= 0x2000)).0, 0x30);
    assert_eq!(status(&e, &with(crc(), |d| d.op_flags = 1)).0, 0x30);
}

#[test]
fn s0a_error_24_aecs_too_short() {
    let e = env();
    assert_eq!(status(&e, &with(comp(), |d| d.src2_size = 992)), (0x0a, 24, 0));
    // QPL AD_STATUS_MISALIGNED_ADDRESS: an AECS size that is not a multiple of 32.
    assert_eq!(status(&e, &with(comp(), |d| d.src2_size = 1000)).0, 0x1c);
    // The select bit with src2_size = one copy is what QPL builds (src2_size =
    // HW_AECS_COMPRESSION_SIZE, ADOF_AECS_SEL): accepted.
    let sel = iaa_flags(comp(), DescFlags::AECS_SELECT);
    assert_eq!(status(&e, &sel).0, 1);
}

#[test]
fn record_rules_on_iaa() {
    let e = env();
    let mut d = build(IaaOp::Noop);
    d.set_opcode_flags(d.opcode_raw(), DescFlags::CRAV.bits());
    let o = e.run_iaa(&d);
    assert!(!o.done.write_record && o.rec.status == 0 && o.fin.is_ok());
    let mut d = iaa(Op::Memmove.code(), SRC, DST, 0);
    d.set_opcode_flags(d.opcode_raw(), (DescFlags::CRAV | DescFlags::RCI).bits());
    d.int_handle = 2;
    let o = e.run_iaa(&d);
    assert_eq!((o.rec.status, o.done.interrupt), (0x13, Some(2)));
    assert_eq!(o.done.record_bytes().len(), 64);
    // A record that does not translate: 0x1a through SWERR.
    let o = e.run_iaa(&with(mv(), |d| d.completion_addr = HOLE));
    let s = o.fin.unwrap_err();
    assert_eq!(
        (s.error, s.fault_addr, s.fault_rw, s.opcode),
        (0x1a, HOLE, true, Op::Memmove.code())
    );
}
