//! One test per DSA status code the emulator's validation and execution produce, asserting
//! the exact status byte and the record fields (batch statuses: `ops_batch.rs`).
//!
//! Not produced: 0x04 (no intermediate-result operations), 0x09 (no DIF), 0x19 (interrupt
//! handles are the device model's), 0x1e (traffic classes are not modelled), 0x1f and 0x21
//! (destination read-back of emulated memory cannot fail separately), 0x22 (every translation
//! failure is a page fault here).

#[path = "ops_util.rs"]
mod util;

use idxd_emu::ops::Injection;
use idxd_hw::desc::dsa_off;
use idxd_hw::{DescFlags, DsaOpcode as Op, DsaStatus as S};
use util::*;

fn c(op: Op) -> u8 {
    op.code()
}

fn status(e: &Env, d: &idxd_hw::DsaDesc) -> u8 {
    e.run_dsa(d).rec.status
}

#[test]
fn s01_success() {
    let e = Env::dsa();
    let o = e.run_dsa(&dsa(c(Op::Memmove), SRC, DST, 64));
    assert_eq!(o.rec.status, 0x01);
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (0, 0));
}

#[test]
fn s02_success_with_false_predicate() {
    let e = Env::dsa();
    e.put(SRC, &[1; 16]);
    let mut d = with_flags(dsa(c(Op::Compare), SRC, DST, 16), DescFlags::CHECK_RESULT);
    d.set_op_u8(dsa_off::EXPECTED_RES, 0);
    let o = e.run_dsa(&d);
    assert_eq!((o.rec.status, o.rec.result, o.rec.bytes_completed), (0x02, 1, 0));
    d.set_op_u8(dsa_off::EXPECTED_RES, 1);
    assert_eq!(status(&e, &d), 0x01);
    // Compare pattern too.
    let mut d = with_flags(
        dsa(c(Op::ComparePattern), SRC, 0x0101_0101_0101_0101, 16),
        DescFlags::CHECK_RESULT,
    );
    d.set_op_u8(dsa_off::EXPECTED_RES, 1);
    assert_eq!(e.run_dsa(&d).rec.status, 0x02);
}

#[test]
fn s03_page_fault_read_and_write() {
    let e = Env::dsa();
    let o = e.run_dsa(&dsa(c(Op::Memmove), HOLE - 32, DST, 64));
    // HOLE - 32 is unmapped too: nothing done.
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x03, 0, HOLE - 32)
    );
    let o = e.run_dsa(&dsa(c(Op::Memmove), SRC, RO - 32, 64));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x83, 32, RO)
    );
}

#[test]
fn s07_delta_offsets_not_increasing() {
    let e = Env::dsa();
    let mut rec = Vec::new();
    for w in [4u16, 2] {
        rec.extend_from_slice(&w.to_le_bytes());
        rec.extend_from_slice(&[0x11; 8]);
    }
    e.put(AUX, &rec);
    let mut d = dsa(c(Op::ApplyDelta), AUX, DST, 64);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 20);
    let o = e.run_dsa(&d);
    assert_eq!((o.rec.status, o.rec.bytes_completed), (0x07, 10));
    assert_eq!(e.get(DST + 32, 8), [0x11; 8], "the first entry was applied");
    assert_eq!(e.get(DST + 16, 8), [0; 8]);
}

#[test]
fn s08_delta_offset_out_of_range() {
    let e = Env::dsa();
    let mut rec = Vec::new();
    for w in [1u16, 8] {
        rec.extend_from_slice(&w.to_le_bytes());
        rec.extend_from_slice(&[0x22; 8]);
    }
    e.put(AUX, &rec);
    let mut d = dsa(c(Op::ApplyDelta), AUX, DST, 64);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 20);
    let o = e.run_dsa(&d);
    assert_eq!((o.rec.status, o.rec.bytes_completed), (0x08, 10));
}

#[test]
fn s10_unsupported_opcode() {
    let mut e = Env::dsa();
    // Not a DSA opcode; DIF check (in OPCAP, not implemented); a valid op the WQ disables.
    assert_eq!(status(&e, &dsa(0x30, 0, 0, 0)), 0x10);
    assert_eq!(status(&e, &dsa(c(Op::DifCheck), SRC, 0, 512)), 0x10);
    let mut cfg = [u32::MAX; 8];
    cfg[0] &= !(1 << c(Op::Memmove));
    e.wq.op_config = Some(cfg);
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, DST, 64)), 0x10);
    assert_eq!(status(&e, &dsa(c(Op::Fill), 0, DST, 64)), 0x01);
    // An opcode OPCAP does not list.
    e.wq.op_config = None;
    e.caps.opcap.0[0] &= !(1 << c(Op::Dualcast));
    assert_eq!(status(&e, &dsa(c(Op::Dualcast), SRC, DST, 64)), 0x10);
}

#[test]
fn s11_invalid_flags_are_reported() {
    let mut e = Env::dsa();
    let check = |e: &Env, d: idxd_hw::DsaDesc, bad: u32| {
        let o = e.run_dsa(&d);
        assert_eq!(o.rec.status, 0x11, "{:#x}", d.flags_raw());
        assert_eq!(o.rec.invalid_flags(), bad);
    };
    check(
        &e,
        with_flags(dsa(c(Op::Memmove), SRC, DST, 64), DescFlags::CHECK_RESULT),
        0x80,
    );
    check(
        &e,
        with_flags(dsa(c(Op::Memmove), SRC, DST, 64), DescFlags::CRC_SEED_FROM_ADDR),
        0x1_0000,
    );
    check(
        &e,
        set_flags(dsa(c(Op::Noop), 0, 0, 0), polled() | 0x40 | 0x80_0000),
        0x80_0040,
    );
    // Block-on-fault where the WQ does not allow it.
    e.wq.block_on_fault = false;
    check(
        &e,
        with_flags(dsa(c(Op::Memmove), SRC, DST, 64), DescFlags::BLOCK_ON_FAULT),
        0x2,
    );
    // Destination read-back without GENCAP support.
    e.caps.gencap.dest_readback = false;
    check(
        &e,
        with_flags(dsa(c(Op::Memmove), SRC, DST, 64), DescFlags::DEST_READBACK),
        0x4000,
    );
}

#[test]
fn s12_non_zero_reserved_fields() {
    let e = Env::dsa();
    let mut d = dsa(c(Op::Memmove), SRC, DST, 64);
    d.pasid_priv |= 1 << 25;
    assert_eq!(status(&e, &d), 0x12);
    let mut d = dsa(c(Op::Memmove), SRC, DST, 64);
    d.rsvd1 = 1;
    assert_eq!(status(&e, &d), 0x12);
    let mut d = dsa(c(Op::Memmove), SRC, DST, 64);
    d.set_op_u8(63, 1);
    assert_eq!(status(&e, &d), 0x12);
    // Fields the operation does not use.
    assert_eq!(status(&e, &dsa(c(Op::Noop), SRC, 0, 0)), 0x12);
    assert_eq!(status(&e, &dsa(c(Op::Drain), 0, 0, 4)), 0x12);
    assert_eq!(status(&e, &dsa(c(Op::CrcGen), SRC, DST, 64)), 0x12);
    assert_eq!(status(&e, &dsa(c(Op::CacheFlush), SRC, DST, 64)), 0x12);
    let mut d = dsa(c(Op::CrcGen), SRC, 0, 64);
    d.set_op_u32(dsa_off::CRC_RSVD, 1);
    assert_eq!(status(&e, &d), 0x12);
    let mut d = dsa(c(Op::CrcGen), SRC, 0, 64);
    d.set_op_u64(dsa_off::SEED_ADDR, AUX);
    assert_eq!(status(&e, &d), 0x12, "a seed address without the flag");
    let mut d = dsa(c(Op::Compare), SRC, DST, 64);
    d.set_op_u8(dsa_off::EXPECTED_RES, 2);
    assert_eq!(status(&e, &d), 0x12);
}

#[test]
fn s13_transfer_size_out_of_range() {
    let mut e = Env::dsa();
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, DST, 0)), 0x13);
    e.wq.max_transfer = 4096;
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, DST, 4097)), 0x13);
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, DST, 4096)), 0x01);
    e.wq.max_transfer = 1 << 31;
    let mut d = dsa(c(Op::CreateDelta), SRC, DST, 12);
    d.set_op_u64(dsa_off::DELTA_ADDR, AUX);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 10);
    assert_eq!(status(&e, &d), 0x13, "delta transfers are multiples of 8");
    d.xfer_size = 0x8_0008;
    assert_eq!(status(&e, &d), 0x13, "at most 512 KiB");
}

#[test]
fn s15_delta_record_size_out_of_range() {
    let e = Env::dsa();
    let mut d = dsa(c(Op::CreateDelta), SRC, DST, 64);
    d.set_op_u64(dsa_off::DELTA_ADDR, AUX);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 15);
    assert_eq!(status(&e, &d), 0x15);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 0);
    assert_eq!(status(&e, &d), 0x15);
    let mut d = dsa(c(Op::ApplyDelta), AUX, DST, 64);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 25);
    assert_eq!(status(&e, &d), 0x15);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 90);
    assert_eq!(status(&e, &d), 0x15, "more entries than words");
}

#[test]
fn s16_overlapping_buffers() {
    let mut e = Env::dsa();
    assert_eq!(status(&e, &dsa(c(Op::CopyCrc), SRC, SRC + 10, 64)), 0x16);
    let mut d = dsa(c(Op::Dualcast), SRC, DST, 8192);
    d.set_op_u64(dsa_off::DEST2, DST + 4096);
    assert_eq!(status(&e, &d), 0x16);
    let mut d = dsa(c(Op::CreateDelta), SRC, DST, 64);
    d.set_op_u64(dsa_off::DELTA_ADDR, SRC + 32);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 80);
    assert_eq!(status(&e, &d), 0x16);
    let mut d = dsa(c(Op::ApplyDelta), DST + 8, DST, 64);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 10);
    assert_eq!(status(&e, &d), 0x16);
    // Memmove overlaps only without GENCAP's overlapping-copy support.
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, SRC + 10, 64)), 0x01);
    e.caps.gencap.overlap_copy = false;
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC, SRC + 10, 64)), 0x16);
    assert_eq!(status(&e, &dsa(c(Op::Memmove), SRC + 10, SRC, 64)), 0x16);
    assert_eq!(
        status(&e, &dsa(c(Op::Memmove), SRC, SRC + 64, 64)),
        0x01,
        "adjacent is not overlapping"
    );
}

#[test]
fn s17_dualcast_destinations_misaligned() {
    let e = Env::dsa();
    let mut d = dsa(c(Op::Dualcast), SRC, DST + 0x10, 64);
    d.set_op_u64(dsa_off::DEST2, AUX + 0x20);
    assert_eq!(status(&e, &d), 0x17);
}

#[test]
fn s1a_record_translation_fault_goes_to_swerr() {
    let e = Env::dsa();
    let mut d = dsa(c(Op::Memmove), SRC, DST, 64);
    d.completion_addr = HOLE;
    d.pasid_priv = 0x1234;
    let o = e.run_dsa(&d);
    assert!(o.done.write_record);
    let s = o.fin.unwrap_err();
    assert_eq!(
        (s.error, s.fault_addr, s.opcode, s.pasid),
        (0x1a, HOLE, c(Op::Memmove), 0x1234)
    );
    assert!(s.valid && s.desc_valid && s.fault_rw && !s.overflow);
    // A read-only record: the same.
    d.completion_addr = RO;
    assert_eq!(e.run_dsa(&d).fin.unwrap_err().error, 0x1a);
}

#[test]
fn s1b_record_misaligned_goes_to_swerr() {
    let e = Env::dsa();
    let mut d = dsa(c(Op::Memmove), SRC, DST, 64);
    d.completion_addr = rec(0) + 16;
    let o = e.run_dsa(&d);
    assert!(!o.done.write_record);
    assert_eq!(o.done.status, 0x1b);
    assert_eq!(o.fin.unwrap_err().error, 0x1b);
    assert_eq!(e.get(rec(0), 64), [0; 64], "no record written");
    // Without CRAV/RCR the address does not matter.
    assert!(e.run_dsa(&set_flags(d, 0)).fin.is_ok());
}

#[test]
fn s1c_address_misaligned() {
    let e = Env::dsa();
    let mut d = with_flags(dsa(c(Op::CrcGen), SRC, 0, 64), DescFlags::CRC_SEED_FROM_ADDR);
    d.set_op_u64(dsa_off::SEED_ADDR, AUX + 2);
    assert_eq!(status(&e, &d), 0x1c);
    let mut d = dsa(c(Op::CreateDelta), SRC, DST, 64);
    d.set_op_u64(dsa_off::DELTA_ADDR, AUX + 4);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 80);
    assert_eq!(status(&e, &d), 0x1c);
}

#[test]
fn s1d_privileged_request_refused() {
    let mut e = Env::dsa();
    let mut d = dsa(c(Op::Noop), 0, 0, 0);
    d.set_pasid(0, true);
    assert_eq!(status(&e, &d), 0x01);
    e.wq.privileged = false;
    assert_eq!(status(&e, &d), 0x1d);
}

#[test]
fn s20_hardware_error() {
    let mut e = Env::dsa();
    e.inject = Some(Injection::HardwareError);
    let o = e.run_dsa(&dsa(c(Op::Memmove), SRC, DST, 64));
    assert_eq!(
        (o.rec.status, o.done.bytes_read, o.done.bytes_written),
        (0x20, 0, 0)
    );
    e.inject = Some(Injection::Watchdog);
    assert_eq!(status(&e, &dsa(c(Op::Fill), 0, DST, 64)), 0x20);
    // Validation comes first: an invalid descriptor reports its own error.
    assert_eq!(status(&e, &dsa(c(Op::Fill), 0, DST, 0)), S::XferErange.code());
}
