//! The librdkafka callbacks: logs routed into `tracing` (secrets scrubbed), statistics turned
//! into lag and broker-reachability, rebalances turned into worker changes plus a commit.
//! An assigned input partition gets its own queue before librdkafka fetches it: its worker
//! reads that queue directly (see `dispatch.rs`).

use crate::kafka::{Consumer, PartitionInput};
use crate::metrics::Metrics;
use crate::readiness::{Readiness, CHECK_ASSIGNMENT, CHECK_BROKER};
use crate::redact::Redactor;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer as _, ConsumerContext, RebalanceProtocol,
};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaRespErr;
use rdkafka::Offset;
use rdkafka::TopicPartitionList;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, OnceLock, Weak};
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
/// dispatcher: pending changes, and how to stop each live worker.
#[derive(Default)]
pub(crate) struct Assignment {
    inner: Mutex<AssignmentInner>,
    /// Woken when a change is queued.
    pub changed: Notify,
    /// How long a revoke waits for the revoked partitions' workers to finish.
    pub grace: std::time::Duration,
}

#[derive(Default)]
struct AssignmentInner {
    pending: Vec<Change>,
    workers: HashMap<i32, WorkerControl>,
    /// The queues of assigned partitions, until their workers take them.
    queues: HashMap<i32, PartitionInput>,
}

/// How the rebalance callbacks stop one partition's worker.
pub(crate) struct WorkerControl {
    /// Stops the worker at once (nothing more is stored).
    pub stop: CancellationToken,
    /// Asks the worker to take no more input, settle what it holds, flush and end.
    pub finish: CancellationToken,
    /// Disconnected when the worker has ended (it holds the sender).
    pub done: std::sync::mpsc::Receiver<()>,
}

impl Assignment {
    /// An empty assignment whose revokes wait at most `grace` for their workers.
    pub fn new(grace: std::time::Duration) -> Self {
        Assignment {
            grace,
            ..Assignment::default()
        }
    }

    fn lock(&self) -> MutexGuard<'_, AssignmentInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues newly assigned partitions with their committed offsets, and keeps their input
    /// queues for their workers.
    pub fn assigned(&self, partitions: &[(i32, Option<i64>)], queues: Vec<(i32, PartitionInput)>) {
        let mut inner = self.lock();
        inner
            .pending
            .extend(partitions.iter().map(|(p, c)| Change::Assigned(*p, *c)));
        inner.queues.extend(queues);
        drop(inner);
        self.changed.notify_one();
    }

    /// The input queue of assigned `partition`, for its new worker.
    pub fn take_queue(&self, partition: i32) -> Option<PartitionInput> {
        self.lock().queues.remove(&partition)
    }

    /// Lets the workers of revoked partitions finish — take no more input, settle, flush
    /// their state, store their offsets — for at most `grace`, stops any still running, and
    /// queues the change. Called from the revoke callback, which commits next: the next owner
    /// starts where the flush left the state.
    pub fn revoked(&self, partitions: &[i32]) {
        let mut inner = self.lock();
        let mut ending = Vec::new();
        for p in partitions {
            ending.extend(inner.workers.remove(p));
            // Assigned and revoked before its worker started: it never starts (a queue
            // assigned again later belongs to the later change).
            inner.queues.remove(p);
            inner
                .pending
                .retain(|c| !matches!(c, Change::Assigned(q, _) if q == p));
            inner.pending.push(Change::Revoked(*p));
        }
        drop(inner);
        for w in &ending {
            w.finish.cancel();
        }
        let deadline = std::time::Instant::now() + self.grace;
        let wait = || {
            for w in &ending {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                let _ = w.done.recv_timeout(left);
            }
        };
        // The callback runs on a runtime thread inside the consumer's poll: let the runtime
        // move its other tasks (the workers) elsewhere while this one waits.
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(wait),
            _ => wait(),
        }
        for w in ending {
            w.stop.cancel();
        }
        self.changed.notify_one();
    }

    /// Records how to stop the worker just started for `partition`.
    pub fn register_worker(&self, partition: i32, control: WorkerControl) {
        if let Some(old) = self.lock().workers.insert(partition, control) {
            old.stop.cancel();
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
    /// The consumer itself (set once it exists), whose assigned input partitions get their
    /// own queues in the rebalance callback.
    pub consumer: OnceLock<Weak<Consumer>>,
    /// `kafka.partition_queue_capacity`: a partition whose queue holds this many messages is
    /// not fetched until its worker takes some (counted as a pause when statistics see it).
    pub queue_capacity: i64,
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
            if *p < 0 || !s.desired {
                continue;
            }
            if s.consumer_lag >= 0 {
                let label = p.to_string();
                self.metrics
                    .consumer_lag
                    .with_label_values(&[&label])
                    .set(s.consumer_lag);
            }
            if s.fetchq_cnt >= self.queue_capacity {
                self.metrics.partition_pauses.inc();
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

    /// Gives each assigned input partition its own queue, before it is fetched: its worker
    /// reads it, and librdkafka stops fetching it while it holds `queue_capacity` messages.
    /// `None` (a fatal error: the service stops) when a queue cannot be made, so no message
    /// ever reaches the consumer's own queue, which has no worker behind it.
    fn split(&self, tpl: &TopicPartitionList) -> Option<Vec<(i32, PartitionInput)>> {
        let consumer = self.consumer.get().and_then(Weak::upgrade)?;
        self.input_partitions(tpl)
            .into_iter()
            .map(|p| Some((p, consumer.split_partition_queue(&self.input_topic, p)?)))
            .collect()
    }

    fn assigned(
        &self,
        tpl: &TopicPartitionList,
        committed: &[(i32, Option<i64>)],
        queues: Vec<(i32, PartitionInput)>,
    ) {
        let partitions = self.input_partitions(tpl);
        tracing::info!(?partitions, "partitions assigned");
        self.metrics.rebalances.with_label_values(&["assign"]).inc();
        self.metrics
            .partitions_assigned
            .add(partitions.len() as i64);
        if let Some(a) = &self.assignment {
            a.assigned(committed, queues);
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
                let Some(queues) = self.split(tpl) else {
                    tracing::error!("assigned partitions could not get their own queues");
                    self.fatal.cancel();
                    return;
                };
                let committed = self.rewind(consumer, tpl);
                let done = if cooperative {
                    consumer.incremental_assign(tpl)
                } else {
                    consumer.assign(tpl)
                };
                if let Err(e) = done {
                    tracing::error!(error = %e, "assigning partitions failed");
                }
                self.assigned(tpl, &committed, queues);
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
        a.assigned(&[(0, Some(7)), (1, None)], Vec::new());
        let (w0, _done) = control();
        let (t0, f0) = (w0.stop.clone(), w0.finish.clone());
        a.register_worker(0, w0);
        a.revoked(&[0]); // the worker never ends: the grace (zero here) runs out
        assert!(f0.is_cancelled() && t0.is_cancelled());
        a.assigned(&[(0, Some(9))], Vec::new());
        // Partition 0's first assignment was still pending when it was revoked: it is
        // dropped, and only the revoke and the new assignment are left.
        assert_eq!(
            a.take_changes(),
            vec![
                Change::Assigned(1, None),
                Change::Revoked(0),
                Change::Assigned(0, Some(9))
            ]
        );
        assert!(a.take_changes().is_empty());
        // A worker replaced for the same partition is stopped.
        let (w1, _done1) = control();
        let t1 = w1.stop.clone();
        a.register_worker(1, w1);
        a.register_worker(1, control().0);
        assert!(t1.is_cancelled());
    }

    /// A worker's control and the sender it would hold.
    fn control() -> (WorkerControl, std::sync::mpsc::SyncSender<()>) {
        let (tx, done) = std::sync::mpsc::sync_channel(0);
        let w = WorkerControl {
            stop: CancellationToken::new(),
            finish: CancellationToken::new(),
            done,
        };
        (w, tx)
    }

    #[test]
    fn a_revoke_waits_for_its_workers_to_finish() {
        let a = Assignment::new(std::time::Duration::from_secs(10));
        let (w, tx) = control();
        let (finish, stop) = (w.finish.clone(), w.stop.clone());
        a.register_worker(3, w);
        let worker = std::thread::spawn(move || {
            while !finish.is_cancelled() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            std::thread::sleep(std::time::Duration::from_millis(50)); // its last flush
            drop(tx);
        });
        let started = std::time::Instant::now();
        a.revoked(&[3]);
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        assert!(stop.is_cancelled());
        worker.join().unwrap();
    }
}
