//! Addresses inside a place's networks: slot `j` of a place is a fixed address, and slots are
//! handed out in order, so no two accounts share an IPv4 /24 or an IPv6 /64 until the place's
//! address space runs out (then slots wrap around and /24s are shared, as in real CGNAT pools).

use super::rng::hash;
use super::world::Place;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A slot in a place: `(place index, slot number)`; the address is a pure function of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Addr {
    pub place: u32,
    pub slot: u32,
}

/// A carrier-grade NAT pool: `size` consecutive slots of a mobile place from `first`, each one
/// public IPv4 address that many subscribers share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NatPool {
    pub place: u32,
    pub first: u32,
    pub size: u32,
}

impl NatPool {
    /// The `k`-th address of the pool (`k < size`).
    pub fn addr(&self, k: u32) -> Addr {
        Addr {
            place: self.place,
            slot: self.first.wrapping_add(k),
        }
    }
}

/// One network, and where its blocks end in the place's running count of blocks.
#[derive(Clone, Debug)]
struct Block {
    net: IpNet,
    end: u64,
}

/// The blocks (IPv4 /24s, IPv6 /64s) of one place, and the next free slot.
#[derive(Clone, Debug, Default)]
struct PlacePool {
    v4: Vec<Block>,
    v6: Vec<Block>,
    next: u32,
}

/// Address pools of every place of a world.
#[derive(Clone, Debug)]
pub struct Pools {
    places: Vec<PlacePool>,
}

/// Number of allocation blocks in a network: /24s for IPv4, /64s for IPv6 (capped at 2^40).
fn blocks(net: &IpNet) -> u64 {
    let (unit, len) = match net {
        IpNet::V4(n) => (24u8, n.prefix_len()),
        IpNet::V6(n) => (64u8, n.prefix_len()),
    };
    1u64 << unit.saturating_sub(len).min(40)
}

fn push(list: &mut Vec<Block>, net: IpNet) {
    let end = list.last().map_or(0, |b| b.end) + blocks(&net);
    list.push(Block { net, end });
}

impl Pools {
    /// Indexes the networks of every place.
    pub fn new(places: &[Place]) -> Self {
        let places = places
            .iter()
            .map(|p| {
                let mut pool = PlacePool::default();
                for net in &p.networks {
                    match net {
                        IpNet::V4(_) => push(&mut pool.v4, *net),
                        IpNet::V6(_) => push(&mut pool.v6, *net),
                    }
                }
                pool
            })
            .collect();
        Pools { places }
    }

    /// Hands out the next slot of `place`.
    pub fn alloc(&mut self, place: u32) -> Addr {
        let pool = &mut self.places[place as usize];
        let slot = pool.next;
        pool.next = pool.next.wrapping_add(1);
        Addr { place, slot }
    }

    /// Hands out `n` consecutive slots of `place` (at least one); returns the first.
    pub fn alloc_run(&mut self, place: u32, n: u32) -> Addr {
        let first = self.alloc(place);
        let pool = &mut self.places[place as usize];
        pool.next = pool.next.wrapping_add(n.saturating_sub(1));
        first
    }

    /// Whether the place has IPv4 / IPv6 networks.
    pub fn has(&self, place: u32) -> (bool, bool) {
        let p = &self.places[place as usize];
        (!p.v4.is_empty(), !p.v6.is_empty())
    }

    /// Whether the slot has an IPv4 /24 of its own (the place's IPv4 space is not used up).
    pub fn v4_fits(&self, a: Addr) -> bool {
        let v4 = &self.places[a.place as usize].v4;
        v4.last().is_some_and(|b| u64::from(a.slot) < b.end)
    }

    /// The slot's IPv4 address, or `None` when the place has no IPv4 network.
    pub fn v4(&self, a: Addr) -> Option<Ipv4Addr> {
        let (net, off) = locate(&self.places[a.place as usize].v4, a.slot)?;
        let IpNet::V4(n) = net else { return None };
        let base = u32::from(n.network());
        let h = hash(&[u64::from(a.place), u64::from(a.slot), 4]);
        let bits = (32 - n.prefix_len()).min(8);
        let host = pick_host(h, 1u64 << bits) as u32;
        Some(Ipv4Addr::from(base + ((off as u32) << 8) + host))
    }

    /// The slot's IPv6 address: the slot fixes the /64, `iid` the interface identifier (so one
    /// household can use privacy addresses that change inside its /64).
    pub fn v6(&self, a: Addr, iid: u64) -> Option<Ipv6Addr> {
        let (net, off) = locate(&self.places[a.place as usize].v6, a.slot)?;
        let IpNet::V6(n) = net else { return None };
        let base = u128::from(n.network());
        let bits = (128 - n.prefix_len()).min(64);
        let host = if bits == 64 {
            u128::from(iid | 1)
        } else {
            u128::from(pick_host(iid, 1u64 << bits))
        };
        Some(Ipv6Addr::from(base + (u128::from(off) << 64) + host))
    }

    /// The slot's address: IPv4 while the place's IPv4 space lasts (IPv6 when `v6` is asked
    /// for or the IPv4 space is used up and the place has IPv6), so accounts share no /24
    /// whenever the place has IPv6.
    pub fn ip(&self, a: Addr, iid: u64, v6: bool) -> IpAddr {
        let has_v6 = !self.places[a.place as usize].v6.is_empty();
        if has_v6 && (v6 || !self.v4_fits(a)) {
            if let Some(ip) = self.v6(a, iid) {
                return IpAddr::V6(ip);
            }
        }
        self.any(a, iid)
    }

    /// The slot's IPv4 address when the place has IPv4, else its IPv6 address.
    pub fn any(&self, a: Addr, iid: u64) -> IpAddr {
        match self.v4(a) {
            Some(v4) => IpAddr::V4(v4),
            None => self
                .v6(a, iid)
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6),
        }
    }
}

/// A host number in a block of `size` addresses, avoiding the first and last when it can.
fn pick_host(h: u64, size: u64) -> u64 {
    if size > 2 {
        1 + h % (size - 2)
    } else {
        h % size
    }
}

/// The network holding a slot and the block offset inside it (slots wrap around the pool).
fn locate(list: &[Block], slot: u32) -> Option<(IpNet, u64)> {
    let total = list.last()?.end;
    let k = u64::from(slot) % total;
    let i = list.partition_point(|b| b.end <= k);
    let start = if i == 0 { 0 } else { list[i - 1].end };
    Some((list[i].net, k - start))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::NetClass;

    fn place(nets: &[&str]) -> Place {
        Place {
            city: "X".into(),
            country: "US".into(),
            lat: 0.0,
            lon: 0.0,
            class: NetClass::Residential,
            networks: nets.iter().map(|s| s.parse().unwrap()).collect(),
        }
    }

    #[test]
    fn slots_get_distinct_blocks_inside_the_networks() {
        let p = place(&["198.51.100.0/23", "192.0.2.16/28", "2001:db8::/63"]);
        let mut pools = Pools::new(std::slice::from_ref(&p));
        let mut seen = std::collections::HashSet::new();
        for _ in 0..3 {
            let a = pools.alloc(0);
            let ip = pools.v4(a).unwrap();
            assert!(
                p.networks.iter().any(|n| n.contains(&IpAddr::V4(ip))),
                "{ip}"
            );
            assert!(seen.insert(u32::from(ip) >> 8), "shared /24 {ip}");
            let v6 = IpAddr::V6(pools.v6(a, 42).unwrap());
            assert!(p.networks.iter().any(|n| n.contains(&v6)), "{v6}");
        }
        // The fourth slot wraps around to the first block.
        let a = pools.alloc(0);
        assert_eq!(u32::from(pools.v4(a).unwrap()) >> 8, 0x00C6_3364);
    }

    #[test]
    fn same_slot_same_address_and_v6_only_places() {
        let p = place(&["2001:db8:1::/48"]);
        let mut pools = Pools::new(std::slice::from_ref(&p));
        let a = pools.alloc(0);
        assert_eq!(pools.v4(a), None);
        assert_eq!(pools.has(0), (false, true));
        assert!(matches!(pools.any(a, 9), IpAddr::V6(_)));
        let (x, y) = (pools.v6(a, 1).unwrap(), pools.v6(a, 2).unwrap());
        assert_ne!(x, y);
        assert_eq!(x.segments()[..4], y.segments()[..4], "same /64");
    }
}
