//! [`IpCache`]: a small direct-mapped cache of what [`Locator`](crate::Locator) resolves for
//! an address (location and network), owned by one worker so hits take no lock and touch no
//! shared cache line. A login stream repeats addresses (each account comes back from its
//! few IPs), and a hit replaces the database tree walk and record decode.

use crate::types::{Location, NetInfo};
use std::net::IpAddr;

/// One slot: the address it holds (`tag` 0 = empty, 4 = IPv4, 6 = IPv6) and its answer.
#[derive(Clone, Default)]
struct Slot {
    bits: u128,
    tag: u8,
    location: Option<Location>,
    net: NetInfo,
}

/// A direct-mapped address → (location, network) cache of a fixed number of slots; a new
/// address overwrites whatever shared its slot. Memory: about 100 bytes per slot, allocated
/// once.
pub struct IpCache {
    slots: Box<[Slot]>,
    mask: usize,
    hits: u64,
    misses: u64,
}

impl std::fmt::Debug for IpCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpCache")
            .field("slots", &self.slots.len())
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .finish()
    }
}

fn key(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 4),
        IpAddr::V6(a) => (u128::from(a), 6),
    }
}

fn slot_of(bits: u128, mask: usize) -> usize {
    // Fold and mix so neighbouring addresses spread over the table.
    let h = (bits as u64) ^ ((bits >> 64) as u64).rotate_left(17);
    (h.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
}

impl IpCache {
    /// A cache of `slots` slots, rounded up to a power of two (at least 1).
    pub fn new(slots: usize) -> IpCache {
        let n = slots.max(1).next_power_of_two();
        IpCache {
            slots: vec![Slot::default(); n].into_boxed_slice(),
            mask: n - 1,
            hits: 0,
            misses: 0,
        }
    }

    /// The cached answer for `ip`, or `make()`'s, stored for next time.
    pub(crate) fn get_or_insert_with(
        &mut self,
        ip: IpAddr,
        make: impl FnOnce() -> (Option<Location>, NetInfo),
    ) -> (Option<Location>, NetInfo, bool) {
        let (bits, tag) = key(ip);
        let slot = &mut self.slots[slot_of(bits, self.mask)];
        if slot.tag == tag && slot.bits == bits {
            self.hits += 1;
            return (slot.location.clone(), slot.net.clone(), true);
        }
        self.misses += 1;
        let (location, net) = make();
        slot.bits = bits;
        slot.tag = tag;
        slot.location.clone_from(&location);
        slot.net.clone_from(&net);
        (location, net, false)
    }

    /// (hits, misses) so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_model::CountryCode;

    fn place(city: &str) -> (Option<Location>, NetInfo) {
        let loc = Location {
            lat: 1.0,
            lon: 2.0,
            accuracy_km: 3.0,
            country: CountryCode::parse("FR"),
            city: Some(city.into()),
        };
        (Some(loc), NetInfo::default())
    }

    #[test]
    fn hits_return_what_was_stored_and_collisions_replace() {
        let mut c = IpCache::new(2);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let (loc, _, hit) = c.get_or_insert_with(a, || place("Paris"));
        assert!(!hit && loc.is_some());
        let (again, _, hit) = c.get_or_insert_with(a, || unreachable!());
        assert!(hit);
        assert_eq!(again, loc);
        // An IPv6 address with the same low bits is a different key.
        let v6: IpAddr = "::c000:201".parse().unwrap();
        let (_, _, hit) = c.get_or_insert_with(v6, || place("Lyon"));
        assert!(!hit);
        for i in 0..8u8 {
            let ip = IpAddr::from([198, 51, 100, i]);
            c.get_or_insert_with(ip, || place("Nice"));
        }
        assert_eq!(c.counts(), (1, 10));
    }
}
