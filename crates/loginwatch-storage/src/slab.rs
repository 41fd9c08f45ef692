//! [`SlabMap`]: the table under every per-key state (accounts, shared_ip networks). Entries
//! are packed densely in a `Vec` (removal moves the last one into the gap), each with its
//! newest time in an array of its own, and found through a hashbrown table of their `u32`
//! positions.
//!
//! Why not a `HashMap<K, V>`: its buckets are as big as an entry and sit at 44–88 % load (a
//! million 48-byte entries take 2^21 buckets, ~98 bytes an entry), while 5-byte buckets of
//! positions plus the dense slab take ~58; a position can be found and its entry prefetched
//! before the key is needed ([`SlabMap::prefetch`]), which a map's buckets reached only by a
//! probe cannot; and the eviction and expiry sweeps read the dense times (8 bytes an entry)
//! instead of every entry.
//!
//! Eviction is by least recent time, in batches, so it costs amortised O(1) per insert
//! without a per-entry LRU list: [`least_recent_cutoff`] finds the time below which a batch
//! lies, [`SlabMap::evict_least_recent`] removes exactly that batch (ties by key, so the
//! result does not depend on the slab's order).
//!
//! Tables hash with hashbrown's default hasher (foldhash, seeded per process: keys come from
//! the input, so a fixed seed would invite collisions by choice); a table's size is bounded by
//! its owner either way.

use crate::hint::{prefetch, prefetch_val};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::borrow::Borrow;
use std::hash::{BuildHasher, Hash};

/// Dense entries found through a table of positions (see the module docs).
pub struct SlabMap<K, V> {
    entries: Vec<(K, V)>,
    /// `times[i]`: the newest time recorded for `entries[i]`.
    times: Vec<i64>,
    /// Positions in `entries`, by the hash of the key.
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
}

impl<K, V> Default for SlabMap<K, V> {
    fn default() -> Self {
        SlabMap {
            entries: Vec::new(),
            times: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
        }
    }
}

impl<K, V> std::fmt::Debug for SlabMap<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlabMap")
            .field("len", &self.entries.len())
            .finish_non_exhaustive()
    }
}

/// The time at or below which the `batch` least recent of `times` lie (the batch-th
/// smallest); `None` when `times` is empty. Reorders `times`.
pub fn least_recent_cutoff(times: &mut [i64], batch: usize) -> Option<i64> {
    if times.is_empty() {
        return None;
    }
    let at = batch.clamp(1, times.len()) - 1;
    Some(*times.select_nth_unstable(at).1)
}

impl<K, V> SlabMap<K, V> {
    /// An empty map hashing with `hasher` (so a hash computed before, e.g. to pick a lock
    /// stripe, serves [`SlabMap::find`] too).
    pub fn with_hasher(hasher: DefaultHashBuilder) -> Self {
        SlabMap {
            hasher,
            ..SlabMap::default()
        }
    }

    /// Estimated bytes of one entry: its key and value, its time, and its index bucket
    /// (position and control byte at 7/8 load).
    pub const SLOT_BYTES: usize = std::mem::size_of::<(K, V)>() + 8 + 5 * 8 / 7;

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every entry's newest time, in slab order.
    pub fn times(&self) -> &[i64] {
        &self.times
    }

    /// The entry at `at` (a position [`SlabMap::find`] or [`SlabMap::insert`] gave).
    pub fn get(&self, at: usize) -> (&K, &V, i64) {
        let (k, v) = &self.entries[at];
        (k, v, self.times[at])
    }

    /// The value and newest time at `at`, to update.
    pub fn get_mut(&mut self, at: usize) -> (&mut V, &mut i64) {
        (&mut self.entries[at].1, &mut self.times[at])
    }

    /// Every entry with its newest time, in slab order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V, i64)> {
        self.entries
            .iter()
            .zip(&self.times)
            .map(|((k, v), t)| (k, v, *t))
    }

    /// Every value, to update in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }
}

impl<K: Hash + Eq, V> SlabMap<K, V> {
    /// The hash `find`, `insert` and `prefetch` take for `key` (a `&str` for `String`-like
    /// keys whose `Hash` agrees with `str`'s).
    pub fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The position of `key`, whose hash is `hash`.
    pub fn find<Q: Eq + ?Sized>(&self, hash: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        self.find_by(hash, |k| k.borrow() == key)
    }

    /// [`SlabMap::find`] with the key compared by `is` (e.g. without a conversion).
    pub fn find_by(&self, hash: u64, is: impl Fn(&K) -> bool) -> Option<usize> {
        let entries = &self.entries;
        let at = self.index.find(hash, |&i| is(&entries[i as usize].0))?;
        Some(*at as usize)
    }

    /// Adds `key` (which must not be present; `hash` is its hash) with `value` and `time`;
    /// returns its position. The slab grows by half, not double: it is most of the memory.
    pub fn insert(&mut self, hash: u64, key: K, value: V, time: i64) -> usize {
        let at = self.entries.len();
        if at == self.entries.capacity() {
            let more = (at / 2).max(16);
            self.entries.reserve_exact(more);
            self.times.reserve_exact(more);
        }
        self.entries.push((key, value));
        self.times.push(time);
        let (entries, hasher) = (&self.entries, &self.hasher);
        self.index.insert_unique(hash, at as u32, |&i| {
            hasher.hash_one(&entries[i as usize].0)
        });
        at
    }

    /// Starts loading the entry and time of the first position whose hash tag matches
    /// `hash` (almost always the key's own: the index is small enough to stay cached, the
    /// slab is not). A hint: it changes nothing.
    pub fn prefetch(&self, hash: u64) {
        if let Some(&i) = self.index.find(hash, |_| true) {
            if let Some(entry) = self.entries.get(i as usize) {
                prefetch_val(entry);
                prefetch(&self.times[i as usize]);
            }
        }
    }

    /// Removes the entry at `at`, moving the last one into its place.
    pub fn remove_at(&mut self, at: usize) -> (K, V, i64) {
        let hash = self.hasher.hash_one(&self.entries[at].0);
        if let Ok(entry) = self.index.find_entry(hash, |&i| i as usize == at) {
            entry.remove();
        }
        let last = self.entries.len() - 1;
        if at != last {
            let moved = self.hasher.hash_one(&self.entries[last].0);
            if let Some(i) = self.index.find_mut(moved, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        let (k, v) = self.entries.swap_remove(at);
        (k, v, self.times.swap_remove(at))
    }

    /// Removes the entries `go` accepts (by newest time, key and value), handing each to
    /// `removed`; returns how many went, and gives back what a large sweep emptied.
    pub fn remove_where(
        &mut self,
        mut go: impl FnMut(i64, &K, &V) -> bool,
        mut removed: impl FnMut(K, V, i64),
    ) -> usize {
        let (mut at, mut count) = (0, 0);
        while at < self.entries.len() {
            let (k, v) = &self.entries[at];
            if go(self.times[at], k, v) {
                let (k, v, t) = self.remove_at(at);
                removed(k, v, t);
                count += 1;
            } else {
                at += 1;
            }
        }
        if count > 0 {
            self.shrink_after_removals();
        }
        count
    }

    /// Removes the `batch` entries with the oldest newest times (ties by key: the smallest
    /// go first, whatever the slab order), handing each to `removed`; returns how many went.
    pub fn evict_least_recent(&mut self, batch: usize, removed: impl FnMut(K, V, i64)) -> usize
    where
        K: Ord + Clone,
    {
        let mut times = self.times.clone();
        let Some(cutoff) = least_recent_cutoff(&mut times, batch) else {
            return 0;
        };
        let older = times.iter().filter(|t| **t < cutoff).count();
        let mut tied: Vec<&K> = self
            .iter()
            .filter(|(_, _, t)| *t == cutoff)
            .map(|(k, _, _)| k)
            .collect();
        let take = batch.clamp(1, self.len()) - older;
        let last_tied = match take {
            0 => None,
            n => Some(tied.select_nth_unstable(n - 1).1.clone()),
        };
        let last_tied = last_tied.as_ref();
        self.remove_where(
            |t, k, _| t < cutoff || (t == cutoff && last_tied.is_some_and(|l| k <= l)),
            removed,
        )
    }

    /// Gives back memory after removals emptied much of the slab.
    fn shrink_after_removals(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > 2 * len + 16 {
            self.entries.shrink_to(len + len / 4);
            self.times.shrink_to(len + len / 4);
        }
        if self.index.capacity() > 4 * len + 16 {
            let (entries, hasher) = (&self.entries, &self.hasher);
            self.index
                .shrink_to(len, |&i| hasher.hash_one(&entries[i as usize].0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn touch(m: &mut SlabMap<String, u32>, k: &str, t: i64) {
        let h = m.hash(k);
        match m.find(h, k) {
            Some(at) => {
                let time = m.get_mut(at).1;
                *time = (*time).max(t);
            }
            None => {
                m.insert(h, k.to_owned(), 0, t);
            }
        }
    }

    fn keys(m: &SlabMap<String, u32>) -> Vec<String> {
        let mut k: Vec<String> = m.iter().map(|(k, _, _)| k.clone()).collect();
        k.sort();
        k
    }

    #[test]
    fn evicts_least_recent_with_ties_by_key() {
        let mut m = SlabMap::default();
        for (k, t) in [("c", 10), ("b", 10), ("a", 30), ("d", 40)] {
            touch(&mut m, k, t);
        }
        let mut gone = Vec::new();
        assert_eq!(m.evict_least_recent(1, |k, _, _| gone.push(k)), 1);
        assert_eq!(gone, ["b"]);
        assert_eq!(keys(&m), ["a", "c", "d"]);
        assert_eq!(m.evict_least_recent(2, |_, _, _| {}), 2);
        assert_eq!(keys(&m), ["d"]);
        assert_eq!(
            SlabMap::<String, u32>::default().evict_least_recent(3, |_, _, _| {}),
            0
        );
    }

    #[test]
    fn cutoff_of_a_batch() {
        assert_eq!(least_recent_cutoff(&mut [], 3), None);
        assert_eq!(least_recent_cutoff(&mut [5, 1, 4, 2], 2), Some(2));
        assert_eq!(least_recent_cutoff(&mut [5, 1], 9), Some(5));
        assert_eq!(least_recent_cutoff(&mut [5, 1], 0), Some(1));
    }

    proptest! {
        /// Any sequence of inserts, touches and removals leaves every entry findable at its
        /// own position, with the time and value a `BTreeMap` model says.
        #[test]
        fn agrees_with_a_map(ops in proptest::collection::vec((0u8..4, 0u16..300, 0i64..1000), 1..600)) {
            let mut m: SlabMap<String, u32> = SlabMap::default();
            let mut model: BTreeMap<String, (u32, i64)> = BTreeMap::new();
            for (op, k, t) in ops {
                let key = format!("k{k}");
                match op {
                    0 | 1 => {
                        touch(&mut m, &key, t);
                        let e = model.entry(key).or_insert((0, t));
                        e.1 = e.1.max(t);
                    }
                    2 => {
                        let h = m.hash(key.as_str());
                        if let Some(at) = m.find(h, key.as_str()) {
                            m.remove_at(at);
                        }
                        model.remove(&key);
                    }
                    _ => {
                        m.remove_where(|time, _, _| time < t / 4, |_, _, _| {});
                        model.retain(|_, (_, time)| *time >= t / 4);
                    }
                }
            }
            prop_assert_eq!(m.len(), model.len());
            for (at, (k, v, t)) in m.iter().enumerate() {
                prop_assert_eq!(m.find(m.hash(k.as_str()), k.as_str()), Some(at));
                prop_assert_eq!(model.get(k), Some(&(*v, t)));
            }
        }
    }
}
