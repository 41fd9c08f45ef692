//! Network classes: which addresses can be located, and prefix keys that group one household
//! or one farm (IPv4 /24, IPv6 /64 and /48).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)
}

const fn v6(hi: u16, second: u16, len: u8) -> Ipv6Net {
    Ipv6Net::new_assert(Ipv6Addr::new(hi, second, 0, 0, 0, 0, 0, 0), len)
}

/// IPv4 ranges that never locate a client (RFC 6890 special-purpose, multicast, reserved).
const NON_ROUTABLE_V4: [Ipv4Net; 14] = [
    v4(0, 0, 0, 0, 8),       // "this network", unspecified
    v4(10, 0, 0, 0, 8),      // private
    v4(100, 64, 0, 0, 10),   // carrier-grade NAT
    v4(127, 0, 0, 0, 8),     // loopback
    v4(169, 254, 0, 0, 16),  // link-local
    v4(172, 16, 0, 0, 12),   // private
    v4(192, 0, 0, 0, 24),    // IETF protocol assignments
    v4(192, 0, 2, 0, 24),    // documentation TEST-NET-1
    v4(192, 168, 0, 0, 16),  // private
    v4(198, 18, 0, 0, 15),   // benchmarking
    v4(198, 51, 100, 0, 24), // documentation TEST-NET-2
    v4(203, 0, 113, 0, 24),  // documentation TEST-NET-3
    v4(224, 0, 0, 0, 4),     // multicast
    v4(240, 0, 0, 0, 4),     // reserved, broadcast
];

/// IPv6 ranges that never locate a client. IPv4-mapped addresses are judged as IPv4.
const NON_ROUTABLE_V6: [Ipv6Net; 6] = [
    v6(0, 0, 96),           // unspecified, loopback, deprecated IPv4-compatible
    v6(0x0100, 0, 64),      // discard-only
    v6(0x2001, 0x0db8, 32), // documentation
    v6(0xfc00, 0, 7),       // unique local
    v6(0xfe80, 0, 10),      // link-local
    v6(0xff00, 0, 8),       // multicast
];

/// True when `ip` can belong to a client on the public Internet: not private, loopback,
/// link-local, CGNAT, documentation, benchmarking, unspecified, multicast, broadcast or
/// reserved. IPv4-mapped IPv6 addresses are judged by their IPv4 address.
pub fn is_routable(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(a) => !NON_ROUTABLE_V4.iter().any(|n| n.contains(&a)),
        IpAddr::V6(a) => !NON_ROUTABLE_V6.iter().any(|n| n.contains(&a)),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn routable(s: &str) -> bool {
        is_routable(s.parse().unwrap())
    }

    #[test]
    fn special_ranges_are_not_routable() {
        for s in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.1.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.2.7",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:192.168.0.1",
        ] {
            assert!(!routable(s), "{s}");
        }
    }

    #[test]
    fn public_addresses_are_routable() {
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "175.45.176.1",
            "2001:4860:4860::8888",
            "2a02:dd0::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(routable(s), "{s}");
        }
    }

    #[test]
    fn prefixes_truncate() {
        let ip: IpAddr = "81.2.69.77".parse().unwrap();
        assert_eq!(prefix(ip, 24, 64).to_string(), "81.2.69.0/24");
        let ip: IpAddr = "2a02:dd0:1:2:3::1".parse().unwrap();
        assert_eq!(host_key(ip).to_string(), "2a02:dd0:1:2::/64");
    }
}
