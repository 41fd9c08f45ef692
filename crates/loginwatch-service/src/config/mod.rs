//! The `[kafka]` and `[metrics]` tables (CONTRACT §4) plus the service's documented extras,
//! validated once with every problem reported at once.

mod properties;

pub use properties::ClientProperties;

use loginwatch_model::AlertFormat;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

/// What [`crate::run`] needs: the `[kafka]` and `[metrics]` tables of the configuration file,
/// and the alert format.
///
/// The binary embeds [`KafkaConfig`] and [`MetricsConfig`] as its `kafka` and `metrics` fields
/// and builds this from them.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    #[serde(default)]
    pub kafka: KafkaConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// How alert records are written: the alert JSON (default) or an OCSF Detection Finding.
    /// Not a key of these tables: the binary sets it from its `[output] format`.
    #[serde(skip)]
    pub alert_format: AlertFormat,
}

/// `[kafka]`: where events come from and alerts go, and how the driver behaves.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaConfig {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Consumer group; every instance of one deployment uses the same.
    pub group_id: String,
    /// Static membership (librdkafka's `group.instance.id`), one per member and stable
    /// across its restarts (e.g. the StatefulSet pod name): a member back within
    /// `session.timeout.ms` keeps its partitions, so a rolling restart moves none. Default
    /// none (dynamic membership).
    pub group_instance_id: Option<String>,
    /// Login events, one JSON object per message, keyed by `account_id`.
    pub input_topic: String,
    /// Alerts, keyed by `account_id`, with an `alert_id` header.
    pub alert_topic: String,
    /// Rejected events: original bytes plus reason/source headers.
    pub dead_letter_topic: String,
    /// The compacted topic holding each input partition's detection state (partition = input
    /// partition, keyed by account, plus one flush record per partition): restored on
    /// assignment before the partition's first message, written every `commit_interval`
    /// before its offsets are committed. Created at start-up when missing (as many
    /// partitions as the input topic, `cleanup.policy=compact`); refused when it exists with
    /// another partition count or cleanup policy. Default `loginwatch-state`; empty turns
    /// state persistence off (a restart then rebuilds state from the events it reads).
    pub state_topic: String,
    /// The internal topic of the network stage (shared_ip across members): each successful
    /// login's networks go to the partition that owns them (by network prefix), whose owner
    /// runs the laptop-farm rule over every account of the deployment and sends findings back
    /// to the account's partition. Partition `n` of it is read by the member owning input
    /// partition `n`; its offsets and the stage's networks are kept with that partition's
    /// state. Created at start-up when missing (the input topic's partition count); refused
    /// with another partition count. Default `loginwatch-networks`; empty keeps the index in
    /// each process (right for one member: with several, a farm whose accounts land on
    /// different members is not seen whole). Needs `state_topic`.
    pub network_topic: String,
    /// An assigned input partition is read from this many messages before its committed
    /// offset; the messages before the committed offset only bring the worker to it (they
    /// are not processed again). A broker that answers a fetch from inside a record batch
    /// with the next batch (tansu) would otherwise lose the rest of that batch at every
    /// restart and rebalance; the rewind must exceed the producers' largest batch (in
    /// messages). Default 10000; 0 turns it off.
    pub rewind_on_assign: u32,
    /// How often stored offsets are committed (also on revoke and on shutdown); with a state
    /// topic, how often a partition flushes its changed state. Default `250ms`: a flush
    /// encodes and writes every account changed since the last one, so a longer period makes
    /// bigger flushes that hold the input back (at 140 k events/s through tansu, p99 produce
    /// → alert 679 ms at `5s`, 215 ms at `1s`, 113–121 ms at `250ms`; BENCHMARKS.md).
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// How long state and network-topic records wait to fill a batch: `linger.ms` of the
    /// producer that writes them (with `[kafka.producer]`'s other properties); alerts and
    /// dead letters go through a producer of their own, `linger.ms` 5 unless
    /// `[kafka.producer]` says otherwise. Default `100ms`: a state record waits only for its
    /// flush, and shared_ip's visits and mail for a farm's alerts, which are not urgent to the
    /// millisecond (up to twice this later), so fewer, larger batches cost the broker and
    /// both clients less (at 140 k events/s through tansu, p99 produce → alert median 91 ms
    /// against 255 ms with everything at 5 ms; BENCHMARKS.md). At most `900s`.
    #[serde(with = "humantime_serde")]
    pub state_linger: Duration,
    /// How long shutdown may take to finish in-flight work, flush and commit. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Messages queued for one partition's worker; when full, the partition is not fetched
    /// until the worker takes some (librdkafka's `queued.min.messages`; the queue's bytes
    /// are bounded by `queued.max.messages.kbytes`, 16 MB by default). Default 100000: a
    /// partition fetched with others that have nothing new is fetched again only when their
    /// fetch returns (`fetch.wait.max.ms`), so a small queue caps its rate at about
    /// capacity / `fetch.wait.max.ms`.
    pub partition_queue_capacity: NonZeroUsize,
    /// Input messages of one partition whose alerts are not yet acknowledged; at the limit the
    /// worker stops taking messages (and so its queue fills and consumption waits).
    /// Default 10000.
    pub max_in_flight_per_partition: NonZeroUsize,
    /// librdkafka statistics period: consumer lag and broker reachability. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub statistics_interval: Duration,
    /// librdkafka properties for both clients (TLS, SASL, `client.id`, ...).
    pub common: ClientProperties,
    /// librdkafka properties for the consumer only; override `common`.
    pub consumer: ClientProperties,
    /// librdkafka properties for the producer only; override `common`.
    pub producer: ClientProperties,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            brokers: "localhost:9092".into(),
            group_id: "loginwatch".into(),
            group_instance_id: None,
            input_topic: "logins".into(),
            alert_topic: "login-alerts".into(),
            dead_letter_topic: "logins-dead-letter".into(),
            state_topic: "loginwatch-state".into(),
            network_topic: "loginwatch-networks".into(),
            rewind_on_assign: 10_000,
            commit_interval: Duration::from_millis(250),
            state_linger: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(30),
            partition_queue_capacity: NonZeroUsize::new(100_000).unwrap_or(NonZeroUsize::MIN),
            max_in_flight_per_partition: NonZeroUsize::new(10_000).unwrap_or(NonZeroUsize::MIN),
            statistics_interval: Duration::from_secs(5),
            common: ClientProperties::default(),
            consumer: ClientProperties::default(),
            producer: ClientProperties::default(),
        }
    }
}

/// `[metrics]`: the HTTP listener for `/metrics`, `/healthz`, `/readyz`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Address to listen on. Default `127.0.0.1:9187`; `0.0.0.0:9187` in containers.
    pub listen: SocketAddr,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9187)),
        }
    }
}

/// Properties loginwatch sets itself; setting them in a passthrough table is an error because
/// they would break a guarantee (offsets stored only after acks, idempotence, the assignor).
pub(crate) const MANAGED_CONSUMER: [&str; 8] = [
    "bootstrap.servers",
    "group.id",
    "group.instance.id",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "partition.assignment.strategy",
    "statistics.interval.ms",
    // kafka.partition_queue_capacity
    "queued.min.messages",
];
pub(crate) const MANAGED_PRODUCER: [&str; 3] = [
    "bootstrap.servers",
    "enable.idempotence",
    "statistics.interval.ms",
];

impl ServiceConfig {
    /// Every problem in the configuration, each prefixed with its full key
    /// (`"kafka.brokers: must not be empty"`). Empty when the configuration is usable.
    pub fn validate(&self) -> Vec<String> {
        let mut problems = Vec::new();
        self.kafka.check(&mut problems);
        problems
    }
}

impl KafkaConfig {
    fn check(&self, p: &mut Vec<String>) {
        if self.brokers.split(',').all(|b| b.trim().is_empty()) {
            p.push("kafka.brokers: must not be empty".into());
        }
        if self.group_id.trim().is_empty() {
            p.push("kafka.group_id: must not be empty".into());
        }
        // librdkafka's range for `queued.min.messages`, which this sets.
        if self.partition_queue_capacity.get() > 10_000_000 {
            p.push("kafka.partition_queue_capacity: at most 10000000".into());
        }
        if self
            .group_instance_id
            .as_ref()
            .is_some_and(|id| id.trim().is_empty())
        {
            p.push("kafka.group_instance_id: must not be empty when set".into());
        }
        for (key, topic) in [
            ("input_topic", &self.input_topic),
            ("alert_topic", &self.alert_topic),
            ("dead_letter_topic", &self.dead_letter_topic),
        ] {
            if let Err(why) = check_topic(topic) {
                p.push(format!("kafka.{key}: {why}"));
            }
        }
        if !self.state_topic.is_empty() {
            if let Err(why) = check_topic(&self.state_topic) {
                p.push(format!("kafka.state_topic: {why}"));
            }
        }
        let others = [
            ("alert_topic", &self.alert_topic),
            ("dead_letter_topic", &self.dead_letter_topic),
            ("state_topic", &self.state_topic),
        ];
        for (key, topic) in others {
            if *topic == self.input_topic {
                p.push(format!("kafka.{key}: must differ from kafka.input_topic"));
            }
        }
        if [&self.alert_topic, &self.dead_letter_topic].contains(&&self.state_topic) {
            p.push("kafka.state_topic: must differ from the alert and dead-letter topics".into());
        }
        if !self.network_topic.is_empty() {
            if let Err(why) = check_topic(&self.network_topic) {
                p.push(format!("kafka.network_topic: {why}"));
            }
            let others = [
                &self.input_topic,
                &self.alert_topic,
                &self.dead_letter_topic,
                &self.state_topic,
            ];
            if others.contains(&&self.network_topic) {
                p.push(
                    "kafka.network_topic: must differ from the input, alert, dead-letter and \
                     state topics"
                        .into(),
                );
            }
            if self.state_topic.is_empty() {
                p.push(
                    "kafka.network_topic: needs kafka.state_topic (the stage's networks and \
                     offsets are kept with each partition's state); set it, or set \
                     network_topic = \"\" to keep the index in each process"
                        .into(),
                );
            }
        }
        for (key, d, min) in [
            (
                "commit_interval",
                self.commit_interval,
                Duration::from_millis(10),
            ),
            (
                "statistics_interval",
                self.statistics_interval,
                Duration::from_millis(10),
            ),
        ] {
            if d < min {
                p.push(format!(
                    "kafka.{key}: must be at least {}ms",
                    min.as_millis()
                ));
            }
        }
        if self.state_linger > Duration::from_secs(900) {
            p.push("kafka.state_linger: must be at most 900s (librdkafka's linger.ms)".into());
        }
        for (table, props) in [
            ("common", &self.common),
            ("consumer", &self.consumer),
            ("producer", &self.producer),
        ] {
            check_known(p, table, props);
        }
        check_managed(p, "common", &self.common, &MANAGED_CONSUMER);
        check_managed(p, "common", &self.common, &MANAGED_PRODUCER);
        check_managed(p, "consumer", &self.consumer, &MANAGED_CONSUMER);
        check_managed(p, "producer", &self.producer, &MANAGED_PRODUCER);
        p.dedup();
    }
}

fn check_managed(p: &mut Vec<String>, table: &str, props: &ClientProperties, managed: &[&str]) {
    for (name, _) in props.iter() {
        if managed.contains(&name) {
            p.push(format!(
                "kafka.{table}.{name}: set by loginwatch itself and may not be overridden"
            ));
        }
    }
}

/// Asks librdkafka whether each property exists and its value is acceptable, one property at
/// a time so every bad one is reported (no client is created, nothing connects).
fn check_known(p: &mut Vec<String>, table: &str, props: &ClientProperties) {
    let redactor = props.redactor();
    for (name, value) in props.iter() {
        let mut one = rdkafka::ClientConfig::new();
        one.set(name, value);
        if let Err(e) = one.create_native_config() {
            let why = match &e {
                rdkafka::error::KafkaError::ClientConfig(_, desc, _, _) => desc.clone(),
                other => other.to_string(),
            };
            p.push(format!("kafka.{table}.{name}: {}", redactor.scrub(&why)));
        }
    }
}

/// Kafka's topic name rules: 1–249 characters from `[a-zA-Z0-9._-]`, not `.` or `..`.
fn check_topic(t: &str) -> Result<(), &'static str> {
    if t.is_empty() {
        return Err("must not be empty");
    }
    if t.len() > 249 {
        return Err("must be at most 249 characters");
    }
    if t == "." || t == ".." {
        return Err("must not be `.` or `..`");
    }
    if !t
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("may only contain ASCII letters, digits, `.`, `_` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let c: ServiceConfig = toml::from_str("").unwrap();
        assert_eq!(c.kafka.brokers, "localhost:9092");
        assert_eq!(c.kafka.group_id, "loginwatch");
        assert_eq!(c.kafka.input_topic, "logins");
        assert_eq!(c.kafka.alert_topic, "login-alerts");
        assert_eq!(c.kafka.dead_letter_topic, "logins-dead-letter");
        assert_eq!(c.kafka.state_topic, "loginwatch-state");
        assert_eq!(c.kafka.network_topic, "loginwatch-networks");
        assert_eq!(c.metrics.listen.to_string(), "127.0.0.1:9187");
        assert!(c.validate().is_empty(), "{:?}", c.validate());
    }

    #[test]
    fn parses_extras_and_passthrough() {
        let c: ServiceConfig = toml::from_str(
            r#"
            [kafka]
            brokers = "b1:9092,b2:9092"
            commit_interval = "250ms"
            state_linger = "20ms"
            shutdown_grace = "10s"
            partition_queue_capacity = 16
            [kafka.common]
            "security.protocol" = "SASL_SSL"
            [kafka.producer]
            "linger.ms" = 20
            [metrics]
            listen = "0.0.0.0:9187"
            "#,
        )
        .unwrap();
        assert_eq!(c.kafka.commit_interval, Duration::from_millis(250));
        assert_eq!(c.kafka.state_linger, Duration::from_millis(20));
        assert_eq!(c.kafka.shutdown_grace, Duration::from_secs(10));
        assert_eq!(c.kafka.partition_queue_capacity.get(), 16);
        assert_eq!(c.kafka.common.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(c.kafka.producer.get("linger.ms"), Some("20"));
        assert!(c.validate().is_empty());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<ServiceConfig>("[kafka]\nbrokerz = \"x\"").is_err());
        assert!(toml::from_str::<ServiceConfig>("[metrics]\nport = 1").is_err());
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let mut c = ServiceConfig::default();
        c.kafka.brokers = " ".into();
        c.kafka.group_id = String::new();
        c.kafka.group_instance_id = Some(" ".into());
        c.kafka.consumer.set("group.instance.id", "pod-0");
        c.kafka.alert_topic = "logins".into();
        c.kafka.dead_letter_topic = "bad topic!".into();
        c.kafka.state_topic = "logins".into();
        c.kafka.commit_interval = Duration::ZERO;
        c.kafka.state_linger = Duration::from_secs(901);
        c.kafka.consumer.set("enable.auto.commit", "true");
        c.kafka.producer.set("enable.idempotence", "false");
        c.kafka.common.set("sasl.password", "hunter2");
        c.kafka.common.set("no.such.property", "1");
        c.kafka.producer.set("linger.ms", "hunter2");
        c.kafka.producer.set("sasl.password", "hunter2");
        c.kafka.consumer.set("queued.min.messages", "10");
        c.kafka.partition_queue_capacity = NonZeroUsize::new(20_000_000).expect("non-zero");
        let problems = c.validate();
        let expect = [
            "kafka.brokers: must not be empty",
            "kafka.group_id: must not be empty",
            "kafka.partition_queue_capacity: at most 10000000",
            "kafka.group_instance_id: must not be empty when set",
            "kafka.consumer.group.instance.id: set by loginwatch",
            "kafka.alert_topic: must differ from kafka.input_topic",
            "kafka.dead_letter_topic: may only contain",
            "kafka.state_topic: must differ from kafka.input_topic",
            "kafka.state_topic: must differ from the alert",
            "kafka.commit_interval: must be at least",
            "kafka.state_linger: must be at most 900s",
            "kafka.consumer.enable.auto.commit: set by loginwatch",
            "kafka.producer.enable.idempotence: set by loginwatch",
            "kafka.consumer.queued.min.messages: set by loginwatch",
            "kafka.common.no.such.property: ",
            "kafka.producer.linger.ms: ",
        ];
        for e in expect {
            assert!(
                problems.iter().any(|p| p.starts_with(e)),
                "{e} in {problems:?}"
            );
        }
        assert_eq!(problems.len(), expect.len(), "{problems:?}");
        assert!(!problems.join("\n").contains("hunter2"));
    }
}
