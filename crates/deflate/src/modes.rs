//! Building compress AECSes the way software drives IAA 1.0, and one-call page compressors.
//!
//! - Fixed mode ([`CompressAecs::fixed`], what the kernel uses): the RFC 1951 fixed codes and
//!   the 3-bit header of a final fixed block in the accumulator.
//! - Dynamic mode ([`dynamic_aecs`]): a statistics pass over the input, code lengths limited to
//!   15 bits built in software (package-merge), the dynamic block header (BFINAL=1, BTYPE=10,
//!   HLIT/HDIST/HCLEN, code-length code, run-length coded lengths) written into the
//!   accumulator; the compress job with that AECS is the second pass.

use idxd_hw::aecs::{
    canonical_codes, fixed_ll_lengths, Histogram, HISTOGRAM_SIZE, NUM_DIST_CODES, NUM_LL_CODES,
};
use idxd_hw::{CompressAecs, CompressFlags, EndProcessing, HuffCode};

use super::compress::{compress, CompressDone};
use super::header::dynamic_header;
use super::huffman::limited_lengths;
use super::tables::{DIST_EXTRA, EOB, LEN_EXTRA};
use super::EngineError;

/// Longest literal/length or distance code.
const CODE_LIMIT: u32 = 15;

/// The tables [`dynamic_aecs_with_choice`] settled on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TableChoice {
    /// A dynamic block: the tables and header built from the input's statistics.
    Dynamic,
    /// The fixed AECS, because its output is no longer than the dynamic block's would be
    /// (tiny or uniform inputs, where the header costs more than it saves).
    FixedCheaper,
    /// The fixed AECS, because the dynamic header is longer than the 2048-bit accumulator.
    FixedHeaderTooBig,
}

/// The AECS of IAA 1.0 dynamic mode for `input`: see [`dynamic_aecs_with_choice`].
pub fn dynamic_aecs(input: &[u8]) -> CompressAecs {
    dynamic_aecs_with_choice(input).0
}

/// Runs the statistics pass over `input` and builds a dynamic-block AECS from it, to be used
/// by a compress job over the same input with end processing "append EOB" (the header says
/// BFINAL=1, so that job's output is a complete deflate stream).
///
/// The exact output size of both candidates is known from the histograms (the parse does not
/// depend on the tables), so the fixed AECS ([`CompressAecs::fixed`]) is returned instead
/// when it would give output no longer than the dynamic block. It is also the graceful
/// fallback when the dynamic header does not fit in the 2048-bit accumulator (possible only
/// for inputs that use nearly every symbol with very uneven frequencies); the choice says which.
pub fn dynamic_aecs_with_choice(input: &[u8]) -> (CompressAecs, TableChoice) {
    let mut out = [0u8; HISTOGRAM_SIZE];
    let flags = CompressFlags::STATS_MODE.with_end_processing(EndProcessing::Eob);
    let parsed = compress(input, &mut CompressAecs::new(), flags, false, &mut out)
        .ok()
        .and_then(|_| Histogram::from_bytes(&out).ok());
    match parsed {
        Some(h) => aecs_from_statistics(&h),
        // Statistics mode with defined flags and room for the histogram does not fail; stay
        // correct if it ever did.
        None => (CompressAecs::fixed(), TableChoice::FixedCheaper),
    }
}

/// The second half of dynamic mode: builds the dynamic-block AECS (or falls back to the fixed
/// one, see [`dynamic_aecs_with_choice`]) from the histogram that a statistics-mode compress
/// job wrote to its destination (QPL `hw_iaa_histogram`, read back with
/// [`Histogram::from_bytes`]), on a device or in this engine. This is what a driver does
/// between the device's statistics pass and its compress pass.
pub fn aecs_from_statistics(stats: &Histogram) -> (CompressAecs, TableChoice) {
    let mut ll_freq = stats.ll;
    let dist_freq = stats.dist;
    ll_freq[EOB] = ll_freq[EOB].max(1);

    let mut ll_len = [0u8; NUM_LL_CODES];
    limited_lengths(&ll_freq, CODE_LIMIT, &mut ll_len);
    complete_single(&mut ll_len);
    let mut dist_len = [0u8; NUM_DIST_CODES];
    limited_lengths(&dist_freq, CODE_LIMIT, &mut dist_len);
    if dist_len.iter().all(|&l| l == 0) {
        dist_len[0] = 1;
        dist_len[1] = 1;
    }
    complete_single(&mut dist_len);

    let header = dynamic_header(&ll_len, &dist_len);
    let fixed_ll = fixed_ll_lengths();
    let extra: u64 = (0..29)
        .map(|i| ll_freq[257 + i] as u64 * LEN_EXTRA[i] as u64)
        .sum::<u64>()
        + (0..30)
            .map(|i| dist_freq[i] as u64 * DIST_EXTRA[i] as u64)
            .sum::<u64>();
    let weigh =
        |freq: &[u32], len: &[u8]| -> u64 { freq.iter().zip(len).map(|(&f, &l)| f as u64 * l as u64).sum() };
    let fixed_bits = 3 + weigh(&ll_freq, &fixed_ll) + weigh(&dist_freq, &[5; NUM_DIST_CODES]) + extra;
    let dynamic_bits = header.nbits + weigh(&ll_freq, &ll_len) + weigh(&dist_freq, &dist_len) + extra;
    if !header.fits_accumulator() {
        return (CompressAecs::fixed(), TableChoice::FixedHeaderTooBig);
    }
    if fixed_bits <= dynamic_bits {
        return (CompressAecs::fixed(), TableChoice::FixedCheaper);
    }

    let (Ok(ll_codes), Ok(dist_codes)) = (canonical_codes(&ll_len), canonical_codes(&dist_len)) else {
        // Package-merge yields valid lengths; fall back rather than fail if it ever did not.
        return (CompressAecs::fixed(), TableChoice::FixedCheaper);
    };
    let mut aecs = CompressAecs::new();
    let mut ll = [HuffCode::default(); NUM_LL_CODES];
    ll.copy_from_slice(&ll_codes);
    let mut dist = [HuffCode::default(); NUM_DIST_CODES];
    dist.copy_from_slice(&dist_codes);
    aecs.set_ll_codes(&ll);
    aecs.set_dist_codes(&dist);
    if aecs.set_accumulator(&header.bytes, header.nbits as u32).is_err() {
        return (CompressAecs::fixed(), TableChoice::FixedHeaderTooBig);
    }
    (aecs, TableChoice::Dynamic)
}

/// Gives a code with exactly one used symbol a second one-bit code, so that every code the
/// header describes is complete.
fn complete_single(len: &mut [u8]) {
    let used: Vec<usize> = len
        .iter()
        .enumerate()
        .filter(|(_, &l)| l != 0)
        .map(|(i, _)| i)
        .collect();
    if let [only] = used[..] {
        let other = if only == 0 { 1 } else { 0 };
        len[only] = 1;
        len[other] = 1;
    }
}

/// Flags of a one-shot page job: flush the output, append an end-of-block code.
pub fn page_flags() -> CompressFlags {
    CompressFlags::FLUSH_OUTPUT.with_end_processing(EndProcessing::Eob)
}

/// Compresses `input` in fixed mode into a complete raw deflate stream (a final fixed block),
/// as the kernel's IAA driver does. `out.len()` is `max_dst_size`.
pub fn compress_page_fixed(input: &[u8], crc32c: bool, out: &mut [u8]) -> Result<CompressDone, EngineError> {
    compress(input, &mut CompressAecs::fixed(), page_flags(), crc32c, out)
}

/// Compresses `input` in IAA 1.0 dynamic mode (statistics pass, software header, second pass)
/// into a complete raw deflate stream. `out.len()` is `max_dst_size`.
pub fn compress_page_dynamic(
    input: &[u8],
    crc32c: bool,
    out: &mut [u8],
) -> Result<CompressDone, EngineError> {
    compress(input, &mut dynamic_aecs(input), page_flags(), crc32c, out)
}
