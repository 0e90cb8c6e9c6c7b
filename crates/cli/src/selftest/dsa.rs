//! DSA operations, each checked against software.

use idxd_hw::{CrcSeed, DsaOp, DsaOpcode, Submit};

use super::refs::{crc32c, data};
use super::{Check, Checks, Target, T};

const PATTERN: u64 = 0xa5a5_5a5a_0102_0304;
/// An address no DMA mapping covers.
const UNMAPPED: u64 = 0xdead_0000_0000;

fn status(r: &idxd_hw::DsaCompletion, want: u8) -> Result<(), String> {
    if r.status & 0x7f == want {
        Ok(())
    } else {
        Err(format!(
            "status {:#04x} ({}), expected {want:#04x}",
            r.status,
            r.status().dsa().map_or("undefined status", |x| x.description())
        ))
    }
}

fn buf(t: &Target, len: usize, align: usize) -> Result<idxd_driver::DmaBuf, String> {
    t.pool.alloc(len, align).map_err(|e| format!("DMA memory: {e}"))
}

fn eq(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    match got.iter().zip(want).position(|(a, b)| a != b) {
        None if got.len() == want.len() => Ok(()),
        None => Err(format!("{what}: {} bytes, expected {}", got.len(), want.len())),
        Some(i) => Err(format!("{what}: first difference at byte {i}")),
    }
}

/// Every DSA check, in order.
pub fn run(t: &Target) -> Vec<Check> {
    let mut c = Checks::default();
    let op = |o: DsaOpcode| o.code();
    let src_data = data(8192, 1);
    let alloc = || -> Result<_, String> {
        let mut src = buf(t, 8192, 64)?;
        src.write(0, &src_data).map_err(|e| e.to_string())?;
        Ok((src, buf(t, 8192, 4096)?, buf(t, 8192, 4096)?))
    };
    let (src, dst, dst2) = match alloc() {
        Ok(b) => b,
        Err(e) => {
            c.run("DMA memory", || Err(e));
            return c.0;
        }
    };
    let rd = |b: &idxd_driver::DmaBuf, n: usize| b.read_vec(0, n).map_err(|e| e.to_string());

    c.run("no-op", || {
        t.dsa(&DsaOp::Noop)
            .and_then(|r| status(&r, 1))
            .map(|_| "completed".into())
    });
    if t.supports(op(DsaOpcode::Memmove)) {
        c.run("memory move", || {
            let r = t.dsa(&DsaOp::Memmove {
                src: src.iova(),
                dst: dst.iova(),
                len: 8192,
            })?;
            status(&r, 1)?;
            eq("copy", &rd(&dst, 8192)?, &src_data)?;
            Ok("8 KiB copied, bytes match".into())
        });
    }
    if t.supports(op(DsaOpcode::Fill)) {
        c.run("memory fill", || {
            let r = t.dsa(&DsaOp::Fill {
                pattern: PATTERN,
                dst: dst2.iova(),
                len: 4096,
            })?;
            status(&r, 1)?;
            let want: Vec<u8> = PATTERN.to_le_bytes().iter().copied().cycle().take(4096).collect();
            eq("fill", &rd(&dst2, 4096)?, &want)?;
            Ok(format!("4 KiB of {PATTERN:#018x}"))
        });
    }
    if t.supports(op(DsaOpcode::Compare)) {
        c.run("compare (equal)", || {
            let r = t.dsa(&DsaOp::Compare {
                src1: src.iova(),
                src2: dst.iova(),
                len: 8192,
                expected: None,
            })?;
            status(&r, 1)?;
            match r.result {
                0 => Ok("equal, as in software".into()),
                x => Err(format!("result {x}, software says equal")),
            }
        });
        c.run("compare (different)", || {
            let mut other = src_data[..4096].to_vec();
            other[1234] ^= 0x10;
            other[3000] ^= 0x01;
            let mut m = buf(t, 4096, 64)?;
            m.write(0, &other).map_err(|e| e.to_string())?;
            let first = src_data
                .iter()
                .zip(&other)
                .position(|(a, b)| a != b)
                .unwrap_or(4096) as u32;
            let r = t.dsa(&DsaOp::Compare {
                src1: src.iova(),
                src2: m.iova(),
                len: 4096,
                expected: None,
            })?;
            status(&r, 1)?;
            if (r.result, r.bytes_completed) == (1, first) {
                Ok(format!("first difference at byte {first}, as in software"))
            } else {
                Err(format!(
                    "result {} at byte {}, software: 1 at byte {first}",
                    r.result, r.bytes_completed
                ))
            }
        });
    }
    if t.supports(op(DsaOpcode::ComparePattern)) {
        c.run("compare pattern", || {
            let r = t.dsa(&DsaOp::ComparePattern {
                src: dst2.iova(),
                pattern: PATTERN,
                len: 4096,
                expected: None,
            })?;
            status(&r, 1)?;
            let r2 = t.dsa(&DsaOp::ComparePattern {
                src: src.iova(),
                pattern: PATTERN,
                len: 4096,
                expected: None,
            })?;
            status(&r2, 1)?;
            match (r.result, r2.result) {
                (0, 1) => Ok("match on the filled buffer, mismatch elsewhere".into()),
                (a, b) => Err(format!("results {a} and {b}, expected 0 and 1")),
            }
        });
    }
    if t.supports(op(DsaOpcode::CrcGen)) {
        c.run("CRC32C generate", || {
            let r = t.dsa(&DsaOp::CrcGen {
                src: src.iova(),
                len: 8192,
                seed: CrcSeed::Value(0),
            })?;
            status(&r, 1)?;
            let (got, want) = (r.crc_val() as u32, crc32c(&src_data));
            if got == want {
                Ok(format!("{got:#010x}, as in software"))
            } else {
                Err(format!("{got:#010x}, software {want:#010x}"))
            }
        });
    }
    if t.supports(op(DsaOpcode::CopyCrc)) {
        c.run("copy with CRC32C", || {
            let r = t.dsa(&DsaOp::CopyCrc {
                src: src.iova(),
                dst: dst2.iova(),
                len: 4096,
                seed: CrcSeed::Value(0),
            })?;
            status(&r, 1)?;
            eq("copy", &rd(&dst2, 4096)?, &src_data[..4096])?;
            let (got, want) = (r.crc_val() as u32, crc32c(&src_data[..4096]));
            if got == want {
                Ok(format!("bytes match, CRC {got:#010x}"))
            } else {
                Err(format!("CRC {got:#010x}, software {want:#010x}"))
            }
        });
    }
    if t.supports(op(DsaOpcode::Dualcast)) {
        c.run("dualcast", || {
            let d1 = buf(t, 4096, 4096)?;
            let d2 = buf(t, 4096, 4096)?;
            let r = t.dsa(&DsaOp::Dualcast {
                src: src.iova(),
                dst1: d1.iova(),
                dst2: d2.iova(),
                len: 4096,
            })?;
            status(&r, 1)?;
            eq("first destination", &rd(&d1, 4096)?, &src_data[..4096])?;
            eq("second destination", &rd(&d2, 4096)?, &src_data[..4096])?;
            Ok("both destinations match".into())
        });
    }
    if t.supports(op(DsaOpcode::CreateDelta)) && t.supports(op(DsaOpcode::ApplyDelta)) {
        c.run("create/apply delta", || {
            let mut modified = src_data[..4096].to_vec();
            for i in [16usize, 1000, 4095] {
                modified[i] ^= 0x5a;
            }
            let mut m = buf(t, 4096, 64)?;
            m.write(0, &modified).map_err(|e| e.to_string())?;
            let delta = buf(t, 400, 64)?;
            let r = t.dsa(&DsaOp::CreateDelta {
                src1: src.iova(),
                src2: m.iova(),
                len: 4096,
                delta_addr: delta.iova(),
                max_delta_size: 400,
                expected: None,
            })?;
            status(&r, 1)?;
            let size = r.delta_rec_size();
            if size != 30 {
                return Err(format!("delta record of {size} bytes, software: 30 (3 words)"));
            }
            let mut target = buf(t, 4096, 64)?;
            target.write(0, &src_data[..4096]).map_err(|e| e.to_string())?;
            let r = t.dsa(&DsaOp::ApplyDelta {
                delta_addr: delta.iova(),
                delta_size: size,
                dst: target.iova(),
                len: 4096,
            })?;
            status(&r, 1)?;
            eq("patched buffer", &rd(&target, 4096)?, &modified)?;
            Ok("3 changed words recorded and applied".into())
        });
    }
    if t.supports(op(DsaOpcode::CacheFlush)) {
        c.run("cache flush", || {
            let r = t.dsa(&DsaOp::CacheFlush {
                dst: src.iova(),
                len: 4096,
                invalidate: false,
            })?;
            status(&r, 1)?;
            eq("flushed buffer", &rd(&src, 4096)?, &src_data[..4096])?;
            Ok("completed, contents kept".into())
        });
    }
    if t.supports(op(DsaOpcode::Batch)) && t.wq.limits().max_batch >= 4 {
        c.run("batch", || batch(t, &src, &src_data))
    } else {
        c.skip("batch", "the WQ takes no batch of 4");
    }
    c.run("page fault", || {
        let r = t.dsa(&DsaOp::Memmove {
            src: UNMAPPED,
            dst: dst.iova(),
            len: 64,
        })?;
        status(&r, idxd_hw::DsaStatus::PageFaultNoBof.code())?;
        if r.fault_addr != UNMAPPED {
            return Err(format!(
                "fault address {:#x}, expected {UNMAPPED:#x}",
                r.fault_addr
            ));
        }
        Ok(format!(
            "unmapped source reported at {UNMAPPED:#x}, {} bytes done",
            r.bytes_completed
        ))
    });
    c.0
}

fn batch(t: &Target, src: &idxd_driver::DmaBuf, src_data: &[u8]) -> Result<String, String> {
    let out = buf(t, 4096, 64)?;
    let ops: Vec<(DsaOp, Submit)> = (0..4u64)
        .map(|i| {
            (
                DsaOp::Memmove {
                    src: src.iova() + 1024 * i,
                    dst: out.iova() + 1024 * i,
                    len: 1024,
                },
                Submit::default(),
            )
        })
        .collect();
    let tk = t.wq.submit_batch(&ops, Vec::new()).map_err(|e| e.to_string())?;
    let done = t.wq.wait(tk, T).map_err(|e| e.to_string())?;
    let st = done.result.map_err(|a| format!("abandoned: {a:?}"))?.status();
    if st != 1 {
        return Err(format!("batch status {st:#04x}"));
    }
    let members: Vec<u8> = done.members.iter().map(|m| m.status).collect();
    if members != [1, 1, 1, 1] {
        return Err(format!("member statuses {members:?}"));
    }
    eq(
        "batch copies",
        &out.read_vec(0, 4096).map_err(|e| e.to_string())?,
        &src_data[..4096],
    )?;
    Ok("4 copies in one batch descriptor, all match".into())
}
