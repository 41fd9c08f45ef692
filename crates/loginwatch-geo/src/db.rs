//! What the `.mmdb` readers share: where the bytes live (memory map, static, owned), opening
//! errors, a lenient number type, and a bounded cache keyed by a record's data-section offset.

use crate::tree::Tree;
use maxminddb::{LookupResult, MaxMindDbError, Reader};
use memmap2::Mmap;
use serde::de::{self, Deserializer, IgnoredAny, Visitor};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::net::IpAddr;
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};

/// The bytes of an open database; a clone shares them (the reader and the [`Tree`] both
/// hold them).
#[derive(Clone)]
pub(crate) enum DbBytes {
    Mapped(Arc<Mmap>),
    Static(&'static [u8]),
    Owned(Arc<Vec<u8>>),
}

impl AsRef<[u8]> for DbBytes {
    fn as_ref(&self) -> &[u8] {
        match self {
            DbBytes::Mapped(m) => m,
            DbBytes::Static(s) => s,
            DbBytes::Owned(v) => v,
        }
    }
}

/// Why a `.mmdb` file could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("cannot open the file")]
    Open(#[source] std::io::Error),
    #[error("cannot memory-map the file")]
    Map(#[source] std::io::Error),
    #[error("not a valid MaxMind DB file")]
    Invalid(#[from] MaxMindDbError),
    #[error(
        "database type {database_type:?}: records have none of the fields of a {expected} database"
    )]
    Layout {
        database_type: String,
        expected: &'static str,
    },
}

/// An open database: its reader and a view of its search tree (to warm lookups).
pub(crate) struct Db {
    pub reader: Reader<DbBytes>,
    pub tree: Tree,
}

impl Db {
    /// Validates the MMDB header and metadata of `bytes`.
    pub(crate) fn new(bytes: DbBytes) -> Result<Db, DbError> {
        let reader = Reader::from_source(bytes.clone())?;
        let tree = Tree::new(&reader, bytes);
        Ok(Db { reader, tree })
    }

    /// The tree walk for `ip` (canonical form), to decode or not.
    pub(crate) fn walk(&self, ip: IpAddr) -> Option<LookupResult<'_, DbBytes>> {
        self.reader.lookup(ip).ok()
    }
}

/// Memory-maps `path` and validates the MMDB header and metadata.
pub(crate) fn open_mapped(path: &Path) -> Result<Db, DbError> {
    let file = File::open(path).map_err(DbError::Open)?;
    // SAFETY: the map is read-only and must not be truncated while in use. Database updaters
    // (geoipupdate and the like) write a new file and rename it over the old one, which leaves
    // the mapped inode intact; reloading means opening the new file.
    let map = unsafe { Mmap::map(&file) }.map_err(DbError::Map)?;
    Db::new(DbBytes::Mapped(Arc::new(map)))
}

/// Checks that the first records (up to 256) of a database carry at least one of `keys`;
/// a database without records passes. Catches a city file configured as an ASN file.
pub(crate) fn check_keys(
    reader: &Reader<DbBytes>,
    keys: &[&str],
    expected: &'static str,
) -> Result<(), DbError> {
    let mut saw_record = false;
    for item in reader.networks(Default::default())?.take(256) {
        let Ok(Some(map)) = item?.decode::<BTreeMap<&str, IgnoredAny>>() else {
            continue;
        };
        saw_record = true;
        if keys.iter().any(|k| map.contains_key(k)) {
            return Ok(());
        }
    }
    if saw_record {
        return Err(DbError::Layout {
            database_type: reader.metadata().database_type.clone(),
            expected,
        });
    }
    Ok(())
}

/// How many low bits of `ip` (canonical form) the network matched by `walk` leaves free:
/// every address that shares the others walks to the same record (or to none). 0, the
/// address alone, when the walk failed or matched a network of the other IP version.
pub(crate) fn host_bits(ip: IpAddr, walk: Option<&LookupResult<'_, DbBytes>>) -> u32 {
    let Some(net) = walk.and_then(|r| r.network().ok()) else {
        return 0;
    };
    match (ip.is_ipv4(), net.is_ipv4()) {
        (true, true) => 32u32.saturating_sub(net.prefix().into()),
        (false, false) => 128u32.saturating_sub(net.prefix().into()),
        _ => 0,
    }
}

/// A number stored as any MMDB numeric type, or as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Num(pub f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u128<E>(self, v: u128) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                v.trim().parse().map(Num).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

const SHARDS: usize = 16;

/// A cache of decoded records keyed by data-section offset, so that the many networks that
/// share a record decode it (and allocate its strings) once. Bounded: a shard that reaches its
/// capacity is cleared and refills with what is used.
pub(crate) struct OffsetCache<T> {
    shards: [RwLock<HashMap<usize, T>>; SHARDS],
    cap_per_shard: usize,
}

impl<T: Clone> OffsetCache<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        OffsetCache {
            shards: std::array::from_fn(|_| RwLock::new(HashMap::new())),
            cap_per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    /// The cached value for `key`, or `make()` stored for next time.
    pub(crate) fn get_or_insert_with(&self, key: usize, make: impl FnOnce() -> T) -> T {
        // Offsets of neighbouring records differ in their low bits; mix them into the shard.
        let shard = &self.shards[(key ^ (key >> 7)) % SHARDS];
        if let Some(v) = shard
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            return v.clone();
        }
        let value = make();
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.cap_per_shard {
            map.clear();
        }
        map.insert(key, value.clone());
        value
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// The three ways to open a database type that has `fn from_db(Db)`:
/// memory-mapped from a path, from owned bytes, from static bytes.
macro_rules! constructors {
    ($t:ty) => {
        impl $t {
            /// Memory-maps the database at `path`.
            pub fn open(path: impl AsRef<std::path::Path>) -> Result<Self, $crate::db::DbError> {
                Self::from_db($crate::db::open_mapped(path.as_ref())?)
            }

            /// A database held in memory (e.g. written by [`crate::writer`]).
            pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, $crate::db::DbError> {
                Self::from_db($crate::db::Db::new($crate::db::DbBytes::Owned(
                    std::sync::Arc::new(bytes),
                ))?)
            }

            /// A database embedded in the binary or built once for the process.
            pub fn from_static(bytes: &'static [u8]) -> Result<Self, $crate::db::DbError> {
                Self::from_db($crate::db::Db::new($crate::db::DbBytes::Static(bytes))?)
            }
        }
    };
}
pub(crate) use constructors;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_is_bounded_and_returns_what_was_made() {
        let cache = OffsetCache::new(32);
        for k in 0..1000usize {
            assert_eq!(cache.get_or_insert_with(k, || k * 2), k * 2);
        }
        assert!(cache.len() <= 32);
        assert_eq!(cache.get_or_insert_with(999, || 0), 1998);
    }

    #[test]
    fn opening_a_missing_or_bad_file_fails_cleanly() {
        let Err(err) = open_mapped(Path::new("/nonexistent/x.mmdb")) else {
            panic!("opened a missing file")
        };
        assert!(matches!(err, DbError::Open(_)));
        let dir = std::env::temp_dir().join(format!("lw-geo-bad-{}", std::process::id()));
        std::fs::write(&dir, b"not an mmdb").unwrap();
        let Err(err) = open_mapped(&dir) else {
            panic!("opened a bad file")
        };
        std::fs::remove_file(&dir).ok();
        assert!(matches!(err, DbError::Invalid(_)));
    }
}
