//! The one place where a [`LoginEvent`] becomes a [`Login`]: location (upstream hint, else the
//! city database for routable addresses), autonomous system and anonymizer flags.

use crate::asn::{AnonDb, AsnDb, AsnInfo};
use crate::cache::{Answer, AnswerKey, IpCache};
use crate::city::CityDb;
use crate::db::{host_bits, DbError};
use crate::lists::{AsnSet, CidrSet, ListError};
use crate::net::is_routable;
use crate::types::{AnonFlags, Location, Login, NetInfo};
use loginwatch_model::{GeoHint, LoginEvent};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The `[geoip]` configuration table (CONTRACT §4). Every database is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GeoConfig {
    /// GeoIP2/GeoLite2-City, or the flat DB-IP / ip-location-db city layout: one file, or a
    /// list (CONTRACT §5) where each address is looked up in the database of its family —
    /// DB-IP ships IPv4 and IPv6 apart. An IPv4 address goes to the first IPv4-only
    /// database, else the first one that holds IPv6 (MaxMind's hold both); an IPv6 address to
    /// the first one that holds IPv6.
    #[serde(
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub city: Vec<PathBuf>,
    /// GeoLite2-ASN layout.
    pub asn: Option<PathBuf>,
    /// GeoIP2-Anonymous-IP layout.
    pub anonymous: Option<PathBuf>,
}

/// A path or a list of paths.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(PathBuf),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(p) => vec![p],
        OneOrMany::Many(v) => v,
    })
}

/// Why a [`Locator`] could not be opened: one variant per input, each with its path.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("[geoip] city database {}", path.display())]
    City {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("[geoip] asn database {}", path.display())]
    Asn {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("[geoip] anonymous database {}", path.display())]
    Anonymous {
        path: PathBuf,
        #[source]
        source: DbError,
    },
    #[error("[detect.anonymized_ip] cidr_lists")]
    CidrList(#[source] ListError),
    #[error("[detect.anonymized_ip] asn_lists")]
    AsnList(#[source] ListError),
}

/// Resolves events into located logins. Read-only and shareable across threads; wrap it in
/// an `Arc` (or an atomically swappable handle to reload databases).
///
/// Anonymizer lists (`[detect.anonymized_ip] cidr_lists` / `asn_lists`) set
/// [`AnonFlags::hosting`](crate::AnonFlags::hosting): a plain list does not say which kind
/// of anonymizer an entry is, and "hosting" (datacentre, VPS, VPN egress) is the broadest
/// class that never claims more (Tor, proxy) than the list says.
#[derive(Debug, Default)]
pub struct Locator {
    /// City databases, in the configured order (see [`GeoConfig::city`]).
    city: Vec<CityDb>,
    asn: Option<AsnDb>,
    anon: Option<AnonDb>,
    anon_cidrs: CidrSet,
    anon_asns: AsnSet,
    city_misses: AtomicU64,
    family_misses: AtomicU64,
    unroutable: AtomicU64,
    hinted: AtomicU64,
}

/// How the events a [`Locator`] saw were (not) located, counted since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LocateCounts {
    /// Placed by the event's own `geo` hint.
    pub hinted: u64,
    /// Routable, but not in the city database of their family.
    pub not_found: u64,
    /// Routable, of a family no configured city database holds.
    pub no_database: u64,
    /// Not routable (private, loopback, documentation ranges): never looked up.
    pub unroutable: u64,
}

impl Locator {
    /// A locator over already-open parts; use the `with_*` methods to add anonymizer lists
    /// and [`Locator::with_city`] for a city database of the other address family.
    pub fn new(city: Option<CityDb>, asn: Option<AsnDb>, anon: Option<AnonDb>) -> Self {
        Locator {
            city: city.into_iter().collect(),
            asn,
            anon,
            ..Locator::default()
        }
    }

    /// Adds a city database after the ones already there (see [`GeoConfig::city`]).
    pub fn with_city(mut self, db: CityDb) -> Self {
        self.city.push(db);
        self
    }

    /// The city database `ip` (canonical) is looked up in, with its position: by family,
    /// as [`GeoConfig::city`] says.
    fn city_for(&self, ip: IpAddr) -> Option<(usize, &CityDb)> {
        let mut dbs = self.city.iter().enumerate();
        match ip {
            IpAddr::V4(_) => {
                let v4_only = self.city.iter().position(|db| !db.holds_ipv6());
                v4_only
                    .map(|i| (i, &self.city[i]))
                    .or_else(|| dbs.find(|(_, db)| db.holds_ipv6()))
            }
            IpAddr::V6(_) => dbs.find(|(_, db)| db.holds_ipv6()),
        }
    }

    /// Adds networks whose addresses are flagged as anonymizers (hosting).
    pub fn with_anon_cidrs(mut self, set: CidrSet) -> Self {
        self.anon_cidrs = set;
        self
    }

    /// Adds autonomous systems whose addresses are flagged as anonymizers (hosting).
    pub fn with_anon_asns(mut self, set: AsnSet) -> Self {
        self.anon_asns = set;
        self
    }

    /// Opens the configured databases (memory-mapped) and reads the anonymizer list files.
    pub fn open(
        config: &GeoConfig,
        anon_cidr_files: &[PathBuf],
        anon_asn_files: &[PathBuf],
    ) -> Result<Locator, GeoError> {
        let city = config
            .city
            .iter()
            .map(|path| {
                CityDb::open(path).map_err(|source| GeoError::City {
                    path: path.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let asn = match &config.asn {
            Some(path) => Some(AsnDb::open(path).map_err(|source| GeoError::Asn {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let anon = match &config.anonymous {
            Some(path) => Some(AnonDb::open(path).map_err(|source| GeoError::Anonymous {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let cidrs = CidrSet::from_files(anon_cidr_files).map_err(GeoError::CidrList)?;
        let asns = AsnSet::from_files(anon_asn_files).map_err(GeoError::AsnList)?;
        let mut locator = Locator::new(None, asn, anon)
            .with_anon_cidrs(cidrs)
            .with_anon_asns(asns);
        locator.city = city;
        Ok(locator)
    }

    /// The first city database, when one is configured.
    pub fn city_db(&self) -> Option<&CityDb> {
        self.city.first()
    }

    /// Locates `event`. A valid upstream `geo` hint wins over the database; otherwise a
    /// routable address is looked up in the city database. ASN and anonymizer flags are
    /// filled for routable addresses from whatever databases and lists are configured, and
    /// from the hint's own network view (its ASN where the database has none, its proxy flag).
    pub fn locate(&self, event: LoginEvent) -> Login {
        let (location, net) = self.place(&event);
        Login {
            event,
            location,
            net,
        }
    }

    /// What [`Locator::locate`] finds for `event`: its location and network.
    pub fn place(&self, event: &LoginEvent) -> (Option<Location>, NetInfo) {
        self.place_in(event, None)
    }

    /// [`Locator::place`], the city name of a hinted event shared through `cache`.
    fn place_in(
        &self,
        event: &LoginEvent,
        cache: Option<&mut IpCache>,
    ) -> (Option<Location>, NetInfo) {
        let routable = is_routable(event.ip);
        let location = match event.geo.as_ref().and_then(|h| hint_location(h, cache)) {
            Some(loc) => {
                self.hinted.fetch_add(1, Ordering::Relaxed);
                Some(loc)
            }
            None if routable => self.lookup_city(event),
            None => {
                self.unroutable.fetch_add(1, Ordering::Relaxed);
                None
            }
        };
        let net = if routable {
            self.net_info(event)
        } else {
            NetInfo {
                anon: crate::AnonFlags {
                    hosting: self.anon_cidrs.contains(event.ip),
                    ..Default::default()
                },
                ..Default::default()
            }
        };
        let net = match &event.geo {
            Some(hint) => self.with_hint(net, hint),
            None => net,
        };
        (location, net)
    }

    /// `net` with what an upstream hint says of the network: its ASN when no database gave
    /// one (then checked against the anonymizer ASN lists too), and its proxy flag.
    fn with_hint(&self, mut net: NetInfo, hint: &GeoHint) -> NetInfo {
        if let (None, Some(asn)) = (net.asn, hint.asn) {
            net.asn = Some(asn);
            net.anon.hosting |= self.anon_asns.contains(asn);
        }
        net.anon.proxy |= hint.proxy;
        net
    }

    /// [`Locator::locate`] through a worker's own [`IpCache`]: the same answer, without the
    /// database walks when an address of the same network was resolved recently. Events with
    /// an upstream hint and unroutable addresses bypass the cache (they need no city lookup).
    pub fn locate_cached(&self, event: LoginEvent, cache: &mut IpCache) -> Login {
        let (location, net) = self.place_cached(&event, cache);
        Login {
            event,
            location,
            net,
        }
    }

    /// What [`Locator::locate_cached`] finds for `event`: its location and network.
    pub fn place_cached(
        &self,
        event: &LoginEvent,
        cache: &mut IpCache,
    ) -> (Option<Location>, NetInfo) {
        let Some(ip) = cached_as(event) else {
            return self.place_in(event, Some(cache));
        };
        let (location, net) = match cache.get(ip) {
            Some(answer) => answer,
            None => self.resolve(ip, cache),
        };
        if location.is_none() {
            // Counted per lookup, as without the cache.
            self.count_miss(self.city_for(ip).is_some());
        }
        (location, net)
    }

    /// Warms the database walks that locating `events` through `cache` will make: those of the
    /// events whose network `cache` does not hold run together in every configured database
    /// (see `tree.rs`), so that the lookups that follow find the tree nodes cached. A hint: it
    /// changes no answer and counts nothing.
    pub fn warm_misses<'a>(
        &self,
        events: impl IntoIterator<Item = &'a LoginEvent>,
        cache: &mut IpCache,
    ) {
        let mut ips = std::mem::take(&mut cache.pending);
        ips.clear();
        ips.extend(
            events
                .into_iter()
                .filter_map(cached_as)
                .filter(|&ip| cache.find(ip).is_none()),
        );
        if !ips.is_empty() {
            let dbs = [
                self.asn.as_ref().map(AsnDb::db),
                self.anon.as_ref().map(AnonDb::db),
            ];
            for db in dbs.into_iter().flatten() {
                db.tree.warm(&ips, &mut cache.walks);
            }
            // Each city database warms the walks of the addresses it answers.
            match self.city.as_slice() {
                [] => {}
                [one] => {
                    one.db().tree.warm(&ips, &mut cache.walks);
                }
                several => {
                    let mut mine = Vec::with_capacity(ips.len());
                    for (i, db) in several.iter().enumerate() {
                        mine.clear();
                        let answered =
                            |ip: &&IpAddr| self.city_for(**ip).map(|(j, _)| j) == Some(i);
                        mine.extend(ips.iter().filter(answered));
                        db.db().tree.warm(&mine, &mut cache.walks);
                    }
                }
            }
        }
        cache.pending = ips;
    }

    /// Walks every configured database for `ip` (canonical) and caches the answer for the
    /// narrowest of the matched networks and of the anonymizer list's uniform block: every
    /// address in it walks to the same records and has the same list membership.
    fn resolve(&self, ip: IpAddr, cache: &mut IpCache) -> Answer {
        // Outer `None`: the database is not configured and so does not narrow the network.
        let city_db = self.city_for(ip);
        let city = city_db.map(|(_, db)| db.db().walk(ip));
        let asn = self.asn.as_ref().map(|db| db.db().walk(ip));
        let anon = self.anon.as_ref().map(|db| db.db().walk(ip));
        let listed = self.anon_cidrs.contains(ip);
        let bits = [&city, &asn, &anon]
            .into_iter()
            .flatten()
            .map(|w| host_bits(ip, w.as_ref()))
            .fold(self.anon_cidrs.uniform_host_bits(ip), u32::min);
        let (city, asn, anon) = (city.flatten(), asn.flatten(), anon.flatten());
        let key = AnswerKey {
            city: city
                .as_ref()
                .and_then(|w| w.offset())
                .zip(city_db.map(|(i, _)| i)),
            asn: asn.as_ref().and_then(|w| w.offset()),
            anon: anon.as_ref().and_then(|w| w.offset()),
            listed,
        };
        cache.insert(ip, bits, key, || {
            let location = match (city_db, &city) {
                (Some((_, db)), Some(w)) if w.has_data() => db.decode(w),
                _ => None,
            };
            let asn = asn
                .as_ref()
                .filter(|w| w.has_data())
                .and_then(AsnDb::decode);
            let anon = anon
                .as_ref()
                .filter(|w| w.has_data())
                .and_then(AnonDb::decode);
            (location, self.net_from(asn, anon, listed))
        })
    }

    fn lookup_city(&self, event: &LoginEvent) -> Option<Location> {
        let ip = event.ip.to_canonical();
        let db = self.city_for(ip);
        let found = db.and_then(|(_, db)| db.lookup(ip));
        if found.is_none() {
            self.count_miss(db.is_some());
        }
        found
    }

    /// Counts a routable address without a location: not found in its family's city
    /// database (`has_db`), or no city database of its family configured.
    fn count_miss(&self, has_db: bool) {
        let counter = match has_db {
            true => &self.city_misses,
            false => &self.family_misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn net_info(&self, event: &LoginEvent) -> NetInfo {
        let asn = self.asn.as_ref().and_then(|db| db.lookup(event.ip));
        let anon = self.anon.as_ref().and_then(|db| db.lookup(event.ip));
        self.net_from(asn, anon, self.anon_cidrs.contains(event.ip))
    }

    /// The network from the ASN and anonymizer records and the CIDR lists' verdict.
    fn net_from(&self, asn: Option<AsnInfo>, anon: Option<AnonFlags>, listed: bool) -> NetInfo {
        let mut anon = anon.unwrap_or_default();
        let listed_asn = asn.as_ref().is_some_and(|a| self.anon_asns.contains(a.asn));
        anon.hosting |= listed_asn || listed;
        NetInfo {
            asn: asn.as_ref().map(|a| a.asn),
            as_org: asn.and_then(|a| a.org),
            anon,
        }
    }

    /// Routable addresses, without a usable hint, that the city database could not place.
    /// Monotonic; export it as a counter.
    pub fn city_misses(&self) -> u64 {
        self.city_misses.load(Ordering::Relaxed)
    }

    /// Routable addresses, without a usable hint, of a family no configured city database
    /// holds (IPv6 logins with only DB-IP's IPv4 file, say).
    pub fn family_misses(&self) -> u64 {
        self.family_misses.load(Ordering::Relaxed)
    }

    /// How the events seen so far were (not) located.
    pub fn counts(&self) -> LocateCounts {
        LocateCounts {
            hinted: self.hinted.load(Ordering::Relaxed),
            not_found: self.city_misses(),
            no_database: self.family_misses(),
            unroutable: self.unroutable.load(Ordering::Relaxed),
        }
    }
}

/// The address under which [`Locator::locate_cached`] caches `event`'s answer (canonical
/// form); `None` for the events that bypass the cache: an upstream hint, an unroutable address.
fn cached_as(event: &LoginEvent) -> Option<IpAddr> {
    (event.geo.is_none() && is_routable(event.ip)).then(|| event.ip.to_canonical())
}

/// The hint as a location, when its coordinates are finite and in range. Accuracy defaults
/// to 0 (unknown) and must be finite and non-negative. The city name is `cache`'s shared
/// copy when there is a cache.
fn hint_location(hint: &GeoHint, cache: Option<&mut IpCache>) -> Option<Location> {
    let mut location = Location::checked(hint.lat, hint.lon, hint.accuracy_km, hint.country, None)?;
    let city = hint.city.as_deref().filter(|c| !c.is_empty());
    location.city = city.map(|c| match cache {
        Some(cache) => cache.hint_city(c),
        None => std::sync::Arc::from(c),
    });
    Some(location)
}

#[cfg(test)]
mod tests;
