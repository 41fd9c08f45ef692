//! [`Striped`]: the map under the shared index. Lock stripes, each a [`SlabMap`] (the account
//! table's layout) of entries found through a table of their positions, with every entry's
//! newest time in an array of its own.
//!
//! Why not a `DashMap`: its entries sit inside its buckets, which can only be reached by a
//! probe under the lock, so a network's entry is a cache miss when its login is observed,
//! two per login (host and prefix). Here the position table is small (5 bytes a network,
//! mostly cache-resident), so [`Striped::prefetch`] can find an entry and start loading it
//! while earlier events are processed; and the expiry sweep reads the dense times (8 bytes a
//! network) instead of every entry.

use hashbrown::DefaultHashBuilder;
use loginwatch_storage::SlabMap;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Lock stripes (dashmap's default was 4 per CPU: 8 on two cores; 128 keeps two workers
/// from meeting on one).
const STRIPES: usize = 128;

/// A stripe's lock, on a cache line of its own.
#[repr(align(64))]
struct Lock<T>(Mutex<T>);

/// A concurrent map from `K` to `V` with a newest time per entry (see the module docs).
pub(super) struct Striped<K, V> {
    stripes: Box<[Lock<SlabMap<K, V>>]>,
    /// Every stripe's hasher: a key's hash picks its stripe and finds it there.
    hasher: DefaultHashBuilder,
}

impl<K, V> std::fmt::Debug for Striped<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Striped").finish_non_exhaustive()
    }
}

/// Estimated bytes of an entry whose `(K, V)` takes `kv`: that, its time, and its index
/// bucket (position and control byte at 7/8 load); the slab's growth by half leaves it 5/6
/// full on average.
pub(super) const fn entry_bytes(kv: usize) -> usize {
    (kv + 8) * 6 / 5 + 5 * 8 / 7
}

impl<K: Hash + Eq, V> Striped<K, V> {
    pub(super) fn new() -> Self {
        let hasher = DefaultHashBuilder::default();
        let stripes = (0..STRIPES)
            .map(|_| Lock(Mutex::new(SlabMap::with_hasher(hasher.clone()))))
            .collect();
        Striped { stripes, hasher }
    }

    /// The stripe of `hash`: bits 32–38, which hashbrown uses for neither the bucket (low
    /// bits) nor the tag (top 7 bits) within the stripe's own table.
    fn stripe(&self, hash: u64) -> &Mutex<SlabMap<K, V>> {
        &self.stripes[(hash >> 32) as usize % STRIPES].0
    }

    fn lock(m: &Mutex<SlabMap<K, V>>) -> MutexGuard<'_, SlabMap<K, V>> {
        m.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `time` on `key`'s entry (made by `make` when there is none) and runs `then` on
    /// the entry and its newest time, under the stripe's lock; also says whether it is new.
    pub(super) fn visit<R>(
        &self,
        key: K,
        time: i64,
        make: impl FnOnce() -> V,
        then: impl FnOnce(&mut V, i64) -> R,
    ) -> (R, bool) {
        let hash = self.hasher.hash_one(&key);
        let mut stripe = Self::lock(self.stripe(hash));
        let (at, created) = match stripe.find(hash, &key) {
            Some(at) => (at, false),
            None => (stripe.insert(hash, key, make(), time), true),
        };
        let (value, newest) = stripe.get_mut(at);
        *newest = (*newest).max(time);
        (then(value, *newest), created)
    }

    /// Sets `key`'s entry to `value` with newest time `time`; returns the value it replaced.
    pub(super) fn put(&self, key: K, value: V, time: i64) -> Option<V> {
        let hash = self.hasher.hash_one(&key);
        let mut stripe = Self::lock(self.stripe(hash));
        let old = stripe.find(hash, &key).map(|at| stripe.remove_at(at).1);
        stripe.insert(hash, key, value, time);
        old
    }

    /// Removes `key`'s entry; returns its value.
    pub(super) fn take(&self, key: &K) -> Option<V> {
        let hash = self.hasher.hash_one(key);
        let mut stripe = Self::lock(self.stripe(hash));
        let at = stripe.find(hash, key)?;
        Some(stripe.remove_at(at).1)
    }

    /// Starts loading `key`'s entry and time, if the stripe is free and holds one whose
    /// hash tag matches (almost always `key`'s own). A hint: it changes nothing.
    pub(super) fn prefetch(&self, key: &K) {
        let hash = self.hasher.hash_one(key);
        let stripe = match self.stripe(hash).try_lock() {
            Ok(s) => s,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        stripe.prefetch(hash);
    }

    /// Appends every entry's newest time to `out`.
    pub(super) fn times(&self, out: &mut Vec<i64>) {
        for s in self.stripes.iter() {
            out.extend_from_slice(Self::lock(&s.0).times());
        }
    }

    /// Shows every entry and its newest time to `f`, one stripe locked at a time.
    pub(super) fn for_each(&self, mut f: impl FnMut(&K, &V, i64)) {
        for s in self.stripes.iter() {
            for (k, v, t) in Self::lock(&s.0).iter() {
                f(k, v, t);
            }
        }
    }

    /// Removes the entries whose newest time `go` accepts, handing each to `removed`; reads
    /// only the times of the others. Returns how many went.
    pub(super) fn remove_where(
        &self,
        go: impl Fn(i64) -> bool,
        mut removed: impl FnMut(K, V),
    ) -> usize {
        let mut count = 0;
        for s in self.stripes.iter() {
            count += Self::lock(&s.0).remove_where(|t, _, _| go(t), |k, v, _| removed(k, v));
        }
        count
    }

    /// Runs `f` on `key`'s entry and newest time (`None` when there is none), under the
    /// stripe's lock.
    pub(super) fn read<R>(&self, key: &K, f: impl FnOnce(Option<(&V, i64)>) -> R) -> R {
        let hash = self.hasher.hash_one(key);
        let stripe = Self::lock(self.stripe(hash));
        let entry = stripe.find(hash, key).map(|at| {
            let (_, v, t) = stripe.get(at);
            (v, t)
        });
        f(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_updates_and_removes_entries_by_time() {
        let map: Striped<u64, u64> = Striped::new();
        for k in 0..5000u64 {
            let (seen, created) = map.visit(k, k as i64, || k * 10, |v, newest| (*v, newest));
            assert!(created);
            assert_eq!(seen, (k * 10, k as i64));
        }
        // A later time raises the newest; an earlier one does not lower it.
        let ((v, newest), created) = map.visit(7, 9000, || 0, |v, n| (*v, n));
        assert_eq!((v, newest, created), (70, 9000, false));
        assert_eq!(map.visit(7, 1, || 0, |_, n| n).0, 9000);
        let mut times = Vec::new();
        map.times(&mut times);
        assert_eq!(times.len(), 5000);
        let mut gone = Vec::new();
        let n = map.remove_where(|t| t < 2500, |_, v| gone.push(v));
        assert_eq!(n, 2499, "0..2500 less key 7, whose newest is 9000");
        gone.sort_unstable();
        assert_eq!(gone.first(), Some(&0));
        assert!(!gone.contains(&70));
        // Every survivor is still found at its own entry (positions moved as others went).
        for k in (2500..5000u64).chain([7]) {
            let (v, created) = map.visit(k, 0, || 0, |v, _| *v);
            assert_eq!((v, created), (k * 10, false), "key {k}");
        }
        let (v, created) = map.visit(3, 0, || 1, |v, _| *v);
        assert_eq!((v, created), (1, true), "a removed key starts over");
        assert_eq!(map.put(3, 5, 40), Some(1));
        assert_eq!(map.visit(3, 0, || 0, |v, n| (*v, n)).0, (5, 40));
        map.prefetch(&7);
        map.prefetch(&123_456);
    }
}
