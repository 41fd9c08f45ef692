//! Round trips through the `maxminddb` reader.

use super::*;
use ipnet::IpNet;
use maxminddb::Reader;
use proptest::prelude::*;
use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[derive(Deserialize, Debug, PartialEq)]
struct Rec<'a> {
    name: &'a str,
    n: u32,
    tags: Vec<&'a str>,
    ok: bool,
    big: u64,
    small: u16,
    f: f64,
    g: f32,
}

fn rec(name: &str, n: u32) -> Value {
    Value::map([
        ("name", Value::from(name)),
        ("n", Value::U32(n)),
        ("tags", Value::Array(vec!["a".into(), "b".into()])),
        ("ok", Value::Bool(true)),
        ("big", Value::U64(u64::MAX)),
        ("small", Value::U16(300)),
        ("f", Value::F64(-12.5)),
        ("g", Value::F32(0.25)),
    ])
}

fn sample(size: RecordSize) -> Vec<u8> {
    let mut b = MmdbBuilder::new("Test-DB")
        .description("en", "test")
        .record_size(size)
        .build_epoch(1_700_000_000);
    b.insert(net("81.2.69.0/24"), rec("v4", 1));
    b.insert(net("81.2.69.128/25"), rec("v4-more-specific", 2));
    b.insert(net("2a02:dd0::/32"), rec("v6", 3));
    b.insert(net("10.0.0.0/8"), rec("v4", 1));
    b.build().unwrap()
}

fn name_at(r: &Reader<Vec<u8>>, addr: &str) -> Option<String> {
    let res = r.lookup(ip(addr)).unwrap();
    res.decode::<Rec>().unwrap().map(|x| x.name.to_owned())
}

#[test]
fn every_record_size_reads_back_and_verifies() {
    for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
        let r = Reader::from_source(sample(size)).unwrap();
        r.verify().unwrap();
        let m = r.metadata();
        assert_eq!(m.record_size, u16::from(size.bits()));
        assert_eq!(m.ip_version, 6);
        assert_eq!(m.database_type, "Test-DB");
        assert_eq!(m.build_epoch, 1_700_000_000);
        assert_eq!(m.binary_format_major_version, 2);
        assert_eq!(m.languages, vec!["en".to_owned()]);
        assert_eq!(m.description.get("en").map(String::as_str), Some("test"));
        let full = r.lookup(ip("81.2.69.1")).unwrap().decode::<Rec>().unwrap();
        assert_eq!(
            full.unwrap(),
            Rec {
                name: "v4",
                n: 1,
                tags: vec!["a", "b"],
                ok: true,
                big: u64::MAX,
                small: 300,
                f: -12.5,
                g: 0.25,
            }
        );
        assert_eq!(
            name_at(&r, "81.2.69.200").as_deref(),
            Some("v4-more-specific")
        );
        assert_eq!(name_at(&r, "2a02:dd0:1::1").as_deref(), Some("v6"));
        assert_eq!(name_at(&r, "81.2.70.1"), None);
        assert_eq!(name_at(&r, "2a02:dd1::1"), None);
    }
}

#[test]
fn ipv4_is_reachable_through_mapped_and_6to4_aliases() {
    let r = Reader::from_source(sample(RecordSize::Bits24)).unwrap();
    assert_eq!(name_at(&r, "::ffff:81.2.69.1").as_deref(), Some("v4"));
    assert_eq!(name_at(&r, "::81.2.69.1").as_deref(), Some("v4"));
    assert_eq!(name_at(&r, "2002:5102:4501::1").as_deref(), Some("v4"));
    let n = r.lookup(ip("81.2.69.1")).unwrap().network().unwrap();
    assert_eq!(n.to_string(), "81.2.69.0/25");
}

#[test]
fn identical_records_are_stored_once() {
    let r = Reader::from_source(sample(RecordSize::Bits24)).unwrap();
    let a = r.lookup(ip("81.2.69.1")).unwrap().offset();
    let b = r.lookup(ip("10.1.2.3")).unwrap().offset();
    assert!(a.is_some());
    assert_eq!(a, b);
}

#[test]
fn whole_space_and_empty_databases() {
    let bytes = write_mmdb("All", &[(net("::/0"), Value::from("x"))]).unwrap();
    let r = Reader::from_source(bytes).unwrap();
    let v: Option<&str> = r.lookup(ip("1.2.3.4")).unwrap().decode().unwrap();
    assert_eq!(v, Some("x"));
    let empty = write_mmdb("Empty", &[]).unwrap();
    let r = Reader::from_source(empty).unwrap();
    assert!(!r.lookup(ip("1.2.3.4")).unwrap().has_data());
}

/// An address with its prefix in the IPv6 bit space, for overlap checks.
fn key(n: &IpNet) -> (u128, u8) {
    (bits(n), bit_len(n))
}

fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    let ((x, lx), (y, ly)) = (key(a), key(b));
    let len = lx.min(ly);
    len == 0 || (x ^ y) >> (128 - u32::from(len)) == 0
}

fn arb_net() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 8u8..=32).prop_map(|(a, l)| {
            IpNet::V4(ipnet::Ipv4Net::new(Ipv4Addr::from(a), l).unwrap().trunc())
        }),
        (0x2400u128..=0x2fff, any::<u128>(), 16u8..=128).prop_map(|(h, rest, l)| {
            let addr = (h << 112) | (rest >> 16);
            IpNet::V6(
                ipnet::Ipv6Net::new(Ipv6Addr::from(addr), l)
                    .unwrap()
                    .trunc(),
            )
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_disjoint_networks_round_trip(cands in prop::collection::vec(arb_net(), 1..40)) {
        let mut nets: Vec<IpNet> = Vec::new();
        for c in cands {
            if !nets.iter().any(|n| overlaps(n, &c)) {
                nets.push(c);
            }
        }
        let entries: Vec<(IpNet, Value)> = nets
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, Value::U32(i as u32 % 5)))
            .collect();
        let r = Reader::from_source(write_mmdb("Prop", &entries).unwrap()).unwrap();
        prop_assert!(r.verify().is_ok());
        for (i, n) in nets.iter().enumerate() {
            for addr in [n.network(), n.broadcast()] {
                let res = r.lookup(addr).unwrap();
                prop_assert_eq!(res.decode::<u32>().unwrap(), Some(i as u32 % 5));
                prop_assert_eq!(res.network().unwrap().to_string(), n.to_string());
            }
        }
    }
}
