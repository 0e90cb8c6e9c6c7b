//! Discovery and binding through sysfs.
//!
//! Every function takes the filesystem root (`/` in production) so tests run on fake trees built
//! in a temporary directory: PCI functions under `root/sys/bus/pci/devices`, kernel-owned DSA/IAA
//! devices and WQs under `root/sys/bus/dsa/devices`, WQ character devices under `root/dev`.
//!
//! Parsing is defensive: a missing optional attribute reads as `None`, a malformed one is a
//! [`DriverError::Parse`](crate::DriverError::Parse) naming the file, and nothing here panics on odd content.

//!
//! By idea: PCI discovery (`pci`), binding to vfio-pci (`bind`), the kernel's idxd devices and
//! WQs (`kernel`), attribute parsing (`attr`). Everything public is re-exported here.

mod attr;
mod bind;
mod kernel;
mod pci;

pub use bind::*;
pub use kernel::*;
pub use pci::*;

/// The driver a function must be bound to for [`crate::backing::vfio`].
pub const VFIO_PCI: &str = "vfio-pci";
/// The kernel's DSA/IAA driver.
pub const IDXD: &str = "idxd";
