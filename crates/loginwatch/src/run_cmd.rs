//! `loginwatch run`: the Kafka service. Wires the same pipeline as `replay` (one per assigned
//! partition) into `loginwatch-service`, with hot-reloadable GeoIP databases.

use crate::config::Config;
use crate::wiring::open_locator;
use anyhow::{Context, Result};
use loginwatch_detect::{Engine, Locate, Pipeline, SharedIndex};
use loginwatch_geo::{Locator, Login};
use loginwatch_model::{Alert, AlertKind, LoginEvent, Reject};
use loginwatch_service::readiness::CHECK_GEOIP;
use loginwatch_service::{
    run, shutdown_on_signals, watch_files, FileWatch, Metrics, Processor, ProcessorFactory,
    Reloadable, Telemetry,
};
use prometheus::{IntGauge, Registry};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the GeoIP files are checked for replacement, and misses exported.
const GEOIP_POLL: Duration = Duration::from_secs(10);
/// Engine counters are exported to metrics every this many messages (and when dropped).
const EXPORT_EVERY: u32 = 256;

/// The current locator; a reload swaps it without blocking the data path.
#[derive(Clone)]
pub struct ReloadingLocator(pub Reloadable<Locator>);

impl Locate for ReloadingLocator {
    fn locate(&self, event: LoginEvent) -> Login {
        self.0.with(|l| l.locate(event))
    }
}

/// One partition's pipeline plus the engine counters already exported.
struct PartitionProcessor {
    pipeline: Pipeline<ReloadingLocator>,
    metrics: Metrics,
    exported_suppressed: [u64; AlertKind::ALL.len()],
    since_export: u32,
}

impl PartitionProcessor {
    fn export(&mut self) {
        self.since_export = 0;
        for (i, (kind, n)) in self
            .pipeline
            .engine()
            .stats()
            .suppressed_by_kind
            .into_iter()
            .enumerate()
        {
            let delta = n.saturating_sub(self.exported_suppressed[i]);
            if delta > 0 {
                self.metrics
                    .alerts_suppressed
                    .with_label_values(&[kind.as_str()])
                    .inc_by(delta);
                self.exported_suppressed[i] = n;
            }
        }
    }
}

impl Processor for PartitionProcessor {
    fn process(&mut self, payload: &[u8], out: &mut Vec<Alert>) -> Result<(), Reject> {
        let result = self.pipeline.process(payload, out);
        self.since_export += 1;
        if self.since_export >= EXPORT_EVERY {
            self.export();
        }
        result
    }

    fn tracked_accounts(&self) -> usize {
        self.pipeline.engine().tracked_accounts()
    }

    fn take_deliveries(&mut self, out: &mut Vec<Alert>) {
        self.pipeline.engine_mut().take_deliveries(out);
    }
}

impl Drop for PartitionProcessor {
    fn drop(&mut self) {
        self.export();
        // The partition was revoked: its state goes (the next owner rebuilds it from the
        // events it reads), and so do the laptop-farm findings left for its accounts.
        let engine = self.pipeline.engine();
        let dropped = engine.shared_index().drop_deliveries(engine.owner());
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "shared_ip findings for a revoked partition dropped"
            );
        }
    }
}

/// Builds a fresh pipeline for each assigned partition.
struct Factory {
    config: Config,
    /// One cross-account index for every partition's engine.
    shared: Arc<SharedIndex>,
    locator: Reloadable<Locator>,
    metrics: Metrics,
}

impl ProcessorFactory for Factory {
    fn create(&self, topic: &str, partition: i32) -> Box<dyn Processor> {
        tracing::info!(
            topic,
            partition,
            "building the engine of an assigned partition"
        );
        // The configuration was validated at start-up, so this cannot fail.
        let engine = match Engine::with_shared_index(
            Arc::new(self.config.engine.clone()),
            Arc::clone(&self.shared),
        ) {
            Ok(engine) => engine,
            Err(e) => unreachable!("validated engine configuration rejected: {e}"),
        };
        let mut engine = engine;
        engine.set_owner(partition as loginwatch_detect::Owner);
        Box::new(PartitionProcessor {
            pipeline: Pipeline::new(
                ReloadingLocator(self.locator.clone()),
                engine,
                self.config.input.max_event_bytes,
            ),
            metrics: self.metrics.clone(),
            exported_suppressed: [0; AlertKind::ALL.len()],
            since_export: 0,
        })
    }
}

/// Process-wide numbers no partition owns, exported every [`GEOIP_POLL`].
struct ProcessGauges {
    shared_networks: IntGauge,
    shared_bytes: IntGauge,
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
        registry.register(Box::new(shared_networks.clone()))?;
        registry.register(Box::new(shared_bytes.clone()))?;
        Ok(ProcessGauges {
            shared_networks,
            shared_bytes,
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
    let mut last = 0u64;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(GEOIP_POLL) => {}
        }
        let now = locator.with(Locator::city_misses);
        // A reload starts a new count.
        let delta = if now >= last { now - last } else { now };
        metrics.geoip_misses.inc_by(delta);
        last = now;
        let stats = shared.stats();
        gauges
            .shared_networks
            .set(i64::try_from(stats.networks).unwrap_or(i64::MAX));
        gauges
            .shared_bytes
            .set(i64::try_from(stats.approx_bytes).unwrap_or(i64::MAX));
    }
}

fn geoip_files(config: &Config) -> Vec<std::path::PathBuf> {
    let g = &config.geoip;
    let a = &config.engine.detect.anonymized_ip;
    [&g.city, &g.asn, &g.anonymous]
        .into_iter()
        .flatten()
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
    telemetry.readiness.set(CHECK_GEOIP, false);
    let locator = Reloadable::new(open_locator(&config)?);
    telemetry.readiness.set(CHECK_GEOIP, true);
    let tracker = TaskTracker::new();
    let shared = Arc::new(SharedIndex::for_config(&config.engine));
    let gauges = ProcessGauges::register(&telemetry.registry)?;
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
    let service = config.service.clone();
    let factory = Arc::new(Factory {
        shared,
        metrics: telemetry.metrics.clone(),
        config,
        locator,
    });
    let result = run(service, factory, telemetry, stop.clone()).await;
    stop.cancel();
    tracker.close();
    tracker.wait().await;
    result.map_err(|e| anyhow::anyhow!(crate::wiring::error_chain(&e)))
}
