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
        /// Statistics mode: write literal/length and distance histograms to the AECS, no output.
        const STATS_MODE = 0x0001;
        /// Flush the output accumulator to whole bytes at the end.
        const FLUSH_OUTPUT = 0x0002;
        /// End-processing field, bits 3:2 (see [`EndProcessing`]).
        const END_PROC_MASK = 0x000c;
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

    /// The flag bits the hardware defines for compress.
    pub const DEFINED_MASK: u16 = 0x000f;
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
        /// Do not write output (CRC and sizes are still computed): verify mode.
        const SUPPRESS_OUTPUT = 0x0200;
    }
}

impl DecompressFlags {
    /// The flag bits the hardware defines for decompress that this model knows.
    pub const DEFINED_MASK: u16 = 0x021f;
}

bitflags! {
    /// IAA CRC64 flags (descriptor bytes 38-39).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
    pub struct Crc64Flags: u16 {
        /// Invert the CRC (initial value all ones and final XOR with all ones).
        const INVERT = 0x4000;
        /// Most-significant bit first ("big-endian" bit order, the non-reflected CRC).
        /// Clear means each byte is processed least-significant bit first (reflected).
        const MSB_FIRST = 0x8000;
    }
}
