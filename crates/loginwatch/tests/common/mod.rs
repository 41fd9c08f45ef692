//! Helpers of the binary's Kafka suites: a generated stream, replay's alerts for it, topics,
//! producing keyed events, reading alerts back, the broker of `LOGINWATCH_KAFKA_BROKERS`.

use loginwatch::config::Config;
use loginwatch::gen_cmd::world_for;
use loginwatch::wiring::replay;
use loginwatch_gen::{generate, GenConfig};
use loginwatch_model::{Alert, AlertKind};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// `gen` lines in the demo world with 5 % of the accounts anomalous (enough for laptop farms
/// whose accounts land on every partition), without the benign crowds behind shared
/// addresses (which of them shared_ip flags depends on how partitions interleave).
pub fn stream(accounts: u64, events: u64, seed: u64) -> Vec<Vec<u8>> {
    let cfg = GenConfig {
        accounts,
        events,
        seed,
        anomaly_rate: 0.05,
        carriers: 0,
        venues: 0,
        ..GenConfig::default()
    };
    let mut bytes = Vec::new();
    generate(&cfg, &world_for(None).expect("demo world"), &mut bytes).expect("generate");
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(<[u8]>::to_vec)
        .collect()
}

/// What the suites compare of an alert: its id, or for `shared_ip` and `account_risk` its
/// kind and account (which login carries a cross-account finding, or tips the risk score
/// over, depends on how the partitions' streams interleave; which accounts are flagged does
/// not).
pub fn compared(a: &Alert) -> Option<String> {
    Some(match a.kind {
        AlertKind::SharedIp | AlertKind::AccountRisk => format!("{} {}", a.kind, a.account_id),
        _ => a.alert_id.clone(),
    })
}

/// What `keep` says of the alerts a default replay raises over `lines` (`None`: not
/// compared).
pub fn replay_ids(lines: &[Vec<u8>], keep: fn(&Alert) -> Option<String>) -> BTreeSet<String> {
    let bytes = lines.join(&b'\n');
    let (mut out, mut dead) = (Vec::new(), Vec::new());
    replay(&Config::default(), &mut &bytes[..], &mut out, &mut dead).expect("replay");
    out.split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<Alert>(l).expect("alert"))
        .filter_map(|a| keep(&a))
        .collect()
}

/// Creates `names` with `partitions` partitions each.
pub async fn create_topics(brokers: &str, names: &[String], partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .expect("admin client");
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
        .collect();
    admin
        .create_topics(&topics, &AdminOptions::new())
        .await
        .expect("create topics");
}

/// Produces `lines` keyed by account, in `chunks` parts `pause` apart, each part in large
/// record batches (a restart from a committed offset inside one must not lose the rest of
/// it: tansu answers such a fetch with the next batch). Blocking.
pub fn produce(brokers: &str, topic: &str, lines: &[Vec<u8>], chunks: usize, pause: Duration) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "100")
        .set("batch.num.messages", "5000")
        .create()
        .expect("producer");
    let per = lines.len().div_ceil(chunks.max(1)).max(1);
    for chunk in lines.chunks(per) {
        for line in chunk {
            let v: serde_json::Value = serde_json::from_slice(line).expect("event");
            let key = v["account_id"].as_str().expect("account").to_owned();
            loop {
                match producer.send_result(FutureRecord::to(topic).key(&key).payload(line)) {
                    Ok(_) => break,
                    Err((e, _)) => {
                        assert!(e.to_string().contains("Queue full"), "produce: {e}");
                        producer.poll(Duration::from_millis(10));
                    }
                }
            }
        }
        producer.flush(Duration::from_secs(30)).expect("flush");
        std::thread::sleep(pause);
    }
}

/// What `keep` says of the alerts on `topic` (all `partitions`), read from the start until
/// `want` of them arrived or `limit` passed; every alert must be keyed by its account.
/// Blocking.
pub fn alert_ids(
    brokers: &str,
    topic: &str,
    partitions: i32,
    keep: fn(&Alert) -> Option<String>,
    want: usize,
    limit: Duration,
) -> BTreeSet<String> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "test-alert-reader")
        .create()
        .expect("reader");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .expect("tpl");
    }
    reader.assign(&tpl).expect("assign");
    let deadline = Instant::now() + limit;
    let mut ids = BTreeSet::new();
    while ids.len() < want && Instant::now() < deadline {
        match reader.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                let a: Alert =
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("alert");
                assert_eq!(m.key(), Some(a.account_id.as_bytes()), "keyed by account");
                ids.extend(keep(&a));
            }
            Some(Err(e)) => panic!("reader: {e}"),
            None => {}
        }
    }
    ids
}

/// The broker of `LOGINWATCH_KAFKA_BROKERS`; a clear failure without it.
pub fn brokers() -> String {
    std::env::var("LOGINWATCH_KAFKA_BROKERS")
        .ok()
        .filter(|b| !b.trim().is_empty())
        .expect(
            "LOGINWATCH_KAFKA_BROKERS is not set: this test needs a Kafka-protocol broker \
             (host:port[,...]); start one with `eval \"$(deploy/local-broker.sh start)\"`",
        )
}
