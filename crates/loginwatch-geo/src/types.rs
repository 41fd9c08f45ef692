//! The located login: an event plus where it came from and through which network.

use loginwatch_model::{CountryCode, LoginEvent};
use std::sync::Arc;

/// A resolved position. `accuracy_km` is the radius of the confidence circle (MaxMind's
/// `accuracy_radius` is a 67 % circle); 0 when unknown.
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    pub lat: f64,
    pub lon: f64,
    pub accuracy_km: f64,
    pub country: Option<CountryCode>,
    /// English city name when the database has one; shared, not copied per login.
    pub city: Option<Arc<str>>,
}

impl Location {
    /// A location when the coordinates are finite and in range; the accuracy radius counts
    /// only when finite and non-negative (0 = unknown otherwise); an empty city is no city.
    pub fn checked(
        lat: f64,
        lon: f64,
        accuracy_km: Option<f64>,
        country: Option<CountryCode>,
        city: Option<&str>,
    ) -> Option<Location> {
        if !(lat.is_finite() && lon.is_finite() && lat.abs() <= 90.0 && lon.abs() <= 180.0) {
            return None;
        }
        Some(Location {
            lat,
            lon,
            accuracy_km: accuracy_km
                .filter(|a| a.is_finite() && *a >= 0.0)
                .unwrap_or(0.0),
            country,
            city: city.filter(|c| !c.is_empty()).map(Arc::from),
        })
    }
}

/// Anonymizer classes of an address (GeoIP2-Anonymous-IP layout, ASN or CIDR lists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AnonFlags {
    pub vpn: bool,
    pub hosting: bool,
    pub tor: bool,
    pub proxy: bool,
    pub residential_proxy: bool,
}

impl AnonFlags {
    /// True when any class is set.
    pub fn any(&self) -> bool {
        self.vpn || self.hosting || self.tor || self.proxy || self.residential_proxy
    }

    /// The set classes as names (`"vpn"`, `"hosting"`, `"tor"`, `"proxy"`, `"residential_proxy"`).
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.vpn, "vpn"),
            (self.hosting, "hosting"),
            (self.tor, "tor"),
            (self.proxy, "proxy"),
            (self.residential_proxy, "residential_proxy"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// The network behind an address.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NetInfo {
    pub asn: Option<u32>,
    pub as_org: Option<Arc<str>>,
    pub anon: AnonFlags,
}

/// A login event with its location (None when unroutable or unknown) and network.
#[derive(Clone, Debug, PartialEq)]
pub struct Login {
    pub event: LoginEvent,
    pub location: Option<Location>,
    pub net: NetInfo,
}
