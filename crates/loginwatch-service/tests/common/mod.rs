//! Test kit shared by the mock-cluster and real-broker suites: a simple processor, event
//! streams with known expected alerts, and helpers to run members and read what they wrote.

#![allow(dead_code)]

pub mod process;
pub mod scenarios;

use loginwatch_model::{alert::alert_id, Alert, AlertKind, EventTime, Reject, RejectReason};
use loginwatch_service::{Processor, ProcessorFactory, ServiceConfig, ServiceError, Telemetry};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Where a scenario runs: brokers and fresh topic names.
#[derive(Clone, Debug)]
pub struct Env {
    pub brokers: String,
    pub input: String,
    pub alerts: String,
    pub dead_letters: String,
    pub input_partitions: i32,
    pub alert_partitions: i32,
    /// A second alert topic, for a comparison run.
    pub spare_alerts: String,
}

/// Parses JSON; `"alert": true` yields one alert with a deterministic id; non-JSON is rejected.
pub struct TestProcessor {
    accounts: HashSet<String>,
    delay: Duration,
}

impl Processor for TestProcessor {
    fn process(
        &mut self,
        payload: &[u8],
        out: &mut Vec<Alert>,
        _applied: &dyn Fn(&str) -> bool,
    ) -> Result<(), Reject> {
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let reject = |reason| Reject {
            reason,
            bytes: payload.to_vec(),
        };
        let v: serde_json::Value = serde_json::from_slice(payload)
            .map_err(|e| reject(RejectReason::NotJson(e.to_string())))?;
        let account = v["account_id"]
            .as_str()
            .ok_or_else(|| reject(RejectReason::MissingField("account_id")))?;
        let event = v["event_id"].as_str().unwrap_or_default().to_owned();
        self.accounts.insert(account.to_owned());
        if v["alert"] == serde_json::Value::Bool(true) {
            out.push(Alert::new(
                AlertKind::ImpossibleTravel,
                loginwatch_model::Severity::High,
                account,
                EventTime(v["ts"].as_i64().unwrap_or(0)),
                "test alert".into(),
                vec![event],
                loginwatch_model::Evidence::json(serde_json::json!({})),
            ));
        }
        Ok(())
    }

    fn tracked_accounts(&self) -> usize {
        self.accounts.len()
    }
}

/// Makes [`TestProcessor`]s that sleep `delay` per message (to stop a member mid-stream):
/// all of them, or only partition `only`'s.
pub struct TestFactory {
    pub delay: Duration,
    pub only: Option<i32>,
}

impl ProcessorFactory for TestFactory {
    fn create(&self, _topic: &str, partition: i32, _partitions: u32) -> Box<dyn Processor> {
        let slow = self.only.is_none_or(|p| p == partition);
        Box::new(TestProcessor {
            accounts: HashSet::new(),
            delay: if slow { self.delay } else { Duration::ZERO },
        })
    }
}

/// One input message and what it should cause.
pub struct Event {
    pub key: String,
    pub payload: Vec<u8>,
    pub alert_id: Option<String>,
    pub rejected: bool,
}

/// `n` events over 25 accounts: every 3rd raises an alert, every 10th is not JSON.
pub fn events(n: usize, seed: &str) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let account = format!("acct-{}", i % 25);
            let event_id = format!("{seed}-e{i}");
            if i % 10 == 9 {
                return Event {
                    key: account,
                    payload: format!("{{broken {i}").into_bytes(),
                    alert_id: None,
                    rejected: true,
                };
            }
            let alert = i % 3 == 0;
            let payload = serde_json::json!({
                "account_id": account, "event_id": event_id, "ts": 1_700_000_000_000i64 + i as i64,
                "alert": alert,
            });
            Event {
                alert_id: alert.then(|| {
                    alert_id(
                        AlertKind::ImpossibleTravel,
                        &account,
                        std::slice::from_ref(&event_id),
                    )
                }),
                key: account,
                payload: payload.to_string().into_bytes(),
                rejected: false,
            }
        })
        .collect()
}

pub fn expected_ids(events: &[Event]) -> BTreeSet<String> {
    events.iter().filter_map(|e| e.alert_id.clone()).collect()
}

/// Produces `events` to `topic`, keyed by account.
pub async fn produce(brokers: &str, topic: &str, events: &[Event]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("partitioner", "murmur2_random")
        .create()
        .expect("test producer");
    // One at a time: tansu (the CI broker) reports one offset for a batch of several.
    for e in events {
        let rec = FutureRecord::to(topic).key(&e.key).payload(&e.payload);
        producer
            .send(rec, Duration::from_secs(10))
            .await
            .map_err(|(e, _)| e)
            .expect("produce test event");
    }
    producer.flush(Duration::from_secs(10)).expect("flush");
}

/// The service configuration for a test member.
pub fn config(env: &Env, group: &str) -> ServiceConfig {
    let mut c = ServiceConfig::default();
    let k = &mut c.kafka;
    k.brokers = env.brokers.clone();
    k.group_id = group.into();
    k.input_topic = env.input.clone();
    k.alert_topic = env.alerts.clone();
    k.dead_letter_topic = env.dead_letters.clone();
    // The test processor keeps no state (the binary's suites cover the state topic).
    k.state_topic = String::new();
    k.network_topic = String::new();
    k.commit_interval = Duration::from_millis(200);
    k.statistics_interval = Duration::from_millis(500);
    k.shutdown_grace = Duration::from_secs(10);
    k.consumer.set("session.timeout.ms", "6000");
    k.consumer.set("heartbeat.interval.ms", "300");
    k.consumer.set("topic.metadata.refresh.interval.ms", "1000");
    c.metrics.listen = "127.0.0.1:0".parse().expect("addr");
    c
}

/// A service member running in this process.
pub struct Member {
    pub stop: CancellationToken,
    pub telemetry: Telemetry,
    pub task: JoinHandle<Result<(), ServiceError>>,
}

pub fn start(config: ServiceConfig, delay: Duration) -> Member {
    start_with(config, Arc::new(TestFactory { delay, only: None }))
}

pub fn start_with(config: ServiceConfig, factory: Arc<dyn ProcessorFactory>) -> Member {
    // Logs show up with a failing test (or `--nocapture`); RUST_LOG filters, default `info`.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
    let telemetry = Telemetry::new().expect("telemetry");
    let stop = CancellationToken::new();
    let task = tokio::spawn(loginwatch_service::run(
        config,
        factory,
        telemetry.clone(),
        stop.clone(),
    ));
    Member {
        stop,
        telemetry,
        task,
    }
}

impl Member {
    /// Graceful stop; panics if the service returned an error or took over a minute.
    pub async fn stop(self) {
        self.stop.cancel();
        let r = tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("service stops in time")
            .expect("service task");
        r.expect("service ends without error");
    }

    pub fn partitions(&self) -> i64 {
        self.telemetry.metrics.partitions_assigned.get()
    }
}

/// What a reader saw on an output topic.
#[derive(Default, Debug)]
pub struct Seen {
    /// alert_id header → (key, alerts with that id, in arrival order).
    pub alerts: BTreeMap<String, Vec<(String, Alert)>>,
    /// Dead letters: (payload, headers).
    pub dead: Vec<(Vec<u8>, BTreeMap<String, String>)>,
}

impl Seen {
    pub fn alert_ids(&self) -> BTreeSet<String> {
        self.alerts.keys().cloned().collect()
    }
}

fn headers(m: &impl Message) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(h) = m.headers() {
        for x in h.iter() {
            let v = String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned();
            out.insert(x.key.to_owned(), v);
        }
    }
    out
}

/// A reader of `topic` from the beginning of all its `partitions` (assigned, not subscribed:
/// librdkafka wants a group id for that but never joins the group).
pub fn reader(brokers: &str, topic: &str, partitions: i32) -> StreamConsumer {
    let c: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("reader-{topic}"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    c.assign(&tpl).expect("assign");
    c
}

/// Reads from `reader` into `seen` until `done` holds or `limit` passes.
pub async fn read_until(
    reader: &StreamConsumer,
    seen: &mut Seen,
    limit: Duration,
    done: impl Fn(&Seen) -> bool,
    alerts: bool,
) {
    let deadline = tokio::time::Instant::now() + limit;
    while !done(seen) {
        let msg = match tokio::time::timeout_at(deadline, reader.recv()).await {
            Err(_) => return,
            Ok(Err(e)) => panic!("reader error: {e}"),
            Ok(Ok(m)) => m,
        };
        let h = headers(&msg);
        let payload = msg.payload().unwrap_or_default().to_vec();
        if alerts {
            let alert: Alert = serde_json::from_slice(&payload).expect("alert JSON");
            let id = h.get("alert_id").cloned().expect("alert_id header");
            assert_eq!(id, alert.alert_id, "header and body ids agree");
            let key = String::from_utf8_lossy(msg.key().unwrap_or_default()).into_owned();
            seen.alerts.entry(id).or_default().push((key, alert));
        } else {
            seen.dead.push((payload, h));
        }
    }
}

/// Committed offsets of `group` on `topic`, per partition (-1001 = none).
pub fn committed(brokers: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .create()
        .expect("offset reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let got = c
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    (0..partitions)
        .map(|p| match got.find_partition(topic, p).map(|e| e.offset()) {
            Some(Offset::Offset(o)) => o,
            _ => -1001,
        })
        .collect()
}

/// High watermarks of `topic`, per partition.
pub fn high_watermarks(brokers: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("watermark reader");
    (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks")
                .1
        })
        .collect()
}

/// Polls `cond` every 50 ms for up to `limit`; false if it never held.
pub async fn eventually(limit: Duration, cond: impl Fn() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}
