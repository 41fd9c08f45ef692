//! The demo world's city, ASN and anonymizer databases, written with [`crate::writer`] once
//! per process and read through the same types as real databases.

use super::{networks, DemoNetwork, NetKind, CITIES};
use crate::asn::{AnonDb, AsnDb};
use crate::city::CityDb;
use crate::locator::Locator;
use crate::writer::{MmdbBuilder, Value};
use ipnet::IpNet;
use std::sync::OnceLock;

/// Fixed so that the demo databases are byte-for-byte reproducible (2026-01-01).
const BUILD_EPOCH: u64 = 1_767_225_600;

fn builder(database_type: &str, description: &str) -> MmdbBuilder {
    MmdbBuilder::new(database_type)
        .description("en", description)
        .build_epoch(BUILD_EPOCH)
}

/// Writes one database with a record per block; static tables, so failure is a bug.
fn write(mut b: MmdbBuilder, record: impl Fn(&DemoNetwork) -> Option<Value>) -> Vec<u8> {
    for net in networks() {
        if let Some(value) = record(net) {
            b.insert(IpNet::V4(net.v4), value.clone());
            b.insert(IpNet::V6(net.v6), value);
        }
    }
    b.build()
        .expect("the demo world's static tables fit an MMDB file")
}

fn city_record(net: &DemoNetwork) -> Option<Value> {
    let c = &CITIES[net.city];
    let names = Value::map([("en", Value::from(c.name))]);
    Some(Value::map([
        ("city", Value::map([("names", names)])),
        (
            "country",
            Value::map([("iso_code", Value::from(c.country))]),
        ),
        (
            "location",
            Value::map([
                ("accuracy_radius", Value::U16(net.accuracy_km)),
                ("latitude", Value::F64(c.lat)),
                ("longitude", Value::F64(c.lon)),
                ("time_zone", Value::from(c.timezone)),
            ]),
        ),
    ]))
}

fn asn_record(net: &DemoNetwork) -> Option<Value> {
    let org = match net.kind {
        NetKind::Residential => format!("{} ({})", net.org, CITIES[net.city].name),
        _ => net.org.to_owned(),
    };
    Some(Value::map([
        ("autonomous_system_number", Value::U32(net.asn)),
        ("autonomous_system_organization", Value::from(org)),
    ]))
}

fn anon_record(net: &DemoNetwork) -> Option<Value> {
    let flags: &[&str] = match net.kind {
        NetKind::Hosting => &["is_hosting_provider"],
        NetKind::Vpn => &["is_anonymous", "is_anonymous_vpn", "is_hosting_provider"],
        _ => return None,
    };
    Some(Value::map(flags.iter().map(|f| (*f, Value::Bool(true)))))
}

fn city_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        write(
            builder("loginwatch-Demo-City", "loginwatch demo world: cities"),
            city_record,
        )
    })
}

fn asn_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        write(
            builder("loginwatch-Demo-ASN", "loginwatch demo world: networks"),
            asn_record,
        )
    })
}

fn anon_bytes() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    let b = || {
        builder(
            "loginwatch-Demo-Anonymous-IP",
            "loginwatch demo world: hosting and VPN",
        )
    };
    BYTES.get_or_init(|| write(b(), anon_record))
}

/// The demo city database (GeoIP2-City layout), written once per process.
pub fn city_db() -> CityDb {
    CityDb::from_static(city_bytes()).expect("the demo city database reads back")
}

/// The demo ASN database (GeoLite2-ASN layout).
pub fn asn_db() -> AsnDb {
    AsnDb::from_static(asn_bytes()).expect("the demo ASN database reads back")
}

/// The demo anonymizer database (GeoIP2-Anonymous-IP layout): hosting and VPN blocks.
pub fn anon_db() -> AnonDb {
    AnonDb::from_static(anon_bytes()).expect("the demo anonymizer database reads back")
}

/// A locator over the three demo databases, without anonymizer lists.
pub fn locator() -> Locator {
    Locator::new(Some(city_db()), Some(asn_db()), Some(anon_db()))
}

/// The raw bytes of the demo databases (city, ASN, anonymous), e.g. to write them to files
/// that `replay --geoip-city` can read.
pub fn database_bytes() -> [&'static [u8]; 3] {
    [city_bytes(), asn_bytes(), anon_bytes()]
}

#[cfg(test)]
mod tests {
    use super::super::*;
    use super::*;

    #[test]
    fn every_city_resolves_to_itself() {
        let (db, asn) = (city_db(), asn_db());
        for (i, c) in cities().iter().enumerate() {
            for n in [0, 1, 7, u64::MAX] {
                for ip in [city_ip(i, n), city_ipv6(i, n), mobile_ip(i, n)] {
                    let loc = db
                        .lookup(ip)
                        .unwrap_or_else(|| panic!("{ip} of {}", c.name));
                    assert_eq!(loc.city.as_deref(), Some(c.name), "{ip}");
                    assert_eq!(
                        loc.country.map(|cc| cc.to_string()).as_deref(),
                        Some(c.country)
                    );
                    assert_eq!((loc.lat, loc.lon), (c.lat, c.lon));
                    assert!(crate::is_routable(ip), "{ip}");
                }
                let home = asn.lookup(city_ip(i, n)).unwrap();
                assert_eq!(home.asn, RESIDENTIAL_ASN_BASE + i as u32);
                assert_eq!(asn.lookup(mobile_ip(i, n)).unwrap().asn, MOBILE_ASN);
                assert_eq!(db.lookup(mobile_ip(i, n)).unwrap().accuracy_km, 500.0);
            }
        }
    }

    #[test]
    fn hosting_vpn_and_satellite_blocks_are_flagged() {
        let l = locator();
        let (db, anon, asn) = (city_db(), anon_db(), asn_db());
        for n in 0..50 {
            let h = anon.lookup(hosting_ip(n)).unwrap();
            assert!(h.hosting && !h.vpn);
            let v = anon.lookup(vpn_ip(n)).unwrap();
            assert!(v.vpn && v.hosting);
            assert!(db.lookup(vpn_ip(n)).is_some());
            assert_eq!(asn.lookup(satellite_ip(n)).unwrap().asn, SATELLITE_ASN);
            assert_eq!(anon.lookup(satellite_ip(n)), None);
            assert_eq!(anon.lookup(city_ip(n as usize, n)), None);
        }
        assert_eq!(l.city_misses(), 0);
    }

    #[test]
    fn database_bytes_are_reproducible() {
        let [c, a, n] = database_bytes();
        assert!(!c.is_empty() && !a.is_empty() && !n.is_empty());
        let again = write(
            builder("loginwatch-Demo-City", "loginwatch demo world: cities"),
            city_record,
        );
        assert_eq!(again, c);
    }
}
