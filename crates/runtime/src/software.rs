//! Software codecs: zstd, lz4, and deflate with a 4 KiB window (so the device can decompress
//! what software compressed), plus a full-window software inflate used as the fallback for
//! streams the device refuses.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::codec::{Codec, Job};
use crate::error::{ErrorKind, OffloadError};

/// zstd at a level, with per-context compression and decompression contexts.
pub struct ZstdCodec {
    level: i32,
    name: &'static str,
    cctx: zstd::bulk::Compressor<'static>,
    dctx: zstd::bulk::Decompressor<'static>,
}

impl ZstdCodec {
    /// A zstd codec at `level`.
    pub fn new(level: i32) -> Result<Self, OffloadError> {
        let e = |x: std::io::Error| {
            OffloadError::new(ErrorKind::InvalidRequest, "zstd").with_detail(x.to_string())
        };
        Ok(ZstdCodec {
            level,
            name: "zstd",
            cctx: zstd::bulk::Compressor::new(level).map_err(e)?,
            dctx: zstd::bulk::Decompressor::new().map_err(e)?,
        })
    }

    /// The level.
    pub fn level(&self) -> i32 {
        self.level
    }
}

fn zstd_err(name: &'static str, e: std::io::Error, compress: bool) -> OffloadError {
    let msg = e.to_string();
    let kind = if msg.contains("too small") {
        ErrorKind::DoesNotFit
    } else if compress {
        ErrorKind::InvalidRequest
    } else {
        ErrorKind::Corrupt
    };
    OffloadError::new(kind, name).with_detail(msg)
}

impl Codec for ZstdCodec {
    fn name(&self) -> &'static str {
        self.name
    }
    fn batch_size(&self) -> usize {
        1
    }
    fn compress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            j.result = Some(
                self.cctx
                    .compress_to_buffer(j.src, &mut *j.dst)
                    .map_err(|e| zstd_err(self.name, e, true)),
            );
        }
    }
    fn decompress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            j.result = Some(
                self.dctx
                    .decompress_to_buffer(j.src, &mut *j.dst)
                    .map_err(|e| zstd_err(self.name, e, false)),
            );
        }
    }
}

/// lz4 block format (no frame), as zram uses it. lz4_flex wants room for the worst case, so
/// output goes to a scratch buffer of that size and is copied when it fits.
#[derive(Default)]
pub struct Lz4Codec {
    scratch: Vec<u8>,
}

impl Codec for Lz4Codec {
    fn name(&self) -> &'static str {
        "lz4"
    }
    fn batch_size(&self) -> usize {
        1
    }
    fn compress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            let worst = lz4_flex::block::get_maximum_output_size(j.src.len());
            if self.scratch.len() < worst {
                self.scratch.resize(worst, 0);
            }
            j.result = Some(match lz4_flex::block::compress_into(j.src, &mut self.scratch) {
                Ok(n) if n <= j.dst.len() => {
                    j.dst[..n].copy_from_slice(&self.scratch[..n]);
                    Ok(n)
                }
                Ok(n) => {
                    Err(OffloadError::new(ErrorKind::DoesNotFit, "lz4").with_detail(format!("{n} bytes")))
                }
                Err(e) => Err(OffloadError::new(ErrorKind::InvalidRequest, "lz4").with_detail(e.to_string())),
            });
        }
    }
    fn decompress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            j.result = Some(lz4_flex::block::decompress_into(j.src, j.dst).map_err(|e| {
                let kind = match e {
                    lz4_flex::block::DecompressError::OutputTooSmall { .. } => ErrorKind::DoesNotFit,
                    _ => ErrorKind::Corrupt,
                };
                OffloadError::new(kind, "lz4").with_detail(e.to_string())
            }));
        }
    }
}

/// Raw deflate with a 4 KiB window (zlib, windowBits 12): output any IAA can decompress.
pub struct DeflateCodec {
    level: u32,
    comp: Compress,
    decomp: Decompress,
}

impl DeflateCodec {
    /// Deflate at `level` (1..=9).
    pub fn new(level: u32) -> Self {
        DeflateCodec {
            level,
            comp: Compress::new_with_window_bits(Compression::new(level.clamp(1, 9)), false, 12),
            decomp: Decompress::new(false),
        }
    }

    /// The level.
    pub fn level(&self) -> u32 {
        self.level
    }
}

/// Inflates a raw deflate stream (any window) into `dst`.
pub fn inflate_into(
    d: &mut Decompress,
    src: &[u8],
    dst: &mut [u8],
    name: &'static str,
) -> Result<usize, OffloadError> {
    d.reset(false);
    match d.decompress(src, dst, FlushDecompress::Finish) {
        Ok(Status::StreamEnd) => Ok(d.total_out() as usize),
        Ok(_) if d.total_out() as usize == dst.len() => Err(OffloadError::new(ErrorKind::DoesNotFit, name)),
        Ok(_) => Err(OffloadError::new(ErrorKind::Corrupt, name).with_detail("truncated stream")),
        Err(e) => Err(OffloadError::new(ErrorKind::Corrupt, name).with_detail(e.to_string())),
    }
}

impl Codec for DeflateCodec {
    fn name(&self) -> &'static str {
        "deflate"
    }
    fn batch_size(&self) -> usize {
        1
    }
    fn compress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            self.comp.reset();
            j.result = Some(match self.comp.compress(j.src, j.dst, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => Ok(self.comp.total_out() as usize),
                Ok(_) => Err(OffloadError::new(ErrorKind::DoesNotFit, "deflate")),
                Err(e) => {
                    Err(OffloadError::new(ErrorKind::InvalidRequest, "deflate").with_detail(e.to_string()))
                }
            });
        }
    }
    fn decompress(&mut self, jobs: &mut [Job<'_>]) {
        for j in jobs {
            j.result = Some(inflate_into(&mut self.decomp, j.src, j.dst, "deflate"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(c: &mut dyn Codec) {
        let page: Vec<u8> = (0..4096u32).map(|i| (i % 97) as u8).collect();
        let mut out = vec![0u8; 4096];
        let mut jobs = [Job::new(&page, &mut out)];
        c.compress(&mut jobs);
        let n = jobs[0].result.clone().unwrap().unwrap();
        let mut back = vec![0u8; 4096];
        let mut jobs = [Job::new(&out[..n], &mut back)];
        c.decompress(&mut jobs);
        assert_eq!(jobs[0].result.clone().unwrap(), Ok(4096));
        assert_eq!(back, page);
        // Incompressible data into one page does not fit.
        let mut x = 1u32;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        let mut small = vec![0u8; 4096];
        let mut jobs = [Job::new(&noise, &mut small)];
        c.compress(&mut jobs);
        assert_eq!(
            jobs[0].result.clone().unwrap().unwrap_err().kind,
            ErrorKind::DoesNotFit,
            "{}",
            c.name()
        );
        // Garbage does not decompress.
        let mut jobs = [Job::new(&noise[..100], &mut back)];
        c.decompress(&mut jobs);
        let k = jobs[0].result.clone().unwrap().unwrap_err().kind;
        assert!(
            matches!(k, ErrorKind::Corrupt | ErrorKind::DoesNotFit),
            "{}: {k:?}",
            c.name()
        );
    }

    #[test]
    fn software_codecs_round_trip_and_report_errors() {
        roundtrip(&mut ZstdCodec::new(1).unwrap());
        roundtrip(&mut Lz4Codec::default());
        roundtrip(&mut DeflateCodec::new(1));
    }
}
