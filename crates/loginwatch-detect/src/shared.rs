//! [`SharedIndex`]: the bounded cross-account index behind `shared_ip` — which accounts logged
//! in from each network (IPv4 address, IPv4 /24, IPv6 /64, IPv6 /48) over the last `window`.
//!
//! # Sharing
//! Engines shard accounts (replay workers, one engine per Kafka partition), but a laptop farm's
//! accounts land on different shards, so every engine of a process must see one index: build
//! one `Arc<SharedIndex>` and give it to each engine with
//! [`Engine::with_shared_index`](crate::Engine::with_shared_index) (`Engine::new` makes a
//! private one, right for a single engine). Its maps are lock-striped (`table.rs`): a lock is
//! held for one network's update; never two at once, so no lock order to get wrong. Engines
//! prefetch the networks of a group's logins before observing them.
//!
//! The index also carries findings between engines: a member account owned by another engine
//! ([`Owner`], recorded with each member) gets its finding as a `Delivery`, which that
//! engine takes and emits with the account's own state (the one alert path).
//!
//! # Across processes
//! Several service members each see only their partitions' accounts: there the index is a
//! stage of its own per partition (`stage.rs`), fed by visits keyed by network and
//! answering with mail for the accounts' owners; the rule is the same (`SharedIp::judge`).
//!
//! # Bounds
//! - per network: at most `max_accounts_per_network` (64) accounts, the least recently seen
//!   make room (counted as `member_overflow`); an account is remembered while its last login
//!   there is at most `history` older than the network's newest login;
//! - networks: expired once their newest login is `history` behind the engines' watermark
//!   (swept each time it advances by `history / 16`); at most `max_networks` (1 000 000)
//!   networks and `max_members` (4 000 000) member slots on the heap, the least recently used
//!   1/64 of the networks evicted when either is exceeded (counted as `evicted`).
//! - bytes: [`NETWORK_BYTES`] per IPv4 network ([`V6_NETWORK_BYTES`] per IPv6 one), its first
//!   account included, plus [`MEMBER_BYTES`] per heap slot once a network holds more accounts:
//!   at most ~0.5 GB at the defaults, see [`SharedIndexStats::approx_bytes`].
//!
//! # Layout
//! IPv4 networks, the bulk, live in a map keyed by a `u64` (prefix length and address); IPv6
//! ones in a second map keyed by network bits and length. A network's accounts are an
//! [`InlineList`]: the first inline in its entry (no allocation for the common
//! single-account network), more on the heap.
//! Both maps hash with hashbrown's default hasher (foldhash, seeded per process: the keys come
//! from the input, so a fixed hash would invite collisions by choice).

use crate::detector::Finding;
use crate::event_id::EventId;
use hashbrown::HashSet;
pub(crate) use key::NetKey;
use loginwatch_storage::{least_recent_cutoff, InlineList, InlineStr};
use serde::{Deserialize, Serialize};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};
use table::Striped;

/// Which engine of a process owns an account: its replay worker, or its Kafka partition's
/// number (modulo 2^16).
pub type Owner = u16;

/// One account remembered for one network.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Member {
    pub account: InlineStr,
    /// The account's first login on this network (in this episode).
    pub first_event: EventId,
    pub first: i64,
    pub last: i64,
    /// Fingerprint of the host key the account last used (prefix entries).
    pub host: u32,
    /// The engine that owns the account (see [`Delivery`]).
    pub owner: Owner,
    /// A `shared_ip` alert was raised for this account and network.
    pub reported: bool,
    /// The account's logins here, and the distinct UTC days they fell on.
    pub logins: u16,
    pub days: u16,
    /// The account's own count of logins (anywhere) before its first one here, and at its
    /// latest one here: `logins / (total - base)` is the share of its logins since it first
    /// came here that came from here.
    pub base: u32,
    pub total: u32,
}

impl Member {
    /// The share of the account's logins, since its first one here, that came from here.
    pub(crate) fn share(&self) -> f64 {
        let since = self.total.saturating_sub(self.base).max(1);
        (f64::from(self.logins) / f64::from(since)).min(1.0)
    }
}

/// The UTC day of an event time in milliseconds.
fn day(t: i64) -> i64 {
    t.div_euclid(86_400_000)
}

/// A network's accounts, the first inline, in the order a `Vec` would keep them.
type Members = InlineList<Member>;

/// A finding for an account that another engine owns, waiting in the index until that
/// engine takes it ([`SharedIndex::take_deliveries`]) and turns it into an alert through its
/// own emit path, with the account's own state.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub owner: Owner,
    pub account: InlineStr,
    pub finding: Finding,
}

/// The maps: a network's accounts by its key (see `table.rs`).
type Map<K> = Striped<K, Members>;

/// Estimated bytes of one IPv4 network, its first account inline: key, accounts, newest
/// time and index bucket (see `table.rs`).
pub const NETWORK_BYTES: usize = table::entry_bytes(std::mem::size_of::<(u64, Members)>());
/// Estimated bytes of one IPv6 network (a `NetKey` instead of a `u64`).
pub const V6_NETWORK_BYTES: usize = table::entry_bytes(std::mem::size_of::<(NetKey, Members)>());
/// Estimated bytes of one heap slot for an account of a network holding several (inline ids;
/// longer ones add their length).
pub const MEMBER_BYTES: usize = std::mem::size_of::<Member>();

/// Sizes and counters of a [`SharedIndex`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedIndexStats {
    pub networks: usize,
    pub members: usize,
    /// Networks evicted because the index was full.
    pub evicted: u64,
    /// Networks forgotten after `window` without logins.
    pub expired: u64,
    /// Accounts dropped from full networks.
    pub member_overflow: u64,
    pub approx_bytes: usize,
}

/// The bounded cross-account index of one process (see the module docs).
#[derive(Debug)]
pub struct SharedIndex {
    v4: Map<u64>,
    v6: Map<NetKey>,
    v4_networks: AtomicUsize,
    v6_networks: AtomicUsize,
    members: AtomicUsize,
    /// Member slots on the heap (networks with several accounts).
    heap_slots: AtomicUsize,
    /// Findings for accounts of other engines, and how many.
    deliveries: Mutex<Vec<Delivery>>,
    pending: AtomicUsize,
    max_networks: AtomicUsize,
    /// At most this many member slots on the heap, over all networks.
    max_members: AtomicUsize,
    /// The owner the next engine built on this index gets.
    next_owner: std::sync::atomic::AtomicU16,
    next_sweep: AtomicI64,
    sweeping: AtomicBool,
    evicted: AtomicU64,
    expired: AtomicU64,
    overflow: AtomicU64,
    /// The networks changed (visited, expired, evicted) since the last
    /// [`SharedIndex::take_changed`], while tracking (a changelog).
    changed: Mutex<HashSet<NetKey>>,
    tracking: AtomicBool,
}

/// One successful login as the index sees it.
pub(crate) struct Visit<'a> {
    pub account: &'a str,
    pub event_id: &'a str,
    pub time: i64,
    pub host: u32,
    /// The engine observing the login (see [`Delivery`]).
    pub owner: Owner,
    /// The account's own count of such logins, this one included.
    pub total: u32,
}

/// Adds `after - before` to `counter`, touching it only on a change.
fn adjust(counter: &AtomicUsize, before: usize, after: usize) {
    if after > before {
        counter.fetch_add(after - before, Relaxed);
    } else if before > after {
        counter.fetch_sub(before - after, Relaxed);
    }
}

impl SharedIndex {
    /// An empty index holding at most `max_networks` networks.
    pub fn new(max_networks: usize) -> SharedIndex {
        SharedIndex {
            v4: Map::new(),
            v6: Map::new(),
            v4_networks: AtomicUsize::new(0),
            v6_networks: AtomicUsize::new(0),
            members: AtomicUsize::new(0),
            heap_slots: AtomicUsize::new(0),
            deliveries: Mutex::new(Vec::new()),
            pending: AtomicUsize::new(0),
            max_networks: AtomicUsize::new(max_networks.max(1)),
            max_members: AtomicUsize::new(usize::MAX),
            next_owner: std::sync::atomic::AtomicU16::new(0),
            next_sweep: AtomicI64::new(i64::MIN),
            sweeping: AtomicBool::new(false),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            overflow: AtomicU64::new(0),
            changed: Mutex::new(HashSet::new()),
            tracking: AtomicBool::new(false),
        }
    }

    /// An index sized by `config`'s `[detect.shared_ip] max_networks`.
    pub fn for_config(config: &crate::EngineConfig) -> SharedIndex {
        let c = &config.detect.shared_ip;
        let index = SharedIndex::new(c.max_networks);
        index.set_limits(c.max_networks, c.max_members);
        index
    }

    /// Sizes and counters.
    pub fn stats(&self) -> SharedIndexStats {
        let (v4, v6) = (
            self.v4_networks.load(Relaxed),
            self.v6_networks.load(Relaxed),
        );
        let heap = self.heap_slots.load(Relaxed);
        SharedIndexStats {
            networks: v4 + v6,
            members: self.members.load(Relaxed),
            evicted: self.evicted.load(Relaxed),
            expired: self.expired.load(Relaxed),
            member_overflow: self.overflow.load(Relaxed),
            approx_bytes: v4 * NETWORK_BYTES + v6 * V6_NETWORK_BYTES + heap * MEMBER_BYTES,
        }
    }

    /// Sets the bounds: networks, and member slots on the heap over all networks.
    pub(crate) fn set_limits(&self, max_networks: usize, max_members: usize) {
        self.max_networks.store(max_networks.max(1), Relaxed);
        self.max_members.store(max_members, Relaxed);
    }

    /// A fresh owner number for an engine joining this index (each engine of a process needs
    /// its own; drivers that shard accounts themselves set theirs).
    pub(crate) fn new_owner(&self) -> Owner {
        self.next_owner.fetch_add(1, Relaxed)
    }

    /// Records `v` on network `key` and runs `then` on the network's members (all within
    /// `history_ms` of its newest login, the visiting account included) and its newest login
    /// time, under its lock.
    pub(crate) fn visit<R>(
        &self,
        key: NetKey,
        v: &Visit<'_>,
        history_ms: i64,
        max_members: usize,
        then: impl FnOnce(&mut [Member], i64) -> R,
    ) -> R {
        let (out, created) = match key.v4() {
            Some(k) => self.visit_in(&self.v4, k, v, history_ms, max_members, then),
            None => self.visit_in(&self.v6, key, v, history_ms, max_members, then),
        };
        self.note_changed(key);
        if created {
            self.networks_of(key).fetch_add(1, Relaxed);
        }
        self.enforce_limits();
        out
    }

    /// The count of networks of `key`'s family.
    fn networks_of(&self, key: NetKey) -> &AtomicUsize {
        match key.v4() {
            Some(_) => &self.v4_networks,
            None => &self.v6_networks,
        }
    }

    /// Evicts the least recently used networks while the index holds more than its bounds.
    pub(crate) fn enforce_limits(&self) {
        loop {
            let networks = self.v4_networks.load(Relaxed) + self.v6_networks.load(Relaxed);
            let over = networks > self.max_networks.load(Relaxed)
                || self.heap_slots.load(Relaxed) > self.max_members.load(Relaxed);
            if !over || !self.evict() {
                return;
            }
        }
    }

    /// Starts loading the entries that the `shared_ip` visits of a login from `ip` will
    /// update: its host network and, with `prefixes`, its IPv4 /24 (IPv6 /48 with `v6_48`).
    pub(crate) fn prefetch(&self, ip: IpAddr, prefixes: bool, v6_48: bool) {
        let (host, prefix) = NetKey::of_login(ip, prefixes, v6_48);
        for key in std::iter::once(host).chain(prefix) {
            match key.v4() {
                Some(k) => self.v4.prefetch(&k),
                None => self.v6.prefetch(&key),
            }
        }
    }

    /// [`SharedIndex::visit`] in one of the maps; also says whether the network is new.
    fn visit_in<K: Hash + Eq, R>(
        &self,
        map: &Map<K>,
        key: K,
        v: &Visit<'_>,
        history_ms: i64,
        max_members: usize,
        then: impl FnOnce(&mut [Member], i64) -> R,
    ) -> (R, bool) {
        map.visit(
            key,
            v.time,
            || Members::Empty,
            |members, newest| {
                let (count_before, heap_before) = (members.len(), members.heap_slots());
                let cut = newest.saturating_sub(history_ms);
                members.retain(|m| m.last >= cut);
                let found = members
                    .as_mut_slice()
                    .iter_mut()
                    .find(|m| m.account.is(v.account));
                match found {
                    Some(m) => {
                        if v.time > m.last && day(v.time) != day(m.last) {
                            m.days = m.days.saturating_add(1);
                        }
                        m.last = m.last.max(v.time);
                        m.logins = m.logins.saturating_add(1);
                        m.total = m.total.max(v.total);
                        (m.host, m.owner) = (v.host, v.owner);
                    }
                    None => {
                        if members.len() >= max_members {
                            let all = members.as_mut_slice();
                            if let Some(i) = (0..all.len()).min_by_key(|&i| all[i].last) {
                                members.swap_remove(i);
                                self.overflow.fetch_add(1, Relaxed);
                            }
                        }
                        let m = Member {
                            account: InlineStr::new(v.account),
                            first_event: EventId::new(v.event_id),
                            first: v.time,
                            last: v.time,
                            host: v.host,
                            owner: v.owner,
                            reported: false,
                            logins: 1,
                            days: 1,
                            base: v.total.saturating_sub(1),
                            total: v.total,
                        };
                        // By half, not double: most networks stop growing after a few.
                        members.push(m, |len| (len / 2).max(1));
                    }
                }
                adjust(&self.members, count_before, members.len());
                adjust(&self.heap_slots, heap_before, members.heap_slots());
                then(members.as_mut_slice(), newest)
            },
        )
    }

    /// Leaves findings for accounts of other engines until their owners take them.
    pub(crate) fn post_deliveries(&self, deliveries: &mut Vec<Delivery>) {
        if deliveries.is_empty() {
            return;
        }
        let mut mail = self
            .deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.pending.fetch_add(deliveries.len(), Relaxed);
        mail.append(deliveries);
    }

    /// Moves the findings waiting for engine `owner` to `out`, oldest first.
    pub(crate) fn take_deliveries(&self, owner: Owner, out: &mut Vec<Delivery>) {
        let mut mail = self
            .deliveries
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let before = out.len();
        for d in std::mem::take(&mut *mail) {
            if d.owner == owner {
                out.push(d);
            } else {
                mail.push(d);
            }
        }
        self.pending.fetch_sub(out.len() - before, Relaxed);
    }

    /// Findings waiting for engines to take them.
    pub fn pending_deliveries(&self) -> usize {
        self.pending.load(Relaxed)
    }

    /// Drops the findings waiting for engine `owner` (it is gone, e.g. its partition was
    /// revoked); returns how many.
    pub fn drop_deliveries(&self, owner: Owner) -> usize {
        let mut gone = Vec::new();
        self.take_deliveries(owner, &mut gone);
        gone.len()
    }

    /// Forgets networks whose newest login is more than `keep_ms` behind `watermark`; runs
    /// when the watermark has advanced by `keep_ms / 16` since the last sweep.
    pub(crate) fn maintain(&self, watermark: i64, keep_ms: i64) {
        let due = self.next_sweep.load(Relaxed);
        let next = watermark.saturating_add(keep_ms / 16);
        if due == i64::MIN {
            let _ = self
                .next_sweep
                .compare_exchange(due, next, Relaxed, Relaxed);
            return;
        }
        if watermark < due
            || self
                .next_sweep
                .compare_exchange(due, next, Relaxed, Relaxed)
                .is_err()
        {
            return;
        }
        let cut = watermark.saturating_sub(keep_ms);
        self.remove_where(|newest| newest < cut, &self.expired);
    }

    /// Evicts the least recently used 1/64 of the networks (one sweeper at a time); says
    /// whether any went.
    fn evict(&self) -> bool {
        if self.sweeping.swap(true, Relaxed) {
            return false;
        }
        let before = self.evicted.load(Relaxed);
        let mut times: Vec<i64> = Vec::with_capacity(self.max_networks.load(Relaxed) + 1);
        self.v4.times(&mut times);
        self.v6.times(&mut times);
        // Across stripes, ties all go: the result does not depend on which stripe holds what.
        let batch = (self.max_networks.load(Relaxed) / 64).max(1);
        if let Some(cutoff) = least_recent_cutoff(&mut times, batch) {
            self.remove_where(|newest| newest <= cutoff, &self.evicted);
        }
        self.sweeping.store(false, Relaxed);
        self.evicted.load(Relaxed) > before
    }

    /// Removes the networks whose newest login time `go` accepts; counts them in `counter`.
    fn remove_where(&self, go: impl Fn(i64) -> bool, counter: &AtomicU64) {
        let (mut members, mut heap) = (0usize, 0usize);
        let mut removed = |key: NetKey, m: Members| {
            members += m.len();
            heap += m.heap_slots();
            self.note_changed(key);
        };
        let v4 = self
            .v4
            .remove_where(&go, |k, m| removed(NetKey::from_v4(k), m));
        let v6 = self.v6.remove_where(&go, &mut removed);
        self.v4_networks.fetch_sub(v4, Relaxed);
        self.v6_networks.fetch_sub(v6, Relaxed);
        self.members.fetch_sub(members, Relaxed);
        self.heap_slots.fetch_sub(heap, Relaxed);
        counter.fetch_add((v4 + v6) as u64, Relaxed);
    }
}

mod key;
mod saved;
mod table;
#[cfg(test)]
mod tests;
