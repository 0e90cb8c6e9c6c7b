//! Binding: which driver a function has, and handing it to vfio-pci and back.

use std::path::Path;

use super::attr::*;
use super::{pci_device_dir, pci_function, Bdf, VFIO_PCI};
use crate::DriverError;

/// The driver `bdf` is bound to now (`None` when unbound).
pub fn current_driver(root: &Path, bdf: &str) -> Result<Option<String>, DriverError> {
    let bdf = Bdf::parse(bdf)?;
    let path = pci_device_dir(root, &bdf);
    if !path.exists() {
        return Err(DriverError::NoDevice {
            bdf: bdf.to_string(),
            path,
        });
    }
    link_basename(&path.join("driver"))
}

/// Checks that `bdf` is bound to `expected`; [`DriverError::WrongDriver`] otherwise.
pub fn verify_driver(root: &Path, bdf: &str, expected: &'static str) -> Result<(), DriverError> {
    let actual = current_driver(root, bdf)?;
    if actual.as_deref() == Some(expected) {
        Ok(())
    } else {
        Err(DriverError::WrongDriver {
            bdf: bdf.to_string(),
            expected,
            actual,
        })
    }
}

/// The writes that hand a DSA/IAA function to vfio-pci: `vfio-pci` into `driver_override`,
/// the address into the current driver's `unbind` (when bound), then into
/// `root/sys/bus/pci/drivers_probe`. Does not check the outcome: see [`verify_driver`]. A function
/// already bound to vfio-pci is left alone (unbinding it would wait for its user to close it).
pub fn request_vfio_bind(root: &Path, bdf: &str) -> Result<(), DriverError> {
    let f = pci_function(root, bdf)?;
    if f.driver.as_deref() == Some(VFIO_PCI) {
        return Ok(());
    }
    let name = f.bdf.to_string();
    write_attr(&f.sysfs_path.join("driver_override"), VFIO_PCI)?;
    if f.driver.is_some() {
        write_attr(&f.sysfs_path.join("driver/unbind"), &name)?;
    }
    write_attr(&root.join("sys/bus/pci/drivers_probe"), &name)
}

/// Binds a DSA/IAA function to vfio-pci ([`request_vfio_bind`]) and checks that it took
/// ([`verify_driver`]): when it did not, the error says which driver holds the function now
/// (none usually means the vfio-pci module is not loaded).
///
/// A function whose id is on vfio-pci's denylist (Sapphire Rapids DSA 8086:0b25 and IAA
/// 8086:0cfe) that did not bind while `root/sys/module/vfio_pci/parameters/disable_denylist`
/// reads `N` is [`DriverError::VfioDenylisted`]: the error names the parameter.
pub fn bind_vfio(root: &Path, bdf: &str) -> Result<(), DriverError> {
    request_vfio_bind(root, bdf)?;
    let e = match verify_driver(root, bdf, VFIO_PCI) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    let f = pci_function(root, bdf)?;
    if !idxd_hw::pci::vfio_pci_denylisted(f.vendor, f.device) {
        return Err(e);
    }
    let param = root.join(DISABLE_DENYLIST_PARAM);
    match read_opt(&param)? {
        // A bool module parameter reads Y or N; absent means vfio-pci is not loaded, which the
        // WrongDriver error already says.
        Some(v) if v.trim() == "N" => Err(DriverError::VfioDenylisted {
            bdf: f.bdf.to_string(),
            vendor: f.vendor,
            device: f.device,
            param: Path::new("/").join(DISABLE_DENYLIST_PARAM).display().to_string(),
            value: v.trim().to_string(),
        }),
        _ => Err(e),
    }
}

/// vfio-pci's `disable_denylist` module parameter, relative to the filesystem root.
pub const DISABLE_DENYLIST_PARAM: &str = "sys/module/vfio_pci/parameters/disable_denylist";

/// Gives a DSA/IAA function back to the kernel (idxd): clears `driver_override`, unbinds it from
/// vfio-pci when bound there, and asks the kernel to probe it again. Which driver takes it then
/// is the kernel's choice (idxd when loaded): [`current_driver`] tells.
pub fn unbind_vfio(root: &Path, bdf: &str) -> Result<(), DriverError> {
    let f = pci_function(root, bdf)?;
    let name = f.bdf.to_string();
    write_attr(&f.sysfs_path.join("driver_override"), "\n")?;
    match f.driver.as_deref() {
        Some(VFIO_PCI) => write_attr(&f.sysfs_path.join("driver/unbind"), &name)?,
        // Already with another driver: clearing the override is all there is to do.
        Some(_) => return Ok(()),
        None => {}
    }
    write_attr(&root.join("sys/bus/pci/drivers_probe"), &name)
}
