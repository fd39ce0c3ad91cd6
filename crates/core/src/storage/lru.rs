//! A least-recently-used map bounded by bytes, for the in-isolate memory tier (`ramCache`).
//!
//! Entries live in a slab (`Vec`) linked into a recency list by index, with a free list for
//! reuse, and a `HashMap` from key to slot: lookups, promotion, insertion and eviction are
//! O(1) amortised, and nothing is allocated per operation beyond the key itself.

use std::collections::HashMap;

/// "No slot" in the recency links.
const NIL: usize = usize::MAX;

struct Node<V> {
    key: String,
    value: V,
    /// Bytes charged for this entry: the caller's size plus the key's length.
    cost: usize,
    /// Towards the most recently used end.
    prev: usize,
    /// Towards the least recently used end.
    next: usize,
}

/// A map from `String` keys to values that holds at most `capacity_bytes` in total and no
/// single entry over `max_entry_bytes`, evicting the least recently used entries first.
///
/// An entry is charged the size given to [`ByteLru::insert`] plus the length of its key.
pub struct ByteLru<V> {
    index: HashMap<String, usize>,
    slots: Vec<Option<Node<V>>>,
    free: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    bytes: usize,
    capacity: usize,
    max_entry: usize,
}

impl<V> ByteLru<V> {
    /// An empty map holding at most `capacity_bytes`, with no entry over `max_entry_bytes`.
    pub fn new(capacity_bytes: usize, max_entry_bytes: usize) -> Self {
        ByteLru {
            index: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            bytes: 0,
            capacity: capacity_bytes,
            max_entry: max_entry_bytes,
        }
    }

    /// The value for `key`, marking it most recently used.
    pub fn get(&mut self, key: &str) -> Option<&V> {
        let slot = self.promote(key)?;
        self.node(slot).map(|n| &n.value)
    }

    /// The value for `key`, mutably, marking it most recently used. A change of size is not
    /// seen: insert again to re-charge an entry.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        let slot = self.promote(key)?;
        self.node_mut(slot).map(|n| &mut n.value)
    }

    /// The value for `key`, leaving the recency order alone.
    pub fn peek(&self, key: &str) -> Option<&V> {
        self.index.get(key).and_then(|&slot| self.node(slot)).map(|n| &n.value)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.index.contains_key(key)
    }

    /// Stores `value` under `key` as the most recently used entry, replacing any previous
    /// value, and evicts least recently used entries until the total fits. Returns false, and
    /// drops any previous value for `key` (it is outdated), when the entry alone would exceed
    /// the per-entry maximum or the capacity.
    pub fn insert(&mut self, key: String, value: V, size_bytes: usize) -> bool {
        let cost = size_bytes.saturating_add(key.len());
        if cost > self.max_entry || cost > self.capacity {
            self.remove(&key);
            return false;
        }
        if let Some(slot) = self.promote(&key) {
            let old_cost = self.node(slot).map_or(0, |n| n.cost);
            if let Some(node) = self.node_mut(slot) {
                node.value = value;
                node.cost = cost;
            }
            self.bytes = self.bytes - old_cost + cost;
        } else {
            let slot = self.allocate(Node { key: key.clone(), value, cost, prev: NIL, next: NIL });
            self.index.insert(key, slot);
            self.push_front(slot);
            self.bytes += cost;
        }
        self.evict_to(self.capacity);
        true
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<V> {
        let slot = *self.index.get(key)?;
        self.take(slot).map(|n| n.value)
    }

    /// Removes every entry for which `doomed(key, value)` holds; returns how many.
    pub fn remove_where(&mut self, mut doomed: impl FnMut(&str, &V) -> bool) -> usize {
        let slots: Vec<usize> = (0..self.slots.len())
            .filter(|&slot| self.node(slot).is_some_and(|n| doomed(&n.key, &n.value)))
            .collect();
        slots.into_iter().filter(|&slot| self.take(slot).is_some()).count()
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.index.clear();
        self.slots.clear();
        self.free.clear();
        self.head = NIL;
        self.tail = NIL;
        self.bytes = 0;
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes charged for all entries.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The most bytes held at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The most bytes one entry may be charged.
    pub fn max_entry_bytes(&self) -> usize {
        self.max_entry
    }

    /// Entries from most to least recently used, with the bytes charged for each.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &V, usize)> + '_ {
        let mut slot = self.head;
        std::iter::from_fn(move || {
            let node = self.node(slot)?;
            slot = node.next;
            Some((node.key.as_str(), &node.value, node.cost))
        })
    }

    // -- internals ------------------------------------------------------------------------

    fn node(&self, slot: usize) -> Option<&Node<V>> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    fn node_mut(&mut self, slot: usize) -> Option<&mut Node<V>> {
        self.slots.get_mut(slot).and_then(Option::as_mut)
    }

    /// Moves `key` to the most recently used end; its slot.
    fn promote(&mut self, key: &str) -> Option<usize> {
        let slot = *self.index.get(key)?;
        if slot != self.head {
            self.unlink(slot);
            self.push_front(slot);
        }
        Some(slot)
    }

    fn allocate(&mut self, node: Node<V>) -> usize {
        match self.free.pop() {
            Some(slot) => {
                if let Some(free_slot) = self.slots.get_mut(slot) {
                    *free_slot = Some(node);
                }
                slot
            }
            None => {
                self.slots.push(Some(node));
                self.slots.len() - 1
            }
        }
    }

    /// Unlinks, frees and returns the entry in `slot`.
    fn take(&mut self, slot: usize) -> Option<Node<V>> {
        self.node(slot)?;
        self.unlink(slot);
        let node = self.slots.get_mut(slot).and_then(Option::take)?;
        self.free.push(slot);
        self.index.remove(&node.key);
        self.bytes -= node.cost;
        Some(node)
    }

    fn evict_to(&mut self, limit: usize) {
        while self.bytes > limit && self.tail != NIL {
            if self.take(self.tail).is_none() {
                break;
            }
        }
    }

    fn unlink(&mut self, slot: usize) {
        let Some((prev, next)) = self.node(slot).map(|n| (n.prev, n.next)) else {
            return;
        };
        match self.node_mut(prev) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.node_mut(next) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        if let Some(node) = self.node_mut(slot) {
            node.prev = NIL;
            node.next = NIL;
        }
    }

    fn push_front(&mut self, slot: usize) {
        let old_head = self.head;
        if let Some(node) = self.node_mut(slot) {
            node.prev = NIL;
            node.next = old_head;
        }
        match self.node_mut(old_head) {
            Some(h) => h.prev = slot,
            None => self.tail = slot,
        }
        self.head = slot;
    }
}

impl<V> std::fmt::Debug for ByteLru<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteLru")
            .field("len", &self.len())
            .field("bytes", &self.bytes)
            .field("capacity", &self.capacity)
            .field("max_entry", &self.max_entry)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::XorShift;

    /// Keys from most to least recently used.
    fn order<V>(lru: &ByteLru<V>) -> Vec<String> {
        lru.iter().map(|(k, _, _)| k.to_string()).collect()
    }

    #[test]
    fn least_recently_used_is_evicted_first() {
        // Keys are one byte, so each entry costs 10 + 1.
        let mut lru = ByteLru::new(33, 100);
        assert!(lru.insert("a".into(), 1, 10));
        assert!(lru.insert("b".into(), 2, 10));
        assert!(lru.insert("c".into(), 3, 10));
        assert_eq!(lru.bytes(), 33);
        assert_eq!(lru.get("a"), Some(&1));
        assert!(lru.insert("d".into(), 4, 10));
        assert_eq!(order(&lru), vec!["d", "a", "c"]);
        assert_eq!(lru.peek("b"), None);
        assert_eq!(lru.len(), 3);
        assert_eq!(lru.bytes(), 33);
    }

    #[test]
    fn peek_does_not_promote() {
        let mut lru = ByteLru::new(22, 100);
        lru.insert("a".into(), 1, 10);
        lru.insert("b".into(), 2, 10);
        assert_eq!(lru.peek("a"), Some(&1));
        lru.insert("c".into(), 3, 10);
        assert!(!lru.contains_key("a"));
        assert!(lru.contains_key("b"));
    }

    #[test]
    fn a_big_entry_evicts_several_small_ones() {
        let mut lru = ByteLru::new(100, 100);
        for k in ["a", "b", "c", "d"] {
            lru.insert(k.into(), (), 19);
        }
        assert_eq!(lru.bytes(), 80);
        assert!(lru.insert("big".into(), (), 61));
        assert_eq!(order(&lru), vec!["big", "d"]);
        assert_eq!(lru.bytes(), 64 + 20);
    }

    #[test]
    fn too_big_entries_are_refused_and_drop_the_old_value() {
        let mut lru = ByteLru::new(100, 50);
        assert!(lru.insert("k".into(), "small", 10));
        assert!(!lru.insert("k".into(), "huge", 50));
        assert_eq!(lru.peek("k"), None);
        assert_eq!(lru.bytes(), 0);
        assert!(lru.insert("k".into(), "fits", 49));
        assert!(!lru.insert("other".into(), "huge", usize::MAX));
        assert_eq!(lru.peek("k"), Some(&"fits"));
        let mut tiny = ByteLru::new(10, 1000);
        assert!(!tiny.insert("k".into(), (), 10));
        assert!(tiny.is_empty());
    }

    #[test]
    fn replacing_a_value_recharges_it_and_promotes_it() {
        let mut lru = ByteLru::new(100, 100);
        lru.insert("a".into(), 1, 10);
        lru.insert("b".into(), 2, 10);
        assert!(lru.insert("a".into(), 3, 40));
        assert_eq!(lru.len(), 2);
        assert_eq!(lru.bytes(), 41 + 11);
        assert_eq!(order(&lru), vec!["a", "b"]);
        assert_eq!(lru.peek("a"), Some(&3));
        // Growing it past the capacity evicts the others, never itself.
        assert!(lru.insert("a".into(), 4, 95));
        assert_eq!(order(&lru), vec!["a"]);
        assert_eq!(lru.bytes(), 96);
    }

    #[test]
    fn removal_frees_bytes_and_slots_are_reused() {
        let mut lru = ByteLru::new(1000, 1000);
        for i in 0..10 {
            lru.insert(format!("k{i}"), i, 8);
        }
        assert_eq!(lru.bytes(), 100);
        assert_eq!(lru.remove("k3"), Some(3));
        assert_eq!(lru.remove("k3"), None);
        assert_eq!(lru.bytes(), 90);
        let removed = lru.remove_where(|k, v| k.ends_with('7') || v % 2 == 0);
        assert_eq!(removed, 6);
        assert_eq!(order(&lru), vec!["k9", "k5", "k1"]);
        assert_eq!(lru.bytes(), 30);
        lru.insert("new".into(), 0, 7);
        assert_eq!(lru.slots.len(), 10, "freed slots are reused");
        lru.clear();
        assert!(lru.is_empty());
        assert_eq!(lru.bytes(), 0);
        assert_eq!(lru.get("k1"), None);
    }

    #[test]
    fn get_mut_promotes_and_edits() {
        let mut lru = ByteLru::new(22, 100);
        lru.insert("a".into(), 1, 10);
        lru.insert("b".into(), 2, 10);
        if let Some(v) = lru.get_mut("a") {
            *v = 10;
        }
        lru.insert("c".into(), 3, 10);
        assert_eq!(lru.peek("a"), Some(&10));
        assert_eq!(lru.peek("b"), None);
    }

    /// A slow, obviously correct model: a Vec ordered from least to most recently used.
    #[derive(Default)]
    struct Model(Vec<(String, u64, usize)>);

    impl Model {
        fn touch(&mut self, key: &str) -> Option<u64> {
            let i = self.0.iter().position(|(k, _, _)| k == key)?;
            let entry = self.0.remove(i);
            let value = entry.1;
            self.0.push(entry);
            Some(value)
        }

        fn bytes(&self) -> usize {
            self.0.iter().map(|e| e.2).sum()
        }
    }

    #[test]
    fn random_operations_match_a_simple_model() {
        let (capacity, max_entry) = (300, 120);
        let mut rng = XorShift(0x1234_5678_9abc_def1);
        let mut lru = ByteLru::new(capacity, max_entry);
        let mut model = Model::default();
        for step in 0..20_000u64 {
            let key = format!("k{}", rng.below(40));
            match rng.below(10) {
                0..=3 => {
                    let size = rng.below(130);
                    let cost = size + key.len();
                    let stored = lru.insert(key.clone(), step, size);
                    model.0.retain(|(k, _, _)| *k != key);
                    assert_eq!(stored, cost <= max_entry);
                    if stored {
                        model.0.push((key, step, cost));
                        while model.bytes() > capacity {
                            model.0.remove(0);
                        }
                    }
                }
                4..=6 => assert_eq!(lru.get(&key).copied(), model.touch(&key)),
                7 => {
                    let expected = model.0.iter().find(|e| e.0 == key).map(|e| e.1);
                    assert_eq!(lru.peek(&key).copied(), expected);
                }
                8 => {
                    let expected = model.0.iter().position(|e| e.0 == key).map(|i| model.0.remove(i).1);
                    assert_eq!(lru.remove(&key), expected);
                }
                _ => {
                    let modulus = rng.next() % 7 + 2;
                    let before = model.0.len();
                    model.0.retain(|e| e.1 % modulus != 0);
                    assert_eq!(lru.remove_where(|_, v| v % modulus == 0), before - model.0.len());
                }
            }
            assert_eq!(lru.bytes(), model.bytes(), "step {step}");
            assert!(lru.bytes() <= capacity);
            assert_eq!(lru.len(), model.0.len());
            let expected: Vec<String> = model.0.iter().rev().map(|e| e.0.clone()).collect();
            assert_eq!(order(&lru), expected, "step {step}");
        }
    }
}
