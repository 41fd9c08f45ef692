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

/// Not a test of its own: the member process that `two_member_processes` starts (a no-op
/// when run normally).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_member_process() {
    common::process::member_if_requested().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_member_processes() {
    let (_cluster, env) = cluster();
    bounded(scenarios::two_processes(&env, "child_member_process")).await;
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
async fn catching_up_under_backpressure_reads_every_message() {
    let (_cluster, env) = cluster();
    bounded(common::scenarios::catch_up_under_backpressure(&env)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_partition_holds_no_other_back() {
    let (_cluster, env) = cluster();
    bounded(scenarios::a_slow_partition_holds_no_other_back(&env)).await;
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

/// The alert topic becomes unavailable (no leader): workers stop at their in-flight limit,
/// partitions pause instead of buffering, and everything flows once the topic is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_alert_topic_pauses_consumption() {
    let (cluster, env) = cluster();
    bounded(async {
        for p in 0..env.alert_partitions {
            cluster
                .partition_leader(&env.alerts, p, None)
                .expect("leaderless");
        }
        // Only alert-raising events: every message waits on the unavailable topic.
        let evs: Vec<_> = common::events(300, "bp")
            .into_iter()
            .filter(|e| e.alert_id.is_some())
            .collect();
        common::produce(&env.brokers, &env.input, &evs).await;
        let mut cfg = common::config(&env, "backpressure");
        cfg.kafka.max_in_flight_per_partition = std::num::NonZeroUsize::new(4).expect("4");
        cfg.kafka.partition_queue_capacity = std::num::NonZeroUsize::new(2).expect("2");
        let member = common::start(cfg, Duration::ZERO);
        let m = member.telemetry.metrics.clone();
        let limit = 4 * 4; // partitions × in-flight limit
        assert!(
            common::eventually(Duration::from_secs(30), || m.partition_pauses.get() > 0).await,
            "a full worker holds consumption"
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
        let consumed = m.events_consumed.get();
        assert!(
            consumed <= limit as u64,
            "consumption stopped at the limit: {consumed}"
        );
        assert!(
            m.in_flight.get() <= limit,
            "in flight: {}",
            m.in_flight.get()
        );

        for p in 0..env.alert_partitions {
            cluster
                .partition_leader(&env.alerts, p, Some(1))
                .expect("leader back");
        }
        let want = common::expected_ids(&evs);
        let alerts = common::reader(&env.brokers, &env.alerts, env.alert_partitions);
        let mut seen = common::Seen::default();
        common::read_until(
            &alerts,
            &mut seen,
            Duration::from_secs(60),
            |s| s.alerts.len() >= want.len(),
            true,
        )
        .await;
        assert_eq!(seen.alert_ids(), want, "nothing lost while paused");
        member.stop().await;
    })
    .await;
}

/// Panics on a payload of `boom`; otherwise a [`common::TestProcessor`].
struct Panicky(Box<dyn loginwatch_service::Processor>);

impl loginwatch_service::Processor for Panicky {
    fn process(
        &mut self,
        payload: &[u8],
        out: &mut Vec<loginwatch_model::Alert>,
        applied: &dyn Fn(&str) -> bool,
    ) -> Result<(), loginwatch_model::Reject> {
        assert_ne!(payload, b"boom", "processor bug");
        self.0.process(payload, out, applied)
    }
    fn tracked_accounts(&self) -> usize {
        self.0.tracked_accounts()
    }
}

struct PanickyFactory;

impl loginwatch_service::ProcessorFactory for PanickyFactory {
    fn create(
        &self,
        topic: &str,
        partition: i32,
        partitions: u32,
    ) -> Box<dyn loginwatch_service::Processor> {
        let inner = common::TestFactory {
            delay: Duration::ZERO,
            only: None,
        };
        Box::new(Panicky(inner.create(topic, partition, partitions)))
    }
}

/// A processor that panics stops the service with an error (so the orchestrator restarts it)
/// instead of leaving its partition silently stuck; the message's offset is never committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_processor_stops_the_service_with_an_error() {
    let (_cluster, env) = cluster();
    bounded(async {
        let mut evs = vec![common::Event {
            key: "acct-1".into(),
            payload: b"boom".to_vec(),
            alert_id: None,
            rejected: false,
        }];
        evs.extend(common::events(50, "after").into_iter().map(|mut e| {
            e.key = "acct-1".into(); // same partition as the panic
            e
        }));
        common::produce(&env.brokers, &env.input, &evs).await;
        let g = "panicky";
        let member =
            common::start_with(common::config(&env, g), std::sync::Arc::new(PanickyFactory));
        let result = member.task.await.expect("service task");
        assert!(
            matches!(
                result,
                Err(loginwatch_service::ServiceError::WorkerFailed { .. })
            ),
            "{result:?}"
        );
        let committed = common::committed(&env.brokers, g, &env.input, env.input_partitions);
        assert!(
            committed.iter().all(|o| *o <= 0),
            "nothing past the panic committed: {committed:?}"
        );
    })
    .await;
}
