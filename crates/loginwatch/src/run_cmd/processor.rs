//! A partition's processor for `loginwatch run`: the pipeline (which reads the input format)
//! over a group of messages, the network stage's visits and mail, and the engine's counters
//! exported to the service's metrics.

use loginwatch_detect::snapshot::RecordDecoder;
use loginwatch_detect::{
    Engine, EngineStats, GroupHooks, Mail, NetworkStage, NetworkVisit, Owner, Pipeline,
    StageMessage,
};
use loginwatch_geo::Locator;
use loginwatch_model::{Alert, Reject, Skip};
use loginwatch_replay::SharedLocator;
use loginwatch_service::{Metrics, NetworkSink, PartitionState, Processor, Reloadable};
use prometheus::IntCounterVec;

/// Engine counters are exported to metrics every this many messages (and when dropped).
const EXPORT_EVERY: u32 = 256;

/// One partition's pipeline, plus the engine counters already exported.
pub(super) struct PartitionProcessor {
    /// The current databases; a reload swaps them without blocking the data path, and the
    /// pipeline's locator follows before its next group.
    pub(super) locator: Reloadable<Locator>,
    pub(super) pipeline: Pipeline<SharedLocator>,
    /// `loginwatch_events_skipped_total{reason}`: vendor records that are not logins.
    pub(super) skipped: IntCounterVec,
    /// The pipeline's skip counts already added to `skipped`.
    pub(super) skipped_counted: [(&'static str, u64); Skip::CODES.len()],
    pub(super) metrics: Metrics,
    /// The engine's counters at the last export.
    pub(super) exported: EngineStats,
    pub(super) partition: String,
    pub(super) since_export: u32,
    /// While restoring from the state topic (names shared between restored accounts).
    pub(super) decoder: Option<RecordDecoder>,
    /// With a network topic: the partition's network stage and what it sends.
    pub(super) network: Option<NetworkSide>,
}

/// A partition's part in the network stage (`kafka.network_topic`): its stage (the
/// networks the network topic's partition of the same number owns) and the visits and mail
/// waiting to be sent.
pub(super) struct NetworkSide {
    pub(super) stage: NetworkStage,
    /// This partition, as the owner named in mail.
    pub(super) owner: Owner,
    pub(super) partitions: u32,
    pub(super) visits: Vec<NetworkVisit>,
    pub(super) mail: Vec<Mail>,
    /// Reused for each item's bytes.
    pub(super) encoded: Vec<u8>,
}

impl PartitionProcessor {
    /// Adds what the engine counted since the last export to the process's metrics.
    pub(super) fn export(&mut self) {
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
    /// Runs `payloads` through the pipeline as one group (see [`Processor::process_group`]);
    /// with `network`, the visits each message's event made go there as that message's,
    /// otherwise they wait for `take_network_messages`.
    fn run_group(
        &mut self,
        payloads: &[&[u8]],
        applied: &dyn Fn(usize, &str) -> bool,
        network: Option<&mut NetworkSink<'_>>,
        results: &mut Vec<Result<usize, Reject>>,
        out: &mut Vec<Alert>,
    ) {
        self.pipeline.locator_mut().follow(&self.locator.get());
        let mut hooks = Hooks {
            applied,
            network: network.zip(self.network.as_mut()),
        };
        self.pipeline
            .process_group_with(payloads, &mut hooks, results, out);
        let skipped = self.pipeline.skipped();
        add_deltas(&skipped, &self.skipped_counted, |c| c, &self.skipped);
        self.skipped_counted = skipped;
        self.since_export += payloads.len() as u32;
        if self.since_export >= EXPORT_EVERY {
            self.export();
        }
    }
}

/// What a partition's group does around each event: the restored state's check, and the
/// visits for the network stage sent as the event's message's (line `i` of the group is
/// message `i`).
struct Hooks<'a, 'f> {
    applied: &'a dyn Fn(usize, &str) -> bool,
    network: Option<(&'a mut NetworkSink<'f>, &'a mut NetworkSide)>,
}

impl GroupHooks for Hooks<'_, '_> {
    fn applied(&mut self, line: usize, account: &str) -> bool {
        (self.applied)(line, account)
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
            send(line, to, &n.encoded);
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
