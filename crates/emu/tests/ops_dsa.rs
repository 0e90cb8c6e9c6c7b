//! Every DSA operation against a software reference (property tests with modest case counts),
//! partial completion on page faults with resubmission of the remainder, and the record rules.

#[path = "ops_util.rs"]
mod util;

use idxd_emu::ops::Injection;
use idxd_hw::desc::dsa_off;
use idxd_hw::{DescFlags, DsaOpcode as Op, DsaStatus};
use proptest::prelude::*;
use util::*;

const RO_END: u64 = RO + 0x10000;

fn code(op: Op) -> u8 {
    op.code()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn memmove_copies(len in 1usize..150_000, so in 0u64..64, dof in 0u64..64, seed in any::<u64>()) {
        let e = Env::dsa();
        let data = e.fill_random(SRC + so, len, seed);
        let o = e.run_dsa(&dsa(code(Op::Memmove), SRC + so, DST + dof, len as u32));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.result, 0);
        prop_assert_eq!(e.get(DST + dof, len), data);
        prop_assert_eq!((o.done.bytes_read, o.done.bytes_written), (len as u64, len as u64));
    }

    #[test]
    fn overlapping_memmove_behaves_as_memmove(len in 1usize..150_000, shift in -70_000i64..70_000, seed in any::<u64>()) {
        let e = Env::dsa();
        let base = SRC + 200_000;
        let mut reference = e.fill_random(SRC, BUF, seed);
        let dst = (base as i64 + shift) as u64;
        let o = e.run_dsa(&dsa(code(Op::Memmove), base, dst, len as u32));
        prop_assert_eq!(o.rec.status, 1);
        let descending = shift > 0 && (shift as usize) < len;
        prop_assert_eq!(o.rec.result, descending as u8);
        let (s, d) = ((base - SRC) as usize, (dst - SRC) as usize);
        reference.copy_within(s..s + len, d);
        prop_assert!(e.get(SRC, BUF) == reference);
    }

    #[test]
    fn fill_repeats_the_pattern(len in 1usize..150_000, off in 0u64..64, pattern in any::<u64>()) {
        let e = Env::dsa();
        let o = e.run_dsa(&dsa(code(Op::Fill), pattern, DST + off, len as u32));
        prop_assert_eq!(o.rec.status, 1);
        let p = pattern.to_le_bytes();
        let want: Vec<u8> = (0..len).map(|i| p[i % 8]).collect();
        prop_assert_eq!(e.get(DST + off, len), want);
        prop_assert_eq!(e.get(DST + off + len as u64, 8), vec![0u8; 8]);
    }

    #[test]
    fn compare_reports_the_first_difference(len in 1usize..150_000, at in any::<prop::sample::Index>(), differ in any::<bool>(), seed in any::<u64>()) {
        let e = Env::dsa();
        let mut data = e.fill_random(SRC, len, seed);
        let pos = at.index(len);
        if differ {
            data[pos] ^= 0x5a;
        }
        e.put(DST, &data);
        let o = e.run_dsa(&dsa(code(Op::Compare), SRC, DST, len as u32));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.result, differ as u8);
        prop_assert_eq!(o.rec.bytes_completed, if differ { pos as u32 } else { 0 });
    }

    #[test]
    fn compare_pattern_reports_the_first_difference(len in 1usize..150_000, at in any::<prop::sample::Index>(), differ in any::<bool>(), pattern in any::<u64>()) {
        let e = Env::dsa();
        let p = pattern.to_le_bytes();
        let mut data: Vec<u8> = (0..len).map(|i| p[i % 8]).collect();
        let pos = at.index(len);
        if differ {
            data[pos] ^= 0x01;
        }
        e.put(SRC, &data);
        let o = e.run_dsa(&dsa(code(Op::ComparePattern), SRC, pattern, len as u32));
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.result, differ as u8);
        prop_assert_eq!(o.rec.bytes_completed, if differ { pos as u32 } else { 0 });
    }

    #[test]
    fn crc_generate_and_copy_match_the_reference(len in 1usize..150_000, seed_val in any::<u32>(), from_addr in any::<bool>(), seed in any::<u64>()) {
        let e = Env::dsa();
        let data = e.fill_random(SRC, len, seed);
        let want = crc32c_ref(seed_val, &data);
        for op in [Op::CrcGen, Op::CopyCrc] {
            let dst = if op == Op::CopyCrc { DST } else { 0 };
            let mut d = dsa(code(op), SRC, dst, len as u32);
            if from_addr {
                e.put(AUX + 4, &seed_val.to_le_bytes());
                d = with_flags(d, DescFlags::CRC_SEED_FROM_ADDR);
                d.set_op_u64(dsa_off::SEED_ADDR, AUX + 4);
            } else {
                d.set_op_u32(dsa_off::CRC_SEED, seed_val);
            }
            let o = e.run_dsa(&d);
            prop_assert_eq!(o.rec.status, 1);
            prop_assert_eq!(o.rec.crc_val(), want as u64);
        }
        prop_assert_eq!(e.get(DST, len), data);
    }

    #[test]
    fn dualcast_writes_both(len in 1usize..100_000, page_off in 0u64..4096, seed in any::<u64>()) {
        let e = Env::dsa();
        let data = e.fill_random(SRC, len, seed);
        let mut d = dsa(code(Op::Dualcast), SRC, DST + page_off, len as u32);
        d.set_op_u64(dsa_off::DEST2, AUX + 0x8000 + page_off);
        let o = e.run_dsa(&d);
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(e.get(DST + page_off, len), data.clone());
        prop_assert_eq!(e.get(AUX + 0x8000 + page_off, len), data);
        prop_assert_eq!(o.done.bytes_written, 2 * len as u64);
    }

    #[test]
    fn delta_create_then_apply_round_trips(words in 1usize..20_000, changes in prop::collection::vec(any::<prop::sample::Index>(), 0..300), seed in any::<u64>()) {
        let e = Env::dsa();
        let len = words * 8;
        let a = e.fill_random(SRC, len, seed);
        let mut b = a.clone();
        for c in &changes {
            b[c.index(len)] ^= 0xff;
        }
        e.put(DST, &b);
        let want = delta_ref(&a, &b);
        let mut d = dsa(code(Op::CreateDelta), SRC, DST, len as u32);
        d.set_op_u64(dsa_off::DELTA_ADDR, AUX);
        d.set_op_u32(dsa_off::MAX_DELTA_SIZE, (words * 10) as u32);
        let o = e.run_dsa(&d);
        prop_assert_eq!(o.rec.status, 1);
        prop_assert_eq!(o.rec.result, (!want.is_empty()) as u8);
        prop_assert_eq!(o.rec.delta_rec_size() as usize, want.len());
        prop_assert_eq!(e.get(AUX, want.len()), want.clone());
        if !want.is_empty() {
            // Apply the delta to a copy of the original: it becomes the modified buffer.
            e.put(AUX + 0x80000, &a);
            let mut ap = dsa(code(Op::ApplyDelta), AUX, AUX + 0x80000, len as u32);
            ap.set_op_u32(dsa_off::DELTA_REC_SIZE, want.len() as u32);
            let o = e.run_dsa(&ap);
            prop_assert_eq!(o.rec.status, 1);
            prop_assert_eq!(e.get(AUX + 0x80000, len), b);
        }
    }
}

#[test]
fn crc32c_known_values() {
    let e = Env::dsa();
    e.put(SRC, b"123456789");
    let o = e.run_dsa(&dsa(code(Op::CrcGen), SRC, 0, 9));
    assert_eq!(o.rec.crc_val(), 0xe306_9283);
    // RFC 3720 B.4: 32 bytes of zeros, 32 bytes of ones.
    e.put(SRC, &[0u8; 32]);
    assert_eq!(
        e.run_dsa(&dsa(code(Op::CrcGen), SRC, 0, 32)).rec.crc_val(),
        0x8a91_36aa
    );
    e.put(SRC, &[0xffu8; 32]);
    assert_eq!(
        e.run_dsa(&dsa(code(Op::CrcGen), SRC, 0, 32)).rec.crc_val(),
        0x62a8_ab43
    );
    // Chaining: the CRC of a prefix seeds the rest.
    let data = random_bytes(1000, 3);
    e.put(SRC, &data);
    let first = e.run_dsa(&dsa(code(Op::CrcGen), SRC, 0, 400)).rec.crc_val() as u32;
    let mut d = dsa(code(Op::CrcGen), SRC + 400, 0, 600);
    d.set_op_u32(dsa_off::CRC_SEED, first);
    assert_eq!(e.run_dsa(&d).rec.crc_val() as u32, crc32c_ref(0, &data));
}

#[test]
fn noop_drain_and_cache_flush_complete() {
    let e = Env::dsa();
    for d in [
        dsa(code(Op::Noop), 0, 0, 0),
        dsa(code(Op::Drain), 0, 0, 0),
        dsa(code(Op::CacheFlush), 0, DST, 4096),
    ] {
        let o = e.run_dsa(&d);
        assert_eq!(o.rec.status, 1, "{:#x}", d.opcode_raw());
        assert!(o.fin.is_ok());
    }
    // Cache control on a flush means "do not invalidate": accepted.
    let o = e.run_dsa(&with_flags(
        dsa(code(Op::CacheFlush), 0, RO, 4096),
        DescFlags::CACHE_CONTROL,
    ));
    assert_eq!(o.rec.status, 1);
}

#[test]
fn create_delta_overflow_and_check_result() {
    let e = Env::dsa();
    let a = random_bytes(800, 1);
    let mut b = a.clone();
    for w in [3, 10, 50, 70] {
        b[w * 8] ^= 1;
    }
    e.put(SRC, &a);
    e.put(DST, &b);
    let mut d = dsa(code(Op::CreateDelta), SRC, DST, 800);
    d.set_op_u64(dsa_off::DELTA_ADDR, AUX);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 20);
    let o = e.run_dsa(&d);
    assert_eq!((o.rec.status, o.rec.result), (1, 2), "overflow is result 2");
    assert_eq!(o.rec.delta_rec_size(), 20);
    assert_eq!(
        o.rec.bytes_completed,
        50 * 8,
        "stopped at the word that did not fit"
    );
    assert_eq!(e.get(AUX, 20), delta_ref(&a, &b)[..20]);
    // Check result: a mask allowing only result 1 turns the overflow into a false predicate.
    let mut c = with_flags(d, DescFlags::CHECK_RESULT);
    c.set_op_u8(dsa_off::EXPECTED_RES_MASK, 0b010);
    assert_eq!(e.run_dsa(&c).rec.status, DsaStatus::SuccessPred.code());
    c.set_op_u8(dsa_off::EXPECTED_RES_MASK, 0b100);
    assert_eq!(e.run_dsa(&c).rec.status, 1);
    // Identical buffers: result 0, nothing written.
    e.put(DST, &a);
    let o = e.run_dsa(&d);
    assert_eq!((o.rec.status, o.rec.result, o.rec.delta_rec_size()), (1, 0, 0));
}

// ---- page faults: partial completion and resubmission ----

#[test]
fn memmove_read_fault_completes_partially_and_the_rest_resubmits() {
    let e = Env::dsa();
    let data = random_bytes(8000, 7);
    e.put(RO_END - 3000, &data[..3000]);
    let o = e.run_dsa(&dsa(code(Op::Memmove), RO_END - 3000, DST, 8000));
    assert_eq!(
        o.rec.status,
        DsaStatus::PageFaultNoBof.code(),
        "a read fault: bit 7 clear"
    );
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (3000, RO_END));
    assert_eq!(e.get(DST, 3000), data[..3000]);
    assert_eq!(e.get(DST + 3000, 8), [0; 8]);
    // The driver resolves the fault and resubmits the remainder.
    e.mmu.map_owned(RO_END, 8192, false).unwrap();
    e.put(RO_END, &data[3000..]);
    let done = o.rec.bytes_completed;
    let o = e.run_dsa(&dsa(
        code(Op::Memmove),
        RO_END - 3000 + done as u64,
        DST + done as u64,
        8000 - done,
    ));
    assert_eq!(o.rec.status, 1);
    assert_eq!(e.get(DST, 8000), data);
}

#[test]
fn memmove_write_fault_sets_bit_7() {
    let e = Env::dsa();
    let data = e.fill_random(SRC, 8000, 8);
    let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, RO - 5000, 8000));
    assert_eq!(o.rec.status, 0x80 | DsaStatus::PageFaultNoBof.code());
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (5000, RO));
    assert_eq!(e.get(RO - 5000, 5000), data[..5000]);
    assert_eq!(o.done.bytes_written, 5000);
}

#[test]
fn descending_memmove_fault_counts_from_the_end() {
    let mut e = Env::dsa();
    let orig = e.fill_random(SRC, 10_000, 9);
    e.inject = Some(Injection::PageFault { at_offset: 1000 });
    let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, SRC + 3000, 6000));
    assert_eq!(o.rec.status, DsaStatus::PageFaultNoBof.code());
    assert_eq!(o.rec.result, 1, "descending copy");
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (4999, SRC + 1000));
    // Bytes 1001.. of the source are at their destination; resubmit the first 1001.
    e.inject = None;
    let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, SRC + 3000, 1001));
    assert_eq!(o.rec.status, 1);
    let mut want = orig.clone();
    want.copy_within(0..6000, 3000);
    assert_eq!(e.get(SRC, 10_000), want);
    // A destination whose top is read-only faults before anything is copied.
    let o = e.run_dsa(&dsa(code(Op::Memmove), RO - 6000, RO - 3000, 6000));
    assert_eq!(o.rec.status, 0x83);
    assert_eq!(
        (o.rec.bytes_completed, o.rec.fault_addr, o.rec.result),
        (0, RO + 2999, 1)
    );
}

#[test]
fn crc_fault_reports_the_partial_crc_to_seed_the_rest() {
    let e = Env::dsa();
    let data = random_bytes(8000, 10);
    e.put(RO_END - 3000, &data[..3000]);
    let o = e.run_dsa(&dsa(code(Op::CrcGen), RO_END - 3000, 0, 8000));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 3000, RO_END)
    );
    assert_eq!(o.rec.crc_val() as u32, crc32c_ref(0, &data[..3000]));
    e.mmu.map_owned(RO_END, 8192, false).unwrap();
    e.put(RO_END, &data[3000..]);
    let mut d = dsa(code(Op::CrcGen), RO_END, 0, 5000);
    d.set_op_u32(dsa_off::CRC_SEED, o.rec.crc_val() as u32);
    assert_eq!(e.run_dsa(&d).rec.crc_val() as u32, crc32c_ref(0, &data));
    // A seed address that does not translate: nothing done.
    let mut d = with_flags(dsa(code(Op::CrcGen), SRC, 0, 100), DescFlags::CRC_SEED_FROM_ADDR);
    d.set_op_u64(dsa_off::SEED_ADDR, HOLE);
    let o = e.run_dsa(&d);
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 0, HOLE)
    );
}

#[test]
fn other_operations_fault_partially() {
    let e = Env::dsa();
    // Fill into a read-only tail.
    let o = e.run_dsa(&dsa(code(Op::Fill), 0x1122_3344_5566_7788, RO - 100, 300));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x83, 100, RO)
    );
    // Copy with CRC into a read-only tail: the CRC covers what was copied.
    let data = e.fill_random(SRC, 300, 11);
    let o = e.run_dsa(&dsa(code(Op::CopyCrc), SRC, RO - 100, 300));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (0x83, 100));
    assert_eq!(o.rec.crc_val() as u32, crc32c_ref(0, &data[..100]));
    // Compare: the second source ends early; a difference before the hole still wins.
    e.put(RO_END - 50, &data[..50]);
    let o = e.run_dsa(&dsa(code(Op::Compare), SRC, RO_END - 50, 300));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 50, RO_END)
    );
    e.put(RO_END - 50, &[!data[0]]);
    let o = e.run_dsa(&dsa(code(Op::Compare), SRC, RO_END - 50, 300));
    assert_eq!((o.rec.status, o.rec.result, o.rec.bytes_completed), (1, 1, 0));
    // Dualcast: the second destination is read-only after 200 bytes.
    let mut d = dsa(code(Op::Dualcast), SRC, DST + ((RO - 200) & 0xfff), 300);
    d.set_op_u64(dsa_off::DEST2, RO - 200);
    let o = e.run_dsa(&d);
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x83, 200, RO)
    );
    // Cache flush over a hole.
    let o = e.run_dsa(&dsa(code(Op::CacheFlush), 0, RO_END - 64, 128));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 64, RO_END)
    );
    // Create delta: the second source ends early.
    e.put(RO_END - 64, &data[..64]);
    let mut d = dsa(code(Op::CreateDelta), SRC, RO_END - 64, 128);
    d.set_op_u64(dsa_off::DELTA_ADDR, AUX);
    d.set_op_u32(dsa_off::MAX_DELTA_SIZE, 160);
    let o = e.run_dsa(&d);
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 64, RO_END)
    );
    // Apply delta: the third entry targets a read-only word.
    let mut rec = Vec::new();
    for w in [0u16, 1, 2] {
        rec.extend_from_slice(&w.to_le_bytes());
        rec.extend_from_slice(&[0xaa; 8]);
    }
    e.put(AUX, &rec);
    let mut d = dsa(code(Op::ApplyDelta), AUX, RO - 16, 64);
    d.set_op_u32(dsa_off::DELTA_REC_SIZE, 30);
    let o = e.run_dsa(&d);
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x83, 20, RO)
    );
    assert_eq!(e.get(RO - 16, 16), [0xaa; 16]);
}

#[test]
fn block_on_fault_completes_like_a_plain_fault() {
    let e = Env::dsa();
    assert!(e.wq.block_on_fault, "dsa-spr allows block-on-fault");
    let d = with_flags(
        dsa(code(Op::Memmove), RO_END - 10, DST, 20),
        DescFlags::BLOCK_ON_FAULT,
    );
    let o = e.run_dsa(&d);
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 10, RO_END)
    );
}

#[test]
fn injected_faults_on_dsa() {
    let mut e = Env::dsa();
    e.fill_random(SRC, 4096, 12);
    e.inject = Some(Injection::PageFault { at_offset: 100 });
    let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, DST, 4096));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (3, 100, SRC + 100)
    );
    // Offsets beyond the source land on its last byte.
    e.inject = Some(Injection::PageFault { at_offset: 1 << 30 });
    let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, DST, 4096));
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (4095, SRC + 4095));
    // Fill has no source: its destination faults (a write).
    e.inject = Some(Injection::PageFault { at_offset: 8 });
    let o = e.run_dsa(&dsa(code(Op::Fill), 0, DST, 64));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (0x83, 8, DST + 8)
    );
    // Noop has nothing to fault on.
    assert_eq!(e.run_dsa(&dsa(code(Op::Noop), 0, 0, 0)).rec.status, 1);
    for inj in [Injection::HardwareError, Injection::Watchdog] {
        e.inject = Some(inj);
        let o = e.run_dsa(&dsa(code(Op::Memmove), SRC, DST + 8192, 4096));
        assert_eq!(o.rec.status, DsaStatus::HwErr1.code());
        assert_eq!(e.get(DST + 8192, 8), [0; 8], "nothing done");
    }
    e.inject = Some(Injection::OutputOverflow);
    assert_eq!(
        e.run_dsa(&dsa(code(Op::Memmove), SRC, DST, 4096)).rec.status,
        1,
        "ignored on DSA"
    );
}

// ---- record rules ----

#[test]
fn record_flags_decide_what_is_written() {
    let e = Env::dsa();
    let crav = (DescFlags::CRAV).bits();
    // CRAV without RCR, success: no record.
    let o = e.run_dsa(&set_flags(dsa(code(Op::Noop), 0, 0, 0), crav));
    assert!(!o.done.write_record);
    assert_eq!((o.rec.status, o.done.status), (0, 1));
    assert!(o.fin.is_ok());
    // CRAV without RCR, error: the record is written.
    let o = e.run_dsa(&set_flags(dsa(code(Op::Memmove), SRC, DST, 0), crav));
    assert!(o.done.write_record);
    assert_eq!(o.rec.status, DsaStatus::XferErange.code());
    // CRAV without RCR, false predicate: written (status 2 is not success).
    e.fill_random(SRC, 64, 1);
    let mut d = set_flags(
        dsa(code(Op::Compare), SRC, DST, 64),
        crav | DescFlags::CHECK_RESULT.bits(),
    );
    d.set_op_u8(dsa_off::EXPECTED_RES, 0);
    assert_eq!(e.run_dsa(&d).rec.status, 2);
    // Neither flag, success: nothing anywhere.
    let o = e.run_dsa(&set_flags(dsa(code(Op::Noop), 0, 0, 0), 0));
    assert!(!o.done.write_record && o.fin.is_ok() && o.rec.status == 0);
    // Neither flag, page fault: SWERR says so.
    let o = e.run_dsa(&set_flags(dsa(code(Op::Memmove), SRC, RO - 8, 16), 0));
    assert_eq!(o.rec.status, 0);
    let s = o.fin.unwrap_err();
    assert!(s.valid && s.desc_valid && s.fault_rw && !s.batch);
    assert_eq!((s.error, s.fault_addr, s.opcode), (3, RO, code(Op::Memmove)));
    // RCI: the interrupt handle comes back.
    let mut d = with_flags(dsa(code(Op::Noop), 0, 0, 0), DescFlags::RCI);
    d.int_handle = 5;
    assert_eq!(e.run_dsa(&d).done.interrupt, Some(5));
    assert_eq!(e.run_dsa(&dsa(code(Op::Noop), 0, 0, 0)).done.interrupt, None);
}
