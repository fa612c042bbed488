//! The blocks the module has handed to its host, by start address.

use std::collections::BTreeMap;

/// Live blocks: start -> length as the host was told it.
#[derive(Debug, Default)]
pub struct Blocks {
    live: BTreeMap<usize, usize>,
}

impl Blocks {
    pub const fn new() -> Blocks {
        Blocks {
            live: BTreeMap::new(),
        }
    }

    pub fn insert(&mut self, start: usize, len: usize) {
        self.live.insert(start, len);
    }

    /// Forgets the block at `start` when it has exactly this length: true
    /// when the caller may free it. Anything else (a pointer into a block, a
    /// freed block, a wrong length) is refused: leaking a block costs less
    /// than freeing memory the allocator does not own.
    pub fn remove(&mut self, start: usize, len: usize) -> bool {
        if self.live.get(&start) == Some(&len) {
            self.live.remove(&start);
            true
        } else {
            false
        }
    }

    /// Whether `start..start + len` lies inside one live block.
    pub fn contains(&self, start: usize, len: usize) -> bool {
        let Some(end) = start.checked_add(len) else {
            return false;
        };
        self.live
            .range(..=start)
            .next_back()
            .is_some_and(|(&at, &size)| at.checked_add(size).is_some_and(|e| end <= e))
    }

    pub fn len(&self) -> usize {
        self.live.len()
    }

    pub fn is_empty(&self) -> bool {
        self.live.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frees_only_known_blocks_with_their_length() {
        let mut b = Blocks::new();
        b.insert(1000, 16);
        b.insert(2000, 8);
        assert!(!b.remove(1000, 15), "wrong length");
        assert!(!b.remove(1004, 12), "inside a block");
        assert!(!b.remove(3000, 8), "never handed out");
        assert!(b.remove(1000, 16));
        assert!(!b.remove(1000, 16), "twice");
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn ranges_must_lie_inside_one_block() {
        let mut b = Blocks::new();
        b.insert(1000, 16);
        b.insert(1016, 16);
        assert!(b.contains(1000, 16));
        assert!(b.contains(1004, 4));
        assert!(b.contains(1016, 0));
        assert!(!b.contains(1000, 17), "runs into the next block");
        assert!(!b.contains(999, 2));
        assert!(!b.contains(usize::MAX, 2), "overflow");
        assert!(!b.contains(5000, 1));
        assert!(!Blocks::new().contains(0, 0));
    }
}
