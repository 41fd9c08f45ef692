//! `loginwatch gen`: picks the world (embedded demo database or networks sampled from a real
//! city database) and writes the synthetic stream and, on request, its labels.

use crate::cli::{open_output, GenArgs};
use anyhow::{Context, Result};
use loginwatch_gen::{db_places, demo_places, GenConfig, PlaceWorld};
use loginwatch_geo::CityDb;
use std::io::Write;
use std::path::Path;

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
    let cfg = GenConfig {
        accounts: args.accounts,
        events: args.events,
        seed: args.seed,
        anomaly_rate: args.anomaly_rate,
        carriers: args.carriers,
        venues: args.venues,
        ..GenConfig::default()
    };
    let mut out = open_output(args.output.as_deref())?;
    let labels = loginwatch_gen::generate(&cfg, &world, &mut out).context("writing events")?;
    out.flush()?;
    if let Some(path) = &args.labels {
        let mut f = open_output(Some(path))?;
        labels.write_jsonl(&mut f)?;
        f.flush()?;
    }
    Ok(())
}
