//! The table of tracked accounts and its total bound.
//!
//! - **Capacity**: at most `max_accounts`. When a new account would exceed it, the least
//!   recently seen accounts (smallest newest event time; ties broken by account id, so the
//!   result is deterministic) are evicted in one batch of `max(1, max_accounts / 64)`, which
//!   keeps eviction amortised O(1) per new account without a per-account LRU index.
//! - **Idleness**: accounts whose newest event is more than `idle_timeout` behind the highest
//!   event time seen are forgotten; the sweep runs each time that high-water mark advances by
//!   `idle_timeout / 16`.
//!
//! Both are counted (`evicted`, `expired`). The byte estimate (`approx_bytes`) is each
//! account's slab entry and index bucket (at 7/8 load), its id and its heap.

use crate::compact::KeyStr;
use crate::state::AccountState;
use hashbrown::{DefaultHashBuilder, HashTable};
use loginwatch_model::hint::prefetch_val;
use std::hash::BuildHasher;

/// Tracked accounts by id: the states packed densely in `slab` (removal moves the last one
/// into the gap), found through `index`, a hashbrown table of their positions.
///
/// Why not a `HashMap<KeyStr, AccountState>`: its 49-byte buckets sit at 44–88 % load (a
/// million accounts take 2^21 buckets, 98 bytes an account), while 5-byte buckets of `u32`
/// positions plus the dense slab take ~58; and a position can be prefetched before the
/// account is needed, which the map's entries cannot (see [`Accounts::prefetch`]).
/// hashbrown's default hasher (foldhash) is several times cheaper than SipHash on short ids;
/// account ids come from the input, so a flooding attacker could aim for collisions:
/// foldhash is seeded per process, and `max_accounts` bounds the table either way.
#[derive(Debug)]
pub(crate) struct Accounts {
    slab: Vec<(KeyStr, AccountState)>,
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    max: usize,
    /// Accounts evicted because the table was full.
    pub evicted: u64,
    /// Accounts forgotten after `idle_timeout`.
    pub expired: u64,
    /// Estimated bytes of the table and every account's state; the engine adds the change of
    /// each state it touches.
    pub bytes: usize,
    next_sweep: Option<i64>,
}

/// Estimated bytes of one account's slot: its slab entry (id and state) and its index
/// bucket (position and control byte) at 7/8 load.
const SLOT_BYTES: usize = std::mem::size_of::<(KeyStr, AccountState)>() + 5 * 8 / 7;

impl Accounts {
    pub(crate) fn new(max: usize) -> Self {
        Accounts {
            slab: Vec::new(),
            index: HashTable::new(),
            hasher: DefaultHashBuilder::default(),
            // Positions are `u32`.
            max: max.min(u32::MAX as usize),
            evicted: 0,
            expired: 0,
            bytes: 0,
            next_sweep: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Estimated bytes of one account's state with its slot and id.
    pub(crate) fn account_bytes(id: &KeyStr, state: &AccountState) -> usize {
        SLOT_BYTES + id.heap_bytes() + state.heap_bytes()
    }

    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }

    /// The position of `id` in the slab.
    fn find(&self, hash: u64, id: &str) -> Option<usize> {
        let slab = &self.slab;
        let at = self
            .index
            .find(hash, |&i| slab[i as usize].0.as_str() == id)?;
        Some(*at as usize)
    }

    /// Starts loading what looking up `id` and observing its event will read, one level per
    /// stage: 0 the slab entry of the first position whose hash tag matches (almost always
    /// the account's: the index is small enough to stay in the CPU cache, the slab is not),
    /// 1 the account's memory box, 2 what that box points to.
    pub(crate) fn prefetch(&self, id: &str, stage: usize) {
        let hash = self.hash(id);
        if stage == 0 {
            if let Some(entry) = self
                .index
                .find(hash, |_| true)
                .and_then(|&i| self.slab.get(i as usize))
            {
                prefetch_val(entry);
            }
        } else if let Some(i) = self.find(hash, id) {
            self.slab[i].1.prefetch(stage - 1);
        }
    }

    /// The state of `id`, created (evicting if full) when new; the flag says it was created.
    pub(crate) fn get_or_insert(&mut self, id: &str) -> (&mut AccountState, bool) {
        let hash = self.hash(id);
        if let Some(i) = self.find(hash, id) {
            return (&mut self.slab[i].1, false);
        }
        if self.slab.len() >= self.max {
            self.evict_least_recent((self.max / 64).max(1));
        }
        let (key, state) = (KeyStr::new(id), AccountState::default());
        self.bytes += Self::account_bytes(&key, &state);
        let Accounts {
            slab,
            index,
            hasher,
            ..
        } = self;
        let at = slab.len();
        slab.push((key, state));
        index.insert_unique(hash, at as u32, |&i| {
            hasher.hash_one(slab[i as usize].0.as_str())
        });
        (&mut slab[at].1, true)
    }

    /// Removes the account at slab position `at`, moving the last one into its place.
    fn remove_at(&mut self, at: usize) -> (KeyStr, AccountState) {
        let hash = self.hash(self.slab[at].0.as_str());
        if let Ok(entry) = self.index.find_entry(hash, |&i| i as usize == at) {
            entry.remove();
        }
        let last = self.slab.len() - 1;
        if at != last {
            let moved = self.hash(self.slab[last].0.as_str());
            if let Some(i) = self.index.find_mut(moved, |&i| i as usize == last) {
                *i = at as u32;
            }
        }
        let removed = self.slab.swap_remove(at);
        self.bytes = self
            .bytes
            .saturating_sub(Self::account_bytes(&removed.0, &removed.1));
        removed
    }

    /// Removes the `batch` least recently seen accounts.
    fn evict_least_recent(&mut self, batch: usize) {
        let batch = batch.clamp(1, self.slab.len().max(1));
        let mut times: Vec<i64> = self.slab.iter().map(|(_, s)| s.newest.0).collect();
        if times.is_empty() {
            return;
        }
        let (_, cutoff, _) = times.select_nth_unstable(batch - 1);
        let cutoff = *cutoff;
        let older = times.iter().filter(|t| **t < cutoff).count();
        let mut tied: Vec<&str> = self
            .slab
            .iter()
            .filter(|(_, s)| s.newest.0 == cutoff)
            .map(|(k, _)| k.as_str())
            .collect();
        tied.sort_unstable();
        let victims: Vec<String> = tied
            .into_iter()
            .take(batch - older)
            .map(str::to_owned)
            .collect();
        self.remove_where(|_, s| s.newest.0 < cutoff);
        for v in victims {
            if let Some(at) = self.find(self.hash(&v), &v) {
                self.remove_at(at);
            }
        }
        self.evicted += batch as u64;
    }

    fn remove_where(&mut self, mut pred: impl FnMut(&KeyStr, &AccountState) -> bool) {
        let mut at = 0;
        while at < self.slab.len() {
            let (k, s) = &self.slab[at];
            if pred(k, s) {
                self.remove_at(at);
            } else {
                at += 1;
            }
        }
        // Give back what a large sweep emptied.
        if self.slab.capacity() > 2 * self.slab.len() + 1024 {
            self.slab.shrink_to_fit();
            let Accounts {
                slab,
                index,
                hasher,
                ..
            } = self;
            index.shrink_to_fit(|&i| hasher.hash_one(slab[i as usize].0.as_str()));
        }
    }

    /// Forgets idle accounts when the high-water mark `watermark_ms` has advanced far enough
    /// since the last sweep.
    pub(crate) fn expire_idle(&mut self, watermark_ms: i64, idle_ms: i64) {
        let due = *self
            .next_sweep
            .get_or_insert(watermark_ms.saturating_add(idle_ms / 16));
        if watermark_ms < due {
            return;
        }
        self.next_sweep = Some(watermark_ms.saturating_add(idle_ms / 16));
        let cut = watermark_ms.saturating_sub(idle_ms);
        let before = self.slab.len();
        self.remove_where(|_, s| s.newest.0 < cut);
        self.expired += (before - self.slab.len()) as u64;
    }

    /// Sets the capacity, evicting the least recently seen accounts down to it.
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max.min(u32::MAX as usize);
        if self.slab.len() > self.max {
            self.evict_least_recent(self.slab.len() - self.max);
        }
    }

    /// Forgets every account's watch-country marks (the list changed).
    pub(crate) fn clear_watch(&mut self) {
        self.slab.iter_mut().for_each(|(_, s)| s.watch_seen = 0);
    }

    /// Bytes of the whole table, computed by walking it (tests and audits).
    #[cfg(test)]
    pub(crate) fn walk_bytes(&self) -> usize {
        self.slab
            .iter()
            .map(|(k, s)| Self::account_bytes(k, s))
            .sum()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.find(self.hash(id), id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_model::EventTime;

    fn touch(a: &mut Accounts, id: &str, t: i64) {
        a.get_or_insert(id).0.newest = EventTime(t);
    }

    #[test]
    fn evicts_least_recently_seen_with_deterministic_ties() {
        let mut a = Accounts::new(3);
        touch(&mut a, "c", 10);
        touch(&mut a, "b", 10);
        touch(&mut a, "a", 30);
        touch(&mut a, "d", 40); // full: evicts one of the two oldest, "b" by id
        assert!(!a.contains("b") && a.contains("c") && a.contains("a"));
        touch(&mut a, "c", 50); // refresh c; now a (30) is the oldest
        touch(&mut a, "e", 60);
        assert!(!a.contains("a") && a.contains("c") && a.contains("d"));
        assert_eq!((a.len(), a.evicted), (3, 2));
    }

    #[test]
    fn removals_keep_every_position_right() {
        let mut a = Accounts::new(500);
        // 2,000 accounts through a table of 500: evictions (batches of 7), then idle sweeps,
        // move entries around the slab; every survivor must still be found with its state.
        for i in 0..2000i64 {
            touch(&mut a, &format!("acct-{}", (i * 7919) % 2000), i);
            if i >= 1000 {
                a.expire_idle(i, 300);
            }
        }
        assert_eq!(a.index.len(), a.len());
        assert_eq!(a.bytes, a.walk_bytes());
        for (at, (id, state)) in a.slab.iter().enumerate() {
            assert_eq!(a.find(a.hash(id.as_str()), id.as_str()), Some(at));
            assert!(
                state.newest.0 >= 2000 - 300 - 300 / 16,
                "{id:?} idle yet kept"
            );
        }
        assert!(
            a.evicted > 0 && a.expired > 0,
            "{} {}",
            a.evicted,
            a.expired
        );
    }

    #[test]
    fn expires_idle_accounts() {
        let mut a = Accounts::new(10);
        touch(&mut a, "old", 0);
        touch(&mut a, "new", 1000);
        a.expire_idle(1000, 160); // the first call only schedules the sweep
        assert!(a.contains("old"));
        a.expire_idle(1010, 160);
        assert_eq!(a.bytes, a.walk_bytes());
        assert!(!a.contains("old") && a.contains("new"));
        assert_eq!(a.expired, 1);
    }
}
