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
//! With a network stage (`kafka.network_topic`), the partition's stage keeps its networks in
//! the same partition under keys of their own (`group \0 input topic \x01 network`, the
//! stage's clocks under an empty network), and the flush record also says where the
//! partition of the network topic stands and the last message taken from each origin
//! ([`FlushMeta`]), so one flush record closes the account state, the stage's state and both
//! offsets together.
//!
//! # Consistency (see the README, "What a crash replays")
//! A flush is taken at an offset: the accounts changed up to it are encoded a few hundred at
//! a time between the messages that follow (so a flush holds no message up for long), each
//! record marked with the offset its state then reflects, which may be later than the
//! flush's. The flush then waits until every output of the messages up to the newest of
//! those offsets is acknowledged, writes the records (tombstones first), then — once those
//! are acknowledged — the flush record, and only then stores the offset after the flush's
//! for commit. So the last flush record read back says where the restored state stands; the
//! partition's messages up to it are skipped, and records marked later than it (encoded
//! after messages that followed it, or written by a flush cut short) belong to accounts whose
//! state is ahead: their messages up to that record's offset only move the clocks.

use crate::config::KafkaConfig;
use crate::kafka::{client_config, Producer, Role};
use crate::readiness::{Readiness, CHECK_STATE};
use crate::redact::Redactor;
use crate::PartitionState;
use prometheus::IntGauge;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::collections::{BTreeMap, HashMap};
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
    /// The input topic's partition count (the state topic's, the network topic's).
    pub partitions: u32,
    /// The network stage's topic (`kafka.network_topic`), when there is one.
    pub network: Option<Arc<str>>,
    /// Writes the state and network-topic records (`kafka.state_linger`).
    pub producer: Producer,
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
        // librdkafka reports the end as `Global(PartitionEOF)` to this callback.
        let end = matches!(error, KafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if !end {
            let reason = self.0.scrub(reason);
            tracing::warn!(client = "state-reader", error = %error, %reason, "kafka client error");
        }
    }
}

impl ConsumerContext for ReaderContext {}

/// Whose records a state-topic key belongs to: one consumer group reading one input topic.
/// Keys are `group \0 input topic \0 account` (topic names and group ids hold no NUL), so
/// deployments sharing a state topic, or a group that moved to another input topic, never
/// read each other's state (such records are skipped and counted as foreign); the network
/// stage's are `group \0 input topic \x01 network`.
#[derive(Clone, Debug)]
pub(crate) struct Namespace(String);

/// What a key of a namespace names.
#[derive(Debug, PartialEq)]
enum Named<'a> {
    Account(&'a [u8]),
    Network(&'a [u8]),
}

impl Namespace {
    pub fn new(group: &str, input_topic: &str) -> Self {
        Namespace(format!("{group}\0{input_topic}"))
    }

    fn key_of(&self, kind: u8, name: &str) -> Vec<u8> {
        let mut k = Vec::with_capacity(self.0.len() + 1 + name.len());
        k.extend_from_slice(self.0.as_bytes());
        k.push(kind);
        k.extend_from_slice(name.as_bytes());
        k
    }

    /// The key of `account`'s record ([`FLUSH_ACCOUNT`] for the flush record).
    pub fn key(&self, account: &str) -> Vec<u8> {
        self.key_of(0, account)
    }

    /// The key of a network stage's record of `network` (empty for the stage's clocks).
    pub fn network_key(&self, network: &str) -> Vec<u8> {
        self.key_of(1, network)
    }

    /// What a key of this namespace names; `None` for another namespace's key.
    fn name<'a>(&self, key: &'a [u8]) -> Option<Named<'a>> {
        match key.strip_prefix(self.0.as_bytes())?.split_first()? {
            (0, account) => Some(Named::Account(account)),
            (1, network) => Some(Named::Network(network)),
            _ => None,
        }
    }
}

/// The account part of the key of the record that closes a flush (account ids never are
/// empty).
pub(crate) const FLUSH_ACCOUNT: &str = "";
/// How long one broker request of the restore or the check may take.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

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

/// The last message taken from each origin of the network topic's messages, by kind
/// (`v`isits from an input partition's offsets, `m`ail from a network partition's) and
/// partition: its offset there and its index among what that message caused. Messages
/// re-sent after a crash are at or below it, and skipped.
pub(crate) type Seen = BTreeMap<(u8, i32), (i64, u32)>;

/// What a flush record holds besides its offset and the processor's clocks.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FlushMeta {
    /// The last offset of the network topic's partition the state holds.
    pub network_through: Option<i64>,
    pub seen: Seen,
}

/// The first byte of an encoded [`FlushMeta`].
const META_VERSION: u8 = 0xf1;

impl FlushMeta {
    /// `META_VERSION`, the network offset (`i64::MIN` for none), the entry count (u32), then
    /// each entry's kind (u8), partition (i32), offset (i64) and index (u32); little-endian.
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(META_VERSION);
        out.extend_from_slice(&self.network_through.unwrap_or(i64::MIN).to_le_bytes());
        out.extend_from_slice(&(self.seen.len() as u32).to_le_bytes());
        for (&(kind, partition), &(offset, index)) in &self.seen {
            out.push(kind);
            out.extend_from_slice(&partition.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&index.to_le_bytes());
        }
    }

    /// The meta at the start of `bytes` and what follows it.
    fn decode(bytes: &[u8]) -> Result<(FlushMeta, &[u8]), String> {
        fn take<const N: usize>(b: &mut &[u8]) -> Result<[u8; N], String> {
            let (head, rest) = b
                .split_first_chunk::<N>()
                .ok_or("a flush record cut short")?;
            *b = rest;
            Ok(*head)
        }
        let mut b = bytes;
        if take::<1>(&mut b)? != [META_VERSION] {
            return Err("a flush record of another format (the state is rebuilt)".into());
        }
        let through = i64::from_le_bytes(take(&mut b)?);
        let n = u32::from_le_bytes(take(&mut b)?);
        let mut seen = Seen::new();
        for _ in 0..n {
            let kind = take::<1>(&mut b)?[0];
            let partition = i32::from_le_bytes(take(&mut b)?);
            let offset = i64::from_le_bytes(take(&mut b)?);
            let index = u32::from_le_bytes(take(&mut b)?);
            seen.insert((kind, partition), (offset, index));
        }
        let network_through = (through != i64::MIN).then_some(through);
        Ok((
            FlushMeta {
                network_through,
                seen,
            },
            b,
        ))
    }
}

/// The flush record's value: its offset, the meta, the processor's clocks.
pub(crate) fn flush_value(through: i64, meta: &FlushMeta, clocks: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + 16 + clocks.len());
    v.extend_from_slice(&through.to_le_bytes());
    meta.encode(&mut v);
    v.extend_from_slice(clocks);
    v
}

/// What reading a partition's changelog back found.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// The offset of the last complete flush: messages up to it are in the state.
    pub through: Option<i64>,
    /// The last complete flush's meta (where the network topic's partition stands).
    pub meta: FlushMeta,
    /// Accounts whose record was written after that flush (a flush cut short), with the
    /// offset their record reflects.
    pub ahead: HashMap<String, i64>,
    /// The same for the network stage's networks (network-topic offsets).
    pub networks_ahead: HashMap<String, i64>,
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

    /// Whether `network`'s restored state already holds the network-topic message at
    /// `offset`.
    pub fn network_applied(&self, network: &str, offset: i64) -> bool {
        self.networks_ahead
            .get(network)
            .is_some_and(|at| offset <= *at)
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
            match message.key().and_then(|k| setup.namespace.name(k)) {
                Some(named) => take(&mut out, state, named, message.payload(), partition),
                None => out.foreign += 1,
            }
        }
    }
    Ok(out)
}

/// Restores one record (an account's or a network's, the flush record, the stage's clocks); a
/// refused one is counted and logged, never fatal.
fn take(
    out: &mut Restored,
    state: &mut dyn PartitionState,
    named: Named<'_>,
    payload: Option<&[u8]>,
    partition: i32,
) {
    let (network, name) = match named {
        Named::Account(a) => (false, a),
        Named::Network(n) => (true, n),
    };
    let Ok(name) = std::str::from_utf8(name) else {
        return refuse(out, partition, "a record whose key is not UTF-8".into());
    };
    let record = match payload.map(split) {
        None => None,
        Some(Some(record)) => Some(record),
        Some(None) => return refuse(out, partition, "a record shorter than its offset".into()),
    };
    if let (false, FLUSH_ACCOUNT, Some((through, record))) = (network, name, record) {
        match FlushMeta::decode(record)
            .and_then(|(meta, clocks)| state.restore_clocks(clocks).map(|()| meta))
        {
            Ok(meta) => {
                // Every record before this one in the log belongs to this flush or an
                // earlier one; a flush encoded between messages wrote some of its records
                // as of later messages, which restore must still skip.
                let network_through = meta.network_through.unwrap_or(-1);
                out.ahead.retain(|_, at| *at > through);
                out.networks_ahead.retain(|_, at| *at > network_through);
                out.through = Some(through);
                out.meta = meta;
            }
            Err(why) => refuse(out, partition, why),
        }
        return;
    }
    let mut restore = |record: Option<&[u8]>| match network {
        false => state.restore(name, record),
        true => state.restore_network(name, record),
    };
    let restored = restore(record.map(|r| r.1));
    if restored.is_err() {
        // Rebuilt from what is still to come: an older record must not stand in.
        let _ = restore(None);
    }
    let ahead = match network {
        false => &mut out.ahead,
        true => &mut out.networks_ahead,
    };
    match (restored, record) {
        // The stage's clocks (an empty network) are nothing to skip messages for.
        (Ok(()), Some((through, _))) if !name.is_empty() => {
            ahead.insert(name.to_owned(), through);
        }
        (Ok(()), _) => {
            ahead.remove(name);
        }
        (Err(why), _) => {
            ahead.remove(name);
            refuse(out, partition, why);
        }
    }
}

fn refuse(out: &mut Restored, partition: i32, why: String) {
    out.refused += 1;
    tracing::error!(partition, reason = %why, "state record refused; the partition goes on without it");
}

mod topics;
pub(crate) use topics::ensure_topics;

#[cfg(test)]
mod tests;
