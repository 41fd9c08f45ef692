//! The embedded synthetic world of `loginwatch demo` and `loginwatch gen`: ~40 real cities
//! (public coordinates) each given a made-up residential and mobile block, a few hosting and
//! VPN providers, and an in-flight satellite network. City, ASN and anonymizer databases
//! are written in memory with [`crate::writer`] on first use (a few milliseconds), so the demo
//! needs no download. The address blocks are routable public space assigned here for the
//! demo only; they do not describe who really holds them.

mod databases;

pub use databases::{anon_db, asn_db, city_db, database_bytes, locator};

use ipnet::{Ipv4Net, Ipv6Net};
use loginwatch_model::CountryCode;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// A city of the demo world.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DemoCity {
    pub name: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// IANA time zone, for claimed-timezone fields of generated events.
    pub timezone: &'static str,
}

impl DemoCity {
    /// The country as a [`CountryCode`] (always valid for the built-in table).
    pub fn country_code(&self) -> Option<CountryCode> {
        CountryCode::parse(self.country)
    }
}

const fn city(
    name: &'static str,
    country: &'static str,
    lat: f64,
    lon: f64,
    timezone: &'static str,
) -> DemoCity {
    DemoCity {
        name,
        country,
        lat,
        lon,
        timezone,
    }
}

static CITIES: [DemoCity; 43] = [
    city("Seoul", "KR", 37.5665, 126.9780, "Asia/Seoul"),
    city("Busan", "KR", 35.1796, 129.0756, "Asia/Seoul"),
    city("Pyongyang", "KP", 39.0392, 125.7625, "Asia/Pyongyang"),
    city("Tokyo", "JP", 35.6762, 139.6503, "Asia/Tokyo"),
    city("Osaka", "JP", 34.6937, 135.5023, "Asia/Tokyo"),
    city("Beijing", "CN", 39.9042, 116.4074, "Asia/Shanghai"),
    city("Shanghai", "CN", 31.2304, 121.4737, "Asia/Shanghai"),
    city("Shenyang", "CN", 41.8057, 123.4315, "Asia/Shanghai"),
    city("Dandong", "CN", 40.1290, 124.3947, "Asia/Shanghai"),
    city("Vladivostok", "RU", 43.1198, 131.8869, "Asia/Vladivostok"),
    city("Moscow", "RU", 55.7558, 37.6173, "Europe/Moscow"),
    city("New York", "US", 40.7128, -74.0060, "America/New_York"),
    city(
        "San Francisco",
        "US",
        37.7749,
        -122.4194,
        "America/Los_Angeles",
    ),
    city("Chicago", "US", 41.8781, -87.6298, "America/Chicago"),
    city("Dallas", "US", 32.7767, -96.7970, "America/Chicago"),
    city("Seattle", "US", 47.6062, -122.3321, "America/Los_Angeles"),
    city("Atlanta", "US", 33.7490, -84.3880, "America/New_York"),
    city("Toronto", "CA", 43.6532, -79.3832, "America/Toronto"),
    city(
        "Mexico City",
        "MX",
        19.4326,
        -99.1332,
        "America/Mexico_City",
    ),
    city("São Paulo", "BR", -23.5505, -46.6333, "America/Sao_Paulo"),
    city(
        "Buenos Aires",
        "AR",
        -34.6037,
        -58.3816,
        "America/Argentina/Buenos_Aires",
    ),
    city("London", "GB", 51.5074, -0.1278, "Europe/London"),
    city("Frankfurt", "DE", 50.1109, 8.6821, "Europe/Berlin"),
    city("Amsterdam", "NL", 52.3676, 4.9041, "Europe/Amsterdam"),
    city("Paris", "FR", 48.8566, 2.3522, "Europe/Paris"),
    city("Madrid", "ES", 40.4168, -3.7038, "Europe/Madrid"),
    city("Stockholm", "SE", 59.3293, 18.0686, "Europe/Stockholm"),
    city("Warsaw", "PL", 52.2297, 21.0122, "Europe/Warsaw"),
    city("Kyiv", "UA", 50.4501, 30.5234, "Europe/Kyiv"),
    city("Istanbul", "TR", 41.0082, 28.9784, "Europe/Istanbul"),
    city("Dubai", "AE", 25.2048, 55.2708, "Asia/Dubai"),
    city("Lagos", "NG", 6.5244, 3.3792, "Africa/Lagos"),
    city("Nairobi", "KE", -1.2921, 36.8219, "Africa/Nairobi"),
    city(
        "Johannesburg",
        "ZA",
        -26.2041,
        28.0473,
        "Africa/Johannesburg",
    ),
    city("Mumbai", "IN", 19.0760, 72.8777, "Asia/Kolkata"),
    city("Bengaluru", "IN", 12.9716, 77.5946, "Asia/Kolkata"),
    city("Singapore", "SG", 1.3521, 103.8198, "Asia/Singapore"),
    city("Hanoi", "VN", 21.0278, 105.8342, "Asia/Ho_Chi_Minh"),
    city("Vientiane", "LA", 17.9757, 102.6331, "Asia/Vientiane"),
    city("Manila", "PH", 14.5995, 120.9842, "Asia/Manila"),
    city("Jakarta", "ID", -6.2088, 106.8456, "Asia/Jakarta"),
    city("Ulaanbaatar", "MN", 47.8864, 106.9057, "Asia/Ulaanbaatar"),
    city("Sydney", "AU", -33.8688, 151.2093, "Australia/Sydney"),
];

/// What kind of network a demo block belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetKind {
    /// A home broadband ISP of one city (accuracy 20 km; ASN `RESIDENTIAL_ASN_BASE + city`).
    Residential,
    /// The mobile carrier: located at the city, accuracy 500 km (carrier hubs).
    Mobile,
    /// A datacentre (accuracy 50 km); flagged `is_hosting_provider` in the anonymizer database.
    Hosting,
    /// A commercial VPN exit; flagged `is_anonymous_vpn` and `is_hosting_provider`.
    Vpn,
    /// In-flight satellite Wi-Fi (ASN [`SATELLITE_ASN`]), accuracy 1000 km.
    Satellite,
}

/// One address block of the demo world: an IPv4 /16 and an IPv6 /32 located at a city.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemoNetwork {
    pub kind: NetKind,
    pub asn: u32,
    pub org: &'static str,
    /// Index into [`cities`].
    pub city: usize,
    pub accuracy_km: u16,
    pub v4: Ipv4Net,
    pub v6: Ipv6Net,
}

/// The satellite in-flight Wi-Fi ASN (the number real airline Wi-Fi traffic often shows).
pub const SATELLITE_ASN: u32 = 22351;
/// The mobile carrier's ASN (private-use range, like every synthetic ASN here but one).
pub const MOBILE_ASN: u32 = 64550;
/// Residential ISP of city `i` is `RESIDENTIAL_ASN_BASE + i`.
pub const RESIDENTIAL_ASN_BASE: u32 = 64600;

/// Providers of datacentre blocks: (kind, ASN, organization, cities by name).
const PROVIDERS: [(NetKind, u32, &str, &[&str]); 4] = [
    (
        NetKind::Hosting,
        64520,
        "Demo Cloud Hosting",
        &["Frankfurt", "Amsterdam", "Dallas", "Singapore", "Tokyo"],
    ),
    (
        NetKind::Hosting,
        64521,
        "Demo VPS Provider",
        &["Moscow", "Vladivostok", "Kyiv"],
    ),
    (
        NetKind::Vpn,
        64530,
        "Demo VPN Service",
        &[
            "New York",
            "London",
            "Seoul",
            "Tokyo",
            "Frankfurt",
            "Singapore",
        ],
    ),
    (
        NetKind::Satellite,
        SATELLITE_ASN,
        "In-Flight Satellite Wi-Fi (demo)",
        &["New York"],
    ),
];

/// The cities of the demo world.
pub fn cities() -> &'static [DemoCity] {
    &CITIES
}

/// The index of the city called `name` (exact, case-insensitive).
pub fn find_city(name: &str) -> Option<usize> {
    CITIES
        .iter()
        .position(|c| c.name.eq_ignore_ascii_case(name))
}

fn block(v4_first: u8, v4_second: usize, v6_first: u16, v6_second: usize) -> (Ipv4Net, Ipv6Net) {
    let v4 = Ipv4Net::new_assert(Ipv4Addr::new(v4_first, v4_second as u8, 0, 0), 16);
    let v6 = Ipv6Net::new_assert(
        Ipv6Addr::new(v6_first, v6_second as u16, 0, 0, 0, 0, 0, 0),
        32,
    );
    (v4, v6)
}

impl NetKind {
    /// The accuracy radius the demo databases give blocks of this kind.
    pub fn accuracy_km(self) -> u16 {
        match self {
            NetKind::Residential => 20,
            NetKind::Hosting | NetKind::Vpn => 50,
            NetKind::Mobile => 500,
            NetKind::Satellite => 1000,
        }
    }
}

/// Block `slot` of the IPv4 `/8` and IPv6 `/16` reserved for one kind of network.
fn demo_net(kind: NetKind, asn: u32, org: &'static str, city: usize, slot: usize) -> DemoNetwork {
    let (v4_first, v6_first) = match kind {
        NetKind::Residential => (77, 0x2a10),
        NetKind::Mobile => (78, 0x2a11),
        _ => (79, 0x2a12),
    };
    let (v4, v6) = block(v4_first, slot, v6_first, slot);
    let accuracy_km = kind.accuracy_km();
    DemoNetwork {
        kind,
        asn,
        org,
        city,
        accuracy_km,
        v4,
        v6,
    }
}

fn build_networks() -> Vec<DemoNetwork> {
    let mut out = Vec::new();
    for i in 0..CITIES.len() {
        let home = RESIDENTIAL_ASN_BASE + i as u32;
        out.push(demo_net(
            NetKind::Residential,
            home,
            "Demo Home Broadband",
            i,
            i,
        ));
        out.push(demo_net(NetKind::Mobile, MOBILE_ASN, "Demo Mobile", i, i));
    }
    let blocks = PROVIDERS
        .iter()
        .flat_map(|(kind, asn, org, names)| names.iter().map(move |n| (*kind, *asn, *org, *n)));
    for (slot, (kind, asn, org, name)) in blocks.enumerate() {
        // Every provider city is in the table (checked by a test).
        let city = find_city(name).unwrap_or(0);
        out.push(demo_net(kind, asn, org, city, slot));
    }
    out
}

struct World {
    networks: Vec<DemoNetwork>,
    hosting: Vec<usize>,
    vpn: Vec<usize>,
    satellite: Vec<usize>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let networks = build_networks();
        let idx = |kind| -> Vec<usize> {
            let blocks = networks.iter().enumerate();
            blocks
                .filter(|(_, n)| n.kind == kind)
                .map(|(i, _)| i)
                .collect()
        };
        World {
            hosting: idx(NetKind::Hosting),
            vpn: idx(NetKind::Vpn),
            satellite: idx(NetKind::Satellite),
            networks,
        }
    })
}

/// Every address block of the demo world: for city `i`, its residential block at `2 * i`
/// and its mobile block at `2 * i + 1`; then the providers' blocks.
pub fn networks() -> &'static [DemoNetwork] {
    &world().networks
}

/// SplitMix64: spreads consecutive `n` over the host space.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE5_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl DemoNetwork {
    /// A deterministic IPv4 host of the block (never the network or broadcast address).
    pub fn ipv4(&self, n: u64) -> IpAddr {
        let host = 1 + (mix(n) % 65_534) as u32;
        IpAddr::V4(Ipv4Addr::from(u32::from(self.v4.network()) | host))
    }

    /// A deterministic IPv6 host of the block.
    pub fn ipv6(&self, n: u64) -> IpAddr {
        let host = ((u128::from(mix(n)) << 64) | u128::from(mix(!n)) | 1) & ((1u128 << 96) - 1);
        IpAddr::V6(Ipv6Addr::from(u128::from(self.v6.network()) | host))
    }
}

/// The block at `index` in `networks()`, falling back to the first one.
fn network(index: usize) -> &'static DemoNetwork {
    let nets = networks();
    &nets[index.min(nets.len() - 1)]
}

/// One of the blocks listed by `indices`, chosen by `n`.
fn one_of(indices: &[usize], n: u64) -> IpAddr {
    let i = (mix(n ^ 0x5EED) % indices.len().max(1) as u64) as usize;
    network(indices.get(i).copied().unwrap_or(0)).ipv4(n)
}

/// A residential IPv4 address of city `city` (taken modulo the number of cities).
pub fn city_ip(city: usize, n: u64) -> IpAddr {
    network(2 * (city % CITIES.len())).ipv4(n)
}

/// A residential IPv6 address of city `city` (taken modulo the number of cities).
pub fn city_ipv6(city: usize, n: u64) -> IpAddr {
    network(2 * (city % CITIES.len())).ipv6(n)
}

/// A mobile-carrier IPv4 address located at city `city` with a 500 km radius.
pub fn mobile_ip(city: usize, n: u64) -> IpAddr {
    network(2 * (city % CITIES.len()) + 1).ipv4(n)
}

/// An IPv4 address in one of the hosting (datacentre) blocks.
pub fn hosting_ip(n: u64) -> IpAddr {
    one_of(&world().hosting, n)
}

/// An IPv4 address of one of the VPN exits.
pub fn vpn_ip(n: u64) -> IpAddr {
    one_of(&world().vpn, n)
}

/// An IPv4 address of the in-flight satellite network.
pub fn satellite_ip(n: u64) -> IpAddr {
    one_of(&world().satellite, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::haversine_km;

    #[test]
    fn table_is_sane_and_names_the_cities_the_scenarios_need() {
        for name in [
            "Seoul",
            "Pyongyang",
            "Tokyo",
            "Beijing",
            "Shenyang",
            "Dandong",
            "Vladivostok",
            "Moscow",
            "New York",
            "San Francisco",
            "Chicago",
            "Dallas",
            "London",
            "Frankfurt",
            "Amsterdam",
            "Sydney",
            "São Paulo",
            "Lagos",
            "Mumbai",
            "Singapore",
            "Toronto",
            "Warsaw",
            "Kyiv",
            "Manila",
        ] {
            assert!(find_city(name).is_some(), "{name}");
        }
        for (i, a) in CITIES.iter().enumerate() {
            assert!(a.lat.abs() <= 90.0 && a.lon.abs() <= 180.0 && a.country_code().is_some());
            for b in &CITIES[i + 1..] {
                assert!(
                    haversine_km(a.lat, a.lon, b.lat, b.lon) > 100.0,
                    "{} {}",
                    a.name,
                    b.name
                );
            }
        }
        for (_, _, _, names) in PROVIDERS {
            assert!(names.iter().all(|n| find_city(n).is_some()), "{names:?}");
        }
        let seoul = &CITIES[find_city("seoul").unwrap()];
        let pyongyang = &CITIES[find_city("Pyongyang").unwrap()];
        let d = haversine_km(seoul.lat, seoul.lon, pyongyang.lat, pyongyang.lon);
        assert!((d - 195.0).abs() < 5.0);
    }

    #[test]
    fn addresses_are_deterministic_and_blocks_disjoint() {
        assert_eq!(city_ip(3, 42), city_ip(3, 42));
        assert_ne!(city_ip(3, 42), city_ip(3, 43));
        assert_eq!(city_ip(CITIES.len() + 3, 1), city_ip(3, 1));
        let nets = networks();
        for (i, a) in nets.iter().enumerate() {
            for b in &nets[i + 1..] {
                assert!(!a.v4.contains(&b.v4) && !b.v4.contains(&a.v4));
                assert!(!a.v6.contains(&b.v6) && !b.v6.contains(&a.v6));
            }
        }
    }
}
