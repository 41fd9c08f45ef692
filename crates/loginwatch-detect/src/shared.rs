//! [`SharedIndex`]: the bounded cross-account index behind `shared_ip` — which accounts logged
//! in from each network (IPv4 address, IPv4 /24, IPv6 /64, IPv6 /48) over the last `window`.
//!
//! # Sharing
//! Engines shard accounts (replay workers, one engine per Kafka partition), but a laptop farm's
//! accounts land on different shards, so every engine of a process must see one index: build
//! one `Arc<SharedIndex>` and give it to each engine with
//! [`Engine::with_shared_index`](crate::Engine::with_shared_index) (`Engine::new` makes a
//! private one, right for a single engine). It is a [`DashMap`]: the lock is per map shard and
//! held for one network's update; never two at once, so no lock order to get wrong.
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
//! - bytes: [`NETWORK_BYTES`] per network plus [`MEMBER_BYTES`] per remembered account (~190
//!   bytes for a network seen by one account; ~380 MB at the default cap), see
//!   [`SharedIndexStats::approx_bytes`].

use crate::compact::{EventId, KeyStr};
use dashmap::DashMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

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

    /// As an `IpNet` (`203.0.113.0/24`, `2001:db8::/48`).
    pub(crate) fn net(self) -> IpNet {
        let v6 = Ipv6Addr::from(self.bits);
        match v6.to_ipv4_mapped() {
            Some(v4) if self.len >= 96 => IpNet::new(IpAddr::V4(v4), self.len - 96),
            _ => IpNet::new(IpAddr::V6(v6), self.len),
        }
        .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
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

#[derive(Debug)]
struct NetEntry {
    newest: i64,
    members: Vec<Member>,
}

/// Estimated bytes of one network: key and entry at the map's 7/8 load, plus its shard's
/// share of bookkeeping.
pub const NETWORK_BYTES: usize = (std::mem::size_of::<(NetKey, NetEntry)>() + 8) * 8 / 7;
/// Estimated bytes of one remembered account (inline ids; longer ones add their length).
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
    map: DashMap<NetKey, NetEntry>,
    networks: AtomicUsize,
    members: AtomicUsize,
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

impl SharedIndex {
    /// An empty index holding at most `max_networks` networks.
    pub fn new(max_networks: usize) -> SharedIndex {
        SharedIndex {
            map: DashMap::new(),
            networks: AtomicUsize::new(0),
            members: AtomicUsize::new(0),
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
        let (networks, members) = (self.networks.load(Relaxed), self.members.load(Relaxed));
        SharedIndexStats {
            networks,
            members,
            evicted: self.evicted.load(Relaxed),
            expired: self.expired.load(Relaxed),
            member_overflow: self.overflow.load(Relaxed),
            approx_bytes: networks * NETWORK_BYTES + members * MEMBER_BYTES,
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
        let mut created = false;
        let mut entry = self.map.entry(key).or_insert_with(|| {
            created = true;
            NetEntry {
                newest: v.time,
                members: Vec::with_capacity(1),
            }
        });
        entry.newest = entry.newest.max(v.time);
        let cut = entry.newest.saturating_sub(window_ms);
        let before = entry.members.len();
        entry.members.retain(|m| m.last >= cut);
        let mut gone = before - entry.members.len();
        let members = &mut entry.members;
        match members.iter_mut().find(|m| m.account.as_str() == v.account) {
            Some(m) => {
                m.last = m.last.max(v.time);
                (m.host, m.risk, m.new_account) = (v.host, v.risk, v.new_account);
            }
            None => {
                if members.len() >= max_members {
                    if let Some(i) = (0..members.len()).min_by_key(|&i| members[i].last) {
                        members.swap_remove(i);
                        gone += 1;
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
                self.members.fetch_add(1, Relaxed);
            }
        }
        self.members.fetch_sub(gone, Relaxed);
        let out = then(&mut entry.members);
        drop(entry);
        if created && self.networks.fetch_add(1, Relaxed) + 1 > self.max_networks.load(Relaxed) {
            self.evict();
        }
        out
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
        self.remove_where(|e| e.newest < cut, &self.expired);
    }

    /// Evicts the least recently used 1/64 of the networks (one sweeper at a time).
    fn evict(&self) {
        if self.sweeping.swap(true, Relaxed) {
            return;
        }
        let mut times: Vec<i64> = self.map.iter().map(|e| e.newest).collect();
        let batch = (self.max_networks.load(Relaxed) / 64).clamp(1, times.len().max(1));
        if !times.is_empty() {
            let (_, cutoff, _) = times.select_nth_unstable(batch - 1);
            let cutoff = *cutoff;
            self.remove_where(|e| e.newest <= cutoff, &self.evicted);
        }
        self.sweeping.store(false, Relaxed);
    }

    fn remove_where(&self, pred: impl Fn(&NetEntry) -> bool, counter: &AtomicU64) {
        let (mut nets, mut members) = (0usize, 0usize);
        self.map.retain(|_, e| {
            let go = pred(e);
            if go {
                nets += 1;
                members += e.members.len();
            }
            !go
        });
        self.networks.fetch_sub(nets, Relaxed);
        self.members.fetch_sub(members, Relaxed);
        counter.fetch_add(nets as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests;
