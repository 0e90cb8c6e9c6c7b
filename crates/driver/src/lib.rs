//! `idxd-driver`: a user-space driver for Intel DSA and IAA.
//!
//! One code path above a [`DeviceBacking`]: bring-up from a configuration, WQ submission with
//! credits, completion reaping (polling or interrupts, out of order), SWERR and halt handling
//! with recovery, orderly teardown. Backings: vfio-pci ([`backing::vfio`]), WQs owned by the
//! kernel's idxd driver ([`backing::kernel_wq`]) and the in-process emulator
//! ([`backing::emu`]).

pub mod backing;
pub mod config;
pub mod dma;
pub mod error;
pub mod iova;
pub mod managed;
pub mod open;
pub mod portal;
pub mod sysfs;
pub mod wq;

pub use backing::{DescBytes, DeviceBacking, Enqueued, PortalKind, RegisterAccess};
pub use config::{DeviceConfig, GroupConfig, Mode, WqConfig};
pub use dma::{DmaBuf, DmaPool, DmaRegion};
pub use error::DriverError;
pub use managed::{BringUpOptions, Device, Health};
pub use open::{open, Backed, DeviceSpec, OpenDevice, OpenOptions, SpecError};
pub use wq::{Abandoned, Completion, Record, Rejected, RequestId, Ticket, Wq, WqCounters};
