//! Where a login comes from: GeoIP lookups over `.mmdb` files, network classes, distance.
//!
//! - [`types`]: [`Location`], [`NetInfo`], [`Login`] — what the detectors consume.
//! - [`distance`]: great-circle distance.
//! - [`net`]: routability and network-prefix keys (IPv4 /24, IPv6 /64 and /48).

pub mod distance;
pub mod net;
pub mod types;
pub mod writer;

pub use distance::haversine_km;
pub use types::{AnonFlags, Location, Login, NetInfo};
