//! The IAA decompress operation (opcode 0x42): a complete RFC 1951 inflater (stored, fixed
//! and dynamic blocks) with the hardware's 4 KiB history and its error codes.

use idxd_hw::{AnalyticsError, DecompressFlags};

use super::bitreader::{BitReader, Truncated};
use super::checksum::CrcKind;
use super::huffdec::{
    build, e_bits, e_extra, e_kind, e_value, entry, extra_value, fixed_tables, is_kind, Kind, Shape,
    TreeError, CL_MEANING, CL_ROOT, CL_TABLE, DIST_MEANING, DIST_ROOT, DIST_TABLE, K_BAD_SYM, K_DIST, K_EOB,
    K_LEN, K_LIT, K_SUB, LL_MEANING, LL_ROOT, LL_TABLE,
};
use super::output::{copy_match, push, Output, Side, SCRATCH};
use super::tables::{CL_ORDER, WINDOW};
use super::EngineError;

/// How a successful decompress job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamEnd {
    /// The final block (BFINAL=1) ended; input after it is ignored.
    FinalBlock,
    /// [`DecompressFlags::STOP_ON_EOB`] stopped the job at an end-of-block code of a block
    /// that was not final; input after it is ignored.
    StopOnEob,
    /// The input ran out at a block boundary before the final block (a partial stream whose
    /// blocks are all complete); only without [`DecompressFlags::CHECK_EOB`].
    EndOfInput,
}

/// What a successful decompress job reports (the completion record's fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecompressDone {
    /// Decompressed bytes (record `output_size`); also counted when output is suppressed.
    pub output_size: usize,
    /// CRC32, or CRC32C when asked for, of the decompressed data (record `crc`).
    pub crc: u32,
    /// XOR checksum of the decompressed data (record `xor_checksum`, see
    /// [`xor16`](super::xor16)).
    pub xor_checksum: u16,
    /// Input bytes consumed, the last one possibly in part.
    pub input_consumed: usize,
    /// How the stream ended.
    pub end: StreamEnd,
}

/// Decompresses the raw deflate stream `input` as an IAA decompress job; `out.len()` is
/// `max_dst_size`.
///
/// # Flags
/// - [`DecompressFlags::ENABLE`] must be set, and no bit outside
///   [`DecompressFlags::MODELLED_MASK`] (else status 0x30): big-endian input and indexing are
///   not modelled.
/// - Ignore-end-bits (bits 8:6): the stream ends that many bits before the end of the last
///   input byte (those bits are not read; a stream that needs them is truncated, error 15).
/// - The job ends at the end of the final block. With [`DecompressFlags::STOP_ON_EOB`] it ends
///   at the first end-of-block code (with [`DecompressFlags::SELECT_FINAL_EOB`] too: only at
///   the final block's, which is the default end anyway). Stored blocks have no EOB code.
/// - Input that runs out *at a block boundary* (fewer than 8 unread bits left, all previous
///   blocks complete) before the job ended is a successful partial stream
///   ([`StreamEnd::EndOfInput`]); with [`DecompressFlags::CHECK_EOB`] it is error 15. Input that
///   runs out *inside* a block or header is always error 15 ("bad end of stream"): the engine
///   keeps no decompress state to continue from.
/// - [`DecompressFlags::SUPPRESS_OUTPUT`]: nothing is written to `out` (which may be empty) and
///   `max_dst_size` does not apply; the size and checksums are computed as usual.
/// - [`DecompressFlags::FLUSH_OUTPUT`] has no effect: the engine always writes everything.
///
/// # Errors
/// - Output beyond `out.len()`: [`EngineError::OutputOverflow`] (status 0x0b, recoverable),
///   with every byte that fits written (`produced == out.len()`).
/// - Status 0x0a with: 13 block type 11; 14 stored LEN != !NLEN; 35 HLIT > 29 (more than 286
///   literal/length codes, QPL `AD_ERROR_CODE_TOO_MANY_LL_CODES`); 36 HDIST > 29 (more than 30
///   distance codes, `AD_ERROR_CODE_TOO_MANY_D_CODES`); 8 code-length code over-subscribed, incomplete
///   (other than a single one-bit code) or empty; 2 a code-length bit pattern with no code;
///   3 a repeat (16) as the very first length; 9 / 10 literal/length / distance code lengths
///   over-subscribed or incomplete (other than a single one-bit code, or for distances no code
///   at all), no end-of-block code, or a repeat running past the end of the lengths (counted
///   where it started); 5 no literal/length code at all; 11 / 12 a literal/length / distance
///   bit pattern with no code, or a distance symbol 30/31; 16 a length symbol 286/287;
///   17 a distance beyond 4096; 18 a distance reaching before the start of the output;
///   15 input exhausted inside a block (any error whose decoding looked past the end of the
///   input is reported as 15).
/// - Not produced: 1 (header too big: the engine has no header buffer limit), 4 (a repeat
///   crossing from the literal/length into the distance lengths is valid RFC 1951), 19, 21, 23,
///   24, 25.
pub fn decompress(
    input: &[u8],
    flags: DecompressFlags,
    crc32c: bool,
    out: &mut [u8],
) -> Result<DecompressDone, EngineError> {
    if flags.bits() & !DecompressFlags::MODELLED_MASK != 0 || !flags.contains(DecompressFlags::ENABLE) {
        return Err(EngineError::InvalidFlags { flags: flags.bits() });
    }
    // Ignore-end-bits (QPL `ADDF_IGNORE_END_BITS`): the top `n` bits of the last byte are not
    // part of the stream. They are read as zeros, like the bits past the end of the input.
    let masked;
    let input = match (flags.ignore_end_bits(), input.split_last()) {
        (0, _) | (_, None) => input,
        (n, Some((&last, head))) => {
            let mut v = Vec::with_capacity(input.len());
            v.extend_from_slice(head);
            v.push(last & (0xff >> n));
            masked = v;
            &masked[..]
        }
    };
    let kind = CrcKind::from_crc32c_flag(crc32c);
    let mut scratch = Vec::new();
    let mut o = if flags.contains(DecompressFlags::SUPPRESS_OUTPUT) {
        scratch.resize(SCRATCH, 0);
        Output::suppressed(&mut scratch, kind)
    } else {
        Output::direct(out, kind)
    };
    let mut br = BitReader::with_ignored_end_bits(input, flags.ignore_end_bits());
    match run(&mut br, &mut o, flags) {
        Ok(end) => {
            let consumed = br.consumed_bits().div_ceil(8);
            let t = o.finish();
            Ok(DecompressDone {
                output_size: t.size,
                crc: t.crc,
                xor_checksum: t.xor,
                input_consumed: usize::try_from(consumed).unwrap_or(input.len()).min(input.len()),
                end,
            })
        }
        Err(e) => {
            Err(match e {
                // Whatever went wrong after the decoder read past the end of the input came
                // from the zero bits it read there: the input is truncated.
                EngineError::Analytics { .. } | EngineError::OutputOverflow { .. } if br.past_end() => {
                    EngineError::analytics(AnalyticsError::BadEndOfFile).with_produced(o.total())
                }
                // An overflow counts the bytes it managed to write itself.
                EngineError::OutputOverflow { .. } => e,
                e => e.with_produced(o.total()),
            })
        }
    }
}

fn err(code: AnalyticsError) -> EngineError {
    EngineError::analytics(code)
}

impl From<Truncated> for EngineError {
    fn from(_: Truncated) -> Self {
        err(AnalyticsError::BadEndOfFile)
    }
}

/// Decoding tables for dynamic blocks.
struct DynTables {
    ll: [u32; LL_TABLE],
    dist: [u32; DIST_TABLE],
}

fn new_tables() -> Box<DynTables> {
    Box::new(DynTables {
        ll: [0; LL_TABLE],
        dist: [0; DIST_TABLE],
    })
}

/// Runs `f` with this thread's dynamic-block tables (16 KiB, allocated once per thread rather
/// than per job; every block rebuilds them before use, so nothing carries over between jobs).
fn with_tables<R>(f: impl FnOnce(&mut DynTables) -> R) -> R {
    thread_local! {
        static CACHE: std::cell::RefCell<Option<Box<DynTables>>> = const { std::cell::RefCell::new(None) };
    }
    CACHE.with(|c| match c.try_borrow_mut() {
        Ok(mut slot) => f(slot.get_or_insert_with(new_tables)),
        Err(_) => f(&mut new_tables()),
    })
}

/// The block loop.
fn run(br: &mut BitReader<'_>, o: &mut Output<'_>, flags: DecompressFlags) -> Result<StreamEnd, EngineError> {
    let stop_on_eob = flags.contains(DecompressFlags::STOP_ON_EOB);
    let final_only = flags.contains(DecompressFlags::SELECT_FINAL_EOB);
    with_tables(|t| blocks(br, o, flags, stop_on_eob, final_only, t))
}

fn blocks(
    br: &mut BitReader<'_>,
    o: &mut Output<'_>,
    flags: DecompressFlags,
    stop_on_eob: bool,
    final_only: bool,
    t: &mut DynTables,
) -> Result<StreamEnd, EngineError> {
    loop {
        if br.bits_left() < 8 {
            // Out of input at a block boundary: no block fits in fewer than 8 bits.
            return if flags.contains(DecompressFlags::CHECK_EOB) {
                Err(err(AnalyticsError::BadEndOfFile))
            } else {
                Ok(StreamEnd::EndOfInput)
            };
        }
        let head = br.read(3)?;
        let bfinal = head & 1 != 0;
        match head >> 1 {
            0 => stored(br, o)?,
            1 => {
                let f = fixed_tables();
                huffman(br, o, &f.ll, &f.dist)?;
            }
            2 => {
                read_dynamic_header(br, &mut t.ll, &mut t.dist)?;
                huffman(br, o, &t.ll, &t.dist)?;
            }
            _ => return Err(err(AnalyticsError::InvalidBlockType)),
        }
        if br.past_end() {
            return Err(err(AnalyticsError::BadEndOfFile));
        }
        let had_eob = head >> 1 != 0;
        if had_eob && stop_on_eob && (bfinal || !final_only) {
            return Ok(if bfinal {
                StreamEnd::FinalBlock
            } else {
                StreamEnd::StopOnEob
            });
        }
        if bfinal {
            return Ok(StreamEnd::FinalBlock);
        }
    }
}

/// A stored block: LEN, NLEN, then LEN raw bytes, from the next byte boundary.
fn stored(br: &mut BitReader<'_>, o: &mut Output<'_>) -> Result<(), EngineError> {
    let input = br.input();
    let p = br.align_to_byte();
    let Some(hdr) = p.checked_add(4).and_then(|end| input.get(p..end)) else {
        return Err(err(AnalyticsError::BadEndOfFile));
    };
    let len = u16::from_le_bytes([hdr[0], hdr[1]]);
    let nlen = u16::from_le_bytes([hdr[2], hdr[3]]);
    if len != !nlen {
        return Err(err(AnalyticsError::InvalidStoredLength));
    }
    let start = p + 4;
    let Some(data) = input.get(start..start + len as usize) else {
        // Write what there is, so the output count matches the input that was there.
        br.restart_at(input.len());
        o.extend(&input[start.min(input.len())..])?;
        return Err(err(AnalyticsError::BadEndOfFile));
    };
    br.restart_at(start + len as usize);
    o.extend(data)
}

/// Bytes past the last code length that the run stores of [`dynamic_header`] may write: a run
/// (at most 138) is stored 16 bytes at a time, so up to 15 past its end.
const LENS_SLACK: usize = 16;

/// Reads a dynamic block header and builds its tables.
fn read_dynamic_header(br: &mut BitReader<'_>, ll: &mut [u32], dist: &mut [u32]) -> Result<(), EngineError> {
    // A local copy of the reader stays in registers; it goes back whatever the outcome.
    let mut r = *br;
    let res = dynamic_header(&mut r, ll, dist);
    *br = r;
    res
}

#[inline(always)]
fn dynamic_header(br: &mut BitReader<'_>, ll: &mut [u32], dist: &mut [u32]) -> Result<(), EngineError> {
    let hlit = br.read(5)? as usize + 257;
    let hdist = br.read(5)? as usize + 1;
    let hclen = br.read(4)? as usize + 4;
    // QPL hw_status.h / inflate_errors.cpp: more than 286 literal/length or 30 distance codes
    // declared is 35 / 36 on the hardware path.
    if hlit > 286 {
        return Err(err(AnalyticsError::TooManyLlCodes));
    }
    if hdist > 30 {
        return Err(err(AnalyticsError::TooManyDistCodes));
    }
    let mut cl_len = [0u8; 19];
    for &s in &CL_ORDER[..hclen] {
        cl_len[s] = br.read(3)? as u8;
    }
    let mut cl = [0u32; CL_TABLE];
    match build(&cl_len, CL_ROOT, &mut cl, &CL_MEANING) {
        Ok(Shape::Complete | Shape::Single) => {}
        Ok(Shape::Empty) | Err(_) => return Err(err(AnalyticsError::BadClCodeLengths)),
    }

    let total = hlit + hdist;
    // Room for the fixed-width stores below past the last length.
    let mut lens = [0u8; 286 + 30 + LENS_SLACK];
    let mut i = 0;
    while i < total {
        // A code-length symbol takes at most 7 + 7 bits.
        br.ensure(14)?;
        let e = cl[(br.peek() & ((1 << CL_ROOT) - 1)) as usize];
        br.consume(e_bits(e));
        if e_kind(e) != K_LIT {
            return Err(err(AnalyticsError::UndefCodeLengthCode));
        }
        let sym = e_value(e);
        let (value, run) = match sym {
            0..=15 => (sym as u8, 1),
            16 => {
                let Some(&prev) = i.checked_sub(1).and_then(|p| lens.get(p)) else {
                    return Err(err(AnalyticsError::FirstLlCodeIs16));
                };
                (prev, 3 + br.take(2) as usize)
            }
            17 => (0, 3 + br.take(3) as usize),
            _ => (0, 11 + br.take(7) as usize),
        };
        if i + run > total {
            return Err(err(if i < hlit {
                AnalyticsError::BadLlCodeLengths
            } else {
                AnalyticsError::BadDistCodeLengths
            }));
        }
        // Runs are stored with fixed-width writes (no call to memset for a handful of bytes)
        // that may spill past the run; the lengths are written in order, so whatever spills is
        // overwritten by the next run, and what spills past the last one is never read.
        match sym {
            0..=15 => lens[i] = value,
            16 => lens[i..i + 8].copy_from_slice(&[value; 8]),
            _ => {
                let mut k = i;
                while k < i + run {
                    lens[k..k + 16].copy_from_slice(&[0; 16]);
                    k += 16;
                }
            }
        }
        i += run;
    }

    let (ll_lens, dist_lens) = lens[..total].split_at(hlit);
    if ll_lens.iter().all(|&l| l == 0) {
        return Err(err(AnalyticsError::NoLlCode));
    }
    if ll_lens[256] == 0 {
        return Err(err(AnalyticsError::BadLlCodeLengths));
    }
    match build(ll_lens, LL_ROOT, ll, &LL_MEANING) {
        Ok(_) => {}
        Err(TreeError::OverSubscribed | TreeError::Incomplete) => {
            return Err(err(AnalyticsError::BadLlCodeLengths))
        }
    }
    match build(dist_lens, DIST_ROOT, dist, &DIST_MEANING) {
        Ok(_) => Ok(()),
        Err(_) => Err(err(AnalyticsError::BadDistCodeLengths)),
    }
}

/// Looks an entry up, following a sub-table link, and consumes its bits. The caller has
/// refilled. The entry returned counts every bit it consumed (the direct table's included).
#[inline(always)]
fn lookup(br: &mut BitReader<'_>, table: &[u32], root: u32) -> u32 {
    let e = table[(br.peek() & ((1 << root) - 1)) as usize];
    if is_kind(e, K_SUB) {
        return sub_lookup(br, table, root, e);
    }
    br.consume(e_bits(e));
    e
}

/// Follows the sub-table link `e` (found under the next `root` bits) and consumes the code.
#[inline(always)]
fn sub_lookup(br: &mut BitReader<'_>, table: &[u32], root: u32, e: u32) -> u32 {
    let bits = br.peek();
    let sub = e_value(e) as usize + ((bits >> root) & ((1 << e_extra(e)) - 1)) as usize;
    // Always in the table: `build` places every sub-table inside it.
    let s = table.get(sub).copied().unwrap_or(BAD_CODE);
    let n = root + e_bits(s);
    br.consume(n);
    (s & !0xff) | n
}

/// Bits a match needs after its length code: 5 extra, 15 distance code, 13 extra.
const MATCH_TAIL_BITS: u32 = 33;

/// Symbols decoded in a row between two refills: a refill leaves at least 56 bits, a literal
/// code takes at most 15 bits and a length code with its extra bits at most 20, so two
/// literals and anything else always have their bits.
const LITERALS_PER_REFILL: u32 = 3;

/// An entry for no code, for the lookup that cannot miss.
const BAD_CODE: u32 = entry(Kind::BadCode, 0, 0, 0);

/// Decodes up to `left` more literal/length symbols without a refill, stopping after the first
/// that is not a literal. Returns the reader and the write position (also after an error:
/// whether the reader went past the end decides the error reported), and the last entry (a
/// literal entry when all were literals) with the input bits as they were before it.
#[cold]
#[inline(never)]
fn more_symbols<'a>(
    mut br: BitReader<'a>,
    out: &mut [u8],
    mut pos: usize,
    side: &mut Side,
    ll: &[u32],
    left: u32,
) -> (BitReader<'a>, usize, Result<(u32, u64), EngineError>) {
    let mut e = 0;
    let mut saved = 0;
    for _ in 0..left {
        saved = br.peek();
        e = ll[(saved & ((1 << LL_ROOT) - 1)) as usize];
        if is_kind(e, K_SUB) {
            e = sub_lookup(&mut br, ll, LL_ROOT, e);
        } else {
            br.consume(e_bits(e));
        }
        if !is_kind(e, K_LIT) {
            break;
        }
        if let Err(err) = push(out, &mut pos, side, e_value(e) as u8) {
            return (br, pos, Err(err));
        }
    }
    (br, pos, Ok((e, saved)))
}

/// The symbols of one Huffman block, up to and including its end-of-block code.
fn huffman(br: &mut BitReader<'_>, o: &mut Output<'_>, ll: &[u32], dist: &[u32]) -> Result<(), EngineError> {
    // Work on local copies of the bit reader and write position (kept in registers).
    let mut r = *br;
    let mut pos = o.pos;
    let res = huffman_loop(&mut r, o.buf, &mut pos, &mut o.side, ll, dist);
    *br = r;
    o.pos = pos;
    res
}

#[inline(always)]
fn huffman_loop(
    br: &mut BitReader<'_>,
    out: &mut [u8],
    pos: &mut usize,
    side: &mut Side,
    ll: &[u32],
    dist: &[u32],
) -> Result<(), EngineError> {
    let ll = &ll[..LL_TABLE];
    let dist = &dist[..DIST_TABLE];
    const LL_MASK: u64 = (1 << LL_ROOT) - 1;
    'refill: loop {
        br.refill()?;
        // Up to three literals straight from the direct table, unrolled.
        let mut saved = br.peek();
        let mut e = ll[(saved & LL_MASK) as usize];
        let mut left = LITERALS_PER_REFILL - 1;
        if is_kind(e, K_LIT) {
            br.consume(e_bits(e));
            push(out, pos, side, e_value(e) as u8)?;
            saved = br.peek();
            e = ll[(saved & LL_MASK) as usize];
            left -= 1;
            if is_kind(e, K_LIT) {
                br.consume(e_bits(e));
                push(out, pos, side, e_value(e) as u8)?;
                saved = br.peek();
                e = ll[(saved & LL_MASK) as usize];
                left -= 1;
                if is_kind(e, K_LIT) {
                    br.consume(e_bits(e));
                    push(out, pos, side, e_value(e) as u8)?;
                    continue 'refill;
                }
            }
        }
        if is_kind(e, K_SUB) {
            e = sub_lookup(br, ll, LL_ROOT, e);
            if is_kind(e, K_LIT) {
                push(out, pos, side, e_value(e) as u8)?;
                // The symbols this refill still has bits for, the long way.
                let (r, p, res) = more_symbols(*br, out, *pos, side, ll, left);
                (*br, *pos) = (r, p);
                (e, saved) = res?;
                if is_kind(e, K_LIT) {
                    continue 'refill;
                }
            }
        } else {
            br.consume(e_bits(e));
        }
        if !is_kind(e, K_LEN) {
            return match e_kind(e) {
                K_EOB => Ok(()),
                K_BAD_SYM => Err(err(AnalyticsError::BadLength)),
                _ => Err(err(AnalyticsError::BadLlCode)),
            };
        }
        let len = (e_value(e) + extra_value(saved, e)) as usize;
        // A distance code and its extra bits take at most 15 + 13 bits. (Refilled as if before
        // the length's extra bits were dropped: the input accounting, and so where a truncated
        // stream stops, is that of a decoder reading the extra bits after the refill.)
        if br.buffered() + e_extra(e) < MATCH_TAIL_BITS {
            br.refill_lagged(e_extra(e))?;
        }
        let saved = br.peek();
        let d = lookup(br, dist, DIST_ROOT);
        if !is_kind(d, K_DIST) {
            return Err(err(AnalyticsError::BadDistCode));
        }
        let distance = (e_value(d) + extra_value(saved, d)) as usize;
        if distance > WINDOW {
            return Err(err(AnalyticsError::DistanceTooFar));
        }
        if distance > side.total(*pos) {
            return Err(err(AnalyticsError::RefBeforeStart));
        }
        copy_match(out, pos, side, distance, len)?;
    }
}
