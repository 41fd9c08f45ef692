//! The worker cache's tests: networks, answers, families, starting over.

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
