//! DSA create delta record and apply delta record.
//!
//! A delta record is a list of 10-byte entries: a little-endian u16 offset in 8-byte words,
//! then the 8 bytes of the second source at that word. Create compares `src1` with `src2`
//! word by word and records every word where `src2` differs; apply writes each entry's 8 bytes
//! into the destination at its offset.
//!
//! Create's result (the record's `result` byte): 0 the sources are identical, 1 a delta record
//! was created, 2 the delta record did not fit in `max_delta_size` (the operation stops at the
//! first word whose entry does not fit, `bytes_completed` is that word's offset and
//! `delta_rec_size` the bytes of entries written; this is the DSA "delta record overflow"
//! result). With check-result, `expected_res_mask` has one bit per acceptable result
//! (bit `r` for result `r`); a result whose bit is clear completes with status 2 ("success
//! with false predicate").
//!
//! Apply checks each entry as it goes: an offset not greater than the previous one is status
//! 7, an offset whose word lies beyond the transfer size is status 8; entries before it have
//! been applied and `bytes_completed` counts their delta-record bytes.

use idxd_hw::desc::dsa_off;
use idxd_hw::dsa_ops::DELTA_ENTRY_SIZE;
use idxd_hw::{DsaCompletion, DsaDesc, DsaStatus};

use super::dsa::predicate_status;
use super::mem::{at, scratch, Dev};
use super::stream::{stream, Flow, Partial, StreamEnd, CHUNK};

const ENTRY: usize = DELTA_ENTRY_SIZE as usize;

/// Create delta record (opcode 7).
pub(super) fn create(dev: &Dev, d: &DsaDesc, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    let len = d.xfer_size as u64;
    let delta = d.op_u64(dsa_off::DELTA_ADDR);
    let max = d.op_u32(dsa_off::MAX_DELTA_SIZE) as u64;
    let mut other = scratch((len as usize).min(CHUNK)).ok_or(StreamEnd::NoMemory)?;
    let mut entries: Vec<u8> = Vec::new();
    let mut words: Vec<u64> = Vec::new();
    let mut written = 0u64;
    let mut overflow_at = None;
    let r = stream(dev, d.src_addr, len, CHUNK, 8, |off, a| {
        let base = at(d.dst_addr, off);
        let b = &mut other[..a.len()];
        let (k, fault) = match dev.read(base, b) {
            Ok(()) => (a.len(), None),
            Err(f) => (
                (f.addr.saturating_sub(base) as usize).min(a.len()) / 8 * 8,
                Some(f),
            ),
        };
        entries.clear();
        words.clear();
        for i in (0..k).step_by(8) {
            if a[i..i + 8] == b[i..i + 8] {
                continue;
            }
            if written + (entries.len() + ENTRY) as u64 > max {
                overflow_at = Some(off + i as u64);
                break;
            }
            // The word index fits in 16 bits: transfers are at most 512 KiB.
            let word = ((off + i as u64) / 8) as u16;
            entries.extend_from_slice(&word.to_le_bytes());
            entries.extend_from_slice(&b[i..i + 8]);
            words.push(off + i as u64);
        }
        if !entries.is_empty() {
            let dbase = at(delta, written);
            if let Err(f) = dev.write(dbase, &entries) {
                let whole = (f.addr.saturating_sub(dbase) as usize / ENTRY).min(words.len());
                written += (whole * ENTRY) as u64;
                let done = words.get(whole).copied().unwrap_or(off + k as u64);
                return Err(Partial { done, fault: f });
            }
            written += entries.len() as u64;
        }
        if overflow_at.is_some() {
            return Ok(Flow::Stop);
        }
        match fault {
            Some(fault) => Err(Partial {
                done: off + k as u64,
                fault,
            }),
            None => Ok(Flow::Continue),
        }
    });
    rec.set_op_u32(written as u32);
    r?;
    rec.result = match overflow_at {
        Some(at_word) => {
            rec.bytes_completed = at_word as u32;
            2
        }
        None => (written != 0) as u8,
    };
    let mask = d.op_u8(dsa_off::EXPECTED_RES_MASK);
    rec.status = predicate_status(d, mask >> rec.result & 1 != 0);
    Ok(())
}

/// Apply delta record (opcode 8).
pub(super) fn apply(dev: &Dev, d: &DsaDesc, rec: &mut DsaCompletion) -> Result<(), StreamEnd> {
    let len = d.xfer_size as u64;
    let size = d.op_u32(dsa_off::DELTA_REC_SIZE) as u64;
    let mut prev: Option<u16> = None;
    let mut bad: Option<(DsaStatus, u64)> = None;
    let chunk = CHUNK / ENTRY * ENTRY;
    stream(dev, d.src_addr, size, chunk, ENTRY, |off, bytes| {
        for (j, e) in bytes.chunks_exact(ENTRY).enumerate() {
            let pos = off + (j * ENTRY) as u64;
            let word = u16::from_le_bytes([e[0], e[1]]);
            if prev.is_some_and(|p| word <= p) {
                bad = Some((DsaStatus::DrOffsetNoInc, pos));
                return Ok(Flow::Stop);
            }
            if word as u64 * 8 + 8 > len {
                bad = Some((DsaStatus::DrOffsetErange, pos));
                return Ok(Flow::Stop);
            }
            dev.write(at(d.dst_addr, word as u64 * 8), &e[2..])
                .map_err(|fault| Partial { done: pos, fault })?;
            prev = Some(word);
        }
        Ok(Flow::Continue)
    })?;
    if let Some((status, pos)) = bad {
        rec.status = status.code();
        rec.bytes_completed = pos as u32;
    }
    Ok(())
}
