//! Building the two librdkafka clients from [`KafkaConfig`]: loginwatch's defaults, then the
//! passthrough tables (`common`, then `consumer`/`producer`), then the managed properties that
//! carry the guarantees (manual offset store, idempotence, cooperative-sticky).

use crate::config::KafkaConfig;
use crate::context::ServiceContext;
use crate::redact::display_value;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::stream_consumer::StreamPartitionQueue;
use rdkafka::consumer::StreamConsumer;
use rdkafka::producer::FutureProducer;
use std::collections::BTreeMap;

/// The consumer type the service runs.
pub(crate) type Consumer = StreamConsumer<ServiceContext>;
/// One assigned input partition's own queue, read by its worker.
pub(crate) type PartitionInput = StreamPartitionQueue<ServiceContext>;
/// The producer type the service runs.
pub(crate) type Producer = FutureProducer<ServiceContext>;

/// Which client a property set is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Consumer,
    /// Writes alerts and dead letters.
    Producer,
    /// Writes state and network-topic records: the producer's properties with
    /// `kafka.state_linger` as its `linger.ms`.
    StateWriter,
    /// Reads one state partition back (assigned, never a group member, never commits).
    StateReader,
    /// Reads one partition of the network topic for its input partition's worker (assigned,
    /// never a group member, never commits: its offsets are kept with the state).
    NetworkReader,
    /// Checks and creates the state topic.
    Admin,
}

/// The effective properties of one client, in name order.
pub(crate) fn properties(k: &KafkaConfig, role: Role) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |name: &str, value: String| {
        out.insert(name.to_owned(), value);
    };
    put("client.id", "loginwatch".into());
    match role {
        Role::Consumer => {
            // A new group starts at the beginning of the topic: nothing is skipped.
            put("auto.offset.reset", "earliest".into());
            // Each assigned partition has its own queue (read by its worker), bounded by
            // `kafka.partition_queue_capacity` messages (managed, below) and by these bytes:
            // memory per partition is at most that plus one fetch.
            put("queued.max.messages.kbytes", (16 << 10).to_string());
            // A partition whose queue is full is fetched again this soon after its worker
            // took some (librdkafka waits 1 s by default, which starves a worker that empties
            // its queue faster).
            put("fetch.queue.backoff.ms", "1".into());
        }
        Role::Producer | Role::StateWriter => {
            // Java clients' partitioner, so alerts of one account land where a Java producer
            // keyed by account_id would put them.
            put("partitioner", "murmur2_random".into());
        }
        Role::StateReader | Role::NetworkReader | Role::Admin => {}
    }
    let specific = match role {
        Role::Consumer | Role::StateReader | Role::NetworkReader => Some(&k.consumer),
        Role::Producer | Role::StateWriter => Some(&k.producer),
        Role::Admin => None,
    };
    for (name, value) in k
        .common
        .iter()
        .chain(specific.into_iter().flat_map(|s| s.iter()))
    {
        put(name, value.to_owned());
    }
    put("bootstrap.servers", k.brokers.clone());
    match role {
        Role::Consumer => {
            put("group.id", k.group_id.clone());
            if let Some(id) = &k.group_instance_id {
                put("group.instance.id", id.clone());
            }
            put("enable.auto.commit", "false".into());
            put("enable.auto.offset.store", "false".into());
            put("partition.assignment.strategy", "cooperative-sticky".into());
            // librdkafka stops fetching a partition while its queue holds this many messages:
            // the worker's backpressure.
            put(
                "queued.min.messages",
                k.partition_queue_capacity.get().to_string(),
            );
            put(
                "statistics.interval.ms",
                k.statistics_interval.as_millis().to_string(),
            );
        }
        Role::Producer | Role::StateWriter => {
            put("enable.idempotence", "true".into());
            put("statistics.interval.ms", "0".into());
            if role == Role::StateWriter {
                put("linger.ms", k.state_linger.as_millis().to_string());
            }
        }
        Role::StateReader => {
            // Required by librdkafka's assign(); the reader never joins it nor commits.
            put("group.id", format!("{}-state-reader", k.group_id));
            put("enable.auto.commit", "false".into());
            put("enable.partition.eof", "true".into());
            // A restore reads a whole partition as fast as it can: large fetches, no waiting
            // for more (tansu holds every fetch answer for fetch.wait.max.ms), and the next
            // fetch under way while the records fetched are restored: librdkafka fetches
            // again only below `queued.min.messages` (default 100,000, which left the reader
            // waiting on round trips half the time: 14.1 s → 5.4 s for 2.24 M records), up
            // to 64 MB queued (memory per restoring partition: that and one fetch).
            put("fetch.wait.max.ms", "10".into());
            put("fetch.max.bytes", (64 << 20).to_string());
            put("max.partition.fetch.bytes", (64 << 20).to_string());
            put("queued.max.messages.kbytes", (64 << 10).to_string());
            put("queued.min.messages", "1000000".into());
            put("auto.offset.reset", "earliest".into());
            put("statistics.interval.ms", "0".into());
        }
        Role::NetworkReader => {
            // Required by librdkafka's assign(); the reader never joins it nor commits.
            put("group.id", format!("{}-network-reader", k.group_id));
            put("enable.auto.commit", "false".into());
            put("enable.auto.offset.store", "false".into());
            put("auto.offset.reset", "earliest".into());
            // Mail and visits are small and latency matters more than batching.
            put("fetch.wait.max.ms", "10".into());
            // The stage's lag comes from the statistics.
            put(
                "statistics.interval.ms",
                k.statistics_interval.as_millis().to_string(),
            );
        }
        Role::Admin => {}
    }
    // Readers get their own client id: tansu tells members apart by it and, seeing a reader
    // of the same id come and go, forgets the service's group member.
    let suffix = match role {
        Role::StateReader => Some("state-reader"),
        Role::NetworkReader => Some("network-reader"),
        _ => None,
    };
    if let Some(suffix) = suffix {
        let id = out.get("client.id").cloned().unwrap_or_default();
        out.insert("client.id".into(), format!("{id}-{suffix}"));
    }
    out
}

/// The effective properties as a `ClientConfig`.
pub(crate) fn client_config(k: &KafkaConfig, role: Role) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (name, value) in properties(k, role) {
        c.set(name, value);
    }
    c
}

/// One log-safe line listing the effective properties, secrets redacted.
pub(crate) fn describe(k: &KafkaConfig, role: Role) -> String {
    properties(k, role)
        .iter()
        .map(|(n, v)| format!("{n}={}", display_value(n, v)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managed_properties_win_and_passthrough_layers() {
        let mut k = KafkaConfig::default();
        k.common.set("security.protocol", "SASL_SSL");
        k.common.set("sasl.password", "hunter2");
        k.common.set("client.id", "common");
        k.consumer.set("client.id", "mine");
        k.consumer.set("auto.offset.reset", "latest");
        let c = properties(&k, Role::Consumer);
        assert_eq!(c["client.id"], "mine");
        assert_eq!(c["auto.offset.reset"], "latest");
        assert_eq!(c["security.protocol"], "SASL_SSL");
        assert_eq!(c["enable.auto.offset.store"], "false");
        assert_eq!(c["partition.assignment.strategy"], "cooperative-sticky");
        assert_eq!(c["group.id"], "loginwatch");
        assert!(
            !c.contains_key("group.instance.id"),
            "dynamic membership by default"
        );
        k.group_instance_id = Some("loginwatch-2".into());
        let c = properties(&k, Role::Consumer);
        assert_eq!(c["group.instance.id"], "loginwatch-2");
        let p = properties(&k, Role::Producer);
        assert!(!p.contains_key("group.instance.id"));
        assert_eq!(p["client.id"], "common");
        assert_eq!(p["enable.idempotence"], "true");
        assert!(!p.contains_key("group.id"));
        assert!(
            !p.contains_key("linger.ms"),
            "librdkafka's default for alerts"
        );
        // The state writer: the producer's properties, its own linger.
        k.producer.set("linger.ms", "20");
        k.producer.set("compression.type", "lz4");
        let s = properties(&k, Role::StateWriter);
        assert_eq!(s["linger.ms"], "100");
        assert_eq!(s["compression.type"], "lz4");
        assert_eq!(s["enable.idempotence"], "true");
        assert_eq!(properties(&k, Role::Producer)["linger.ms"], "20");
        let line = describe(&k, Role::Producer);
        assert!(line.contains("sasl.password=[redacted]"), "{line}");
        assert!(!line.contains("hunter2"));
    }
}
