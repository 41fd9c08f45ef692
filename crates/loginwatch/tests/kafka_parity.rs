//! `run` and `replay` over the same events produce the same alert ids: the service is driven
//! over the Kafka protocol (librdkafka's in-process mock cluster, or the broker named by
//! `LOGINWATCH_KAFKA_BROKERS` in an `#[ignore]`d test that `--include-ignored` runs) with the
//! real pipeline, and compared with a replay.

mod common;

use common::{alert_ids, brokers, compared, create_topics, produce, replay_ids, stream};
use loginwatch::config::Config;
use loginwatch::run_cmd::serve;
use rdkafka::mocking::MockCluster;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PARTITIONS: i32 = 3;

/// Topic names for one run: input, alerts, dead letters, state.
fn topics(suffix: &str) -> [String; 5] {
    ["logins", "alerts", "dead", "state", "networks"].map(|t| format!("{t}-{suffix}"))
}

/// Runs the service over the generated stream (topics already exist) and compares.
async fn parity(brokers: &str, suffix: &str) {
    let lines = stream(600, 12_000, 23);
    let expected = replay_ids(&lines, compared);
    assert!(expected.len() > 5, "the stream must raise alerts");
    let [input, alerts, dead, state, networks] = topics(suffix);
    let (b, i) = (brokers.to_owned(), input.clone());
    tokio::task::spawn_blocking(move || produce(&b, &i, &lines, 1, Duration::ZERO))
        .await
        .expect("producer");

    let mut config = Config::default();
    let k = &mut config.service.kafka;
    k.brokers = brokers.to_owned();
    k.group_id = format!("parity-{suffix}");
    k.input_topic = input;
    k.alert_topic = alerts.clone();
    k.dead_letter_topic = dead;
    k.state_topic = state;
    k.network_topic = networks;
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
    let (b, want) = (brokers.to_owned(), expected.len());
    let got = tokio::task::spawn_blocking(move || {
        alert_ids(
            &b,
            &alerts,
            PARTITIONS,
            compared,
            want,
            Duration::from_secs(60),
        )
    })
    .await
    .expect("reader");
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
    let brokers = brokers();
    let suffix = format!("real-{}", std::process::id());
    let [input, alerts, dead, _state, _networks] = topics(&suffix);
    // The state and network topics are left to the service to create.
    create_topics(&brokers, &[input, alerts, dead], PARTITIONS).await;
    parity(&brokers, &suffix).await;
}
