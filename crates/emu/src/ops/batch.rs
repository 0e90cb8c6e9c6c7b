//! The DSA batch operation (docs/hardware.md, "Batches").
//!
//! The batch descriptor has passed validation (list 64-byte aligned, count in
//! `[2, max_batch]`, no block-on-fault). Its members are read from the list one at a time and
//! executed in order, each validated and completed as a descriptor of its own: its record is
//! written per its own flags before the next member starts (so the batch's record, written
//! last by [`super::finish`], comes after all of them).
//!
//! - A member that is itself a batch fails with 0x10 (validation).
//! - Batch status 1 when every member completed with status 1, else 5 (a member with status 2,
//!   "success with false predicate", or whose record could not be written, counts as failed).
//! - `bytes_completed` of the batch record: the members processed.
//! - A fault reading the list: status 6, the fault address, `bytes_completed` = members
//!   processed before it, so resubmitting `list + done * 64` with `count - done` completes the
//!   rest.
//! - Fence (DSA spec; docs/hardware.md, "Batches": fence orders a member after the earlier ones,
//!   which in-order execution gives anyway): a member with the fence flag after any member that
//!   did not complete with status 1 is abandoned with every member after it (no records); the
//!   batch completes with status 5 and `bytes_completed` counts the members processed.
//! - Member interrupts and SWERR reports come back in the batch's [`Completed`].

use idxd_hw::{DescFlags, DsaCompletion, DsaDesc, DsaStatus};

use super::mem::{at, Dev};
use super::{dsa, finish, Completed, ExecCtx, Tail};

pub(super) fn run(ctx: &ExecCtx, d: &DsaDesc, dev: &Dev, tail: &Tail) -> Completed {
    let member_ctx = ExecCtx { inject: None, ..*ctx };
    let mut rec = DsaCompletion::default();
    let mut all_ok = true;
    let mut processed = 0u32;
    let (mut rd, mut wr) = (0u64, 0u64);
    let mut interrupts = Vec::new();
    let mut swerrs = Vec::new();
    let mut list_fault = None;
    for i in 0..d.xfer_size {
        let mut raw = [0u8; 64];
        if let Err(f) = dev.read(at(d.src_addr, i as u64 * 64), &mut raw) {
            list_fault = Some(f);
            break;
        }
        let m = DsaDesc::from_bytes(&raw);
        if !all_ok && m.flags().contains(DescFlags::FENCE) {
            // Abandoned with everything after it.
            break;
        }
        // The count is at most max_batch, which is below 2^16 on every DSA.
        let done = dsa::run(&member_ctx, &m, Some(i.min(u16::MAX as u32) as u16));
        if let Err(e) = finish(&member_ctx, &done) {
            swerrs.push(e);
            if done.write_record {
                all_ok = false;
            }
        }
        all_ok &= done.status_code() == DsaStatus::Success.code();
        interrupts.extend(done.interrupt);
        rd += done.bytes_read;
        wr += done.bytes_written;
        processed += 1;
    }
    rec.bytes_completed = processed;
    rec.status = match list_fault {
        Some(f) => {
            rec.fault_addr = f.addr;
            DsaStatus::BatchPageFault.code()
        }
        None if all_ok && processed == d.xfer_size => DsaStatus::Success.code(),
        None => DsaStatus::BatchFail.code(),
    };
    let (lr, lw) = dev.counters();
    let mut c = tail.complete(&rec.to_bytes(), (lr + rd, lw + wr), 0, list_fault, false);
    c.member_interrupts = interrupts;
    c.member_swerrs = swerrs;
    c
}
