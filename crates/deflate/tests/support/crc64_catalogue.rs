//! The CRC catalogue entries the IAA CRC64 operation can compute, shared by the engine's test
//! (crates/deflate/tests/crc64_catalogue.rs) and the emulated device's (crates/emu/tests/iaa_semantics.rs).

/// CRC catalogue entries (<https://reveng.sourceforge.io/crc-catalogue/>) that the IAA CRC64
/// operation can compute: refin = refout, and init = xorout = 0 or all ones. Expected values
/// are the catalogue's check values for "123456789", placed as QPL documents
/// (`c_operations_op_crc64.rst`): with `ADC64F_BE` (reflected) in the low bits, without it
/// (not reflected) in the high bits.
///
/// (name, width, poly as the catalogue writes it, reflected, inverted, check)
pub const CATALOGUE: &[(&str, u32, u64, bool, bool, u64)] = &[
    ("CRC-4/G-704", 4, 0x3, true, false, 0x7),
    ("CRC-5/USB", 5, 0x05, true, true, 0x19),
    ("CRC-6/G-704", 6, 0x03, true, false, 0x06),
    ("CRC-7/MMC", 7, 0x09, false, false, 0x75),
    ("CRC-8/SMBUS", 8, 0x07, false, false, 0xF4),
    ("CRC-8/AUTOSAR", 8, 0x2F, false, true, 0xDF),
    ("CRC-8/BLUETOOTH", 8, 0xA7, true, false, 0x26),
    ("CRC-8/MAXIM-DOW", 8, 0x31, true, false, 0xA1),
    ("CRC-8/DVB-S2", 8, 0xD5, false, false, 0xBC),
    ("CRC-8/WCDMA", 8, 0x9B, true, false, 0x25),
    ("CRC-10/ATM", 10, 0x233, false, false, 0x199),
    ("CRC-12/DECT", 12, 0x80F, false, false, 0xF5B),
    ("CRC-13/BBC", 13, 0x1CF5, false, false, 0x04FA),
    ("CRC-14/DARC", 14, 0x0805, true, false, 0x082D),
    ("CRC-15/CAN", 15, 0x4599, false, false, 0x059E),
    ("CRC-16/ARC", 16, 0x8005, true, false, 0xBB3D),
    ("CRC-16/T10-DIF", 16, 0x8BB7, false, false, 0xD0DB),
    ("CRC-16/UMTS", 16, 0x8005, false, false, 0xFEE8),
    ("CRC-16/USB", 16, 0x8005, true, true, 0xB4C8),
    ("CRC-16/GENIBUS", 16, 0x1021, false, true, 0xD64E),
    ("CRC-16/KERMIT", 16, 0x1021, true, false, 0x2189),
    ("CRC-16/IBM-SDLC", 16, 0x1021, true, true, 0x906E),
    ("CRC-16/XMODEM", 16, 0x1021, false, false, 0x31C3),
    ("CRC-17/CAN-FD", 17, 0x1685B, false, false, 0x04F03),
    ("CRC-21/CAN-FD", 21, 0x102899, false, false, 0x0ED841),
    ("CRC-30/CDMA", 30, 0x2030B9C7, false, true, 0x04C34ABF),
    ("CRC-31/PHILIPS", 31, 0x04C11DB7, false, true, 0x0CE9E46C),
    ("CRC-32/ISO-HDLC", 32, 0x04C11DB7, true, true, 0xCBF43926),
    ("CRC-32/BZIP2", 32, 0x04C11DB7, false, true, 0xFC891918),
    ("CRC-32/AUTOSAR", 32, 0xF4ACFB13, true, true, 0x1697D06A),
    ("CRC-32/ISCSI", 32, 0x1EDC6F41, true, true, 0xE3069283),
    ("CRC-32/BASE91-D", 32, 0xA833982B, true, true, 0x87315576),
    ("CRC-32/AIXM", 32, 0x814141AB, false, false, 0x3010BF7F),
    ("CRC-32/XFER", 32, 0x000000AF, false, false, 0xBD0BE338),
    (
        "CRC-64/ECMA-182",
        64,
        0x42F0E1EBA9EA3693,
        false,
        false,
        0x6C40DF5F0B497347,
    ),
    (
        "CRC-64/WE",
        64,
        0x42F0E1EBA9EA3693,
        false,
        true,
        0x62EC59E3F1A4F00A,
    ),
    (
        "CRC-64/XZ",
        64,
        0x42F0E1EBA9EA3693,
        true,
        true,
        0x995DC9BBDF1939FA,
    ),
    ("CRC-64/GO-ISO", 64, 0x1B, true, true, 0xB90956C775A41001),
];

/// The descriptor's polynomial field: the catalogue polynomial left-justified in 64 bits.
pub fn left_justified(width: u32, poly: u64) -> u64 {
    poly << (64 - width)
}

/// Where QPL puts the CRC in the 64-bit result: low bits with BE (reflected), high without.
pub fn placed(width: u32, reflected: bool, check: u64) -> u64 {
    if reflected {
        check
    } else {
        check << (64 - width)
    }
}
