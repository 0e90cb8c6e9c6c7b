//! `idxd`: a user-space driver and batching offload runtime for Intel DSA and IAA.
//!
//! This facade re-exports the workspace's crates:
//! - [`hw`]: the hardware interface as data (registers, descriptors, records, codes, profiles);
//! - [`emu`]: the register-level software emulator of both devices;
//! - [`driver`]: bring-up, submission and completion over vfio-pci, kernel WQs or the emulator;
//! - [`runtime`]: the batching offload runtime (a result per request, device or software).

pub use idxd_driver as driver;
pub use idxd_emu as emu;
pub use idxd_hw as hw;
pub use idxd_runtime as runtime;
