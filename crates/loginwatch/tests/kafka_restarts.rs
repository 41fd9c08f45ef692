//! A `loginwatch run` process killed with SIGKILL at arbitrary points while the stream is
//! being produced, restarted each time, publishes exactly the alert ids of one uninterrupted
//! `replay`: its state comes back from the state topic, and nothing is missing or extra. So
//! does a group where a second member joins mid-stream and the first then leaves. Over
//! librdkafka's mock cluster (default suite) and a real broker (`LOGINWATCH_KAFKA_BROKERS`,
//! `#[ignore]`d, run by `--include-ignored`).
//!
//! Not compared: `shared_ip` and `account_risk`. The laptop-farm index is the process's, not
//! a partition's, and is not on the state topic (the cross-account stage that will own it is
//! not built); a killed member forgets it, and the risk score counts its findings.

mod common;

use common::{brokers, create_topics, produce, replay_ids, stream};
use loginwatch_model::{Alert, AlertKind};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;

/// Kinds compared by id (see the module docs).
fn compared(a: &Alert) -> bool {
    !matches!(a.kind, AlertKind::SharedIp | AlertKind::AccountRisk)
}

/// The compared alert ids on `topic`, until `want` arrived or `limit` passed.
fn alert_ids(brokers: &str, topic: &str, want: usize, limit: Duration) -> BTreeSet<String> {
    common::alert_ids(brokers, topic, PARTITIONS, compared, want, limit)
}

/// The configuration file of the members.
fn write_config(dir: &Path, brokers: &str, suffix: &str) -> PathBuf {
    let path = dir.join(format!("restarts-{suffix}.toml"));
    let text = format!(
        r#"
[kafka]
brokers = "{brokers}"
group_id = "restarts-{suffix}"
input_topic = "logins-{suffix}"
alert_topic = "alerts-{suffix}"
dead_letter_topic = "dead-{suffix}"
state_topic = "state-{suffix}"
commit_interval = "300ms"
shutdown_grace = "10s"

# Dynamic membership: on tansu a static member (group.instance.id) loses its assignment
# right after getting it and the group takes no member after.
[kafka.consumer]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "300"

[metrics]
listen = "127.0.0.1:0"
"#
    );
    std::fs::write(&path, text).expect("config file");
    path
}

fn member(config: &Path, log: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    Command::new(env!("CARGO_BIN_EXE_loginwatch"))
        .args(["run", "--config"])
        .arg(config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start loginwatch run")
}

/// A scenario's stream, replay's alert ids for it, the members' configuration and log.
struct Setup {
    lines: Vec<Vec<u8>>,
    expected: BTreeSet<String>,
    config: PathBuf,
    log: PathBuf,
}

fn setup(brokers: &str, suffix: &str) -> Setup {
    let lines = stream(800, 16_000, 41);
    let expected = replay_ids(&lines, compared);
    assert!(expected.len() > 20, "the stream must raise alerts");
    let dir = std::env::temp_dir();
    let config = write_config(&dir, brokers, suffix);
    let log = dir.join(format!("restarts-{suffix}.log"));
    let _ = std::fs::remove_file(&log);
    Setup {
        lines,
        expected,
        config,
        log,
    }
}

/// Restores the log has recorded so far.
fn restores(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("state restored")
        .count()
}

/// Kills a member with SIGKILL `kills` times while the stream is produced, each at a
/// pseudo-random point 0–1 s after it restored its partitions' state (so it dies while
/// processing, flushing or publishing), then lets a last one finish and compares.
fn killed_and_restarted(brokers: &str, suffix: &str, kills: usize) {
    let Setup {
        lines,
        expected,
        config,
        log,
    } = setup(brokers, suffix);

    let (b, topic) = (brokers.to_owned(), format!("logins-{suffix}"));
    let pause = Duration::from_millis(600 * kills as u64);
    let producing = std::thread::spawn(move || produce(&b, &topic, &lines, 6, pause));
    let mut seed = 0x9e37_79b9_u32 ^ std::process::id();
    for _ in 0..kills {
        let before = restores(&log);
        let mut child = member(&config, &log);
        let started = Instant::now();
        while restores(&log) == before && started.elapsed() < Duration::from_secs(60) {
            std::thread::sleep(Duration::from_millis(20));
        }
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        std::thread::sleep(Duration::from_millis(u64::from(seed >> 22)));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }
    producing.join().expect("producer");
    // A damaged record on the state topic: refused and counted, never a crash.
    let damaged: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("producer");
    let state = format!("state-{suffix}");
    // In the members' namespace (group, input topic), for an account of no event.
    let key = format!("restarts-{suffix}\0logins-{suffix}\0no-such-account");
    let garbage = FutureRecord::to(&state)
        .partition(0)
        .key(&key)
        .payload("not a state record at all");
    block_on(damaged.send(garbage, Duration::from_secs(10))).expect("damaged record written");
    let before = restores(&log);
    let last = member(&config, &log);
    wait_restores(&log, before + PARTITIONS as usize);
    let alerts = format!("alerts-{suffix}");
    alert_ids(brokers, &alerts, expected.len(), Duration::from_secs(120));
    // Whatever more the last member would publish (an extra id) is out by now.
    std::thread::sleep(Duration::from_secs(3));
    let got = alert_ids(brokers, &alerts, usize::MAX, Duration::from_secs(5));
    terminate(last);
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logs.contains("state restored"),
        "members restored state (log {})",
        log.display()
    );
    assert!(
        logs.contains("state record refused"),
        "the damaged record is refused (log {})",
        log.display()
    );
    assert_same(&expected, &got, &log);
}

fn assert_same(expected: &BTreeSet<String>, got: &BTreeSet<String>, log: &Path) {
    let missing: Vec<_> = expected.difference(got).take(5).collect();
    let extra: Vec<_> = got.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{} of {} alert ids missing (e.g. {missing:?}), {} extra (e.g. {extra:?}); log {}",
        expected.difference(got).count(),
        expected.len(),
        got.difference(expected).count(),
        log.display()
    );
}

/// Waits until the log holds at least `n` restores (or a minute passed).
fn wait_restores(log: &Path, n: usize) {
    let started = Instant::now();
    while restores(log) < n && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops a member gracefully (SIGTERM: it flushes, commits and leaves the group).
fn terminate(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

/// A second member joins while the stream is produced (partitions move to it with their
/// state), then the first leaves (the second takes every partition back from the state
/// topic): the alerts are replay's.
fn member_added_then_removed(brokers: &str, suffix: &str) {
    let Setup {
        lines,
        expected,
        config,
        log,
    } = setup(brokers, suffix);
    let (b, topic) = (brokers.to_owned(), format!("logins-{suffix}"));
    let producing =
        std::thread::spawn(move || produce(&b, &topic, &lines, 6, Duration::from_millis(1500)));
    let first = member(&config, &log);
    wait_restores(&log, PARTITIONS as usize);
    std::thread::sleep(Duration::from_secs(2));
    let second = member(&config, &log);
    // The second member restores the partitions it is given.
    wait_restores(&log, PARTITIONS as usize + 1);
    std::thread::sleep(Duration::from_secs(2));
    let before = restores(&log);
    terminate(first);
    wait_restores(&log, before + 1);
    producing.join().expect("producer");
    let alerts = format!("alerts-{suffix}");
    alert_ids(brokers, &alerts, expected.len(), Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(3));
    let got = alert_ids(brokers, &alerts, usize::MAX, Duration::from_secs(5));
    terminate(second);
    assert_same(&expected, &got, &log);
}

/// Three members share the partitions from the start.
fn three_members(brokers: &str, suffix: &str) {
    let Setup {
        lines,
        expected,
        config,
        log,
    } = setup(brokers, suffix);
    let members: Vec<Child> = (0..3).map(|_| member(&config, &log)).collect();
    wait_restores(&log, PARTITIONS as usize);
    produce(
        brokers,
        &format!("logins-{suffix}"),
        &lines,
        3,
        Duration::ZERO,
    );
    let alerts = format!("alerts-{suffix}");
    alert_ids(brokers, &alerts, expected.len(), Duration::from_secs(120));
    std::thread::sleep(Duration::from_secs(3));
    let got = alert_ids(brokers, &alerts, usize::MAX, Duration::from_secs(5));
    members.into_iter().for_each(terminate);
    assert_same(&expected, &got, &log);
}

/// Runs `scenario(brokers, suffix)` on a fresh mock cluster holding its topics (the mock
/// cluster cannot create topics on request: the state topic is made here too).
fn on_mock_cluster(name: &str, scenario: impl FnOnce(&str, &str)) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let suffix = format!("mock-{name}-{}", std::process::id());
    for t in ["logins", "alerts", "dead", "state"] {
        cluster
            .create_topic(&format!("{t}-{suffix}"), PARTITIONS, 1)
            .expect("mock topic");
    }
    scenario(&cluster.bootstrap_servers(), &suffix);
}

#[test]
fn three_members_publish_what_replay_does_on_the_mock_cluster() {
    on_mock_cluster("three", three_members);
}

#[test]
fn a_member_added_then_one_removed_publish_what_replay_does_on_the_mock_cluster() {
    on_mock_cluster("moves", member_added_then_removed);
}

#[test]
fn sigkilled_members_publish_what_replay_does_on_the_mock_cluster() {
    on_mock_cluster("kills", |brokers, suffix| {
        killed_and_restarted(brokers, suffix, 4)
    });
}

/// Runs `scenario(brokers, suffix)` on the broker of `LOGINWATCH_KAFKA_BROKERS` with fresh
/// input, alert and dead-letter topics (the service creates the state topic).
async fn on_real_broker(name: &str, scenario: fn(&str, &str)) {
    let brokers = brokers();
    let suffix = format!("real-{name}-{}", std::process::id());
    let names = ["logins", "alerts", "dead"].map(|t| format!("{t}-{suffix}"));
    create_topics(&brokers, &names, PARTITIONS).await;
    tokio::task::spawn_blocking(move || scenario(&brokers, &suffix))
        .await
        .expect("test body");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn sigkilled_members_publish_what_replay_does_on_a_real_broker() {
    on_real_broker("kills", |brokers, suffix| {
        killed_and_restarted(brokers, suffix, 6)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn a_member_added_then_one_removed_publish_what_replay_does_on_a_real_broker() {
    on_real_broker("moves", member_added_then_removed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs LOGINWATCH_KAFKA_BROKERS (a real Kafka-protocol broker)"]
async fn three_members_publish_what_replay_does_on_a_real_broker() {
    on_real_broker("three", three_members).await;
}

/// Runs a future to completion on a throwaway runtime (the test body is synchronous).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}
