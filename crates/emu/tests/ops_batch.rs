//! DSA batches (docs/hardware.md, "Batches"): status 1 / 5 / 6, member records, resubmission after
//! a list fault, descriptor count and list alignment, batch in batch, fence.

#[path = "ops_util.rs"]
mod util;

use idxd_emu::ops::Injection;
use idxd_hw::{DescFlags, DsaCompletion, DsaDesc, DsaOpcode as Op};
use util::*;

/// The batch's own record sits at slot 63; member `i` uses slot `i + 1`.
const BREC: u64 = rec(63);

/// `n` memmoves of 256 bytes each (member `i`: SRC + i*256 -> DST + i*256) written to the list
/// at `list`; returns them.
fn members(e: &Env, list: u64, n: u64) -> Vec<DsaDesc> {
    let v: Vec<DsaDesc> = (0..n)
        .map(|i| {
            let mut d = dsa(Op::Memmove.code(), SRC + i * 256, DST + i * 256, 256);
            d.completion_addr = rec(i + 1);
            d
        })
        .collect();
    write_list(e, list, &v);
    v
}

fn write_list(e: &Env, list: u64, v: &[DsaDesc]) {
    for (i, d) in v.iter().enumerate() {
        e.put(list + 64 * i as u64, &d.to_bytes());
    }
}

fn batch(list: u64, count: u32) -> DsaDesc {
    let mut d = dsa(Op::Batch.code(), list, 0, count);
    d.completion_addr = BREC;
    d
}

fn member_rec(e: &Env, i: u64) -> DsaCompletion {
    DsaCompletion::from_bytes(&e.get(rec(i + 1), 32).try_into().unwrap())
}

fn clear_member_records(e: &Env) {
    e.put(rec(1), &[0u8; 62 * 64]);
}

#[test]
fn all_members_succeed() {
    let e = Env::dsa();
    let data = e.fill_random(SRC, 8 * 256, 1);
    members(&e, AUX, 8);
    let o = e.run_dsa(&batch(AUX, 8));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (1, 8));
    assert!(o.fin.is_ok());
    for i in 0..8 {
        assert_eq!(member_rec(&e, i).status, 1, "member {i}");
    }
    assert_eq!(e.get(DST, 8 * 256), data);
    assert_eq!(
        o.done.bytes_read,
        8 * 64 + 8 * 256,
        "the list and the members' sources"
    );
    assert_eq!(o.done.bytes_written, 8 * 256);
}

#[test]
fn one_failing_member_fails_the_batch() {
    let e = Env::dsa();
    let mut v = members(&e, AUX, 4);
    v[2].xfer_size = 0;
    write_list(&e, AUX, &v);
    let o = e.run_dsa(&batch(AUX, 4));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed),
        (5, 4),
        "every member was processed"
    );
    let r: Vec<u8> = (0..4).map(|i| member_rec(&e, i).status).collect();
    assert_eq!(r, [1, 1, 0x13, 1]);
    // A false predicate also fails the batch.
    let mut v = members(&e, AUX, 2);
    v[1] = with_flags(
        dsa(Op::Compare.code(), SRC, DST + 4096, 64),
        DescFlags::CHECK_RESULT,
    );
    v[1].completion_addr = rec(2);
    e.put(SRC, &[9; 64]);
    write_list(&e, AUX, &v);
    let o = e.run_dsa(&batch(AUX, 2));
    assert_eq!(o.rec.status, 5);
    assert_eq!(member_rec(&e, 1).status, 2);
}

#[test]
fn list_fault_then_resubmission_completes_the_rest() {
    let e = Env::dsa();
    let data = e.fill_random(SRC, 6 * 256, 2);
    // A list of 6 whose last 3 entries lie in a page mapped later.
    let list = RO + 0x10000 - 3 * 64;
    let v = members(&e, list, 3);
    let mut all = v.clone();
    all.extend((3..6).map(|i| {
        let mut d = dsa(Op::Memmove.code(), SRC + i * 256, DST + i * 256, 256);
        d.completion_addr = rec(i + 1);
        d
    }));
    let o = e.run_dsa(&batch(list, 6));
    assert_eq!(o.rec.status, 6);
    assert_eq!((o.rec.bytes_completed, o.rec.fault_addr), (3, RO + 0x10000));
    assert_eq!(e.get(DST, 3 * 256), data[..3 * 256]);
    assert_eq!(e.get(DST + 3 * 256, 8), [0; 8]);
    // Map the rest of the list and resubmit from list + done * 64.
    e.mmu.map_owned(RO + 0x10000, 4096, true).unwrap();
    write_list(&e, list, &all);
    let done = o.rec.bytes_completed;
    let o = e.run_dsa(&batch(list + done as u64 * 64, 6 - done));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (1, 3));
    assert_eq!(e.get(DST, 6 * 256), data);
    for i in 0..6 {
        assert_eq!(member_rec(&e, i).status, 1);
    }
}

#[test]
fn descriptor_count_out_of_range() {
    let mut e = Env::dsa();
    members(&e, AUX, 4);
    assert_eq!(e.run_dsa(&batch(AUX, 1)).rec.status, 0x14);
    assert_eq!(e.run_dsa(&batch(AUX, 0)).rec.status, 0x14);
    e.wq.max_batch = 4;
    assert_eq!(e.run_dsa(&batch(AUX, 5)).rec.status, 0x14);
    assert_eq!(e.run_dsa(&batch(AUX, 4)).rec.status, 1);
    e.wq.max_batch = 0;
    assert_eq!(
        e.run_dsa(&batch(AUX, 2)).rec.status,
        0x14,
        "batches not allowed on this WQ"
    );
    assert_eq!(member_rec(&e, 0).status, 1);
}

#[test]
fn misaligned_list() {
    let e = Env::dsa();
    members(&e, AUX + 32, 2);
    clear_member_records(&e);
    let o = e.run_dsa(&batch(AUX + 32, 2));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (0x18, 0));
    assert_eq!(member_rec(&e, 0).status, 0, "nothing ran");
}

#[test]
fn batch_inside_a_batch_fails_that_member() {
    let e = Env::dsa();
    let mut v = members(&e, AUX, 3);
    v[1] = batch(AUX + 4096, 2);
    v[1].completion_addr = rec(2);
    write_list(&e, AUX, &v);
    members(&e, AUX + 4096, 2);
    clear_member_records(&e);
    let o = e.run_dsa(&batch(AUX, 3));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (5, 3));
    let r: Vec<u8> = (0..3).map(|i| member_rec(&e, i).status).collect();
    assert_eq!(r, [1, 0x10, 1]);
}

#[test]
fn block_on_fault_is_reserved_in_a_batch() {
    let e = Env::dsa();
    members(&e, AUX, 2);
    let o = e.run_dsa(&with_flags(batch(AUX, 2), DescFlags::BLOCK_ON_FAULT));
    assert_eq!((o.rec.status, o.rec.invalid_flags()), (0x11, 0x2));
}

#[test]
fn fence_after_a_failure_abandons_the_rest() {
    let e = Env::dsa();
    let mut v = members(&e, AUX, 4);
    v[1].xfer_size = 0;
    v[2] = with_flags(v[2], DescFlags::FENCE);
    write_list(&e, AUX, &v);
    clear_member_records(&e);
    let o = e.run_dsa(&batch(AUX, 4));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (5, 2));
    let r: Vec<u8> = (0..4).map(|i| member_rec(&e, i).status).collect();
    assert_eq!(r, [1, 0x13, 0, 0]);
    // Fence after successes just runs.
    let mut v = members(&e, AUX, 3);
    v[2] = with_flags(v[2], DescFlags::FENCE);
    write_list(&e, AUX, &v);
    assert_eq!(e.run_dsa(&batch(AUX, 3)).rec.status, 1);
}

#[test]
fn member_interrupts_and_swerrs_come_back() {
    let e = Env::dsa();
    let mut v = members(&e, AUX, 3);
    v[0] = with_flags(v[0], DescFlags::RCI);
    v[0].int_handle = 3;
    v[1].completion_addr = HOLE;
    v[2] = set_flags(v[2], 0);
    v[2].xfer_size = 0;
    write_list(&e, AUX, &v);
    let o = e.run_dsa(&batch(AUX, 3));
    assert_eq!(o.rec.status, 5);
    assert_eq!(o.done.member_interrupts, [3]);
    assert_eq!(o.done.member_swerrs.len(), 2);
    let (a, b) = (o.done.member_swerrs[0], o.done.member_swerrs[1]);
    assert_eq!(
        (a.error, a.batch, a.batch_idx, a.fault_addr),
        (0x1a, true, 1, HOLE)
    );
    assert_eq!((b.error, b.batch, b.batch_idx), (0x13, true, 2));
    // finish reports the first and flags the overflow.
    let s = o.fin.unwrap_err();
    assert_eq!((s.error, s.batch_idx, s.overflow), (0x1a, 1, true));
}

#[test]
fn injected_list_fault() {
    let mut e = Env::dsa();
    members(&e, AUX, 4);
    e.inject = Some(Injection::PageFault {
        at_offset: 2 * 64 + 5,
    });
    let o = e.run_dsa(&batch(AUX, 4));
    assert_eq!(
        (o.rec.status, o.rec.bytes_completed, o.rec.fault_addr),
        (6, 2, AUX + 2 * 64 + 5)
    );
    e.inject = Some(Injection::HardwareError);
    clear_member_records(&e);
    let o = e.run_dsa(&batch(AUX, 4));
    assert_eq!((o.rec.status, o.rec.bytes_completed), (0x20, 0));
    assert_eq!(member_rec(&e, 0).status, 0);
}
