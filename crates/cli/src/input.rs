//! Bounded input: files read with a size cap (never a FIFO, device or socket, whose reads can
//! block or never end), output paths checked before a run, and the memory a page count needs
//! checked against a limit before anything is allocated.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use anyhow::{bail, Context};

/// Configuration files (accel-config JSON, our TOML) are at most this long.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;

/// Pages held in memory at once are at most this many bytes (or half of the machine's memory,
/// if that is less).
pub const MAX_MEMORY_BYTES: u64 = 16 << 30;

/// What kind of file `path` is, in words, when it is not a regular file.
fn not_regular(ft: &std::fs::FileType) -> Option<&'static str> {
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else if ft.is_fifo() {
        Some("a FIFO")
    } else if ft.is_char_device() {
        Some("a character device")
    } else if ft.is_block_device() {
        Some("a block device")
    } else if ft.is_socket() {
        Some("a socket")
    } else {
        Some("not a regular file")
    }
}

/// Opens a regular file for reading without ever blocking: `O_NONBLOCK` makes opening a FIFO
/// return at once, and anything but a regular file is refused before a byte is read.
pub fn open_regular(path: &Path) -> anyhow::Result<(File, u64)> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .with_context(|| format!("{}", path.display()))?;
    let md = f.metadata().with_context(|| format!("{}", path.display()))?;
    if let Some(what) = not_regular(&md.file_type()) {
        bail!("{}: {what}, not a regular file", path.display());
    }
    Ok((f, md.len()))
}

/// Reads at most `max` bytes of a regular file; a longer file is refused (the length is
/// checked again while reading, for a file that grows).
pub fn read_bounded(path: &Path, max: u64) -> anyhow::Result<Vec<u8>> {
    let (f, len) = open_regular(path)?;
    if len > max {
        bail!(
            "{}: {len} bytes is more than the limit of {max} bytes",
            path.display()
        );
    }
    let mut data = Vec::new();
    data.try_reserve_exact(len as usize)
        .with_context(|| format!("{}: cannot allocate {len} bytes", path.display()))?;
    f.take(max + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("{}", path.display()))?;
    if data.len() as u64 > max {
        bail!(
            "{}: more than the limit of {max} bytes (the file grew while being read)",
            path.display()
        );
    }
    Ok(data)
}

/// [`read_bounded`] for text.
pub fn read_to_string_bounded(path: &Path, max: u64) -> anyhow::Result<String> {
    let data = read_bounded(path, max)?;
    String::from_utf8(data).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

/// Up to `want` bytes from the start of a regular file (of any size).
pub fn read_prefix(path: &Path, want: u64) -> anyhow::Result<Vec<u8>> {
    let (f, len) = open_regular(path)?;
    let n = len.min(want);
    let mut data = Vec::new();
    data.try_reserve_exact(n as usize)
        .with_context(|| format!("{}: cannot allocate {n} bytes", path.display()))?;
    f.take(want)
        .read_to_end(&mut data)
        .with_context(|| format!("{}", path.display()))?;
    Ok(data)
}

/// Checks, before a run, that `path` can be written: an existing file is opened for writing
/// (not truncated), a new one is created and removed again.
pub fn check_writable(path: &Path, flag: &str) -> anyhow::Result<()> {
    let ctx = || format!("{flag} {}", path.display());
    match std::fs::symlink_metadata(path) {
        Ok(md) => {
            let md = if md.file_type().is_symlink() {
                std::fs::metadata(path).with_context(ctx)?
            } else {
                md
            };
            if let Some(what) = not_regular(&md.file_type()) {
                bail!("{}: {what}, not a regular file", ctx());
            }
            OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(path)
                .with_context(ctx)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .with_context(ctx)?;
            let _ = std::fs::remove_file(path);
        }
        Err(e) => return Err(e).with_context(ctx),
    }
    Ok(())
}

/// The most bytes of pages a run may hold: [`MAX_MEMORY_BYTES`] or half of physical memory.
pub fn memory_limit() -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions; it returns -1 for an unknown name.
    let (pages, size) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    let phys = if pages > 0 && size > 0 {
        (pages as u64).saturating_mul(size as u64)
    } else {
        u64::MAX
    };
    MAX_MEMORY_BYTES.min(phys / 2)
}

/// Checks that `pages` pages of `page_bytes` fit in [`memory_limit`]; returns their size.
pub fn check_pages_memory(flag: &str, pages: u64, page_bytes: u64) -> anyhow::Result<u64> {
    let limit = memory_limit();
    match pages.checked_mul(page_bytes) {
        Some(b) if b <= limit => Ok(b),
        b => bail!(
            "{flag} {pages}: {} of pages is more than the limit of {} ({} pages: half of this machine's memory, at most {})",
            b.map_or_else(|| "more than 16 EiB".to_string(), human_bytes),
            human_bytes(limit),
            limit / page_bytes.max(1),
            human_bytes(MAX_MEMORY_BYTES),
        ),
    }
}

/// `16 GiB`, `3.2 TiB`, `512 B`.
pub fn human_bytes(b: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if b < 1024 {
        return format!("{b} B");
    }
    let mut v = b as f64 / 1024.0;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_devices_and_long_files() {
        let e = read_bounded(Path::new("/dev/zero"), 100).unwrap_err().to_string();
        assert!(e.contains("character device"), "{e}");
        let dir = std::env::temp_dir().join(format!("idxd-cli-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("f");
        std::fs::write(&f, [1u8; 10]).unwrap();
        assert_eq!(read_bounded(&f, 10).unwrap().len(), 10);
        assert!(read_bounded(&f, 9)
            .unwrap_err()
            .to_string()
            .contains("limit of 9"));
        assert_eq!(read_prefix(&f, 4).unwrap().len(), 4);
        assert!(read_bounded(&dir, 9)
            .unwrap_err()
            .to_string()
            .contains("directory"));
        check_writable(&dir.join("new"), "--json").unwrap();
        assert!(!dir.join("new").exists());
        check_writable(&f, "--json").unwrap();
        assert_eq!(std::fs::read(&f).unwrap().len(), 10, "not truncated");
        assert!(check_writable(&dir, "--json").is_err());
        assert!(check_writable(&dir.join("no/such"), "--json").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn page_memory_is_limited() {
        assert_eq!(check_pages_memory("--pages", 10, 4096).unwrap(), 40960);
        let e = check_pages_memory("--pages", 1_000_000_000_000, 4096)
            .unwrap_err()
            .to_string();
        assert!(e.contains("limit"), "{e}");
        assert!(check_pages_memory("--pages", u64::MAX, 4096).is_err());
        assert_eq!(human_bytes(16 << 30), "16 GiB");
    }
}
