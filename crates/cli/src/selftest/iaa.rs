//! IAA operations, each checked against software (zlib for deflate, a bitwise CRC64).

use idxd_hw::aecs::COMPRESS_AECS_SIZE;
use idxd_hw::{
    AecsWrite, CompressAecs, CompressFlags, Crc64Flags, DecompressFlags, EndProcessing, IaaOp, IaaOpcode,
    IaaStatus,
};

use super::refs::{crc64_msb, data, zlib_deflate, zlib_inflate};
use super::{Check, Checks, Target};

const UNMAPPED: u64 = 0xbad0_0000_0000;
const POLY: u64 = 0x42F0_E1EB_A9EA_3693;

fn status(r: &idxd_hw::IaaCompletion, want: u8) -> Result<(), String> {
    if r.status & 0x7f == want {
        Ok(())
    } else {
        Err(format!(
            "status {:#04x} ({}), error code {}",
            r.status,
            r.status().iaa().map_or("undefined status", |x| x.description()),
            r.error_code
        ))
    }
}

/// Every IAA check, in order.
pub fn run(t: &Target) -> Vec<Check> {
    let mut c = Checks::default();
    let page = data(4096, 9);
    let alloc = || -> Result<_, String> {
        let b = |n: usize, a: usize| t.pool.alloc(n, a).map_err(|e| format!("DMA memory: {e}"));
        let mut src = b(4096, 64)?;
        src.write(0, &page).map_err(|e| e.to_string())?;
        Ok((src, b(COMPRESS_AECS_SIZE, 32)?, b(8192, 64)?, b(4096, 64)?))
    };
    let (src, mut aecs, out, back) = match alloc() {
        Ok(b) => b,
        Err(e) => {
            c.run("DMA memory", || Err(e));
            return c.0;
        }
    };
    let ok = 1u8;
    c.run("no-op", || {
        t.iaa(&IaaOp::Noop)
            .and_then(|r| status(&r, ok))
            .map(|_| "completed".into())
    });
    if t.supports(IaaOpcode::Memmove.code()) {
        c.run("memory move", || {
            let r = t.iaa(&IaaOp::Memmove {
                src: src.iova(),
                dst: back.iova(),
                len: 4096,
            })?;
            status(&r, ok)?;
            if back.read_vec(0, 4096).map_err(|e| e.to_string())? != page {
                return Err("copy differs from the source".into());
            }
            Ok("4 KiB copied, bytes match".into())
        });
    }
    let mut fixed_stream = None;
    if t.supports(IaaOpcode::Compress.code()) {
        for (name, table) in [
            ("compress (fixed)", CompressAecs::fixed()),
            ("compress (dynamic)", idxd_deflate::dynamic_aecs(&page)),
        ] {
            let res = aecs
                .write(0, table.as_bytes())
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    t.iaa(&IaaOp::Compress {
                        src: src.iova(),
                        len: 4096,
                        dst: out.iova(),
                        max_dst: 8192,
                        aecs: aecs.iova(),
                        aecs_size: COMPRESS_AECS_SIZE as u32,
                        flags: CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob),
                        crc32c: false,
                        aecs_write: AecsWrite::Never,
                        aecs_select: false,
                    })
                });
            c.run(name, || {
                let r = res?;
                status(&r, ok)?;
                let comp = out
                    .read_vec(0, r.output_size as usize)
                    .map_err(|e| e.to_string())?;
                if zlib_inflate(&comp)? != page {
                    return Err("zlib inflates it to different bytes".into());
                }
                let d = format!("4096 -> {} bytes, zlib inflates it back", comp.len());
                if name.contains("fixed") {
                    fixed_stream = Some(comp);
                }
                Ok(d)
            });
        }
    }
    if t.supports(IaaOpcode::Decompress.code()) {
        let zlib = zlib_deflate(&page);
        let inputs = [
            ("decompress (zlib stream)", Some(zlib)),
            ("decompress (device stream)", fixed_stream),
        ];
        for (name, stream) in inputs {
            let Some(stream) = stream else {
                c.skip(name, "no compressed input");
                continue;
            };
            c.run(name, || {
                let mut input = t.pool.alloc(stream.len(), 64).map_err(|e| e.to_string())?;
                input.write(0, &stream).map_err(|e| e.to_string())?;
                let r = t.iaa(&IaaOp::Decompress {
                    src: input.iova(),
                    len: stream.len() as u32,
                    dst: back.iova(),
                    max_dst: 4096,
                    flags: DecompressFlags::empty(),
                    crc32c: false,
                })?;
                status(&r, ok)?;
                if r.output_size != 4096 || back.read_vec(0, 4096).map_err(|e| e.to_string())? != page {
                    return Err(format!("{} bytes out, not the original page", r.output_size));
                }
                Ok(format!(
                    "{} -> 4096 bytes, identical to the original",
                    stream.len()
                ))
            });
        }
    }
    if t.supports(IaaOpcode::Crc64.code()) {
        c.run("CRC64", || {
            let r = t.iaa(&IaaOp::Crc64 {
                src: src.iova(),
                len: 4096,
                poly: POLY,
                // No ADC64F_BE: the non-reflected CRC (QPL c_operations_op_crc64.rst), which
                // with INVERT and the ECMA polynomial is CRC-64/WE.
                flags: Crc64Flags::INVERT,
            })?;
            status(&r, ok)?;
            let (got, want) = (r.crc64(), crc64_msb(&page, POLY, true));
            if got == want {
                Ok(format!("{got:#018x} (CRC-64/WE), as in software"))
            } else {
                Err(format!("{got:#018x}, software {want:#018x}"))
            }
        });
    }
    c.run("page fault", || {
        let r = t.iaa(&IaaOp::Memmove {
            src: UNMAPPED,
            dst: back.iova(),
            len: 64,
        })?;
        // QPL hw_status.h: AD_STATUS_READ_PAGE_FAULT = 0x03 (0x83 on a write).
        status(&r, IaaStatus::PageFault.code())?;
        if r.fault_addr != UNMAPPED {
            return Err(format!(
                "fault address {:#x}, expected {UNMAPPED:#x}",
                r.fault_addr
            ));
        }
        Ok(format!("unmapped source reported at {UNMAPPED:#x}"))
    });
    c.0
}
