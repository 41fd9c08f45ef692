//! `loginwatch run`: the Kafka service. Wires the same pipeline as `replay` (one per assigned
//! partition, reading the input format itself) into `loginwatch-service`, with
//! hot-reloadable GeoIP databases. A partition's processor is in `run_cmd/processor.rs`, its
//! state records in `run_cmd/state.rs`.

use crate::config::Config;
use crate::wiring::open_locator;
use anyhow::{Context, Result};
use loginwatch_detect::{DropReason, Engine, NetworkStage, Owner, Pipeline, SharedIndex};
use loginwatch_geo::{LocateCounts, Locator};
use loginwatch_model::Skip;
use loginwatch_replay::SharedLocator;
use loginwatch_service::readiness::CHECK_GEOIP;
use loginwatch_service::{
    run, shutdown_on_signals, watch_files, FileWatch, Metrics, Processor, ProcessorFactory,
    Reloadable, Telemetry,
};
use processor::{NetworkSide, PartitionProcessor};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the GeoIP files are checked for replacement, and misses exported.
const GEOIP_POLL: Duration = Duration::from_secs(10);
/// Builds a fresh pipeline for each assigned partition.
struct Factory {
    config: Config,
    /// One cross-account index for every partition's engine.
    shared: Arc<SharedIndex>,
    locator: Reloadable<Locator>,
    metrics: Metrics,
    /// `loginwatch_events_skipped_total{reason}`, registered by [`register_skipped`].
    skipped: IntCounterVec,
    /// A state topic is configured: engines track their changed accounts.
    stateful: bool,
    /// A network topic is configured: shared_ip runs in each partition's network stage.
    network: bool,
}

impl ProcessorFactory for Factory {
    fn create(&self, topic: &str, partition: i32, partitions: u32) -> Box<dyn Processor> {
        tracing::info!(
            topic,
            partition,
            "building the engine of an assigned partition"
        );
        let config = Arc::new(self.config.engine.clone());
        // The configuration was validated at start-up, so this cannot fail.
        let built = if self.network {
            Engine::with_network_stage(config.clone())
        } else {
            Engine::with_shared_index(config.clone(), Arc::clone(&self.shared))
        };
        let mut engine = match built {
            Ok(engine) => engine,
            Err(e) => unreachable!("validated engine configuration rejected: {e}"),
        };
        let owner = partition as Owner;
        engine.set_owner(owner);
        let network = self.network.then(|| {
            let mut stage = match NetworkStage::new(config) {
                Ok(stage) => stage,
                Err(e) => unreachable!("validated engine configuration rejected: {e}"),
            };
            // The deployment's stages together hold what one index would.
            let share = partitions.max(1) as usize;
            let sip = &self.config.engine.detect.shared_ip;
            stage.set_limits(
                sip.max_networks.div_ceil(share),
                sip.max_members.div_ceil(share),
            );
            stage.track_changes();
            NetworkSide {
                stage,
                owner,
                partitions,
                visits: Vec::new(),
                mail: Vec::new(),
                encoded: Vec::new(),
            }
        });
        if self.stateful {
            // Drained at every flush; without a state topic nothing would drain it.
            engine.track_changes();
        }
        let exported = engine.stats();
        let max = self.config.input.max_event_bytes;
        let mut pipeline = Pipeline::new(SharedLocator::new(self.locator.get()), engine, max);
        pipeline.set_format(self.config.input.format);
        Box::new(PartitionProcessor {
            skipped: self.skipped.clone(),
            skipped_counted: pipeline.skipped(),
            pipeline,
            locator: self.locator.clone(),
            metrics: self.metrics.clone(),
            exported,
            partition: partition.to_string(),
            since_export: 0,
            decoder: None,
            network,
        })
    }
}

/// Shows the engine's drop reasons as 0 before the first drop.
fn preregister(metrics: &Metrics) {
    for reason in DropReason::ALL {
        metrics.events_dropped.with_label_values(&[reason.as_str()]);
    }
}

/// `loginwatch_events_skipped_total{reason}`: records of a vendor input format that are not
/// login events (the service's own metrics count consumed, rejected and dropped events).
fn register_skipped(registry: &Registry) -> Result<IntCounterVec> {
    let skipped = IntCounterVec::new(
        Opts::new(
            "loginwatch_events_skipped_total",
            "Input records of a vendor format that are not login events, by reason",
        ),
        &["reason"],
    )?;
    registry.register(Box::new(skipped.clone()))?;
    for code in Skip::CODES {
        skipped.with_label_values(&[code]);
    }
    Ok(skipped)
}

/// Process-wide numbers no partition owns, exported every [`GEOIP_POLL`].
struct ProcessGauges {
    shared_networks: IntGauge,
    shared_bytes: IntGauge,
    deliveries: IntGauge,
}

impl ProcessGauges {
    fn register(registry: &Registry) -> Result<Self> {
        let shared_networks = IntGauge::new(
            "loginwatch_shared_ip_networks",
            "Networks tracked by the process-wide shared_ip index",
        )?;
        let shared_bytes = IntGauge::new(
            "loginwatch_shared_ip_state_bytes",
            "Estimated bytes held by the shared_ip index",
        )?;
        let deliveries = IntGauge::new(
            "loginwatch_shared_ip_deliveries_pending",
            "shared_ip findings waiting for the partition that owns their account",
        )?;
        registry.register(Box::new(shared_networks.clone()))?;
        registry.register(Box::new(shared_bytes.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        Ok(ProcessGauges {
            shared_networks,
            shared_bytes,
            deliveries,
        })
    }
}

/// Exports the locator's cumulative miss count and the shared index's size until `stop`.
async fn export_process_metrics(
    locator: Reloadable<Locator>,
    shared: Arc<SharedIndex>,
    metrics: Metrics,
    gauges: ProcessGauges,
    stop: CancellationToken,
) {
    let mut last = LocateCounts::default();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(GEOIP_POLL) => {}
        }
        let now = locator.with(Locator::counts);
        // A reload starts new counts.
        let delta = |now: u64, last: u64| if now >= last { now - last } else { now };
        let unlocated = &metrics.unlocated_logins;
        metrics
            .geoip_misses
            .inc_by(delta(now.not_found, last.not_found));
        for (cause, n, was) in [
            ("not_found", now.not_found, last.not_found),
            ("no_database_for_family", now.no_database, last.no_database),
            ("unroutable", now.unroutable, last.unroutable),
        ] {
            unlocated.with_label_values(&[cause]).inc_by(delta(n, was));
        }
        metrics.hinted_logins.inc_by(delta(now.hinted, last.hinted));
        last = now;
        let stats = shared.stats();
        gauges
            .shared_networks
            .set(i64::try_from(stats.networks).unwrap_or(i64::MAX));
        gauges
            .shared_bytes
            .set(i64::try_from(stats.approx_bytes).unwrap_or(i64::MAX));
        let pending = shared.pending_deliveries();
        gauges
            .deliveries
            .set(i64::try_from(pending).unwrap_or(i64::MAX));
    }
}

fn geoip_files(config: &Config) -> Vec<std::path::PathBuf> {
    let g = &config.geoip;
    let a = &config.engine.detect.anonymized_ip;
    let others = [&g.asn, &g.anonymous].into_iter().flatten();
    g.city
        .iter()
        .chain(others)
        .cloned()
        .chain(a.cidr_lists.iter().cloned())
        .chain(a.asn_lists.iter().cloned())
        .collect()
}

/// Runs the service until SIGINT or SIGTERM.
pub fn run_service(config: Config) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let stop = CancellationToken::new();
    runtime.spawn(shutdown_on_signals(stop.clone()));
    runtime.block_on(serve(config, stop))
}

/// Runs the service until `stop` is cancelled: consumes, detects, publishes, serves metrics.
pub async fn serve(config: Config, stop: CancellationToken) -> Result<()> {
    // Fail before connecting when the engine configuration is unusable; afterwards every
    // partition's engine is built from the same configuration and cannot fail.
    Engine::new(Arc::new(config.engine.clone())).context("engine configuration")?;
    let telemetry = Telemetry::new().context("cannot register metrics")?;
    preregister(&telemetry.metrics);
    telemetry.readiness.set(CHECK_GEOIP, false);
    let locator = Reloadable::new(open_locator(&config)?);
    telemetry.readiness.set(CHECK_GEOIP, true);
    let tracker = TaskTracker::new();
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let gauges = ProcessGauges::register(&telemetry.registry)?;
    let skipped = register_skipped(&telemetry.registry)?;
    tracker.spawn(export_process_metrics(
        locator.clone(),
        Arc::clone(&shared),
        telemetry.metrics.clone(),
        gauges,
        stop.clone(),
    ));
    let paths = geoip_files(&config);
    if !paths.is_empty() {
        let watch = FileWatch {
            resource: "geoip",
            paths,
            interval: GEOIP_POLL,
        };
        let reload_config = config.clone();
        let loader = move || open_locator(&reload_config).map_err(|e| format!("{e:#}"));
        tracker.spawn(watch_files(
            watch,
            locator.clone(),
            loader,
            telemetry.metrics.clone(),
            stop.clone(),
        ));
    }
    let mut service = config.service.clone();
    service.alert_format = config.output.format;
    let k = &config.service.kafka;
    let factory = Arc::new(Factory {
        stateful: !k.state_topic.is_empty(),
        network: !k.state_topic.is_empty() && !k.network_topic.is_empty(),
        shared,
        metrics: telemetry.metrics.clone(),
        skipped,
        config,
        locator,
    });
    let result = run(service, factory, telemetry, stop.clone()).await;
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    result.map_err(|e| anyhow::anyhow!(crate::wiring::error_chain(&e)))
}

mod processor;
mod state;
#[cfg(test)]
mod tests;
