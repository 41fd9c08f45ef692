//! The locator's tests: hints, caches, databases by family, configuration.

use super::*;
use crate::testdb;
use loginwatch_model::CountryCode;

fn event(ip: &str, hint: Option<GeoHint>) -> LoginEvent {
    let line = format!(r#"{{"account_id":"a","ip":"{ip}","timestamp":"2026-01-01T00:00:00Z"}}"#);
    let mut e = loginwatch_model::decode(line.as_bytes(), 4096).unwrap();
    e.geo = hint;
    e
}

fn locator() -> Locator {
    Locator::new(
        Some(CityDb::from_bytes(testdb::geoip2_city_db()).unwrap()),
        Some(AsnDb::from_bytes(testdb::asn_db()).unwrap()),
        Some(AnonDb::from_bytes(testdb::anon_db()).unwrap()),
    )
}

fn hint(lat: f64, lon: f64) -> GeoHint {
    GeoHint {
        lat,
        lon,
        country: CountryCode::parse("FR"),
        city: Some("Paris".into()),
        accuracy_km: None,
        asn: None,
        proxy: false,
    }
}

#[test]
fn database_lookup_with_asn_and_anon() {
    let l = locator();
    let login = l.locate(event("175.200.1.1", None));
    assert_eq!(login.location.unwrap().city.as_deref(), Some("Seoul"));
    assert_eq!(login.net.asn, Some(4766));
    assert_eq!(login.net.as_org.as_deref(), Some("Korea Telecom"));
    assert!(!login.net.anon.any());
    let vpn = l.locate(event("185.220.101.3", None));
    assert!(vpn.net.anon.vpn && vpn.net.asn == Some(9009) && vpn.location.is_none());
    assert_eq!(l.city_misses(), 1);
}

#[test]
fn a_valid_hint_wins_and_an_invalid_one_is_ignored() {
    let l = locator();
    let login = l.locate(event("175.200.1.1", Some(hint(48.8566, 2.3522))));
    let loc = login.location.unwrap();
    assert_eq!((loc.lat, loc.lon, loc.accuracy_km), (48.8566, 2.3522, 0.0));
    assert_eq!(loc.city.as_deref(), Some("Paris"));
    assert_eq!(loc.country, CountryCode::parse("FR"));
    assert_eq!(
        login.net.asn,
        Some(4766),
        "the network still comes from the database"
    );
    let bad = l.locate(event("175.200.1.1", Some(hint(f64::NAN, 2.0))));
    assert_eq!(bad.location.unwrap().city.as_deref(), Some("Seoul"));
    let mut h = hint(1.0, 2.0);
    h.accuracy_km = Some(25.0);
    let private = l.locate(event("10.0.0.1", Some(h)));
    assert_eq!(private.location.unwrap().accuracy_km, 25.0);
}

#[test]
fn a_hint_fills_the_network_the_databases_leave_open() {
    let with = |asn: Option<u32>, proxy: bool| {
        let mut h = hint(48.8566, 2.3522);
        (h.asn, h.proxy) = (asn, proxy);
        Some(h)
    };
    let l = locator();
    // The ASN database knows 175.200.1.1: its answer stands; the proxy flag adds to it.
    let known = l.locate(event("175.200.1.1", with(Some(64500), true)));
    assert_eq!(known.net.asn, Some(4766));
    assert!(known.net.anon.proxy && !known.net.anon.hosting);
    // No ASN database: the hint's ASN is used, and checked against the anonymizer lists.
    let bare = Locator::new(None, None, None).with_anon_asns(AsnSet::from_asns([64500]));
    let listed = bare.locate(event("198.51.100.7", with(Some(64500), false)));
    assert_eq!(listed.net.asn, Some(64500));
    assert!(listed.net.anon.hosting && !listed.net.anon.proxy);
    let plain = bare.locate(event("198.51.100.7", with(None, false)));
    assert_eq!(plain.net, NetInfo::default());
}

#[test]
fn the_cache_answers_as_the_locator_does_and_counts_misses_alike() {
    let (plain, cached) = (locator(), locator());
    let mut cache = IpCache::new(4);
    let ips = [
        "175.200.1.1",
        "2.2.2.2",
        "175.200.1.1",
        "10.0.0.1",
        "2.2.2.2",
        "2001:db8::1",
        "175.200.1.2",
    ];
    for ip in ips.iter().chain(&ips) {
        let a = plain.locate(event(ip, None));
        let b = cached.locate_cached(event(ip, None), &mut cache);
        assert_eq!(a, b, "{ip}");
    }
    let hinted = event("175.200.1.1", Some(hint(48.8566, 2.3522)));
    assert_eq!(
        plain.locate(hinted.clone()),
        cached.locate_cached(hinted, &mut cache)
    );
    assert_eq!(plain.city_misses(), cached.city_misses());
    assert!(cache.counts().0 > 0);
}

#[test]
fn hinted_events_through_a_cache_share_their_city_name() {
    let l = locator();
    let mut cache = IpCache::new(4);
    let mut named = |city: &str, ip: &str| {
        let mut h = hint(48.8566, 2.3522);
        h.city = Some(city.to_owned());
        let e = event(ip, Some(h));
        let (cached, plain) = (l.locate_cached(e.clone(), &mut cache), l.locate(e));
        assert_eq!(cached, plain, "the same answer as without the cache");
        cached.location.and_then(|loc| loc.city).expect("a city")
    };
    let (a, b, other) = (
        named("Paris", "175.200.1.1"),
        named("Paris", "10.0.0.1"),
        named("Lyon", "175.200.1.1"),
    );
    assert!(std::sync::Arc::ptr_eq(&a, &b), "one copy of a name");
    assert_eq!(&*other, "Lyon");
    for i in 0..crate::cache::MAX_HINT_CITIES {
        named(&format!("c{i}"), "175.200.1.1");
    }
    assert!(
        cache.hint_cities_held() <= crate::cache::MAX_HINT_CITIES,
        "bounded"
    );
}

#[test]
fn other_addresses_of_a_cached_network_hit() {
    let city = CityDb::from_bytes(testdb::geoip2_city_db()).unwrap();
    let l = Locator::new(Some(city), None, None);
    let mut cache = IpCache::new(64);
    let first = l.locate_cached(event("126.1.2.3", None), &mut cache);
    let next = l.locate_cached(event("126.1.2.200", None), &mut cache);
    assert_eq!(first.location, next.location);
    assert_eq!(cache.counts(), (1, 1), "126.0.0.0/8 is one record");
}

#[test]
fn non_routable_addresses_get_no_location_and_no_miss() {
    let l = locator();
    for ip in [
        "10.1.1.1",
        "192.168.0.1",
        "100.64.1.1",
        "127.0.0.1",
        "fe80::1",
        "fd00::1",
    ] {
        let login = l.locate(event(ip, None));
        assert_eq!(login.location, None, "{ip}");
        assert_eq!(login.net, NetInfo::default(), "{ip}");
    }
    assert_eq!(l.city_misses(), 0);
}

#[test]
fn lists_mark_hosting() {
    let l = Locator::default()
        .with_anon_cidrs(CidrSet::parse("203.0.113.0/24\n9.9.9.0/24", "t").unwrap())
        .with_anon_asns(AsnSet::parse("AS4766", "t").unwrap());
    assert!(l.locate(event("9.9.9.9", None)).net.anon.hosting);
    assert!(l.locate(event("203.0.113.5", None)).net.anon.hosting);
    assert!(!l.locate(event("8.8.8.8", None)).net.anon.any());
    let with_asn = locator().with_anon_asns(AsnSet::parse("AS4766", "t").unwrap());
    let login = with_asn.locate(event("175.200.1.1", None));
    assert_eq!(login.net.anon.names(), vec!["hosting"]);
}

#[test]
fn open_reports_the_failing_step_and_path() {
    let dir = std::env::temp_dir().join(format!("lw-locator-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let city = dir.join("city.mmdb");
    std::fs::write(&city, testdb::geoip2_city_db()).unwrap();
    let asn = dir.join("asn.mmdb");
    std::fs::write(&asn, testdb::asn_db()).unwrap();
    let list = dir.join("vpn.txt");
    std::fs::write(&list, "9.9.9.0/24\n").unwrap();
    let mut cfg = GeoConfig {
        city: vec![city.clone()],
        asn: Some(asn.clone()),
        anonymous: None,
    };
    let l = Locator::open(&cfg, std::slice::from_ref(&list), &[]).unwrap();
    assert!(l.locate(event("9.9.9.9", None)).net.anon.hosting);
    cfg.anonymous = Some(city.clone());
    let err = Locator::open(&cfg, &[], &[]).unwrap_err();
    assert!(
        matches!(&err, GeoError::Anonymous { path, .. } if *path == city),
        "{err}"
    );
    cfg.anonymous = None;
    cfg.asn = Some(dir.join("missing.mmdb"));
    let err = Locator::open(&cfg, &[], &[]).unwrap_err();
    assert!(err.to_string().contains("missing.mmdb"), "{err}");
    cfg.asn = None;
    let err = Locator::open(&cfg, &[], &[dir.join("nope.txt")]).unwrap_err();
    assert!(matches!(err, GeoError::AsnList(_)));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn each_address_is_looked_up_in_the_database_of_its_family() {
    let (v4, v6) = testdb::flat_city_dbs_by_family();
    let v4 = || CityDb::from_bytes(v4.clone()).unwrap();
    let v6 = || CityDb::from_bytes(v6.clone()).unwrap();
    assert!(!v4().holds_ipv6() && v6().holds_ipv6());
    let city = |l: &Login| {
        l.location
            .as_ref()
            .and_then(|x| x.city.as_deref().map(str::to_owned))
    };
    // In either order, with and without the cache: the family decides.
    for both in [
        Locator::new(Some(v4()), None, None).with_city(v6()),
        Locator::new(Some(v6()), None, None).with_city(v4()),
    ] {
        let mut cache = IpCache::new(1 << 10);
        for _ in 0..2 {
            for (ip, want) in [
                ("2.16.1.1", "Frankfurt am Main"),
                ("2a00:1450::1", "Mountain View"),
            ] {
                assert_eq!(city(&both.locate(event(ip, None))).as_deref(), Some(want));
                let cached = both.locate_cached(event(ip, None), &mut cache);
                assert_eq!(
                    city(&cached).as_deref(),
                    Some(want),
                    "{ip} through the cache"
                );
            }
        }
        assert_eq!((both.city_misses(), both.family_misses()), (0, 0));
    }
    // DB-IP's IPv4 file alone: IPv6 logins are counted as having no database of their
    // family, not as addresses the database does not know.
    let v4_only = Locator::new(Some(v4()), None, None);
    assert!(v4_only
        .locate(event("2a00:1450::1", None))
        .location
        .is_none());
    assert!(v4_only.locate(event("9.9.9.9", None)).location.is_none());
    assert_eq!((v4_only.city_misses(), v4_only.family_misses()), (1, 1));
}

#[test]
fn config_rejects_unknown_keys() {
    let ok: GeoConfig = toml_like(r#"{"city":"/x/city.mmdb"}"#).unwrap();
    assert_eq!(ok.city, [std::path::Path::new("/x/city.mmdb")]);
    let both: GeoConfig = toml_like(r#"{"city":["/x/v4.mmdb","/x/v6.mmdb"]}"#).unwrap();
    assert_eq!(both.city.len(), 2);
    assert!(toml_like(r#"{"citty":"/x"}"#).is_err());
}

fn toml_like(json: &str) -> Result<GeoConfig, serde_json::Error> {
    serde_json::from_str(json)
}
