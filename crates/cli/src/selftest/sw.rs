//! Software codecs through the runtime: round trips of the built-in corpus, deflate also read
//! back by zlib.

use idxd_runtime::corpus::{builtin, PAGE};
use idxd_runtime::{Algorithm, RuntimeBuilder};

use super::refs::zlib_inflate;
use super::{Check, Checks};

/// Round trips of 100 built-in pages (every kind of page in the mix).
pub fn run(alg: Algorithm) -> Vec<Check> {
    let mut c = Checks::default();
    let rt = match RuntimeBuilder::new().algorithm(alg).build() {
        Ok(rt) => rt,
        Err(e) => {
            c.run("runtime", || Err(e.to_string()));
            return c.0;
        }
    };
    let pages = builtin(100, 0x5e1f);
    let mut ctx = rt.context();
    let srcs: Vec<&[u8]> = pages.iter().map(Vec::as_slice).collect();
    let mut outs = vec![vec![0u8; 2 * PAGE]; pages.len()];
    let mut lens = Vec::new();
    c.run(&format!("{alg} compress"), || {
        let mut dsts: Vec<&mut [u8]> = outs.iter_mut().map(|o| o.as_mut_slice()).collect();
        for (i, r) in ctx.compress(&srcs, &mut dsts).into_iter().enumerate() {
            lens.push(r.map_err(|e| format!("page {i}: {e}"))?);
        }
        let total: usize = lens.iter().sum();
        Ok(format!(
            "{} pages -> {total} bytes (ratio {:.2})",
            pages.len(),
            (pages.len() * PAGE) as f64 / total as f64
        ))
    });
    if lens.len() != pages.len() {
        return c.0;
    }
    c.run(&format!("{alg} decompress"), || {
        let comp: Vec<&[u8]> = outs.iter().zip(&lens).map(|(o, &n)| &o[..n]).collect();
        let mut back = vec![vec![0u8; PAGE]; pages.len()];
        let mut dsts: Vec<&mut [u8]> = back.iter_mut().map(|o| o.as_mut_slice()).collect();
        for (i, r) in ctx.decompress(&comp, &mut dsts).into_iter().enumerate() {
            match r {
                Ok(PAGE) => {}
                Ok(n) => return Err(format!("page {i}: {n} bytes back")),
                Err(e) => return Err(format!("page {i}: {e}")),
            }
        }
        if back != pages {
            return Err("pages differ after the round trip".into());
        }
        Ok("every page back, bit-identical".into())
    });
    if let Algorithm::Deflate { .. } = alg {
        c.run("zlib reads the output", || {
            for (i, (o, &n)) in outs.iter().zip(&lens).enumerate() {
                if zlib_inflate(&o[..n])? != pages[i] {
                    return Err(format!("page {i}: zlib inflates different bytes"));
                }
            }
            Ok("every page".into())
        });
    }
    c.0
}
