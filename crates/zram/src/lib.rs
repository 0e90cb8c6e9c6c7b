//! `idxd-zram`: a zram-style compressed RAM block device on the idxd offload runtime.
//!
//! It behaves as the kernel's zram does (docs/frontends.md, "zram"):
//!
//! - a device of `disksize` bytes in 4 KiB slots, read and written at 512-byte sector
//!   granularity (partial pages by read-modify-write);
//! - same-filled pages (every `u64` word equal) stored as the value, with no allocation;
//! - other pages compressed through the runtime (any algorithm it offers); a result at or
//!   above the huge class size (zsmalloc's, from [`idxd_zsmalloc`]) or one that
//!   does not fit in a page is stored raw as a huge page;
//! - `mem_limit` (-ENOMEM, `failed_writes`), discard and slot-free notification (`notify_free`,
//!   `miss_free`);
//! - writeback to a backing file (idle, huge, huge_idle, incompressible, by index) under a
//!   budget, idle marking by age, reads served from the backing file;
//! - recompression with up to three secondary algorithms in priority order;
//! - `mm_stat`, `io_stat`, `bd_stat` and `debug_stat` in the kernel's format;
//! - an NBD server ([`nbd`]) exporting the device to real block clients.
//!
//! ```
//! use idxd_runtime::{Algorithm, RuntimeBuilder};
//! use idxd_zram::ZramBuilder;
//!
//! let rt = RuntimeBuilder::new().algorithm(Algorithm::Lz4).build().unwrap();
//! let zram = ZramBuilder::new(1 << 20, rt).build().unwrap();
//! let text: Vec<u8> = b"zram page ".iter().copied().cycle().take(4096).collect();
//! zram.write(8, &text).unwrap(); // sector 8 = the second page
//! zram.write(0, &[0u8; 4096]).unwrap(); // same-filled
//! let mut back = vec![0u8; 4096];
//! zram.read(8, &mut back).unwrap();
//! assert_eq!(back, text);
//! let mm = zram.mm_stat();
//! assert_eq!((mm.orig_data_size, mm.same_pages), (8192, 1));
//! println!("{mm}");
//! ```

pub mod backing;
pub mod config;
pub mod device;
pub mod error;
pub mod nbd;
pub mod recompress;
mod slot;
pub mod stats;

pub use backing::{IdleMark, WbLimit, WritebackMode};
pub use config::{ZramBuilder, MAX_SECONDARY};
pub use device::{Zram, SECTOR_SIZE};
pub use error::{BackingOp, CodecError, ZramError};
pub use recompress::{RecompressMode, RecompressParams, RecompressReport};
pub use stats::{BdStat, DebugStat, IoStat, MmStat};
