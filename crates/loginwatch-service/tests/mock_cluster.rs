//! The service end to end over the Kafka protocol, against librdkafka's in-process mock
//! cluster (`rdkafka::mocking::MockCluster`): no broker to install, part of the default suite.

mod common;

use common::{scenarios, Env};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;
use std::future::Future;
use std::time::Duration;

/// Every test gives up after this long instead of hanging.
const TEST_LIMIT: Duration = Duration::from_secs(120);

/// A fresh mock cluster with the topics of one scenario.
fn cluster() -> (MockCluster<'static, DefaultProducerContext>, Env) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let env = Env {
        brokers: cluster.bootstrap_servers(),
        input: "logins".into(),
        alerts: "login-alerts".into(),
        dead_letters: "logins-dead-letter".into(),
        input_partitions: 4,
        alert_partitions: 2,
        spare_alerts: "login-alerts-single".into(),
    };
    for (topic, partitions) in [
        (&env.input, env.input_partitions),
        (&env.alerts, env.alert_partitions),
        (&env.spare_alerts, env.alert_partitions),
        (&env.dead_letters, 1),
    ] {
        cluster
            .create_topic(topic, partitions, 1)
            .expect("create topic");
    }
    (cluster, env)
}

async fn bounded(f: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_in_alerts_and_dead_letters_out() {
    let (_cluster, env) = cluster();
    bounded(scenarios::end_to_end(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_commits_offsets() {
    let (_cluster, env) = cluster();
    bounded(scenarios::shutdown_commits(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_mid_stream_loses_no_alert() {
    let (_cluster, env) = cluster();
    bounded(scenarios::restart_loses_nothing(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_partitions_and_agree_with_one() {
    let (_cluster, env) = cluster();
    bounded(scenarios::two_members_split(&env)).await;
}
