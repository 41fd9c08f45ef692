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
mod tests {
    use super::*;
    use loginwatch_model::CountryCode;

    fn place(city: &str) -> Answer {
        let loc = Location {
            lat: 1.0,
            lon: 2.0,
            accuracy_km: 3.0,
            country: CountryCode::parse("FR"),
            city: Some(city.into()),
        };
        (Some(loc), NetInfo::default())
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn key(city: usize) -> AnswerKey {
        AnswerKey {
            city: Some((city, 0)),
            ..AnswerKey::default()
        }
    }

    fn city(a: Option<Answer>) -> Option<String> {
        a.and_then(|(l, _)| l?.city.map(|c| c.to_string()))
    }

    #[test]
    fn a_network_answers_for_all_its_addresses_and_no_other() {
        let mut c = IpCache::new(16);
        assert!(c.get(ip("198.51.100.7")).is_none());
        c.insert(ip("198.51.100.7"), 4, key(1), || place("Paris"));
        assert_eq!(city(c.get(ip("198.51.100.15"))).as_deref(), Some("Paris"));
        assert!(c.get(ip("198.51.100.16")).is_none(), "outside the /28");
        assert!(c.get(ip("::c633:6407")).is_none(), "IPv6 is another table");
        c.insert(ip("2001:db8::1"), 80, key(2), || place("Lyon"));
        assert_eq!(city(c.get(ip("2001:db8::ffff:1"))).as_deref(), Some("Lyon"));
        assert!(c.get(ip("2001:db9::1")).is_none());
        assert_eq!(c.counts(), (2, 4));
    }

    #[test]
    fn equal_keys_share_one_answer_and_whole_space_networks_work() {
        let mut c = IpCache::new(16);
        c.insert(ip("10.0.0.1"), 32, key(7), || place("Nice"));
        let again = c.insert(ip("2001:db8::1"), 128, key(7), || unreachable!());
        assert_eq!(city(Some(again)).as_deref(), Some("Nice"));
        // Found from the bucket of the address's own /24 (/64): other ones miss once.
        assert!(c.get(ip("10.0.0.255")).is_some());
        assert!(c.get(ip("2001:db8::ffff")).is_some());
        assert_eq!(c.answers.len(), 1);
    }

    #[test]
    fn prefetching_is_only_a_hint() {
        let mut c = IpCache::new(16);
        c.insert(ip("198.51.100.7"), 4, key(1), || place("Paris"));
        for stage in 0..loginwatch_storage::hint::STAGES + 1 {
            for a in ["198.51.100.1", "203.0.113.1", "2001:db8::1"] {
                c.prefetch(ip(a), stage);
            }
        }
        assert_eq!(
            c.counts(),
            (0, 0),
            "prefetches count neither hits nor misses"
        );
        assert_eq!(city(c.get(ip("198.51.100.1"))).as_deref(), Some("Paris"));
    }

    #[test]
    fn buckets_keep_the_latest_networks() {
        let mut c = IpCache::new(4);
        for i in 0..=WAYS as u8 {
            // Same /24, so the same bucket: the first network is pushed out.
            c.insert(IpAddr::from([192, 0, 2, i * 16]), 4, key(1), || place("X"));
        }
        assert!(c.get(ip("192.0.2.1")).is_none());
        assert!(c.get(ip("192.0.2.17")).is_some());
        assert!(c.get(ip("192.0.2.65")).is_some());
    }

    #[test]
    fn a_full_answer_table_starts_over() {
        let mut c = IpCache::new(8);
        c.insert(ip("192.0.2.1"), 0, key(1), || place("A"));
        c.insert(ip("2001:db8::1"), 0, key(2), || place("B"));
        let third = c.insert(ip("198.51.100.1"), 0, key(3), || place("C"));
        assert_eq!(city(Some(third)).as_deref(), Some("C"));
        assert_eq!(c.answers.len(), 1);
        assert!(
            c.get(ip("2001:db8::1")).is_none(),
            "cleared with the answers"
        );
        assert!(c.get(ip("192.0.2.1")).is_none());
    }

    mod against_the_locator {
        //! Property: through the cache, [`Locator::locate_cached`] answers exactly as
        //! [`Locator::locate`] for random nested networks in every source.

        use crate::writer::{MmdbBuilder, Value};
        use crate::{testdb, AnonDb, AsnDb, CidrSet, CityDb, Locator};
        use ipnet::IpNet;
        use proptest::prelude::*;
        use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

        /// A network by index: IPv4 inside 81.0.0.0/16, IPv6 inside 2a02::/32.
        fn network(v6: bool, base: u64, len: u8) -> IpNet {
            let net = if v6 {
                let a = (0x2a02u128 << 112) | (u128::from(base) << 32);
                IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), 32 + len * 6)
            } else {
                let a = (81u32 << 24) | (base as u32 & 0xffff);
                IpNet::new(IpAddr::V4(Ipv4Addr::from(a)), 16 + len)
            };
            net.unwrap().trunc()
        }

        type Nets = Vec<(bool, u64, u8, u8)>;

        fn nets() -> impl Strategy<Value = Nets> {
            prop::collection::vec((any::<bool>(), any::<u64>(), 0u8..=16, 0u8..4), 1..24)
        }

        fn db(kind: &str, nets: &Nets, value: impl Fn(u8) -> Value) -> Vec<u8> {
            let mut b = MmdbBuilder::new(kind);
            for &(v6, base, len, rec) in nets {
                b.insert(network(v6, base, len), value(rec));
            }
            b.build().unwrap()
        }

        fn locator(city: &Nets, asn: &Nets, anon: &Nets, listed: &Nets) -> Locator {
            let lat = [10.0, 20.0, 95.0, 30.0]; // 95: a record without valid coordinates
            let city = db("GeoLite2-City", city, |r| {
                testdb::geoip2_city(&format!("c{r}"), "FR", lat[r as usize], 1.0, 5)
            });
            let asn = db("GeoLite2-ASN", asn, |r| {
                Value::map([("autonomous_system_number", Value::U32(r.into()))])
            });
            let anon = db("GeoIP2-Anonymous-IP", anon, |r| {
                Value::map([("is_anonymous_vpn", Value::Bool(r % 2 == 0))])
            });
            let cidrs = listed.iter().map(|&(v6, b, l, _)| network(v6, b, l));
            Locator::new(
                Some(CityDb::from_bytes(city).unwrap()),
                Some(AsnDb::from_bytes(asn).unwrap()),
                Some(AnonDb::from_bytes(anon).unwrap()),
            )
            .with_anon_cidrs(CidrSet::from_nets(cidrs))
            .with_anon_asns(crate::AsnSet::from_asns([1]))
        }

        /// An address near a network's start: `bits` low bits of `offset` added.
        fn address(net: IpNet, offset: u64, bits: u8, mapped: bool) -> IpAddr {
            let low = offset & ((1u64 << bits) - 1);
            match net {
                IpNet::V4(n) => {
                    let a = Ipv4Addr::from(u32::from(n.network()).wrapping_add(low as u32));
                    if mapped {
                        IpAddr::V6(a.to_ipv6_mapped())
                    } else {
                        IpAddr::V4(a)
                    }
                }
                IpNet::V6(n) => IpAddr::V6(Ipv6Addr::from(
                    u128::from(n.network()).wrapping_add(low.into()),
                )),
            }
        }

        fn event(ip: IpAddr) -> loginwatch_model::LoginEvent {
            let line =
                format!(r#"{{"account_id":"a","ip":"{ip}","timestamp":"2026-01-01T00:00:00Z"}}"#);
            loginwatch_model::decode(line.as_bytes(), 4096).unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]
            #[test]
            fn same_answers_as_without_the_cache(
                city in nets(), asn in nets(), anon in nets(), listed in nets(),
                probes in prop::collection::vec(
                    (any::<prop::sample::Index>(), any::<u64>(), 0u8..=20, any::<bool>()),
                    1..80,
                ),
                slots in 1usize..64,
            ) {
                let (plain, cached) = (
                    locator(&city, &asn, &anon, &listed),
                    locator(&city, &asn, &anon, &listed),
                );
                let all: Vec<IpNet> = [&city, &asn, &anon, &listed]
                    .into_iter()
                    .flatten()
                    .map(|&(v6, b, l, _)| network(v6, b, l))
                    .collect();
                let mut cache = super::IpCache::new(slots);
                for &(i, offset, bits, mapped) in probes.iter().chain(&probes) {
                    let ip = address(*i.get(&all), offset, bits, mapped);
                    let want = plain.locate(event(ip));
                    prop_assert_eq!(&cached.locate_cached(event(ip), &mut cache), &want);
                }
                prop_assert_eq!(plain.city_misses(), cached.city_misses());
            }
        }
    }
}
