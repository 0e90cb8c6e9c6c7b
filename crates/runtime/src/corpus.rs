//! Pages to compress: the shared page corpus (`*.pages` files: 4 KiB pages concatenated) when
//! it is there, and a built-in generated corpus otherwise.
//!
//! The built-in mix, per 100 pages (seeded, reproducible): 15 zero pages; 30 text pages (words
//! from a small vocabulary with numbers, like JSON and logs); 47 heap-like pages (objects of
//! one size class back to back: header word, pointer to the next object, pointer into another
//! arena, a small integer, zero padding); 8 incompressible pages (random bytes, like
//! compressed or encrypted buffers). `cargo test -p idxd-runtime corpus` checks that its deflate (level 1, 4 KiB
//! window) ratio on non-zero pages is within the range of the shared corpus (3.3 to 4.0).

use std::path::{Path, PathBuf};

/// Page size of the corpus.
pub const PAGE: usize = 4096;

/// Reads a `.pages` file (its length must be a multiple of 4096).
pub fn load_pages(path: &Path) -> std::io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    if data.len() % PAGE != 0 || data.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!(
                "{}: {} bytes is not a whole number of 4 KiB pages",
                path.display(),
                data.len()
            ),
        ));
    }
    Ok(data.chunks_exact(PAGE).map(<[u8]>::to_vec).collect())
}

/// Every `*.pages` file in `dir`, sorted by name.
pub fn pages_in(dir: &Path) -> std::io::Result<Vec<(PathBuf, Vec<Vec<u8>>)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "pages"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| load_pages(&f).map(|p| (f, p)))
        .collect()
}

/// The shared corpus next to this repository (`../shared/corpus` of the workspace root or of
/// the current directory), if present.
pub fn shared_dir() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus");
    [
        here,
        PathBuf::from("../shared/corpus"),
        PathBuf::from("shared/corpus"),
    ]
    .into_iter()
    .find(|p| p.is_dir())
}

/// Pages of the shared corpus (all files), or `None` with nothing found.
pub fn shared_pages() -> Option<Vec<Vec<u8>>> {
    let dir = shared_dir()?;
    let files = pages_in(&dir).ok()?;
    let pages: Vec<Vec<u8>> = files.into_iter().flat_map(|(_, p)| p).collect();
    (!pages.is_empty()).then_some(pages)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const WORDS: &[&str] = &[
    "\"id\"",
    "\"name\"",
    "\"value\"",
    "\"type\"",
    "\"items\"",
    "true",
    "false",
    "null",
    "user",
    "request",
    "status",
    "error",
    "ok",
    "timestamp",
    "session",
    "the",
    "of",
    "and",
    "to",
    "in",
    "data",
    "page",
    "memory",
    "cache",
    "node",
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "GET",
    "/api/v1/",
    "INFO",
    "WARN",
];

fn text_page(r: &mut Rng) -> Vec<u8> {
    let mut p = Vec::with_capacity(PAGE + 32);
    while p.len() < PAGE {
        if r.below(10) == 0 {
            p.extend_from_slice(r.below(1000).to_string().as_bytes());
        } else {
            p.extend_from_slice(WORDS[r.below(WORDS.len() as u64) as usize].as_bytes());
        }
        p.push(if r.below(12) == 0 { b'\n' } else { b' ' });
    }
    p.truncate(PAGE);
    p
}

fn heap_page(r: &mut Rng) -> Vec<u8> {
    // Objects of one size class laid out back to back: a header word, a pointer to the next
    // object, a pointer into a second arena, a small integer, and zero padding.
    let arena = 0x5555_5555_0000u64 + (r.below(64) << 12);
    let other = 0x7f3a_2c00_0000u64 + (r.below(1024) << 12);
    let words = [4usize, 6, 8][r.below(3) as usize];
    let mut p = Vec::with_capacity(PAGE + 64);
    let mut obj = 0u64;
    while p.len() < PAGE {
        for w in 0..words {
            let v: u64 = match w {
                0 => 0x0000_0031_0000_0000 | (words as u64 * 8),
                1 => arena + (obj + 1) * words as u64 * 8,
                2 if r.below(4) != 0 => other + r.below(32) * 16,
                3 => r.below(100),
                _ => 0,
            };
            p.extend_from_slice(&v.to_le_bytes());
        }
        obj += 1;
    }
    p.truncate(PAGE);
    p
}

/// `n` pages of the built-in mix, reproducible from `seed`.
pub fn builtin(n: usize, seed: u64) -> Vec<Vec<u8>> {
    let mut r = Rng(seed | 1);
    (0..n)
        .map(|i| match i % 100 {
            k if k < 15 => vec![0u8; PAGE],
            k if k < 45 => text_page(&mut r),
            k if k < 92 => heap_page(&mut r),
            _ => (0..PAGE / 8).flat_map(|_| r.next().to_le_bytes()).collect(),
        })
        .collect()
}

/// The shared corpus when present, else `n` built-in pages; says which on stderr.
pub fn pages_or_builtin(n: usize) -> (Vec<Vec<u8>>, &'static str) {
    match shared_pages() {
        Some(p) => (p, "shared corpus"),
        None => {
            eprintln!("note: ../shared/corpus not found; using {n} built-in pages");
            (builtin(n, 0x1dd), "built-in corpus")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    fn ratio(pages: &[Vec<u8>]) -> f64 {
        let (mut i, mut o) = (0usize, 0usize);
        let mut out = vec![0u8; 2 * PAGE];
        for p in pages.iter().filter(|p| p.iter().any(|&b| b != 0)) {
            let mut c = Compress::new_with_window_bits(Compression::new(1), false, 12);
            c.compress(p, &mut out, FlushCompress::Finish).unwrap();
            i += PAGE;
            o += (c.total_out() as usize).min(PAGE);
        }
        i as f64 / o as f64
    }

    #[test]
    fn builtin_corpus_is_close_to_the_shared_one() {
        let b = builtin(1000, 7);
        assert_eq!(b.len(), 1000);
        assert!(b.iter().all(|p| p.len() == PAGE));
        assert_eq!(b, builtin(1000, 7));
        let kinds = [("text", 20), ("heap", 50), ("random", 95)];
        for (k, i) in kinds {
            eprintln!("{k}: {:.2}", ratio(&b[i..i + 3]));
        }
        let r = ratio(&b);
        assert!((2.8..=4.2).contains(&r), "built-in deflate-1 ratio {r:.2}");
        if let Some(s) = shared_pages() {
            eprintln!("built-in {r:.2}, shared {:.2}", ratio(&s[..2000]));
        }
    }
}
