//! Interrupts: one eventfd per MSI-X vector, and waiting on one.

use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use vfio_bindings::bindings::vfio as vb;
use vmm_sys_util::eventfd::{EventFd, EFD_CLOEXEC, EFD_NONBLOCK};

use super::ioctl::{Fd, VFIO_DEVICE_GET_IRQ_INFO, VFIO_DEVICE_SET_IRQS};
use crate::error::VfioError;
use crate::DriverError;

/// Most MSI-X vectors this backing wires to eventfds (DSA has 9, IAA similar).
pub const MAX_VECTORS: u32 = 256;

pub(super) fn enable_msix(device: &Fd, name: &str) -> Result<Vec<EventFd>, DriverError> {
    let mut ii = vb::vfio_irq_info {
        argsz: std::mem::size_of::<vb::vfio_irq_info>() as u32,
        index: vb::VFIO_PCI_MSIX_IRQ_INDEX,
        ..Default::default()
    };
    // SAFETY: `ii` is a vfio_irq_info with argsz and index set, live for the call.
    unsafe { device.ioctl_ptr("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO(), &mut ii)? };
    let n = ii.count.min(MAX_VECTORS);
    if n == 0 {
        return Err(VfioError::NoMsix {
            bdf: name.to_string(),
        }
        .into());
    }
    let mut fds = Vec::with_capacity(n as usize);
    for vector in 0..n {
        fds.push(
            EventFd::new(EFD_NONBLOCK | EFD_CLOEXEC).map_err(|source| VfioError::Eventfd {
                bdf: name.to_string(),
                vector,
                source,
            })?,
        );
    }
    // struct vfio_irq_set is five u32 followed by the data: here one fd (s32) per vector.
    let mut set: Vec<u32> = vec![
        (5 + n) * 4,
        vb::VFIO_IRQ_SET_DATA_EVENTFD | vb::VFIO_IRQ_SET_ACTION_TRIGGER,
        vb::VFIO_PCI_MSIX_IRQ_INDEX,
        0,
        n,
    ];
    set.extend(fds.iter().map(|f| f.as_raw_fd() as u32));
    // SAFETY: `set` is a vfio_irq_set header (argsz, flags, index, start, count) followed by
    // `count` fds, exactly argsz bytes, 4-byte aligned, live for the call.
    unsafe { device.ioctl_ptr("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS(), set.as_mut_ptr())? };
    Ok(fds)
}

/// Waits up to `timeout` for the eventfd to count, then takes the count (0 on timeout).
pub fn wait_eventfd(fd: &EventFd, timeout: Duration) -> std::io::Result<u64> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Round up so a short remainder still waits instead of spinning.
        let ms = libc::c_int::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(libc::c_int::MAX);
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, live for the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if r == 0 {
            if Instant::now() >= deadline {
                return Ok(0);
            }
            continue;
        }
        match fd.read() {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}
