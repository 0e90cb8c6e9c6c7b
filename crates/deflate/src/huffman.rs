//! Length-limited Huffman code lengths: an unrestricted minimum-redundancy code first (the
//! in-place algorithm of Moffat and Katajainen, no allocation), and package-merge (Larmore and
//! Hirschberg) when that code is deeper than the limit. Both are optimal for their problem.

/// Computes code lengths for `freqs` (one per symbol), none longer than `limit` bits, into
/// `lengths` (same size as `freqs`, at most 320 symbols). Unused symbols (frequency 0) get
/// length 0.
///
/// A single used symbol gets length 1 (the caller completes the code if it needs a complete
/// one); no used symbol leaves every length 0. `limit` is raised if needed so that the used
/// symbols fit (`2^limit >= count`), which never happens for deflate's alphabets.
pub(crate) fn limited_lengths(freqs: &[u32], limit: u32, lengths: &mut [u8]) {
    lengths.iter_mut().for_each(|l| *l = 0);
    let mut buf = [(0u32, 0u16); 320];
    let mut n = 0;
    for (s, &f) in freqs.iter().enumerate() {
        if f != 0 && n < buf.len() {
            buf[n] = (f, s as u16);
            n += 1;
        }
    }
    let syms = &mut buf[..n];
    match n {
        0 => return,
        1 => {
            if let Some(l) = lengths.get_mut(syms[0].1 as usize) {
                *l = 1;
            }
            return;
        }
        _ => {}
    }
    syms.sort_unstable();
    let mut limit = limit.max(1);
    while (1usize << limit) < n {
        limit += 1;
    }

    let mut work = [0u64; 320];
    let work = &mut work[..n];
    for (w, &(f, _)) in work.iter_mut().zip(syms.iter()) {
        *w = f as u64;
    }
    minimum_redundancy(work);
    if work[0] <= limit as u64 {
        for (&(_, s), &l) in syms.iter().zip(work.iter()) {
            if let Some(x) = lengths.get_mut(s as usize) {
                *x = l as u8;
            }
        }
        return;
    }
    package_merge(syms, limit, lengths);
}

/// Moffat and Katajainen's in-place minimum-redundancy code: `a` holds weights in increasing
/// order (at least two); on return it holds their code lengths (non-increasing).
fn minimum_redundancy(a: &mut [u64]) {
    let n = a.len();
    // Phase 1: build the tree, internal nodes overwriting the weights, parents as indices.
    a[0] += a[1];
    let (mut root, mut leaf) = (0usize, 2usize);
    for next in 1..n - 1 {
        if leaf >= n || a[root] < a[leaf] {
            a[next] = a[root];
            a[root] = next as u64;
            root += 1;
        } else {
            a[next] = a[leaf];
            leaf += 1;
        }
        if leaf >= n || (root < next && a[root] < a[leaf]) {
            a[next] += a[root];
            a[root] = next as u64;
            root += 1;
        } else {
            a[next] += a[leaf];
            leaf += 1;
        }
    }
    // Phase 2: depths of the internal nodes.
    a[n - 2] = 0;
    for next in (0..n - 2).rev() {
        a[next] = a[a[next] as usize] + 1;
    }
    // Phase 3: depths of the leaves.
    let (mut avail, mut used, mut depth) = (1i64, 0i64, 0u64);
    let mut root = n as i64 - 2;
    let mut next = n as i64 - 1;
    while avail > 0 {
        while root >= 0 && a[root as usize] == depth {
            used += 1;
            root -= 1;
        }
        while avail > used && next >= 0 {
            a[next as usize] = depth;
            next -= 1;
            avail -= 1;
        }
        avail = 2 * used;
        depth += 1;
        used = 0;
    }
}

/// Package-merge over `syms` (sorted by frequency, at least two, `2^limit >= len`).
fn package_merge(syms: &[(u32, u16)], limit: u32, lengths: &mut [u8]) {
    let n = syms.len();
    // Level 0 is the leaves; level k merges the leaves with the packages of level k-1.
    // For each level we keep, in merged order, whether an item is a leaf.
    let leaves: Vec<u64> = syms.iter().map(|&(f, _)| f as u64).collect();
    let mut is_leaf: Vec<Vec<bool>> = Vec::with_capacity(limit as usize);
    is_leaf.push(vec![true; n]);
    let mut prev = leaves.clone();
    for _ in 1..limit {
        let packages: Vec<u64> = prev.chunks_exact(2).map(|c| c[0] + c[1]).collect();
        let mut merged = Vec::with_capacity(n + packages.len());
        let mut flags = Vec::with_capacity(n + packages.len());
        let (mut a, mut b) = (0, 0);
        while a < n || b < packages.len() {
            if b >= packages.len() || (a < n && leaves[a] <= packages[b]) {
                merged.push(leaves[a]);
                flags.push(true);
                a += 1;
            } else {
                merged.push(packages[b]);
                flags.push(false);
                b += 1;
            }
        }
        is_leaf.push(flags);
        prev = merged;
    }

    // Take the 2n-2 cheapest items of the last level; every leaf taken at any level
    // (directly or inside a package) adds one to that symbol's length.
    let mut take = 2 * n - 2;
    for flags in is_leaf.iter().rev() {
        let take_here = take.min(flags.len());
        let leaves_taken = flags[..take_here].iter().filter(|&&f| f).count();
        for &(_, s) in &syms[..leaves_taken] {
            if let Some(l) = lengths.get_mut(s as usize) {
                *l += 1;
            }
        }
        take = 2 * (take_here - leaves_taken);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lengths: &[u8]) -> f64 {
        lengths
            .iter()
            .filter(|&&l| l > 0)
            .map(|&l| 0.5f64.powi(l as i32))
            .sum()
    }

    fn cost(freqs: &[u32], lengths: &[u8]) -> u64 {
        freqs
            .iter()
            .zip(lengths)
            .map(|(&f, &l)| f as u64 * l as u64)
            .sum()
    }

    #[test]
    fn both_algorithms_agree_on_cost() {
        let mut x = 12345u64;
        for round in 0..200 {
            let n = 2 + round % 60;
            let freqs: Vec<u32> = (0..n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x % 1000) as u32 * (round as u32 % 3) + (x % 7) as u32
                })
                .collect();
            let used: Vec<(u32, u16)> = {
                let mut v: Vec<(u32, u16)> = freqs
                    .iter()
                    .enumerate()
                    .filter(|(_, &f)| f > 0)
                    .map(|(s, &f)| (f, s as u16))
                    .collect();
                v.sort_unstable();
                v
            };
            if used.len() < 2 {
                continue;
            }
            let mut a = vec![0u8; n];
            limited_lengths(&freqs, 30, &mut a);
            let mut b = vec![0u8; n];
            package_merge(&used, 30, &mut b);
            assert_eq!(cost(&freqs, &a), cost(&freqs, &b), "{freqs:?}");
            assert!((kraft(&a) - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn small_cases() {
        let mut l = [0u8; 4];
        limited_lengths(&[0, 0, 0, 0], 15, &mut l);
        assert_eq!(l, [0, 0, 0, 0]);
        limited_lengths(&[0, 5, 0, 0], 15, &mut l);
        assert_eq!(l, [0, 1, 0, 0]);
        limited_lengths(&[1, 5, 0, 0], 15, &mut l);
        assert_eq!(l, [1, 1, 0, 0]);
        limited_lengths(&[1, 1, 2, 4], 15, &mut l);
        assert_eq!(l, [3, 3, 2, 1]);
        limited_lengths(&[1, 1, 2, 4], 2, &mut l);
        assert_eq!(l, [2, 2, 2, 2]);
    }

    #[test]
    fn fibonacci_weights_are_limited_and_complete() {
        // Fibonacci frequencies give the deepest unrestricted tree.
        let mut f = vec![1u32, 1];
        while f.len() < 30 {
            let k = f.len();
            f.push(f[k - 1] + f[k - 2]);
        }
        for limit in [7u32, 9, 12, 15] {
            let mut l = vec![0u8; f.len()];
            limited_lengths(&f, limit, &mut l);
            assert!(l.iter().all(|&x| x >= 1 && x as u32 <= limit), "{l:?}");
            assert!((kraft(&l) - 1.0).abs() < 1e-12);
        }
        // Unlimited, package-merge equals Huffman: cost of the Fibonacci tree.
        let mut l = vec![0u8; f.len()];
        limited_lengths(&f, 40, &mut l);
        assert_eq!(*l.iter().max().unwrap() as usize, f.len() - 1);
        let mut l15 = vec![0u8; f.len()];
        limited_lengths(&f, 15, &mut l15);
        assert!(cost(&f, &l15) >= cost(&f, &l));
    }

    #[test]
    fn matches_huffman_cost_when_unconstrained() {
        // Compare with a plain Huffman cost (sum of merged weights).
        let freqs: Vec<u32> = (0..286u32).map(|i| (i * 7919 % 1000) + 1).collect();
        let mut heap: Vec<u64> = freqs.iter().map(|&x| x as u64).collect();
        let mut huff = 0u64;
        while heap.len() > 1 {
            heap.sort_unstable_by(|a, b| b.cmp(a));
            let a = heap.pop().unwrap();
            let b = heap.pop().unwrap();
            huff += a + b;
            heap.push(a + b);
        }
        let mut l = vec![0u8; freqs.len()];
        limited_lengths(&freqs, 30, &mut l);
        assert_eq!(cost(&freqs, &l), huff);
        assert!((kraft(&l) - 1.0).abs() < 1e-12);
        let mut l15 = vec![0u8; freqs.len()];
        limited_lengths(&freqs, 15, &mut l15);
        assert!(cost(&freqs, &l15) >= huff && l15.iter().all(|&x| (1..=15).contains(&x)));
        assert!((kraft(&l15) - 1.0).abs() < 1e-12);
    }
}
