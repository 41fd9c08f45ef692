//! Test fixtures: small databases of every supported layout, written with [`crate::writer`].

use crate::writer::{MmdbBuilder, Value};
use ipnet::IpNet;

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

/// MaxMind GeoIP2-City layout: nested names, `location`, `country.iso_code`.
pub fn geoip2_city(name: &str, iso: &str, lat: f64, lon: f64, radius: u16) -> Value {
    let names = Value::map([("en", Value::from(name)), ("de", Value::from("x"))]);
    Value::map([
        (
            "city",
            Value::map([("geoname_id", Value::U32(1)), ("names", names)]),
        ),
        ("continent", Value::map([("code", Value::from("AS"))])),
        ("country", Value::map([("iso_code", Value::from(iso))])),
        (
            "location",
            Value::map([
                ("accuracy_radius", Value::U16(radius)),
                ("latitude", Value::F64(lat)),
                ("longitude", Value::F64(lon)),
                ("time_zone", Value::from("Asia/Seoul")),
            ]),
        ),
        (
            "subdivisions",
            Value::Array(vec![Value::map([("iso_code", Value::from("11"))])]),
        ),
    ])
}

/// A GeoLite2-City database: Seoul (v4 and v6), Tokyo, a record without coordinates and one
/// with out-of-range coordinates.
pub fn geoip2_city_db() -> Vec<u8> {
    let mut b = MmdbBuilder::new("GeoLite2-City");
    let seoul = geoip2_city("Seoul", "KR", 37.5665, 126.978, 20);
    b.insert(net("175.192.0.0/10"), seoul.clone());
    b.insert(net("2001:2d8::/32"), seoul);
    b.insert(
        net("126.0.0.0/8"),
        geoip2_city("Tokyo", "JP", 35.6762, 139.6503, 50),
    );
    b.insert(
        net("5.0.0.0/8"),
        Value::map([("country", Value::map([("iso_code", Value::from("DE"))]))]),
    );
    b.insert(net("6.0.0.0/8"), geoip2_city("Nowhere", "US", 91.0, 0.0, 5));
    b.build().unwrap()
}

/// The flat DB-IP / ip-location-db city layout, coordinates as single-precision floats.
pub fn flat_city_db() -> Vec<u8> {
    let mut b = MmdbBuilder::new("ip-location-db dbip-city");
    let rec = |cc: &str, city: &str, lat: f32, lon: f32| {
        Value::map([
            ("country_code", Value::from(cc)),
            ("state1", Value::from("")),
            ("city", Value::from(city)),
            ("postcode", Value::from("")),
            ("latitude", Value::F32(lat)),
            ("longitude", Value::F32(lon)),
            ("timezone", Value::from("Europe/Berlin")),
        ])
    };
    b.insert(
        net("2.16.0.0/13"),
        rec("DE", "Frankfurt am Main", 50.1109, 8.6821),
    );
    b.insert(
        net("2a00:1450::/32"),
        rec("US", "Mountain View", 37.386, -122.0838),
    );
    b.build().unwrap()
}

/// DB-IP's two files in the flat layout: IPv4-only (`ip_version` 4: Frankfurt at
/// 2.16.0.0/13) and IPv6 (Mountain View at 2a00:1450::/32), the first record of each at the
/// same data offset.
pub fn flat_city_dbs_by_family() -> (Vec<u8>, Vec<u8>) {
    let rec = |cc: &str, city: &str, lat: f32, lon: f32| {
        Value::map([
            ("country_code", Value::from(cc)),
            ("city", Value::from(city)),
            ("latitude", Value::F32(lat)),
            ("longitude", Value::F32(lon)),
        ])
    };
    let mut v4 = MmdbBuilder::new("ip-location-db dbip-city-ipv4").ipv4_only();
    v4.insert(
        net("2.16.0.0/13"),
        rec("DE", "Frankfurt am Main", 50.1109, 8.6821),
    );
    let mut v6 = MmdbBuilder::new("ip-location-db dbip-city-ipv6");
    v6.insert(
        net("2a00:1450::/32"),
        rec("US", "Mountain View", 37.386, -122.0838),
    );
    (v4.build().unwrap(), v6.build().unwrap())
}

/// GeoLite2-ASN layout.
pub fn asn_db() -> Vec<u8> {
    let mut b = MmdbBuilder::new("GeoLite2-ASN");
    let rec = |asn: u32, org: &str| {
        Value::map([
            ("autonomous_system_number", Value::U32(asn)),
            ("autonomous_system_organization", Value::from(org)),
        ])
    };
    b.insert(net("175.192.0.0/10"), rec(4766, "Korea Telecom"));
    b.insert(net("185.220.100.0/22"), rec(9009, "M247 Europe SRL"));
    b.insert(net("2001:2d8::/32"), rec(4766, "Korea Telecom"));
    b.build().unwrap()
}

/// GeoIP2-Anonymous-IP layout.
pub fn anon_db() -> Vec<u8> {
    let mut b = MmdbBuilder::new("GeoIP2-Anonymous-IP");
    let rec = |flags: &[&str]| Value::map(flags.iter().map(|f| (*f, Value::Bool(true))));
    b.insert(
        net("185.220.100.0/24"),
        rec(&["is_anonymous", "is_tor_exit_node"]),
    );
    b.insert(
        net("185.220.101.0/24"),
        rec(&["is_anonymous", "is_anonymous_vpn", "is_hosting_provider"]),
    );
    b.insert(
        net("2a0b:f4c0::/32"),
        rec(&["is_anonymous", "is_public_proxy", "is_residential_proxy"]),
    );
    b.build().unwrap()
}
