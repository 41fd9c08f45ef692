//! [`Tree`]: a second, read-only view of an `.mmdb` file's search tree, used to *warm* lookups.
//!
//! A lookup that misses every cache walks the tree from the root, one dependent load per bit:
//! the top levels stay cached, the lower ones are a memory miss each, one after another. When
//! a group of addresses must be walked, [`Tree::warm`] advances all their walks one level per
//! round and prefetches each walk's next node, so the misses of the group are in flight
//! together; the real lookups (`maxminddb`'s) that follow find the nodes cached. The result of
//! a warming walk is thrown away: it can only make lookups faster, never different.
//!
//! The search tree (MaxMind DB format 2.0): `node_count` nodes of two records each, records of
//! 24, 28 or 32 bits; a record below `node_count` is the next node, equal to it means "no
//! data", above it points into the data section, which starts 16 bytes after the tree.

use crate::db::DbBytes;
use loginwatch_storage::hint::prefetch;
use maxminddb::Reader;
use std::net::IpAddr;

/// Where a database's search tree is and how to read it.
pub(crate) struct Tree {
    bytes: DbBytes,
    node_count: usize,
    record_bits: u16,
    /// Bytes per node: two records.
    node_bytes: usize,
    /// Where IPv4 addresses start: node 0 in an IPv4 tree, the node 96 zero bits down in an
    /// IPv6 one (`None` when the IPv6 tree holds no IPv4 subtree).
    ipv4_start: Option<usize>,
    ipv6: bool,
}

/// One address's walk in progress.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Walk {
    /// The address's bits, the next one to follow at the top.
    bits: u128,
    node: usize,
    /// Bits left to follow.
    left: u8,
}

impl Tree {
    /// The tree of `reader`'s database, whose bytes are `bytes`.
    pub(crate) fn new(reader: &Reader<DbBytes>, bytes: DbBytes) -> Tree {
        let meta = reader.metadata();
        let record_bits = meta.record_size;
        let mut tree = Tree {
            bytes,
            node_count: meta.node_count as usize,
            record_bits,
            node_bytes: usize::from(record_bits) / 4,
            ipv4_start: Some(0),
            ipv6: meta.ip_version == 6,
        };
        if tree.ipv6 {
            let mut node = 0;
            for _ in 0..96 {
                if node >= tree.node_count {
                    break;
                }
                node = tree.child(node, 0);
            }
            tree.ipv4_start = (node < tree.node_count).then_some(node);
        }
        tree
    }

    /// Record `side` (0 left, 1 right) of `node`; "no data" when the file is too short (the
    /// reader validated it, so only a file changed under a memory map could be).
    fn child(&self, node: usize, side: usize) -> usize {
        let at = node * self.node_bytes;
        let Some(b) = self.bytes.as_ref().get(at..at + self.node_bytes) else {
            return self.node_count;
        };
        let be = |x: &[u8]| x.iter().fold(0usize, |v, &b| v << 8 | usize::from(b));
        match (self.record_bits, side) {
            (28, 0) => usize::from(b[3] >> 4) << 24 | be(&b[..3]),
            (28, _) => usize::from(b[3] & 0x0f) << 24 | be(&b[4..7]),
            (_, 0) => be(&b[..self.node_bytes / 2]),
            (_, _) => be(&b[self.node_bytes / 2..]),
        }
    }

    /// The walk of `ip` (canonical form) from its start node, or `None` when this database
    /// cannot hold it (IPv6 in an IPv4 tree, IPv4 in an IPv6 tree without an IPv4 subtree).
    fn start(&self, ip: IpAddr) -> Option<Walk> {
        match ip {
            IpAddr::V4(a) => Some(Walk {
                bits: u128::from(u32::from(a)) << 96,
                node: self.ipv4_start?,
                left: 32,
            }),
            IpAddr::V6(a) => self.ipv6.then_some(Walk {
                bits: u128::from(a),
                node: 0,
                left: 128,
            }),
        }
    }

    /// Follows one bit; false once the walk has reached a record that is not a node.
    fn step(&self, w: &mut Walk) -> bool {
        let side = (w.bits >> 127) as usize;
        w.node = self.child(w.node, side);
        w.bits <<= 1;
        w.left -= 1;
        w.node < self.node_count && w.left > 0
    }

    fn node_addr(&self, node: usize) -> *const u8 {
        self.bytes
            .as_ref()
            .as_ptr()
            .wrapping_add(node * self.node_bytes)
    }

    /// Walks every address of `ips` through the tree together, one level per round, each
    /// walk's next node prefetched a round ahead; ends by prefetching the data records found,
    /// and returns how many walks found one. `walks` is scratch space, kept by the caller.
    pub(crate) fn warm(&self, ips: &[IpAddr], walks: &mut Vec<Walk>) -> usize {
        walks.clear();
        walks.extend(ips.iter().filter_map(|&ip| self.start(ip)));
        let mut found = 0;
        while !walks.is_empty() {
            walks.retain_mut(|w| {
                let more = self.step(w);
                if more {
                    prefetch(self.node_addr(w.node));
                } else if w.node > self.node_count {
                    // A data pointer: the record is 16 bytes past the tree's end.
                    let at = w.node - self.node_count + self.node_count * self.node_bytes;
                    prefetch(self.bytes.as_ref().as_ptr().wrapping_add(at));
                    found += 1;
                }
                more
            });
        }
        found
    }

    /// The data-section offset `ip` walks to, as `maxminddb`'s `LookupResult::offset` gives
    /// it (`None`: no data). What [`Tree::warm`] walks, for the tests that compare the two.
    #[cfg(test)]
    pub(crate) fn leaf(&self, ip: IpAddr) -> Option<usize> {
        let mut w = self.start(ip)?;
        while self.step(&mut w) {}
        (w.node > self.node_count).then(|| w.node - self.node_count - 16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::writer::{MmdbBuilder, RecordSize, Value};
    use std::sync::Arc;

    /// Networks of many lengths in both families, nested, so walks end at every depth.
    fn database(size: RecordSize, with_v4: bool) -> Vec<u8> {
        let mut b = MmdbBuilder::new("Test-City").record_size(size);
        let mut n = 0u32;
        let mut add = |b: &mut MmdbBuilder, net: &str| {
            n += 1;
            b.insert(net.parse().unwrap(), Value::map([("n", Value::U32(n))]));
        };
        let b = &mut b;
        if with_v4 {
            for (i, len) in [8u8, 12, 16, 20, 24, 28, 32].iter().enumerate() {
                for j in 0..40u32 {
                    let a = (1u32 + i as u32 * 30) << 24 | j.wrapping_mul(0x0101_3717);
                    let net = ipnet::Ipv4Net::new(a.into(), *len).unwrap().trunc();
                    add(b, &net.to_string());
                }
            }
        }
        for j in 0..60u16 {
            add(b, &format!("2001:db8:{j:x}::/48"));
            add(b, &format!("2001:db8:{j:x}:{:x}::/64", j * 7 + 1));
            add(b, &format!("2400:{:x}::/{}", j * 131 + 1, 20 + j % 40));
        }
        b.build().unwrap()
    }

    /// Addresses inside, beside and far from the networks above.
    fn addresses() -> Vec<IpAddr> {
        let mut ips = Vec::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for i in 0..3000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v4 = (x as u32) & if i % 3 == 0 { 0x1fff_ffff } else { u32::MAX };
            ips.push(IpAddr::from(v4.to_be_bytes()));
            let v6 = u128::from(0x2001_0db8_u32) << 96 | u128::from(x) << 16;
            let v6 = if i % 2 == 0 { v6 } else { u128::from(x) << 64 };
            ips.push(IpAddr::from(std::net::Ipv6Addr::from(v6)));
        }
        ips
    }

    fn open(bytes: Vec<u8>) -> (Reader<DbBytes>, Tree) {
        let bytes = DbBytes::Owned(Arc::new(bytes));
        let reader = Reader::from_source(bytes.clone()).unwrap();
        let tree = Tree::new(&reader, bytes);
        (reader, tree)
    }

    #[test]
    fn walks_to_the_record_maxminddb_finds_at_every_record_size() {
        for size in [RecordSize::Bits24, RecordSize::Bits28, RecordSize::Bits32] {
            for with_v4 in [true, false] {
                let (reader, tree) = open(database(size, with_v4));
                let (mut found, mut empty) = (0, 0);
                for ip in addresses() {
                    let want = reader.lookup(ip).ok().and_then(|r| r.offset());
                    assert_eq!(tree.leaf(ip), want, "{ip} at {size:?}, v4 {with_v4}");
                    if want.is_some() {
                        found += 1;
                    } else {
                        empty += 1;
                    }
                }
                assert!(found > 100 && empty > 100, "{found} found, {empty} empty");
            }
        }
    }

    #[test]
    fn reads_records_of_every_size_with_their_high_bits() {
        const NODE: [u8; 8] = [0x12, 0x34, 0x56, 0xab, 0x78, 0x9a, 0xbc, 0xde];
        for (bits, left, right) in [
            (24, 0x12_3456, 0xab_789a),
            (28, 0xa12_3456, 0xb78_9abc),
            (32, 0x1234_56ab, 0x789a_bcde),
        ] {
            let tree = Tree {
                bytes: DbBytes::Static(&NODE),
                node_count: usize::MAX,
                record_bits: bits,
                node_bytes: usize::from(bits) / 4,
                ipv4_start: Some(0),
                ipv6: false,
            };
            assert_eq!(
                (tree.child(0, 0), tree.child(0, 1)),
                (left, right),
                "{bits}"
            );
            assert_eq!(
                tree.child(1, 0),
                usize::MAX,
                "past the end reads as no data"
            );
        }
    }

    #[test]
    fn warming_a_group_walks_each_address_to_its_record() {
        for with_v4 in [true, false] {
            let (_, tree) = open(database(RecordSize::Bits28, with_v4));
            let ips = addresses();
            let want = ips.iter().filter(|&&ip| tree.leaf(ip).is_some()).count();
            let mut walks = Vec::new();
            assert_eq!(tree.warm(&ips, &mut walks), want);
            assert_eq!(
                tree.warm(&ips[..1], &mut walks),
                usize::from(tree.leaf(ips[0]).is_some())
            );
            assert_eq!(tree.warm(&[], &mut walks), 0);
        }
    }
}
