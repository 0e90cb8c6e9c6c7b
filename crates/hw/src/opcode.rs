//! Operation codes (descriptor dword 1, bits 31:24), as in `enum dsa_opcode` / `enum iax_opcode`.

use crate::codes::code_enum;

code_enum! {
    /// DSA operation codes.
    pub enum DsaOpcode: u8 {
        Noop = 0x00 => "no-op",
        Batch = 0x01 => "batch",
        Drain = 0x02 => "drain",
        Memmove = 0x03 => "memory move",
        Fill = 0x04 => "memory fill",
        Compare = 0x05 => "compare",
        ComparePattern = 0x06 => "compare pattern",
        CreateDelta = 0x07 => "create delta record",
        ApplyDelta = 0x08 => "apply delta record",
        Dualcast = 0x09 => "dualcast",
        /// DSA 2.0 (`DSA_OPCODE_TRANSL_FETCH`): translation fetch (prefetches address
        /// translations of `region_size` bytes; `region_stride` at +48).
        TranslFetch = 0x0a => "translation fetch",
        CrcGen = 0x10 => "CRC32C generate",
        CopyCrc = 0x11 => "copy with CRC32C",
        DifCheck = 0x12 => "DIF check",
        DifInsert = 0x13 => "DIF insert",
        DifStrip = 0x14 => "DIF strip",
        DifUpdate = 0x15 => "DIF update",
        /// DSA 2.0 (`DSA_OPCODE_DIX_GEN`): DIX generate.
        DixGen = 0x17 => "DIX generate",
        CacheFlush = 0x20 => "cache flush",
    }
}

code_enum! {
    /// IAA operation codes.
    pub enum IaaOpcode: u8 {
        Noop = 0x00 => "no-op",
        Drain = 0x02 => "drain",
        Memmove = 0x03 => "memory move",
        Decompress = 0x42 => "decompress",
        Compress = 0x43 => "compress",
        Crc64 = 0x44 => "CRC64",
        ZeroDecompress32 = 0x48 => "zero-decompress 32",
        ZeroDecompress16 = 0x49 => "zero-decompress 16",
        ZeroCompress32 = 0x4c => "zero-compress 32",
        ZeroCompress16 = 0x4d => "zero-compress 16",
        Scan = 0x50 => "scan",
        SetMembership = 0x51 => "set membership",
        Extract = 0x52 => "extract",
        Select = 0x53 => "select",
        RleBurst = 0x54 => "RLE burst",
        FindUnique = 0x55 => "find unique",
        Expand = 0x56 => "expand",
    }
}
