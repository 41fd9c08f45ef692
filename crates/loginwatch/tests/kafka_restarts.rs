//! A `loginwatch run` process killed with SIGKILL at arbitrary points while the stream is
//! being produced, restarted each time, publishes exactly the alert ids of one uninterrupted
//! `replay`: its state comes back from the state topic, and nothing is missing or extra. So
//! does a group where a second member joins mid-stream and the first then leaves. Over
//! librdkafka's mock cluster (default suite) and a real broker (`LOGINWATCH_KAFKA_BROKERS`,
//! `#[ignore]`d, run by `--include-ignored`).
//!
//! Compared: every alert id, except `shared_ip` and `account_risk`, compared per account
//! (see `common::compared`). Laptop farms are found by the network stage, whose networks
//! are kept with each partition's state: a killed member loses none of them, and one, two
//! or three members flag the farm accounts replay flags.

mod common;

use common::{brokers, compared, create_topics, produce, replay_ids, stream};
use rdkafka::config::ClientConfig;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PARTITIONS: i32 = 4;

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
network_topic = "networks-{suffix}"
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

/// One scenario: its broker and topic suffix, the stream, replay's alert ids for it, the
/// members' configuration and log.
struct Setup {
    brokers: String,
    suffix: String,
    lines: Vec<Vec<u8>>,
    expected: BTreeSet<String>,
    config: PathBuf,
    log: PathBuf,
}

impl Setup {
    fn new(brokers: &str, suffix: &str) -> Self {
        let lines = stream(800, 16_000, 41);
        let expected = replay_ids(&lines, compared);
        assert!(expected.len() > 20, "the stream must raise alerts");
        let farmed = expected
            .iter()
            .filter(|k| k.starts_with("shared_ip "))
            .count();
        assert!(
            farmed >= 10,
            "the stream must hold laptop farms ({farmed} accounts)"
        );
        let dir = std::env::temp_dir();
        let config = write_config(&dir, brokers, suffix);
        let log = dir.join(format!("restarts-{suffix}.log"));
        let _ = std::fs::remove_file(&log);
        Setup {
            brokers: brokers.to_owned(),
            suffix: suffix.to_owned(),
            lines,
            expected,
            config,
            log,
        }
    }

    /// Produces the stream in `chunks` parts `pause` apart on another thread.
    fn produce_in_background(
        &mut self,
        chunks: usize,
        pause: Duration,
    ) -> std::thread::JoinHandle<()> {
        let (b, topic) = (self.brokers.clone(), format!("logins-{}", self.suffix));
        let lines = std::mem::take(&mut self.lines);
        std::thread::spawn(move || produce(&b, &topic, &lines, chunks, pause))
    }

    /// Starts one more member.
    fn member(&self) -> Child {
        member(&self.config, &self.log)
    }

    /// The compared alert ids the members published: read once replay's have all arrived
    /// (or two minutes passed) and three more seconds, so an extra id would be out too.
    fn published(&self) -> BTreeSet<String> {
        let alerts = format!("alerts-{}", self.suffix);
        alert_ids(
            &self.brokers,
            &alerts,
            self.expected.len(),
            Duration::from_secs(120),
        );
        std::thread::sleep(Duration::from_secs(3));
        alert_ids(&self.brokers, &alerts, usize::MAX, Duration::from_secs(5))
    }

    /// The published ids are replay's: none missing, none extra.
    fn assert_replayed(&self, got: &BTreeSet<String>) {
        let expected = &self.expected;
        let missing: Vec<_> = expected.difference(got).take(5).collect();
        let extra: Vec<_> = got.difference(expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} of {} alert ids missing (e.g. {missing:?}), {} extra (e.g. {extra:?}); log {}",
            expected.difference(got).count(),
            expected.len(),
            got.difference(expected).count(),
            self.log.display()
        );
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
    let mut s = Setup::new(brokers, suffix);
    let producing = s.produce_in_background(6, Duration::from_millis(600 * kills as u64));
    let mut seed = 0x9e37_79b9_u32 ^ std::process::id();
    for _ in 0..kills {
        let before = restores(&s.log);
        let mut child = s.member();
        wait_restores(&s.log, before + 1);
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
    let before = restores(&s.log);
    let last = s.member();
    wait_restores(&s.log, before + PARTITIONS as usize);
    let got = s.published();
    terminate(last);
    let logs = std::fs::read_to_string(&s.log).unwrap_or_default();
    assert!(
        logs.contains("state restored"),
        "members restored state (log {})",
        s.log.display()
    );
    assert!(
        logs.contains("state record refused"),
        "the damaged record is refused (log {})",
        s.log.display()
    );
    s.assert_replayed(&got);
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
    let mut s = Setup::new(brokers, suffix);
    let producing = s.produce_in_background(6, Duration::from_millis(1500));
    let first = s.member();
    wait_restores(&s.log, PARTITIONS as usize);
    std::thread::sleep(Duration::from_secs(2));
    let second = s.member();
    // The second member restores the partitions it is given.
    wait_restores(&s.log, PARTITIONS as usize + 1);
    std::thread::sleep(Duration::from_secs(2));
    let before = restores(&s.log);
    terminate(first);
    wait_restores(&s.log, before + 1);
    producing.join().expect("producer");
    let got = s.published();
    terminate(second);
    s.assert_replayed(&got);
}

/// Three members share the partitions from the start.
fn three_members(brokers: &str, suffix: &str) {
    let mut s = Setup::new(brokers, suffix);
    let members: Vec<Child> = (0..3).map(|_| s.member()).collect();
    wait_restores(&s.log, PARTITIONS as usize);
    s.produce_in_background(3, Duration::ZERO)
        .join()
        .expect("producer");
    let got = s.published();
    members.into_iter().for_each(terminate);
    s.assert_replayed(&got);
}

/// Runs `scenario(brokers, suffix)` on a fresh mock cluster holding its topics (the mock
/// cluster cannot create topics on request: the state and network topics are made here
/// too).
fn on_mock_cluster(name: &str, scenario: impl FnOnce(&str, &str)) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    let suffix = format!("mock-{name}-{}", std::process::id());
    for t in ["logins", "alerts", "dead", "state", "networks"] {
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
/// input, alert and dead-letter topics (the service creates the state and network topics).
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
