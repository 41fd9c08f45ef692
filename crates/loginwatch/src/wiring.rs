//! Glue: builds the locator and the pipelines from a validated [`Config`], and hands them to
//! the file driver (`loginwatch-replay`) for `replay`.

use crate::config::{Config, Problem};
use anyhow::{Context, Result};
use loginwatch_detect::{Engine, Owner, Pipeline, SharedIndex};
use loginwatch_geo::lists::{AsnSet, CidrSet};
use loginwatch_geo::{demo_world, Locator};
use loginwatch_replay::{ReplayOptions, Replayed, SharedLocator, StateFiles, Summary};
use std::io::{BufRead, Write};
use std::sync::Arc;

/// The configured databases, or the embedded demo world when no city database is configured.
pub fn open_locator(config: &Config) -> Result<Locator> {
    let anon = &config.engine.detect.anonymized_ip;
    let geo = &config.geoip;
    if geo.city.is_empty() && geo.asn.is_none() && geo.anonymous.is_none() {
        tracing::info!("no [geoip] databases configured: using the embedded demo world");
        let cidrs =
            CidrSet::from_files(&anon.cidr_lists).map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
        let asns =
            AsnSet::from_files(&anon.asn_lists).map_err(|e| anyhow::anyhow!(error_chain(&e)))?;
        return Ok(demo_world::locator()
            .with_anon_cidrs(cidrs)
            .with_anon_asns(asns));
    }
    Locator::open(geo, &anon.cidr_lists, &anon.asn_lists)
        .map_err(|e| anyhow::anyhow!(error_chain(&e)))
}

/// `err` and all its sources on one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A pipeline over `locator` with a fresh engine configured by `config`, using `shared` for
/// the cross-account detector: every pipeline of a process gets the same index.
pub fn pipeline(
    config: &Config,
    locator: Arc<Locator>,
    shared: Arc<SharedIndex>,
) -> Result<Pipeline<SharedLocator>> {
    let engine = Engine::with_shared_index(Arc::new(config.engine.clone()), shared)
        .context("engine configuration")?;
    Ok(Pipeline::new(
        SharedLocator::new(locator),
        engine,
        config.input.max_event_bytes,
    ))
}

/// Runs a whole replay with the configured databases, on `replay.workers` threads, writing
/// alerts in the `[output] format`.
pub fn replay(
    config: &Config,
    input: &mut dyn BufRead,
    alerts: &mut (dyn Write + Send),
    dead: &mut (dyn Write + Send),
) -> Result<Summary> {
    let replayed = replay_with_state(config, input, alerts, dead, &StateFiles::default())?;
    Ok(replayed.summary)
}

/// [`replay`], starting from saved state and saving the state at the end of the input, as
/// `files` says.
pub fn replay_with_state(
    config: &Config,
    input: &mut dyn BufRead,
    alerts: &mut (dyn Write + Send),
    dead: &mut (dyn Write + Send),
    files: &StateFiles,
) -> Result<Replayed> {
    let locator = Arc::new(open_locator(config)?);
    let workers = match config.replay.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let pipelines = (0..workers)
        .map(|i| {
            let mut p = pipeline(config, Arc::clone(&locator), Arc::clone(&shared))?;
            p.engine_mut().set_owner(i as Owner);
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    let options = ReplayOptions {
        input_format: config.input.format,
        max_event_bytes: config.input.max_event_bytes,
        output_format: config.output.format,
        state: files.clone(),
    };
    Ok(loginwatch_replay::replay(
        pipelines, input, alerts, dead, &options,
    )?)
}

/// `check-config`'s second pass: the files the configuration names must open.
pub fn check_files(config: &Config) -> Vec<Problem> {
    let anon = &config.engine.detect.anonymized_ip;
    match Locator::open(&config.geoip, &anon.cidr_lists, &anon.asn_lists) {
        Ok(_) => Vec::new(),
        Err(e) => vec![Problem {
            key: geo_error_key(&e).to_owned(),
            message: error_chain(&e),
        }],
    }
}

fn geo_error_key(e: &loginwatch_geo::GeoError) -> &'static str {
    use loginwatch_geo::GeoError::*;
    match e {
        City { .. } => "geoip.city",
        Asn { .. } => "geoip.asn",
        Anonymous { .. } => "geoip.anonymous",
        CidrList(_) => "detect.anonymized_ip.cidr_lists",
        AsnList(_) => "detect.anonymized_ip.asn_lists",
    }
}
