//! The world the generator draws from: places with coordinates and the networks that resolve
//! there, built from the embedded demo table or from networks sampled out of a real `.mmdb`.

use ipnet::IpNet;
use loginwatch_geo::demo_world::{self, NetKind};
use loginwatch_geo::{haversine_km, CityDb};

/// What kind of network a place's addresses belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetClass {
    /// Home broadband: the baseline of normal accounts.
    Residential,
    /// Mobile carriers: normal accounts on the move within their area.
    Mobile,
    /// Data centres, VPS and VPN egress: only `anonymized_ip` accounts use these.
    Hosting,
}

/// A city and the networks of one class that resolve there.
#[derive(Clone, Debug, PartialEq)]
pub struct Place {
    pub city: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
    pub lat: f64,
    pub lon: f64,
    pub class: NetClass,
    pub networks: Vec<IpNet>,
}

/// Where generated IPs come from: places with coordinates and pools of IPs that resolve there.
pub trait World {
    /// Every place; indices into this slice are stable for one generation run.
    fn places(&self) -> &[Place];
}

/// A [`World`] that owns its places.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlaceWorld {
    pub places: Vec<Place>,
}

impl World for PlaceWorld {
    fn places(&self) -> &[Place] {
        &self.places
    }
}

impl World for [Place] {
    fn places(&self) -> &[Place] {
        self
    }
}

impl World for Vec<Place> {
    fn places(&self) -> &[Place] {
        self
    }
}

/// Networks whose coordinates lie farther than this from a place's first network start a new
/// place of the same name (a real database has many cities called Springfield). Two addresses
/// of one place are thus at most 50 km apart: below any sensible travel distance floor.
pub const SAME_PLACE_KM: f64 = 25.0;

/// Groups `(network, lat, lon, country, city, class)` rows into places by (country, city,
/// class), splitting a group whose coordinates lie more than [`SAME_PLACE_KM`] apart. A place
/// takes the coordinates of its first network; order of places follows first appearance.
/// Rows with coordinates out of range or a country that is not two letters are skipped.
pub fn world_from_networks<C: AsRef<str>, T: AsRef<str>>(
    rows: &[(IpNet, f64, f64, C, T, NetClass)],
) -> PlaceWorld {
    let mut places: Vec<Place> = Vec::new();
    let mut by_key: std::collections::HashMap<(String, String, NetClass), Vec<usize>> =
        std::collections::HashMap::new();
    for (net, lat, lon, country, city, class) in rows {
        let country = country.as_ref().trim().to_ascii_uppercase();
        let valid = (-90.0..=90.0).contains(lat) && (-180.0..=180.0).contains(lon);
        if !valid || country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
            continue;
        }
        let key = (country.clone(), city.as_ref().to_string(), *class);
        let group = by_key.entry(key).or_default();
        let near = group
            .iter()
            .copied()
            .find(|&i| haversine_km(places[i].lat, places[i].lon, *lat, *lon) <= SAME_PLACE_KM);
        match near {
            Some(i) => places[i].networks.push(net.trunc()),
            None => {
                group.push(places.len());
                places.push(Place {
                    city: city.as_ref().to_string(),
                    country,
                    lat: *lat,
                    lon: *lon,
                    class: *class,
                    networks: vec![net.trunc()],
                });
            }
        }
    }
    PlaceWorld { places }
}

/// Networks sampled from a real database: every `SAMPLE_EVERY`-th, at most `SAMPLE_MAX`.
const SAMPLE_EVERY: usize = 4;
const SAMPLE_MAX: usize = 1_000_000;

type Row = (IpNet, f64, f64, String, String, NetClass);

/// The embedded demo world's networks (IPv4 and IPv6 blocks) as generator places.
pub fn demo_places() -> PlaceWorld {
    let cities = demo_world::cities();
    let rows: Vec<Row> = demo_world::networks()
        .iter()
        .flat_map(|n| [(n, IpNet::V4(n.v4)), (n, IpNet::V6(n.v6))])
        .filter_map(|(n, net)| {
            let class = match n.kind {
                NetKind::Residential => NetClass::Residential,
                NetKind::Mobile => NetClass::Mobile,
                NetKind::Hosting | NetKind::Vpn => NetClass::Hosting,
                NetKind::Satellite => return None,
            };
            let c = cities.get(n.city)?;
            Some((
                net,
                c.lat,
                c.lon,
                c.country.to_owned(),
                c.name.to_owned(),
                class,
            ))
        })
        .collect();
    world_from_networks(&rows)
}

/// Places sampled from a real city database (all residential: the database has no classes).
pub fn db_places(db: &CityDb) -> PlaceWorld {
    let rows: Vec<Row> = db
        .sample_networks(SAMPLE_EVERY, SAMPLE_MAX)
        .into_iter()
        .filter_map(|(net, loc)| {
            let country = loc.country?.to_string();
            let city = loc.city.as_deref().unwrap_or("").to_owned();
            Some((net, loc.lat, loc.lon, country, city, NetClass::Residential))
        })
        .collect();
    world_from_networks(&rows)
}

/// Distance in km between two places.
pub fn place_km(a: &Place, b: &Place) -> f64 {
    haversine_km(a.lat, a.lon, b.lat, b.lon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn groups_by_country_city_class_and_distance() {
        use NetClass::*;
        let rows = [
            (
                net("198.51.100.0/24"),
                40.71,
                -74.0,
                "us",
                "New York",
                Residential,
            ),
            (
                net("2001:db8::/48"),
                40.72,
                -74.01,
                "US",
                "New York",
                Residential,
            ),
            (
                net("203.0.113.0/24"),
                40.71,
                -74.0,
                "US",
                "New York",
                Mobile,
            ),
            (
                net("192.0.2.0/24"),
                39.80,
                -89.64,
                "US",
                "Springfield",
                Residential,
            ),
            (
                net("192.0.3.0/24"),
                37.21,
                -93.29,
                "US",
                "Springfield",
                Residential,
            ),
            (net("192.0.4.0/24"), 95.0, 0.0, "US", "Nowhere", Residential),
            (net("192.0.5.0/24"), 1.0, 0.0, "USA", "Bad", Residential),
        ];
        let w = world_from_networks(&rows);
        let p = w.places();
        assert_eq!(p.len(), 4);
        assert_eq!(p[0].country, "US");
        assert_eq!(p[0].networks.len(), 2);
        assert_eq!(p[1].class, Mobile);
        assert_eq!(
            (p[2].city.as_str(), p[3].city.as_str()),
            ("Springfield", "Springfield")
        );
    }

    #[test]
    fn haversine_known_distance() {
        let d = haversine_km(51.5074, -0.1278, 40.7128, -74.006);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
    }
}
