//! The MMDB binary search tree: an IPv6 trie (IPv4 lives at `::/96`), serialized as
//! `node_count` nodes of two records each.

use super::{RecordSize, WriteError};

/// One side of a node: nothing, another node, or a data-section offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rec {
    Empty,
    Node(u32),
    Data(u32),
}

/// The trie under construction. Node 0 is the root.
pub(super) struct Tree {
    nodes: Vec<[Rec; 2]>,
}

fn bit(addr: u128, depth: u8) -> usize {
    ((addr >> (127 - u32::from(depth))) & 1) as usize
}

impl Tree {
    pub(super) fn new() -> Self {
        Tree {
            nodes: vec![[Rec::Empty; 2]],
        }
    }

    pub(super) fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Points the network `addr/len` (IPv6 bit space) at `rec`, splitting any less specific
    /// record on the way so that its other halves keep their data.
    pub(super) fn insert(&mut self, addr: u128, len: u8, rec: Rec) {
        if len == 0 {
            self.nodes[0] = [rec; 2];
            return;
        }
        let node = self.walk_creating(addr, len - 1);
        self.nodes[node][bit(addr, len - 1)] = rec;
    }

    /// The node reached after following `depth` bits of `addr`, creating nodes as needed.
    fn walk_creating(&mut self, addr: u128, depth: u8) -> usize {
        let mut node = 0;
        for d in 0..depth {
            let side = bit(addr, d);
            node = match self.nodes[node][side] {
                Rec::Node(n) => n as usize,
                other => {
                    let n = self.nodes.len();
                    self.nodes.push([other; 2]);
                    self.nodes[node][side] = Rec::Node(n as u32);
                    n
                }
            };
        }
        node
    }

    /// The record covering `addr/len` without creating nodes: the record at that depth, or the
    /// less specific data or empty record the path ends on.
    fn find(&self, addr: u128, len: u8) -> Rec {
        let mut rec = Rec::Node(0);
        for d in 0..len {
            match rec {
                Rec::Node(n) => rec = self.nodes[n as usize][bit(addr, d)],
                other => return other,
            }
        }
        rec
    }

    /// Makes `::ffff:0:0/96` (IPv4-mapped) and `2002::/16` (6to4) lead to the IPv4 subtree at
    /// `::/96`, as MaxMind's own databases do, unless the caller put data there.
    pub(super) fn alias_ipv4(&mut self) {
        let v4_root = self.find(0, 96);
        if v4_root == Rec::Empty {
            return;
        }
        for (addr, len) in [(0xffff_u128 << 32, 96), (0x2002_u128 << 112, 16)] {
            if self.find(addr, len) != Rec::Empty {
                continue;
            }
            let node = self.walk_creating(addr, len - 1);
            let side = bit(addr, len - 1);
            if self.nodes[node][side] == Rec::Empty {
                self.nodes[node][side] = v4_root;
            }
        }
    }

    /// Serializes the nodes; data offsets become `node_count + 16 + offset`.
    pub(super) fn to_bytes(&self, size: RecordSize) -> Result<Vec<u8>, WriteError> {
        let count = self.nodes.len() as u64;
        let max = (1u64 << size.bits()) - 1;
        let value = |rec: Rec| -> Result<u32, WriteError> {
            let v = match rec {
                Rec::Empty => count,
                Rec::Node(n) => u64::from(n),
                Rec::Data(off) => count + 16 + u64::from(off),
            };
            u32::try_from(v)
                .ok()
                .filter(|v| u64::from(*v) <= max)
                .ok_or(WriteError::TooLarge(size.bits()))
        };
        let mut out = Vec::with_capacity(self.nodes.len() * usize::from(size.bits()) / 4);
        for [l, r] in &self.nodes {
            let (l, r) = (value(*l)?, value(*r)?);
            match size {
                RecordSize::Bits24 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                RecordSize::Bits28 => {
                    out.extend_from_slice(&l.to_be_bytes()[1..]);
                    out.push((((l >> 24) & 0x0F) << 4) as u8 | ((r >> 24) & 0x0F) as u8);
                    out.extend_from_slice(&r.to_be_bytes()[1..]);
                }
                RecordSize::Bits32 => {
                    out.extend_from_slice(&l.to_be_bytes());
                    out.extend_from_slice(&r.to_be_bytes());
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_the_less_specific_data() {
        let mut t = Tree::new();
        t.insert(0, 1, Rec::Data(1));
        t.insert(0, 3, Rec::Data(2));
        assert_eq!(t.find(0, 3), Rec::Data(2));
        assert_eq!(t.find(1 << 125, 3), Rec::Data(1));
        assert_eq!(t.find(1 << 126, 2), Rec::Data(1));
        assert_eq!(t.find(1 << 127, 1), Rec::Empty);
    }

    #[test]
    fn aliases_point_at_the_ipv4_subtree() {
        let mut t = Tree::new();
        t.insert(10u128 << 24, 104, Rec::Data(0));
        t.alias_ipv4();
        let v4 = t.find(0, 96);
        assert!(matches!(v4, Rec::Node(_)));
        assert_eq!(t.find(0xffff_u128 << 32, 96), v4);
        assert_eq!(t.find(0x2002_u128 << 112, 16), v4);
    }

    #[test]
    fn record_overflow_is_an_error() {
        let mut t = Tree::new();
        t.insert(0, 1, Rec::Data(1 << 24));
        assert!(matches!(
            t.to_bytes(RecordSize::Bits24),
            Err(WriteError::TooLarge(24))
        ));
        assert_eq!(t.to_bytes(RecordSize::Bits28).unwrap().len(), 7);
    }
}
