//! Network classes: which addresses can be located, and prefix keys that group one household
//! or one farm (IPv4 /24, IPv6 /64 and /48).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::IpAddr;

/// The network an address belongs to at the given prefix lengths (v4 and v6).
pub fn prefix(ip: IpAddr, v4_len: u8, v6_len: u8) -> IpNet {
    match ip {
        IpAddr::V4(a) => IpNet::V4(
            Ipv4Net::new(a, v4_len.min(32)).map_or_else(|_| Ipv4Net::from(a), |n| n.trunc()),
        ),
        IpAddr::V6(a) => IpNet::V6(
            Ipv6Net::new(a, v6_len.min(128)).map_or_else(|_| Ipv6Net::from(a), |n| n.trunc()),
        ),
    }
}

/// The "host" key used to compare addresses: the IPv4 address itself, or the IPv6 /64
/// (one household or device behind privacy addresses).
pub fn host_key(ip: IpAddr) -> IpNet {
    prefix(ip, 32, 64)
}
