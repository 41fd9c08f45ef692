//! The librdkafka callbacks: logs routed into `tracing` (secrets scrubbed), statistics turned
//! into lag and broker-reachability, rebalances turned into worker changes plus a commit.

use crate::metrics::Metrics;
use crate::readiness::{Readiness, CHECK_ASSIGNMENT, CHECK_BROKER};
use crate::redact::Redactor;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, RebalanceProtocol};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// A change of this member's input partitions, applied by the dispatcher in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A partition and its committed offset (none when the group has not committed one).
    Assigned(i32, Option<i64>),
    Revoked(i32),
}

/// Shared between the rebalance callbacks (which run inside the consumer's poll) and the
/// dispatcher: pending changes, and the stop token of each live worker.
#[derive(Default)]
pub(crate) struct Assignment {
    inner: Mutex<AssignmentInner>,
    /// Woken when a change is queued.
    pub changed: Notify,
}

#[derive(Default)]
struct AssignmentInner {
    pending: Vec<Change>,
    workers: HashMap<i32, CancellationToken>,
}

impl Assignment {
    fn lock(&self) -> MutexGuard<'_, AssignmentInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues newly assigned partitions with their committed offsets.
    pub fn assigned(&self, partitions: &[(i32, Option<i64>)]) {
        self.lock()
            .pending
            .extend(partitions.iter().map(|(p, c)| Change::Assigned(*p, *c)));
        self.changed.notify_one();
    }

    /// Stops the workers of revoked partitions at once (their unacknowledged offsets are never
    /// stored) and queues the change.
    pub fn revoked(&self, partitions: &[i32]) {
        let mut inner = self.lock();
        for p in partitions {
            if let Some(token) = inner.workers.remove(p) {
                token.cancel();
            }
            inner.pending.push(Change::Revoked(*p));
        }
        drop(inner);
        self.changed.notify_one();
    }

    /// Records the stop token of a worker just started for `partition`.
    pub fn register_worker(&self, partition: i32, token: CancellationToken) {
        if let Some(old) = self.lock().workers.insert(partition, token) {
            old.cancel();
        }
    }

    /// Takes the queued changes, oldest first.
    pub fn take_changes(&self) -> Vec<Change> {
        std::mem::take(&mut self.lock().pending)
    }
}

/// The context of both clients. Consumer-only parts are `None` for the producer.
pub(crate) struct ServiceContext {
    pub role: &'static str,
    pub metrics: Metrics,
    pub readiness: Readiness,
    pub redactor: Redactor,
    pub input_topic: String,
    /// Messages before the committed offset an assigned input partition is read from (see
    /// `kafka.rewind_on_assign`).
    pub rewind: i64,
    pub assignment: Option<std::sync::Arc<Assignment>>,
    /// Cancelled on a fatal client error (e.g. the idempotent producer lost its guarantees).
    pub fatal: CancellationToken,
}

impl ClientContext for ServiceContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log(&self.redactor, self.role, level, fac, log_message);
    }

    fn stats(&self, stats: Statistics) {
        if self.assignment.is_none() {
            return;
        }
        let up = stats.brokers.values().any(|b| b.state == "UP");
        self.metrics.broker_up.set(i64::from(up));
        self.readiness.set(CHECK_BROKER, up);
        let Some(topic) = stats.topics.get(&self.input_topic) else {
            return;
        };
        for (p, s) in &topic.partitions {
            // Partition -1 is librdkafka's internal one; lag -1 means "not known yet".
            if *p >= 0 && s.desired && s.consumer_lag >= 0 {
                let label = p.to_string();
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&label])
                    .set(s.consumer_lag);
            }
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        let reason = self.redactor.scrub(reason);
        let client = self.role;
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Fatal) => {
                tracing::error!(client, error = %error, %reason, "fatal kafka client error");
                self.fatal.cancel();
            }
            Some(RDKafkaErrorCode::AllBrokersDown) => {
                tracing::warn!(client, %reason, "all brokers are down");
                if self.assignment.is_some() {
                    self.metrics.broker_up.set(0);
                    self.readiness.set(CHECK_BROKER, false);
                }
            }
            _ => tracing::warn!(client, error = %error, %reason, "kafka client error"),
        }
    }
}

impl ServiceContext {
    fn input_partitions(&self, tpl: &TopicPartitionList) -> Vec<i32> {
        tpl.elements()
            .iter()
            .filter(|e| e.topic() == self.input_topic)
            .map(|e| e.partition())
            .collect()
    }

    /// Sets each assigned input partition's start `rewind` messages before its committed
    /// offset; returns the committed offsets.
    fn rewind(
        &self,
        consumer: &BaseConsumer<Self>,
        tpl: &mut TopicPartitionList,
    ) -> Vec<(i32, Option<i64>)> {
        let partitions = self.input_partitions(tpl);
        if self.rewind == 0 {
            return partitions.into_iter().map(|p| (p, None)).collect();
        }
        let committed = match consumer.committed_offsets(tpl.clone(), COMMITTED_TIMEOUT) {
            Ok(c) => c,
            Err(e) => {
                // Starting from the committed offsets as librdkafka would is still correct
                // on a broker that fetches from inside a batch.
                tracing::warn!(error = %e, "committed offsets unknown; not rewinding");
                return partitions.into_iter().map(|p| (p, None)).collect();
            }
        };
        partitions
            .into_iter()
            .map(|p| {
                let at = committed
                    .find_partition(&self.input_topic, p)
                    .and_then(|e| e.offset().to_raw())
                    .filter(|o| *o >= 0);
                if let Some(c) = at {
                    let from = Offset::Offset(c.saturating_sub(self.rewind).max(0));
                    if let Err(e) = tpl.set_partition_offset(&self.input_topic, p, from) {
                        tracing::warn!(partition = p, error = %e, "cannot rewind");
                    }
                }
                (p, at)
            })
            .collect()
    }

    fn assigned(&self, tpl: &TopicPartitionList, committed: &[(i32, Option<i64>)]) {
        let partitions = self.input_partitions(tpl);
        tracing::info!(?partitions, "partitions assigned");
        self.metrics.rebalances.with_label_values(&["assign"]).inc();
        self.metrics
            .partitions_assigned
            .add(partitions.len() as i64);
        if let Some(a) = &self.assignment {
            a.assigned(committed);
        }
        self.readiness.set(CHECK_ASSIGNMENT, true);
    }

    fn revoked(&self, consumer: &BaseConsumer<Self>, tpl: &TopicPartitionList) {
        let partitions = self.input_partitions(tpl);
        tracing::info!(?partitions, "partitions revoked");
        self.metrics.rebalances.with_label_values(&["revoke"]).inc();
        if let Some(a) = &self.assignment {
            a.revoked(&partitions);
        }
        for p in &partitions {
            self.metrics.forget_partition(*p);
        }
        self.metrics
            .partitions_assigned
            .sub(partitions.len() as i64);
        // Hand over cleanly: what is acknowledged is committed before the partitions move.
        if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
            log_commit_error(&e, "commit on revoke failed");
        }
    }
}

/// How long an assignment waits for the group's committed offsets.
const COMMITTED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl ConsumerContext for ServiceContext {
    /// librdkafka's rebalance, with one change: an assigned input partition starts
    /// `rewind` messages before its committed offset (the worker skips what precedes it).
    /// A broker that answers a fetch from inside a record batch with the next batch (tansu,
    /// the CI broker) would otherwise skip the rest of the batch holding the committed offset
    /// at every restart and rebalance; from an earlier offset it returns that batch whole.
    fn rebalance(
        &self,
        consumer: &BaseConsumer<Self>,
        err: RDKafkaRespErr,
        tpl: &mut TopicPartitionList,
    ) {
        let cooperative = matches!(
            consumer.rebalance_protocol(),
            RebalanceProtocol::Cooperative
        );
        match err {
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                let committed = self.rewind(consumer, tpl);
                let done = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = done {
                    tracing::error!(error = %e, "assigning partitions failed");
                }
                self.assigned(tpl, &committed);
            }
            RDKafkaRespErr::RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
                self.revoked(consumer, tpl);
                let done = if cooperative {
                    consumer.incremental_unassign(tpl)
                } else {
                    consumer.unassign()
                };
                if let Err(e) = done {
                    tracing::error!(error = %e, "unassigning partitions failed");
                }
            }
            other => {
                let e = KafkaError::Rebalance(other.into());
                tracing::warn!(error = %e, "rebalance error");
                self.metrics.rebalances.with_label_values(&["error"]).inc();
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        match result {
            Ok(()) => self.metrics.commits.with_label_values(&["ok"]).inc(),
            Err(e) if is_no_offset(&e) => {}
            Err(e) => {
                self.metrics.commits.with_label_values(&["error"]).inc();
                tracing::warn!(error = %e, "offset commit failed");
            }
        }
    }
}

/// A librdkafka log line into `tracing`, secrets scrubbed.
pub(crate) fn log(
    redactor: &Redactor,
    client: &'static str,
    level: RDKafkaLogLevel,
    fac: &str,
    log_message: &str,
) {
    let msg = redactor.scrub(log_message);
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", client, fac, "{msg}")
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", client, fac, "{msg}"),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", client, fac, "{msg}")
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", client, fac, "{msg}"),
    }
}

/// "Nothing new to commit" is not a failure.
pub(crate) fn is_no_offset(e: &KafkaError) -> bool {
    e.rdkafka_error_code() == Some(RDKafkaErrorCode::NoOffset)
}

/// Logs a failed commit unless it only meant "nothing to commit".
pub(crate) fn log_commit_error(e: &KafkaError, msg: &'static str) {
    if !is_no_offset(e) {
        tracing::warn!(error = %e, "{msg}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoke_stops_workers_and_changes_come_in_order() {
        let a = Assignment::default();
        a.assigned(&[(0, Some(7)), (1, None)]);
        let t0 = CancellationToken::new();
        a.register_worker(0, t0.clone());
        a.revoked(&[0]);
        assert!(t0.is_cancelled());
        assert_eq!(
            a.take_changes(),
            vec![
                Change::Assigned(0, Some(7)),
                Change::Assigned(1, None),
                Change::Revoked(0)
            ]
        );
        assert!(a.take_changes().is_empty());
        // A worker replaced for the same partition is stopped.
        let t1 = CancellationToken::new();
        a.register_worker(1, t1.clone());
        a.register_worker(1, CancellationToken::new());
        assert!(t1.is_cancelled());
    }
}
