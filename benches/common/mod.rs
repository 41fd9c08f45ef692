//! Shared setup of the criterion benches: generated lines (the project's own generator, so the
//! shapes are the ones `loginwatch gen` writes), the worlds and locators they resolve in, and
//! the borrowed "bare parse" struct that is the floor of every processor.
//!
//! Included by each bench with `#[path = "common/mod.rs"] mod common;`; not every bench uses
//! every item.
#![allow(dead_code)]

use loginwatch_gen::{generate, GenConfig, PlaceWorld};
use loginwatch_geo::{CityDb, Locator};
use serde::Deserialize;
use std::path::PathBuf;

/// Environment variable naming a DB-IP (or GeoLite2) city `.mmdb`; the real-database groups
/// are skipped with a printed note when it is unset. `DBIP=$(benches/fetch-dbip.sh)`.
pub const DBIP_ENV: &str = "LOGINWATCH_DBIP";

/// The worlds `loginwatch gen` draws from: the embedded demo world, or a real database.
#[allow(unused_imports)] // not every bench uses both
pub use loginwatch_gen::{db_places, demo_places};

/// `events` generated lines (without newlines) over `accounts` accounts, seed 1.
pub fn lines(world: &PlaceWorld, accounts: u64, events: u64) -> Vec<Vec<u8>> {
    let cfg = GenConfig {
        accounts,
        events,
        seed: 1,
        ..GenConfig::default()
    };
    let mut buf = Vec::with_capacity(events as usize * 300);
    generate(&cfg, world, &mut buf).expect("generating into memory cannot fail");
    buf.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// Total bytes of `lines`, for the printed context line.
pub fn total_bytes(lines: &[Vec<u8>]) -> usize {
    lines.iter().map(Vec::len).sum()
}

/// The DB-IP city database named by [`DBIP_ENV`], or a printed note and `None`.
pub fn dbip(group: &str) -> Option<(PathBuf, CityDb)> {
    let Some(path) = std::env::var_os(DBIP_ENV).map(PathBuf::from) else {
        eprintln!("note: {DBIP_ENV} is not set: skipping {group} over DB-IP (DBIP=$(benches/fetch-dbip.sh))");
        return None;
    };
    match CityDb::open(&path) {
        Ok(db) => Some((path, db)),
        Err(e) => {
            eprintln!(
                "note: cannot open {}: {e}: skipping {group}",
                path.display()
            );
            None
        }
    }
}

/// A locator over the city database at `path` only (no ASN / anonymous databases), as
/// `replay --geoip-city` builds it.
pub fn dbip_locator(path: &std::path::Path) -> Locator {
    let db = CityDb::open(path).expect("opened once already");
    Locator::new(Some(db), None, None)
}

/// The floor: every field of a generated line as a borrowed `&str`, nothing validated,
/// nothing allocated (a line with an escaped string fails to parse; generated lines have
/// none). Not `Option<Cow<str>>`: serde's `borrow` attribute does not reach through `Option`,
/// so that shape allocates every string and measured 1.67 M lines/s instead of the floor.
#[derive(Deserialize)]
pub struct BareEvent<'a> {
    pub event_id: Option<&'a str>,
    pub account_id: &'a str,
    pub timestamp: &'a str,
    pub ip: &'a str,
    pub event_type: Option<&'a str>,
    pub outcome: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub device_id: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub accept_language: Option<&'a str>,
    pub claimed_country: Option<&'a str>,
    pub claimed_timezone: Option<&'a str>,
}
