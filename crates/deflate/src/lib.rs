//! `idxd-deflate`: deflate with the semantics of Intel's IAA.
//!
//! The compression engine of the software IAA, in a crate of its own because the emulator is
//! not its only user: an RFC 1951 compressor and inflater with the hardware's 4 KiB window and
//! its analytics error codes, the AECS builders of fixed and dynamic mode, and the CRC helpers
//! (CRC32, CRC32C, CRC64, the XOR checksum) that IAA completion records carry.
//!
//! Who uses it:
//! - `idxd-emu`, as the engine behind its compress, decompress and CRC64 operations (and the
//!   CRC32C of DSA's CRC operations);
//! - `idxd-runtime`, to build the Huffman tables and header of dynamic mode on the host from
//!   the histogram the device's statistics pass wrote ([`aecs_from_statistics`]);
//! - `idxd-cli`'s selftest, for the dynamic-mode AECS it hands a device.
//!
//! Pure computation over byte slices (the emulator translates device addresses first and
//! writes the completion record from what these functions return): no I/O, no unsafe, no
//! panics and no unbounded loops on any input, and nothing read or written outside the
//! slices given.
//!
//! - [`compress`]: the compress operation (0x43) driven by a compress AECS: LZ77 with a
//!   4 KiB window, Huffman codes from the AECS tables, accumulator bits first, end processing,
//!   flush, statistics mode, error 25 when the output does not fit.
//! - [`dynamic_aecs`], [`aecs_from_statistics`] and
//!   [`CompressAecs::fixed`](idxd_hw::CompressAecs::fixed): the AECSes of IAA 1.0 dynamic
//!   mode (statistics pass, software-built length-limited codes and header) and of fixed mode;
//!   [`compress_page_fixed`] and [`compress_page_dynamic`] do a whole page.
//! - [`decompress`]: the decompress operation (0x42), a complete RFC 1951 inflater with the
//!   hardware's 4 KiB history (error 17 beyond it) and its analytics error codes.
//! - [`crc64`]: the CRC64 operation (0x44).
//! - [`crc32`], [`crc32c`], [`xor16`]: the checksums the records carry.
//!
//! Errors are [`EngineError`]s, which map one-to-one onto a record's status and error code.
//!
//! ```
//! use idxd_deflate::{compress_page_fixed, decompress};
//! use idxd_hw::DecompressFlags;
//!
//! let page = b"hello hello hello hello, IAA".repeat(100);
//! let mut packed = vec![0u8; 4096];
//! let c = compress_page_fixed(&page, false, &mut packed).unwrap();
//! let mut back = vec![0u8; page.len()];
//! let flags = DecompressFlags::ENABLE | DecompressFlags::STOP_ON_EOB | DecompressFlags::CHECK_EOB;
//! let d = decompress(&packed[..c.output_size], flags, false, &mut back).unwrap();
//! assert_eq!(back, page);
//! assert_eq!(d.crc, c.crc);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod bitreader;
mod bitwriter;
mod checksum;
mod compress;
mod crc64;
mod error;
mod header;
mod huffdec;
mod huffman;
mod inflate;
mod matcher;
mod modes;
mod output;
mod tables;

pub use checksum::{crc32, crc32c, xor16, CrcKind};
pub use compress::{compress, CompressDone};
pub use crc64::{crc64, crc64_width};
pub use error::EngineError;
pub use inflate::{decompress, DecompressDone, StreamEnd};
pub use modes::{
    aecs_from_statistics, compress_page_dynamic, compress_page_fixed, dynamic_aecs, dynamic_aecs_with_choice,
    page_flags, TableChoice,
};
pub use tables::WINDOW;
