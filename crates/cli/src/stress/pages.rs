//! The pages of a stress run: the built-in corpus cycled, every page made unique by its index,
//! and the hash every page is checked against on its way back.

use idxd_runtime::corpus::{self, PAGE};

/// Distinct corpus pages cycled through.
pub const BASE_PAGES: usize = 1000;

/// Builds page `i` into a buffer, without allocating.
pub struct PageGen {
    base: Vec<Vec<u8>>,
    /// Whether base page k is one word repeated (zero pages): those stay same-filled, with a
    /// word that is unique to the page.
    same_filled: Vec<bool>,
}

impl PageGen {
    /// The generator of a run seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        let base = corpus::builtin(BASE_PAGES, seed);
        let same_filled = base
            .iter()
            .map(|p| p.chunks_exact(8).all(|w| w == &p[..8]))
            .collect();
        PageGen { base, same_filled }
    }

    /// Writes page `i` into `out` (one page long).
    pub fn fill(&self, i: u64, out: &mut [u8]) {
        let k = (i % BASE_PAGES as u64) as usize;
        if self.same_filled[k] {
            // A same-filled page (zram keeps those as their word) whose word names the page.
            let w = (i ^ 0x5a5a_0000_0000_0000).to_le_bytes();
            for c in out.chunks_exact_mut(8) {
                c.copy_from_slice(&w);
            }
        } else {
            out.copy_from_slice(&self.base[k]);
            out[..8].copy_from_slice(&i.to_le_bytes());
            out[PAGE - 8..].copy_from_slice(&(!i).to_le_bytes());
        }
    }
}

/// A 64-bit hash of a page: each word goes through a bijection of the running state, so pages
/// that differ in a single word never hash alike.
pub fn hash(page: &[u8]) -> u64 {
    let mut h: u64 = 0x243f_6a88_85a3_08d3;
    for w in page.chunks_exact(8) {
        let v = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
        h = (h ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(29);
    }
    h ^ page.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_unique_and_hashes_tell_them_apart() {
        let g = PageGen::new(1);
        let mut a = vec![0u8; PAGE];
        let mut b = vec![0u8; PAGE];
        let mut seen = std::collections::HashSet::new();
        for i in 0..3000u64 {
            g.fill(i, &mut a);
            assert!(seen.insert(hash(&a)), "page {i} hashes like an earlier one");
        }
        // Pages BASE_PAGES apart share their base but not their contents.
        g.fill(5, &mut a);
        g.fill(5 + BASE_PAGES as u64, &mut b);
        assert_ne!(a, b);
        // Zero pages of the corpus stay same-filled.
        assert!(g.same_filled[0]);
        g.fill(0, &mut a);
        assert!(a.chunks_exact(8).all(|w| w == &a[..8]));
        // Any one byte changed anywhere changes the hash.
        g.fill(42, &mut a);
        let h = hash(&a);
        for at in [0, 9, 2048, PAGE - 1] {
            b.copy_from_slice(&a);
            b[at] ^= 1;
            assert_ne!(hash(&b), h, "{at}");
        }
    }
}
