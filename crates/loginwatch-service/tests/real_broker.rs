//! The end-to-end scenarios against a real Kafka-protocol broker named by
//! `LOGINWATCH_KAFKA_BROKERS` (`host:port[,...]`): tansu in CI (`deploy/local-broker.sh`), or
//! any Apache Kafka. The tests are `#[ignore]`d, so a plain `cargo test` lists them as ignored;
//! run with `--include-ignored` and without the variable, each fails saying what is missing.
//!
//! ```text
//! eval "$(deploy/local-broker.sh start)"
//! cargo test -p loginwatch-service --test real_broker -- --include-ignored
//! ```

mod common;

use common::{scenarios, Env};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Names the broker to test against.
const BROKERS_VAR: &str = "LOGINWATCH_KAFKA_BROKERS";
/// Every test gives up after this long instead of hanging.
const TEST_LIMIT: Duration = Duration::from_secs(180);

/// Fresh topics on the broker from `LOGINWATCH_KAFKA_BROKERS`; panics when it is not set.
async fn env(test: &str) -> Env {
    let brokers = std::env::var(BROKERS_VAR)
        .ok()
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{BROKERS_VAR} is not set: real-broker test {test} needs a Kafka-protocol broker \
                 (host:port[,...]); start one with `eval \"$(deploy/local-broker.sh start)\"`"
            )
        });
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let prefix = format!("lw-{test}-{}-{nanos}", std::process::id());
    let env = Env {
        brokers,
        input: format!("{prefix}-logins"),
        alerts: format!("{prefix}-alerts"),
        dead_letters: format!("{prefix}-dead"),
        input_partitions: 4,
        alert_partitions: 2,
        spare_alerts: format!("{prefix}-alerts-single"),
    };
    create_topics(&env).await;
    env
}

async fn create_topics(env: &Env) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", &env.brokers)
        .create()
        .expect("admin client");
    let topics = [
        (&env.input, env.input_partitions),
        (&env.alerts, env.alert_partitions),
        (&env.spare_alerts, env.alert_partitions),
        (&env.dead_letters, 1),
    ];
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|(name, partitions)| NewTopic::new(name, *partitions, TopicReplication::Fixed(1)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .expect("create topics");
    for r in results {
        if let Err((topic, e)) = r {
            panic!("creating topic {topic}: {e}");
        }
    }
}

async fn bounded(f: impl Future<Output = ()>) {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test finished in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_end_to_end() {
    let env = env("e2e").await;
    bounded(scenarios::end_to_end(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_shutdown_commits() {
    let env = env("commit").await;
    bounded(scenarios::shutdown_commits(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_restart_loses_no_alert() {
    let env = env("restart").await;
    bounded(scenarios::restart_loses_nothing(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_two_members() {
    let env = env("pair").await;
    bounded(scenarios::two_members_split(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_catching_up_under_backpressure_reads_every_message() {
    let env = env("catchup").await;
    bounded(scenarios::catch_up_under_backpressure(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_a_slow_partition_holds_no_other_back() {
    let env = env("slow").await;
    bounded(scenarios::a_slow_partition_holds_no_other_back(&env)).await;
}

/// Not a test of its own: the member process that `real_broker_two_processes` starts (a no-op
/// when run normally).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_member_process() {
    common::process::member_if_requested().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn real_broker_two_processes() {
    let env = env("procs").await;
    bounded(scenarios::two_processes(&env, "child_member_process")).await;
}
