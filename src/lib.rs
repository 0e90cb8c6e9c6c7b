//! `idxd`: a user-space driver and batching offload runtime for Intel DSA and IAA.
//!
//! This facade re-exports every library crate of the workspace:
//! - [`hw`]: the hardware interface as data (registers, descriptors, records, codes, profiles);
//! - [`deflate`]: deflate with the IAA's semantics (4 KiB window, hardware error codes), AECS
//!   builders and CRCs;
//! - [`emu`]: the register-level software emulator of both devices;
//! - [`driver`]: opening devices, bring-up, submission and completion over vfio-pci, kernel WQs
//!   or the emulator, with DMA buffers owned by the requests in flight;
//! - [`runtime`]: the batching offload runtime (a result per request, device or software);
//! - [`zsmalloc`]: the compressed-object allocator both frontends use;
//! - [`zswap`] and [`zram`]: the frontends (a zswap-style cache, a zram-style block device).

pub use idxd_deflate as deflate;
pub use idxd_driver as driver;
pub use idxd_emu as emu;
pub use idxd_hw as hw;
pub use idxd_runtime as runtime;
pub use idxd_zram as zram;
pub use idxd_zsmalloc as zsmalloc;
pub use idxd_zswap as zswap;
