//! `loginwatch run`: the Kafka service. Wires the same pipeline as `replay` (one per assigned
//! partition, behind the same input-format translator) into `loginwatch-service`, with
//! hot-reloadable GeoIP databases.

use crate::config::Config;
use crate::wiring::open_locator;
use anyhow::{Context, Result};
use loginwatch_detect::snapshot::RecordDecoder;
use loginwatch_detect::{
    DropReason, Engine, EngineStats, GroupHooks, Mail, NetworkStage, NetworkVisit, Owner, Pipeline,
    SharedIndex, StageMessage,
};
use loginwatch_geo::{LocateCounts, Locator};
use loginwatch_model::{Alert, Reject, Skip};
use loginwatch_replay::{Lines, SharedLocator, Translated, Translator};
use loginwatch_service::readiness::CHECK_GEOIP;
use loginwatch_service::{
    run, shutdown_on_signals, watch_files, FileWatch, Metrics, NetworkSink, PartitionState,
    Processor, ProcessorFactory, Reloadable, Telemetry,
};
use prometheus::{IntCounterVec, IntGauge, Opts, Registry};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How often the GeoIP files are checked for replacement, and misses exported.
const GEOIP_POLL: Duration = Duration::from_secs(10);
/// Engine counters are exported to metrics every this many messages (and when dropped).
const EXPORT_EVERY: u32 = 256;

/// One partition's pipeline, behind the input format's translator, plus the engine counters
/// already exported.
struct PartitionProcessor {
    translator: Translator,
    /// The current databases; a reload swaps them without blocking the data path, and the
    /// pipeline's locator follows before its next group.
    locator: Reloadable<Locator>,
    pipeline: Pipeline<SharedLocator>,
    /// A group's translated lines, and the message index of each.
    lines: Lines,
    message_of: Vec<usize>,
    results: Vec<Result<usize, Reject>>,
    /// `loginwatch_events_skipped_total{reason}`: vendor records that are not logins.
    skipped: IntCounterVec,
    metrics: Metrics,
    /// The engine's counters at the last export.
    exported: EngineStats,
    partition: String,
    since_export: u32,
    /// While restoring from the state topic (names shared between restored accounts).
    decoder: Option<RecordDecoder>,
    /// With a network topic: the partition's network stage and what it sends.
    network: Option<NetworkSide>,
}

/// A partition's part in the network stage (`kafka.network_topic`): its stage (the
/// networks the network topic's partition of the same number owns) and the visits and mail
/// waiting to be sent.
struct NetworkSide {
    stage: NetworkStage,
    /// This partition, as the owner named in mail.
    owner: Owner,
    partitions: u32,
    visits: Vec<NetworkVisit>,
    mail: Vec<Mail>,
    /// Reused for each item's bytes.
    encoded: Vec<u8>,
}

impl PartitionProcessor {
    /// Adds what the engine counted since the last export to the process's metrics.
    fn export(&mut self) {
        self.since_export = 0;
        let now = self.pipeline.engine().stats();
        let (was, m) = (&self.exported, &self.metrics);
        add_deltas(
            &now.suppressed_by_kind,
            &was.suppressed_by_kind,
            |k| k.as_str(),
            &m.alerts_suppressed,
        );
        add_deltas(
            &now.dropped,
            &was.dropped,
            |r| r.as_str(),
            &m.events_dropped,
        );
        for (counter, n, before) in [
            (
                &m.accounts_evicted,
                now.evicted_accounts,
                was.evicted_accounts,
            ),
            (
                &m.accounts_expired,
                now.expired_accounts,
                was.expired_accounts,
            ),
            (&m.window_overflow, now.window_overflow, was.window_overflow),
        ] {
            counter.inc_by(n.saturating_sub(before));
        }
        m.state_bytes
            .with_label_values(&[self.partition.as_str()])
            .set(now.approx_state_bytes as i64);
        if let Some(n) = &self.network {
            m.network_stage_networks
                .with_label_values(&[self.partition.as_str()])
                .set(n.stage.stats().networks as i64);
        }
        self.exported = now;
    }
}

/// Adds to `counter` what each label's count grew by between `was` and `now` (the same
/// labels in the same order).
fn add_deltas<K>(
    now: &[(K, u64)],
    was: &[(K, u64)],
    label: impl Fn(&K) -> &'static str,
    counter: &IntCounterVec,
) {
    for ((key, n), (_, before)) in now.iter().zip(was) {
        if n > before {
            counter.with_label_values(&[label(key)]).inc_by(n - before);
        }
    }
}

impl PartitionProcessor {
    /// Runs `payloads` through the input format's translator and the pipeline as one group
    /// (see [`Processor::process_group`]); with `network`, the visits each message's event
    /// made go there as that message's, otherwise they wait for `take_network_messages`.
    fn run_group(
        &mut self,
        payloads: &[&[u8]],
        applied: &dyn Fn(usize, &str) -> bool,
        network: Option<&mut NetworkSink<'_>>,
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        results.clear();
        self.lines.clear();
        self.message_of.clear();
        for (i, payload) in payloads.iter().enumerate() {
            results.push(match self.translator.translate(payload) {
                Translated::Event(event) => {
                    self.lines.push(i as u64, event);
                    self.message_of.push(i);
                    Ok(0)
                }
                Translated::Skipped(skip) => {
                    self.skipped.with_label_values(&[skip.code()]).inc();
                    Ok(0)
                }
                Translated::Rejected(reject) => Err(reject),
            });
        }
        self.pipeline.locator_mut().follow(&self.locator.get());
        let mut hooks = Hooks {
            message_of: &self.message_of,
            applied,
            network: network.zip(self.network.as_mut()),
        };
        let lines = self.lines.slices();
        self.pipeline
            .process_group_with(&lines, &mut hooks, &mut self.results, out);
        for (&i, result) in self.message_of.iter().zip(self.results.drain(..)) {
            results[i] = result;
        }
        self.since_export += payloads.len() as u32;
        if self.since_export >= EXPORT_EVERY {
            self.export();
        }
    }
}

/// What a partition's group does around each event: the restored state's check, and the
/// visits for the network stage sent as the event's message's.
struct Hooks<'a, 'f> {
    /// The message of each line of the group.
    message_of: &'a [usize],
    applied: &'a dyn Fn(usize, &str) -> bool,
    network: Option<(&'a mut NetworkSink<'f>, &'a mut NetworkSide)>,
}

impl GroupHooks for Hooks<'_, '_> {
    fn applied(&mut self, line: usize, account: &str) -> bool {
        (self.applied)(self.message_of[line], account)
    }

    fn after(&mut self, line: usize, engine: &mut Engine) {
        let Some((send, n)) = &mut self.network else {
            return;
        };
        engine.take_visits(&mut n.visits);
        for v in n.visits.drain(..) {
            let to = v.partition(n.partitions) as i32;
            n.encoded.clear();
            StageMessage::Visit(v).encode(&mut n.encoded);
            send(self.message_of[line], to, &n.encoded);
        }
    }
}

impl Processor for PartitionProcessor {
    fn process(
        &mut self,
        payload: &[u8],
        out: &mut Vec<Alert>,
        applied: &dyn Fn(&str) -> bool,
    ) -> Result<(), Reject> {
        let mut results = Vec::with_capacity(1);
        self.run_group(&[payload], &|_, a| applied(a), None, &mut results, out);
        results.pop().unwrap_or(Ok(0)).map(drop)
    }

    fn process_group(
        &mut self,
        payloads: &[&[u8]],
        applied: &dyn Fn(usize, &str) -> bool,
        _partitions: u32,
        network: &mut NetworkSink<'_>,
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        self.run_group(payloads, applied, Some(network), results, out);
    }

    fn tracked_accounts(&self) -> usize {
        self.pipeline.engine().tracked_accounts()
    }

    fn take_deliveries(&mut self, out: &mut Vec<Alert>) {
        self.pipeline.engine_mut().take_deliveries(out);
    }

    fn state(&mut self) -> Option<&mut dyn PartitionState> {
        Some(self)
    }

    fn take_network_messages(&mut self, partitions: u32, out: &mut dyn FnMut(i32, &[u8])) {
        let Some(n) = &mut self.network else { return };
        self.pipeline.engine_mut().take_visits(&mut n.visits);
        let bytes = &mut n.encoded;
        for v in n.visits.drain(..) {
            let to = v.partition(partitions) as i32;
            bytes.clear();
            StageMessage::Visit(v).encode(bytes);
            out(to, bytes);
        }
        for m in n.mail.drain(..) {
            let to = i32::from(m.owner());
            bytes.clear();
            StageMessage::Mail(m).encode(bytes);
            out(to, bytes);
        }
    }

    fn process_network(
        &mut self,
        payload: &[u8],
        out: &mut Vec<Alert>,
        ahead: Option<&dyn Fn(&str) -> bool>,
    ) -> Result<(), String> {
        let n = self.network.as_mut().ok_or("no network stage")?;
        match StageMessage::decode(payload).map_err(|e| e.to_string())? {
            StageMessage::Visit(v) => {
                let stage = v.partition(n.partitions);
                if stage != u32::from(n.owner) {
                    return Err(format!("a visit for network partition {stage}"));
                }
                n.stage.observe(&v, ahead, &mut n.mail);
            }
            StageMessage::Mail(m) => {
                if m.owner() != n.owner {
                    return Err(format!("mail for partition {}", m.owner()));
                }
                self.pipeline.engine_mut().receive(m, out);
            }
        }
        Ok(())
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
        Box::new(PartitionProcessor {
            translator: Translator::new(self.config.input.format, max),
            skipped: self.skipped.clone(),
            pipeline: Pipeline::new(SharedLocator::new(self.locator.get()), engine, max),
            locator: self.locator.clone(),
            lines: Lines::default(),
            message_of: Vec::new(),
            results: Vec::new(),
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

mod state;
#[cfg(test)]
mod tests;
