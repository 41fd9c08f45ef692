//! `run` and `replay` over the same events produce the same alert ids: the service is driven
//! over the Kafka protocol (librdkafka's in-process mock cluster, or the broker named by
//! `LOGINWATCH_KAFKA_BROKERS` in an `#[ignore]`d test that `--include-ignored` runs) with the
//! real pipeline, and compared with a replay.

use loginwatch::config::Config;
use loginwatch::gen::{generate, GenConfig};
use loginwatch::gen_cmd::world_for;
use loginwatch::run_cmd::serve;
use loginwatch::wiring::replay;
use loginwatch_model::Alert;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 3;

fn events() -> Vec<u8> {
    // Without the benign crowds (carrier NAT pools, venues): which of them shared_ip flags
    // depends on how the partitions interleave (detectors/shared_ip.rs, residual
    // nondeterminism), and this test is about the pipeline.
    let cfg = GenConfig {
        accounts: 600,
        events: 12_000,
        seed: 23,
        carriers: 0,
        venues: 0,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &world_for(None).expect("demo world"), &mut bytes).expect("generate");
    bytes
}

fn replay_ids(bytes: &[u8]) -> BTreeSet<String> {
    let (mut out, mut dead) = (Vec::new(), Vec::new());
    replay(&Config::default(), &mut &bytes[..], &mut out, &mut dead).expect("replay");
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Alert>(l).expect("alert").alert_id)
        .collect()
}

async fn create_topics(brokers: &str, names: &[&str]) {
    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, PARTITIONS, TopicReplication::Fixed(1)))
        .collect();
    admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .expect("create topics");
}

async fn produce(brokers: &str, topic: &str, bytes: &[u8]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    // Enqueue everything, then wait for every delivery: awaiting each send in turn would
    // take a broker round trip per event.
    let mut deliveries = Vec::new();
    for line in bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("event");
        let key = v["account_id"].as_str().expect("account").to_owned();
        let rec = FutureRecord::to(topic).key(&key).payload(line);
        deliveries.push(
            producer
                .send_result(rec)
                .map_err(|(e, _)| e)
                .expect("enqueue"),
        );
    }
    for d in deliveries {
        d.await
            .expect("delivery future")
            .map_err(|(e, _)| e)
            .expect("delivered");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

/// Reads alert ids from `topic` until `want` of them arrived or a minute passed.
async fn read_alert_ids(brokers: &str, topic: &str, want: usize) -> BTreeSet<String> {
    let reader: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "parity-reader")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    reader.assign(&tpl).expect("assign");
    let mut ids = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while ids.len() < want {
        match tokio::time::timeout_at(deadline, reader.recv()).await {
            Ok(Ok(m)) => {
                let alert: Alert =
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("alert");
                assert_eq!(
                    m.key(),
                    Some(alert.account_id.as_bytes()),
                    "keyed by account"
                );
                ids.insert(alert.alert_id);
            }
            Ok(Err(e)) => panic!("reader: {e}"),
            Err(_) => break,
        }
    }
    ids
}

/// Topic names for one run: input, alerts, dead letters, state.
fn topics(suffix: &str) -> [String; 4] {
    ["logins", "alerts", "dead", "state"].map(|t| format!("{t}-{suffix}"))
}

/// Runs the service over the generated stream (topics already exist) and compares.
async fn parity(brokers: &str, suffix: &str) {
    let bytes = events();
    let expected = replay_ids(&bytes);
    assert!(expected.len() > 5, "the stream must raise alerts");
    let [input, alerts, dead, state] = topics(suffix);
    produce(brokers, &input, &bytes).await;

    let mut config = Config::default();
    let k = &mut config.service.kafka;
    k.brokers = brokers.to_owned();
    k.group_id = format!("parity-{suffix}");
    k.input_topic = input;
    k.alert_topic = alerts.clone();
    k.dead_letter_topic = dead;
    k.state_topic = state;
    k.commit_interval = Duration::from_millis(200);
    k.shutdown_grace = Duration::from_secs(10);
    // Room for the whole stream, so consumption never pauses: tansu (the CI broker) answers a
    // fetch from inside a record batch with the next batch, so a partition resumed after a
    // backpressure pause skips messages (see BENCHMARKS.md). Pausing itself is covered by the
    // service crate's mock-cluster suite.
    k.partition_queue_capacity = std::num::NonZeroUsize::new(50_000).expect("non-zero");
    // A fresh group joins faster with short session timeouts.
    k.consumer.set("session.timeout.ms", "6000");
    k.consumer.set("heartbeat.interval.ms", "300");
    config.service.metrics.listen = "127.0.0.1:0".parse().expect("addr");
    let stop = CancellationToken::new();
    let service = tokio::spawn(serve(config, stop.clone()));
    let got = read_alert_ids(brokers, &alerts, expected.len()).await;
    stop.cancel();
    let result = tokio::time::timeout(Duration::from_secs(60), service).await;
    result
        .expect("service stops in time")
        .expect("task")
        .expect("service ends cleanly");
    assert_eq!(got, expected, "run and replay raise the same alerts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_matches_replay_on_the_mock_cluster() {
    let cluster = MockCluster::new(1).expect("mock cluster");
    // The mock cluster cannot create topics on request (nor report their configuration):
    // the state topic is made here.
    for topic in topics("mock") {
        cluster
            .create_topic(&topic, PARTITIONS, 1)
            .expect("mock topic");
    }
    parity(&cluster.bootstrap_servers(), "mock").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn run_matches_replay_on_a_real_broker() {
    let brokers = std::env::var("LOGINWATCH_KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .expect(
            "LOGINWATCH_KAFKA_BROKERS is not set: this test needs a Kafka-protocol broker \
             (host:port[,...]); start one with `eval \"$(deploy/local-broker.sh start)\"`",
        );
    let suffix = format!("real-{}", std::process::id());
    let [input, alerts, dead, _state] = topics(&suffix);
    // The state topic is left to the service to create (compacted, as many partitions).
    create_topics(&brokers, &[&input, &alerts, &dead]).await;
    parity(&brokers, &suffix).await;
}
