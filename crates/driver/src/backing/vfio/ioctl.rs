//! The VFIO ioctls: their numbers and an open file to issue them on.
//!
//! Every VFIO ioctl is `_IO(VFIO_TYPE, VFIO_BASE + n)` in `linux/vfio.h` (type ';' = 0x3b,
//! base 100, no direction or size bits: the structures carry their own `argsz`). The numbers
//! are built with `vmm-sys-util`'s `ioctl_io_nr!` from the `vfio-bindings` constants, and a
//! test pins each one to the value the kernel header gives.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::PathBuf;

use vfio_bindings::bindings::vfio as vb;
use vmm_sys_util::ioctl_io_nr;

use crate::DriverError;

const TYPE: u32 = vb::VFIO_TYPE as u32;
const BASE: u32 = vb::VFIO_BASE;

ioctl_io_nr!(VFIO_GET_API_VERSION, TYPE, BASE);
ioctl_io_nr!(VFIO_CHECK_EXTENSION, TYPE, BASE + 1);
ioctl_io_nr!(VFIO_SET_IOMMU, TYPE, BASE + 2);
ioctl_io_nr!(VFIO_GROUP_GET_STATUS, TYPE, BASE + 3);
ioctl_io_nr!(VFIO_GROUP_SET_CONTAINER, TYPE, BASE + 4);
ioctl_io_nr!(VFIO_GROUP_GET_DEVICE_FD, TYPE, BASE + 6);
ioctl_io_nr!(VFIO_DEVICE_GET_INFO, TYPE, BASE + 7);
ioctl_io_nr!(VFIO_DEVICE_GET_REGION_INFO, TYPE, BASE + 8);
ioctl_io_nr!(VFIO_DEVICE_GET_IRQ_INFO, TYPE, BASE + 9);
ioctl_io_nr!(VFIO_DEVICE_SET_IRQS, TYPE, BASE + 10);
ioctl_io_nr!(VFIO_DEVICE_RESET, TYPE, BASE + 11);
ioctl_io_nr!(VFIO_IOMMU_GET_INFO, TYPE, BASE + 12);
ioctl_io_nr!(VFIO_IOMMU_MAP_DMA, TYPE, BASE + 13);
ioctl_io_nr!(VFIO_IOMMU_UNMAP_DMA, TYPE, BASE + 14);

/// Every ioctl this backing issues, by its `linux/vfio.h` name (for the header tests).
#[cfg(test)]
fn all() -> [(&'static str, libc::c_ulong); 14] {
    [
        ("VFIO_GET_API_VERSION", VFIO_GET_API_VERSION()),
        ("VFIO_CHECK_EXTENSION", VFIO_CHECK_EXTENSION()),
        ("VFIO_SET_IOMMU", VFIO_SET_IOMMU()),
        ("VFIO_GROUP_GET_STATUS", VFIO_GROUP_GET_STATUS()),
        ("VFIO_GROUP_SET_CONTAINER", VFIO_GROUP_SET_CONTAINER()),
        ("VFIO_GROUP_GET_DEVICE_FD", VFIO_GROUP_GET_DEVICE_FD()),
        ("VFIO_DEVICE_GET_INFO", VFIO_DEVICE_GET_INFO()),
        ("VFIO_DEVICE_GET_REGION_INFO", VFIO_DEVICE_GET_REGION_INFO()),
        ("VFIO_DEVICE_GET_IRQ_INFO", VFIO_DEVICE_GET_IRQ_INFO()),
        ("VFIO_DEVICE_SET_IRQS", VFIO_DEVICE_SET_IRQS()),
        ("VFIO_DEVICE_RESET", VFIO_DEVICE_RESET()),
        ("VFIO_IOMMU_GET_INFO", VFIO_IOMMU_GET_INFO()),
        ("VFIO_IOMMU_MAP_DMA", VFIO_IOMMU_MAP_DMA()),
        ("VFIO_IOMMU_UNMAP_DMA", VFIO_IOMMU_UNMAP_DMA()),
    ]
}

/// An open file and the path it was opened from (for errors).
#[derive(Debug)]
pub(super) struct Fd {
    pub(super) file: File,
    pub(super) path: PathBuf,
}

impl Fd {
    pub(super) fn open(path: PathBuf, hint: &str) -> Result<Fd, DriverError> {
        match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(file) => Ok(Fd { file, path }),
            Err(e) => {
                let msg = format!("{e}{hint}");
                Err(DriverError::Io {
                    path,
                    source: std::io::Error::new(e.kind(), msg),
                })
            }
        }
    }

    pub(super) fn err(&self, ioctl: &'static str) -> DriverError {
        DriverError::Ioctl {
            ioctl,
            path: self.path.clone(),
            source: std::io::Error::last_os_error(),
        }
    }

    /// An ioctl whose argument is a plain value.
    pub(super) fn ioctl_val(
        &self,
        name: &'static str,
        req: libc::c_ulong,
        arg: libc::c_ulong,
    ) -> Result<libc::c_int, DriverError> {
        // SAFETY: the VFIO ioctls issued through this helper (GET_API_VERSION, CHECK_EXTENSION,
        // SET_IOMMU, DEVICE_RESET) take an integer argument or none and touch no user memory;
        // the fd is open.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), req as _, arg) };
        if r < 0 {
            Err(self.err(name))
        } else {
            Ok(r)
        }
    }

    /// An ioctl whose argument points at `arg`.
    ///
    /// # Safety
    /// `arg` must point at memory laid out as the ioctl `req` expects, at least as large as the
    /// `argsz` it declares, valid for reads and writes for the duration of the call.
    pub(super) unsafe fn ioctl_ptr<T>(
        &self,
        name: &'static str,
        req: libc::c_ulong,
        arg: *mut T,
    ) -> Result<libc::c_int, DriverError> {
        // SAFETY: forwarded to the caller: `arg` is valid for what `req` reads and writes.
        let r = unsafe { libc::ioctl(self.file.as_raw_fd(), req as _, arg) };
        if r < 0 {
            Err(self.err(name))
        } else {
            Ok(r)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `_IO(';', 100 + n)` gives, as `linux/vfio.h` defines them (type 0x3b in bits
    /// 15:8, number in bits 7:0, no direction or size). The header itself is checked by
    /// `ioctl_numbers_match_the_installed_header` below.
    #[test]
    fn ioctl_numbers_match_linux_vfio_h() {
        let want: [(&str, libc::c_ulong); 14] = [
            ("VFIO_GET_API_VERSION", 0x3b64),
            ("VFIO_CHECK_EXTENSION", 0x3b65),
            ("VFIO_SET_IOMMU", 0x3b66),
            ("VFIO_GROUP_GET_STATUS", 0x3b67),
            ("VFIO_GROUP_SET_CONTAINER", 0x3b68),
            ("VFIO_GROUP_GET_DEVICE_FD", 0x3b6a),
            ("VFIO_DEVICE_GET_INFO", 0x3b6b),
            ("VFIO_DEVICE_GET_REGION_INFO", 0x3b6c),
            ("VFIO_DEVICE_GET_IRQ_INFO", 0x3b6d),
            ("VFIO_DEVICE_SET_IRQS", 0x3b6e),
            ("VFIO_DEVICE_RESET", 0x3b6f),
            ("VFIO_IOMMU_GET_INFO", 0x3b70),
            ("VFIO_IOMMU_MAP_DMA", 0x3b71),
            ("VFIO_IOMMU_UNMAP_DMA", 0x3b72),
        ];
        assert_eq!(all(), want);
    }

    /// Compiles a C program that prints every ioctl number as `linux/vfio.h` on this machine
    /// defines it, and compares. Skipped, with a message, where the header or a C compiler is
    /// missing, except under CI (`CI` set), where that is a failure.
    #[test]
    fn ioctl_numbers_match_the_installed_header() {
        const HEADER: &str = "/usr/include/linux/vfio.h";
        // The project's CI rule (tests/support): any CI value but empty, "false" or "0".
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        let skip = |why: String| {
            assert!(!ci, "CI=true but {why}");
            eprintln!("SKIPPED: {why}");
        };
        if !std::path::Path::new(HEADER).exists() {
            return skip(format!("{HEADER} not found (install linux-libc-dev)"));
        }
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
        let has_cc = std::process::Command::new(&cc)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_cc {
            return skip(format!("no C compiler `{cc}` (install gcc)"));
        }
        let mut c = String::from("#include <stdio.h>\n#include <linux/vfio.h>\nint main(void) {\n");
        for (name, _) in all() {
            c.push_str(&format!("  printf(\"{name} %lu\\n\", (unsigned long){name});\n"));
        }
        c.push_str("  return 0;\n}\n");
        let dir = tempfile::tempdir().unwrap();
        let (src, exe) = (dir.path().join("vfio.c"), dir.path().join("vfio"));
        std::fs::write(&src, c).unwrap();
        let out = std::process::Command::new(&cc)
            .arg("-o")
            .arg(&exe)
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "C compile failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let run = std::process::Command::new(&exe).output().unwrap();
        assert!(run.status.success());
        let printed = String::from_utf8(run.stdout).unwrap();
        let header: Vec<(String, libc::c_ulong)> = printed
            .lines()
            .map(|l| {
                let (n, v) = l.split_once(' ').unwrap();
                (n.to_string(), v.parse().unwrap())
            })
            .collect();
        let ours: Vec<(String, libc::c_ulong)> = all().iter().map(|&(n, v)| (n.to_string(), v)).collect();
        assert_eq!(ours, header, "ours (left) vs {HEADER} (right)");
    }
}
