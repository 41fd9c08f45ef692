//! The state topic: checked (or created) at start-up, one partition's changelog read back
//! when the partition is assigned, and the records one flush writes.
//!
//! # Records
//! Partition = the input partition. Key = the consumer group, the input topic and the account
//! id, NUL-separated ([`Namespace`]: deployments sharing the topic never read each other's
//! records); value = the last input offset the record reflects (`i64`, little-endian)
//! followed by the processor's record; a tombstone (no value) once the account is evicted or
//! expired, so compaction keeps the topic bounded by the tracked accounts. The flush record
//! closes each flush: an empty account (account ids never are), the flush's offset, then the
//! processor's clocks.
//!
//! # Consistency (see the README, "What a crash replays")
//! A flush waits until every output of the messages up to its offset is acknowledged, writes
//! the changed accounts (tombstones first), then — once those are acknowledged — the flush
//! record, and only then stores the next offset for commit. So the last flush record read
//! back says where the restored state stands; the partition's messages up to it are
//! skipped, and records after it (a flush cut short) belong to accounts whose state is ahead:
//! their messages up to that record's offset only move the clocks.

use crate::config::KafkaConfig;
use crate::kafka::{client_config, Role};
use crate::readiness::{Readiness, CHECK_STATE};
use crate::redact::Redactor;
use crate::{PartitionState, ServiceError};
use prometheus::IntGauge;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the workers need to keep their state on the state topic.
pub(crate) struct StateSetup {
    /// The service's Kafka settings (each restore's reader uses its client properties).
    pub kafka: KafkaConfig,
    /// Keeps secrets out of the readers' log lines.
    pub redactor: Redactor,
    pub topic: Arc<str>,
    /// This deployment's keys.
    pub namespace: Namespace,
    /// How often a partition's changes are written (the commit interval).
    pub flush_interval: Duration,
    pub restoring: Restoring,
}

/// Counts the partitions restoring now, for `/readyz` and a gauge.
pub(crate) struct Restoring {
    count: Mutex<usize>,
    readiness: Readiness,
    gauge: IntGauge,
}

impl Restoring {
    pub fn new(readiness: Readiness, gauge: IntGauge) -> Self {
        readiness.set(CHECK_STATE, true);
        Restoring {
            count: Mutex::new(0),
            readiness,
            gauge,
        }
    }

    /// One partition starts restoring; it is done when the guard drops.
    pub fn start(&self) -> RestoreGuard<'_> {
        self.add(1);
        RestoreGuard(self)
    }

    fn add(&self, delta: isize) {
        let mut n = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *n = n.saturating_add_signed(delta);
        self.gauge.set(*n as i64);
        self.readiness.set(CHECK_STATE, *n == 0);
    }
}

/// A partition restoring (see [`Restoring::start`]).
pub(crate) struct RestoreGuard<'a>(&'a Restoring);

impl Drop for RestoreGuard<'_> {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

/// The restore readers' callbacks: logs into `tracing`, secrets scrubbed; the end of a
/// partition is what a restore waits for, not an error.
pub(crate) struct ReaderContext(Redactor);

impl ClientContext for ReaderContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::context::log(&self.0, "state-reader", level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if !matches!(error, KafkaError::PartitionEOF(_)) {
            let reason = self.0.scrub(reason);
            tracing::warn!(client = "state-reader", error = %error, %reason, "kafka client error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// Whose records a state-topic key belongs to: one consumer group reading one input topic.
/// Keys are `group \0 input topic \0 account` (topic names and group ids hold no NUL), so
/// deployments sharing a state topic, or a group that moved to another input topic, never
/// read each other's state (such records are skipped and counted as foreign).
#[derive(Clone, Debug)]
pub(crate) struct Namespace(String);

impl Namespace {
    pub fn new(group: &str, input_topic: &str) -> Self {
        Namespace(format!("{group}\0{input_topic}\0"))
    }

    /// The key of `account`'s record ([`FLUSH_ACCOUNT`] for the flush record).
    pub fn key(&self, account: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + account.len());
        k.extend_from_slice(self.0.as_bytes());
        k.extend_from_slice(account.as_bytes());
        k
    }

    /// The account a key of this namespace names; `None` for another namespace's key.
    fn account<'a>(&self, key: &'a [u8]) -> Option<&'a [u8]> {
        key.strip_prefix(self.0.as_bytes())
    }
}

/// The account part of the key of the record that closes a flush (account ids never are
/// empty).
pub(crate) const FLUSH_ACCOUNT: &str = "";
/// How long one broker request of the restore or the check may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the cleanup-policy check may wait: a broker without the request (librdkafka's
/// mock cluster) only delays the start by this much.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(3);

/// A state record's value: the offset it reflects, then the processor's record.
pub(crate) fn value(through: i64, record: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + record.len());
    v.extend_from_slice(&through.to_le_bytes());
    v.extend_from_slice(record);
    v
}

/// The offset and record of a value; `None` when too short to hold the offset.
fn split(value: &[u8]) -> Option<(i64, &[u8])> {
    let (head, record) = value.split_first_chunk::<8>()?;
    Some((i64::from_le_bytes(*head), record))
}

/// What reading a partition's changelog back found.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// The offset of the last complete flush: messages up to it are in the state.
    pub through: Option<i64>,
    /// Accounts whose record was written after that flush (a flush cut short), with the
    /// offset their record reflects.
    pub ahead: HashMap<String, i64>,
    pub records: u64,
    pub bytes: u64,
    /// Records refused (damaged): the partition goes on without them.
    pub refused: u64,
    /// Records of another group or input topic, skipped.
    pub foreign: u64,
    pub elapsed: Duration,
}

impl Restored {
    /// Whether `account`'s restored state already holds the message at `offset`.
    pub fn applied(&self, account: &str, offset: i64) -> bool {
        self.ahead.get(account).is_some_and(|at| offset <= *at)
    }
}

/// Reads partition `partition` of the state topic from its start to its end into `state`.
/// Blocking (librdkafka calls): run it on a blocking thread.
pub(crate) fn restore(
    setup: &StateSetup,
    partition: i32,
    state: &mut dyn PartitionState,
) -> Result<Restored, KafkaError> {
    let started = Instant::now();
    let reader: BaseConsumer<ReaderContext> = client_config(&setup.kafka, Role::StateReader)
        .create_with_context(ReaderContext(setup.redactor.clone()))?;
    let mut out = read(&reader, setup, partition, state)?;
    state.finish_restore();
    out.elapsed = started.elapsed();
    Ok(out)
}

/// Reads `partition` of `topic` from its start to its end into `state`.
fn read(
    reader: &BaseConsumer<ReaderContext>,
    setup: &StateSetup,
    partition: i32,
    state: &mut dyn PartitionState,
) -> Result<Restored, KafkaError> {
    let topic = &*setup.topic;
    let (low, high) = reader.fetch_watermarks(topic, partition, REQUEST_TIMEOUT)?;
    let mut out = Restored::default();
    // Even when the watermarks say empty: tansu reports 0 for a partition of one batch.
    {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, partition, Offset::Beginning)?;
        reader.assign(&tpl)?;
        // To the end of the partition, as the broker's empty answer says (librdkafka's
        // end-of-partition event), not to the high watermark: tansu reports its last batch's
        // base offset, which would leave that batch — the last flush record — unread.
        let mut next = low;
        loop {
            let message = match reader.poll(REQUEST_TIMEOUT) {
                Some(Ok(m)) => m,
                Some(Err(KafkaError::PartitionEOF(_))) if next >= high => break,
                Some(Err(KafkaError::PartitionEOF(_))) => continue,
                Some(Err(e)) => return Err(e),
                None => {
                    return Err(KafkaError::MessageConsumption(
                        RDKafkaErrorCode::RequestTimedOut,
                    ))
                }
            };
            next = message.offset() + 1;
            out.records += 1;
            out.bytes += message.payload_len() as u64;
            match message.key().and_then(|k| setup.namespace.account(k)) {
                Some(account) => take(&mut out, state, account, message.payload(), partition),
                None => out.foreign += 1,
            }
        }
    }
    Ok(out)
}

/// Restores one record; a refused one is counted and logged, never fatal.
fn take(
    out: &mut Restored,
    state: &mut dyn PartitionState,
    account: &[u8],
    payload: Option<&[u8]>,
    partition: i32,
) {
    let Ok(key) = std::str::from_utf8(account) else {
        return refuse(out, partition, "a record whose account is not UTF-8".into());
    };
    let Some(payload) = payload else {
        if let Err(why) = state.restore(key, None) {
            refuse(out, partition, why);
        }
        out.ahead.remove(key);
        return;
    };
    let Some((through, record)) = split(payload) else {
        return refuse(out, partition, "a record shorter than its offset".into());
    };
    if key == FLUSH_ACCOUNT {
        match state.restore_clocks(record) {
            Ok(()) => {
                // Every record before this one in the log belongs to this flush or an
                // earlier one.
                out.through = Some(through);
                out.ahead.clear();
            }
            Err(why) => refuse(out, partition, why),
        }
        return;
    }
    match state.restore(key, Some(record)) {
        Ok(()) => {
            out.ahead.insert(key.to_owned(), through);
        }
        Err(why) => {
            // Rebuilt from the events still to come: an older record must not stand in.
            let _ = state.restore(key, None);
            out.ahead.remove(key);
            refuse(out, partition, why);
        }
    }
}

fn refuse(out: &mut Restored, partition: i32, why: String) {
    out.refused += 1;
    tracing::error!(partition, reason = %why, "state record refused; the partition goes on without it");
}

/// Checks that the state topic exists with the input topic's partition count and a compact
/// cleanup policy, creating it when missing.
pub(crate) async fn ensure_topic(k: &KafkaConfig) -> Result<(), ServiceError> {
    let fail = |reason: String| ServiceError::StateTopic {
        topic: k.state_topic.clone(),
        reason,
    };
    let admin: Arc<AdminClient<DefaultClientContext>> = client_config(k, Role::Admin)
        .create()
        .map(Arc::new)
        .map_err(|source| ServiceError::Client {
            role: "admin",
            source,
        })?;
    let want = match partitions(&admin, &k.input_topic).await {
        Ok(Some(n)) => n,
        Ok(None) => {
            return Err(fail(format!(
                "the input topic {} was not found; its partition count decides the state topic's",
                k.input_topic
            )))
        }
        Err(e) => return Err(fail(format!("cannot read the brokers' metadata: {e}"))),
    };
    match partitions(&admin, &k.state_topic).await {
        Ok(Some(n)) if n == want => {}
        Ok(Some(n)) => {
            return Err(fail(format!(
                "it has {n} partitions, the input topic {} has {want}: a state partition \
                 must match its input partition (delete it, or name another state_topic)",
                k.input_topic
            )))
        }
        Ok(None) => return create(&admin, k, want).await.map_err(fail),
        Err(e) => return Err(fail(format!("cannot read the brokers' metadata: {e}"))),
    }
    let spec = ResourceSpecifier::Topic(&k.state_topic);
    match admin
        .describe_configs(
            [&spec],
            &AdminOptions::new().request_timeout(Some(DESCRIBE_TIMEOUT)),
        )
        .await
        .map(|mut r| r.pop())
    {
        Ok(Some(Ok(resource))) => {
            match resource.get("cleanup.policy").and_then(|e| e.value.clone()) {
                Some(policy) if policy.split(',').any(|p| p.trim() == "compact") => Ok(()),
                Some(policy) => Err(fail(format!(
                    "its cleanup.policy is {policy}; it must be compact (otherwise the broker \
                 deletes state by age)"
                ))),
                None => {
                    tracing::warn!(topic = %k.state_topic, "the broker did not report the state topic's cleanup.policy");
                    Ok(())
                }
            }
        }
        Ok(Some(Err(code))) => {
            tracing::warn!(topic = %k.state_topic, error = %code, "cannot check the state topic's cleanup.policy");
            Ok(())
        }
        Err(e) => {
            tracing::warn!(topic = %k.state_topic, error = %e, "cannot check the state topic's cleanup.policy");
            Ok(())
        }
        Ok(None) => Ok(()),
    }
}

/// The partition count of `topic`, `None` when it does not exist.
async fn partitions(
    admin: &Arc<AdminClient<DefaultClientContext>>,
    topic: &str,
) -> Result<Option<usize>, KafkaError> {
    let admin = Arc::clone(admin);
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let m = admin
            .inner()
            .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)?;
        Ok(m.topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
            .filter(|n| *n > 0))
    })
    .await
    .unwrap_or(Err(KafkaError::Canceled))
}

/// Creates the state topic: `partitions` partitions, compacted, the broker's replication.
async fn create(
    admin: &AdminClient<DefaultClientContext>,
    k: &KafkaConfig,
    partitions: usize,
) -> Result<(), String> {
    let n = i32::try_from(partitions).map_err(|_| "too many input partitions".to_owned())?;
    let topic = NewTopic::new(&k.state_topic, n, TopicReplication::Fixed(-1))
        .set("cleanup.policy", "compact");
    let opts = AdminOptions::new().operation_timeout(Some(REQUEST_TIMEOUT));
    match admin.create_topics([&topic], &opts).await {
        Ok(results) => match results.into_iter().next() {
            Some(Ok(_)) | None => {
                tracing::info!(topic = %k.state_topic, partitions, "created the state topic");
                Ok(())
            }
            // Another member created it first.
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => Ok(()),
            Some(Err((_, code))) => Err(format!("cannot create it: {code}")),
        },
        Err(e) => Err(format!("cannot create it: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records restored as the worker's restore sees them.
    #[derive(Default)]
    struct Log {
        accounts: HashMap<String, Vec<u8>>,
        clocks: Option<Vec<u8>>,
    }

    impl PartitionState for Log {
        fn restore(&mut self, account: &str, record: Option<&[u8]>) -> Result<(), String> {
            match record {
                Some(b"bad") => Err("damaged".into()),
                Some(r) => {
                    self.accounts.insert(account.into(), r.to_vec());
                    Ok(())
                }
                None => {
                    self.accounts.remove(account);
                    Ok(())
                }
            }
        }
        fn restore_clocks(&mut self, record: &[u8]) -> Result<(), String> {
            self.clocks = Some(record.to_vec());
            Ok(())
        }
        fn finish_restore(&mut self) {}
        fn take_changes(
            &mut self,
            _: &mut dyn FnMut(&str, Option<&[u8]>),
        ) -> Result<usize, String> {
            Ok(0)
        }
        fn clocks(&self) -> Result<Vec<u8>, String> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn the_last_complete_flush_and_the_accounts_ahead_of_it() {
        let (mut out, mut log) = (Restored::default(), Log::default());
        let put = |out: &mut Restored, log: &mut Log, key: &str, v: Option<Vec<u8>>| {
            take(out, log, key.as_bytes(), v.as_deref(), 0)
        };
        put(&mut out, &mut log, "a", Some(value(9, b"a1")));
        put(&mut out, &mut log, "b", Some(value(9, b"b1")));
        put(&mut out, &mut log, FLUSH_ACCOUNT, Some(value(9, b"c9")));
        put(&mut out, &mut log, "gone", Some(value(9, b"g1")));
        put(&mut out, &mut log, "gone", None);
        put(&mut out, &mut log, "a", Some(value(19, b"a2")));
        put(&mut out, &mut log, "b", Some(value(19, b"bad")));
        put(&mut out, &mut log, "short", Some(vec![1, 2]));
        assert_eq!(out.through, Some(9));
        assert!(out.applied("a", 19) && !out.applied("a", 20));
        assert!(!out.applied("b", 12), "a refused record is not ahead");
        assert_eq!(out.refused, 2);
        assert_eq!(log.clocks.as_deref(), Some(&b"c9"[..]));
        assert_eq!(log.accounts.get("a").map(Vec::as_slice), Some(&b"a2"[..]));
        assert!(
            !log.accounts.contains_key("b"),
            "an older record does not stand in"
        );
        assert!(!log.accounts.contains_key("gone"));
        put(&mut out, &mut log, FLUSH_ACCOUNT, Some(value(19, b"c19")));
        assert!(out.ahead.is_empty() && out.through == Some(19));
    }

    #[test]
    fn keys_belong_to_one_group_and_input_topic() {
        let ns = Namespace::new("loginwatch", "logins");
        let key = ns.key("acct-1");
        assert_eq!(ns.account(&key), Some(&b"acct-1"[..]));
        assert_eq!(ns.account(&ns.key(FLUSH_ACCOUNT)), Some(&b""[..]));
        for other in [
            Namespace::new("loginwatch", "logins-2"),
            Namespace::new("loginwatch-staging", "logins"),
            Namespace::new("loginwatch\0logins", ""),
        ] {
            assert_eq!(other.account(&key), None, "{other:?}");
        }
        assert_eq!(ns.account(b"acct-1"), None);
    }
}
