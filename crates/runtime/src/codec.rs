//! The codec trait: everything that compresses pages, with a batch size and a result per
//! request. Codecs live inside a per-thread context, so they may keep state (zstd contexts,
//! DMA staging buffers, descriptors in flight) without locks.

use crate::error::OffloadError;

/// One request: input, output room, and (once the codec ran) its result.
pub struct Job<'a> {
    /// Input.
    pub src: &'a [u8],
    /// Output room; the result says how much was written.
    pub dst: &'a mut [u8],
    /// Output length, or why not.
    pub result: Option<Result<usize, OffloadError>>,
}

impl<'a> Job<'a> {
    /// A job with no result yet.
    pub fn new(src: &'a [u8], dst: &'a mut [u8]) -> Self {
        Job {
            src,
            dst,
            result: None,
        }
    }
}

/// A compressor/decompressor. `compress`/`decompress` set `result` of every job.
pub trait Codec: Send {
    /// The name statistics and errors use (`deflate-iaa`, `zstd`, ...).
    fn name(&self) -> &'static str;
    /// How many requests it works on at once (1 for plain software codecs).
    fn batch_size(&self) -> usize;
    /// Compresses every job.
    fn compress(&mut self, jobs: &mut [Job<'_>]);
    /// Decompresses every job.
    fn decompress(&mut self, jobs: &mut [Job<'_>]);
}
