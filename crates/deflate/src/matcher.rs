//! LZ77 match finding over a 4 KiB window: a parser with one step of lazy evaluation and a
//! hash table of the most recent position of each 4-byte prefix.
//!
//! The parse depends on the input only (never on the code tables), so the statistics pass
//! and the compressing pass of dynamic mode see the very same tokens. No distance exceeds
//! [`WINDOW`] and no match is shorter than 4 or longer than 258 bytes.

use super::tables::{MAX_MATCH, WINDOW};

/// log2 of the number of hash-table slots.
const HASH_BITS: u32 = 13;
/// The shortest match the parser looks for (the hash covers 4 bytes).
const MIN_LEN: usize = 4;
/// Positions inside a match that are still entered into the table (the first few).
const INSERT_IN_MATCH: usize = 4;
/// Matches shorter than this are compared with the match at the next position (lazy
/// evaluation, one step).
const LAZY_BELOW: usize = 32;

/// Receives the parse: runs of literals and matches, in order.
pub(crate) trait TokenSink {
    /// Why the sink stopped the parse (e.g. the output is full).
    type Error;
    /// Literal bytes.
    fn literals(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
    /// A match of `len` (3..=258) bytes at distance `dist` (1..=4096).
    fn matched(&mut self, len: usize, dist: usize) -> Result<(), Self::Error>;
}

#[inline(always)]
fn read32(data: &[u8], i: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&data[i..i + 4]);
    u32::from_le_bytes(a)
}

#[inline(always)]
fn read64(data: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&data[i..i + 8]);
    u64::from_le_bytes(a)
}

#[inline(always)]
fn hash(v: u32) -> usize {
    (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Length of the common prefix of `data[a..]` and `data[b..]` (a < b), at most `max` bytes,
/// where `b + max <= data.len()`.
#[inline(always)]
fn common_len(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = read64(data, a + n) ^ read64(data, b + n);
        if x != 0 {
            return n + (x.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// Parses `input` into literals and matches, feeding `sink`.
pub(crate) fn parse<S: TokenSink>(input: &[u8], sink: &mut S) -> Result<(), S::Error> {
    // Slots hold the low 16 bits of a position; a slot is only a hint, checked against the
    // window and the bytes themselves, so stale or wrapped values are harmless.
    let mut table = [0u16; 1 << HASH_BITS];
    let n = input.len();
    let mut lit_start = 0;
    let mut i = 0;
    while i + MIN_LEN <= n {
        let v = read32(input, i);
        let h = hash(v);
        let dist = (i as u16).wrapping_sub(table[h]) as usize;
        table[h] = i as u16;
        if dist == 0 || dist > WINDOW || dist > i {
            i += 1;
            continue;
        }
        let cand = i - dist;
        if read32(input, cand) != v {
            i += 1;
            continue;
        }
        let max = (n - i).min(MAX_MATCH);
        let mut len = MIN_LEN + common_len(input, cand + MIN_LEN, i + MIN_LEN, max - MIN_LEN);
        let mut dist = dist;
        // One step of lazy evaluation: a longer match at the next position wins, and the byte
        // here becomes a literal.
        if len < LAZY_BELOW && i + 1 + MIN_LEN <= n {
            let j = i + 1;
            let v1 = read32(input, j);
            let h1 = hash(v1);
            let d1 = (j as u16).wrapping_sub(table[h1]) as usize;
            table[h1] = j as u16;
            if d1 != 0 && d1 <= WINDOW && d1 <= j && read32(input, j - d1) == v1 {
                let max1 = (n - j).min(MAX_MATCH);
                let len1 = MIN_LEN + common_len(input, j - d1 + MIN_LEN, j + MIN_LEN, max1 - MIN_LEN);
                if len1 > len {
                    i = j;
                    len = len1;
                    dist = d1;
                }
            }
        }
        if lit_start < i {
            sink.literals(&input[lit_start..i])?;
        }
        sink.matched(len, dist)?;
        let end = i + len;
        let stop = (i + 1 + INSERT_IN_MATCH)
            .min(end)
            .min(n.saturating_sub(MIN_LEN - 1));
        for j in i + 1..stop {
            table[hash(read32(input, j))] = j as u16;
        }
        i = end;
        lit_start = i;
    }
    if lit_start < n {
        sink.literals(&input[lit_start..])?;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Collects tokens and rebuilds the data from them.
    #[derive(Default)]
    pub(crate) struct Rebuild {
        pub out: Vec<u8>,
        pub matches: usize,
    }

    impl TokenSink for Rebuild {
        type Error = ();
        fn literals(&mut self, bytes: &[u8]) -> Result<(), ()> {
            self.out.extend_from_slice(bytes);
            Ok(())
        }
        fn matched(&mut self, len: usize, dist: usize) -> Result<(), ()> {
            assert!((3..=258).contains(&len) && (1..=WINDOW).contains(&dist));
            assert!(dist <= self.out.len());
            for _ in 0..len {
                let b = self.out[self.out.len() - dist];
                self.out.push(b);
            }
            self.matches += 1;
            Ok(())
        }
    }

    fn check(data: &[u8]) -> usize {
        let mut r = Rebuild::default();
        parse(data, &mut r).unwrap();
        assert_eq!(r.out, data);
        r.matches
    }

    #[test]
    fn parses_back_to_the_input() {
        assert_eq!(check(b""), 0);
        assert_eq!(check(b"abc"), 0);
        assert!(check(&[0u8; 4096]) > 0);
        let text = b"the quick brown fox jumps over the lazy dog; the quick brown fox again".repeat(20);
        assert!(check(&text) > 0);
        let noise: Vec<u8> = (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 17) as u8)
            .collect();
        check(&noise);
    }

    #[test]
    fn never_reaches_beyond_the_window() {
        // A block that repeats only at distance 5000 must not be matched.
        let mut data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
            .collect();
        let head = data[..1000].to_vec();
        data.extend_from_slice(&head);
        check(&data);
        // And a long input of one repeated period still parses (positions wrap the u16 slots).
        let long: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 4099) as u8 ^ (i / 4099) as u8)
            .collect();
        check(&long);
    }
}
