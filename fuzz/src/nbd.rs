//! The NBD server's protocol handling on arbitrary client bytes: negotiation, then
//! transmission when the bytes get that far, against a small zram device (lz4).
//! Invariants: no panic, no hang (the session ends when the input does), and the device still
//! serves afterwards (a write and read-back of one sector through the library round-trips).

use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};

use idxd_runtime::{Algorithm, RuntimeBuilder};
use idxd_zram::{Zram, ZramBuilder};

/// Client bytes in, server bytes counted and dropped.
struct Session<'a> {
    input: &'a [u8],
    written: usize,
}

impl Read for Session<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

impl Write for Session<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn device() -> &'static Arc<Zram> {
    static DEV: OnceLock<Arc<Zram>> = OnceLock::new();
    DEV.get_or_init(|| {
        let rt = RuntimeBuilder::new()
            .algorithm(Algorithm::Lz4)
            .build()
            .expect("lz4 runtime");
        Arc::new(ZramBuilder::new(1 << 20, rt).build().expect("zram device"))
    })
}

/// One fuzz case. Byte 0: read-only export or not; the rest is what the client sends.
pub fn nbd_one(data: &[u8]) {
    let [sel, client @ ..] = data else { return };
    let dev = device();
    let mut s = Session {
        input: client,
        written: 0,
    };
    let _ = idxd_zram::nbd::serve_stream(&mut s, dev.clone(), "fuzz", sel & 1 == 1);
    // The server never answers more than a bounded multiple of what it was sent plus the
    // largest read it allows (32 MiB): a runaway reply loop would show here.
    assert!(
        s.written <= 64 + 64 * client.len() + (32 << 20),
        "{} bytes answered to {}",
        s.written,
        client.len()
    );
    let page: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
    dev.write(0, &page).expect("the device still writes");
    let mut back = vec![0u8; 4096];
    dev.read(0, &mut back).expect("the device still reads");
    assert_eq!(back, page);
}
