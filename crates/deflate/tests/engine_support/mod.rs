//! Shared by the engine tests: the page corpus (or generated pages when it is missing), zlib
//! helpers and a small deterministic generator.

#![allow(dead_code)]

use std::path::PathBuf;

pub const PAGE: usize = 4096;

/// A small xorshift generator: deterministic test data without a dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            *b = self.next() as u8;
        }
    }
}

/// Where the shared corpus lives: `shared/corpus` beside the repository.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// The corpus pages: every 4 KiB page of `shared/corpus/*.pages`, or, when there is none,
/// generated pages (zero, text, pointer-dense heap-like, random and mixed), with a message
/// saying so. `limit` caps the number of pages per file (None: all).
pub fn pages(limit: Option<usize>) -> (Vec<Vec<u8>>, String) {
    let dir = corpus_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "pages"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = Vec::new();
    let mut names = Vec::new();
    for f in &files {
        let Ok(data) = std::fs::read(f) else { continue };
        let n = data.len() / PAGE;
        let take = limit.map_or(n, |l| l.min(n));
        // Spread a limited selection over the whole file.
        let step = n.checked_div(take).unwrap_or(1).max(1);
        for i in (0..n).step_by(step).take(take) {
            out.push(data[i * PAGE..(i + 1) * PAGE].to_vec());
        }
        names.push(
            f.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
    }
    if out.is_empty() {
        eprintln!(
            "engine tests: no corpus at {} (shared/corpus/*.pages); using generated pages instead",
            dir.display()
        );
        let n = limit.unwrap_or(512).min(512);
        return (generated_pages(n), "generated pages".to_string());
    }
    (out, format!("corpus {}", names.join(", ")))
}

/// Generated stand-ins for memory pages: zero, text, pointer-dense (heap-like), random,
/// and pages mixing them.
pub fn generated_pages(n: usize) -> Vec<Vec<u8>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let words = [
        "the",
        "page",
        "swap",
        "zram",
        "deflate",
        "window",
        "header",
        "cache",
        "value",
        "object",
        "{\"id\":",
        "\"name\":",
        "null",
        "true",
        "false",
        "function",
        "return",
        "import",
        "self",
        "0x7f",
    ];
    (0..n)
        .map(|i| {
            let mut p = vec![0u8; PAGE];
            match i % 5 {
                0 => {}
                1 => {
                    let mut s = String::new();
                    while s.len() < PAGE {
                        s.push_str(words[rng.below(words.len() as u64) as usize]);
                        s.push(if rng.below(8) == 0 { '\n' } else { ' ' });
                    }
                    p.copy_from_slice(&s.as_bytes()[..PAGE]);
                }
                2 => {
                    let base = 0x7f00_0000_0000u64 + (rng.next() & 0xffff_f000);
                    for c in p.chunks_exact_mut(8) {
                        let v = match rng.below(4) {
                            0 => 0,
                            1 => rng.below(64),
                            _ => base + rng.below(1 << 16) * 16,
                        };
                        c.copy_from_slice(&v.to_le_bytes());
                    }
                }
                3 => rng.fill(&mut p),
                _ => {
                    rng.fill(&mut p[..1024]);
                    let text = b"key=value; ".repeat(100);
                    p[1024..2024].copy_from_slice(&text[..1000]);
                }
            }
            p
        })
        .collect()
}

/// zlib raw deflate with the given window bits (9..=15) and level.
pub fn zlib_deflate(data: &[u8], level: u32, window_bits: u8) -> Vec<u8> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new_with_window_bits(Compression::new(level), false, window_bits);
    let mut out = Vec::with_capacity(data.len() + data.len() / 8 + 64);
    loop {
        let consumed = c.total_in() as usize;
        if out.capacity() == out.len() {
            out.reserve(out.len() + 64);
        }
        let st = c
            .compress_vec(&data[consumed..], &mut out, FlushCompress::Finish)
            .expect("zlib deflate");
        if st == Status::StreamEnd {
            return out;
        }
    }
}

/// zlib raw inflate (32 KiB window), `Err` on any zlib error.
pub fn zlib_inflate(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    use flate2::{Decompress, FlushDecompress, Status};
    let mut d = Decompress::new_with_window_bits(false, 15);
    let mut out = Vec::with_capacity(max);
    let st = d
        .decompress_vec(data, &mut out, FlushDecompress::Finish)
        .map_err(|e| e.to_string())?;
    if st != Status::StreamEnd {
        return Err(format!("zlib: stream not finished ({st:?})"));
    }
    Ok(out)
}

/// A plain LSB-first bit writer for hand-made deflate streams.
#[derive(Default)]
pub struct Bits {
    pub bytes: Vec<u8>,
    pub nbits: usize,
}

impl Bits {
    /// Appends the low `n` bits of `v`, least significant first.
    pub fn put(&mut self, v: u32, n: u32) -> &mut Self {
        for i in 0..n {
            if self.nbits % 8 == 0 {
                self.bytes.push(0);
            }
            if v >> i & 1 != 0 {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 1 << (self.nbits % 8);
            }
            self.nbits += 1;
        }
        self
    }

    /// Appends a Huffman code of `len` bits, most significant bit first.
    pub fn code(&mut self, code: u32, len: u32) -> &mut Self {
        for i in (0..len).rev() {
            self.put(code >> i & 1, 1);
        }
        self
    }

    /// Pads to a byte boundary.
    pub fn align(&mut self) -> &mut Self {
        while self.nbits % 8 != 0 {
            self.put(0, 1);
        }
        self
    }

    /// A fixed-code literal/length symbol (RFC 1951 3.2.6).
    pub fn fixed_ll(&mut self, sym: u32) -> &mut Self {
        match sym {
            0..=143 => self.code(0x30 + sym, 8),
            144..=255 => self.code(0x190 + sym - 144, 9),
            256..=279 => self.code(sym - 256, 7),
            _ => self.code(0xc0 + sym - 280, 8),
        }
    }

    /// A fixed-code match: length 3..=258, distance 1..=32768.
    pub fn fixed_match(&mut self, len: u32, dist: u32) -> &mut Self {
        const LB: [u32; 29] = [
            3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
            163, 195, 227, 258,
        ];
        const LE: [u32; 29] = [
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
        ];
        const DB: [u32; 30] = [
            1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049,
            3073, 4097, 6145, 8193, 12289, 16385, 24577,
        ];
        const DE: [u32; 30] = [
            0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
        ];
        let ls = (0..29).rev().find(|&i| LB[i] <= len).unwrap();
        self.fixed_ll(257 + ls as u32);
        self.put(len - LB[ls], LE[ls]);
        let ds = (0..30).rev().find(|&i| DB[i] <= dist).unwrap();
        self.code(ds as u32, 5);
        self.put(dist - DB[ds], DE[ds]);
        self
    }
}
