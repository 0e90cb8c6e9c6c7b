//! NBD protocol constants and the fixed-newstyle handshake with option haggling.

use std::io::{self, Read, Write};

use crate::nbd::{inc, Export, Shared};

pub const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
pub const IHAVEOPT: u64 = 0x4948_4156_454f_5054;
pub const OPT_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
pub const REQUEST_MAGIC: u32 = 0x2560_9513;
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

// Handshake flags (server) and client flags.
pub const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
pub const FLAG_NO_ZEROES: u16 = 1 << 1;
pub const FLAG_C_FIXED_NEWSTYLE: u32 = 1 << 0;
pub const FLAG_C_NO_ZEROES: u32 = 1 << 1;

// Options.
pub const OPT_EXPORT_NAME: u32 = 1;
pub const OPT_ABORT: u32 = 2;
pub const OPT_LIST: u32 = 3;
pub const OPT_INFO: u32 = 6;
pub const OPT_GO: u32 = 7;

// Option replies.
pub const REP_ACK: u32 = 1;
pub const REP_SERVER: u32 = 2;
pub const REP_INFO: u32 = 3;
pub const REP_ERR_UNSUP: u32 = (1 << 31) | 1;
pub const REP_ERR_INVALID: u32 = (1 << 31) | 3;
pub const REP_ERR_TOO_BIG: u32 = (1 << 31) | 9;
pub const REP_ERR_UNKNOWN: u32 = (1 << 31) | 6;

// Info types.
pub const INFO_EXPORT: u16 = 0;
pub const INFO_NAME: u16 = 1;
pub const INFO_BLOCK_SIZE: u16 = 3;

// Transmission flags.
pub const TFLAG_HAS_FLAGS: u16 = 1 << 0;
pub const TFLAG_READ_ONLY: u16 = 1 << 1;
pub const TFLAG_SEND_FLUSH: u16 = 1 << 2;
pub const TFLAG_SEND_FUA: u16 = 1 << 3;
pub const TFLAG_SEND_TRIM: u16 = 1 << 5;
pub const TFLAG_SEND_WRITE_ZEROES: u16 = 1 << 6;

// Commands.
pub const CMD_READ: u16 = 0;
pub const CMD_WRITE: u16 = 1;
pub const CMD_DISC: u16 = 2;
pub const CMD_FLUSH: u16 = 3;
pub const CMD_TRIM: u16 = 4;
pub const CMD_WRITE_ZEROES: u16 = 6;

// Errors.
pub const EPERM: u32 = 1;
pub const EIO: u32 = 5;
pub const ENOMEM: u32 = 12;
pub const EINVAL: u32 = 22;
pub const ENOSPC: u32 = 28;

/// Block sizes advertised with NBD_INFO_BLOCK_SIZE.
pub const MIN_BLOCK: u32 = 512;
pub const PREFERRED_BLOCK: u32 = 4096;
/// Largest request payload served (32 MiB).
pub const MAX_PAYLOAD: u32 = 32 << 20;
/// Largest option data accepted: an export name (at most 4096 bytes by the protocol) with
/// its length and some information requests fits.
pub const MAX_OPTION: u32 = 8 << 10;
/// Longest option data skipped (after NBD_REP_ERR_TOO_BIG) to keep negotiating; longer
/// options close the connection instead of being read.
pub const MAX_OPTION_SKIP: u32 = 64 << 10;

pub(crate) fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

pub(crate) fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

pub(crate) fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

/// Reads and throws away `n` bytes.
pub(crate) fn discard(r: &mut impl Read, n: u64) -> io::Result<()> {
    let copied = io::copy(&mut r.take(n), &mut io::sink())?;
    if copied == n {
        Ok(())
    } else {
        Err(io::ErrorKind::UnexpectedEof.into())
    }
}

fn protocol(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn opt_reply(w: &mut impl Write, opt: u32, kind: u32, data: &[u8]) -> io::Result<()> {
    let mut b = Vec::with_capacity(20 + data.len());
    b.extend_from_slice(&OPT_REPLY_MAGIC.to_be_bytes());
    b.extend_from_slice(&opt.to_be_bytes());
    b.extend_from_slice(&kind.to_be_bytes());
    b.extend_from_slice(&(data.len() as u32).to_be_bytes());
    b.extend_from_slice(data);
    w.write_all(&b)
}

/// How the handshake ended.
pub(crate) enum Negotiated {
    /// Go to transmission.
    Transmission,
    /// The client aborted or sent an export name we do not have: close.
    Close,
}

/// Runs the handshake on a fresh connection.
///
/// An established slot is claimed (from `shared`) before the server commits to transmission;
/// when none is free the connection is closed. `Transmission` means the caller holds one.
pub(crate) fn handshake<S: Read + Write>(
    s: &mut S,
    export: &Export,
    shared: &Shared,
) -> io::Result<Negotiated> {
    let mut hello = Vec::with_capacity(18);
    hello.extend_from_slice(&NBDMAGIC.to_be_bytes());
    hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
    hello.extend_from_slice(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes());
    s.write_all(&hello)?;
    let cflags = read_u32(s)?;
    if cflags & FLAG_C_FIXED_NEWSTYLE == 0 || cflags & !(FLAG_C_FIXED_NEWSTYLE | FLAG_C_NO_ZEROES) != 0 {
        return Err(protocol("client flags"));
    }
    let no_zeroes = cflags & FLAG_C_NO_ZEROES != 0;
    loop {
        if read_u64(s)? != IHAVEOPT {
            return Err(protocol("option magic"));
        }
        let opt = read_u32(s)?;
        let len = read_u32(s)?;
        if len > MAX_OPTION {
            inc(&shared.oversized_options);
            if opt == OPT_EXPORT_NAME {
                // No error reply exists for EXPORT_NAME: the protocol says close.
                return Ok(Negotiated::Close);
            }
            if len <= MAX_OPTION_SKIP {
                discard(s, len as u64)?;
                opt_reply(s, opt, REP_ERR_TOO_BIG, b"option too long")?;
                continue;
            }
            // Not worth reading: refuse, then close without reading it.
            let _ = opt_reply(s, opt, REP_ERR_TOO_BIG, b"option too long");
            return Ok(Negotiated::Close);
        }
        let mut data = vec![0u8; len as usize];
        s.read_exact(&mut data)?;
        match opt {
            OPT_EXPORT_NAME => {
                let name = String::from_utf8_lossy(&data);
                if !export.matches(&name) || !shared.claim_established() {
                    return Ok(Negotiated::Close);
                }
                let mut b = Vec::with_capacity(10 + 124);
                b.extend_from_slice(&export.size.to_be_bytes());
                b.extend_from_slice(&export.flags().to_be_bytes());
                if !no_zeroes {
                    b.extend_from_slice(&[0u8; 124]);
                }
                if let Err(e) = s.write_all(&b) {
                    shared.release_established();
                    return Err(e);
                }
                return Ok(Negotiated::Transmission);
            }
            OPT_ABORT => {
                let _ = opt_reply(s, opt, REP_ACK, &[]);
                return Ok(Negotiated::Close);
            }
            OPT_LIST => {
                if !data.is_empty() {
                    opt_reply(s, opt, REP_ERR_INVALID, b"LIST takes no data")?;
                    continue;
                }
                let mut d = Vec::new();
                d.extend_from_slice(&(export.name.len() as u32).to_be_bytes());
                d.extend_from_slice(export.name.as_bytes());
                opt_reply(s, opt, REP_SERVER, &d)?;
                opt_reply(s, opt, REP_ACK, &[])?;
            }
            OPT_INFO | OPT_GO => {
                let Some((name, infos)) = parse_info_request(&data) else {
                    opt_reply(s, opt, REP_ERR_INVALID, b"malformed request")?;
                    continue;
                };
                if !export.matches(&name) {
                    opt_reply(s, opt, REP_ERR_UNKNOWN, b"no such export")?;
                    continue;
                }
                let mut d = Vec::with_capacity(12);
                d.extend_from_slice(&INFO_EXPORT.to_be_bytes());
                d.extend_from_slice(&export.size.to_be_bytes());
                d.extend_from_slice(&export.flags().to_be_bytes());
                opt_reply(s, opt, REP_INFO, &d)?;
                if infos.contains(&INFO_NAME) {
                    let mut d = INFO_NAME.to_be_bytes().to_vec();
                    d.extend_from_slice(export.name.as_bytes());
                    opt_reply(s, opt, REP_INFO, &d)?;
                }
                if infos.contains(&INFO_BLOCK_SIZE) {
                    let mut d = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                    d.extend_from_slice(&MIN_BLOCK.to_be_bytes());
                    d.extend_from_slice(&PREFERRED_BLOCK.to_be_bytes());
                    d.extend_from_slice(&MAX_PAYLOAD.to_be_bytes());
                    opt_reply(s, opt, REP_INFO, &d)?;
                }
                if opt == OPT_GO {
                    if !shared.claim_established() {
                        // Every established slot was taken while this client negotiated.
                        return Ok(Negotiated::Close);
                    }
                    if let Err(e) = opt_reply(s, opt, REP_ACK, &[]) {
                        shared.release_established();
                        return Err(e);
                    }
                    return Ok(Negotiated::Transmission);
                }
                opt_reply(s, opt, REP_ACK, &[])?;
            }
            _ => opt_reply(s, opt, REP_ERR_UNSUP, b"unsupported option")?,
        }
    }
}

/// NBD_OPT_INFO / NBD_OPT_GO data: name length, name, number of requests, requests.
fn parse_info_request(d: &[u8]) -> Option<(String, Vec<u16>)> {
    let nlen = u32::from_be_bytes(d.get(0..4)?.try_into().ok()?) as usize;
    let name = String::from_utf8_lossy(d.get(4..4usize.checked_add(nlen)?)?).into_owned();
    let rest = &d[4 + nlen..];
    let n = u16::from_be_bytes(rest.get(0..2)?.try_into().ok()?) as usize;
    let reqs = rest.get(2..)?;
    if reqs.len() != 2 * n {
        return None;
    }
    Some((
        name,
        reqs.chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_request_parsing() {
        let mut d = 3u32.to_be_bytes().to_vec();
        d.extend_from_slice(b"abc");
        d.extend_from_slice(&2u16.to_be_bytes());
        d.extend_from_slice(&3u16.to_be_bytes());
        d.extend_from_slice(&1u16.to_be_bytes());
        assert_eq!(parse_info_request(&d), Some(("abc".into(), vec![3, 1])));
        assert_eq!(parse_info_request(&d[..d.len() - 1]), None);
        assert_eq!(parse_info_request(&[0, 0, 0, 9]), None);
        assert_eq!(parse_info_request(&[0xff, 0xff, 0xff, 0xff, 0]), None);
    }
}
