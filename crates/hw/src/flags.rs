//! Descriptor flags (dword 1, bits 23:0) and the IAA per-operation flag words.

use bitflags::bitflags;

bitflags! {
    /// Descriptor flags, bits 23:0 of dword 1. Bits 15:0 are common to DSA and IAA; bits 23:16
    /// are operation specific (the same bit can mean different things on the two devices, so
    /// both names exist).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct DescFlags: u32 {
        /// Order this descriptor after every earlier member of the same batch.
        const FENCE = 0x0001;
        /// Block on a page fault instead of completing partially.
        const BLOCK_ON_FAULT = 0x0002;
        /// The completion record address is valid (a record is written at least on error).
        const CRAV = 0x0004;
        /// Request a completion record (always written).
        const RCR = 0x0008;
        /// Request a completion interrupt.
        const RCI = 0x0010;
        /// Completion record status in bits (CRSTS).
        const CRSTS = 0x0020;
        /// Check result (compare operations).
        const CHECK_RESULT = 0x0080;
        /// Cache control: allocate writes in the cache.
        const CACHE_CONTROL = 0x0100;
        /// Address 1 traffic-class selector.
        const ADDR1_TCS = 0x0200;
        /// Address 2 traffic-class selector.
        const ADDR2_TCS = 0x0400;
        /// Address 3 traffic-class selector.
        const ADDR3_TCS = 0x0800;
        /// Completion record traffic-class selector.
        const CR_TCS = 0x1000;
        /// Strict ordering of writes.
        const STRICT_ORDER = 0x2000;
        /// Destination read-back.
        const DEST_READBACK = 0x4000;
        /// Destination steering tag.
        const DEST_STEERING = 0x8000;
        /// DSA CRC operations: read the CRC seed from `seed_addr` instead of the descriptor.
        const CRC_SEED_FROM_ADDR = 0x01_0000;
        /// IAA: read src2 as an AECS.
        const RD_SRC2_AECS = 0x01_0000;
        /// IAA: read src2 as a second input.
        const RD_SRC2_2ND = 0x02_0000;
        /// IAA: write the AECS back always.
        const WR_SRC2_AECS_ALWAYS = 0x04_0000;
        /// IAA: write the AECS back only when the output overflows.
        const WR_SRC2_AECS_OVERFLOW = 0x08_0000;
        /// IAA: src2 status.
        const SRC2_STS = 0x10_0000;
        /// IAA: CRC32C (RFC 3720) instead of CRC32 in compress/decompress records.
        const CRC_RFC3720 = 0x20_0000;
        /// IAA: AECS select: read one copy of the AECS, write the other (bit 22).
        const AECS_SELECT = 0x40_0000;
    }
}

/// The flag bits every descriptor may carry, whatever its operation.
pub const COMMON_FLAGS_MASK: u32 = 0xffff;
/// The 24 bits of the flags field.
pub const FLAGS_MASK: u32 = 0x00ff_ffff;

bitflags! {
    /// IAA compress flags (descriptor bytes 38-39).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct CompressFlags: u16 {
        /// Statistics mode: write the literal/length and distance histogram (1280 bytes, see
        /// [`Histogram`](crate::aecs::Histogram)) to the *destination*; no compressed output, no
        /// AECS read or written (QPL `hw_iaa_descriptor_init_statistic_collector`: destination =
        /// the histogram, `max_dst_size` = 1280, no AECS, compression flags = `ADCF_STATS_MODE`).
        const STATS_MODE = 0x0001;
        /// Flush the output accumulator to whole bytes at the end.
        const FLUSH_OUTPUT = 0x0002;
        /// End-processing field, bits 3:2 (see [`EndProcessing`]).
        const END_PROC_MASK = 0x000c;
        /// Generate literals only, no matches (QPL `ADCF_GEN_LITS`, bit 4).
        const GEN_LITS = 0x0010;
        /// Big-endian 16-bit Huffman output (QPL `ADCF_COMP_BE`, bit 5). Not modelled by the
        /// emulator (refused there with 0x30).
        const BE = 0x0020;
        /// Indexing mini-block size field, bits 8:6 (QPL `ADCF_ENABLE_IDXING`). Not modelled.
        const INDEXING_MASK = 0x01c0;
        /// Load-dictionary field, bits 11:10 (QPL `ADCF_LOAD_DICT`, IAA 2.0 with IAACAP
        /// dictionary compression). Not modelled.
        const LOAD_DICT_MASK = 0x0c00;
        /// Header-generation field, bits 14:12 (QPL `ADCF_ENABLE_HDR_GEN`, IAA 2.0 with IAACAP
        /// header generation). Not modelled.
        const HDR_GEN_MASK = 0x7000;
    }
}

/// How a compress job ends its output (compress flags bits 3:2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum EndProcessing {
    /// Nothing is appended.
    #[default]
    None,
    /// An end-of-block code is appended.
    Eob,
    /// An end-of-block code, then an empty stored block (byte-aligns the stream).
    EobStored,
    /// An end-of-block code, then an empty final stored block.
    EobFinalStored,
}

impl EndProcessing {
    /// The 2-bit field value.
    pub const fn bits(self) -> u16 {
        match self {
            EndProcessing::None => 0,
            EndProcessing::Eob => 1,
            EndProcessing::EobStored => 2,
            EndProcessing::EobFinalStored => 3,
        }
    }

    /// Decodes the 2-bit field.
    pub const fn from_bits(v: u16) -> Self {
        match v & 3 {
            0 => EndProcessing::None,
            1 => EndProcessing::Eob,
            2 => EndProcessing::EobStored,
            _ => EndProcessing::EobFinalStored,
        }
    }
}

impl CompressFlags {
    /// The end-processing field.
    pub const fn end_processing(self) -> EndProcessing {
        EndProcessing::from_bits(self.bits() >> 2)
    }

    /// These flags with the end-processing field replaced.
    pub fn with_end_processing(self, ep: EndProcessing) -> Self {
        let rest = self.bits() & !Self::END_PROC_MASK.bits();
        Self::from_bits_retain(rest | (ep.bits() << 2))
    }

    /// The flag bits the hardware defines for compress (QPL `own_hw_definitions.h`, `ADCF_*`):
    /// bits 14:10 and 8:0.
    pub const DEFINED_MASK: u16 = 0x7dff;
    /// The flag bits the software engine (idxd-deflate) implements: statistics, flush, end
    /// processing, literals only.
    pub const MODELLED_MASK: u16 = 0x001f;
}

bitflags! {
    /// IAA decompress flags (descriptor bytes 38-39).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct DecompressFlags: u16 {
        /// Enable decompression (must be set).
        const ENABLE = 0x0001;
        /// Flush output at the end of the job.
        const FLUSH_OUTPUT = 0x0002;
        /// Stop at the first end-of-block code.
        const STOP_ON_EOB = 0x0004;
        /// Report an error if the input does not end at an end-of-block.
        const CHECK_EOB = 0x0008;
        /// With STOP_ON_EOB: stop only on the EOB of the final block.
        const SELECT_FINAL_EOB = 0x0010;
        /// Big-endian 16-bit Huffman input (QPL `ADDF_DECOMP_BE`, bit 5). Not modelled.
        const BE = 0x0020;
        /// Ignore-end-bits field, bits 8:6 (QPL `ADDF_IGNORE_END_BITS`): how many bits at the
        /// end of the last input byte are not part of the stream.
        const IGNORE_END_BITS_MASK = 0x01c0;
        /// Do not write output (CRC and sizes are still computed): verify mode.
        const SUPPRESS_OUTPUT = 0x0200;
        /// Indexing mini-block size field, bits 12:10 (QPL `ADDF_ENABLE_IDXING`). Not modelled.
        const INDEXING_MASK = 0x1c00;
    }
}

impl DecompressFlags {
    /// The flag bits the hardware defines for decompress (QPL `ADDF_*`; bit 14, the fourth
    /// ignore-end-bits bit that QPL says only some parts have, is left out).
    pub const DEFINED_MASK: u16 = 0x1fff;
    /// The flag bits the software engine (idxd-deflate) implements.
    pub const MODELLED_MASK: u16 = 0x03df;

    /// The ignore-end-bits field (0..=7).
    pub const fn ignore_end_bits(self) -> u32 {
        (self.bits() as u32 >> 6) & 7
    }

    /// These flags with the ignore-end-bits field set to `n & 7`.
    pub fn with_ignore_end_bits(self, n: u32) -> Self {
        let rest = self.bits() & !Self::IGNORE_END_BITS_MASK.bits();
        Self::from_bits_retain(rest | (((n & 7) as u16) << 6))
    }
}

bitflags! {
    /// IAA CRC64 flags (descriptor bytes 38-39).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Crc64Flags: u16 {
        /// Invert the CRC (initial value all ones and final XOR with all ones, over the CRC's
        /// width). QPL `ADC64F_INVCRC`.
        const INVERT = 0x4000;
        /// QPL `ADC64F_BE` ("the data is viewed as big endian"): bit 0 of each byte is the most
        /// significant coefficient, i.e. the *reflected* CRC (gzip's CRC-32, CRC-64/XZ), and a
        /// CRC narrower than 64 bits sits in the low bits of the result. Clear: the
        /// non-reflected CRC (CRC-64/ECMA-182, CRC-32/BZIP2), a narrow one in the high bits.
        /// Sources: QPL `c_operations_op_crc64.rst`, `ref_crc64`.
        const BE = 0x8000;
    }
}
