//! Every metric loginwatch exports, registered on a `prometheus::Registry` that is passed down
//! (no global registry). Labels come from small fixed sets: reason, kind, partition, topic role,
//! result — never an account id or an IP.

use loginwatch_model::{AlertKind, RejectReason};
use prometheus::{
    GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry,
};

/// Handles to every loginwatch metric; cheap to clone (each handle is an `Arc`).
///
/// The pipeline side (the binary's [`crate::Processor`]) increments
/// [`Metrics::alerts_suppressed`] and [`Metrics::geoip_misses`]; the reload watcher
/// increments [`Metrics::reloads`]; the service does the rest.
#[derive(Clone, Debug)]
pub struct Metrics {
    /// `loginwatch_events_consumed_total`: input messages received from Kafka.
    pub events_consumed: IntCounter,
    /// `loginwatch_events_rejected_total{reason}`: rejected input, by `RejectReason::code`.
    pub events_rejected: IntCounterVec,
    /// `loginwatch_alerts_published_total{kind}`: alerts acknowledged by the broker.
    pub alerts_published: IntCounterVec,
    /// `loginwatch_alerts_suppressed_total{kind}`: alerts held back by suppression (pipeline).
    pub alerts_suppressed: IntCounterVec,
    /// `loginwatch_events_dropped_total{reason}`: events the engine did not use (pipeline):
    /// `too_late` (older than `engine.max_lateness` behind the account), `duplicate`.
    pub events_dropped: IntCounterVec,
    /// `loginwatch_accounts_evicted_total`: accounts evicted from a full table (pipeline).
    pub accounts_evicted: IntCounter,
    /// `loginwatch_accounts_expired_total`: accounts forgotten after `engine.idle_timeout`.
    pub accounts_expired: IntCounter,
    /// `loginwatch_window_overflow_total`: logins dropped from full per-account windows.
    pub window_overflow: IntCounter,
    /// `loginwatch_state_bytes{partition}`: the engine's estimate of its per-account state.
    pub state_bytes: IntGaugeVec,
    /// `loginwatch_geoip_misses_total`: IPs the GeoIP database could not locate (pipeline).
    pub geoip_misses: IntCounter,
    /// `loginwatch_unlocated_logins_total{cause}`: logins without a location (pipeline):
    /// `not_found`, `no_database_for_family` (an IPv6 login with only an IPv4 city file),
    /// `unroutable`.
    pub unlocated_logins: IntCounterVec,
    /// `loginwatch_hinted_logins_total`: logins placed by their own `geo` hint (pipeline).
    pub hinted_logins: IntCounter,
    /// `loginwatch_dead_letters_total`: dead letters acknowledged by the broker.
    pub dead_letters: IntCounter,
    /// `loginwatch_end_to_end_latency_seconds`: message received → its alert acknowledged.
    pub end_to_end_latency: Histogram,
    /// `loginwatch_tracked_accounts{partition}`: accounts held in each partition's state.
    pub tracked_accounts: IntGaugeVec,
    /// `loginwatch_consumer_lag_messages{partition}`: high watermark − committed offset.
    pub consumer_lag: IntGaugeVec,
    /// `loginwatch_partitions_assigned`: input partitions this member owns.
    pub partitions_assigned: IntGauge,
    /// `loginwatch_rebalances_total{event}`: `assign`, `revoke` or `error`.
    pub rebalances: IntCounterVec,
    /// `loginwatch_offset_commits_total{result}`: `ok` or `error`.
    pub commits: IntCounterVec,
    /// `loginwatch_produce_errors_total{topic}`: failed sends (retried), `alert` or `dead_letter`.
    pub produce_errors: IntCounterVec,
    /// `loginwatch_partition_pauses_total`: statistics intervals that found a partition's
    /// queue full, so its fetching waited for its worker (backpressure; the name is kept from
    /// when partitions were paused).
    pub partition_pauses: IntCounter,
    /// `loginwatch_in_flight_messages`: input messages whose output is not yet acknowledged.
    pub in_flight: IntGauge,
    /// `loginwatch_broker_up`: 1 when the consumer sees at least one broker up.
    pub broker_up: IntGauge,
    /// `loginwatch_reloads_total{resource,result}`: file reloads, `result` = `ok` or `error`.
    pub reloads: IntCounterVec,
    /// `loginwatch_state_restore_seconds{partition}`: how long the partition's last restore
    /// from the state topic took.
    pub state_restore_seconds: GaugeVec,
    /// `loginwatch_state_restored_records{partition}`, `…_bytes`: what it read.
    pub state_restored_records: IntGaugeVec,
    pub state_restored_bytes: IntGaugeVec,
    /// `loginwatch_partitions_restoring`: partitions restoring now (`/readyz` waits for 0).
    pub partitions_restoring: IntGauge,
    /// `loginwatch_state_records_refused_total`: damaged or foreign state records skipped.
    pub state_records_refused: IntCounter,
    /// `loginwatch_state_records_written_total`, `…_bytes_written_total`: state records
    /// (tombstones and flush records included) acknowledged by the broker.
    pub state_records_written: IntCounter,
    pub state_bytes_written: IntCounter,
    /// `loginwatch_state_flush_seconds`: one flush, from waiting for outputs to its offset
    /// being stored.
    pub state_flush_seconds: Histogram,
    /// `loginwatch_network_messages_total{kind}`: network-topic messages taken by this
    /// member's stages and accounts: `visit`, `mail`, `duplicate` (sent again after a crash,
    /// skipped) or `refused` (damaged or without origin, dead-lettered).
    pub network_messages: IntCounterVec,
    /// `loginwatch_network_stage_lag_messages{partition}`: the network topic's partition,
    /// high watermark minus the next offset its worker takes (the repartition stage's lag).
    pub network_stage_lag: IntGaugeVec,
    /// `loginwatch_network_stage_networks{partition}`: networks held by the partition's stage.
    pub network_stage_networks: IntGaugeVec,
}

/// Latency buckets from 1 ms to ~33 s.
fn latency_buckets() -> Vec<f64> {
    (0..16).map(|i| 0.001 * 2f64.powi(i)).collect()
}

impl Metrics {
    /// Creates every metric and registers it on `registry`; fixed label values are
    /// pre-registered so they show as 0 before their first event.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let counter_vec =
            |name: &str, help: &str, label: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
                let c = IntCounterVec::new(Opts::new(name, help), label)?;
                registry.register(Box::new(c.clone()))?;
                Ok(c)
            };
        let gauge = |name: &str, help: &str| -> Result<IntGauge, prometheus::Error> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let gauge_vec = |name: &str, help: &str| -> Result<IntGaugeVec, prometheus::Error> {
            let g = IntGaugeVec::new(Opts::new(name, help), &["partition"])?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        let latency = Histogram::with_opts(
            HistogramOpts::new(
                "loginwatch_end_to_end_latency_seconds",
                "Time from an input message being received to its alert being acknowledged",
            )
            .buckets(latency_buckets()),
        )?;
        registry.register(Box::new(latency.clone()))?;
        let flush = Histogram::with_opts(
            HistogramOpts::new(
                "loginwatch_state_flush_seconds",
                "One state flush: outputs settled, changed accounts and flush record acknowledged",
            )
            .buckets(latency_buckets()),
        )?;
        registry.register(Box::new(flush.clone()))?;
        let restore_seconds = GaugeVec::new(
            Opts::new(
                "loginwatch_state_restore_seconds",
                "Duration of the partition's last restore from the state topic",
            ),
            &["partition"],
        )?;
        registry.register(Box::new(restore_seconds.clone()))?;

        let m = Metrics {
            events_consumed: counter(
                "loginwatch_events_consumed_total",
                "Input messages received from Kafka",
            )?,
            events_rejected: counter_vec(
                "loginwatch_events_rejected_total",
                "Rejected input messages by reason",
                &["reason"],
            )?,
            alerts_published: counter_vec(
                "loginwatch_alerts_published_total",
                "Alerts acknowledged by the broker, by kind",
                &["kind"],
            )?,
            alerts_suppressed: counter_vec(
                "loginwatch_alerts_suppressed_total",
                "Alerts held back by suppression, by kind",
                &["kind"],
            )?,
            events_dropped: counter_vec(
                "loginwatch_events_dropped_total",
                "Events the engine did not use, by reason",
                &["reason"],
            )?,
            accounts_evicted: counter(
                "loginwatch_accounts_evicted_total",
                "Accounts evicted because the engine's table was full",
            )?,
            accounts_expired: counter(
                "loginwatch_accounts_expired_total",
                "Accounts forgotten after the idle timeout",
            )?,
            window_overflow: counter(
                "loginwatch_window_overflow_total",
                "Logins dropped from full per-account windows",
            )?,
            state_bytes: gauge_vec(
                "loginwatch_state_bytes",
                "Estimated bytes of each partition's per-account state",
            )?,
            geoip_misses: counter(
                "loginwatch_geoip_misses_total",
                "IP addresses the GeoIP database could not locate",
            )?,
            unlocated_logins: counter_vec(
                "loginwatch_unlocated_logins_total",
                "Logins without a location, by cause",
                &["cause"],
            )?,
            hinted_logins: counter(
                "loginwatch_hinted_logins_total",
                "Logins placed by the location the event carried",
            )?,
            dead_letters: counter(
                "loginwatch_dead_letters_total",
                "Dead letters acknowledged by the broker",
            )?,
            end_to_end_latency: latency,
            tracked_accounts: gauge_vec(
                "loginwatch_tracked_accounts",
                "Accounts held in each partition's state",
            )?,
            consumer_lag: gauge_vec(
                "loginwatch_consumer_lag_messages",
                "High watermark minus committed offset, per input partition",
            )?,
            partitions_assigned: gauge(
                "loginwatch_partitions_assigned",
                "Input partitions owned by this member",
            )?,
            rebalances: counter_vec(
                "loginwatch_rebalances_total",
                "Rebalance events by type",
                &["event"],
            )?,
            commits: counter_vec(
                "loginwatch_offset_commits_total",
                "Offset commits by result",
                &["result"],
            )?,
            produce_errors: counter_vec(
                "loginwatch_produce_errors_total",
                "Failed sends (retried) by destination",
                &["topic"],
            )?,
            partition_pauses: counter(
                "loginwatch_partition_pauses_total",
                "Statistics intervals that found a partition's queue full: its fetching waited for its worker (backpressure)",
            )?,
            in_flight: gauge(
                "loginwatch_in_flight_messages",
                "Input messages whose output is not yet acknowledged",
            )?,
            broker_up: gauge(
                "loginwatch_broker_up",
                "1 when the consumer sees at least one broker up",
            )?,
            reloads: counter_vec(
                "loginwatch_reloads_total",
                "File reloads by resource and result",
                &["resource", "result"],
            )?,
            state_restore_seconds: restore_seconds,
            state_restored_records: gauge_vec(
                "loginwatch_state_restored_records",
                "Records read back in the partition's last restore",
            )?,
            state_restored_bytes: gauge_vec(
                "loginwatch_state_restored_bytes",
                "Value bytes read back in the partition's last restore",
            )?,
            partitions_restoring: gauge(
                "loginwatch_partitions_restoring",
                "Partitions restoring their state before their first message",
            )?,
            state_records_refused: counter(
                "loginwatch_state_records_refused_total",
                "State records refused on restore (damaged or foreign); skipped",
            )?,
            state_records_written: counter(
                "loginwatch_state_records_written_total",
                "State records acknowledged by the broker",
            )?,
            state_bytes_written: counter(
                "loginwatch_state_bytes_written_total",
                "Key and value bytes of the state records acknowledged",
            )?,
            state_flush_seconds: flush,
            network_messages: counter_vec(
                "loginwatch_network_messages_total",
                "Network-topic messages taken, by kind (visit, mail, duplicate, refused)",
                &["kind"],
            )?,
            network_stage_lag: gauge_vec(
                "loginwatch_network_stage_lag_messages",
                "High watermark minus next offset, per network-topic partition",
            )?,
            network_stage_networks: gauge_vec(
                "loginwatch_network_stage_networks",
                "Networks held by each partition's network stage",
            )?,
        };
        m.preregister();
        Ok(m)
    }

    fn preregister(&self) {
        for code in RejectReason::CODES {
            self.events_rejected.with_label_values(&[code]);
        }
        for kind in AlertKind::ALL {
            self.alerts_published.with_label_values(&[kind.as_str()]);
            self.alerts_suppressed.with_label_values(&[kind.as_str()]);
        }
        for e in ["assign", "revoke", "error"] {
            self.rebalances.with_label_values(&[e]);
        }
        for r in ["ok", "error"] {
            self.commits.with_label_values(&[r]);
        }
        for t in ["alert", "dead_letter", "state", "network"] {
            self.produce_errors.with_label_values(&[t]);
        }
        for k in ["visit", "mail", "duplicate", "refused"] {
            self.network_messages.with_label_values(&[k]);
        }
        for c in ["not_found", "no_database_for_family", "unroutable"] {
            self.unlocated_logins.with_label_values(&[c]);
        }
    }

    /// Forgets the per-partition series of a partition this member no longer owns.
    pub(crate) fn forget_partition(&self, partition: i32) {
        let p = partition.to_string();
        let _ = self.tracked_accounts.remove_label_values(&[&p]);
        let _ = self.state_bytes.remove_label_values(&[&p]);
        let _ = self.consumer_lag.remove_label_values(&[&p]);
        let _ = self.network_stage_lag.remove_label_values(&[&p]);
        let _ = self.network_stage_networks.remove_label_values(&[&p]);
    }
}

/// Renders `registry` in the Prometheus text format.
pub fn render(registry: &Registry) -> String {
    use prometheus::Encoder;
    let mut buf = Vec::new();
    let encoder = prometheus::TextEncoder::new();
    if let Err(e) = encoder.encode(&registry.gather(), &mut buf) {
        tracing::warn!(error = %e, "metrics encoding failed");
    }
    String::from_utf8(buf).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_and_renders_with_fixed_labels() {
        let r = Registry::new();
        let m = Metrics::register(&r).unwrap();
        m.events_consumed.inc();
        m.tracked_accounts.with_label_values(&["3"]).set(7);
        let text = render(&r);
        assert!(text.contains("loginwatch_events_consumed_total 1"));
        assert!(text.contains("loginwatch_events_rejected_total{reason=\"bad_ip\"} 0"));
        assert!(text.contains("loginwatch_alerts_published_total{kind=\"impossible_travel\"} 0"));
        assert!(text.contains("loginwatch_tracked_accounts{partition=\"3\"} 7"));
        m.forget_partition(3);
        assert!(!render(&r).contains("partition=\"3\""));
        // A second registration on the same registry is refused, not silently shared.
        assert!(Metrics::register(&r).is_err());
    }
}
