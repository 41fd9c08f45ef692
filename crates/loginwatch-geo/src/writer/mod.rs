//! An in-memory MaxMind DB (`.mmdb`, format 2.0) writer for the demo world and for test
//! fixtures: an IPv6 tree with IPv4 at `::/96` (aliased from `::ffff:0:0/96` and `2002::/16` as
//! MaxMind does), 24/28/32-bit records, a data section that stores identical records once.
//!
//! We write our own rather than depend on a crate: the writers on crates.io were young 0.1
//! releases (one pulling a proc-macro builder crate into every build); this needs ~300 lines.

mod encode;
mod tree;

use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};
use tree::{Rec, Tree};

/// A record value: the subset of MMDB types our databases use.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Map(BTreeMap<String, Value>),
    Array(Vec<Value>),
    String(String),
    U16(u16),
    U32(u32),
    U64(u64),
    F64(f64),
    /// Single-precision float (some third-party databases store coordinates this way).
    F32(f32),
    Bool(bool),
}

impl Value {
    /// A map from `(key, value)` pairs.
    pub fn map<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<f64> for Value {
    fn from(f: f64) -> Self {
        Value::F64(f)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::U32(n)
    }
}

/// Bits per search-tree record. Larger records allow larger databases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordSize {
    Bits24,
    Bits28,
    Bits32,
}

impl RecordSize {
    /// The size in bits.
    pub fn bits(self) -> u8 {
        match self {
            RecordSize::Bits24 => 24,
            RecordSize::Bits28 => 28,
            RecordSize::Bits32 => 32,
        }
    }
}

/// Why a database could not be written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    #[error("a value of {0} bytes or entries exceeds the MMDB size limit")]
    ValueTooLarge(usize),
    #[error("the database does not fit in {0}-bit records")]
    TooLarge(u8),
    #[error("an IPv4-only database cannot hold {0}")]
    Ipv6InIpv4Database(IpNet),
}

/// Builds a `.mmdb` file in memory.
///
/// More specific networks win over less specific ones; of two identical networks the last
/// inserted wins. IPv4 networks are stored at `::/96` (and `::ffff:0:0/96` and `2002::/16`
/// lead there), unless the database is IPv4-only ([`MmdbBuilder::ipv4_only`], `ip_version` 4,
/// as DB-IP ships its IPv4 file).
#[derive(Clone, Debug)]
pub struct MmdbBuilder {
    database_type: String,
    languages: Vec<String>,
    description: BTreeMap<String, String>,
    record_size: Option<RecordSize>,
    build_epoch: Option<u64>,
    ipv4_only: bool,
    entries: Vec<(IpNet, Value)>,
}

impl MmdbBuilder {
    /// A builder for a database of the given `database_type` (e.g. `"GeoLite2-City"`).
    pub fn new(database_type: &str) -> Self {
        MmdbBuilder {
            database_type: database_type.to_owned(),
            languages: vec!["en".to_owned()],
            description: BTreeMap::new(),
            record_size: None,
            build_epoch: None,
            ipv4_only: false,
            entries: Vec::new(),
        }
    }

    /// Adds a description in `lang` (default: `en` = the database type).
    pub fn description(mut self, lang: &str, text: &str) -> Self {
        self.description.insert(lang.to_owned(), text.to_owned());
        self
    }

    /// Replaces the languages list (default `["en"]`).
    pub fn languages(mut self, langs: &[&str]) -> Self {
        self.languages = langs.iter().map(|l| (*l).to_owned()).collect();
        self
    }

    /// Forces a record size; by default the smallest that fits is chosen.
    pub fn record_size(mut self, size: RecordSize) -> Self {
        self.record_size = Some(size);
        self
    }

    /// Sets `build_epoch` (default: now), e.g. for reproducible output.
    pub fn build_epoch(mut self, epoch: u64) -> Self {
        self.build_epoch = Some(epoch);
        self
    }

    /// Writes an IPv4-only database (`ip_version` 4: a 32-bit tree), which holds no IPv6
    /// network.
    pub fn ipv4_only(mut self) -> Self {
        self.ipv4_only = true;
        self
    }

    /// Maps `net` (host bits ignored) to `value`.
    pub fn insert(&mut self, net: IpNet, value: Value) {
        self.entries.push((net.trunc(), value));
    }

    /// Writes the database: search tree, separator, data section, metadata.
    pub fn build(&self) -> Result<Vec<u8>, WriteError> {
        let (tree, data) = self.tree_and_data()?;
        let size = match self.record_size {
            Some(size) => size,
            None => smallest_fitting(tree.node_count(), data.len()),
        };
        let mut out = tree.to_bytes(size)?;
        out.extend_from_slice(&[0u8; 16]);
        out.extend_from_slice(&data);
        out.extend_from_slice(b"\xAB\xCD\xEFMaxMind.com");
        encode::encode(&self.metadata(tree.node_count(), size), &mut out)?;
        Ok(out)
    }

    fn tree_and_data(&self) -> Result<(Tree, Vec<u8>), WriteError> {
        let mut order: Vec<&(IpNet, Value)> = self.entries.iter().collect();
        // Stable: less specific first, so that more specific networks split them.
        order.sort_by_key(|(net, _)| bit_len(net));
        let mut tree = Tree::new();
        let mut data = Vec::new();
        let mut seen: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut scratch = Vec::new();
        for (net, value) in order {
            scratch.clear();
            encode::encode(value, &mut scratch)?;
            let offset = match seen.get(&scratch) {
                Some(off) => *off,
                None => {
                    let off = u32::try_from(data.len()).map_err(|_| WriteError::TooLarge(32))?;
                    data.extend_from_slice(&scratch);
                    seen.insert(scratch.clone(), off);
                    off
                }
            };
            match (self.ipv4_only, net) {
                (false, _) => tree.insert(bits(net), bit_len(net), Rec::Data(offset)),
                // The 32-bit tree: the address in the top bits of the trie's key.
                (true, IpNet::V4(n)) => tree.insert(
                    u128::from(u32::from(n.network())) << 96,
                    n.prefix_len(),
                    Rec::Data(offset),
                ),
                (true, IpNet::V6(_)) => return Err(WriteError::Ipv6InIpv4Database(*net)),
            }
        }
        if !self.ipv4_only {
            tree.alias_ipv4();
        }
        Ok((tree, data))
    }

    fn metadata(&self, node_count: usize, size: RecordSize) -> Value {
        let epoch = self.build_epoch.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs())
        });
        // Readers' verifiers insist on a non-empty description.
        let mut description = self.description.clone();
        if description.is_empty() {
            description.insert("en".to_owned(), self.database_type.clone());
        }
        let description = description.into_iter().map(|(k, v)| (k, Value::from(v)));
        let languages = self.languages.iter().map(|l| Value::from(l.as_str()));
        Value::map([
            ("binary_format_major_version", Value::U16(2)),
            ("binary_format_minor_version", Value::U16(0)),
            ("build_epoch", Value::U64(epoch)),
            ("database_type", Value::from(self.database_type.as_str())),
            ("description", Value::map(description)),
            ("ip_version", Value::U16(if self.ipv4_only { 4 } else { 6 })),
            ("languages", Value::Array(languages.collect())),
            ("node_count", Value::U32(node_count as u32)),
            ("record_size", Value::U16(u16::from(size.bits()))),
        ])
    }
}

/// The network's position in the IPv6 bit space (IPv4 at `::/96`).
fn bits(net: &IpNet) -> u128 {
    match net {
        IpNet::V4(n) => u128::from(u32::from(n.network())),
        IpNet::V6(n) => u128::from(n.network()),
    }
}

fn bit_len(net: &IpNet) -> u8 {
    match net {
        IpNet::V4(n) => 96 + n.prefix_len(),
        IpNet::V6(n) => n.prefix_len(),
    }
}

fn smallest_fitting(node_count: usize, data_len: usize) -> RecordSize {
    let largest = (node_count + 16 + data_len) as u64;
    if largest < 1 << 24 {
        RecordSize::Bits24
    } else if largest < 1 << 28 {
        RecordSize::Bits28
    } else {
        RecordSize::Bits32
    }
}

/// Convenience: a database of `database_type` holding `entries`.
pub fn write_mmdb(database_type: &str, entries: &[(IpNet, Value)]) -> Result<Vec<u8>, WriteError> {
    let mut builder = MmdbBuilder::new(database_type);
    for (net, value) in entries {
        builder.insert(*net, value.clone());
    }
    builder.build()
}

#[cfg(test)]
mod tests;
