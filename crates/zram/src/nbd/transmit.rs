//! The transmission phase: requests served in order on one connection.

use std::io::{self, Read, Write};

use crate::error::ZramError;
use crate::nbd::proto::*;
use crate::nbd::{inc, Export, Shared};
use crate::SECTOR_SIZE;

fn reply(w: &mut impl Write, handle: u64, error: u32, data: &[u8]) -> io::Result<()> {
    let mut b = Vec::with_capacity(16 + data.len());
    b.extend_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
    b.extend_from_slice(&error.to_be_bytes());
    b.extend_from_slice(&handle.to_be_bytes());
    b.extend_from_slice(data);
    w.write_all(&b)
}

fn errno(e: &ZramError, write: bool, past_end: bool) -> u32 {
    match e {
        ZramError::InvalidIo { .. } if write && past_end => ENOSPC,
        ZramError::InvalidIo { .. } | ZramError::InvalidArgument(_) => EINVAL,
        ZramError::NoMemory => ENOMEM,
        _ => EIO,
    }
}

/// Serves requests until the client disconnects (NBD_CMD_DISC or EOF) or errs (a timeout of
/// the socket included).
pub(crate) fn serve<S: Read + Write>(s: &mut S, export: &Export, shared: &Shared) -> io::Result<()> {
    let dev = &export.dev;
    loop {
        let magic = match read_u32(s) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        if magic != REQUEST_MAGIC {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "request magic"));
        }
        let _flags = read_u16(s)?;
        let cmd = read_u16(s)?;
        let handle = read_u64(s)?;
        let offset = read_u64(s)?;
        let len = read_u32(s)?;
        let aligned = offset % SECTOR_SIZE == 0 && len as u64 % SECTOR_SIZE == 0;
        let past_end = offset.checked_add(len as u64).is_none_or(|e| e > export.size);
        let sector = offset / SECTOR_SIZE;
        match cmd {
            CMD_READ => {
                if len > MAX_PAYLOAD {
                    inc(&shared.oversized_requests);
                }
                if len > MAX_PAYLOAD || !aligned {
                    reply(s, handle, EINVAL, &[])?;
                    continue;
                }
                let mut buf = vec![0u8; len as usize];
                match dev.read(sector, &mut buf) {
                    Ok(()) => reply(s, handle, 0, &buf)?,
                    Err(e) => reply(s, handle, errno(&e, false, past_end), &[])?,
                }
            }
            CMD_WRITE => {
                if len > MAX_PAYLOAD {
                    // Reading (up to 4 GiB of) payload we will not use would pin the
                    // connection: refuse and close, as the protocol allows.
                    inc(&shared.oversized_requests);
                    reply(s, handle, EINVAL, &[])?;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("write of {len} bytes exceeds the {MAX_PAYLOAD}-byte maximum payload"),
                    ));
                }
                let mut buf = vec![0u8; len as usize];
                s.read_exact(&mut buf)?;
                let err = if export.read_only {
                    EPERM
                } else if !aligned {
                    EINVAL
                } else {
                    match dev.write(sector, &buf) {
                        Ok(()) => 0,
                        Err(e) => errno(&e, true, past_end),
                    }
                };
                reply(s, handle, err, &[])?;
            }
            CMD_DISC => return Ok(()),
            CMD_FLUSH => reply(s, handle, 0, &[])?,
            CMD_TRIM | CMD_WRITE_ZEROES => {
                let err = if export.read_only {
                    EPERM
                } else if !aligned {
                    EINVAL
                } else {
                    let r = if cmd == CMD_TRIM {
                        dev.discard(sector, len as u64)
                    } else {
                        dev.write_zeroes(sector, len as u64)
                    };
                    match r {
                        Ok(()) => 0,
                        Err(e) => errno(&e, true, past_end),
                    }
                };
                reply(s, handle, err, &[])?;
            }
            _ => reply(s, handle, EINVAL, &[])?,
        }
    }
}
