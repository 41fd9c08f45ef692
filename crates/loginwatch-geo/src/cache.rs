//! [`IpCache`]: a worker's own cache of what [`Locator`](crate::Locator) resolves, keyed by
//! *network* rather than by address. A database walk ends in a network (e.g. a /20) whose
//! every address gets the same record, so one walk answers every later address of that
//! network: the next address of the same ISP range hits although it was never seen.
//!
//! Two parts, both bounded and allocated up front:
//! - network tables (IPv4, IPv6): buckets of [`WAYS`] `(network, host bits, answer index)`
//!   entries, a bucket chosen by the address's /24 (IPv4) or /64 (IPv6), so an entry is 8 or
//!   20 bytes and a lookup reads one bucket (32 bytes for IPv4);
//! - the distinct answers, stored once and found again by the database records they came from;
//! - the city names of events located by their own `geo` hint (which bypass the tables): one
//!   shared copy per name while at most [`MAX_HINT_CITIES`] are held (then it starts over),
//!   instead of a copy per event kept by every window record.
//!
//! Owned by one worker, so hits take no lock and touch no shared cache line but the answer's.

use crate::tree::Walk;
use crate::types::{Location, NetInfo};
use hashbrown::HashMap;
use loginwatch_storage::Names;
use std::net::IpAddr;
use std::sync::Arc;

/// At most this many city names of hinted events are shared (~100 bytes each).
pub const MAX_HINT_CITIES: usize = 4096;

/// Entries per bucket: the networks of one /24 (or /64) that are kept at once.
const WAYS: usize = 4;

/// What an address resolves to.
pub(crate) type Answer = (Option<Location>, NetInfo);

/// The database records (data-section offsets) and list membership an answer was built
/// from: equal keys give equal answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct AnswerKey {
    /// The city record's offset and the position of the database it is in.
    pub city: Option<(usize, usize)>,
    pub asn: Option<usize>,
    pub anon: Option<usize>,
    pub listed: bool,
}

/// An address width usable as a network-table key.
trait Bits: Copy + Eq + std::ops::BitAnd<Output = Self> {
    const ONE: Self;
    /// All bits but the low `host_bits`.
    fn mask(host_bits: u32) -> Self;
    /// The bucket of the address's /24 or /64, out of `1 << (64 - shift)`.
    fn bucket(self, shift: u32) -> usize;
}

impl Bits for u32 {
    const ONE: u32 = 1;
    fn mask(host_bits: u32) -> u32 {
        u32::MAX.checked_shl(host_bits).unwrap_or(0)
    }
    fn bucket(self, shift: u32) -> usize {
        (u64::from(self >> 8).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> shift) as usize
    }
}

impl Bits for u128 {
    const ONE: u128 = 1;
    fn mask(host_bits: u32) -> u128 {
        u128::MAX.checked_shl(host_bits).unwrap_or(0)
    }
    fn bucket(self, shift: u32) -> usize {
        ((self >> 64) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) as usize >> shift
    }
}

/// Networks of one bucket, most recently inserted first. A way is its network (host bits
/// zero) and a packed `(answer index + 1) << 8 | host bits`; 0 marks an empty way.
#[derive(Clone, Copy)]
#[repr(align(32))]
struct Bucket<K> {
    net: [K; WAYS],
    meta: [u32; WAYS],
}

/// The largest answer index a way can hold.
const MAX_ANSWER: usize = (1 << 24) - 2;

struct Table<K> {
    buckets: Box<[Bucket<K>]>,
    shift: u32,
}

impl<K: Bits> Table<K> {
    fn empty() -> Bucket<K> {
        Bucket {
            net: [K::ONE; WAYS],
            meta: [0; WAYS],
        }
    }

    fn new(buckets: usize) -> Self {
        let n = buckets.max(1).next_power_of_two();
        Table {
            buckets: vec![Self::empty(); n].into_boxed_slice(),
            shift: 64 - n.trailing_zeros(),
        }
    }

    fn clear(&mut self) {
        self.buckets.fill(Self::empty());
    }

    fn index(&self, ip: K) -> usize {
        // `shift` is 64 for a single bucket: the multiply's result shifted out entirely.
        if self.shift >= 64 {
            0
        } else {
            ip.bucket(self.shift)
        }
    }

    fn prefetch(&self, ip: K) {
        loginwatch_storage::hint::prefetch(&self.buckets[self.index(ip)]);
    }

    fn get(&self, ip: K) -> Option<u32> {
        let b = &self.buckets[self.index(ip)];
        (0..WAYS)
            .find(|&w| b.meta[w] != 0 && ip & K::mask(b.meta[w] & 0xff) == b.net[w])
            .map(|w| (b.meta[w] >> 8) - 1)
    }

    fn insert(&mut self, ip: K, host_bits: u32, answer: u32) {
        let i = self.index(ip);
        let b = &mut self.buckets[i];
        b.net.rotate_right(1);
        b.meta.rotate_right(1);
        b.net[0] = ip & K::mask(host_bits);
        b.meta[0] = (answer + 1) << 8 | host_bits;
    }
}

/// A worker's network → answer cache. Memory: 8 bytes per IPv4 network entry, 24 per IPv6
/// one, and distinct answers (about 100 bytes each) up to a quarter of the IPv4 entries.
pub struct IpCache {
    v4: Table<u32>,
    v6: Table<u128>,
    answers: Vec<Answer>,
    index: HashMap<AnswerKey, u32>,
    max_answers: usize,
    hits: u64,
    misses: u64,
    /// City names of hinted events (see the module docs).
    hint_cities: Names,
    /// Scratch of [`Locator::warm_misses`](crate::Locator::warm_misses): the group's
    /// addresses to walk, and their walks.
    pub(crate) pending: Vec<IpAddr>,
    pub(crate) walks: Vec<Walk>,
}

impl std::fmt::Debug for IpCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpCache")
            .field("v4_entries", &(self.v4.buckets.len() * WAYS))
            .field("v6_entries", &(self.v6.buckets.len() * WAYS))
            .field("answers", &self.answers.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

impl IpCache {
    /// A cache of about `slots` IPv4 networks (rounded up to a power of two), a quarter as
    /// many IPv6 networks, and a quarter as many distinct answers (when those run out, the
    /// whole cache starts over).
    pub fn new(slots: usize) -> IpCache {
        let v4 = slots.max(1).next_power_of_two().div_ceil(WAYS);
        IpCache {
            v4: Table::new(v4),
            v6: Table::new(v4 / 4),
            answers: Vec::new(),
            index: HashMap::new(),
            max_answers: (slots / 4).clamp(1, MAX_ANSWER),
            hits: 0,
            misses: 0,
            pending: Vec::new(),
            walks: Vec::new(),
            hint_cities: Names::bounded(MAX_HINT_CITIES),
        }
    }

    /// How many hinted city names are held.
    #[cfg(test)]
    pub(crate) fn hint_cities_held(&self) -> usize {
        self.hint_cities.len()
    }

    /// The shared copy of a hinted event's city `name`.
    pub(crate) fn hint_city(&mut self, name: &str) -> Arc<str> {
        self.hint_cities.get(name)
    }

    /// Starts loading what a lookup will read for `ip` (canonical), one level per
    /// stage (see [`loginwatch_storage::hint`]): 0 the bucket, 1 the answer, 2 its city name.
    pub fn prefetch(&self, ip: IpAddr, stage: usize) {
        use loginwatch_storage::hint::{prefetch, prefetch_val};
        if stage == 0 {
            return match ip {
                IpAddr::V4(a) => self.v4.prefetch(u32::from(a)),
                IpAddr::V6(a) => self.v6.prefetch(u128::from(a)),
            };
        }
        let Some(answer) = self.find(ip).and_then(|i| self.answers.get(i as usize)) else {
            return;
        };
        match stage {
            1 => prefetch_val(answer),
            _ => {
                if let Some(city) = answer.0.as_ref().and_then(|l| l.city.as_deref()) {
                    prefetch(city.as_ptr());
                }
            }
        }
    }

    /// The index of the cached answer for `ip`, if its network is held.
    pub(crate) fn find(&self, ip: IpAddr) -> Option<u32> {
        match ip {
            IpAddr::V4(a) => self.v4.get(u32::from(a)),
            IpAddr::V6(a) => self.v6.get(u128::from(a)),
        }
    }

    /// The cached answer for `ip` (an address in canonical form: IPv4-mapped IPv6 as IPv4).
    pub(crate) fn get(&mut self, ip: IpAddr) -> Option<Answer> {
        match self.find(ip) {
            Some(i) => {
                self.hits += 1;
                Some(self.answers[i as usize].clone())
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// Records that every address sharing `ip`'s bits above its low `host_bits` resolves to
    /// the answer of `key`, made by `make()` unless an equal key was seen; returns the answer.
    pub(crate) fn insert(
        &mut self,
        ip: IpAddr,
        host_bits: u32,
        key: AnswerKey,
        make: impl FnOnce() -> Answer,
    ) -> Answer {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                if self.answers.len() >= self.max_answers {
                    // Full: start over rather than track which networks use which answer.
                    self.clear();
                }
                let i = self.answers.len() as u32;
                self.answers.push(make());
                self.index.insert(key, i);
                i
            }
        };
        match ip {
            IpAddr::V4(a) => self.v4.insert(u32::from(a), host_bits, i),
            IpAddr::V6(a) => self.v6.insert(u128::from(a), host_bits, i),
        }
        self.answers[i as usize].clone()
    }

    /// Forgets every network and answer (e.g. the databases they came from were replaced);
    /// the counts stay.
    pub fn clear(&mut self) {
        self.v4.clear();
        self.v6.clear();
        self.answers.clear();
        self.index.clear();
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests;
