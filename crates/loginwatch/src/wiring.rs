//! Glue: builds the locator and the pipeline from a validated [`Config`], and drives `replay`.

use crate::config::{Config, Problem};
use crate::normalize::Translator;
use crate::replay::{self, Summary};
use anyhow::{Context, Result};
use loginwatch_detect::{Engine, Locate, Owner, Pipeline, SharedIndex};
use loginwatch_geo::lists::{AsnSet, CidrSet};
use loginwatch_geo::{demo_world, IpCache, Locator, Login};
use loginwatch_model::LoginEvent;
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// IPv4 networks in each worker's [`IpCache`]: 2 MiB of network entries, 1.5 MiB for a
/// quarter as many IPv6 ones, up to 64 Ki distinct answers (about 7 MiB at most). On the
/// 1M-account DB-IP stream this holds 92 % of lookups against 78 % at 64 Ki.
pub const IP_CACHE_SLOTS: usize = 1 << 18;

/// The geo locator behind an `Arc`, shared by every worker of a process, with this worker's
/// own address cache in front of it.
#[derive(Debug)]
pub struct SharedLocator {
    locator: Arc<Locator>,
    cache: IpCache,
}

impl SharedLocator {
    /// `locator` with an empty cache.
    pub fn new(locator: Arc<Locator>) -> SharedLocator {
        SharedLocator {
            locator,
            cache: IpCache::new(IP_CACHE_SLOTS),
        }
    }

    /// The shared locator.
    pub fn locator(&self) -> &Arc<Locator> {
        &self.locator
    }

    /// Locates with `current` from now on, if it is not the locator in use (the databases
    /// were reloaded): the cache, which holds the old databases' answers, starts empty.
    pub fn follow(&mut self, current: &Arc<Locator>) {
        if !Arc::ptr_eq(&self.locator, current) {
            self.locator = Arc::clone(current);
            self.cache.clear();
        }
    }
}

impl Locate for SharedLocator {
    fn locate(&self, event: LoginEvent) -> Login {
        self.locator.locate(event)
    }

    fn locate_mut(&mut self, event: LoginEvent) -> Login {
        self.locator.locate_cached(event, &mut self.cache)
    }

    fn prefetch(&self, event: &LoginEvent, stage: usize) {
        self.cache.prefetch(event.ip.to_canonical(), stage);
    }

    fn prefetch_group(&mut self, events: &[LoginEvent]) {
        self.locator.warm_misses(events, &mut self.cache);
    }
}

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
    replay_with_state(config, input, alerts, dead, &StateFiles::default())
}

/// Where a replay's detection state comes from (`--state-in`) and goes (`--state-out`).
#[derive(Clone, Debug, Default)]
pub struct StateFiles {
    pub input: Option<PathBuf>,
    pub output: Option<PathBuf>,
}

/// [`replay`], starting from saved state and saving the state at the end of the input, as
/// `files` says.
pub fn replay_with_state(
    config: &Config,
    input: &mut dyn BufRead,
    alerts: &mut (dyn Write + Send),
    dead: &mut (dyn Write + Send),
    files: &StateFiles,
) -> Result<Summary> {
    let locator = Arc::new(open_locator(config)?);
    let (max, format) = (config.input.max_event_bytes, config.output.format);
    let workers = match config.replay.workers {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let mut pipelines = (0..workers)
        .map(|i| {
            let mut p = pipeline(config, Arc::clone(&locator), Arc::clone(&shared))?;
            p.engine_mut().set_owner(i as Owner);
            Ok(p)
        })
        .collect::<Result<Vec<_>>>()?;
    let restored = match &files.input {
        Some(path) => Some(crate::state_file::restore(path, &mut pipelines)?),
        None => None,
    };
    let mut translator = Translator::new(config.input.format, max);
    let (mut summary, pipelines) = if let [one] = pipelines.as_mut_slice() {
        let summary = replay::replay(one, input, alerts, dead, &mut translator, format)?;
        (summary, pipelines)
    } else {
        crate::sharded::replay_sharded(pipelines, input, alerts, dead, &mut translator, format)?
    };
    summary.state_restored = restored;
    summary.located = locator.counts();
    if let Some(path) = &files.output {
        summary.state_saved = Some(crate::state_file::save(path, &pipelines)?);
    }
    Ok(summary)
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

#[cfg(test)]
mod tests {
    use super::*;
    use loginwatch_detect::Locate;

    #[test]
    fn a_reloaded_locator_is_followed_with_an_empty_cache() {
        let seoul = demo_world::city_ip(demo_world::find_city("Seoul").expect("a demo city"), 3);
        let line = format!(r#"{{"account_id":"a","ip":"{seoul}","timestamp":0}}"#);
        let event = || loginwatch_model::decode(line.as_bytes(), 4096).expect("an event");
        let mut worker = SharedLocator::new(Arc::new(demo_world::locator()));
        assert!(worker.locate_mut(event()).location.is_some());
        // Databases without that address replace the demo world.
        let reloaded = Arc::new(Locator::new(None, None, None));
        worker.follow(&reloaded);
        assert!(
            worker.locate_mut(event()).location.is_none(),
            "no stale answer"
        );
        worker.follow(&Arc::clone(&reloaded));
        assert!(Arc::ptr_eq(worker.locator(), &reloaded));
    }
}
