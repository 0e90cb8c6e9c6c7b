//! The writeback order: entries by age, oldest first. Each entry remembers its sequence number
//! here; rotating an entry (second chance) gives it a new, youngest one.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(crate) struct Lru {
    by_age: BTreeMap<u64, u64>,
    next: u64,
}

impl Lru {
    /// Appends `offset` as the youngest; returns its sequence number.
    pub fn push(&mut self, offset: u64) -> u64 {
        let seq = self.next;
        self.next += 1;
        self.by_age.insert(seq, offset);
        seq
    }

    pub fn remove(&mut self, seq: u64) {
        self.by_age.remove(&seq);
    }

    /// The oldest (sequence, offset), left in place.
    pub fn oldest(&self) -> Option<(u64, u64)> {
        self.by_age.iter().next().map(|(s, o)| (*s, *o))
    }

    /// Moves `seq` to the young end; returns the new sequence number.
    pub fn rotate(&mut self, seq: u64) -> u64 {
        match self.by_age.remove(&seq) {
            Some(offset) => self.push(offset),
            None => seq,
        }
    }

    pub fn len(&self) -> usize {
        self.by_age.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oldest_first_and_rotation() {
        let mut l = Lru::default();
        let a = l.push(10);
        let _b = l.push(20);
        assert_eq!(l.oldest(), Some((a, 10)));
        let a2 = l.rotate(a);
        assert_eq!(l.oldest().map(|x| x.1), Some(20));
        l.remove(a2);
        assert_eq!(l.len(), 1);
    }
}
