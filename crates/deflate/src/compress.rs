//! The IAA compress operation (opcode 0x43): LZ77 over a 4 KiB window, Huffman coding with the
//! code tables an AECS carries, end processing, and statistics mode.

use idxd_hw::aecs::{Histogram, ACCUMULATOR_BITS, HISTOGRAM_SIZE, NUM_DIST_CODES, NUM_LL_CODES};
use idxd_hw::{AnalyticsError, CompressAecs, CompressFlags, EndProcessing, HuffCode};

use super::bitwriter::{BitWriter, Overflow};
use super::checksum::{xor16, CrcKind};
use super::matcher::{parse, TokenSink};
use super::tables::{reverse_bits, DIST_BASE, DIST_EXTRA, DIST_SYM, EOB, LEN_BASE, LEN_EXTRA, LEN_SYM};
use super::EngineError;

/// What a successful compress job reports: the completion record's fields, and the state an
/// AECS write-back stores (the engine has already put it into the AECS it was given).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CompressDone {
    /// Output bytes written (record `output_size`). In statistics mode the histogram's size,
    /// 1280 (the emulator's reading: no public source gives the record's `output_size` for a
    /// statistics job).
    pub output_size: usize,
    /// Valid bits in the last output byte (record `output_bits`); 0 means the last byte is
    /// full (or nothing was written). Only a flushed job ends on a partial byte.
    pub output_bits: u8,
    /// CRC32, or CRC32C when asked for, of the input, continued from the AECS CRC field
    /// (record `crc`; also the new AECS CRC field).
    pub crc: u32,
    /// XOR checksum of the input (see [`xor16`](super::xor16)), XORed with the AECS XOR field
    /// (record `xor_checksum`; also the new AECS XOR field).
    pub xor_checksum: u16,
    /// Bits that a job without [`CompressFlags::FLUSH_OUTPUT`] leaves in the output
    /// accumulator (LSB first); they are the new AECS accumulator, to be emitted first by the
    /// next job of a chain.
    pub pending: u8,
    /// How many bits `pending` holds, 0..=7 (the new AECS accumulator bit count).
    pub pending_bits: u8,
}

/// Compresses `input` as an IAA compress job with the AECS `aecs` and the compress `flags`;
/// `out.len()` is the descriptor's `max_dst_size`.
///
/// - The AECS accumulator bits (for example a block header) are written first, then the
///   input's literal/length and distance codes from the AECS tables (entries
///   `(len << 15) | code`, canonical code, written bit-reversed as deflate wants), then the end
///   processing the flags ask for: nothing, an end-of-block code, EOB and an empty stored block
///   (`00` block type, byte aligned, LEN 0, NLEN 0xffff), or EOB and an empty *final* stored
///   block. [`CompressFlags::FLUSH_OUTPUT`] writes a last partial byte zero-padded; without it
///   the partial bits stay in the accumulator ([`CompressDone::pending`]).
/// - Statistics mode ([`CompressFlags::STATS_MODE`]) writes no compressed output: the
///   literal/length and distance histogram of the parse ([`Histogram`], 1280 bytes) goes to
///   `out` and the AECS is neither read nor changed (QPL
///   `hw_iaa_descriptor_init_statistic_collector`; the EOB symbol, 256, is counted once when
///   the end processing would append one). The CRC and XOR checksum start from 0. `out`
///   shorter than 1280 bytes: error 25.
/// - [`CompressFlags::GEN_LITS`] (QPL `ADCF_GEN_LITS`): literals only, no matches.
/// - No match is farther than 4096 bytes or shorter than 4 bytes.
/// - The CRC and the XOR checksum continue from the AECS fields (both 0 for a fresh AECS).
///
/// On success the AECS holds what a write-back stores: the new CRC and XOR checksum and the
/// pending accumulator bits (unchanged in statistics mode). On error it is left as it was, so
/// a write-back "on overflow" keeps the state the job started from.
///
/// Errors (status 0x0a unless said otherwise):
/// - the output does not fit in `out`: error 25 ([`AnalyticsError::CompressOutputOverflow`]);
///   nothing is written past `out.len()`;
/// - a code the output needs has length 0 in the AECS: error 30
///   ([`AnalyticsError::InvalidHuffCode`], QPL `AD_ERROR_CODE_INVALID_HUFFCODE`, "compressor
///   tried to use an invalid huffman code");
/// - a code entry that is not `(len <= 15) << 15 | code < 2^len`: error 9 (literal/length
///   table) or 10 (distance table), "bad code lengths";
/// - an accumulator bit count above 2048: error 1, "header too big";
/// - flag bits outside [`CompressFlags::MODELLED_MASK`] (undefined, or defined but not
///   modelled: big-endian output, indexing, dictionary, header generation): status 0x30.
pub fn compress(
    input: &[u8],
    aecs: &mut CompressAecs,
    flags: CompressFlags,
    crc32c: bool,
    out: &mut [u8],
) -> Result<CompressDone, EngineError> {
    if flags.bits() & !CompressFlags::MODELLED_MASK != 0 {
        return Err(EngineError::InvalidFlags { flags: flags.bits() });
    }
    let literals_only = flags.contains(CompressFlags::GEN_LITS);
    let end = flags.end_processing();

    if flags.contains(CompressFlags::STATS_MODE) {
        // No AECS: the checksums start from 0.
        let crc = CrcKind::from_crc32c_flag(crc32c).update(0, input);
        let xor = xor16(input);
        let mut stats = Counter(Histogram::default());
        if let Err(never) = run_parse(input, literals_only, &mut stats) {
            match never {}
        }
        if end != EndProcessing::None {
            stats.0.ll[EOB] = stats.0.ll[EOB].saturating_add(1);
        }
        let Some(dst) = out.get_mut(..HISTOGRAM_SIZE) else {
            return Err(EngineError::analytics(AnalyticsError::CompressOutputOverflow));
        };
        dst.copy_from_slice(&stats.0.to_bytes());
        return Ok(CompressDone {
            output_size: HISTOGRAM_SIZE,
            output_bits: 0,
            crc,
            xor_checksum: xor,
            pending: 0,
            pending_bits: 0,
        });
    }
    let crc = CrcKind::from_crc32c_flag(crc32c).update(aecs.crc(), input);
    let xor = aecs.xor_checksum() as u16 ^ xor16(input);

    let acc_bits = aecs.accumulator_bits();
    if acc_bits > ACCUMULATOR_BITS {
        return Err(EngineError::analytics(AnalyticsError::HeaderTooBig));
    }
    let book = Codebook::from_aecs(aecs)?;
    let overflow = |_| EngineError::analytics(AnalyticsError::CompressOutputOverflow);
    let mut enc = Encoder {
        w: BitWriter::new(out),
        book: &book,
        missing_ll: 0,
        missing_dist: 0,
    };

    // The accumulator first.
    let acc = aecs.accumulator();
    let whole = (acc_bits / 8) as usize;
    for &b in &acc[..whole] {
        enc.w.put(b as u32, 8).map_err(overflow)?;
    }
    let rem = acc_bits % 8;
    if rem != 0 {
        enc.w
            .put(acc[whole] as u32 & ((1 << rem) - 1), rem)
            .map_err(overflow)?;
    }

    run_parse(input, literals_only, &mut enc).map_err(overflow)?;

    if end != EndProcessing::None {
        enc.eob().map_err(overflow)?;
    }
    match end {
        EndProcessing::None | EndProcessing::Eob => {}
        EndProcessing::EobStored | EndProcessing::EobFinalStored => {
            let bfinal = (end == EndProcessing::EobFinalStored) as u32;
            enc.w.put(bfinal, 3).map_err(overflow)?;
            enc.w.align_to_byte().map_err(overflow)?;
            enc.w.put(0xffff_0000, 32).map_err(overflow)?;
        }
    }
    let Encoder {
        w,
        missing_ll,
        missing_dist,
        ..
    } = enc;
    if missing_ll != 0 || missing_dist != 0 {
        return Err(EngineError::analytics(AnalyticsError::InvalidHuffCode));
    }
    let fin = w
        .finish(flags.contains(CompressFlags::FLUSH_OUTPUT))
        .map_err(overflow)?;

    aecs.set_crc(crc);
    aecs.set_xor_checksum(xor as u32);
    // Cannot fail: at most 7 bits.
    let _ = aecs.set_accumulator(&[fin.pending], fin.pending_bits as u32);
    Ok(CompressDone {
        output_size: fin.size,
        output_bits: fin.last_bits,
        crc,
        xor_checksum: xor,
        pending: fin.pending,
        pending_bits: fin.pending_bits,
    })
}

/// The LZ77 parse, or (literals only) the whole input as literals.
fn run_parse<S: TokenSink>(input: &[u8], literals_only: bool, sink: &mut S) -> Result<(), S::Error> {
    if literals_only {
        if input.is_empty() {
            return Ok(());
        }
        sink.literals(input)
    } else {
        parse(input, sink)
    }
}

/// Statistics mode: counts symbols.
struct Counter(Histogram);

impl TokenSink for Counter {
    type Error = core::convert::Infallible;

    #[inline]
    fn literals(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        for &b in bytes {
            self.0.ll[b as usize] = self.0.ll[b as usize].saturating_add(1);
        }
        Ok(())
    }

    #[inline]
    fn matched(&mut self, len: usize, dist: usize) -> Result<(), Self::Error> {
        let l = 257 + LEN_SYM[len] as usize;
        self.0.ll[l] = self.0.ll[l].saturating_add(1);
        let d = DIST_SYM[dist] as usize;
        self.0.dist[d] = self.0.dist[d].saturating_add(1);
        Ok(())
    }
}

/// Bit 31 of a packed code: the symbol has no code (length 0 in the AECS).
const MISSING: u32 = 1 << 31;

/// Packs a code (already reversed) with extra bits: value in bits 23:0, bit count in 30:24.
#[inline]
const fn pack(value: u32, nbits: u32, missing: bool) -> u32 {
    value | nbits << 24 | if missing { MISSING } else { 0 }
}

/// The AECS code tables in the form the encoder uses: bit-reversed codes, lengths merged with
/// their extra bits.
struct Codebook {
    lit: [u32; 256],
    /// Indexed by match length 0..=258 (0..=2 unused).
    len: [u32; 259],
    eob: u32,
    /// Reversed code and its length, per distance symbol (only 0..=23 can occur).
    dist: [(u32, u32, bool); 24],
}

impl Codebook {
    fn from_aecs(aecs: &CompressAecs) -> Result<Self, EngineError> {
        let mut ll = [HuffCode::default(); NUM_LL_CODES];
        for (s, c) in ll.iter_mut().enumerate() {
            *c = aecs
                .ll_code(s)
                .map_err(|_| EngineError::analytics(AnalyticsError::BadLlCodeLengths))?;
        }
        let mut dist = [(0u32, 0u32, true); 24];
        for s in 0..NUM_DIST_CODES {
            let c = aecs
                .dist_code(s)
                .map_err(|_| EngineError::analytics(AnalyticsError::BadDistCodeLengths))?;
            if let Some(d) = dist.get_mut(s) {
                *d = (
                    reverse_bits(c.code as u32, c.len as u32),
                    c.len as u32,
                    c.len == 0,
                );
            }
        }
        let code = |c: HuffCode| {
            (
                reverse_bits(c.code as u32, c.len as u32),
                c.len as u32,
                c.len == 0,
            )
        };
        let mut lit = [0u32; 256];
        for (b, e) in lit.iter_mut().enumerate() {
            let (v, n, m) = code(ll[b]);
            *e = pack(v, n, m);
        }
        let mut len = [0u32; 259];
        for (l, e) in len.iter_mut().enumerate().skip(3) {
            let s = LEN_SYM[l] as usize;
            let (v, n, m) = code(ll[257 + s]);
            let extra = (l - LEN_BASE[s] as usize) as u32;
            *e = pack(v | extra << n, n + LEN_EXTRA[s] as u32, m);
        }
        let (v, n, m) = code(ll[EOB]);
        Ok(Codebook {
            lit,
            len,
            eob: pack(v, n, m),
            dist,
        })
    }
}

/// The compressing sink: codes tokens into the bit writer.
struct Encoder<'a, 'b> {
    w: BitWriter<'a>,
    book: &'b Codebook,
    missing_ll: u32,
    missing_dist: u32,
}

impl Encoder<'_, '_> {
    #[inline(always)]
    fn add_packed(&mut self, e: u32) {
        self.w.add(e & 0xff_ffff, (e >> 24) & 0x7f);
    }

    fn eob(&mut self) -> Result<(), Overflow> {
        let e = self.book.eob;
        self.missing_ll |= e & MISSING;
        self.add_packed(e);
        self.w.maybe_flush()
    }
}

impl TokenSink for Encoder<'_, '_> {
    type Error = Overflow;

    #[inline]
    fn literals(&mut self, bytes: &[u8]) -> Result<(), Overflow> {
        let mut missing = 0;
        let mut pairs = bytes.chunks_exact(2);
        for p in &mut pairs {
            let a = self.book.lit[p[0] as usize];
            let b = self.book.lit[p[1] as usize];
            missing |= a | b;
            self.add_packed(a);
            self.add_packed(b);
            self.w.maybe_flush()?;
        }
        if let [b] = pairs.remainder() {
            let a = self.book.lit[*b as usize];
            missing |= a;
            self.add_packed(a);
            self.w.maybe_flush()?;
        }
        self.missing_ll |= missing & MISSING;
        Ok(())
    }

    #[inline]
    fn matched(&mut self, len: usize, dist: usize) -> Result<(), Overflow> {
        let e = self.book.len[len];
        self.missing_ll |= e & MISSING;
        self.add_packed(e);
        self.w.maybe_flush()?;
        let s = DIST_SYM[dist] as usize;
        let (code, n, missing) = self.book.dist[s];
        self.missing_dist |= (missing as u32) << 31;
        let extra = (dist - DIST_BASE[s] as usize) as u32;
        self.w.add(code | extra << n, n + DIST_EXTRA[s] as u32);
        self.w.maybe_flush()
    }
}
