//! Network lookups: the autonomous system of an address (GeoLite2-ASN layout) and its
//! anonymizer classes (GeoIP2-Anonymous-IP layout).

use crate::db::{check_keys, Db, DbBytes, DbError, Num, OffsetCache};
use crate::types::AnonFlags;
use maxminddb::LookupResult;
use serde::Deserialize;
use std::net::IpAddr;
use std::sync::Arc;

/// The autonomous system announcing an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AsnInfo {
    pub asn: u32,
    /// The organization's name; shared, not copied per lookup.
    pub org: Option<Arc<str>>,
}

/// An open ASN database (`autonomous_system_number`, `autonomous_system_organization`).
pub struct AsnDb {
    db: Db,
    cache: OffsetCache<Option<AsnInfo>>,
}

/// An open anonymizer database (`is_anonymous_vpn`, `is_hosting_provider`,
/// `is_tor_exit_node`, `is_public_proxy`, `is_residential_proxy`).
pub struct AnonDb {
    db: Db,
}

impl std::fmt::Debug for AsnDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsnDb")
            .field("database_type", &self.database_type())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AnonDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnonDb")
            .field("database_type", &self.database_type())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    autonomous_system_number: Option<Num>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
}

#[derive(Deserialize)]
struct AnonRecord {
    #[serde(default)]
    is_anonymous_vpn: bool,
    #[serde(default)]
    is_hosting_provider: bool,
    #[serde(default)]
    is_tor_exit_node: bool,
    #[serde(default)]
    is_public_proxy: bool,
    #[serde(default)]
    is_residential_proxy: bool,
}

/// Distinct ASN records kept decoded (GeoLite2-ASN has about half a million).
const CACHE_CAPACITY: usize = 1 << 16;

impl AsnDb {
    fn from_db(db: Db) -> Result<Self, DbError> {
        check_keys(&db.reader, &["autonomous_system_number"], "GeoLite2-ASN")?;
        Ok(AsnDb {
            db,
            cache: OffsetCache::new(CACHE_CAPACITY),
        })
    }

    /// The `database_type` from the file's metadata.
    pub fn database_type(&self) -> &str {
        &self.db.reader.metadata().database_type
    }

    /// The AS announcing `ip`, or `None` when the database does not know it.
    pub fn lookup(&self, ip: IpAddr) -> Option<AsnInfo> {
        let result = self.db.reader.lookup(ip.to_canonical()).ok()?;
        let offset = result.offset()?;
        self.cache
            .get_or_insert_with(offset, || Self::decode(&result))
    }

    /// The open database (its walks are decoded with [`AsnDb::decode`]).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The AS of a walk's record; `None` without one or without a valid number.
    pub(crate) fn decode(result: &LookupResult<'_, DbBytes>) -> Option<AsnInfo> {
        let r: AsnRecord = result.decode().ok()??;
        let asn = r.autonomous_system_number?.0;
        let asn = (asn.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&asn))
            .then_some(asn as u32)?;
        let org = r.autonomous_system_organization.filter(|o| !o.is_empty());
        Some(AsnInfo {
            asn,
            org: org.map(Arc::from),
        })
    }
}

impl AnonDb {
    fn from_db(db: Db) -> Result<Self, DbError> {
        let keys = [
            "is_anonymous",
            "is_anonymous_vpn",
            "is_hosting_provider",
            "is_tor_exit_node",
            "is_public_proxy",
            "is_residential_proxy",
        ];
        check_keys(&db.reader, &keys, "GeoIP2-Anonymous-IP")?;
        Ok(AnonDb { db })
    }

    /// The `database_type` from the file's metadata.
    pub fn database_type(&self) -> &str {
        &self.db.reader.metadata().database_type
    }

    /// The anonymizer classes of `ip`; `None` when the database has no record for it (the
    /// database lists only anonymizers, so that means "none known").
    pub fn lookup(&self, ip: IpAddr) -> Option<AnonFlags> {
        Self::decode(&self.db.reader.lookup(ip.to_canonical()).ok()?)
    }

    /// The open database (its walks are decoded with [`AnonDb::decode`]).
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// The classes of a walk's record; `None` without one.
    pub(crate) fn decode(result: &LookupResult<'_, DbBytes>) -> Option<AnonFlags> {
        let r: AnonRecord = result.decode().ok()??;
        Some(AnonFlags {
            vpn: r.is_anonymous_vpn,
            hosting: r.is_hosting_provider,
            tor: r.is_tor_exit_node,
            proxy: r.is_public_proxy,
            residential_proxy: r.is_residential_proxy,
        })
    }
}

crate::db::constructors!(AsnDb);
crate::db::constructors!(AnonDb);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdb;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn asn_lookups() {
        let db = AsnDb::from_bytes(testdb::asn_db()).unwrap();
        let kt = db.lookup(ip("175.200.1.1")).unwrap();
        assert_eq!(kt.asn, 4766);
        assert_eq!(kt.org.as_deref(), Some("Korea Telecom"));
        assert_eq!(db.lookup(ip("2001:2d8:1::1")).unwrap().asn, 4766);
        assert_eq!(db.lookup(ip("::ffff:185.220.101.5")).unwrap().asn, 9009);
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
    }

    #[test]
    fn anonymizer_lookups() {
        let db = AnonDb::from_bytes(testdb::anon_db()).unwrap();
        let tor = db.lookup(ip("185.220.100.7")).unwrap();
        assert!(tor.tor && !tor.vpn && !tor.hosting);
        let vpn = db.lookup(ip("185.220.101.7")).unwrap();
        assert!(vpn.vpn && vpn.hosting && !vpn.tor);
        let proxy = db.lookup(ip("2a0b:f4c0::9")).unwrap();
        assert!(proxy.proxy && proxy.residential_proxy);
        assert_eq!(db.lookup(ip("8.8.8.8")), None);
    }

    #[test]
    fn wrong_layouts_are_rejected() {
        assert!(matches!(
            AsnDb::from_bytes(testdb::anon_db()),
            Err(DbError::Layout { .. })
        ));
        assert!(matches!(
            AnonDb::from_bytes(testdb::asn_db()),
            Err(DbError::Layout { .. })
        ));
    }
}
