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
//! Both are counted (`evicted`, `expired`). The byte estimate (`approx_bytes`) is the table's
//! slots at hashbrown's 7/8 load, account ids, and each account's heap.

use crate::compact::KeyStr;
use crate::state::AccountState;
// hashbrown rather than std's map: its default hasher (foldhash) is several times cheaper
// than SipHash on short account ids, and `entry_ref` finds or creates an account with one
// hash and no key allocation on the hit path. Account ids come from the input, so a
// flooding attacker could aim for collisions; foldhash is seeded per process, and
// `max_accounts` bounds the table either way.
use hashbrown::hash_map::EntryRef;
use hashbrown::HashMap;

/// Tracked accounts by id.
#[derive(Debug)]
pub(crate) struct Accounts {
    map: HashMap<KeyStr, AccountState>,
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

/// Estimated bytes of one table slot (key, state, control byte) at 7/8 load.
const SLOT_BYTES: usize = (std::mem::size_of::<(KeyStr, AccountState)>() + 1) * 8 / 7;

impl Accounts {
    pub(crate) fn new(max: usize) -> Self {
        Accounts {
            map: HashMap::new(),
            max,
            evicted: 0,
            expired: 0,
            bytes: 0,
            next_sweep: None,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Estimated bytes of one account's state with its slot and id.
    pub(crate) fn account_bytes(id: &KeyStr, state: &AccountState) -> usize {
        SLOT_BYTES + id.heap_bytes() + state.heap_bytes()
    }

    /// Starts loading the state of `id`, if tracked: from stage 0 its memory box (the table
    /// lookup itself is a load, but a short loop of them overlaps their misses), then what
    /// that box points to.
    pub(crate) fn prefetch(&self, id: &str, stage: usize) {
        if stage > 1 {
            return;
        }
        if let Some(state) = self.map.get(id) {
            state.prefetch(stage);
        }
    }

    /// The state of `id`, created (evicting if full) when new; the flag says it was created.
    pub(crate) fn get_or_insert(&mut self, id: &str) -> (&mut AccountState, bool) {
        if self.map.len() >= self.max && !self.map.contains_key(id) {
            self.evict_least_recent((self.max / 64).max(1));
        }
        match self.map.entry_ref(id) {
            EntryRef::Occupied(e) => (e.into_mut(), false),
            EntryRef::Vacant(v) => {
                let (key, state) = (KeyStr::new(id), AccountState::default());
                self.bytes += Self::account_bytes(&key, &state);
                (v.insert_with_key(key, state), true)
            }
        }
    }

    /// Removes the `batch` least recently seen accounts.
    fn evict_least_recent(&mut self, batch: usize) {
        let batch = batch.clamp(1, self.map.len().max(1));
        let mut times: Vec<i64> = self.map.values().map(|s| s.newest.0).collect();
        if times.is_empty() {
            return;
        }
        let (_, cutoff, _) = times.select_nth_unstable(batch - 1);
        let cutoff = *cutoff;
        let older = times.iter().filter(|t| **t < cutoff).count();
        let mut tied: Vec<&str> = self
            .map
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
            if let Some((k, s)) = self.map.remove_entry(v.as_str()) {
                self.bytes = self.bytes.saturating_sub(Self::account_bytes(&k, &s));
            }
        }
        self.evicted += batch as u64;
    }

    fn remove_where(&mut self, mut pred: impl FnMut(&KeyStr, &AccountState) -> bool) {
        let mut freed = 0;
        self.map.retain(|k, s| {
            let go = pred(k, s);
            if go {
                freed += Self::account_bytes(k, s);
            }
            !go
        });
        self.bytes = self.bytes.saturating_sub(freed);
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
        let before = self.map.len();
        self.remove_where(|_, s| s.newest.0 < cut);
        self.expired += (before - self.map.len()) as u64;
    }

    /// Sets the capacity, evicting the least recently seen accounts down to it.
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max;
        if self.map.len() > max {
            self.evict_least_recent(self.map.len() - max);
        }
    }

    /// Forgets every account's watch-country marks (the list changed).
    pub(crate) fn clear_watch(&mut self) {
        self.map.values_mut().for_each(|s| s.watch_seen = 0);
    }

    /// Bytes of the whole table, computed by walking it (tests and audits).
    #[cfg(test)]
    pub(crate) fn walk_bytes(&self) -> usize {
        self.map
            .iter()
            .map(|(k, s)| Self::account_bytes(k, s))
            .sum()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.map.contains_key(id)
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
