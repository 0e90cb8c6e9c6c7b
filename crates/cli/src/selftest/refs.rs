//! Software references the device's results are checked against (bitwise, independent of the
//! emulator's own table-driven code).

/// CRC-32C (Castagnoli), reflected, initial and final inversion.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// CRC-64, most significant bit first, with `poly` (top bit implicit), optionally inverted.
pub fn crc64_msb(data: &[u8], poly: u64, invert: bool) -> u64 {
    let mut c = if invert { !0u64 } else { 0 };
    for &b in data {
        c ^= (b as u64) << 56;
        for _ in 0..8 {
            c = if c >> 63 != 0 { (c << 1) ^ poly } else { c << 1 };
        }
    }
    if invert {
        !c
    } else {
        c
    }
}

/// `n` bytes of half-text, half-noise data, reproducible from `seed`.
pub fn data(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            if i % 7 < 4 {
                b"the quick brown fox "[i % 20]
            } else {
                x as u8
            }
        })
        .collect()
}

/// Raw deflate of `data` by zlib, level 6, 4 KiB window (what any IAA can decompress).
pub fn zlib_deflate(data: &[u8]) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress};
    let mut c = Compress::new_with_window_bits(Compression::new(6), false, 12);
    let mut out = vec![0u8; data.len() + 1024];
    match c.compress(data, &mut out, FlushCompress::Finish) {
        Ok(_) => out.truncate(c.total_out() as usize),
        Err(_) => out.clear(),
    }
    out
}

/// Inflates raw deflate with zlib.
pub fn zlib_inflate(data: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| format!("zlib cannot inflate the device's output: {e}"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_match_known_values() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        // CRC-64/WE: poly 0x42F0E1EBA9EA3693, MSB first, init and xorout all ones.
        assert_eq!(
            crc64_msb(b"123456789", 0x42F0_E1EB_A9EA_3693, true),
            0x62EC_59E3_F1A4_F00A
        );
        let d = data(5000, 3);
        assert_eq!(zlib_inflate(&zlib_deflate(&d)).unwrap(), d);
    }
}
