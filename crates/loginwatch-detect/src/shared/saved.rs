//! The index as data: its networks shown one by one and restored (saved state, the network
//! stage's changelog), the networks changed since the last flush, and the sweep schedule.

use super::{adjust, Member, Members, NetKey, SharedIndex};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::PoisonError;

impl SharedIndex {
    /// Shows every network with its newest login time and accounts to `f`, one stripe
    /// locked at a time (saving state).
    pub(crate) fn for_each_network(&self, mut f: impl FnMut(NetKey, i64, &[Member])) {
        self.v4
            .for_each(|k, members, t| f(NetKey::from_v4(*k), t, members.as_slice()));
        self.v6
            .for_each(|k, members, t| f(*k, t, members.as_slice()));
    }

    /// Adds (or replaces) a saved network.
    pub(crate) fn restore_network(&self, key: NetKey, newest: i64, members: Vec<Member>) {
        let key = key.masked();
        let members = Members::from(members);
        let (count, heap) = (members.len(), members.heap_slots());
        let replaced = match key.v4() {
            Some(k) => self.v4.put(k, members, newest),
            None => self.v6.put(key, members, newest),
        };
        match replaced {
            Some(old) => {
                adjust(&self.members, old.len(), count);
                adjust(&self.heap_slots, old.heap_slots(), heap);
            }
            None => {
                self.networks_of(key).fetch_add(1, Relaxed);
                self.members.fetch_add(count, Relaxed);
                self.heap_slots.fetch_add(heap, Relaxed);
            }
        }
    }

    /// Starts tracking which networks change, for [`SharedIndex::take_changed`].
    pub(crate) fn track_changes(&self) {
        self.tracking.store(true, Relaxed);
    }

    /// Remembers that `key` changed, when tracking.
    pub(super) fn note_changed(&self, key: NetKey) {
        if self.tracking.load(Relaxed) {
            let mut changed = self.changed.lock().unwrap_or_else(PoisonError::into_inner);
            changed.insert(key);
        }
    }

    /// The networks changed since the last call (see [`SharedIndex::track_changes`]).
    pub(crate) fn take_changed(&self) -> Vec<NetKey> {
        let mut changed = self.changed.lock().unwrap_or_else(PoisonError::into_inner);
        changed.drain().collect()
    }

    /// Runs `f` on network `key`'s newest login time and accounts, `None` when it is not
    /// held.
    pub(crate) fn read_network<R>(
        &self,
        key: NetKey,
        f: impl FnOnce(Option<(i64, &[Member])>) -> R,
    ) -> R {
        let f = |e: Option<(&Members, i64)>| f(e.map(|(m, t)| (t, m.as_slice())));
        match key.v4() {
            Some(k) => self.v4.read(&k, f),
            None => self.v6.read(&key, f),
        }
    }

    /// Forgets network `key` (its tombstone was read back).
    pub(crate) fn forget_network(&self, key: NetKey) {
        let key = key.masked();
        let gone = match key.v4() {
            Some(k) => self.v4.take(&k),
            None => self.v6.take(&key),
        };
        if let Some(m) = gone {
            self.networks_of(key).fetch_sub(1, Relaxed);
            self.members.fetch_sub(m.len(), Relaxed);
            self.heap_slots.fetch_sub(m.heap_slots(), Relaxed);
        }
    }

    /// The watermark at which the next expiry sweep runs (`i64::MIN`: not scheduled).
    pub(crate) fn next_sweep(&self) -> i64 {
        self.next_sweep.load(Relaxed)
    }

    /// Restores the sweep schedule of a saved index.
    pub(crate) fn set_next_sweep(&self, at: i64) {
        self.next_sweep.store(at, Relaxed);
    }
}
