//! One partition's worker: owns that partition's [`Processor`] (so each account's events are
//! handled in order by one owner), publishes what it produces, and stores an input offset only
//! once everything that message caused is acknowledged — in offset order.

use crate::kafka::{Consumer, Producer};
use crate::metrics::Metrics;
use crate::output::{enqueue, settle, OutRecord, Output};
use crate::Processor;
use futures_util::stream::{FuturesOrdered, StreamExt};
use loginwatch_model::Alert;
use rdkafka::consumer::Consumer as _;
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How often a worker publishes the alerts other partitions' engines left for its accounts
/// when it has no message to handle.
const DELIVERY_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// One input message on its way to a worker.
pub(crate) struct Input {
    pub msg: OwnedMessage,
    pub received: Instant,
}

/// A message whose outputs are all acknowledged.
struct Settled {
    offset: i64,
    received: Instant,
    outputs: Vec<Output>,
}

type Pending = Pin<Box<dyn Future<Output = Settled> + Send>>;

/// Everything a worker shares with the rest of the service.
#[derive(Clone)]
pub(crate) struct Shared {
    pub consumer: Arc<Consumer>,
    pub producer: Producer,
    pub metrics: Metrics,
    pub alert_topic: Arc<str>,
    pub dead_letter_topic: Arc<str>,
    pub max_in_flight: usize,
}

/// The worker of one partition.
pub(crate) struct Worker {
    pub topic: String,
    pub partition: i32,
    pub processor: Box<dyn Processor>,
    pub rx: mpsc::Receiver<Input>,
    /// Cancelled when the partition is revoked or the shutdown grace period ran out: stop at
    /// once, storing nothing more.
    pub stop: CancellationToken,
    pub shared: Shared,
}

impl Worker {
    /// Runs until the input channel closes and every pending message is settled (graceful), or
    /// until `stop` (abandoning pending messages, which the next owner will re-read).
    pub async fn run(mut self) {
        let mut pending: FuturesOrdered<Pending> = FuturesOrdered::new();
        let mut alerts = Vec::new();
        let mut open = true;
        let label = self.partition.to_string();
        // The last offset handled: alerts delivered from other partitions' engines between
        // messages are published as part of it (storing its successor again is harmless).
        let mut last: Option<(i64, Instant)> = None;
        let mut deliveries = tokio::time::interval(DELIVERY_POLL);
        deliveries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let tracked = self
            .shared
            .metrics
            .tracked_accounts
            .with_label_values(&[&label]);
        while open || !pending.is_empty() {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                Some(done) = pending.next(), if !pending.is_empty() => self.settled(done),
                _ = deliveries.tick(), if pending.len() < self.shared.max_in_flight => {
                    let Some(last) = last else { continue };
                    match self.publish_deliveries(last, &mut alerts).await {
                        Some(Some(p)) => pending.push_back(p),
                        Some(None) => {}
                        None => break, // stopped while waiting on the producer queue
                    }
                }
                input = self.rx.recv(), if open && pending.len() < self.shared.max_in_flight => {
                    match input {
                        Some(input) => {
                            last = Some((input.msg.offset(), input.received));
                            let Some(p) = self.handle(input, &mut alerts).await else {
                                // Stopped while waiting on the producer queue.
                                self.shared.metrics.in_flight.dec();
                                break;
                            };
                            pending.push_back(p);
                            tracked.set(self.processor.tracked_accounts() as i64);
                        }
                        None => open = false,
                    }
                }
            }
        }
        self.shared.metrics.in_flight.sub(pending.len() as i64);
        tracing::debug!(
            partition = self.partition,
            abandoned = pending.len(),
            "worker stopped"
        );
    }

    /// Processes one message and enqueues its outputs; `None` if stopped meanwhile.
    async fn handle(&mut self, input: Input, alerts: &mut Vec<Alert>) -> Option<Pending> {
        let sh = &self.shared;
        sh.metrics.events_consumed.inc();
        sh.metrics.in_flight.inc();
        alerts.clear();
        let payload = input.msg.payload().unwrap_or_default();
        let mut records = Vec::new();
        match self.processor.process(payload, alerts) {
            Ok(()) => {}
            Err(reject) => {
                let code = reject.reason.code();
                sh.metrics.events_rejected.with_label_values(&[code]).inc();
                tracing::warn!(
                    partition = self.partition,
                    offset = input.msg.offset(),
                    reason = code,
                    detail = %reject.reason,
                    "event rejected"
                );
                let dlq = &sh.dead_letter_topic;
                records.push(OutRecord::dead_letter(dlq, &input.msg, &reject));
            }
        }
        self.publish(records, alerts, input.msg.offset(), input.received)
            .await
    }

    /// Publishes the alerts other partitions' engines left for this partition's accounts, as
    /// part of the last message handled, `(offset, received)`: `Some(None)` when there were
    /// none, `None` if stopped meanwhile.
    async fn publish_deliveries(
        &mut self,
        (offset, received): (i64, Instant),
        alerts: &mut Vec<Alert>,
    ) -> Option<Option<Pending>> {
        alerts.clear();
        self.processor.take_deliveries(alerts);
        if alerts.is_empty() {
            return Some(None);
        }
        self.shared.metrics.in_flight.inc();
        let published = self.publish(Vec::new(), alerts, offset, received).await;
        if published.is_none() {
            self.shared.metrics.in_flight.dec();
        }
        published.map(Some)
    }

    /// Enqueues `records` and `alerts` as what message `offset` caused; `None` if stopped
    /// meanwhile.
    async fn publish(
        &mut self,
        mut records: Vec<OutRecord>,
        alerts: &mut Vec<Alert>,
        offset: i64,
        received: Instant,
    ) -> Option<Pending> {
        let sh = &self.shared;
        for alert in alerts.drain(..) {
            match OutRecord::alert(&sh.alert_topic, alert) {
                Ok(r) => records.push(r),
                Err(e) => tracing::error!(error = %e, "alert could not be serialized"),
            }
        }
        let mut deliveries = Vec::with_capacity(records.len());
        for r in &records {
            deliveries.push(enqueue(&sh.producer, r, &sh.metrics, &self.stop).await?);
        }
        let (producer, metrics) = (sh.producer.clone(), sh.metrics.clone());
        Some(Box::pin(async move {
            let outputs = records.iter().map(|r| r.what).collect();
            settle(producer, records, deliveries, metrics).await;
            Settled {
                offset,
                received,
                outputs,
            }
        }))
    }

    /// Everything message `done.offset` caused is acknowledged, and so is everything before it
    /// (pending is in offset order): store `offset + 1` for the next commit.
    fn settled(&self, done: Settled) {
        let m = &self.shared.metrics;
        m.in_flight.dec();
        let latency = done.received.elapsed().as_secs_f64();
        for o in done.outputs {
            match o {
                Output::Alert(kind) => {
                    m.alerts_published.with_label_values(&[kind.as_str()]).inc();
                    m.end_to_end_latency.observe(latency);
                }
                Output::DeadLetter => m.dead_letters.inc(),
            }
        }
        let mut tpl = TopicPartitionList::new();
        let next = Offset::Offset(done.offset + 1);
        if let Err(e) = tpl.add_partition_offset(&self.topic, self.partition, next) {
            tracing::warn!(error = %e, "offset list could not be built");
            return;
        }
        if let Err(e) = self.shared.consumer.store_offsets(&tpl) {
            // Happens when the partition was just revoked: the next owner re-reads it.
            tracing::debug!(partition = self.partition, error = %e, "offset not stored");
        }
    }
}
