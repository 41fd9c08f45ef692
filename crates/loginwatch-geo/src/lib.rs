//! Where a login comes from: GeoIP lookups over `.mmdb` files, network classes, distance.
//!
//! - [`types`]: [`Location`], [`NetInfo`], [`Login`] — what the detectors consume.
//! - [`distance`]: great-circle distance.
//! - [`net`]: routability and network-prefix keys (IPv4 /24, IPv6 /64 and /48).
//! - [`Locator`]: turns a `LoginEvent` into a [`Login`] from [`CityDb`], [`AsnDb`], [`AnonDb`]
//!   and the anonymizer lists of [`lists`].
//! - [`writer`]: builds `.mmdb` files in memory (the demo world, test fixtures).
//! - [`demo_world`]: the embedded synthetic world of `loginwatch demo` and `loginwatch gen`.

mod asn;
mod cache;
mod city;
mod db;
pub mod demo_world;
pub mod distance;
pub mod lists;
mod locator;
pub mod net;
#[cfg(test)]
mod testdb;
mod tree;
pub mod types;
pub mod writer;

pub use asn::{AnonDb, AsnDb, AsnInfo};
pub use cache::IpCache;
pub use city::{CityDb, CityLayout};
pub use db::DbError;
pub use distance::haversine_km;
pub use lists::{AsnSet, CidrSet, ListError};
pub use locator::{GeoConfig, GeoError, LocateCounts, Locator};
pub use net::is_routable;
pub use types::{AnonFlags, Location, Login, NetInfo};
