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
//! [`SharedIndex::prefetch`] the networks of a group's logins before observing them.
//!
//! # Across instances (not built here)
//! Several processes each see only their partitions' accounts. Scale-out turns the index into
//! its own stage: every instance publishes `(network key, account, event id, time)` for each
//! successful login to a topic keyed by network prefix (the Kafka Streams repartition
//! pattern); the instance owning a prefix partition runs this same index over it and
//! publishes the `shared_ip` alerts. Everything the alert needs travels in that record.
//!
//! # Bounds
//! - per network: at most `max_accounts_per_network` (64) accounts, the least recently seen
//!   make room (counted as `member_overflow`); an account counts while its last login there is
//!   at most `window` older than the network's newest login;
//! - networks: expired once their newest login is `window` behind the engines' watermark
//!   (swept each time it advances by `window / 16`); at most `max_networks` (2 000 000), the
//!   least recently used 1/64 evicted when full (counted as `evicted`).
//! - bytes: [`NETWORK_BYTES`] per IPv4 network ([`V6_NETWORK_BYTES`] per IPv6 one), its first
//!   account included, plus [`MEMBER_BYTES`] per heap slot once a network holds more accounts
//!   (~110 bytes for an IPv4 network seen by one account, most of them; ~220 MB at the default
//!   cap if all are), see [`SharedIndexStats::approx_bytes`].
//!
//! # Layout
//! IPv4 networks, the bulk, live in a map keyed by a `u64` (prefix length and address); IPv6
//! ones in a second map keyed by [`NetKey`]. A network's first account is stored inline in
//! its entry (no allocation for the common single-account network); more spill to a `Vec`.
//! Both maps hash with hashbrown's default hasher (foldhash, seeded per process: the keys come
//! from the input, so a fixed hash would invite collisions by choice).

use crate::compact::{EventId, KeyStr};
use ipnet::IpNet;
use std::hash::Hash;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use table::Striped;

/// A network: address bits (IPv4 as IPv4-mapped IPv6) and prefix length in that space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NetKey {
    bits: u128,
    len: u8,
}

impl NetKey {
    /// The network of `ip` at `v4_len` (IPv4) or `v6_len` (IPv6).
    pub(crate) fn of(ip: IpAddr, v4_len: u8, v6_len: u8) -> NetKey {
        let (bits, len) = match ip.to_canonical() {
            IpAddr::V4(a) => (u128::from(a.to_ipv6_mapped()), 96 + v4_len.min(32)),
            IpAddr::V6(a) => (u128::from(a), v6_len.min(128)),
        };
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        NetKey {
            bits: bits & mask,
            len,
        }
    }

    /// The networks a login from `ip` counts on: its host (the IPv4 address, the IPv6 /64)
    /// and, with `prefixes`, its IPv4 /24 (its IPv6 /48 only with `v6_48` as well).
    pub(crate) fn of_login(ip: IpAddr, prefixes: bool, v6_48: bool) -> (NetKey, Option<NetKey>) {
        let host = NetKey::of(ip, 32, 64);
        let prefix = prefixes && (host.v4().is_some() || v6_48);
        (host, prefix.then(|| NetKey::of(ip, 24, 48)))
    }

    /// As an `IpNet` (`203.0.113.0/24`, `2001:db8::/48`).
    pub(crate) fn net(self) -> IpNet {
        let v6 = Ipv6Addr::from(self.bits);
        match v6.to_ipv4_mapped() {
            Some(v4) if self.len >= 96 => IpNet::new(IpAddr::V4(v4), self.len - 96),
            _ => IpNet::new(IpAddr::V6(v6), self.len),
        }
        .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    /// The key of an IPv4 network in the `u64` map: prefix length above the address bits.
    fn v4(self) -> Option<u64> {
        let mapped = (self.bits >> 32) as u64 == 0xffff;
        (self.len >= 96 && mapped).then(|| u64::from(self.len) << 32 | (self.bits as u32 as u64))
    }

    /// A 32-bit fingerprint (suppression keys, distinct-host counts).
    pub(crate) fn fingerprint(self) -> u32 {
        // SplitMix64's finaliser over the folded bits.
        let mut h = (self.bits as u64) ^ ((self.bits >> 64) as u64).rotate_left(29);
        h ^= u64::from(self.len) << 56;
        h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((h ^ (h >> 31)) as u32) | 1
    }
}

/// One account remembered for one network.
#[derive(Clone, Debug)]
pub(crate) struct Member {
    pub account: KeyStr,
    /// The account's first login on this network (in this episode).
    pub first_event: EventId,
    pub first: i64,
    pub last: i64,
    /// Fingerprint of the host key the account last used (prefix entries).
    pub host: u32,
    /// The account's risk score at its last login here.
    pub risk: u8,
    pub new_account: bool,
    /// A `shared_ip` alert was raised for this account and network.
    pub reported: bool,
}

/// A network's accounts in the order a `Vec` would keep them (`retain`, `swap_remove` and
/// `push` as a `Vec`'s): the first inline, several on the heap.
#[derive(Debug)]
enum Members {
    One(Member),
    Many(Vec<Member>),
}

impl Members {
    const EMPTY: Members = Members::Many(Vec::new());

    fn as_mut_slice(&mut self) -> &mut [Member] {
        match self {
            Members::One(m) => std::slice::from_mut(m),
            Members::Many(v) => v,
        }
    }

    fn len(&self) -> usize {
        match self {
            Members::One(_) => 1,
            Members::Many(v) => v.len(),
        }
    }

    /// Member slots allocated on the heap.
    fn heap_slots(&self) -> usize {
        match self {
            Members::One(_) => 0,
            Members::Many(v) => v.capacity(),
        }
    }

    /// Back inline when one member is left; gives back half-empty heap space.
    fn settle(&mut self) {
        if let Members::Many(v) = self {
            if v.len() <= 1 {
                *self = v.pop().map_or(Members::EMPTY, Members::One);
            } else if v.capacity() > 2 * v.len() {
                v.shrink_to_fit();
            }
        }
    }

    /// Keeps the members `keep` accepts; returns how many went.
    fn retain(&mut self, keep: impl Fn(&Member) -> bool) -> usize {
        let before = self.len();
        match self {
            Members::One(m) if !keep(m) => *self = Members::EMPTY,
            Members::One(_) => {}
            Members::Many(v) => {
                v.retain(|m| keep(m));
                self.settle();
            }
        }
        before - self.len()
    }

    fn swap_remove(&mut self, i: usize) {
        match self {
            Members::One(_) => *self = Members::EMPTY,
            Members::Many(v) => {
                v.swap_remove(i);
                self.settle();
            }
        }
    }

    fn push(&mut self, m: Member) {
        match std::mem::replace(self, Members::EMPTY) {
            Members::One(first) => *self = Members::Many(vec![first, m]),
            Members::Many(v) if v.is_empty() => *self = Members::One(m),
            Members::Many(mut v) => {
                // By half, not double: most networks stop growing after a few accounts.
                if v.len() == v.capacity() {
                    v.reserve_exact((v.len() / 2).max(1));
                }
                v.push(m);
                *self = Members::Many(v);
            }
        }
    }
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
    max_networks: AtomicUsize,
    next_sweep: AtomicI64,
    sweeping: AtomicBool,
    evicted: AtomicU64,
    expired: AtomicU64,
    overflow: AtomicU64,
}

/// One successful login as the index sees it.
pub(crate) struct Visit<'a> {
    pub account: &'a str,
    pub event_id: &'a str,
    pub time: i64,
    pub host: u32,
    pub risk: u8,
    pub new_account: bool,
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
            max_networks: AtomicUsize::new(max_networks.max(1)),
            next_sweep: AtomicI64::new(i64::MIN),
            sweeping: AtomicBool::new(false),
            evicted: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            overflow: AtomicU64::new(0),
        }
    }

    /// An index sized by `config`'s `[detect.shared_ip] max_networks`.
    pub fn for_config(config: &crate::EngineConfig) -> SharedIndex {
        SharedIndex::new(config.detect.shared_ip.max_networks)
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

    pub(crate) fn set_max_networks(&self, max: usize) {
        self.max_networks.store(max.max(1), Relaxed);
    }

    /// Records `v` on network `key` and runs `then` on the network's members (all within
    /// `window_ms` of its newest login, the visiting account included), under its lock.
    pub(crate) fn visit<R>(
        &self,
        key: NetKey,
        v: &Visit<'_>,
        window_ms: i64,
        max_members: usize,
        then: impl FnOnce(&mut [Member]) -> R,
    ) -> R {
        let (out, created) = match key.v4() {
            Some(k) => self.visit_in(&self.v4, k, v, window_ms, max_members, then),
            None => self.visit_in(&self.v6, key, v, window_ms, max_members, then),
        };
        if created {
            let count = if key.v4().is_some() {
                &self.v4_networks
            } else {
                &self.v6_networks
            };
            count.fetch_add(1, Relaxed);
            let networks = self.v4_networks.load(Relaxed) + self.v6_networks.load(Relaxed);
            if networks > self.max_networks.load(Relaxed) {
                self.evict();
            }
        }
        out
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
        window_ms: i64,
        max_members: usize,
        then: impl FnOnce(&mut [Member]) -> R,
    ) -> (R, bool) {
        map.visit(
            key,
            v.time,
            || Members::EMPTY,
            |members, newest| {
                let (count_before, heap_before) = (members.len(), members.heap_slots());
                let cut = newest.saturating_sub(window_ms);
                members.retain(|m| m.last >= cut);
                let found = members
                    .as_mut_slice()
                    .iter_mut()
                    .find(|m| m.account.as_str() == v.account);
                match found {
                    Some(m) => {
                        m.last = m.last.max(v.time);
                        (m.host, m.risk, m.new_account) = (v.host, v.risk, v.new_account);
                    }
                    None => {
                        if members.len() >= max_members {
                            let all = members.as_mut_slice();
                            if let Some(i) = (0..all.len()).min_by_key(|&i| all[i].last) {
                                members.swap_remove(i);
                                self.overflow.fetch_add(1, Relaxed);
                            }
                        }
                        members.push(Member {
                            account: KeyStr::new(v.account),
                            first_event: EventId::new(v.event_id),
                            first: v.time,
                            last: v.time,
                            host: v.host,
                            risk: v.risk,
                            new_account: v.new_account,
                            reported: false,
                        });
                    }
                }
                adjust(&self.members, count_before, members.len());
                adjust(&self.heap_slots, heap_before, members.heap_slots());
                then(members.as_mut_slice())
            },
        )
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

    /// Evicts the least recently used 1/64 of the networks (one sweeper at a time).
    fn evict(&self) {
        if self.sweeping.swap(true, Relaxed) {
            return;
        }
        let mut times: Vec<i64> = Vec::with_capacity(self.max_networks.load(Relaxed) + 1);
        self.v4.times(&mut times);
        self.v6.times(&mut times);
        let batch = (self.max_networks.load(Relaxed) / 64).clamp(1, times.len().max(1));
        if !times.is_empty() {
            let (_, cutoff, _) = times.select_nth_unstable(batch - 1);
            let cutoff = *cutoff;
            self.remove_where(|newest| newest <= cutoff, &self.evicted);
        }
        self.sweeping.store(false, Relaxed);
    }

    /// Removes the networks whose newest login time `go` accepts; counts them in `counter`.
    fn remove_where(&self, go: impl Fn(i64) -> bool, counter: &AtomicU64) {
        let (mut members, mut heap) = (0usize, 0usize);
        let mut removed = |m: &Members| {
            members += m.len();
            heap += m.heap_slots();
        };
        let v4 = self.v4.remove_where(&go, &mut removed);
        let v6 = self.v6.remove_where(&go, &mut removed);
        self.v4_networks.fetch_sub(v4, Relaxed);
        self.v6_networks.fetch_sub(v6, Relaxed);
        self.members.fetch_sub(members, Relaxed);
        self.heap_slots.fetch_sub(heap, Relaxed);
        counter.fetch_add((v4 + v6) as u64, Relaxed);
    }
}

mod table;
#[cfg(test)]
mod tests;
