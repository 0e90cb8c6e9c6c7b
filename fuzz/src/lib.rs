//! The checks behind the fuzz targets (`inflate`, `config`, `nbd`, `portal`, `records`), in a library
//! so that they also run as a plain `cargo test` smoke test without libFuzzer.
//!
//! Input layout: byte 0 selects decompress flags, bytes 1-2 the destination size
//! (`max_dst_size`, little-endian, up to 64 KiB), the rest is the compressed stream.
//! Invariants: the outcome is success or a status/error code a completion record can carry,
//! nothing is written past the destination, nothing at all with output suppressed, and the
//! output of a success re-compresses and inflates back to itself.

#![deny(unsafe_op_in_unsafe_fn)]

mod config;
mod nbd;
mod portal;
mod records;

pub use config::config_one;
pub use nbd::nbd_one;
pub use portal::portal_one;
pub use records::records_one;

use idxd_deflate::{compress_page_fixed, decompress};
use idxd_hw::{AnalyticsError, DecompressFlags};

const CANARY: u8 = 0xA5;

/// The decompress flags a driver may set, chosen by one byte (ENABLE always on).
pub fn flags_from(b: u8) -> DecompressFlags {
    let mut f = DecompressFlags::ENABLE;
    let table = [
        DecompressFlags::FLUSH_OUTPUT,
        DecompressFlags::STOP_ON_EOB,
        DecompressFlags::CHECK_EOB,
        DecompressFlags::SELECT_FINAL_EOB,
        DecompressFlags::SUPPRESS_OUTPUT,
    ];
    for (i, flag) in table.into_iter().enumerate() {
        if b >> i & 1 != 0 {
            f |= flag;
        }
    }
    f
}

/// One fuzz case; panics when an invariant does not hold.
pub fn inflate_one(data: &[u8]) {
    let [sel, lo, hi, stream @ ..] = data else { return };
    let flags = flags_from(*sel);
    let max = u16::from_le_bytes([*lo, *hi]) as usize;
    let mut buf = vec![CANARY; max + 32];
    let r = decompress(stream, flags, *sel & 0x80 != 0, &mut buf[..max]);
    assert!(buf[max..].iter().all(|&b| b == CANARY), "wrote past max_dst_size");
    let suppress = flags.contains(DecompressFlags::SUPPRESS_OUTPUT);
    match r {
        Ok(done) => {
            assert!(done.input_consumed <= stream.len());
            if suppress {
                assert!(
                    buf[..max].iter().all(|&b| b == CANARY),
                    "wrote with output suppressed"
                );
                return;
            }
            assert!(done.output_size <= max);
            let out = &buf[..done.output_size];
            // Differential self-check: the engine's own compression of the output inflates back.
            let mut packed = vec![0u8; out.len() * 2 + 64];
            let c = compress_page_fixed(out, false, &mut packed).expect("room for any output");
            let mut back = vec![0u8; out.len()];
            let d = decompress(
                &packed[..c.output_size],
                DecompressFlags::ENABLE,
                false,
                &mut back,
            )
            .expect("engine output inflates");
            assert_eq!(&back[..d.output_size], out);
            assert_eq!(d.crc, c.crc);
        }
        Err(e) => match e.status().code() {
            0x0a => assert!(AnalyticsError::from_code(e.error_code()).is_some(), "{e}"),
            0x0b => assert!(!suppress && e.produced() == max, "{e}"),
            other => panic!("unexpected status {other:#x}: {e}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic smoke run of the fuzz checks: hand-made seeds and many pseudo-random
    /// mutations of them.
    #[test]
    fn smoke() {
        let text =
            b"smoke test for the inflate fuzz target, smoke test for the inflate fuzz target".repeat(20);
        let mut packed = vec![0u8; 4096];
        let n = compress_page_fixed(&text, false, &mut packed)
            .unwrap()
            .output_size;
        let seeds: Vec<Vec<u8>> = vec![
            vec![],
            vec![0, 0, 16, 0x03, 0x00],
            vec![0x1f, 0xff, 0xff, 0x01, 0x03, 0x00, 0xfc, 0xff, b'a', b'b', b'c'],
            [vec![0x06, 0x00, 0x10], packed[..n].to_vec()].concat(),
            [vec![0x10, 0x00, 0x01], packed[..n].to_vec()].concat(),
        ];
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for seed in &seeds {
            inflate_one(seed);
            for _ in 0..2000 {
                let mut m = seed.clone();
                if m.len() > 3 {
                    for _ in 0..1 + next() % 4 {
                        let i = 3 + (next() as usize) % (m.len() - 3);
                        match next() % 3 {
                            0 => m[i] ^= 1 << (next() % 8),
                            1 => m[i] = next() as u8,
                            _ => m.truncate(i),
                        }
                        if m.len() <= 3 {
                            break;
                        }
                    }
                }
                if let Some(b) = m.first_mut() {
                    *b = next() as u8;
                }
                inflate_one(&m);
            }
        }
    }

    /// A small random walk through each of the other targets, so `cargo test` in fuzz/ runs
    /// their checks without libFuzzer.
    #[test]
    fn other_targets_smoke() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        config_one(b"\x00[[wq]]\nid = 0\ngroup = 0\nmode = \"dedicated\"\nsize = 16\n[[group]]\nid = 0\nengines = [0]\n");
        // A client that negotiates with NBD_OPT_GO and writes then reads a sector.
        nbd_one(&nbd_session());
        config_one(b"\x01[{\"dev\":\"dsa0\",\"groups\":[]}]");
        for _ in 0..300 {
            let n = (next() % 120) as usize;
            let case: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            config_one(&case);
            portal_one(&case);
            nbd_one(&case);
        }
        for _ in 0..40 {
            let n = (next() % 400) as usize;
            let case: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            records_one(&case);
        }
    }

    /// A well-formed session: fixed newstyle with no zeroes, NBD_OPT_GO for the default
    /// export, one write, one read, a disconnect.
    fn nbd_session() -> Vec<u8> {
        let mut c = vec![0u8];
        c.extend_from_slice(&3u32.to_be_bytes());
        c.extend_from_slice(&0x4948_4156_454f_5054u64.to_be_bytes());
        c.extend_from_slice(&7u32.to_be_bytes());
        c.extend_from_slice(&6u32.to_be_bytes());
        c.extend_from_slice(&0u32.to_be_bytes());
        c.extend_from_slice(&0u16.to_be_bytes());
        let req = |c: &mut Vec<u8>, ty: u16, off: u64, len: u32| {
            c.extend_from_slice(&0x2560_9513u32.to_be_bytes());
            c.extend_from_slice(&0u16.to_be_bytes());
            c.extend_from_slice(&ty.to_be_bytes());
            c.extend_from_slice(&7u64.to_be_bytes());
            c.extend_from_slice(&off.to_be_bytes());
            c.extend_from_slice(&len.to_be_bytes());
        };
        req(&mut c, 1, 4096, 512);
        c.extend_from_slice(&[0x5a; 512]);
        req(&mut c, 0, 4096, 512);
        req(&mut c, 2, 0, 0);
        c
    }
}
