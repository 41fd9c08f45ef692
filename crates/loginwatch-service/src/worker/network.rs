//! A worker's part in the network stage (`kafka.network_topic`): it reads the network
//! topic's partition of the same number as its input partition — visits for its stage, mail
//! for its accounts — from where its restored state stands, skips what was sent again after
//! a crash, and sends on what its processor makes (visits to the stage owning their
//! networks, mail to the account's partition).
//!
//! **Batches.** Items travel in batches, one Kafka message per destination partition holding
//! many items (a visit per successful login would otherwise double the messages the broker
//! and both clients handle): each item is its [`Origin`], its length (u32 LE) and its bytes.
//! A worker's [`Outbox`] gathers items per partition and sends them when one holds
//! [`BATCH_ITEMS`], every [`LINGER`], and before a flush, which waits until they are
//! acknowledged (the state must not be durable before the visits and mail it caused).

use super::{Pending, Worker};
use crate::kafka::{client_config, Role};
use crate::metrics::Metrics;
use crate::output::{enqueue, settle, Origin, OutRecord};
use crate::redact::Redactor;
use crate::state::{Restored, Seen, StateSetup};
use futures_util::stream::FuturesUnordered;
use loginwatch_model::Alert;
use prometheus::{IntCounter, IntGauge};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer as _, ConsumerContext, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::OwnedMessage;
use rdkafka::statistics::Statistics;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A batch is sent once it holds this many items.
pub(super) const BATCH_ITEMS: usize = 512;
/// Items wait at most about this long for their batch to fill.
pub(super) const LINGER: Duration = Duration::from_millis(5);

/// Network-topic batches sent and not yet acknowledged.
pub(super) type Sending = FuturesUnordered<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// Items waiting to be sent, by destination partition (see the module docs).
#[derive(Default)]
pub(super) struct Outbox {
    batches: Vec<Vec<u8>>,
    /// Items in `batches`.
    pub items: usize,
    /// The largest number of items in one batch.
    fullest: usize,
    counts: Vec<usize>,
    /// Batches sent and not yet acknowledged.
    pub sending: Sending,
}

impl Outbox {
    pub(super) fn put(&mut self, partition: i32, origin: Origin, item: &[u8]) {
        let at = usize::try_from(partition).unwrap_or(0);
        if self.batches.len() <= at {
            self.batches.resize_with(at + 1, Vec::new);
            self.counts.resize(at + 1, 0);
        }
        let batch = &mut self.batches[at];
        origin.write(batch);
        batch.extend_from_slice(&(item.len() as u32).to_le_bytes());
        batch.extend_from_slice(item);
        self.items += 1;
        self.counts[at] += 1;
        self.fullest = self.fullest.max(self.counts[at]);
    }

    /// Whether a batch is full.
    pub fn full(&self) -> bool {
        self.fullest >= BATCH_ITEMS
    }
}

/// The items of a batch: each item's origin and bytes, or why the rest cannot be read.
fn items(mut batch: &[u8]) -> impl Iterator<Item = Result<(Origin, &[u8]), &'static str>> {
    std::iter::from_fn(move || {
        if batch.is_empty() {
            return None;
        }
        let Some((origin, rest)) = batch.split_first_chunk::<{ Origin::LEN }>() else {
            batch = &[];
            return Some(Err("a batch cut short in an item's origin"));
        };
        let Some((len, rest)) = rest.split_first_chunk::<4>() else {
            batch = &[];
            return Some(Err("a batch cut short in an item's length"));
        };
        let len = u32::from_le_bytes(*len) as usize;
        if rest.len() < len {
            batch = &[];
            return Some(Err("a batch cut short in an item"));
        }
        let (item, rest) = rest.split_at(len);
        batch = rest;
        Some(Ok((Origin::read(origin), item)))
    })
}

/// The network reader's callbacks: logs into `tracing` with secrets scrubbed, and the
/// partition's lag from librdkafka's statistics.
pub(crate) struct NetworkContext {
    redactor: Redactor,
    topic: Arc<str>,
    partition: i32,
    lag: IntGauge,
}

impl ClientContext for NetworkContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        crate::context::log(&self.redactor, "network-reader", level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let reason = self.redactor.scrub(reason);
        tracing::warn!(client = "network-reader", error = %error, %reason, "kafka client error");
    }

    fn stats(&self, stats: Statistics) {
        let Some(p) = stats
            .topics
            .get(&*self.topic)
            .and_then(|t| t.partitions.get(&self.partition))
        else {
            return;
        };
        // -1: not known yet.
        if p.hi_offset >= 0 && p.app_offset >= 0 {
            self.lag.set((p.hi_offset - p.app_offset).max(0));
        }
    }
}

impl ConsumerContext for NetworkContext {}

/// The network topic's partition as one worker reads it.
pub(super) struct NetworkInput {
    pub consumer: StreamConsumer<NetworkContext>,
    /// Messages before this offset are already in the restored state (read only because
    /// reading starts `kafka.rewind_on_assign` earlier).
    start: i64,
    /// The last offset taken.
    pub last: Option<i64>,
    /// The last message taken from each origin (see [`Seen`]).
    pub seen: Seen,
    /// `loginwatch_network_messages_total` by kind, resolved once: visit, mail, duplicate,
    /// refused.
    counted: [IntCounter; 4],
}

impl NetworkInput {
    /// Reads partition `partition` of the network topic from where `restored` stands.
    pub fn open(
        setup: &StateSetup,
        partition: i32,
        restored: &Restored,
        metrics: &Metrics,
    ) -> Result<NetworkInput, KafkaError> {
        let lag = metrics
            .network_stage_lag
            .with_label_values(&[&partition.to_string()]);
        let counted = ["visit", "mail", "duplicate", "refused"]
            .map(|kind| metrics.network_messages.with_label_values(&[kind]));
        let topic = setup
            .network
            .clone()
            .ok_or(KafkaError::Subscription("no network topic".into()))?;
        let start = restored.meta.network_through.map_or(0, |t| t + 1);
        let consumer: StreamConsumer<NetworkContext> =
            client_config(&setup.kafka, Role::NetworkReader).create_with_context(
                NetworkContext {
                    redactor: setup.redactor.clone(),
                    topic: topic.clone(),
                    partition,
                    lag,
                },
            )?;
        // From before the start, as the input is (see `kafka.rewind_on_assign`).
        let from = start.saturating_sub(i64::from(setup.kafka.rewind_on_assign));
        let offset = if from > 0 {
            Offset::Offset(from)
        } else {
            Offset::Beginning
        };
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&topic, partition, offset)?;
        consumer.assign(&tpl)?;
        Ok(NetworkInput {
            consumer,
            start,
            last: restored.meta.network_through,
            seen: restored.meta.seen.clone(),
            counted,
        })
    }
}

impl Worker {
    /// Takes one network-topic message (a batch of items); its alerts are published as part
    /// of input message `(offset, received)`, its mail goes to `outbox`. `Some(None)` when
    /// it caused nothing to publish, `None` if stopped meanwhile.
    pub(super) async fn handle_network(
        &mut self,
        net: &mut NetworkInput,
        outbox: &mut Outbox,
        msg: OwnedMessage,
        (input_offset, received): (i64, Instant),
        restored: &Restored,
        alerts: &mut Vec<Alert>,
    ) -> Option<Option<Pending>> {
        let offset = msg.offset();
        if offset < net.start {
            return Some(None);
        }
        net.last = Some(offset);
        let [visits, mail, duplicates, refusals] = &net.counted;
        let mut refused: Option<String> = None;
        alerts.clear();
        let ahead = |n: &str| restored.network_applied(n, offset);
        let ahead =
            (!restored.networks_ahead.is_empty()).then_some(&ahead as &dyn Fn(&str) -> bool);
        let mut made = 0u32;
        for item in items(msg.payload().unwrap_or_default()) {
            let (o, bytes) = match item {
                Ok(item) => item,
                Err(why) => {
                    refused.get_or_insert_with(|| why.to_owned());
                    continue;
                }
            };
            let last = net.seen.entry((o.kind, o.partition)).or_insert((-1, 0));
            if (o.offset, o.index) <= *last {
                duplicates.inc();
                continue;
            }
            *last = (o.offset, o.index);
            match o.kind {
                b'v' => visits.inc(),
                _ => mail.inc(),
            }
            if let Err(why) = self.processor.process_network(bytes, alerts, ahead) {
                refused.get_or_insert(why);
            }
            made += self.queue_network(outbox, b'm', offset, made);
        }
        let mut records = Vec::new();
        if let Some(why) = refused {
            refusals.inc();
            tracing::error!(
                partition = self.partition,
                offset,
                reason = %why,
                "network-topic message refused (in part); dead-lettered"
            );
            records.push(OutRecord::dead_letter_because(
                &self.shared.dead_letter_topic,
                &msg,
                "bad_network_message",
                &why,
            ));
        }
        if records.is_empty() && alerts.is_empty() {
            return Some(None);
        }
        let published = self
            .publish(records, alerts, input_offset, received, 1)
            .await;
        published.map(Some)
    }

    /// Puts in `outbox` the network-topic items the processor made while taking the message
    /// at `offset` (`kind` `v`: of the input, `m`: of the network topic), numbered from
    /// `first`; returns how many.
    pub(super) fn queue_network(
        &mut self,
        outbox: &mut Outbox,
        kind: u8,
        offset: i64,
        first: u32,
    ) -> u32 {
        let Some(setup) = self.shared.state.as_ref().filter(|s| s.network.is_some()) else {
            return 0;
        };
        let (from, mut index) = (self.partition, first);
        self.processor
            .take_network_messages(setup.partitions, &mut |partition, item| {
                let origin = Origin {
                    kind,
                    partition: from,
                    offset,
                    index,
                };
                outbox.put(partition, origin, item);
                index += 1;
            });
        index - first
    }

    /// Sends every batch waiting in `outbox`; `None` if stopped meanwhile.
    pub(super) async fn send_outbox(&mut self, outbox: &mut Outbox) -> Option<()> {
        let (Some(setup), true) = (&self.shared.state, outbox.items > 0) else {
            return Some(());
        };
        let topic = setup.network.as_ref()?;
        let sh = &self.shared;
        for (partition, batch) in outbox.batches.iter_mut().enumerate() {
            if batch.is_empty() {
                continue;
            }
            let record = OutRecord::network(topic, partition as i32, std::mem::take(batch));
            let delivery = enqueue(&setup.producer, &record, &sh.metrics, &self.stop).await?;
            let (producer, metrics) = (setup.producer.clone(), sh.metrics.clone());
            outbox.sending.push(Box::pin(settle(
                producer,
                vec![record],
                vec![delivery],
                metrics,
            )));
        }
        outbox.items = 0;
        outbox.fullest = 0;
        outbox.counts.iter_mut().for_each(|c| *c = 0);
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_reads_back_item_by_item_and_a_cut_is_reported() {
        let mut outbox = Outbox::default();
        let o = |offset, index| Origin {
            kind: b'v',
            partition: 3,
            offset,
            index,
        };
        outbox.put(1, o(10, 0), b"first");
        outbox.put(1, o(10, 1), b"");
        outbox.put(0, o(11, 0), b"other partition");
        assert_eq!(outbox.items, 3);
        let batch = &outbox.batches[1];
        let read: Vec<_> = items(batch).collect::<Result<_, _>>().unwrap();
        assert_eq!(read, vec![(o(10, 0), &b"first"[..]), (o(10, 1), &b""[..])]);
        let cut: Vec<_> = items(&batch[..batch.len() - 2]).collect();
        assert_eq!(cut.len(), 2);
        assert!(cut[0].is_ok() && cut[1].is_err());
        assert!(items(&[1, 2, 3]).all(|i| i.is_err()));
    }
}
