//! The table of tracked accounts and its total bound: a [`SlabMap`] from account id to
//! [`AccountState`], the newest event time of each in the slab's time array.
//!
//! - **Capacity**: at most `max_accounts`. When a new account would exceed it, the least
//!   recently seen accounts (smallest newest event time; ties broken by account id, so the
//!   result is deterministic) are evicted in one batch of `max(1, max_accounts / 64)`, which
//!   keeps eviction amortised O(1) per new account without a per-account LRU index.
//! - **Idleness**: accounts whose newest event is more than `idle_timeout` behind the highest
//!   event time seen are forgotten; the sweep runs each time that high-water mark advances by
//!   `idle_timeout / 16`.
//!
//! Both are counted (`evicted`, `expired`). The byte estimate (`bytes`) is each account's
//! slot (slab entry, time and index bucket), its id and its heap.

use crate::state::AccountState;
use loginwatch_storage::{HeapSize, InlineStr, SlabMap};

/// Tracked accounts by id (see the module docs).
#[derive(Debug)]
pub(crate) struct Accounts {
    table: SlabMap<InlineStr, AccountState>,
    max: usize,
    /// Accounts evicted because the table was full.
    pub evicted: u64,
    /// Accounts forgotten after `idle_timeout`.
    pub expired: u64,
    /// Estimated bytes of the table and every account's state; the engine adds the change of
    /// each state it touches.
    pub bytes: usize,
    /// The watermark at which the next idle sweep runs (`None` until the first one is due).
    pub next_sweep: Option<i64>,
    /// Accounts touched, evicted or expired since the last [`Accounts::take_changed`], when
    /// tracked (a changelog's dirty set: at most the accounts of one flush interval).
    changed: Option<hashbrown::HashSet<InlineStr>>,
}

/// One account as the engine sees it: its state and newest event time.
pub(crate) struct Entry<'a> {
    pub state: &'a mut AccountState,
    pub newest: &'a mut i64,
    /// The account was not tracked before.
    pub created: bool,
}

impl Accounts {
    pub(crate) fn new(max: usize) -> Self {
        Accounts {
            table: SlabMap::default(),
            // Positions are `u32`.
            max: max.min(u32::MAX as usize),
            evicted: 0,
            expired: 0,
            bytes: 0,
            next_sweep: None,
            changed: None,
        }
    }

    /// Starts remembering which accounts change (see [`Accounts::take_changed`]).
    pub(crate) fn track_changes(&mut self) {
        self.changed.get_or_insert_with(Default::default);
    }

    /// The accounts touched, evicted or expired since the last call (none when not tracked).
    pub(crate) fn take_changed(&mut self) -> Vec<InlineStr> {
        self.changed
            .as_mut()
            .map(|c| c.drain().collect())
            .unwrap_or_default()
    }

    /// Removes one account (its tombstone was read back); whether it was tracked.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let hash = self.table.hash(id);
        let Some(at) = self.table.find_by(hash, |k| k.is(id)) else {
            return false;
        };
        let (key, state, _) = self.table.remove_at(at);
        self.bytes = self.bytes.saturating_sub(Self::account_bytes(&key, &state));
        true
    }

    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    /// Estimated bytes of one account's state with its slot and id.
    pub(crate) fn account_bytes(id: &InlineStr, state: &AccountState) -> usize {
        SlabMap::<InlineStr, AccountState>::SLOT_BYTES + id.heap_bytes() + state.heap_bytes()
    }

    /// Starts loading what looking up `id` and observing its event will read, one level per
    /// stage: 0 the slab entry and time, 1 the account's window box, 2 what that box points
    /// to.
    pub(crate) fn prefetch(&self, id: &str, stage: usize) {
        let hash = self.table.hash(id);
        if stage == 0 {
            self.table.prefetch(hash);
        } else if let Some(at) = self.table.find_by(hash, |k| k.is(id)) {
            self.table.get(at).1.prefetch(stage - 1);
        }
    }

    /// The account `id`, created (evicting if full) when new, with newest time 0.
    pub(crate) fn get_or_insert(&mut self, id: &str) -> Entry<'_> {
        let hash = self.table.hash(id);
        if let Some(changed) = &mut self.changed {
            // One probe: the id is copied only the first time in a flush interval.
            changed.get_or_insert_with(id, InlineStr::new);
        }
        let (at, created) = match self.table.find_by(hash, |k| k.is(id)) {
            Some(at) => (at, false),
            None => {
                if self.table.len() >= self.max {
                    self.evict_least_recent((self.max / 64).max(1));
                }
                let (key, state) = (InlineStr::new(id), AccountState::default());
                self.bytes += Self::account_bytes(&key, &state);
                (self.table.insert(hash, key, state, 0), true)
            }
        };
        let (state, newest) = self.table.get_mut(at);
        Entry {
            state,
            newest,
            created,
        }
    }

    /// The account `id`, if tracked.
    pub(crate) fn get(&self, id: &str) -> Option<(&AccountState, i64)> {
        let at = self.table.find_by(self.table.hash(id), |k| k.is(id))?;
        let (_, state, newest) = self.table.get(at);
        Some((state, newest))
    }

    /// Every account with its newest time, in table order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&InlineStr, &AccountState, i64)> {
        self.table.iter()
    }

    /// Adds (or replaces) a saved account.
    pub(crate) fn restore(&mut self, id: &str, state: AccountState, newest: i64) {
        let hash = self.table.hash(id);
        if let Some(at) = self.table.find_by(hash, |k| k.is(id)) {
            let (_, old, _) = self.table.remove_at(at);
            self.bytes = self
                .bytes
                .saturating_sub(Self::account_bytes(&InlineStr::new(id), &old));
        }
        let key = InlineStr::new(id);
        self.bytes += Self::account_bytes(&key, &state);
        self.table.insert(hash, key, state, newest);
    }

    /// What removing an account updates: the byte estimate, and the changed set.
    fn forget<'a>(
        bytes: &'a mut usize,
        changed: &'a mut Option<hashbrown::HashSet<InlineStr>>,
    ) -> impl FnMut(InlineStr, AccountState, i64) + 'a {
        move |id, state, _| {
            *bytes = bytes.saturating_sub(Self::account_bytes(&id, &state));
            if let Some(c) = changed {
                c.insert(id);
            }
        }
    }

    /// Removes the `batch` least recently seen accounts.
    fn evict_least_recent(&mut self, batch: usize) {
        let gone = self
            .table
            .evict_least_recent(batch, Self::forget(&mut self.bytes, &mut self.changed));
        self.evicted += gone as u64;
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
        let gone = self.table.remove_where(
            |newest, _, _| newest < cut,
            Self::forget(&mut self.bytes, &mut self.changed),
        );
        self.expired += gone as u64;
    }

    /// Sets the capacity, evicting the least recently seen accounts down to it.
    pub(crate) fn set_max(&mut self, max: usize) {
        self.max = max.min(u32::MAX as usize);
        if self.table.len() > self.max {
            self.evict_least_recent(self.table.len() - self.max);
        }
    }

    /// Forgets every account's watch-country marks (the list changed).
    pub(crate) fn clear_watch(&mut self) {
        self.table.values_mut().for_each(|s| s.watch_seen = 0);
    }

    /// Bytes of the whole table, computed by walking it (tests and audits).
    #[cfg(test)]
    pub(crate) fn walk_bytes(&self) -> usize {
        self.iter().map(|(k, s, _)| Self::account_bytes(k, s)).sum()
    }

    #[cfg(test)]
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(a: &mut Accounts, id: &str, t: i64) {
        *a.get_or_insert(id).newest = t;
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
    fn removals_keep_every_account_findable() {
        let mut a = Accounts::new(500);
        // 2,000 accounts through a table of 500: evictions (batches of 7), then idle sweeps,
        // move entries around the slab; every survivor must still be found with its state.
        for i in 0..2000i64 {
            touch(&mut a, &format!("acct-{}", (i * 7919) % 2000), i);
            if i >= 1000 {
                a.expire_idle(i, 300);
            }
        }
        assert_eq!(a.bytes, a.walk_bytes());
        let ids: Vec<(String, i64)> = a.iter().map(|(k, _, t)| (k.as_str().into(), t)).collect();
        assert_eq!(ids.len(), a.len());
        for (id, newest) in ids {
            assert_eq!(a.get(&id).map(|(_, t)| t), Some(newest));
            assert!(newest >= 2000 - 300 - 300 / 16, "{id:?} idle yet kept");
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
