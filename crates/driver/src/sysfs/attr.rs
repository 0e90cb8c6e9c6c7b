//! Reading and writing sysfs attributes: defensive parsing that names the file.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::DriverError;

/// Names in a directory, sorted; a missing directory has none.
pub(super) fn dir_names(dir: &Path) -> Result<Vec<String>, DriverError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(DriverError::io(dir, e)),
    };
    let mut names = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| DriverError::io(dir, e))?;
        if let Some(n) = entry.file_name().to_str() {
            names.push(n.to_string());
        }
    }
    names.sort();
    Ok(names)
}

/// A trimmed attribute; `None` when the file does not exist.
pub(super) fn read_opt(path: &Path) -> Result<Option<String>, DriverError> {
    match fs::read(path) {
        Ok(b) => match String::from_utf8(b) {
            Ok(s) => Ok(Some(s.trim().to_string())),
            Err(e) => Err(parse_err(path, &String::from_utf8_lossy(e.as_bytes()))),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

pub(super) fn write_attr(path: &Path, value: &str) -> Result<(), DriverError> {
    // sysfs attributes take one write(2) of the whole value; no `create`, so a missing
    // attribute is an error rather than a new file (truncation is a no-op on sysfs).
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .map_err(|e| DriverError::io(path, e))?;
    io::Write::write_all(&mut f, value.as_bytes()).map_err(|e| DriverError::io(path, e))
}

pub(super) fn read_link_opt(path: &Path) -> Result<Option<PathBuf>, DriverError> {
    match fs::read_link(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        // Not a symbolic link (EINVAL): nothing to learn from its target.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

/// The last component of a symbolic link's target; `None` when there is no link.
pub(super) fn link_basename(path: &Path) -> Result<Option<String>, DriverError> {
    match fs::read_link(path) {
        Ok(t) => match t.file_name().and_then(|n| n.to_str()) {
            Some(n) => Ok(Some(n.to_string())),
            None => Err(parse_err(path, &t.to_string_lossy())),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DriverError::io(path, e)),
    }
}

pub(super) fn parse_err(path: &Path, content: &str) -> DriverError {
    let mut content = content.to_string();
    if content.len() > 64 {
        let mut cut = 64;
        while !content.is_char_boundary(cut) {
            cut -= 1;
        }
        content.truncate(cut);
        content.push('…');
    }
    DriverError::Parse {
        path: path.to_path_buf(),
        content,
    }
}

pub(super) fn parse_hex_u16(path: &Path, s: &str) -> Result<u16, DriverError> {
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|c| c.is_ascii_hexdigit()) {
        return Err(parse_err(path, s));
    }
    u16::from_str_radix(digits, 16).map_err(|_| parse_err(path, s))
}

pub(super) fn parse_num<T: FromStr>(path: &Path, s: &str) -> Result<T, DriverError> {
    s.parse::<T>().map_err(|_| parse_err(path, s))
}

pub(super) fn opt_num<T: FromStr>(path: &Path) -> Result<Option<T>, DriverError> {
    read_opt(path)?.map(|s| parse_num(path, &s)).transpose()
}

pub(super) fn read_numa(path: &Path) -> Result<Option<u32>, DriverError> {
    match read_opt(path)? {
        None => Ok(None),
        Some(s) => {
            let n: i64 = parse_num(path, &s)?;
            Ok(u32::try_from(n).ok())
        }
    }
}

/// A decimal index without sign or leading `+` (`0`, `12`).
pub(super) fn parse_index(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn hex_ids() {
        let p = Path::new("x");
        assert_eq!(parse_hex_u16(p, "0x8086").unwrap(), 0x8086);
        assert_eq!(parse_hex_u16(p, "0b25").unwrap(), 0x0b25);
        assert!(parse_hex_u16(p, "0x").is_err());
        assert!(parse_hex_u16(p, "0x18086").is_err());
        assert!(parse_hex_u16(p, "0x+123").is_err());
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("+1"), None);
        assert_eq!(parse_index(""), None);
    }
}
