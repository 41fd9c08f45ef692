//! City lookups over a GeoIP2/GeoLite2-City database or a flat DB-IP / ip-location-db city
//! database; the layout is detected when the file is opened.

use crate::db::{Db, DbBytes, DbError, Num, OffsetCache};
use crate::types::Location;
use loginwatch_model::CountryCode;
use maxminddb::{LookupResult, Reader};
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::net::IpAddr;

/// How a city database lays out its records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CityLayout {
    /// MaxMind GeoIP2/GeoLite2-City: `location.{latitude,longitude,accuracy_radius}`,
    /// `country.iso_code`, `city.names.en`.
    GeoIp2,
    /// DB-IP lite as packaged by ip-location-db: `latitude`, `longitude`, `country_code`,
    /// `city` at the top level, no accuracy radius (reported as 0, unknown).
    Flat,
}

/// Distinct records whose decoded [`Location`] is kept (GeoLite2-City has a few hundred
/// thousand; the hot set of a login stream is far smaller).
const CACHE_CAPACITY: usize = 1 << 16;

/// An open city database.
pub struct CityDb {
    db: Db,
    layout: CityLayout,
    cache: OffsetCache<Option<Location>>,
}

impl std::fmt::Debug for CityDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CityDb")
            .field("database_type", &self.database_type())
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct GeoIp2Record<'a> {
    #[serde(borrow)]
    city: Option<Named<'a>>,
    #[serde(borrow)]
    country: Option<Country<'a>>,
    location: Option<GeoIp2Location>,
}

#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct Country<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct GeoIp2Location {
    latitude: Option<Num>,
    longitude: Option<Num>,
    accuracy_radius: Option<Num>,
}

#[derive(Deserialize)]
struct FlatRecord<'a> {
    latitude: Option<Num>,
    longitude: Option<Num>,
    #[serde(borrow)]
    country_code: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
}

/// Which layout-defining keys a record has.
#[derive(Deserialize)]
struct Probe {
    location: Option<IgnoredAny>,
    latitude: Option<IgnoredAny>,
}

impl CityDb {
    fn from_db(db: Db) -> Result<Self, DbError> {
        let layout = detect_layout(&db.reader).ok_or_else(|| DbError::Layout {
            database_type: db.reader.metadata().database_type.clone(),
            expected: "city (GeoIP2-City or flat DB-IP)",
        })?;
        Ok(CityDb {
            db,
            layout,
            cache: OffsetCache::new(CACHE_CAPACITY),
        })
    }

    /// The detected layout.
    pub fn layout(&self) -> CityLayout {
        self.layout
    }

    /// The `database_type` from the file's metadata.
    pub fn database_type(&self) -> &str {
        &self.db.reader.metadata().database_type
    }

    /// Where `ip` is, or `None` when the database has no record with valid coordinates for it.
    /// Repeated lookups of one record return the same shared city name without allocating.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let result = self.db.reader.lookup(ip.to_canonical()).ok()?;
        let offset = result.offset()?;
        self.cache
            .get_or_insert_with(offset, || self.decode(&result))
    }

    /// The open database (its walks are decoded with [`CityDb::decode`]).
    /// True when the database holds IPv6 networks (`ip_version` 6; MaxMind's hold IPv4 too),
    /// false for an IPv4-only one.
    pub fn holds_ipv6(&self) -> bool {
        self.db.reader.metadata().ip_version == 6
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Every `every`-th network of the database that has a valid location, at most `max` of
    /// them, in address order: the raw material for synthetic streams whose IPs resolve here.
    pub fn sample_networks(&self, every: usize, max: usize) -> Vec<(ipnet::IpNet, Location)> {
        let Ok(iter) = self.db.reader.networks(Default::default()) else {
            return Vec::new();
        };
        iter.filter_map(Result::ok)
            .step_by(every.max(1))
            .filter_map(|item| {
                let net = item.network().ok()?;
                let net = ipnet::IpNet::new(net.ip(), net.prefix()).ok()?;
                Some((net, self.decode(&item)?))
            })
            .take(max)
            .collect()
    }

    /// The location of a walk's record; `None` without one or without valid coordinates.
    pub(crate) fn decode(&self, result: &LookupResult<'_, DbBytes>) -> Option<Location> {
        match self.layout {
            CityLayout::GeoIp2 => {
                let r: GeoIp2Record = result.decode().ok()??;
                let loc = r.location?;
                let city = r.city.and_then(|c| c.names).and_then(|n| n.en);
                let country = r.country.and_then(|c| c.iso_code);
                location(
                    loc.latitude?,
                    loc.longitude?,
                    loc.accuracy_radius,
                    country,
                    city,
                )
            }
            CityLayout::Flat => {
                let r: FlatRecord = result.decode().ok()??;
                location(r.latitude?, r.longitude?, None, r.country_code, r.city)
            }
        }
    }
}

/// A validated location; `None` when the coordinates are out of range or not finite.
fn location(
    lat: Num,
    lon: Num,
    accuracy: Option<Num>,
    country: Option<&str>,
    city: Option<&str>,
) -> Option<Location> {
    let country = country.and_then(CountryCode::parse);
    Location::checked(lat.0, lon.0, accuracy.map(|a| a.0), country, city)
}

/// MaxMind's own city databases by name; anything else by the keys of its first records.
fn detect_layout(reader: &Reader<DbBytes>) -> Option<CityLayout> {
    let t = &reader.metadata().database_type;
    if (t.starts_with("GeoIP2") || t.starts_with("GeoLite2")) && t.contains("City") {
        return Some(CityLayout::GeoIp2);
    }
    for item in reader.networks(Default::default()).ok()?.take(256) {
        let Ok(Some(probe)) = item.ok()?.decode::<Probe>() else {
            continue;
        };
        if probe.location.is_some() {
            return Some(CityLayout::GeoIp2);
        }
        if probe.latitude.is_some() {
            return Some(CityLayout::Flat);
        }
    }
    None
}

crate::db::constructors!(CityDb);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdb;
    use crate::writer::{write_mmdb, Value};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn geoip2_layout_v4_v6_and_mapped() {
        let db = CityDb::from_bytes(testdb::geoip2_city_db()).unwrap();
        assert_eq!(db.layout(), CityLayout::GeoIp2);
        assert_eq!(db.database_type(), "GeoLite2-City");
        let loc = db.lookup(ip("175.223.10.1")).unwrap();
        assert_eq!(
            (loc.lat, loc.lon, loc.accuracy_km),
            (37.5665, 126.978, 20.0)
        );
        assert_eq!(loc.country.map(|c| c.to_string()).as_deref(), Some("KR"));
        assert_eq!(loc.city.as_deref(), Some("Seoul"));
        assert_eq!(db.lookup(ip("2001:2d8::1")), Some(loc.clone()));
        assert_eq!(db.lookup(ip("::ffff:175.223.10.1")), Some(loc));
        let tokyo = db.lookup(ip("126.1.2.3")).unwrap();
        assert_eq!(tokyo.city.as_deref(), Some("Tokyo"));
    }

    #[test]
    fn misses_and_records_without_valid_coordinates() {
        let db = CityDb::from_bytes(testdb::geoip2_city_db()).unwrap();
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
        assert_eq!(db.lookup(ip("2a00::1")), None);
        assert_eq!(db.lookup(ip("5.1.1.1")), None, "country only");
        assert_eq!(db.lookup(ip("6.1.1.1")), None, "latitude 91");
    }

    #[test]
    fn repeated_lookups_share_the_city_name() {
        let db = CityDb::from_bytes(testdb::geoip2_city_db()).unwrap();
        let a = db.lookup(ip("175.192.0.1")).unwrap();
        let b = db.lookup(ip("175.255.0.1")).unwrap();
        assert!(std::sync::Arc::ptr_eq(
            a.city.as_ref().unwrap(),
            b.city.as_ref().unwrap()
        ));
    }

    #[test]
    fn flat_layout_is_detected_by_its_keys() {
        let db = CityDb::from_bytes(testdb::flat_city_db()).unwrap();
        assert_eq!(db.layout(), CityLayout::Flat);
        let loc = db.lookup(ip("2.20.1.1")).unwrap();
        assert!((loc.lat - 50.1109).abs() < 1e-4 && (loc.lon - 8.6821).abs() < 1e-4);
        assert_eq!(loc.accuracy_km, 0.0);
        assert_eq!(loc.country.map(|c| c.to_string()).as_deref(), Some("DE"));
        assert_eq!(loc.city.as_deref(), Some("Frankfurt am Main"));
        let v6 = db.lookup(ip("2a00:1450:4001::1")).unwrap();
        assert_eq!(v6.city.as_deref(), Some("Mountain View"));
        assert!(db.lookup(ip("1.1.1.1")).is_none());
    }

    #[test]
    fn samples_located_networks() {
        let db = CityDb::from_bytes(testdb::flat_city_db()).unwrap();
        let all = db.sample_networks(1, usize::MAX);
        assert!(!all.is_empty());
        for (net, loc) in &all {
            assert_eq!(db.lookup(net.network()).as_ref(), Some(loc), "{net}");
        }
        assert_eq!(db.sample_networks(1, 1).len(), 1);
        assert!(db.sample_networks(2, usize::MAX).len() <= all.len().div_ceil(2));
    }

    #[test]
    fn other_databases_are_rejected() {
        let asn = CityDb::from_bytes(testdb::asn_db()).unwrap_err();
        assert!(matches!(asn, DbError::Layout { .. }), "{asn}");
        let empty = write_mmdb("Empty", &[]).unwrap();
        assert!(CityDb::from_bytes(empty).is_err());
        let junk = write_mmdb("X", &[("1.0.0.0/8".parse().unwrap(), Value::U32(1))]).unwrap();
        assert!(CityDb::from_bytes(junk).is_err());
    }

    #[test]
    fn opens_a_file_memory_mapped() {
        let path = std::env::temp_dir().join(format!("lw-city-{}.mmdb", std::process::id()));
        std::fs::write(&path, testdb::geoip2_city_db()).unwrap();
        let db = CityDb::open(&path).unwrap();
        std::fs::remove_file(&path).ok();
        assert_eq!(
            db.lookup(ip("126.0.0.1")).unwrap().city.as_deref(),
            Some("Tokyo")
        );
    }
}
