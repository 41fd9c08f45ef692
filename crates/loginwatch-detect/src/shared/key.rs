//! [`NetKey`]: a network the shared index keys by — an IPv4 address or /24, an IPv6 /64 or
//! /48 — in one 128-bit space (IPv4 as IPv4-mapped IPv6), with its printing and fingerprint.

use ipnet::IpNet;
use loginwatch_storage::stable_hash32;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A network: address bits (IPv4 as IPv4-mapped IPv6) and prefix length in that space.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct NetKey {
    bits: u128,
    len: u8,
}

impl NetKey {
    /// The network of `ip` at `v4_len` (IPv4) or `v6_len` (IPv6).
    pub(crate) fn of(ip: IpAddr, v4_len: u8, v6_len: u8) -> NetKey {
        let (bits, len) = match ip.to_canonical() {
            IpAddr::V4(a) => (u128::from(a.to_ipv6_mapped()), 96 + v4_len.min(32)),
            IpAddr::V6(a) => (u128::from(a), v6_len.min(128)),
        };
        NetKey { bits, len }.masked()
    }

    /// The key with the bits past its length cleared (what `of` makes; saved keys too).
    pub(super) fn masked(self) -> NetKey {
        let len = self.len.min(128);
        let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
        NetKey {
            bits: self.bits & mask,
            len,
        }
    }

    /// The networks a login from `ip` counts on: its host (the IPv4 address, the IPv6 /64)
    /// and, with `prefixes`, its IPv4 /24 (its IPv6 /48 only with `v6_48` as well).
    pub(crate) fn of_login(ip: IpAddr, prefixes: bool, v6_48: bool) -> (NetKey, Option<NetKey>) {
        let host = NetKey::of(ip, 32, 64);
        let prefix = prefixes && (host.v4().is_some() || v6_48);
        (host, prefix.then(|| NetKey::of(ip, 24, 48)))
    }

    /// As an `IpNet` (`203.0.113.0/24`, `2001:db8::/48`).
    pub(crate) fn net(self) -> IpNet {
        let v6 = Ipv6Addr::from(self.bits);
        match v6.to_ipv4_mapped() {
            Some(v4) if self.len >= 96 => IpNet::new(IpAddr::V4(v4), self.len - 96),
            _ => IpNet::new(IpAddr::V6(v6), self.len),
        }
        .unwrap_or_else(|_| IpNet::from(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
    }

    /// The key of an IPv4 network in the `u64` map: prefix length above the address bits.
    pub(super) fn v4(self) -> Option<u64> {
        let mapped = (self.bits >> 32) as u64 == 0xffff;
        (self.len >= 96 && mapped).then(|| u64::from(self.len) << 32 | (self.bits as u32 as u64))
    }

    /// The key of an IPv4 network from its `u64` map key.
    pub(super) fn from_v4(k: u64) -> NetKey {
        let bits = 0xffff_u128 << 32 | u128::from(k as u32);
        NetKey {
            bits,
            len: (k >> 32) as u8,
        }
    }

    /// A 32-bit fingerprint (cooldown keys, distinct-host counts): [`stable_hash32`] of the
    /// key, so saved cooldowns stay valid in another process.
    pub(crate) fn fingerprint(self) -> u32 {
        let mut bytes = [0u8; 17];
        bytes[..16].copy_from_slice(&self.bits.to_le_bytes());
        bytes[16] = self.len;
        stable_hash32(&bytes)
    }
}
