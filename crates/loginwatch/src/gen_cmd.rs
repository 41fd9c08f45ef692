//! `loginwatch gen`: picks the world (embedded demo database or networks sampled from a real
//! city database) and writes the synthetic stream and, on request, its labels.

use crate::cli::{open_output, GenArgs};
use crate::gen::world::{world_from_networks, NetClass, PlaceWorld};
use anyhow::{Context, Result};
use ipnet::IpNet;
use loginwatch_geo::demo_world::{self, NetKind};
use loginwatch_geo::CityDb;
use std::io::Write;
use std::path::Path;

/// Networks sampled from a real database: every `SAMPLE_EVERY`-th, at most `SAMPLE_MAX`.
const SAMPLE_EVERY: usize = 4;
const SAMPLE_MAX: usize = 1_000_000;

type Row = (IpNet, f64, f64, String, String, NetClass);

/// The embedded demo world's networks (IPv4 and IPv6 blocks) as generator places.
pub fn demo_places() -> PlaceWorld {
    let cities = demo_world::cities();
    let rows: Vec<Row> = demo_world::networks()
        .iter()
        .flat_map(|n| [(n, IpNet::V4(n.v4)), (n, IpNet::V6(n.v6))])
        .filter_map(|(n, net)| {
            let class = match n.kind {
                NetKind::Residential => NetClass::Residential,
                NetKind::Mobile => NetClass::Mobile,
                NetKind::Hosting | NetKind::Vpn => NetClass::Hosting,
                NetKind::Satellite => return None,
            };
            let c = cities.get(n.city)?;
            Some((
                net,
                c.lat,
                c.lon,
                c.country.to_owned(),
                c.name.to_owned(),
                class,
            ))
        })
        .collect();
    world_from_networks(&rows)
}

/// Places sampled from a real city database (all residential: the database has no classes).
pub fn db_places(db: &CityDb) -> PlaceWorld {
    let rows: Vec<Row> = db
        .sample_networks(SAMPLE_EVERY, SAMPLE_MAX)
        .into_iter()
        .filter_map(|(net, loc)| {
            let country = loc.country?.to_string();
            let city = loc.city.as_deref().unwrap_or("").to_owned();
            Some((net, loc.lat, loc.lon, country, city, NetClass::Residential))
        })
        .collect();
    world_from_networks(&rows)
}

/// The embedded demo world, or places sampled from the city database at `db`.
pub fn world_for(db: Option<&Path>) -> Result<PlaceWorld> {
    match db {
        None => Ok(demo_places()),
        Some(path) => {
            let db = CityDb::open(path)
                .with_context(|| format!("cannot open city database {}", path.display()))?;
            Ok(db_places(&db))
        }
    }
}

/// Runs `gen` with parsed flags.
pub fn run(args: GenArgs) -> Result<()> {
    let world = world_for(args.geoip_city.as_deref())?;
    let cfg = crate::gen::GenConfig {
        accounts: args.accounts,
        events: args.events,
        seed: args.seed,
        anomaly_rate: args.anomaly_rate,
        carriers: args.carriers,
        venues: args.venues,
        ..crate::gen::GenConfig::default()
    };
    let mut out = open_output(args.output.as_deref())?;
    let labels = crate::gen::generate(&cfg, &world, &mut out).context("writing events")?;
    out.flush()?;
    if let Some(path) = &args.labels {
        let mut f = open_output(Some(path))?;
        labels.write_jsonl(&mut f)?;
        f.flush()?;
    }
    Ok(())
}
